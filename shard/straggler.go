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

// splitStraggler splits, when worker slots are free and no stream waits to start, the running
// stream with the most reading time left, if that is at least SplitMinLeft, into as many pieces
// as make every free slot busy: what is left of the name its worker reads, in equal parts (see
// split). The split is saved in the manifest (the remainders appended to the streams) before the
// worker is told, on its stdin, to move on to the primary. The worker decides the split (see
// worker.decide); an accepted split's remainders then get a worker each (resolve). A failed call
// or save is logged, and the stream is not split again: its worker reads on, and a split it was
// never told of counts as refused.
func (c *coordinator) splitStraggler(ctx context.Context) {
	i, pieces, ok := c.straggler(time.Now())
	if !ok {
		return
	}
	err := c.split(ctx, i, pieces)
	if err != nil {
		c.log.Warn("split a straggling stream", "stream", i, "error", err)
		c.mu.Lock()
		delete(c.splitting, i)
		c.unsplit[i] = true
		c.mu.Unlock()
	}
}

// straggler picks the stream to split and the pieces to split it into (the free slots and its
// own), marks it splitting at the fraction where its own piece ends (ownShare), and returns it.
func (c *coordinator) straggler(now time.Time) (i, pieces int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	free := max(c.cfg.Parallelism, 1) - c.running - len(c.waiting)
	if !c.splits() || len(c.queue) > 0 || free <= 0 {
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
	own := ownShare(most, c.starting.mean(), free+1)
	if own >= 1 {
		return 0, 0, false
	}
	p := c.procs[best].pace.p
	c.splitting[best] = p + (1-p)*own
	return best, free + 1, true
}

// ownShare is the share of what a straggler has left, left at its pace, that it keeps itself when
// it is cut into pieces, the others equal, each read by a new worker that takes start to begin
// reading: more than an equal share, so that every piece ends at the same time. It is 1 or more
// when a new worker would not begin before the straggler ends.
func ownShare(left, start time.Duration, pieces int) float64 {
	others := float64(pieces - 1)
	return (1 + others*start.Seconds()/left.Seconds()) / (others + 1)
}

// startCost is how long the workers of a run took from their launch to their start event: the
// process start, the manifest loaded and the work dir read.
type startCost struct {
	total time.Duration
	n     int
}

// add takes one worker's time to start.
func (s *startCost) add(d time.Duration) { s.total, s.n = s.total+d, s.n+1 }

// mean is the mean time to start, 0 before any worker started.
func (s startCost) mean() time.Duration {
	if s.n == 0 {
		return 0
	}
	return s.total / time.Duration(s.n)
}

// split splits stream i into pieces: SplitReadStream at the fraction straggler chose, then the
// remainder, which no worker has read, into the pieces left, one SplitReadStream at a time
// (divide). It records the splits, decides those of the remainders, and tells i's worker.
func (c *coordinator) split(ctx context.Context, i, pieces int) error {
	c.mu.Lock()
	name, pending, err := readName(ctx, c.dir, c.m, i)
	fraction := c.splitting[i]
	c.mu.Unlock()
	if err != nil || pending != nil {
		return fmt.Errorf("stream %d: %w", i, cmpErr(err, "a split is still to be decided"))
	}
	primary, remainder, err := c.splitRPC(ctx, name, fraction)
	if err != nil || primary == "" || remainder == "" {
		return fmt.Errorf("SplitReadStream %s at %.3f: %w", name, fraction, cmpErr(err, "the service cannot split it further"))
	}
	more := c.divide(ctx, remainder, pieces-1)
	c.mu.Lock()
	k := c.addSplit(i, primary, remainder)
	ks := []int{k}
	for _, d := range more {
		k = c.addSplit(k, d.primary, d.remainder)
		ks = append(ks, k)
	}
	p := c.procs[i]
	c.mu.Unlock()
	if err := c.m.Save(ctx, c.dir.Store()); err != nil {
		return fmt.Errorf("record the split of stream %d: %w", i, err)
	}
	for j := 1; j < len(ks); j++ {
		// Stream ks[j-1] was made by this split and never read: no reader is past any point of it.
		if _, err := c.dir.DecideSplit(ctx, ks[j-1], ks[j], true); err != nil {
			c.log.Warn("record a split of a stream not read yet", "stream", ks[j-1], "remainder", ks[j], "error", err)
		}
	}
	c.log.Info("split a straggling stream", "stream", i, "fraction", fraction, "remainders", ks)
	if p != nil {
		// A worker gone meanwhile is replaced by one that reads the split from the manifest.
		event.SendCommand(p.control, event.Command{Stream: i, Primary: primary, Remainder: ks[0]})
	}
	return nil
}

// addSplit records the split of stream parent into primary and remainder, whose index it
// returns: the remainder waits for the split's decision. The caller holds mu.
func (c *coordinator) addSplit(parent int, primary, remainder string) int {
	k := c.m.AddSplit(parent, primary, remainder)
	c.results = append(c.results, StreamResult{Index: k})
	c.waiting[k] = true
	return k
}

// cut is one split of divide: a stream name's primary and remainder.
type cut struct{ primary, remainder string }

// divide splits the stream name, which no worker has read, into pieces equal parts: name at
// 1/pieces, its remainder at 1/(pieces-1), and so on. It returns the splits made; when a call
// fails, or the service cannot split further, it stops there, and the last remainder is the
// larger.
func (c *coordinator) divide(ctx context.Context, name string, pieces int) []cut {
	var out []cut
	for n := pieces; n >= 2; n-- {
		primary, remainder, err := c.splitRPC(ctx, name, 1/float64(n))
		if err != nil || primary == "" || remainder == "" {
			c.log.Debug("divide a remainder", "stream", name, "pieces", n, "error", cmpErr(err, "the service cannot split it further"))
			break
		}
		out = append(out, cut{primary, remainder})
		name = remainder
	}
	return out
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
