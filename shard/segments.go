// Package shard reads the streams of a read session: the worker (one process per stream) calls
// ReadRows, resumes at its offset after transient errors and commits segment files; the
// coordinator starts and supervises worker processes and merges their segments into one output.
// It never parses table references or creates sessions (package session does), and it names and
// removes nothing in the work dir itself (package workdir does).
package shard

import (
	"context"
	"errors"

	"github.com/bqread/bqread/internal/workdir"
)

// ErrTiling is wrapped by errors for segments that do not cover a stream's rows exactly once.
var ErrTiling = errors.New("shard: segments do not tile the stream")

// StreamSegments returns the committed segments of stream i that tile rows [0, end) with no gap
// and no overlap, for the largest end such segments reach; end is where a reader of the stream
// resumes. Only segments with a commit record count (workdir.Dir.Segments). Segments off that
// tiling (after a gap, or cut differently by a second copy of a task) are left out.
func StreamSegments(ctx context.Context, d *workdir.Dir, i int) (segs []workdir.Segment, end int64, err error) {
	all, err := d.Segments(ctx, i)
	if err != nil {
		return nil, 0, err
	}
	segs = tile(all)
	if len(segs) > 0 {
		end = segs[len(segs)-1].Hi
	}
	return segs, end, nil
}

// forgetLost forgets what a power loss may have taken of stream i's segments, which its workers
// commit without fsync (segmentStore): the records of segments that are gone or shorter
// (workdir.Dir.DropLost), and the record that the stream was read to its end if its segments no
// longer reach it, so that the stream's reader runs again from where they end. The coordinator
// calls it before it starts any worker, with the work dir locked: no writer of the stream runs.
func forgetLost(ctx context.Context, d *workdir.Dir, i int) error {
	if _, err := d.DropLost(ctx, i); err != nil {
		return err
	}
	_, end, err := StreamSegments(ctx, d, i)
	if err != nil {
		return err
	}
	rows, done, err := d.Done(ctx, i)
	if err != nil || !done || end >= rows {
		return err
	}
	return d.ForgetDone(ctx, i)
}

// tile returns the chain of segments from row 0, each starting where the last ended, that
// reaches furthest.
func tile(segs []workdir.Segment) []workdir.Segment {
	from := map[int64][]workdir.Segment{}
	for _, s := range segs {
		if s.Hi > s.Lo {
			from[s.Lo] = append(from[s.Lo], s)
		}
	}
	reach := map[int64]int64{} // furthest row a chain starting at a row reaches
	var far func(lo int64) int64
	far = func(lo int64) int64 {
		if r, ok := reach[lo]; ok {
			return r
		}
		reach[lo] = lo
		for _, s := range from[lo] {
			reach[lo] = max(reach[lo], far(s.Hi))
		}
		return reach[lo]
	}
	var chain []workdir.Segment
	for lo, goal := int64(0), far(0); lo < goal; {
		for _, s := range from[lo] {
			if far(s.Hi) == goal {
				chain, lo = append(chain, s), s.Hi
				break
			}
		}
	}
	return chain
}
