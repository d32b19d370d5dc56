package workdir

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPlaced: a file recorded before it was renamed to its name is known for bqread's while it is
// that file, and RemovePlaced removes it; a file made at the name afterwards (even on the same
// inode), one the record does not name, or a name without a record is not, and is left. Remove
// takes the records away with the work dir.
func TestPlaced(t *testing.T) {
	wd := filepath.Join(t.TempDir(), "w")
	d, err := Create(wd, false)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	final := filepath.Join(out, "part-000000.csv")
	place := func() {
		t.Helper()
		f, err := os.Create(filepath.Join(out, ".tmp"))
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("a,b\n")
		if err := d.RecordPlaced(f, final); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Rename(f.Name(), final); err != nil {
			t.Fatal(err)
		}
	}
	placed := func() bool {
		t.Helper()
		ok, err := d.Placed(final)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if placed() {
		t.Error("a name never recorded is placed")
	}
	place()
	if !placed() {
		t.Fatal("the file put in place is not known")
	}
	if err := d.RemovePlaced(final); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(final); !os.IsNotExist(err) {
		t.Errorf("RemovePlaced left the file: %v", err)
	}
	place()
	os.Remove(final)
	time.Sleep(10 * time.Millisecond)
	writeFile(t, final, "a,b\n") // the same size, maybe the same inode, a later time
	if placed() {
		t.Error("a file made at the name after bqread's was removed is known for bqread's")
	}
	if err := d.RemovePlaced(final); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(final); err != nil {
		t.Errorf("RemovePlaced removed a file bqread did not make: %v", err)
	}
	other := filepath.Join(out, "part-000001.csv")
	writeFile(t, filepath.Join(wd, placedName(other)), `{"path":"`+final+`"}`)
	writeFile(t, other, "x")
	if ok, err := d.Placed(other); ok || err != nil {
		t.Errorf("a record naming another path: placed %v, %v", ok, err)
	}
	if err := d.Remove(); err != nil {
		t.Fatalf("Remove with placed records: %v", err)
	}
}

func TestIsPlacedRecord(t *testing.T) {
	for name, want := range map[string]bool{
		placedName("/a/b"):             true,
		"placed-0123456789abcdef.json": true,
		"placed-0123456789abcde.json":  false,
		"placed-0123456789abcdeg.json": false,
		"placed-0123456789abcdef.txt":  false,
		"x-0123456789abcdef.json":      false,
	} {
		if got := isPlacedRecord(name); got != want {
			t.Errorf("isPlacedRecord(%q) = %v, want %v", name, got, want)
		}
	}
}
