package store

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveTemp: RemoveTemp removes the temp file it is given, leaves a file that was put at its
// name meanwhile, and takes a name already gone as done.
func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	tmp := func() *os.File {
		f, err := os.CreateTemp(dir, ".tmp-*")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := tmp()
	if err := RemoveTemp(f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("the temp file is still there: %v", err)
	}
	f = tmp()
	os.Remove(f.Name())
	if err := os.WriteFile(f.Name(), []byte("the user's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTemp(f); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(f.Name()); err != nil || string(data) != "the user's" {
		t.Errorf("the file put at the temp file's name: %q, %v; want it left alone", data, err)
	}
	f = tmp()
	os.Remove(f.Name())
	if err := RemoveTemp(f); err != nil {
		t.Errorf("RemoveTemp of a name already gone = %v", err)
	}
	f = tmp()
	if err := CommitFile(f, filepath.Join(dir, "missing", "final")); err == nil {
		t.Fatal("a commit into a missing folder succeeded")
	}
	if _, err := os.Lstat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("a failed commit left its temp file: %v", err)
	}
}
