package workdir

import (
	"context"
	"errors"
	"github.com/bqread/bqread/internal/store"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// journaled creates a work dir beside out's folder with two committed segments of stream 0 and
// a journaled temp output holding the first, made durable and its file removed, followed by
// bytes not made durable.
func journaled(t *testing.T) (d *Dir, out string, segs []Segment) {
	t.Helper()
	d, out, segs, tmp := newOutputTemp(t, "rows of the segment")
	if !tmp.Journaled() || tmp.Holds() {
		t.Fatalf("a new temp output: journaled %v, holds %v; want a journal holding nothing", tmp.Journaled(), tmp.Holds())
	}
	io.WriteString(tmp.File, "header|rows of the segment")
	if err := tmp.Commit(26, []Merged{{Name: segs[0].Name, Stream: 0, Lo: 0, Hi: 10, Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tmp.File, "|half a segm") // copied, not made durable: a crash here
	tmp.Close()
	tmp.File.Close()
	return d, out, segs
}

// newOutputTemp creates a work dir beside out's folder with two committed segments of stream 0,
// rows [0, 10) and [10, 20), each holding data, and opens a journaled temp output of out.
func newOutputTemp(t *testing.T, data string) (d *Dir, out string, segs []Segment, tmp *OutputTemp) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "out.csv")
	d, err := Create(filepath.Join(dir, "out.csv.bqread"), false)
	if err != nil {
		t.Fatal(err)
	}
	segs = commitSegments(t, d, d.Store(), data, [2]int64{0, 10}, [2]int64{10, 20})
	if tmp, err = d.OpenOutputTemp(out, true); err != nil {
		t.Fatal(err)
	}
	return d, out, segs, tmp
}

// commitSegments commits a segment of stream 0 holding data for each of the row ranges, its file
// written through st.
func commitSegments(t *testing.T, d *Dir, st store.Store, data string, ranges ...[2]int64) []Segment {
	t.Helper()
	var segs []Segment
	for _, r := range ranges {
		p, err := st.Create(context.Background(), StreamDir(0))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(p, data)
		s, err := d.CommitSegment(context.Background(), p, 0, r[0], r[1], "csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	return segs
}

// TestOutputTempJournal: once Commit recorded a segment as merged, its file is gone and
// Segments still lists it, merged at its offset; a resume truncates the temp output to its
// durable length, drops a journal line cut short, and goes on.
func TestOutputTempJournal(t *testing.T) {
	ctx := context.Background()
	d, out, segs := journaled(t)
	if _, err := os.Stat(filepath.Join(d.Path(), segs[0].Name)); !os.IsNotExist(err) {
		t.Errorf("the merged segment's file is still there: %v", err)
	}
	got, err := d.Segments(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("segments %+v, want the merged one and the other", got)
	}
	for _, s := range got {
		if merged := s.Name == segs[0].Name; s.Merged != merged || merged && s.Offset != 7 {
			t.Errorf("segment %s: merged %v at %d, want merged %v at 7", s.Name, s.Merged, s.Offset, merged)
		}
	}
	j, err := os.OpenFile(filepath.Join(d.Path(), journalName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(j, `1234abcd {"merged":[{"name":"stream-000000/seg`) // a line the crash cut short
	j.Close()

	tmp, err := d.OpenOutputTemp(out, true)
	if err != nil {
		t.Fatal(err)
	}
	if !tmp.Holds() || tmp.Length() != 26 || len(tmp.Merged()) != 1 || tmp.Merged()[0].Name != segs[0].Name {
		t.Fatalf("resumed temp output: length %d, merged %+v; want 26 and the first segment", tmp.Length(), tmp.Merged())
	}
	io.WriteString(tmp.File, "|second")
	if err := tmp.Commit(33, []Merged{{Name: segs[1].Name, Stream: 0, Lo: 10, Hi: 20, Offset: 26}}); err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	data, err := os.ReadFile(tmp.File.Name())
	tmp.File.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "header|rows of the segment|second" {
		t.Errorf("temp output %q: the bytes after the durable length were not dropped", data)
	}
	_, lines, _, err := d.readJournal()
	if err != nil || len(lines) != 2 {
		t.Errorf("journal lines %+v (%v), want two after the cut one was dropped", lines, err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
}

// TestOutputTempJournalRefusesAnotherFile: a resume recognises the temp output by the identity
// and checksum its journal recorded, never by its name: a file put in its place, or one whose
// durable bytes changed, is refused, and so is a missing one.
func TestOutputTempJournalRefusesAnotherFile(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"replaced", func(t *testing.T, path string) { // the same bytes in another file
			writeFile(t, path+".new", "header|rows of the segment|half a segm")
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"changed", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("X"), 10)
			f.Close()
		}},
		{"missing", func(t *testing.T, path string) { os.Remove(path) }},
		{"short", func(t *testing.T, path string) { os.Truncate(path, 20) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, out, _ := journaled(t)
			path := filepath.Join(d.Path(), OutputTempName)
			tt.change(t, path)
			tmp, err := d.OpenOutputTemp(out, true)
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("resume of a %s temp output: %v, %v; want ErrChanged", tt.name, tmp, err)
			}
		})
	}
}

// TestDropLost: after a power loss took segments committed without fsync (one file gone, one cut
// short), DropLost removes their records and the short file, keeps the merged segment (its file
// removed by the merge) and the intact one, and leaves files that are not its own; the lost range
// can then be committed again.
func TestDropLost(t *testing.T) {
	ctx := context.Background()
	d, _, segs := journaled(t)
	volatile := d.Store().(*store.Dir).Volatile()
	lost := commitSegments(t, d, volatile, "rows not yet on the disk", [2]int64{20, 30}, [2]int64{30, 40})
	os.Remove(filepath.Join(d.Path(), lost[0].Name))
	os.Truncate(filepath.Join(d.Path(), lost[1].Name), 5)
	planted := filepath.Join(d.Path(), RecordName(0, 40, 50))
	writeFile(t, planted, "not a record")
	got, err := d.DropLost(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Lo+got[1].Lo != 50 {
		t.Errorf("DropLost dropped %+v, want the segments of rows [20, 30) and [30, 40)", got)
	}
	for _, name := range []string{RecordName(0, 20, 30), RecordName(0, 30, 40), lost[1].Name} {
		if _, err := os.Stat(filepath.Join(d.Path(), name)); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", name, err)
		}
	}
	if _, err := os.Stat(planted); err != nil {
		t.Errorf("the file DropLost did not write is gone: %v", err)
	}
	left, err := d.Segments(ctx, 0)
	if err != nil || len(left) != 2 || left[0].Name == left[1].Name || !left[0].Merged && !left[1].Merged {
		t.Errorf("segments left %+v, %v; want the merged %s and the intact %s", left, err, segs[0].Name, segs[1].Name)
	}
	if again, _ := d.DropLost(ctx, 0); len(again) != 0 {
		t.Errorf("a second DropLost dropped %+v", again)
	}
	p, _ := volatile.Create(ctx, StreamDir(0))
	io.WriteString(p, "rows read again")
	if s, err := d.CommitSegment(ctx, p, 0, 20, 30, "csv", nil); err != nil || s.Name == lost[0].Name {
		t.Errorf("committing the lost range again: %+v, %v", s, err)
	}
}

// TestOutputTempCommitsSeveral: one Commit of several segments removes every one of their files;
// Close closes the journal once (again, and without a journal, it does nothing); a temp output
// that ends exactly at its durable length resumes there, and so does one longer than the
// journal's checksummed tail (tailBytes) with bytes after its durable length.
func TestOutputTempCommitsSeveral(t *testing.T) {
	d, out, segs, tmp := newOutputTemp(t, "rows")
	dir := filepath.Dir(out)
	body := strings.Repeat("r", tailBytes)
	io.WriteString(tmp.File, "header|"+body+body)
	length := int64(7 + 2*len(body))
	merged := []Merged{{Name: segs[0].Name, Stream: 0, Lo: 0, Hi: 10, Offset: 7}, {Name: segs[1].Name, Stream: 0, Lo: 10, Hi: 20, Offset: 7 + tailBytes}}
	if err := tmp.Commit(length, merged); err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if _, err := os.Stat(filepath.Join(d.Path(), s.Name)); !os.IsNotExist(err) {
			t.Errorf("segment %s's file is still there after its Commit: %v", s.Name, err)
		}
	}
	if err := tmp.Close(); err != nil || tmp.j != nil {
		t.Errorf("Close: %v, journal %v; want it closed", err, tmp.j)
	}
	if err := tmp.Close(); err != nil {
		t.Errorf("Close again: %v, want nil", err)
	}
	tmp.File.Close()

	for _, tail := range []string{"", "|half a segment"} {
		tmp, err := d.OpenOutputTemp(out, true)
		if err != nil {
			t.Fatalf("resume of a temp output with %q after its durable length: %v", tail, err)
		}
		if tmp.Length() != length || len(tmp.Merged()) != 2 {
			t.Errorf("resumed at %d with %+v, want %d and both segments", tmp.Length(), tmp.Merged(), length)
		}
		io.WriteString(tmp.File, "|half a segment") // copied, not made durable
		tmp.Close()
		tmp.File.Close()
	}

	plain, err := Create(filepath.Join(dir, "plain.bqread"), false)
	if err != nil {
		t.Fatal(err)
	}
	nj, err := plain.OpenOutputTemp(filepath.Join(dir, "plain.csv"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer nj.File.Close()
	if err := nj.Close(); err != nil || nj.Journaled() {
		t.Errorf("Close of a temp output without a journal: %v (journaled %v), want nil", err, nj.Journaled())
	}
}

// TestJournalCacheSeesANewJournal: a Dir that read a journal, then finds a new, shorter one in
// its place (the temp output it described was removed and another started), reads the new one
// from its start: no segment counts as merged because the old journal said so.
func TestJournalCacheSeesANewJournal(t *testing.T) {
	ctx := context.Background()
	d, _, _ := journaled(t)
	if s, err := d.Segments(ctx, 0); err != nil || !s[0].Merged {
		t.Fatalf("segments %+v (%v): want the first merged", s, err)
	}
	path := filepath.Join(d.Path(), journalName)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	j, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fresh := &OutputTemp{d: d, j: j}
	if err := fresh.append(journalLine{Dev: 1, Ino: 1}); err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	got, err := d.Segments(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		if s.Merged {
			t.Errorf("segment %s counts as merged, which only the old journal said", s.Name)
		}
	}
}
