package workdir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bqread/bqread/internal/store"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fill commits a manifest, two segments of stream 0, one of stream 3, and leaves an unfinished
// file, as an export would.
func fill(t *testing.T, d *Dir) {
	t.Helper()
	ctx := context.Background()
	if err := d.writeFile(ManifestName, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		stream int
		lo, hi int64
	}{{0, 0, 10}, {0, 10, 20}, {3, 0, 5}} {
		p, err := d.Store().Create(ctx, StreamDir(s.stream))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(p, "rows")
		if _, err := d.CommitSegment(ctx, p, s.stream, s.lo, s.hi, "csv", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Store().Create(ctx, StreamDir(0)); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkDone(ctx, 3, 5); err != nil {
		t.Fatal(err)
	}
	orphan, _ := d.Store().Create(ctx, StreamDir(0)) // a worker killed between file and record
	orphan.Commit(rangeName(0, 20, 30) + "-" + tag() + ".csv")
}

func TestCreateAndRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w")
	d, err := Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("work dir mode %v, %v; want 0700", info.Mode(), err)
	}
	fill(t, d)
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir still there: %v", err)
	}
}

// TestRemoveLeavesForeignFiles puts files bqread did not create in every folder of a work dir:
// Remove takes only its own, keeps theirs and their folders, and names them.
func TestRemoveLeavesForeignFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w")
	d, err := Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, d)
	foreign := []string{"notes.txt", "stream-000000/seg-000000000020-000000000030.csv", "stream-000003/mine.txt", "docs/thesis.tex", "zz.txt"}
	for _, f := range foreign {
		writeFile(t, filepath.Join(path, f), "mine")
	}
	err = d.Remove()
	var we *Error
	if !errors.As(err, &we) || !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "(docs, notes.txt, stream-000000/seg-000000000020-000000000030.csv and 2 more)") {
		t.Fatalf("Remove = %v, want an *Error naming the first three files left and counting the rest", err)
	}
	var left []string
	filepath.WalkDir(path, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(path, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	want := append(slices.Clone(foreign), MarkerName)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

func TestCreateRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		replace bool
		want    error
	}{
		{"a user's files", func(t *testing.T, p string) { writeFile(t, filepath.Join(p, ManifestName), "{}") }, true, ErrForeign},
		{"a file", func(t *testing.T, p string) { writeFile(t, p, "x") }, false, ErrNotDir},
		{"no parent", func(t *testing.T, p string) { os.RemoveAll(filepath.Dir(p)) }, false, ErrNoParent},
		{"writable by others", func(t *testing.T, p string) { os.Mkdir(p, 0o700); os.Chmod(p, 0o777) }, false, ErrUnsafe},
		{"a link", func(t *testing.T, p string) { os.Mkdir(p+"-real", 0o700); os.Symlink(p+"-real", p) }, false, ErrUnsafe},
		{"an earlier export", func(t *testing.T, p string) {
			d, err := Create(p, false)
			if err != nil {
				t.Fatal(err)
			}
			fill(t, d)
			d.Unlock()
		}, false, ErrEarlier},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p", "w")
			os.Mkdir(filepath.Dir(path), 0o755)
			tt.setup(t, path)
			if _, err := Create(path, tt.replace); !errors.Is(err, tt.want) {
				t.Errorf("Create = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCreateReuses checks the work dirs Create may use: a user's empty directory (kept by
// Remove), a work dir whose export never saved a manifest, and an earlier export's with replace.
func TestCreateReuses(t *testing.T) {
	empty := t.TempDir()
	d, err := Create(empty, false)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, d)
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("a user's empty dir after Remove: %v, %v; want it kept, empty", entries, err)
	}

	path := filepath.Join(t.TempDir(), "w")
	first, err := Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	first.Unlock()
	second, err := Create(path, false)
	if err != nil {
		t.Fatalf("Create over a work dir without manifest = %v, want it reused", err)
	}
	fill(t, second)
	second.Unlock()
	again, err := Create(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if segs, _ := again.Segments(context.Background(), 0); len(segs) != 0 {
		t.Errorf("replaced work dir still has segments %v", segs)
	}
}

// TestSegmentsTrustOnlyRecords plants files named like segments and changes recorded ones:
// only files whose commit record matches count, and OpenSegment catches a changed checksum.
func TestSegmentsTrustOnlyRecords(t *testing.T) {
	ctx := context.Background()
	d, err := Create(filepath.Join(t.TempDir(), "w"), false)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, d)
	segs, err := d.Segments(ctx, 0)
	if err != nil || len(segs) != 2 {
		t.Fatalf("stream 0 segments %+v, %v; want 2", segs, err)
	}
	writeFile(t, filepath.Join(d.Path(), rangeName(0, 20, 5000)+"-0123456789ab.csv"), "planted")
	writeFile(t, filepath.Join(d.Path(), segs[1].Name), "longer than it was")
	writeFile(t, filepath.Join(d.Path(), RecordName(3, 5, 9)), `{"name":"stream-000003/seg-000000000005-000000000009-0123456789ab.csv","stream":3,"lo":5,"hi":9}`)
	writeFile(t, filepath.Join(d.Path(), rangeName(3, 9, 9)+"-0123456789ab.csv"), "")
	writeFile(t, filepath.Join(d.Path(), RecordName(3, 9, 9)), `{"name":"stream-000003/seg-000000000009-000000000009-0123456789ab.csv","stream":3,"lo":9,"hi":9,"size":0,"crc32c":0}`)
	segs, err = d.Segments(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Hi != 10 {
		t.Fatalf("stream 0 segments %+v, want only [0, 10)", segs)
	}
	if o, err := d.OpenSegment(ctx, segs[0]); err != nil {
		t.Errorf("OpenSegment of an intact segment = %v", err)
	} else {
		o.Close()
	}
	if segs, _ := d.Segments(ctx, 3); len(segs) != 1 {
		t.Errorf("stream 3 segments %+v, want the one committed", segs)
	}
	writeFile(t, filepath.Join(d.Path(), segs[0].Name), "ROWS")
	if _, err := d.OpenSegment(ctx, segs[0]); !errors.Is(err, ErrChanged) {
		t.Errorf("OpenSegment of a changed file = %v, want ErrChanged", err)
	}
	if _, err := d.Segment(ctx, 0, 20, 5000); !errors.Is(err, ErrChanged) {
		t.Errorf("Segment of an unrecorded file = %v, want ErrChanged", err)
	}
}

// TestOutputTempBesideOutput puts the output on another filesystem than the work dir: the temp
// output beside it is recorded, and a second run (a resume after SIGKILL) and Remove take it away.
func TestOutputTempBesideOutput(t *testing.T) {
	wdPath, outDir := besideDirs(t)
	out := filepath.Join(outDir, "o.csv")
	d, err := Create(wdPath, false)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // each run after a crash replaces the last run's temp output
		f, err := d.CreateOutputTemp(out)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("partial")
		f.Close()
		if d, err = Open(wdPath); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
		t.Errorf("beside the output: %v, want one temp output", entries)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Errorf("beside the output after Remove: %v, want nothing", entries)
	}
}

// besideDirs returns the path of a work dir to create and a directory for the output on another
// filesystem (/dev/shm), or skips the test.
func besideDirs(t *testing.T) (wdPath, outDir string) {
	wdPath = filepath.Join(t.TempDir(), "w")
	if info, err := os.Stat("/dev/shm"); err != nil || !info.IsDir() || store.SameFilesystem(filepath.Dir(wdPath), "/dev/shm") {
		t.Skip("no second filesystem (/dev/shm) to put the output on")
	}
	outDir, err := os.MkdirTemp("/dev/shm", "bqread-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outDir) })
	return wdPath, outDir
}

// TestOutputTempBesideOutputOnlyOurs: a file at the recorded path of the temp output beside the
// output is removed only while it is the file bqread created there (its device and inode), and
// counted in the disk usage only then. A file put in its place, or one whose identity was never
// recorded (a crash between the two records), is left, and the next temp output gets a new name.
func TestOutputTempBesideOutputOnlyOurs(t *testing.T) {
	wdPath, outDir := besideDirs(t)
	out := filepath.Join(outDir, "o.csv")
	d, err := Create(wdPath, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.CreateOutputTemp(out)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("partial")
	f.Close()
	replaced := f.Name()
	if err := os.Remove(replaced); err != nil {
		t.Fatal(err)
	}
	users := "the user's file at that name" + strings.Repeat(".", 1<<20)
	writeFile(t, replaced, users)
	if usage, err := d.DiskUsage(); err != nil || usage >= 1<<20 {
		t.Errorf("disk usage %d (%v) counts a file bqread did not create", usage, err)
	}
	if err := d.RemoveOutputTemp(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(replaced); err != nil || string(got) != users {
		t.Errorf("the file put at the temp output's name: %d bytes, %v; want it left", len(got), err)
	}
	unproven := filepath.Join(outDir, ".o.csv.bqread-unproven.tmp")
	writeFile(t, unproven, "created before its identity was recorded")
	if err := d.writeOutputRecord(outputRecord{Path: unproven}); err != nil {
		t.Fatal(err)
	}
	f, err = d.CreateOutputTemp(out)
	if err != nil {
		t.Fatalf("a temp output after a record without identity: %v", err)
	}
	f.Close()
	for _, p := range []string{replaced, unproven} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it left", p, err)
		}
	}
	if f.Name() == replaced || f.Name() == unproven {
		t.Errorf("the new temp output reuses the name %s", f.Name())
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(f.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temp output bqread created: %v after Remove, want it gone", err)
	}
}

func TestOpenNeedsMarker(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ManifestName), "{}")
	if _, err := Open(dir); !errors.Is(err, ErrForeign) {
		t.Errorf("Open without marker = %v, want ErrForeign", err)
	}
	writeFile(t, filepath.Join(dir, MarkerName), `{"tool":"other"}`)
	if _, err := Open(dir); !errors.Is(err, ErrForeign) {
		t.Errorf("Open with a foreign marker = %v, want ErrForeign", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, ErrMissing) {
		t.Errorf("Open of a missing dir = %v, want ErrMissing", err)
	}
}

// TestCommitSegmentOneWins commits one range from two writers, as two copies of one task do: one
// record wins, both get its segment, and the loser's file is gone.
func TestCommitSegmentOneWins(t *testing.T) {
	ctx := context.Background()
	d, err := Create(filepath.Join(t.TempDir(), "w"), false)
	if err != nil {
		t.Fatal(err)
	}
	var got []Segment
	for _, data := range []string{"first", "second"} {
		p, err := d.Store().Create(ctx, StreamDir(2))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(p, data)
		s, err := d.CommitSegment(ctx, p, 2, 0, 7, "csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if got[0].Name != got[1].Name || got[0].Size != int64(len("first")) {
		t.Errorf("segments %+v, want the first writer's twice", got)
	}
	files, _ := filepath.Glob(filepath.Join(d.Path(), StreamDir(2), "seg-*.csv"))
	if len(files) != 1 {
		t.Errorf("segment files %v, want one", files)
	}
}

func TestMarkDone(t *testing.T) {
	ctx := context.Background()
	d, err := Create(filepath.Join(t.TempDir(), "w"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.Done(ctx, 1); ok || err != nil {
		t.Errorf("Done before MarkDone = %v, %v", ok, err)
	}
	if err := d.MarkDone(ctx, 1, 42); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkDone(ctx, 1, 42); err != nil {
		t.Errorf("second MarkDone with the same rows = %v", err)
	}
	if err := d.MarkDone(ctx, 1, 41); !errors.Is(err, ErrDoneMismatch) {
		t.Errorf("MarkDone with other rows = %v, want ErrDoneMismatch", err)
	}
	if rows, ok, err := d.Done(ctx, 1); rows != 42 || !ok || err != nil {
		t.Errorf("Done = %d, %v, %v; want 42", rows, ok, err)
	}
}

// TestLock checks that a work dir is one process's (here: one Dir's) at a time, and that the
// refusal names the holder.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w")
	d, err := Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = other.Lock()
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("Lock of a locked work dir = %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if _, err := Create(path, true); !errors.Is(err, ErrLocked) {
		t.Errorf("Create of a locked work dir = %v, want ErrLocked", err)
	}
	d.Unlock()
	if err := other.Lock(); err != nil {
		t.Errorf("Lock after Unlock = %v", err)
	}
	if err := other.Remove(); err != nil {
		t.Errorf("Remove = %v", err)
	}
}

// TestDiskUsage: the regular files of the work dir plus the temp output beside the output, while
// it is the file bqread created; a damaged output record counts nothing and is removed without
// error by RemoveOutputTemp, which leaves the file.
func TestDiskUsage(t *testing.T) {
	wdPath, outDir := besideDirs(t)
	d, err := Create(wdPath, false)
	if err != nil {
		t.Fatal(err)
	}
	usage := func() int64 {
		n, err := d.DiskUsage()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := usage()
	if base <= 0 {
		t.Fatalf("a new work dir uses %d bytes, want its marker's", base)
	}
	writeFile(t, filepath.Join(wdPath, "stream-000001", "seg"), strings.Repeat("s", 1000))
	f, err := d.CreateOutputTemp(filepath.Join(outDir, "o.csv"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Repeat("o", 5000))
	f.Close()
	record, err := os.Stat(filepath.Join(wdPath, outputRecordName))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := usage(), base+1000+record.Size()+5000; got != want {
		t.Errorf("disk usage %d, want %d", got, want)
	}
	writeFile(t, filepath.Join(wdPath, outputRecordName), "damaged")
	if got, want := usage(), base+1000+int64(len("damaged")); got != want {
		t.Errorf("disk usage with a damaged output record %d, want %d", got, want)
	}
	if err := d.RemoveOutputTemp(); err != nil {
		t.Errorf("RemoveOutputTemp with a damaged output record: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(wdPath, outputRecordName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the damaged output record: %v, want it removed", err)
	}
	if _, err := os.Lstat(f.Name()); err != nil {
		t.Errorf("the temp output a damaged record names no more: %v, want it left", err)
	}
}

// TestReadSegment reads a segment once as its check goes along: an intact one gives its bytes and
// io.EOF, read whole (WriteTo) or in small reads; one changed, grown or cut since its commit gives
// ErrChanged at its end, never io.EOF.
func TestReadSegment(t *testing.T) {
	ctx := context.Background()
	d, err := Create(filepath.Join(t.TempDir(), "w"), false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Store().Create(ctx, StreamDir(0))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("0123456789", 30_000) // more than one copy buffer
	io.WriteString(p, want)
	s, err := d.CommitSegment(ctx, p, 0, 0, 10, "csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(small bool) (string, error) {
		r, err := d.ReadSegment(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out strings.Builder
		if small {
			_, err = io.CopyBuffer(&out, struct{ io.Reader }{r}, make([]byte, 4093))
		} else {
			_, err = io.Copy(&out, r)
		}
		return out.String(), err
	}
	for _, small := range []bool{false, true} {
		if got, err := read(small); err != nil || got != want {
			t.Errorf("intact segment (small reads: %v): %d bytes, %v; want its %d bytes", small, len(got), err, len(want))
		}
	}
	r, err := d.ReadSegment(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 10)); err == nil || err == io.EOF || errors.Is(err, ErrChanged) {
		t.Errorf("reading a segment whose file fails: %v, want the read's own error", err)
	}
	path := filepath.Join(d.Path(), s.Name)
	for name, data := range map[string]string{
		"changed": "X" + want[1:],
		"grown":   want + "\n",
		"cut":     want[:len(want)-1],
	} {
		writeFile(t, path, data)
		for _, small := range []bool{false, true} {
			if _, err := read(small); !errors.Is(err, ErrChanged) {
				t.Errorf("%s segment (small reads: %v): %v, want ErrChanged", name, small, err)
			}
		}
	}
	os.Remove(path)
	if _, err := d.ReadSegment(ctx, s); err == nil {
		t.Error("ReadSegment of a removed segment: no error")
	}
}
