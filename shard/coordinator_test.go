package shard

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/schema"
	"github.com/bqread/bqread/session"
)

// workerModeEnv makes the test binary act as a (mis)behaving worker, as os/exec's tests do.
const workerModeEnv = "SHARD_TEST_WORKER_MODE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(workerModeEnv); mode != "" {
		os.Exit(fakeWorker(mode, os.Args[1:]))
	}
	// Under -race, every process sleeps 1s at exit unless told not to: fake workers are processes.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// fakeWorker implements the worker side of the protocol in one of several ways:
//
//	ok        start, one segment of 10*(i+1) rows (reported, not written), done
//	arrow     as ok, the segment written: an Arrow file of column x = 1000*i + row
//	garbage   non-protocol lines on stdout, then as ok
//	crash1    the first process of each stream exits 3 without a result; later ones as ok
//	fatal1    stream 1 reports a fatal error; the others hang until SIGTERM
//	stubborn  stream 1 reports a fatal error; the others ignore SIGTERM and hang
func fakeWorker(mode string, args []string) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	workDir := fs.String("work-dir", "", "")
	index := fs.Int("task-index", -1, "")
	fs.Int("task-count", 0, "")
	if len(args) == 0 || args[0] != "worker" || fs.Parse(args[1:]) != nil {
		return 2
	}
	dir, i := *workDir, *index
	ev := event.NewWriter(os.Stdout)
	send := func(e event.Event) { e.Stream, e.Pid = i, os.Getpid(); ev.Send(e) }
	send(event.Event{Kind: event.Start})
	switch mode {
	case "garbage":
		fmt.Println("not json")
		fmt.Println(`{"kind":"done","stream":99,"rows":5}`)
	case "crash1":
		marker := filepath.Join(dir, fmt.Sprintf("ran-%d", i))
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			fmt.Fprintln(os.Stderr, "simulated crash")
			return 3
		}
	case "fatal1", "stubborn":
		if i == 1 {
			time.Sleep(100 * time.Millisecond)
			send(event.Event{Kind: event.Error, Class: event.Fatal, Message: "permission denied"})
			return 1
		}
		if mode == "stubborn" {
			signal.Ignore(syscall.SIGTERM)
		}
		time.Sleep(time.Hour)
	}
	rows, ext := int64(10*(i+1)), "ndjson"
	if mode == "arrow" {
		ext = "arrow"
		if err := writeArrowSegment(dir, i, rows); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	send(event.Event{Kind: event.Segment, Path: fmt.Sprintf("stream-%06d/seg.%s", i, ext), Lo: 0, Hi: rows, Rows: rows})
	send(event.Event{Kind: event.Done, Rows: rows})
	return 0
}

// writeArrowSegment commits segment [0, rows) of stream i: an Arrow body of x = 1000*i + row.
func writeArrowSegment(dir string, i int, rows int64) error {
	ctx := context.Background()
	d, err := workdir.Open(dir)
	if err != nil {
		return err
	}
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		return err
	}
	m.Output.Format = "arrow" // as liveMerger merges it
	l, err := manifestLayout(m)
	if err != nil {
		return err
	}
	p, err := d.Store().Create(ctx, workdir.StreamDir(i))
	if err != nil {
		return err
	}
	w, err := l.NewBody(p)
	if err != nil {
		return err
	}
	b := array.NewInt64Builder(memory.DefaultAllocator)
	for k := range rows {
		b.Append(int64(1000*i) + k)
	}
	rec := array.NewRecord(l.Schema, []arrow.Array{b.NewArray()}, rows)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		return err
	}
	meta, err := w.Close()
	if err != nil {
		return err
	}
	if _, err = d.CommitSegment(ctx, p, i, 0, rows, segmentExt(output.Arrow), meta); err != nil {
		return err
	}
	return d.MarkDone(ctx, i, rows)
}

// writeManifest writes a manifest of n streams into a new work dir and returns the dir.
func writeManifest(t *testing.T, n int) string {
	t.Helper()
	s := schema.Schema{{Name: "x", Type: schema.Int64}}
	rs := &storagepb.ReadSession{Name: "sessions/test", DataFormat: storagepb.DataFormat_AVRO,
		Schema: &storagepb.ReadSession_AvroSchema{AvroSchema: &storagepb.AvroSchema{Schema: schema.AvroSchema(s)}}}
	for i := range n {
		rs.Streams = append(rs.Streams, &storagepb.ReadStream{Name: "sessions/test/streams/" + strconv.Itoa(i)})
	}
	m, err := session.NewManifest(rs, session.Request{DataFormat: session.FormatAvro}, "", session.Output{Format: "ndjson"})
	if err != nil {
		t.Fatal(err)
	}
	d := newWorkDir(t)
	if err := m.Save(context.Background(), d.Store()); err != nil {
		t.Fatal(err)
	}
	return d.Path()
}

func fakeConfig(t *testing.T, mode string, streams int) Config {
	return Config{
		WorkDir:     writeManifest(t, streams),
		Parallelism: 4,
		MaxRestarts: 2,
		Launch:      LocalLauncher([]string{os.Args[0]}, []string{workerModeEnv + "=" + mode}),
		WaitDelay:   500 * time.Millisecond,
	}
}

func TestRunDistinctProcesses(t *testing.T) {
	for _, mode := range []string{"ok", "garbage"} {
		t.Run(mode, func(t *testing.T) {
			cfg := fakeConfig(t, mode, 5)
			var mu sync.Mutex
			var events []event.Event
			cfg.OnEvent = func(e event.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			pids := map[int]bool{os.Getpid(): true}
			var want int64
			for i, s := range res.Streams {
				if len(s.Pids) != 1 || pids[s.Pids[0]] {
					t.Errorf("stream %d pids %v: want one pid of its own", i, s.Pids)
				}
				pids[s.Pids[0]] = true
				if got, w := s.Rows, int64(10*(i+1)); got != w {
					t.Errorf("stream %d rows = %d, want %d", i, got, w)
				}
				if s.Segments != 1 || s.Attempts != 1 || s.Restarts != 0 {
					t.Errorf("stream %d: %+v", i, s)
				}
				want += int64(10 * (i + 1))
			}
			if res.Rows != want {
				t.Errorf("rows = %d, want %d", res.Rows, want)
			}
			if got, w := len(events), 3*5; got != w {
				t.Errorf("%d events forwarded, want %d", got, w)
			}
		})
	}
}

// liveMerger returns a Merger of cfg's work dir into dst, as if the output format were Arrow.
func liveMerger(t *testing.T, cfg Config, dst io.Writer) *Merger {
	t.Helper()
	d, err := workdir.Open(cfg.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.LoadManifest(t.Context(), d.Store())
	if err != nil {
		t.Fatal(err)
	}
	m.Output.Format = "arrow"
	mg, err := NewMerger(d, m, dst)
	if err != nil {
		t.Fatal(err)
	}
	return mg
}

// TestRunMergesWhileReading checks that Run hands each reported segment to a live Merger, and that
// the merged file holds the streams in order whatever order their segments came in.
func TestRunMergesWhileReading(t *testing.T) {
	cfg := fakeConfig(t, "arrow", 3)
	var out bytes.Buffer
	mg := liveMerger(t, cfg, &out)
	cfg.Merger = mg
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(mg.added) != 3 {
		t.Fatalf("%d segments merged while reading, want 3", len(mg.added))
	}
	want := []int64{10, 20, 30}
	if _, err := mg.Finish(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wantX []int64
	for i, n := range want {
		for k := range n {
			wantX = append(wantX, int64(1000*i)+k)
		}
	}
	if got := firstColumn(t, "arrow", out.Bytes()); !slices.Equal(got, wantX) {
		t.Errorf("merged x = %v, want %v", got, wantX)
	}
	if res.Rows != 60 {
		t.Errorf("rows = %d, want 60", res.Rows)
	}
}

// TestRunStopsWhenMergeFails: the "ok" workers report segments they never wrote, so the live
// merge fails, and Run says so.
func TestRunStopsWhenMergeFails(t *testing.T) {
	cfg := fakeConfig(t, "ok", 3)
	cfg.Merger = liveMerger(t, cfg, io.Discard)
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "merge while reading") {
		t.Errorf("Run with a failing merge = %v, want the merge's error", err)
	}
}

func TestRunRestartsCrashedWorker(t *testing.T) {
	cfg := fakeConfig(t, "crash1", 3)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range res.Streams {
		if len(s.Pids) != 2 || s.Pids[0] == s.Pids[1] || s.Restarts != 1 {
			t.Errorf("stream %d: pids %v restarts %d, want two processes and one restart", i, s.Pids, s.Restarts)
		}
	}

	cfg = fakeConfig(t, "crash1", 1)
	cfg.MaxRestarts = 0
	_, err = Run(context.Background(), cfg)
	var we *WorkerError
	if !errors.As(err, &we) || we.Class != event.Retryable {
		t.Fatalf("Run without restarts = %v, want a retryable WorkerError", err)
	}
}

func TestRunStopsOnFatal(t *testing.T) {
	for _, mode := range []string{"fatal1", "stubborn"} {
		t.Run(mode, func(t *testing.T) {
			cfg := fakeConfig(t, mode, 3)
			_, err := Run(context.Background(), cfg)
			var we *WorkerError
			if !errors.As(err, &we) || we.Class != event.Fatal || we.Stream != 1 {
				t.Fatalf("Run = %v, want the fatal error of stream 1", err)
			}
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	cfg := fakeConfig(t, "fatal1", 1) // stream 0 hangs
	ctx, cancel := context.WithCancel(context.Background())
	cfg.OnEvent = func(e event.Event) {
		if e.Kind == event.Start {
			cancel()
		}
	}
	if _, err := Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

func TestWorkerProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	cpus := runtime.NumCPU()
	for _, c := range []struct{ running, want int }{{1, cpus}, {cpus, 1}, {4 * cpus, 1}, {0, cpus}} {
		if got, want := workerProcs(c.running), []string{fmt.Sprintf("GOMAXPROCS=%d", c.want)}; !slices.Equal(got, want) {
			t.Errorf("workerProcs(%d) on %d CPUs = %q, want %q", c.running, cpus, got, want)
		}
	}
	t.Setenv("GOMAXPROCS", "3")
	if got := workerProcs(2); got != nil {
		t.Errorf("with GOMAXPROCS set: workerProcs = %q, want nothing (the user's setting stands)", got)
	}
}

// newWorkDir creates a work dir in a test's temp dir.
func newWorkDir(t *testing.T) *workdir.Dir {
	t.Helper()
	d, err := workdir.Create(filepath.Join(t.TempDir(), "work"), false)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
