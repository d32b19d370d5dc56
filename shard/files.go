package shard

import (
	"context"
	"fmt"
	"io"

	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// FileStats is what WriteFiles wrote to one file.
type FileStats struct {
	Rows  int64
	Bytes int64
}

// WriteFiles writes a many-file output: it checks, as Merger.Finish does, that every stream of the
// work dir d's manifest was read to its end and that its committed segments tile it, then writes each segment, in
// (stream, offset) order, as one complete file of m's output format (the layout's header, the
// segment's body after checking its size and checksum, and a footer from its record) to what
// open returns for the k-th file, and closes that once the file is whole, before it opens the
// next: closing is where the caller puts the file in place. A file not closed, after an error, is
// the caller's to discard. No row is re-encoded. With no segment at all it writes one file
// with the schema and no rows. The manifest is read again from d, for the streams that splits
// added while the workers ran.
func WriteFiles(ctx context.Context, d *workdir.Dir, open func(k int) (io.WriteCloser, error)) ([]FileStats, error) {
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		return nil, err
	}
	l, err := manifestLayout(m)
	if err != nil {
		return nil, err
	}
	segs, _, err := checkSegments(ctx, d, m)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		w, err := open(0)
		if err == nil {
			err = output.Merge(w, l, nil)
		}
		if err == nil {
			err = w.Close()
		}
		return []FileStats{{}}, diskFull(err)
	}
	stats := make([]FileStats, len(segs))
	for k, s := range segs {
		w, err := open(k)
		if err != nil {
			return nil, err
		}
		n, err := writeFile(ctx, d, l, s, w)
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			return nil, diskFull(fmt.Errorf("write segment %s as file %d: %w", s.Name, k, err))
		}
		stats[k] = FileStats{Rows: s.Hi - s.Lo, Bytes: n}
	}
	return stats, nil
}

// writeFile writes segment s as a file of l to w and returns its size. The segment is checked as
// it is copied (workdir.Dir.ReadSegment): a file whose segment fails the check is not closed, so
// never put in place.
func writeFile(ctx context.Context, d *workdir.Dir, l *output.Layout, s workdir.Segment, w io.Writer) (int64, error) {
	r, err := d.ReadSegment(ctx, s)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	mg, err := output.NewMerger(w, l)
	if err != nil {
		return 0, err
	}
	if err := mg.AddFrom(output.Part{Size: s.Size, Meta: s.Meta}, r); err != nil {
		return 0, err
	}
	if err := mg.Close(); err != nil {
		return 0, err
	}
	return mg.Written(), nil
}
