package shard

import (
	"bytes"
	"errors"
	"io"
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
	d, err := workdir.Open(writeManifest(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	stale, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		t.Fatal(err)
	}
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
	d, err := workdir.Open(writeManifest(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	stale, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		t.Fatal(err)
	}
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
