// Package shard reads the streams of a read session: the worker (one process per stream) calls
// ReadRows, resumes at its offset after transient errors and commits segment files; the
// coordinator starts and supervises worker processes and merges their segments into one output.
// It never parses table references or creates sessions (package session does), and it names and
// removes nothing in the work dir itself (package workdir does).
package shard

import (
	"context"
	"errors"
	"fmt"

	"github.com/bqread/bqread/internal/workdir"
)

// ErrTiling is wrapped by errors for segments that do not cover a stream's rows exactly once.
var ErrTiling = errors.New("shard: segments do not tile the stream")

// StreamSegments lists the committed segments of stream i in row order and checks that they tile
// [0, end) with no gap and no overlap; end is where a reader of the stream resumes. Only segments
// with a commit record count (workdir.Dir.Segments).
func StreamSegments(ctx context.Context, d *workdir.Dir, i int) (segs []workdir.Segment, end int64, err error) {
	segs, err = d.Segments(ctx, i)
	if err != nil {
		return nil, 0, err
	}
	for _, s := range segs {
		if s.Lo != end {
			return nil, 0, fmt.Errorf("%w: stream %d: segment %s starts at row %d, want %d (remove the work dir and export again)", ErrTiling, i, s.Name, s.Lo, end)
		}
		end = s.Hi
	}
	return segs, end, nil
}
