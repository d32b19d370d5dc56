package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// MergeStats is what a merge wrote.
type MergeStats struct {
	Segments int
	Rows     int64
	Bytes    int64 // bytes written to dst
}

// Merger writes the committed segments of a manifest's streams to dst as one file of the
// manifest's output format: the header of the output's layout (output.Layout), the segments,
// which are bodies of that layout, copied byte for byte in (stream, offset) order, and the footer
// made from their commit records' metadata. No row is re-encoded. It merges while the streams are
// read: where the format lists its row blocks in a footer (Arrow, Parquet), Add copies each
// segment as soon as it is committed and the footer lists them in (stream, offset) order; for
// the other formats (Avro, CSV, NDJSON), whose bytes are in row order, Add and StreamDone copy
// the segments that come next in that order, so that a stream output gets the first stream's
// rows while the others are still read. Finish copies the rest and writes the footer.
//
// With WriteOnce, each segment's file is removed once its body is durable in the output, so that
// the export holds about the output's size on disk, not twice it.
type Merger struct {
	dir   *workdir.Dir
	m     *session.Manifest
	parts *output.Merger
	added map[string]bool // segments copied
	next  struct {        // in row order: where the next segment to copy starts
		stream int
		lo     int64
	}
	once    *workdir.OutputTemp // WriteOnce's temp output; nil: segments are kept
	pending []workdir.Merged    // segments copied into once since its last Commit
	unsync  int64               // their bytes
	// syncEvery: once unsync reaches it, pending is made durable (syncEvery by default).
	syncEvery int64
	// checkAsCopied: each segment is checked as it is copied (CheckAsCopied), not before.
	checkAsCopied bool
}

// CheckAsCopied makes mg check each segment's size and checksum against its commit record as it
// copies it, which reads the segment once (workdir.Dir.ReadSegment), rather than before, which
// reads it twice (and downloads it twice from a bucket). For a dst that is discarded when the
// merge fails, such as a temp output, never for a stream, which cannot take back what it got.
// WriteOnce implies it.
func (mg *Merger) CheckAsCopied() { mg.checkAsCopied = true }

// syncEvery is how many bytes of segments WriteOnce copies before it makes them durable in the
// temp output and removes their files: the most the export holds twice, beyond one segment.
const syncEvery = 32 << 20

// WriteOnce makes mg write each segment's bytes once on disk: after every syncEvery bytes copied
// into t, the temp output dst is made durable and its journal records the segments it holds, and
// then their files are removed (workdir.OutputTemp.Commit). The segments t holds already, merged
// by an earlier run that stopped, count as copied, and the merge goes on at t's durable length.
// It is called before anything is added.
func (mg *Merger) WriteOnce(ctx context.Context, t *workdir.OutputTemp) error {
	mg.once, mg.checkAsCopied = t, true
	var refs []output.BodyRef
	var orders [][]int64
	for _, p := range t.Merged() {
		s, err := mg.dir.Segment(ctx, p.Stream, p.Lo, p.Hi)
		if err != nil {
			return err
		}
		if s.Name != p.Name {
			return fmt.Errorf("%w: the merge journal holds %s, the commit record of its rows names %s", workdir.ErrChanged, p.Name, s.Name)
		}
		refs = append(refs, output.BodyRef{Offset: p.Offset, Size: s.Size, Meta: s.Meta})
		orders = append(orders, segmentOrder(mg.m, s.Stream, s.Lo))
		mg.added[s.Name] = true
	}
	if len(refs) == 0 {
		return nil
	}
	return mg.parts.Resume(t.Length(), refs, orders)
}

// sync makes the segments copied since the last sync durable in the temp output of WriteOnce and
// removes their files.
func (mg *Merger) sync() error {
	if mg.once == nil || len(mg.pending) == 0 {
		return nil
	}
	if err := mg.once.Commit(mg.parts.Written(), mg.pending); err != nil {
		return diskFull(err)
	}
	mg.pending, mg.unsync = nil, 0
	return nil
}

// NewMerger returns a Merger of the segments of m in the work dir d, writing to dst.
func NewMerger(d *workdir.Dir, m *session.Manifest, dst io.Writer) (*Merger, error) {
	l, err := manifestLayout(m)
	if err != nil {
		return nil, err
	}
	parts, err := output.NewMerger(dst, l)
	if err != nil {
		return nil, err
	}
	return &Merger{dir: d, m: m, parts: parts, added: map[string]bool{}, syncEvery: syncEvery}, nil
}

// Add is told that the segment of stream i's rows [lo, hi) was committed. Where the format takes
// blocks in any order it copies it now; otherwise it copies what comes next in row order. The
// segment's commit record names its file.
func (mg *Merger) Add(ctx context.Context, i int, lo, hi int64) error {
	if !mg.parts.AnyOrder() {
		return mg.drain(ctx)
	}
	s, err := mg.dir.Segment(ctx, i, lo, hi)
	if err != nil || mg.added[s.Name] {
		return err
	}
	return mg.add(ctx, s)
}

// tell passes a worker's Segment, Done or Split event on. A split was saved in the manifest
// before its worker was told of it, so the manifest is read again for its remainder's place.
func (mg *Merger) tell(ctx context.Context, e event.Event) error {
	switch e.Kind {
	case event.Done:
		return mg.StreamDone(ctx)
	case event.Split:
		return mg.reload(ctx)
	}
	return mg.Add(ctx, e.Stream, e.Lo, e.Hi)
}

// StreamDone is told that a stream was read to its end: in row order, the next stream's segments
// may follow.
func (mg *Merger) StreamDone(ctx context.Context) error {
	if mg.parts.AnyOrder() {
		return nil
	}
	return mg.drain(ctx)
}

// drain copies, in row order, the committed segments that start where the last one copied ended,
// moving on to the next stream (StreamOrder) once a stream's done record says it ended there.
func (mg *Merger) drain(ctx context.Context) error {
	for mg.next.stream >= 0 && mg.next.stream < len(mg.m.Streams) {
		segs, end, err := StreamSegments(ctx, mg.dir, mg.next.stream)
		if err != nil {
			return err
		}
		for _, s := range segs {
			if s.Lo < mg.next.lo || mg.added[s.Name] {
				continue
			}
			if err := mg.add(ctx, s); err != nil {
				return err
			}
		}
		mg.next.lo = end
		rows, done, err := mg.dir.Done(ctx, mg.next.stream)
		if err != nil || !done || rows != end {
			return err
		}
		// A stream's splits are saved in the manifest before its reader is told of them, so the
		// manifest read now knows every split of a stream read to its end, even one whose event
		// is still on its way here while another stream's event made this drain run.
		if err := mg.reload(ctx); err != nil {
			return err
		}
		next, err := nextStream(ctx, mg.dir, mg.m, mg.next.stream)
		if err != nil {
			return err
		}
		mg.next.stream, mg.next.lo = next, 0
	}
	return nil
}

// reload reads the manifest again, for the splits saved since it was read.
func (mg *Merger) reload(ctx context.Context) error {
	m, err := session.LoadManifest(ctx, mg.dir.Store())
	if err == nil {
		mg.m = m
	}
	return err
}

// add copies segment s after checking its size and checksum against its commit record, whose
// metadata goes into the footer.
func (mg *Merger) add(ctx context.Context, s workdir.Segment) error {
	part := output.Part{Size: s.Size, Meta: s.Meta, Order: segmentOrder(mg.m, s.Stream, s.Lo)}
	if err := mg.copy(ctx, s, part); err != nil {
		return diskFull(fmt.Errorf("merge segment %s: %w", s.Name, err))
	}
	mg.added[s.Name] = true
	if mg.once == nil {
		return nil
	}
	mg.pending = append(mg.pending, workdir.Merged{Name: s.Name, Stream: s.Stream, Lo: s.Lo, Hi: s.Hi, Offset: mg.parts.Written() - s.Size})
	if mg.unsync += s.Size; mg.unsync >= mg.syncEvery {
		return mg.sync()
	}
	return nil
}

// copy adds segment s's body to the output as part: checked as it is copied (CheckAsCopied;
// WriteOnce's journal records only segments copied whole), or checked first and then copied
// between files in the kernel where it can be.
func (mg *Merger) copy(ctx context.Context, s workdir.Segment, part output.Part) error {
	if mg.checkAsCopied {
		r, err := mg.dir.ReadSegment(ctx, s)
		if err != nil {
			return err
		}
		defer r.Close()
		return mg.parts.AddFrom(part, r)
	}
	o, err := mg.dir.OpenSegment(ctx, s)
	if err != nil {
		return err
	}
	defer o.Close()
	part.R = o
	if f, ok := store.File(o); ok {
		part.R = f
	}
	return mg.parts.Add(part)
}

// Finish checks that every stream was read to its end (its done record) and that its committed
// segments tile exactly the rows its reader recorded, copies the segments Add did not, and
// writes the footer. With no segments at all (an empty table, a filter that matched nothing,
// zero streams) the header and the footer make a valid empty file with the schema. Streams not
// read to their end give an *IncompleteError. It reads the manifest again first, so that the
// check covers every split saved.
func (mg *Merger) Finish(ctx context.Context) (MergeStats, error) {
	if err := mg.reload(ctx); err != nil {
		return MergeStats{}, err
	}
	segs, rows, err := checkSegments(ctx, mg.dir, mg.m)
	if err != nil {
		return MergeStats{}, err
	}
	if err := mg.addRest(ctx, segs); err != nil {
		return MergeStats{}, err
	}
	if err := mg.sync(); err != nil {
		return MergeStats{}, err
	}
	if err := mg.parts.Close(); err != nil {
		return MergeStats{}, diskFull(fmt.Errorf("merge %d segments: %w", len(segs), err))
	}
	return MergeStats{Segments: len(segs), Rows: rows, Bytes: mg.parts.Written()}, nil
}

// addRest copies the segments not copied yet, after checking that every segment copied is still
// among segs (the committed segments, which tile the streams).
func (mg *Merger) addRest(ctx context.Context, segs []workdir.Segment) error {
	copied := 0
	for _, s := range segs {
		if mg.added[s.Name] {
			copied++
		}
	}
	if copied != len(mg.added) {
		return fmt.Errorf("%w: %d merged segments are no longer in the work dir (remove the work dir and export again)", ErrTiling, len(mg.added)-copied)
	}
	for _, s := range segs {
		if !mg.added[s.Name] {
			if err := mg.add(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSegments returns the segments of every stream of m whose rows are part of the output, in
// row order (StreamOrder), and their rows, after checking that each stream was read to its end
// and that they tile it.
func checkSegments(ctx context.Context, d *workdir.Dir, m *session.Manifest) ([]workdir.Segment, int64, error) {
	var all []workdir.Segment
	var total int64
	incomplete := &IncompleteError{}
	order, err := StreamOrder(ctx, d, m)
	if err != nil {
		return nil, 0, err
	}
	for _, i := range order {
		segs, end, err := StreamSegments(ctx, d, i)
		if err != nil {
			return nil, 0, err
		}
		rows, done, err := d.Done(ctx, i)
		switch {
		case err != nil:
			return nil, 0, err
		case !done:
			incomplete.Streams = append(incomplete.Streams, StreamRows{Index: i, Rows: end})
		case end != rows:
			return nil, 0, fmt.Errorf("%w: stream %d: segments hold rows [0, %d), its reader read %d rows", ErrTiling, i, end, rows)
		}
		all = append(all, segs...)
		total += end
	}
	if len(incomplete.Streams) > 0 {
		return nil, 0, incomplete
	}
	return all, total, nil
}

// ErrIncomplete is wrapped by *IncompleteError.
var ErrIncomplete = errors.New("shard: streams not read to their end")

// StreamRows is the rows committed for a stream.
type StreamRows struct {
	Index int   `json:"index"`
	Rows  int64 `json:"rows_committed"`
}

// IncompleteError lists the streams that were not read to their end, with the rows committed.
type IncompleteError struct {
	Streams []StreamRows
}

func (e *IncompleteError) Error() string {
	list := make([]string, len(e.Streams))
	for k, s := range e.Streams {
		list[k] = fmt.Sprintf("%d (%d rows committed)", s.Index, s.Rows)
	}
	what := "streams"
	if len(e.Streams) == 1 {
		what = "stream"
	}
	return fmt.Sprintf("%d %s not read to their end: %s", len(e.Streams), what, strings.Join(list, ", "))
}

func (e *IncompleteError) Unwrap() error { return ErrIncomplete }

// diskFull adds what to do to an error of a full disk (ENOSPC); other errors are returned as is.
func diskFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: the disk is full: free space, or put --out or --work-dir on another disk", err)
	}
	return err
}
