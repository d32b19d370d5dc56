package main

import (
	"bytes"
	"github.com/bqread/bqread/export"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/bqread/bqread/internal/event"
)

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress("bar", &out, slog.New(slog.DiscardHandler), 3, 1000)
	p.event(event.Event{Kind: event.Start, Stream: 0})
	p.event(event.Event{Kind: event.Start, Stream: 2})
	p.event(event.Event{Kind: event.Progress, Stream: 0, Rows: 250, Bytes: 2048, Progress: 0.5})
	p.event(event.Event{Kind: event.Done, Stream: 2, Rows: 250})
	p.render()
	frame := out.String()
	for _, want := range []string{"stream 0", "250 rows", "2.0 KiB", "total 1/3", "[==========          ]", "500 rows of ~1000 (estimated)"} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame lacks %q:\n%s", want, frame)
		}
	}
	if strings.Contains(frame, "stream 2") || strings.Contains(frame, "stream 1") {
		t.Errorf("frame shows a stream that is not running:\n%s", frame)
	}
	out.Reset()
	p.render()
	if !strings.HasPrefix(out.String(), "\x1b[2A") {
		t.Errorf("second frame does not move up over the first: %q", out.String())
	}
}

func TestProgressPlain(t *testing.T) {
	var logs bytes.Buffer
	p := newProgress("auto", &bytes.Buffer{}, slog.New(slog.NewTextHandler(&logs, nil)), 2, 0)
	if p.mode != "plain" {
		t.Fatalf("auto on a non-terminal = %s, want plain", p.mode)
	}
	p.event(event.Event{Kind: event.Progress, Stream: 1, Rows: 10, Progress: 0.5})
	p.render()
	if got := logs.String(); !strings.Contains(got, "msg=progress rows=10 rows_estimated=0") || !strings.Contains(got, "streams=2") {
		t.Errorf("log record = %q", got)
	}
}

func TestReportDone(t *testing.T) {
	s := &export.Summary{Rows: 1000, Streams: 4, BytesWritten: 3 << 20, OutputFiles: []string{"trips.parquet"}, WallSeconds: 1.5}
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	reportDone("bar", &out, log, s)
	if got, want := out.String(), "exported 1000 rows from 4 streams to trips.parquet (3.0 MiB) in 1.5s\n"; got != want {
		t.Errorf("bar: %q, want %q", got, want)
	}
	reportDone("auto", &out, log, s) // not a terminal: a log record
	if l := logs.String(); !strings.Contains(l, "msg=done rows=1000 streams=4 out=trips.parquet bytes=3145728 seconds=1.5") {
		t.Errorf("plain: %q", l)
	}
	out.Reset()
	logs.Reset()
	reportDone("none", &out, log, s)
	if out.Len()+logs.Len() != 0 {
		t.Errorf("none wrote %q and %q", out.String(), logs.String())
	}
}

func TestETA(t *testing.T) {
	tests := []struct {
		fraction float64
		want     string
	}{{0, "0s"}, {0.5, "10s"}, {0.25, "30s"}, {1, "0s"}}
	for _, tt := range tests {
		if got := eta(10e9, tt.fraction).String(); got != tt.want {
			t.Errorf("eta(10s, %v) = %s, want %s", tt.fraction, got, tt.want)
		}
	}
}

// TestDevNullIsNotATerminal checks that progress on /dev/null, a character device, is not drawn
// as bars.
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || displayMode("auto", f) != "plain" {
		t.Errorf("%s is taken for a terminal", os.DevNull)
	}
}
