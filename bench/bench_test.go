package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bqread/bqread/emulator"
)

// TestMain lets the test binary serve as the bench's peer and limit child processes.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole harness on a tiny table and checks that it reports every measurement
// with all rows read; it says nothing about speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bqread and runs every client against the emulator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, err := parseFlags([]string{"--rows", "2000", "--streams-list", "1,2", "--formats", "parquet",
		"--wire", "arrow", "--scale", "2", "--scale-streams", "2", "--stream-bandwidth", "0",
		"--emulator-cache", "64MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.log = io.Discard
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Per stream count: the limit, the peer, bqread; then the memory phase's two exports and the
	// straggler phase's three.
	if got, want := len(rep.Results), 2*3+2+3; got != want {
		t.Fatalf("results = %d, want %d: %+v", got, want, rep.Results)
	}
	for _, r := range rep.Results {
		if r.Rows != r.TableRows || r.Rows == 0 || r.RowsPerSec <= 0 || r.WireBytes <= 0 || r.Granted < 1 {
			t.Errorf("%s %s %s streams %d: rows %d of %d, %f rows/s, %d wire bytes, %d streams granted",
				r.Phase, r.Client, r.caseName(), r.Streams, r.Rows, r.TableRows, r.RowsPerSec, r.WireBytes, r.Granted)
		}
		if r.Client == clientBqread && r.Phase != phaseStraggle && len(r.WorkerRSS) != r.Granted {
			t.Errorf("%s bqread streams %d: %d worker RSS values, want %d", r.Phase, r.Streams, len(r.WorkerRSS), r.Granted)
		}
	}
	var text bytes.Buffer
	if err := rep.print(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rows/s", "×peer", "×limit", targetPeer, targetLimit, targetLinear, targetAvro, targetMemory, targetStraggle} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("printed report lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not read back: %v", err)
	}
	if got, want := len(back.Results), len(rep.Results); got != want {
		t.Errorf("JSON results = %d, want %d", got, want)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"25MiB/s", 25 << 20},
		{"10MB/s", 10_000_000},
		{"4GiB", 4 << 30},
		{"1048576", 1 << 20},
		{"0", 0},
		{"1.5KiB", 1536},
		{"4G", 4_000_000_000},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"fast", "-1MiB", "MiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded, want an error", bad)
		}
	}
}

// TestWriteLimit runs the write limit and the durable floor in-process and checks that each
// stream's file holds its payloads: the files' sizes add up to the payload bytes received.
func TestWriteLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	tab, err := writeTable(filepath.Join(dir, "data"), 3000)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := emulator.Start(ctx, emulator.Options{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	b := &bench{dir: dir}
	for _, fsync := range []bool{false, true} {
		j := b.job(inst, tab, "arrow", 2)
		j.Out, j.Fsync = filepath.Join(dir, fmt.Sprintf("out-%v", fsync)), fsync
		res, err := runLimit(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		var written int64
		for i := range res.Streams {
			fi, err := os.Stat(fmt.Sprintf("%s.%d", j.Out, i))
			if err != nil {
				t.Fatal(err)
			}
			written += fi.Size()
		}
		if res.Rows != tab.rows || res.Bytes == 0 || written != res.Bytes {
			t.Errorf("fsync %v: %d rows of %d, %d payload bytes, %d bytes in the files", fsync, res.Rows, tab.rows, res.Bytes, written)
		}
	}
}
