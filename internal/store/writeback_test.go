package store

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWritebackFile: bytes written through Write and through io.Copy from another file land as
// written, and writeback is started as each writebackEvery bytes pile up.
func TestWritebackFile(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3*writebackEvery+12345)
	for i := range data {
		data[i] = byte(rand.N(256))
	}
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWritebackFile(f)
	for chunk := data; len(chunk) > 0; {
		n := min(len(chunk), 1<<20+7)
		if _, err := w.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		chunk = chunk[n:]
	}
	if w.started < 3*writebackEvery || w.written-w.started >= writebackEvery {
		t.Errorf("after Write: %d written, writeback started for %d; want it started for at least %d, and less than %d left",
			w.written, w.started, 3*writebackEvery, writebackEvery)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if n, err := io.Copy(w, in); err != nil || n != int64(len(data)) {
		t.Fatalf("io.Copy: %d, %v", n, err)
	}
	if w.written != 2*int64(len(data)) || w.written-w.started >= writebackEvery {
		t.Errorf("after io.Copy: %d written, writeback started for %d", w.written, w.started)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(append([]byte(nil), data...), data...)) {
		t.Error("file content differs from what was written")
	}
}
