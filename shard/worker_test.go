package shard

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
)

const workerTestRows = 2000

// fault ends the ReadRows call it is assigned to after `after` responses: with err, or by stalling
// until the client gives up.
type fault struct {
	after int
	err   error
	stall bool
}

// faultProxy forwards the Storage Read API to an emulator and breaks ReadRows calls as scripted:
// the n-th call gets faults[n] (none once the script runs out).
type faultProxy struct {
	storagepb.UnimplementedBigQueryReadServer
	up *storage.BigQueryReadClient

	mu      sync.Mutex
	faults  []fault
	offsets []int64       // the offset of every ReadRows call
	stalled chan struct{} // if set, gets a value when a call starts stalling
}

func (p *faultProxy) CreateReadSession(ctx context.Context, req *storagepb.CreateReadSessionRequest) (*storagepb.ReadSession, error) {
	return p.up.CreateReadSession(ctx, req)
}

func (p *faultProxy) ReadRows(req *storagepb.ReadRowsRequest, srv storagepb.BigQueryRead_ReadRowsServer) error {
	p.mu.Lock()
	var f *fault
	if n := len(p.offsets); n < len(p.faults) {
		f = &p.faults[n]
	}
	p.offsets = append(p.offsets, req.GetOffset())
	p.mu.Unlock()
	stream, err := p.up.ReadRows(srv.Context(), req)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		resp, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if f != nil && n == f.after {
			if f.stall {
				if p.stalled != nil {
					p.stalled <- struct{}{}
				}
				<-srv.Context().Done()
				return srv.Context().Err()
			}
			return f.err
		}
		if err := srv.Send(resp); err != nil {
			return err
		}
	}
}

// workerEnv is an emulator with a test table, a fault proxy in front of it, and a work dir.
type workerEnv struct {
	proxy *faultProxy
	addr  string
	dir   string
	st    store.Store
	wd    *workdir.Dir
}

func newWorkerEnv(t *testing.T) *workerEnv {
	t.Helper()
	ctx := t.Context()
	data := t.TempDir()
	tdir := filepath.Join(data, "bqread-test", "ds", "t")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		t.Fatal(err)
	}
	schemaJSON := `[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"s","type":"STRING"}]`
	var rows strings.Builder
	for i := range workerTestRows {
		fmt.Fprintf(&rows, `{"id": %d, "s": "row %d"}`+"\n", i, i)
	}
	os.WriteFile(filepath.Join(tdir, "schema.json"), []byte(schemaJSON), 0o644)
	os.WriteFile(filepath.Join(tdir, "data.ndjson"), []byte(rows.String()), 0o644)

	inst, err := emulator.Start(ctx, emulator.Options{DataDir: data, ResponseBytes: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	up, err := session.NewClient(ctx, inst.GRPCAddr(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	proxy := &faultProxy{up: up}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	storagepb.RegisterBigQueryReadServer(srv, proxy)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	wd := newWorkDir(t)
	return &workerEnv{proxy: proxy, addr: ln.Addr().String(), dir: wd.Path(), st: wd.Store(), wd: wd}
}

// plan creates a session of the test table and writes its manifest.
func (e *workerEnv) plan(t *testing.T, wire, format string, streams int, segmentRows int64) *session.Manifest {
	t.Helper()
	ctx := t.Context()
	c, err := session.NewClient(ctx, e.addr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := session.Request{Table: session.TableRef{Project: "bqread-test", Dataset: "ds", Table: "t"},
		DataFormat: wire, MaxStreams: streams}
	rs, err := session.Create(ctx, c, req)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.NewManifest(rs, req, e.addr, session.Output{Format: format, SegmentRows: segmentRows})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(ctx, e.st); err != nil {
		t.Fatal(err)
	}
	return m
}

// runWorker runs stream i's worker in process and returns its events.
func (e *workerEnv) runWorker(t *testing.T, i int, opts ...WorkerOption) ([]event.Event, error) {
	t.Helper()
	var out bytes.Buffer
	opts = append([]WorkerOption{WithRetryPolicy(RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Budget: 10 * time.Second})}, opts...)
	err := RunWorker(t.Context(), e.dir, i, &out, opts...)
	return parseEvents(t, &out), err
}

// parseEvents parses a worker's event lines.
func parseEvents(t *testing.T, r io.Reader) []event.Event {
	t.Helper()
	var events []event.Event
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ev, err := event.Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("worker wrote a malformed line: %v", err)
		}
		events = append(events, ev)
	}
	return events
}

// mergeAll merges every committed segment of the work dir into dst.
func mergeAll(t *testing.T, d *workdir.Dir, m *session.Manifest, dst io.Writer) (MergeStats, error) {
	t.Helper()
	mg, err := NewMerger(d, m, dst)
	if err != nil {
		t.Fatal(err)
	}
	return mg.Finish(t.Context())
}

// mergedIDs merges the work dir and returns the id column of the result, in file order.
func (e *workerEnv) mergedIDs(t *testing.T, m *session.Manifest) []int64 {
	t.Helper()
	var buf bytes.Buffer
	if _, err := mergeAll(t, e.wd, m, &buf); err != nil {
		t.Fatal(err)
	}
	return firstColumn(t, m.Output.Format, buf.Bytes())
}

// firstColumn returns the first column, an int64 one, of a Parquet or Arrow file, in row order.
func firstColumn(t *testing.T, format string, data []byte) []int64 {
	t.Helper()
	var recs []arrow.Record
	switch format {
	case "parquet":
		tbl, err := pqarrow.ReadTable(t.Context(), bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		tr := array.NewTableReader(tbl, 0)
		defer tr.Release()
		for tr.Next() {
			tr.Record().Retain()
			recs = append(recs, tr.Record())
		}
	case "arrow":
		fr, err := ipc.NewFileReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer fr.Close()
		for i := range fr.NumRecords() {
			rec, err := fr.Record(i)
			if err != nil {
				t.Fatal(err)
			}
			rec.Retain()
			recs = append(recs, rec)
		}
	}
	var ids []int64
	for _, rec := range recs {
		ids = append(ids, rec.Column(0).(*array.Int64).Int64Values()...)
		rec.Release()
	}
	return ids
}

func rangeIDs(lo, hi int64) []int64 {
	var ids []int64
	for i := lo; i < hi; i++ {
		ids = append(ids, i)
	}
	return ids
}

func lastEvent(events []event.Event) event.Event {
	if len(events) == 0 {
		return event.Event{}
	}
	return events[len(events)-1]
}

func TestWorkerRetriesWithoutLossOrDuplicates(t *testing.T) {
	exhausted, _ := status.New(codes.ResourceExhausted, "quota").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(20 * time.Millisecond)})
	faults := []fault{
		{after: 3, err: status.Error(codes.Unavailable, "connection reset")},
		{after: 0, err: exhausted.Err()},
		{after: 5, err: status.Error(codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR")},
		{after: 2, stall: true},
		{after: 1, err: status.Error(codes.Unknown, "No status received")},
	}
	for _, tt := range []struct{ wire, format string }{{"arrow", "parquet"}, {"avro", "arrow"}, {"arrow", "arrow"}} {
		t.Run(tt.wire+"-to-"+tt.format, func(t *testing.T) {
			e := newWorkerEnv(t)
			m := e.plan(t, tt.wire, tt.format, 1, 700)
			e.proxy.faults = faults
			events, err := e.runWorker(t, 0, WithIdleTimeout(300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			done := lastEvent(events)
			if done.Kind != event.Done || done.Rows != workerTestRows || done.Retries != len(faults) || done.Attempts != len(faults)+1 {
				t.Fatalf("last event %+v, want done with %d rows after %d retries", done, workerTestRows, len(faults))
			}
			// Every call resumed where the previous one stopped.
			if got := len(e.proxy.offsets); got != len(faults)+1 {
				t.Errorf("%d ReadRows calls, want %d", got, len(faults)+1)
			}
			if !slices.IsSorted(e.proxy.offsets) || e.proxy.offsets[0] != 0 {
				t.Errorf("call offsets %v, want increasing from 0", e.proxy.offsets)
			}
			if diff := cmp.Diff(rangeIDs(0, workerTestRows), e.mergedIDs(t, m)); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
			segs, _, _ := StreamSegments(t.Context(), e.wd, 0)
			if len(segs) < 3 {
				t.Errorf("%d segments, want at least 3 of at most 700 rows", len(segs))
			}
		})
	}
}

// TestWorkerSwitchesWhileWaiting: a split commanded while the worker waits for the next response
// of a call, here one that never comes, ends that call at once: the worker reads the split's
// primary from its offset, accepts the split and reads the primary to its end; the remainder's
// worker reads the rest, and the merge holds every row once, in order. A worker that looked at
// its commands only between responses would wait for the stalled call's idle timeout, an hour.
func TestWorkerSwitchesWhileWaiting(t *testing.T) {
	e := newWorkerEnv(t)
	m := e.plan(t, "arrow", "parquet", 1, 700)
	e.proxy.faults = []fault{{after: 2, stall: true}}
	e.proxy.stalled = make(chan struct{}, 1)
	commands, control := io.Pipe()
	defer control.Close()
	k := make(chan int, 1)
	go func() {
		<-e.proxy.stalled
		resp, err := e.proxy.up.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: m.Streams[0], Fraction: 0.5})
		if err != nil || resp.GetRemainderStream().GetName() == "" {
			t.Errorf("SplitReadStream: %v %v", resp, err)
			control.Close()
			return
		}
		r := m.AddSplit(0, resp.GetPrimaryStream().GetName(), resp.GetRemainderStream().GetName())
		if err := m.Save(t.Context(), e.st); err != nil {
			t.Error(err)
		}
		k <- r
		event.SendCommand(control, event.Command{Stream: 0, Primary: resp.GetPrimaryStream().GetName(), Remainder: r})
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := RunWorker(ctx, e.dir, 0, &out, WithIdleTimeout(time.Hour), WithControl(commands)); err != nil {
		t.Fatalf("the worker did not switch to the primary while its call waited: %v", err)
	}
	if !slices.ContainsFunc(parseEvents(t, &out), func(e event.Event) bool { return e.Kind == event.Split && e.Accepted }) {
		t.Fatalf("no accepted split among the worker's events:\n%s", out.String())
	}
	if len(e.proxy.offsets) != 2 || e.proxy.offsets[1] == 0 {
		t.Errorf("ReadRows calls at offsets %v, want the stalled one at 0 and the primary's after the rows read", e.proxy.offsets)
	}
	if _, err := e.runWorker(t, <-k); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rangeIDs(0, workerTestRows), e.mergedIDs(t, m)); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
}

func TestWorkerFatalKeepsCommittedAndResumes(t *testing.T) {
	e := newWorkerEnv(t)
	m := e.plan(t, "arrow", "parquet", 2, 300)
	e.proxy.faults = []fault{{after: 10, err: status.Error(codes.PermissionDenied, "no access")}}
	events, err := e.runWorker(t, 1)
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("RunWorker = %v, want PERMISSION_DENIED", err)
	}
	if last := lastEvent(events); last.Kind != event.Error || last.Class != event.Fatal {
		t.Fatalf("last event %+v, want a fatal error", last)
	}
	if len(e.proxy.offsets) != 1 {
		t.Errorf("PERMISSION_DENIED was retried: calls at %v", e.proxy.offsets)
	}
	_, committed, err := StreamSegments(t.Context(), e.wd, 1)
	if err != nil || committed == 0 {
		t.Fatalf("committed rows %d, %v; want some segments before the fault", committed, err)
	}
	entries, _ := os.ReadDir(filepath.Join(e.dir, workdir.StreamDir(1)))
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".tmp") {
			t.Errorf("uncommitted segment %s left behind", en.Name())
		}
	}

	// A new worker resumes after the committed segments.
	events, err = e.runWorker(t, 1)
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Kind != event.Start || events[0].Offset != committed {
		t.Errorf("first event %+v, want start at offset %d", events[0], committed)
	}
	if got := e.proxy.offsets[1]; got != committed {
		t.Errorf("resumed ReadRows at offset %d, want %d", got, committed)
	}
	if _, err := e.runWorker(t, 0); err != nil {
		t.Fatal(err)
	}
	ids := e.mergedIDs(t, m)
	if diff := cmp.Diff(rangeIDs(0, workerTestRows), ids); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
}

func TestWorkerUsageErrors(t *testing.T) {
	e := newWorkerEnv(t)
	e.plan(t, "arrow", "parquet", 2, 0)
	events, err := e.runWorker(t, 5)
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("RunWorker(stream 5 of 2) = %v, want ErrUsage", err)
	}
	if last := lastEvent(events); last.Class != event.Usage {
		t.Errorf("last event %+v, want a usage error", last)
	}
	var out bytes.Buffer
	if err := RunWorker(t.Context(), t.TempDir(), 0, &out); !errors.Is(err, ErrUsage) {
		t.Errorf("RunWorker without a manifest = %v, want ErrUsage", err)
	}
}

func TestMergeChecksReportedRows(t *testing.T) {
	e := newWorkerEnv(t)
	m := e.plan(t, "arrow", "arrow", 1, 0)
	if _, err := e.runWorker(t, 0); err != nil {
		t.Fatal(err)
	}
	done := filepath.Join(e.dir, workdir.StreamDir(0), "done.json")
	data, err := os.ReadFile(done)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(done, bytes.Replace(data, []byte(strconv.Itoa(workerTestRows)), []byte(strconv.Itoa(workerTestRows+1)), 1), 0o600)
	if _, err := mergeAll(t, e.wd, m, io.Discard); !errors.Is(err, ErrTiling) {
		t.Errorf("Merge with a wrong recorded count = %v, want ErrTiling", err)
	}
	os.Remove(done)
	_, err = mergeAll(t, e.wd, m, io.Discard)
	var ie *IncompleteError
	if !errors.As(err, &ie) || len(ie.Streams) != 1 || ie.Streams[0].Rows != workerTestRows {
		t.Errorf("Merge of a stream not recorded done = %v, want an IncompleteError for stream 0 with %d rows", err, workerTestRows)
	}
}

// fullDisk fails every write after the first n bytes with ENOSPC.
type fullDisk struct{ n int }

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) <= d.n {
		d.n -= len(p)
		return len(p), nil
	}
	n := d.n
	d.n = 0
	return n, &os.PathError{Op: "write", Path: "out", Err: syscall.ENOSPC}
}

func TestMergeDiskFull(t *testing.T) {
	e := newWorkerEnv(t)
	m := e.plan(t, "arrow", "ndjson", 1, 0)
	if _, err := e.runWorker(t, 0); err != nil {
		t.Fatal(err)
	}
	for _, room := range []int{0, 100} {
		_, err := mergeAll(t, e.wd, m, &fullDisk{n: room})
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "the disk is full: free space") {
			t.Errorf("Merge onto a full disk (%d bytes free) = %v, want ENOSPC saying the disk is full and what to do", room, err)
		}
	}
}

func TestDefaultSegmentBytes(t *testing.T) {
	for format, want := range map[string]int64{"arrow": DefaultSegmentBytes, "parquet": DefaultParquetSegmentBytes, "ndjson": DefaultSegmentBytes, "csv": DefaultSegmentBytes} {
		e := newWorkerEnv(t)
		m := e.plan(t, "arrow", format, 1, 0)
		w, err := newWorker(e.wd, m, 0, event.NewWriter(io.Discard), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.m.Output.SegmentBytes; got != want {
			t.Errorf("%s output: segments of %d bytes, want %d", format, got, want)
		}
	}
}

// withStore makes the worker commit its segments through st.
func withStore(st store.Store) WorkerOption { return func(w *worker) { w.st = st } }

// fullStore is a work dir whose disk is full once room bytes of segments were written.
type fullStore struct {
	store.Store
	room *atomic.Int64
}

func (s fullStore) Create(ctx context.Context, dir string) (store.Pending, error) {
	p, err := s.Store.Create(ctx, dir)
	return fullPending{p, s.room}, err
}

type fullPending struct {
	store.Pending
	room *atomic.Int64
}

func (p fullPending) Write(b []byte) (int, error) {
	if p.room.Add(-int64(len(b))) < 0 {
		return 0, &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	return p.Pending.Write(b)
}

// TestWorkerDiskFull fills the disk part way through a stream: the worker stops with a fatal error
// that says what to do, keeps the segments it committed and leaves no partial one.
func TestWorkerDiskFull(t *testing.T) {
	e := newWorkerEnv(t)
	e.plan(t, "arrow", "ndjson", 1, 200)
	room := &atomic.Int64{}
	room.Store(40 << 10)
	events, err := e.runWorker(t, 0, withStore(fullStore{e.st, room}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("worker on a full disk: %v, want ENOSPC", err)
	}
	last := lastEvent(events)
	if last.Kind != event.Error || last.Class != event.Fatal || !strings.Contains(last.Message, "the disk is full: free space") {
		t.Errorf("last event %+v: want a fatal error saying the disk is full and what to do", last)
	}
	_, end, err := StreamSegments(t.Context(), e.wd, 0)
	if err != nil {
		t.Fatal(err)
	}
	if end == 0 || end >= workerTestRows {
		t.Errorf("segments hold rows [0, %d): want the ones committed before the disk filled", end)
	}
	files, err := filepath.Glob(filepath.Join(e.dir, workdir.StreamDir(0), "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "seg-") || strings.HasSuffix(f, ".tmp") {
			t.Errorf("%s left in the stream dir", f)
		}
	}
}

// commitFails is a work dir whose disk fills when a segment is committed (the rename or fsync).
type commitFails struct{ store.Store }

func (s commitFails) Create(ctx context.Context, dir string) (store.Pending, error) {
	p, err := s.Store.Create(ctx, dir)
	return failingCommit{p}, err
}

type failingCommit struct{ store.Pending }

func (p failingCommit) Commit(string) error {
	p.Abort()
	return &os.PathError{Op: "fsync", Path: "segment", Err: syscall.ENOSPC}
}

// TestWorkerCommitFails: a segment whose commit, in the background, fails stops the worker with a
// fatal error that says what to do, and no segment is recorded.
func TestWorkerCommitFails(t *testing.T) {
	e := newWorkerEnv(t)
	e.plan(t, "arrow", "ndjson", 1, 200)
	events, err := e.runWorker(t, 0, withStore(commitFails{e.st}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("worker whose commit fails: %v, want ENOSPC", err)
	}
	last := lastEvent(events)
	if last.Kind != event.Error || last.Class != event.Fatal || !strings.Contains(last.Message, "the disk is full: free space") {
		t.Errorf("last event %+v: want a fatal error saying the disk is full and what to do", last)
	}
	for _, ev := range events {
		if ev.Kind == event.Segment || ev.Kind == event.Done {
			t.Errorf("event %+v after a failed commit", ev)
		}
	}
	if _, end, err := StreamSegments(t.Context(), e.wd, 0); err != nil || end != 0 {
		t.Errorf("segments hold rows [0, %d) (%v): want none", end, err)
	}
}

// slowThenFull is a work dir whose first segment takes a while to commit and whose disk is full
// for every segment after it.
type slowThenFull struct {
	store.Store
	created   *atomic.Int32
	committed *atomic.Bool // the first segment's commit returned
}

func (s slowThenFull) Create(ctx context.Context, dir string) (store.Pending, error) {
	p, err := s.Store.Create(ctx, dir)
	if s.created.Add(1) > 1 {
		return fullPending{p, &atomic.Int64{}}, err
	}
	return slowCommit{p, s.committed}, err
}

type slowCommit struct {
	store.Pending
	done *atomic.Bool
}

func (p slowCommit) Commit(name string) error {
	time.Sleep(200 * time.Millisecond)
	err := p.Pending.Commit(name)
	p.done.Store(true)
	return err
}

// TestWorkerLastSegmentFails: when the stream's last segment cannot be written (here at its final
// flush) while the segment before it is still being committed in the background, the worker
// waits for that commit before it returns, so that nothing of it runs on after the worker, and
// the segment is recorded.
func TestWorkerLastSegmentFails(t *testing.T) {
	e := newWorkerEnv(t)
	e.plan(t, "arrow", "ndjson", 1, workerTestRows/2)
	committed := &atomic.Bool{}
	_, err := e.runWorker(t, 0, withStore(slowThenFull{e.st, &atomic.Int32{}, committed}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("worker whose last segment cannot be written: %v, want ENOSPC", err)
	}
	if !committed.Load() {
		t.Fatal("the worker returned while the segment before the failed one was still being committed")
	}
	if _, end, err := StreamSegments(t.Context(), e.wd, 0); err != nil || end < workerTestRows/2 || end >= workerTestRows {
		t.Errorf("segments hold rows [0, %d) (%v): want the first segment's, about %d rows", end, err, workerTestRows/2)
	}
}
