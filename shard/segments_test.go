package shard

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/internal/store"
)

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
			st, err := store.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.ranges {
				p, err := st.Create(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Commit(SegmentName(4, r[0], r[1], "parquet")); err != nil {
					t.Fatal(err)
				}
			}
			// Another stream's segments and uncommitted files do not count.
			p, _ := st.Create(ctx, "stream-000004")
			defer p.Abort()
			other, _ := st.Create(ctx, "")
			other.Commit(SegmentName(5, 0, 10, "parquet"))

			segs, end, err := StreamSegments(ctx, st, 4)
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

func TestParseSegmentName(t *testing.T) {
	name := SegmentName(7, 250000, 500000, "parquet")
	if want := "stream-000007/seg-000000250000-000000500000.parquet"; name != want {
		t.Fatalf("SegmentName = %q, want %q", name, want)
	}
	got, err := parseSegmentName(name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Segment{Name: name, Stream: 7, Lo: 250000, Hi: 500000}, got); diff != "" {
		t.Errorf("parse mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"stream-000007/notes.txt", "x/seg-000000000000-000000000010.csv", "stream-000001/seg-000000000010-000000000000.csv"} {
		if _, err := parseSegmentName(bad); err == nil {
			t.Errorf("parseSegmentName(%q) = nil error", bad)
		}
	}
}
