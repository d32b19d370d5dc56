package shard

import (
	"math"
	"testing"
	"time"

	"github.com/bqread/bqread/session"
)

// TestStragglerPieces: the running stream with the most reading time left, at least
// SplitMinLeft, is split into a piece for each free worker slot and one of its own, at the
// fraction where its own piece ends, larger than the others by the time new workers took to
// start; a remainder waiting for its split's decision holds a slot, and nothing is split while a
// stream waits to start, no slot is free, or a new worker would start after the stream ends.
func TestStragglerPieces(t *testing.T) {
	now := time.Now()
	// paced has read fraction p of its stream name, at 0.1 a second.
	paced := func(p float64) *procState {
		return &procState{pace: pace{p0: p - 0.1, p: p, t0: now.Add(-time.Second), t: now}}
	}
	newC := func() *coordinator {
		c := newCoordinator(Config{Parallelism: 4, SplitStragglers: true}, nil, &session.Manifest{Streams: make([]string, 4)})
		c.running = 2
		c.procs = map[int]*procState{0: paced(0.95) /* 0.5 s left */, 1: paced(0.2) /* 8 s left */}
		return c
	}
	tests := []struct {
		name       string
		setup      func(c *coordinator)
		pieces     int // 0: no split
		ownPieceTo float64
	}{
		{"two slots free", func(*coordinator) {}, 3, 0.2 + 0.8/3},
		// Its own piece is larger by what the new workers take to start: (1 + 2*2/8) / 3 of what
		// is left, so that all three end together.
		{"new workers start in 2 s", func(c *coordinator) { c.starting.add(2 * time.Second) }, 3, 0.2 + 0.8*0.5},
		{"new workers would start after it ends", func(c *coordinator) { c.starting.add(10 * time.Second) }, 0, 0},
		{"one slot held by a waiting remainder", func(c *coordinator) { c.waiting[3] = true }, 2, 0.6},
		{"a stream waits to start", func(c *coordinator) { c.queue = []int{2} }, 0, 0},
		{"no slot free", func(c *coordinator) { c.running = 4 }, 0, 0},
		{"too little left", func(c *coordinator) { c.cfg.SplitMinLeft = 9 * time.Second }, 0, 0},
		{"split already awaiting its decision", func(c *coordinator) { c.splitting[1] = 0.5 }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newC()
			tt.setup(c)
			i, pieces, ok := c.straggler(now)
			if !ok {
				if tt.pieces != 0 {
					t.Fatalf("no split, want stream 1 in %d pieces", tt.pieces)
				}
				return
			}
			if i != 1 || pieces != tt.pieces || math.Abs(c.splitting[1]-tt.ownPieceTo) > 1e-9 {
				t.Errorf("stream %d in %d pieces, its own to %v; want stream 1 in %d, to %v", i, pieces, c.splitting[i], tt.pieces, tt.ownPieceTo)
			}
		})
	}
}
