package store

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDirCommitListOpenRemove(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write := func(dir, name, data string) Pending {
		t.Helper()
		p, err := d.Create(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(p, data); err != nil {
			t.Fatal(err)
		}
		if name != "" {
			if err := p.Commit(name); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	write("a", "a/one", "1")
	write("", "a/two", "22")
	write("", "manifest.json", "{}")
	open := write("a", "", "uncommitted")

	list, err := d.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{{"a/one", 1}, {"a/two", 2}}, list); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	o, err := d.Open(ctx, "a/two")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := o.ReadAt(buf, 1); err != nil || string(buf) != "2" || o.Size() != 2 {
		t.Errorf("ReadAt = %q, %v; size %d", buf, err, o.Size())
	}
	o.Close()

	if err := open.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := open.Commit("a/late"); err != nil {
		t.Errorf("Commit after Abort = %v, want a no-op", err)
	}
	if _, err := d.Open(ctx, "a/late"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open of an aborted file = %v, want ErrNotExist", err)
	}
	if err := d.Remove(ctx, "a/one"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, "a/one"); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
	files, _ := os.ReadDir(d.Path("a"))
	if len(files) != 1 || files[0].Name() != "two" {
		t.Errorf("files left in a/: %v, want only two (no temp files)", files)
	}
}

func TestDirRejectsEscapingNames(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../x", "/etc/passwd", "a/../../x", ""} {
		p, err := d.Create(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(name); err == nil {
			t.Errorf("Commit(%q) = nil, want an error", name)
		}
	}
}

func TestDirListMissingFolder(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	list, err := d.List(context.Background(), "stream-000001/")
	if err != nil || len(list) != 0 {
		t.Errorf("List of a missing folder = %v, %v; want nothing", list, err)
	}
}

func TestPendingWritten(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Create(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	for _, part := range []string{"hello, ", "work dir"} {
		if _, err := io.WriteString(p, part); err != nil {
			t.Fatal(err)
		}
	}
	size, sum := p.Written()
	want := crc32.Checksum([]byte("hello, work dir"), crc32.MakeTable(crc32.Castagnoli))
	if size != 15 || sum != want {
		t.Errorf("Written() = %d, %#x; want 15, %#x", size, sum, want)
	}
}

func TestNewDirCreatesNothing(t *testing.T) {
	missing := t.TempDir() + "/missing"
	if _, err := NewDir(missing); err == nil {
		t.Error("NewDir of a missing directory = nil error, want one")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewDir created %s", missing)
	}
}

// TestCommitNewOneWins commits one name from several pending files: the first wins, the others
// get ErrExist and leave nothing behind.
func TestCommitNewOneWins(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, ErrExist, ErrExist} {
		p, err := d.Create(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(p, string(rune('a'+i)))
		if err := p.CommitNew("s/x"); !errors.Is(err, want) {
			t.Errorf("writer %d: CommitNew = %v, want %v", i, err, want)
		}
	}
	data, _ := os.ReadFile(d.Path("s/x"))
	entries, _ := os.ReadDir(d.Path("s"))
	if string(data) != "a" || len(entries) != 1 {
		t.Errorf("s/x = %q with %d files in s/, want the first writer's and nothing else", data, len(entries))
	}
}
