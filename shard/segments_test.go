package shard

import (
	"context"
	"errors"
	"io"
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
	if _, err := d.CommitSegment(ctx, p, i, lo, hi, "parquet"); err != nil {
		t.Fatal(err)
	}
}

func TestStreamSegments(t *testing.T) {
	tests := []struct {
		name    string
		ranges  [][2]int64
		wantEnd int64
		wantErr error
	}{
		{"none", nil, 0, nil},
		{"tiled", [][2]int64{{250, 600}, {0, 250}, {600, 601}}, 601, nil},
		{"gap", [][2]int64{{0, 250}, {300, 400}}, 0, ErrTiling},
		{"overlap", [][2]int64{{0, 250}, {200, 400}}, 0, ErrTiling},
		{"not from zero", [][2]int64{{10, 20}}, 0, ErrTiling},
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
			stray, _ := d.Store().Create(ctx, "")
			stray.Commit(workdir.SegmentName(4, tt.wantEnd, tt.wantEnd+1000, "parquet"))

			segs, end, err := StreamSegments(ctx, d, 4)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if end != tt.wantEnd {
				t.Errorf("end = %d, want %d", end, tt.wantEnd)
			}
			var got [][2]int64
			for _, s := range segs {
				got = append(got, [2]int64{s.Lo, s.Hi})
			}
			if tt.wantErr == nil && len(got) != len(tt.ranges) {
				t.Errorf("segments %v, want %d", got, len(tt.ranges))
			}
		})
	}
}
