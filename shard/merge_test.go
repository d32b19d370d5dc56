package shard

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
)

// TestMergeReadsSplitsSavedSinceItStarted gives a row-order merge a manifest read before stream
// 0 was split: the split is saved in the work dir, its remainder (stream 3) read, and stream 0
// read to its end, but the split's event has not reached the merge when another stream's segment
// makes it drain. The merge must still put the remainder's rows right after stream 0's, never
// move on to stream 1 first (the bench once stopped with "part 8 does not come after part 7").
func TestMergeReadsSplitsSavedSinceItStarted(t *testing.T) {
	ctx := t.Context()
	d, stale := openManifest(t, 3)
	var out bytes.Buffer
	mg, err := NewMerger(d, stale, &out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		t.Fatal(err)
	}
	k := m.AddSplit(0, "sessions/test/streams/0-primary", "sessions/test/streams/0-remainder")
	if err := m.Save(ctx, d.Store()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DecideSplit(ctx, 0, k, true); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, k, 1, 2} {
		commitLine(t, d, i)
	}
	if err := mg.Add(ctx, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := mg.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "{\"s\":0}\n{\"s\":3}\n{\"s\":1}\n{\"s\":2}\n"; got != want {
		t.Errorf("merged %q, want %q: the remainder right after its parent", got, want)
	}
}

// openManifest opens a new work dir with the manifest of n NDJSON streams (writeManifest) and
// loads the manifest.
func openManifest(t *testing.T, n int) (*workdir.Dir, *session.Manifest) {
	t.Helper()
	d, err := workdir.Open(writeManifest(t, n))
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.LoadManifest(t.Context(), d.Store())
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

// commitLine commits stream i's one row as an NDJSON segment and records the stream as done.
func commitLine(t *testing.T, d *workdir.Dir, i int) {
	t.Helper()
	commitRow(t, d, i, 0, "{\"s\":"+string(rune('0'+i))+"}\n")
	if err := d.MarkDone(t.Context(), i, 1); err != nil {
		t.Fatal(err)
	}
}

// commitRow commits row lo of stream i, the NDJSON line line, as a segment of its own.
func commitRow(t *testing.T, d *workdir.Dir, i int, lo int64, line string) workdir.Segment {
	t.Helper()
	p, err := d.Store().Create(t.Context(), workdir.StreamDir(i))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, line)
	s, err := d.CommitSegment(t.Context(), p, i, lo, lo+1, "ndjson-body", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFinishReadsSplitsSavedSinceItStarted: a merge finished with a manifest read before a split
// still checks and copies the split's remainder, whose rows would otherwise be missing without
// an error.
func TestFinishReadsSplitsSavedSinceItStarted(t *testing.T) {
	ctx := t.Context()
	d, stale := openManifest(t, 1)
	m := *stale
	m.Streams = append([]string(nil), stale.Streams...)
	k := m.AddSplit(0, "sessions/test/streams/0-primary", "sessions/test/streams/0-remainder")
	if err := m.Save(ctx, d.Store()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DecideSplit(ctx, 0, k, true); err != nil {
		t.Fatal(err)
	}
	commitLine(t, d, 0)
	var out bytes.Buffer
	mg, err := NewMerger(d, stale, &out)
	if err != nil {
		t.Fatal(err)
	}
	var inc *IncompleteError
	if _, err := mg.Finish(ctx); !errors.As(err, &inc) {
		t.Errorf("Finish with the remainder unread: %v, want an IncompleteError", err)
	}
}

// TestCheckAsCopied: a segment whose file changed after its commit (same size, other bytes)
// stops a merge that checks segments as it copies them with ErrChanged, into a temp output with a
// journal (WriteOnce), which then never records it, or without one (CheckAsCopied).
func TestCheckAsCopied(t *testing.T) {
	for _, writeOnce := range []bool{true, false} {
		ctx := t.Context()
		d, m := openManifest(t, 2)
		commitLine(t, d, 0)
		tmp, err := d.OpenOutputTemp(filepath.Join(t.TempDir(), "out.ndjson"), writeOnce)
		if err != nil {
			t.Fatal(err)
		}
		defer tmp.Close()
		mg, err := NewMerger(d, m, tmp.File)
		if err != nil {
			t.Fatal(err)
		}
		if writeOnce {
			err = mg.WriteOnce(ctx, tmp)
		} else {
			mg.CheckAsCopied()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := mg.Add(ctx, 0, 0, 1); err != nil {
			t.Fatalf("write once %v: merge of an intact segment: %v", writeOnce, err)
		}
		commitLine(t, d, 1)
		seg, err := d.Segment(ctx, 1, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.Path(), seg.Name), []byte("{\"s\":7}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := mg.Add(ctx, 1, 0, 1); !errors.Is(err, workdir.ErrChanged) {
			t.Fatalf("write once %v: merge of a changed segment: %v, want ErrChanged", writeOnce, err)
		}
		if !writeOnce {
			continue
		}
		if err := mg.sync(); err != nil {
			t.Fatal(err)
		}
		if merged := tmp.Merged(); len(merged) != 1 || merged[0].Stream != 0 || merged[0].Offset != 0 {
			t.Errorf("the journal records %+v, want stream 0's segment alone, at the start", merged)
		}
	}
}

// closeRecorder is a file of a many-file output that records whether it was closed, which is
// where WriteFiles' caller puts it in place.
type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return nil
}

// TestWriteFilesChecksAsItCopies: a many-file output writes each intact segment as a file and
// closes it; a segment whose file changed after its commit stops it with ErrChanged, and its file
// is never closed, so never put in place.
func TestWriteFilesChecksAsItCopies(t *testing.T) {
	d, _ := openManifest(t, 2)
	commitRow(t, d, 0, 0, "{\"s\":0}\n")
	commitRow(t, d, 0, 1, "{\"s\":0,\"r\":1}\n")
	if err := d.MarkDone(t.Context(), 0, 2); err != nil {
		t.Fatal(err)
	}
	commitLine(t, d, 1)
	var files []*closeRecorder
	open := func(int) (io.WriteCloser, error) {
		files = append(files, &closeRecorder{})
		return files[len(files)-1], nil
	}
	stats, err := WriteFiles(t.Context(), d, open)
	want := []FileStats{{Rows: 1, Bytes: 8}, {Rows: 1, Bytes: 14}, {Rows: 1, Bytes: 8}}
	if err != nil || !slices.Equal(stats, want) || files[2].String() != "{\"s\":1}\n" {
		t.Fatalf("WriteFiles of intact segments: %v, %v, %+v; want %v", stats, err, files, want)
	}
	seg, err := d.Segment(t.Context(), 1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path(), seg.Name), []byte("{\"s\":7}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files = nil
	_, err = WriteFiles(t.Context(), d, open)
	if !errors.Is(err, workdir.ErrChanged) {
		t.Fatalf("WriteFiles with a changed segment: %v, want ErrChanged", err)
	}
	if len(files) != 3 || !files[1].closed || files[1].String() != "{\"s\":0,\"r\":1}\n" || files[2].closed {
		t.Errorf("files %+v: want stream 0's two closed with their rows, stream 1's not closed", files)
	}
}

// TestWriteOnceSyncsAndResumes: a write-once merge makes the segments it copied durable in the
// temp output once syncEvery bytes of them are pending, records where each body is in the
// journal, and only then removes their files; a segment copied but not yet durable keeps its
// file. A merge that stopped there and is resumed (the temp output truncated to its durable
// length) goes on after the durable segments, and the output holds every row once, in order.
func TestWriteOnceSyncsAndResumes(t *testing.T) {
	ctx := t.Context()
	d, m := openManifest(t, 2)
	out := filepath.Join(t.TempDir(), "out.ndjson")
	first := commitRow(t, d, 0, 0, "{\"s\":0,\"r\":0}\n")
	tmp, mg := writeOnceMerger(t, d, m, out)
	mg.syncEvery = first.Size // the first segment alone reaches it
	if err := mg.Add(ctx, 0, 0, 1); err != nil {
		t.Fatal(err)
	}
	if segmentFileExists(t, d, first) || len(mg.pending) != 0 {
		t.Errorf("segment %s still there once durable in the temp output, or still pending (%+v)", first.Name, mg.pending)
	}
	second := commitRow(t, d, 0, 1, "{\"s\":0,\"r\":1}\n")
	mg.syncEvery = 1 << 20
	if err := mg.Add(ctx, 0, 1, 2); err != nil {
		t.Fatal(err)
	}
	if !segmentFileExists(t, d, second) {
		t.Errorf("segment %s removed before it was durable in the temp output", second.Name)
	}
	tmp.Close() // the merge stops here, its second segment copied but not durable
	tmp.File.Close()

	tmp, mg = writeOnceMerger(t, d, m, out)
	if tmp.Length() != first.Size {
		t.Errorf("resumed temp output at %d bytes, want the durable %d", tmp.Length(), first.Size)
	}
	if err := mg.Add(ctx, 0, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkDone(ctx, 0, 2); err != nil {
		t.Fatal(err)
	}
	commitLine(t, d, 1)
	if _, err := mg.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(tmp.File.Name())
	if want := "{\"s\":0,\"r\":0}\n{\"s\":0,\"r\":1}\n{\"s\":1}\n"; err != nil || string(got) != want {
		t.Errorf("output %q (%v), want %q", got, err, want)
	}
	var offsets []int64
	for _, s := range tmp.Merged() {
		offsets = append(offsets, s.Offset)
	}
	if want := []int64{0, 14, 28}; !slices.Equal(offsets, want) {
		t.Errorf("the journal records bodies at %v, want %v", offsets, want)
	}
	if segmentFileExists(t, d, second) {
		t.Errorf("segment %s still there after the merge finished", second.Name)
	}
}

// writeOnceMerger opens the temp output of out in d (resuming the one a stopped merge left) and
// returns it with a write-once Merger of m into it.
func writeOnceMerger(t *testing.T, d *workdir.Dir, m *session.Manifest, out string) (*workdir.OutputTemp, *Merger) {
	t.Helper()
	tmp, err := d.OpenOutputTemp(out, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tmp.Close(); tmp.File.Close() })
	mg, err := NewMerger(d, m, tmp.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.WriteOnce(t.Context(), tmp); err != nil {
		t.Fatal(err)
	}
	return tmp, mg
}

// segmentFileExists reports whether segment s's file is in the work dir d.
func segmentFileExists(t *testing.T, d *workdir.Dir, s workdir.Segment) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(d.Path(), s.Name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestWriteFilesOfNoRows: a many-file output of streams that hold no row is one file, closed (so
// put in place), with the format's empty output.
func TestWriteFilesOfNoRows(t *testing.T) {
	d, _ := openManifest(t, 1)
	if err := d.MarkDone(t.Context(), 0, 0); err != nil {
		t.Fatal(err)
	}
	var files []*closeRecorder
	stats, err := WriteFiles(t.Context(), d, func(int) (io.WriteCloser, error) {
		files = append(files, &closeRecorder{})
		return files[len(files)-1], nil
	})
	if err != nil || !slices.Equal(stats, []FileStats{{}}) || len(files) != 1 || !files[0].closed || files[0].Len() != 0 {
		t.Errorf("WriteFiles of no rows: %v, %v, files %+v; want one empty file, closed", stats, err, files)
	}
}

// TestFinishRefusesAMergedSegmentGone: a segment the merge copied whose commit record was then
// replaced by another's for the same rows (the work dir changed under the merge) stops Finish
// with ErrTiling: the output would hold the rows of a segment the work dir no longer vouches for.
func TestFinishRefusesAMergedSegmentGone(t *testing.T) {
	ctx := t.Context()
	d, m := openManifest(t, 1)
	commitLine(t, d, 0)
	var out bytes.Buffer
	mg, err := NewMerger(d, m, &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := mg.Add(ctx, 0, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(d.Path(), workdir.StreamDir(0), "seg-000000000000-000000000001.commit")); err != nil {
		t.Fatal(err)
	}
	commitRow(t, d, 0, 0, "{\"s\":9}\n")
	if _, err := mg.Finish(ctx); !errors.Is(err, ErrTiling) {
		t.Errorf("Finish after a merged segment's record was replaced: %v, want ErrTiling", err)
	}
}
