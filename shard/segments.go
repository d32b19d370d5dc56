// Package shard reads the streams of a read session: the worker (one process per stream) calls
// ReadRows, resumes at its offset after transient errors and commits segment files; the
// coordinator starts and supervises worker processes and merges their segments into one output.
// It never parses table references or creates sessions (package session does).
package shard

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/session"
)

// ErrTiling is wrapped by errors for segments that do not cover a stream's rows exactly once.
var ErrTiling = errors.New("shard: segments do not tile the stream")

// Segment is one committed segment file: rows [Lo, Hi) of stream Stream.
type Segment struct {
	Name   string
	Stream int
	Lo, Hi int64
	Size   int64
}

// SegmentName returns the work-dir name of the segment of stream i holding rows [lo, hi).
func SegmentName(i int, lo, hi int64, ext string) string {
	return fmt.Sprintf("%s/seg-%012d-%012d.%s", session.StreamDir(i), lo, hi, ext)
}

func parseSegmentName(name string) (Segment, error) {
	var s Segment
	dir, base := path.Split(name)
	if _, err := fmt.Sscanf(strings.TrimSuffix(dir, "/"), "stream-%06d", &s.Stream); err != nil {
		return Segment{}, fmt.Errorf("shard: %q is not a segment name", name)
	}
	if _, err := fmt.Sscanf(base, "seg-%012d-%012d.", &s.Lo, &s.Hi); err != nil || s.Hi < s.Lo {
		return Segment{}, fmt.Errorf("shard: %q is not a segment name", name)
	}
	s.Name = name
	return s, nil
}

// StreamSegments lists the committed segments of stream i in row order and checks that they tile
// [0, end) with no gap and no overlap; end is where a reader of the stream resumes.
func StreamSegments(ctx context.Context, st store.Store, i int) (segs []Segment, end int64, err error) {
	entries, err := st.List(ctx, session.StreamDir(i)+"/")
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		s, err := parseSegmentName(e.Name)
		if err != nil {
			return nil, 0, err
		}
		s.Size = e.Size
		segs = append(segs, s)
	}
	sort.Slice(segs, func(a, b int) bool { return segs[a].Lo < segs[b].Lo })
	for _, s := range segs {
		if s.Lo != end {
			return nil, 0, fmt.Errorf("%w: stream %d: segment %s starts at row %d, want %d (remove the work dir and export again)", ErrTiling, i, s.Name, s.Lo, end)
		}
		end = s.Hi
	}
	return segs, end, nil
}
