package shard

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"

	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/session"
)

// DefaultSplitMinLeft is the reading time a stream must have left, at its pace so far, for the
// coordinator to split it: well above what a split costs (a SplitReadStream call, a manifest
// save, a worker process started and its first ReadRows), so that a split pays for itself even
// when its remainder turns out small.
const DefaultSplitMinLeft = 2 * time.Second

// Straggler splitting's other constants.
const (
	splitCheckEvery = 250 * time.Millisecond // how often the scheduler looks for a straggler
	minPaceWindow   = 500 * time.Millisecond // the least progress history a pace is estimated on
	splitTimeout    = 30 * time.Second       // bounds a SplitReadStream call
)

// pace is a worker's progress through the stream name it reads (the server's
// stats.progress.at_response_end fraction): at its first progress report and at its last.
type pace struct {
	p0, p float64
	t0, t time.Time
}

// observe takes a progress report.
func (p *pace) observe(fraction float64, now time.Time) {
	if fraction <= 0 {
		return
	}
	if p.t0.IsZero() {
		p.p0, p.t0 = fraction, now
	}
	p.p, p.t = fraction, now
}

// scaled is the pace through the head of the rows, fraction of them (a split's primary): reset
// when the fraction is unknown (a split decided by a worker at its start).
func (p pace) scaled(fraction float64) pace {
	if fraction <= 0 || p.t0.IsZero() {
		return pace{}
	}
	p.p0, p.p = p.p0/fraction, p.p/fraction
	return p
}

// left estimates the time until the stream's end at the pace since the first report; ok is
// false before the reports span minPaceWindow with progress made.
func (p pace) left(now time.Time) (time.Duration, bool) {
	span := p.t.Sub(p.t0)
	if p.t0.IsZero() || p.p <= p.p0 || span < minPaceWindow {
		return 0, false
	}
	total := float64(span) * (1 - p.p) / (p.p - p.p0)
	return time.Duration(total) - now.Sub(p.t), true
}

// splits reports whether the coordinator splits stragglers: asked to, and no row limit (a
// preview reads one stream to its limit).
func (c *coordinator) splits() bool { return c.cfg.SplitStragglers && c.m.Limit == 0 }

// splitStraggler splits, when a worker slot is free and no stream waits to start, the running
// stream with the most reading time left, if that is at least SplitMinLeft: SplitReadStream at
// the middle of what is left of the name its worker reads; the split is saved in the manifest
// (the remainder appended to the streams) before the worker is told, on its stdin, to move on to
// the primary. The worker decides the split (see worker.decide); an accepted split's remainder
// then gets a worker of its own (resolve). A failed call or save is logged, and the stream is not
// split again: its worker reads on, and a split it was never told of counts as refused.
func (c *coordinator) splitStraggler(ctx context.Context) {
	i, fraction, ok := c.straggler(time.Now())
	if !ok {
		return
	}
	err := c.split(ctx, i, fraction)
	if err != nil {
		c.log.Warn("split a straggling stream", "stream", i, "error", err)
		c.mu.Lock()
		delete(c.splitting, i)
		c.unsplit[i] = true
		c.mu.Unlock()
	}
}

// straggler picks the stream to split, marks it splitting, and returns the fraction to split at.
func (c *coordinator) straggler(now time.Time) (int, float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.splits() || len(c.queue) > 0 || c.running+len(c.waiting) >= max(c.cfg.Parallelism, 1) {
		return 0, 0, false
	}
	best, most := -1, c.cfg.SplitMinLeft
	for i, p := range c.procs {
		if left, ok := p.pace.left(now); ok && left >= most && c.splitting[i] == 0 && !c.unsplit[i] {
			best, most = i, left
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	p := c.procs[best].pace.p
	c.splitting[best] = p + (1-p)/2
	return best, c.splitting[best], true
}

// split splits stream i at fraction of the name its worker reads, records the split and tells
// the worker.
func (c *coordinator) split(ctx context.Context, i int, fraction float64) error {
	c.mu.Lock()
	name, pending, err := readName(ctx, c.dir, c.m, i)
	c.mu.Unlock()
	if err != nil || pending != nil {
		return fmt.Errorf("stream %d: %w", i, cmpErr(err, "a split is still to be decided"))
	}
	primary, remainder, err := c.splitRPC(ctx, name, fraction)
	if err != nil || primary == "" || remainder == "" {
		return fmt.Errorf("SplitReadStream %s at %.3f: %w", name, fraction, cmpErr(err, "the service cannot split it further"))
	}
	c.mu.Lock()
	k := c.m.AddSplit(i, primary, remainder)
	c.results = append(c.results, StreamResult{Index: k})
	c.waiting[k] = true
	p := c.procs[i]
	c.mu.Unlock()
	if err := c.m.Save(ctx, c.dir.Store()); err != nil {
		return fmt.Errorf("record the split of stream %d: %w", i, err)
	}
	c.log.Info("split a straggling stream", "stream", i, "fraction", fraction, "remainder", k)
	if p != nil {
		// A worker gone meanwhile is replaced by one that reads the split from the manifest.
		event.SendCommand(p.control, event.Command{Stream: i, Primary: primary, Remainder: k})
	}
	return nil
}

// splitRPC calls SplitReadStream with the coordinator's own client, made at the first split.
func (c *coordinator) splitRPC(ctx context.Context, name string, fraction float64) (primary, remainder string, err error) {
	if c.client == nil {
		if c.client, err = session.NewClient(ctx, c.m.Endpoint, c.m.Plaintext); err != nil {
			return "", "", err
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, splitTimeout)
	defer cancel()
	resp, err := c.client.SplitReadStream(callCtx, &storagepb.SplitReadStreamRequest{Name: name, Fraction: fraction})
	return resp.GetPrimaryStream().GetName(), resp.GetRemainderStream().GetName(), err
}

// closeSplitter closes the client of splitRPC, if one was made.
func (c *coordinator) closeSplitter() {
	if c.client != nil {
		c.client.Close()
	}
}

// cmpErr returns err, or an error saying what when err is nil.
func cmpErr(err error, what string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%s", what)
}
