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
	p, err := d.Store().Create(t.Context(), workdir.StreamDir(i))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "{\"s\":"+string(rune('0'+i))+"}\n")
	if _, err := d.CommitSegment(t.Context(), p, i, 0, 1, "ndjson-body", nil); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkDone(t.Context(), i, 1); err != nil {
		t.Fatal(err)
	}
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
	commitLine(t, d, 0)
	commitLine(t, d, 1)
	var files []*closeRecorder
	open := func(int) (io.WriteCloser, error) {
		files = append(files, &closeRecorder{})
		return files[len(files)-1], nil
	}
	stats, err := WriteFiles(t.Context(), d, open)
	want := []FileStats{{Rows: 1, Bytes: 8}, {Rows: 1, Bytes: 8}}
	if err != nil || !slices.Equal(stats, want) || files[1].String() != "{\"s\":1}\n" {
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
	if len(files) != 2 || !files[0].closed || files[0].String() != "{\"s\":0}\n" || files[1].closed {
		t.Errorf("files %+v: want the first closed with its row, the second not closed", files)
	}
}
