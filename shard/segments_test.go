package shard

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bqread/bqread/internal/workdir"
)

// commitSegment commits a segment of stream i holding rows [lo, hi) with some bytes.
func commitSegment(t *testing.T, d *workdir.Dir, i int, lo, hi int64) {
	t.Helper()
	ctx := context.Background()
	p, err := d.Store().Create(ctx, workdir.StreamDir(i))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "rows\n")
	if _, err := d.CommitSegment(ctx, p, i, lo, hi, "parquet-body", nil); err != nil {
		t.Fatal(err)
	}
}

func TestStreamSegments(t *testing.T) {
	tests := []struct {
		name   string
		ranges [][2]int64
		want   [][2]int64 // the tiling
	}{
		{"none", nil, nil},
		{"tiled", [][2]int64{{250, 600}, {0, 250}, {600, 601}}, [][2]int64{{0, 250}, {250, 600}, {600, 601}}},
		{"gap", [][2]int64{{0, 250}, {300, 400}}, [][2]int64{{0, 250}}},
		{"overlap", [][2]int64{{0, 250}, {200, 400}}, [][2]int64{{0, 250}}},
		{"not from zero", [][2]int64{{10, 20}}, nil},
		{"two copies cut differently", [][2]int64{{0, 50}, {0, 100}, {50, 150}, {100, 200}, {150, 160}}, [][2]int64{{0, 100}, {100, 200}}},
		{"the longer cut is a dead end", [][2]int64{{0, 100}, {0, 50}, {50, 300}, {100, 120}}, [][2]int64{{0, 50}, {50, 300}}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newWorkDir(t)
			for _, r := range tt.ranges {
				commitSegment(t, d, 4, r[0], r[1])
			}
			// Another stream's segments, uncommitted files and unrecorded files do not count.
			p, _ := d.Store().Create(ctx, workdir.StreamDir(4))
			defer p.Abort()
			commitSegment(t, d, 5, 0, 10)
			var wantEnd int64
			if len(tt.want) > 0 {
				wantEnd = tt.want[len(tt.want)-1][1]
			}
			stray, _ := d.Store().Create(ctx, workdir.StreamDir(4))
			stray.Commit(fmt.Sprintf("stream-000004/seg-%012d-%012d-0123456789ab.parquet", wantEnd, wantEnd+1000))

			segs, end, err := StreamSegments(ctx, d, 4)
			if err != nil {
				t.Fatal(err)
			}
			if end != wantEnd {
				t.Errorf("end = %d, want %d", end, wantEnd)
			}
			var got [][2]int64
			for _, s := range segs {
				got = append(got, [2]int64{s.Lo, s.Hi})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("tiling %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTileSkipsEmptySegments gives tile an empty range beside a real one: the empty one, which
// would never move the chain forward, is not part of the tiling.
func TestTileSkipsEmptySegments(t *testing.T) {
	got := tile([]workdir.Segment{{Lo: 0, Hi: 0}, {Lo: 0, Hi: 10}, {Lo: 10, Hi: 10}, {Lo: 10, Hi: 12}})
	if len(got) != 2 || got[0].Hi != 10 || got[1].Hi != 12 {
		t.Errorf("tile = %+v, want [0, 10) and [10, 12)", got)
	}
}

// TestForgetLost: after a power loss took the file of a stream's last segment, forgetLost drops
// its record and the record that the stream was read to its end, so that the stream is read again
// from row 10; a stream whose segments all survived keeps its records.
func TestForgetLost(t *testing.T) {
	ctx := context.Background()
	d := newWorkDir(t)
	for i := range 2 {
		commitSegment(t, d, i, 0, 10)
		commitSegment(t, d, i, 10, 20)
		if err := d.MarkDone(ctx, i, 20); err != nil {
			t.Fatal(err)
		}
	}
	segs, _, _ := StreamSegments(ctx, d, 0)
	os.Remove(filepath.Join(d.Path(), segs[1].Name))
	for i := range 2 {
		if err := forgetLost(ctx, d, i); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []struct {
		end  int64
		done bool
	}{{10, false}, {20, true}} {
		_, end, err := StreamSegments(ctx, d, i)
		_, done, derr := d.Done(ctx, i)
		if err != nil || derr != nil || end != want.end || done != want.done {
			t.Errorf("stream %d: segments reach %d, done %v (%v, %v); want %d, %v", i, end, done, err, derr, want.end, want.done)
		}
	}
	if err := d.MarkDone(ctx, 0, 20); err != nil {
		t.Errorf("stream 0 read again to row 20 cannot record it: %v", err)
	}
}
