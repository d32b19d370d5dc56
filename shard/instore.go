package shard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// MergeInStore merges the committed segments of the streams in the work dir d, as its manifest
// lists them (read now, with every split the run saved), into the object at the URL dst without their bytes passing through this process: after the checks of
// Merger.Finish (every stream done, its segments tiling its rows), it writes the header and the
// footer of the output's layout, the footer made from the commit records and the bodies' places,
// as two objects of the work dir (workdir.WriteMergePiece), and has the store concatenate
// header, the segments' bodies in (stream, offset) order and footer into dst
// (store.Concatenator), which appears only whole, and only if absent unless replace. The pieces
// are removed afterwards. An error wrapping store.ErrNoConcat means that the work dir's store
// cannot concatenate into dst: nothing was written at dst, and the caller merges by copying
// (Merger).
func MergeInStore(ctx context.Context, d *workdir.Dir, dst string, replace bool) (MergeStats, error) {
	c, ok := d.Store().(store.Concatenator)
	if !ok {
		return MergeStats{}, fmt.Errorf("%w: the work dir %s is not in a bucket", store.ErrNoConcat, d.Path())
	}
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		return MergeStats{}, err
	}
	segs, rows, err := checkSegments(ctx, d, m)
	if err != nil {
		return MergeStats{}, err
	}
	head, foot, written, err := mergePieces(m, segs)
	if err != nil {
		return MergeStats{}, err
	}
	srcs := make([]store.Source, 0, len(segs)+2)
	hs, err := d.WriteMergePiece(workdir.MergeHeaderName, head)
	if err == nil {
		srcs = append(srcs, hs)
		for _, s := range segs {
			srcs = append(srcs, s.Source())
		}
		var fs store.Source
		fs, err = d.WriteMergePiece(workdir.MergeFooterName, foot)
		srcs = append(srcs, fs)
	}
	if err == nil {
		err = c.Concat(ctx, dst, replace, srcs)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := d.RemoveMergePieces(cctx); err == nil {
		err = rerr
	}
	if err != nil {
		return MergeStats{}, err
	}
	return MergeStats{Segments: len(segs), Rows: rows, Bytes: written}, nil
}

// mergePieces returns the header and the footer of the file of m's layout whose bodies are segs,
// in that order, and the file's size, through an output.Merger that places the bodies.
func mergePieces(m *session.Manifest, segs []workdir.Segment) (head, foot []byte, size int64, err error) {
	l, err := manifestLayout(m)
	if err != nil {
		return nil, nil, 0, err
	}
	var h, f bytes.Buffer
	w := &pieceWriter{w: &h}
	mg, err := output.NewMerger(w, l)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, s := range segs {
		if err := mg.Place(output.Part{Size: s.Size, Meta: s.Meta, Order: segmentOrder(m, s.Stream, s.Lo)}); err != nil {
			return nil, nil, 0, fmt.Errorf("merge segment %s: %w", s.Name, err)
		}
	}
	w.w = &f
	if err := mg.Close(); err != nil {
		return nil, nil, 0, fmt.Errorf("merge %d segments: %w", len(segs), err)
	}
	return h.Bytes(), f.Bytes(), mg.Written(), nil
}

// pieceWriter writes to w, which mergePieces moves from the header to the footer once every
// body is placed.
type pieceWriter struct{ w io.Writer }

func (p *pieceWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
