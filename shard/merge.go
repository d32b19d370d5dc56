package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// MergeStats is what Merge wrote.
type MergeStats struct {
	Segments int
	Rows     int64
	Bytes    int64 // bytes written to dst
}

// Merge checks that the committed segments of every stream of m tile the stream's rows, and that
// stream i holds exactly want[i] rows when want is not nil (the rows its worker reported), then
// writes the segments in (stream, offset) order to dst as one file of the manifest's output
// format, without re-encoding where the format allows. With no segments at all (an empty table, a
// filter that matched nothing, zero streams) it writes a valid empty file with the schema.
func Merge(ctx context.Context, st store.Store, m *session.Manifest, want []int64, dst io.Writer) (MergeStats, error) {
	format, err := output.ParseFormat(m.Output.Format)
	if err != nil {
		return MergeStats{}, err
	}
	segs, rows, err := checkSegments(ctx, st, m, want)
	if err != nil {
		return MergeStats{}, err
	}
	cw := &countingWriter{w: dst}
	if len(segs) == 0 {
		err = writeEmpty(cw, m, format)
	} else {
		err = mergeSegments(ctx, st, segs, format, cw)
	}
	if err != nil {
		return MergeStats{}, diskFull(fmt.Errorf("merge %d segments: %w", len(segs), err))
	}
	return MergeStats{Segments: len(segs), Rows: rows, Bytes: cw.n}, nil
}

func checkSegments(ctx context.Context, st store.Store, m *session.Manifest, want []int64) ([]Segment, int64, error) {
	if want != nil && len(want) != len(m.Streams) {
		return nil, 0, fmt.Errorf("shard: %d stream row counts for %d streams", len(want), len(m.Streams))
	}
	var all []Segment
	var total int64
	for i := range m.Streams {
		segs, end, err := StreamSegments(ctx, st, i)
		if err != nil {
			return nil, 0, err
		}
		if want != nil && end != want[i] {
			return nil, 0, fmt.Errorf("%w: stream %d: segments hold rows [0, %d), the worker read %d rows", ErrTiling, i, end, want[i])
		}
		all = append(all, segs...)
		total += end
	}
	return all, total, nil
}

func mergeSegments(ctx context.Context, st store.Store, segs []Segment, format output.Format, dst io.Writer) (err error) {
	parts := make([]output.Part, 0, len(segs))
	var objs []store.Object
	defer func() {
		for _, o := range objs {
			err = errors.Join(err, o.Close())
		}
	}()
	for _, s := range segs {
		o, err := st.Open(ctx, s.Name)
		if err != nil {
			return err
		}
		objs = append(objs, o)
		var r io.ReaderAt = o
		if f, ok := store.File(o); ok {
			r = f // lets the merge copy between files in the kernel
		}
		parts = append(parts, output.Part{R: r, Size: o.Size()})
	}
	return output.Merge(dst, format, parts)
}

// writeEmpty writes a file of format with the manifest's schema and no rows, through the same
// writer a worker would use.
func writeEmpty(dst io.Writer, m *session.Manifest, format output.Format) error {
	w := &worker{m: m, format: format, opts: output.Options{Compression: m.Output.Compression}}
	if !w.passthrough() {
		dec, err := newDecoder(m)
		if err != nil {
			return err
		}
		w.dec = dec
	}
	s, err := w.newSink(dst)
	if err != nil {
		return err
	}
	return s.close()
}

// diskFull adds what to do to an error of a full disk (ENOSPC); other errors are returned as is.
func diskFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: the disk is full: free space, or put --out or --work-dir on another disk", err)
	}
	return err
}
