package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/event"
)

// Refresh intervals of the two progress displays.
const (
	barEvery   = 200 * time.Millisecond
	plainEvery = 5 * time.Second
)

// progress renders worker events: bars redrawn in place on a terminal, or a log record every few
// seconds otherwise. Its methods are safe for concurrent use.
type progress struct {
	mode    string // bar, plain or none
	w       io.Writer
	log     *slog.Logger
	estRows int64
	begin   time.Time
	every   time.Duration // between two log records in plain mode (default plainEvery)
	note    string        // why the read is as it is (one stream for an ordered query), if it needs saying

	mu      sync.Mutex
	streams []streamState
	drawn   int // lines drawn by the last bar frame
	done    chan struct{}
	wg      sync.WaitGroup
}

type streamState struct {
	running, finished bool
	rows, bytes       int64
	fraction          float64
}

// newProgress returns a display in mode (auto picks bar when w is a terminal).
func newProgress(mode string, w io.Writer, log *slog.Logger, streams int, estRows int64) *progress {
	return &progress{mode: displayMode(mode, w), w: w, log: log, estRows: estRows, begin: time.Now(),
		streams: make([]streamState, streams), done: make(chan struct{})}
}

// displayMode resolves auto: bar on a terminal, plain otherwise.
func displayMode(mode string, w io.Writer) string {
	switch {
	case mode != "auto":
		return mode
	case isTerminal(w):
		return "bar"
	}
	return "plain"
}

// reportDone says what a successful export wrote: a line on a terminal (bar), a log record
// (plain), nothing with none.
func reportDone(mode string, w io.Writer, log *slog.Logger, s *export.Summary) {
	out := strings.Join(s.OutputFiles, ", ")
	if out == "-" {
		out = "stdout"
	}
	elapsed := time.Duration(s.WallSeconds * float64(time.Second)).Round(time.Millisecond)
	switch displayMode(mode, w) {
	case "bar":
		fmt.Fprintf(w, "exported %d rows from %d streams to %s (%s) in %s\n", s.Rows, s.Streams, out, size(s.BytesWritten), elapsed)
	case "plain":
		log.Info("done", "rows", s.Rows, "streams", s.Streams, "out", out, "bytes", s.BytesWritten, "seconds", elapsed.Seconds())
	}
}

// isTerminal reports whether w is a terminal (golang.org/x/term: /dev/null, a character device,
// is not one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// event records one worker event.
func (p *progress) event(e event.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Stream < 0 || e.Stream >= len(p.streams) {
		return
	}
	s := &p.streams[e.Stream]
	switch e.Kind {
	case event.Start:
		s.running = true
	case event.Progress, event.Segment:
		s.rows, s.bytes, s.fraction = e.Rows, e.Bytes, e.Progress
	case event.Done:
		s.rows, s.fraction, s.running, s.finished = e.Rows, 1, false, true
	case event.Error:
		s.running = false
	case event.Retry:
		p.log.Warn("retrying", "stream", e.Stream, "offset", e.Offset, "error", e.Message)
	}
}

// start begins periodic rendering until stop.
func (p *progress) start(ctx context.Context) {
	every := cmp.Or(p.every, plainEvery)
	switch p.mode {
	case "none":
		return
	case "bar":
		every = barEvery
	}
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.render()
			case <-p.done:
				p.render()
				return
			case <-ctx.Done():
				return
			}
		}
	})
}

// stop renders a last frame and ends rendering.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

// totals sums the streams: rows, bytes, finished streams, and the fraction done.
func (p *progress) totals() (rows, bytes int64, finished int, fraction float64) {
	for _, s := range p.streams {
		rows += s.rows
		bytes += s.bytes
		fraction += s.fraction
		if s.finished {
			finished++
		}
	}
	switch {
	case p.estRows > 0:
		fraction = min(float64(rows)/float64(p.estRows), 1)
	case len(p.streams) > 0:
		fraction /= float64(len(p.streams))
	}
	return rows, bytes, finished, fraction
}

func (p *progress) render() {
	p.mu.Lock()
	defer p.mu.Unlock()
	rows, bytes, finished, fraction := p.totals()
	elapsed := time.Since(p.begin)
	rate := float64(rows) / max(elapsed.Seconds(), 1e-3)
	if p.mode == "plain" {
		attrs := []any{"rows", rows, "rows_estimated", p.estRows, "bytes", bytes, "streams_done", finished,
			"streams", len(p.streams), "rows_per_s", int64(rate), "eta", eta(elapsed, fraction).String()}
		if p.note != "" {
			attrs = append(attrs, "note", p.note)
		}
		p.log.Info("progress", attrs...)
		return
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	lines := 0
	for i, s := range p.streams {
		if s.running {
			fmt.Fprintf(&b, "\x1b[2K  stream %-4d %s %12d rows %10s\n", i, bar(s.fraction, 20), s.rows, size(s.bytes))
			lines++
		}
	}
	fmt.Fprintf(&b, "\x1b[2K  total %d/%d %s %12d rows%s %10s %10.0f rows/s  ETA %s", finished, len(p.streams),
		bar(fraction, 20), rows, p.estimate(), size(bytes), rate, eta(elapsed, fraction))
	if p.note != "" {
		fmt.Fprintf(&b, "  (%s)", p.note)
	}
	b.WriteString("\n")
	lines++
	for ; lines < p.drawn; lines++ {
		b.WriteString("\x1b[2K\n")
	}
	p.drawn = lines
	io.WriteString(p.w, b.String())
}

// estimate says how many rows the server estimated the session reads: the total is an
// estimate, not a count.
func (p *progress) estimate() string {
	if p.estRows <= 0 {
		return ""
	}
	return fmt.Sprintf(" of ~%d (estimated)", p.estRows)
}

func bar(f float64, width int) string {
	n := int(f*float64(width) + 0.5)
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

func eta(elapsed time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || fraction >= 1 {
		return 0
	}
	return (time.Duration(float64(elapsed) * (1 - fraction) / fraction)).Round(time.Second)
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
