package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gax "github.com/googleapis/gax-go/v2"
	"github.com/pierrec/lz4/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/decode"
	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// ErrUsage is wrapped by worker errors caused by bad input (manifest, stream index).
var ErrUsage = errors.New("shard: bad worker input")

// DefaultIdleTimeout is how long a worker waits for the next ReadRows response before it treats the
// call as stalled and resumes it.
const DefaultIdleTimeout = 2 * time.Minute

// Segment bounds used when the manifest leaves them zero: a segment is committed at this many rows
// or wire bytes, whichever comes first. Segments are small: they are merged while the streams are
// read, so the smaller each stream's last segment, the less is left to copy after the read, and a
// segment's file is removed only once it was copied whole (Merger.WriteOnce), so the disk holds the
// one being copied twice; segment ends do not show in Arrow, Avro, CSV or NDJSON files. Streams
// end at about the same time, so what is left after the read is about one segment per stream:
// with 8 streams of 1,000,000 rows, 32 MiB segments left every stream whole to copy (README,
// Benchmarks). Parquet's row groups end where segments do, so its segments stay large.
const (
	DefaultSegmentRows         = 1 << 20
	DefaultSegmentBytes        = 8 << 20
	DefaultParquetSegmentBytes = 256 << 20
)

// progressEvery is the least time between two progress events of a worker.
const progressEvery = 250 * time.Millisecond

// WorkerOption tunes RunWorker.
type WorkerOption func(*worker)

// WithRetryPolicy sets the retry policy (default DefaultRetryPolicy).
func WithRetryPolicy(p RetryPolicy) WorkerOption { return func(w *worker) { w.backoff.p = p } }

// WithIdleTimeout sets the stall timeout (default DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) WorkerOption { return func(w *worker) { w.idle = d } }

// TaskStreams returns the streams that task task of tasks reads: task, task+tasks, task+2*tasks,
// and so on, below streams.
func TaskStreams(task, tasks, streams int) []int {
	var out []int
	for i := task; i < streams && tasks > 0 && task >= 0; i += tasks {
		out = append(out, i)
	}
	return out
}

// RunTask reads, one after another, the streams of task task of tasks (TaskStreams) of the
// session in the local work dir workDir, as RunWorker does, and stops at the first that fails.
// A task with no stream (more tasks than streams) has nothing to do.
func RunTask(ctx context.Context, workDir string, task, tasks int, out io.Writer, opts ...WorkerOption) error {
	d, m, err := openWork(ctx, workDir)
	if err != nil {
		event.NewWriter(out).Send(event.Event{Kind: event.Error, Stream: -1, Pid: os.Getpid(), Class: event.Usage, Message: err.Error()})
		return err
	}
	defer d.Close()
	if task < 0 || tasks < 1 || task >= tasks {
		err := fmt.Errorf("%w: task %d of %d: use a task index from 0 to the task count - 1", ErrUsage, task, tasks)
		event.NewWriter(out).Send(event.Event{Kind: event.Error, Stream: -1, Pid: os.Getpid(), Class: event.Usage, Message: err.Error()})
		return err
	}
	for _, i := range TaskStreams(task, tasks, taskRange(m, tasks)) {
		if err := runWorker(ctx, d, m, i, out, opts); err != nil {
			return err
		}
	}
	return nil
}

// taskRange is how many of the manifest's streams tasks tasks share: the streams of the session,
// or the first tasks of them when there are more. The remainders of splits are read by workers
// the coordinator starts for them alone, as task k of more than k tasks, which reads stream k only.
func taskRange(m *session.Manifest, tasks int) int {
	return min(len(m.Streams), max(m.Planned(), tasks))
}

// openWork opens the work dir and loads its manifest; errors wrap ErrUsage.
func openWork(ctx context.Context, workDir string) (*workdir.Dir, *session.Manifest, error) {
	d, err := workdir.Open(workDir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return d, m, nil
}

// RunWorker reads stream streamIndex of the session in the local work dir workDir from the end of
// its last committed segment to the end of the stream, commits segments there, records the stream
// done, and reports event JSON lines on out. It opens its own BigQueryReadClient. The returned
// error has also been reported as an error event.
func RunWorker(ctx context.Context, workDir string, streamIndex int, out io.Writer, opts ...WorkerOption) error {
	d, m, err := openWork(ctx, workDir)
	if err != nil {
		event.NewWriter(out).Send(event.Event{Kind: event.Error, Stream: streamIndex, Pid: os.Getpid(), Class: event.Usage, Message: err.Error()})
		return err
	}
	defer d.Close()
	return runWorker(ctx, d, m, streamIndex, out, opts)
}

func runWorker(ctx context.Context, d *workdir.Dir, m *session.Manifest, streamIndex int, out io.Writer, opts []WorkerOption) error {
	ev := event.NewWriter(out)
	w, err := newWorker(d, m, streamIndex, ev, opts)
	if err == nil {
		err = w.run(ctx)
	}
	if err != nil {
		ev.Send(event.Event{Kind: event.Error, Stream: streamIndex, Pid: os.Getpid(), Class: classify(ctx, err), Code: grpcCode(err), Message: err.Error()})
	}
	return err
}

// classify tells the coordinator whether running the worker again may help.
func classify(ctx context.Context, err error) event.Class {
	switch ok, _ := transient(err); {
	case errors.Is(err, ErrUsage):
		return event.Usage
	case errors.Is(err, ErrSessionExpired), expired(err):
		return event.Expired
	case ok, ctx.Err() != nil:
		return event.Retryable
	}
	if st, ok := status.FromError(err); ok && (st.Code() == codes.Canceled || st.Code() == codes.DeadlineExceeded) {
		return event.Retryable
	}
	return event.Fatal
}

// grpcCode returns the name of the gRPC code in err's chain, "" when there is none.
func grpcCode(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Code().String()
	}
	return ""
}

// worker is the state of one stream's reader.
type worker struct {
	dir    *workdir.Dir
	st     store.Store // where segments are written: dir's store
	m      *session.Manifest
	index  int
	ev     *event.Writer
	format output.Format
	layout *output.Layout
	dec    decode.Decoder // nil when payloads pass through
	// recv, when payloads pass through (each copied into the segment before the next is
	// received), is the one buffer every response is received into.
	recv []gax.CallOption

	idle    time.Duration
	backoff backoff

	offset   int64 // rows received: committed plus in the open segment
	bytes    int64 // wire bytes received by this process
	progress float64
	attempts int
	lastSent time.Time
	seg      *segment   // the open segment, nil between segments
	commits  chan error // the result of the segment being committed in the background, nil if none

	name      string               // the stream name read: the stream's, or the primary of its last accepted split
	pending   *session.Split       // a split of the stream not decided yet: the next call reads its primary
	decided   map[int]bool         // remainders of the splits this process decided
	control   <-chan event.Command // the coordinator's commands (WithControl); nil reads none
	commanded <-chan struct{}      // notes that a command came (WithControl)
}

// writerOptions are the options that every segment of the manifest's output o is written with.
func writerOptions(o session.Output) output.Options {
	return output.Options{Compression: o.Compression, FieldDelimiter: o.FieldDelimiter, NoHeader: o.NoHeader, NullMarker: o.NullMarker}
}

// segmentStore is where a worker writes its segments: the work dir's store, or, for a worker a
// local coordinator started (WorkerEnv) on a local work dir, the same directory without fsync
// (store.Dir.Volatile). That coordinator, on this machine, copies each segment into the output as
// it comes and makes the output durable; a segment it has not merged yet survives the end of any
// process, and one a power loss took is read again (workdir.Dir.DropLost). Workers a scheduler
// runs (bqread worker on a cluster) make every segment durable: the merge may come much later.
func segmentStore(dir *workdir.Dir) store.Store {
	if d, ok := dir.Store().(*store.Dir); ok && os.Getenv(WorkerEnv) == "1" {
		return d.Volatile()
	}
	return dir.Store()
}

// newWorker makes the reader of stream i; m is its own copy of the manifest.
func newWorker(dir *workdir.Dir, shared *session.Manifest, i int, ev *event.Writer, opts []WorkerOption) (*worker, error) {
	m := *shared
	if i < 0 || i >= len(m.Streams) {
		return nil, fmt.Errorf("%w: stream index %d: the session has %d streams (0 to %d)", ErrUsage, i, len(m.Streams), len(m.Streams)-1)
	}
	f, err := output.ParseFormat(m.Output.Format)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	w := &worker{dir: dir, st: segmentStore(dir), m: &m, index: i, ev: ev, format: f,
		idle: DefaultIdleTimeout, backoff: backoff{p: DefaultRetryPolicy}}
	if m.StallTimeout > 0 {
		w.idle = m.StallTimeout
	}
	if m.Output.SegmentRows <= 0 {
		m.Output.SegmentRows = DefaultSegmentRows
	}
	switch {
	case m.Output.SegmentBytes > 0:
	case f == output.Parquet:
		m.Output.SegmentBytes = DefaultParquetSegmentBytes
	default:
		m.Output.SegmentBytes = DefaultSegmentBytes
	}
	for _, o := range opts {
		o(w)
	}
	if !passthrough(&m, f) {
		if w.dec, err = newDecoder(&m); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	// Each payload is written (copied, or decoded and the record released) before the next Recv.
	w.recv = []gax.CallOption{(&session.RowsBuffer{}).CallOption()}
	if w.layout, err = newLayout(&m, f, w.dec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return w, nil
}

// newDecoder returns the decoder of the manifest's wire format.
func newDecoder(m *session.Manifest) (decode.Decoder, error) {
	if m.DataFormat == session.FormatAvro {
		return decode.NewAvro(m.AvroSchema, memory.DefaultAllocator)
	}
	return decode.NewArrow(m.ArrowSchema, memory.DefaultAllocator)
}

// passthrough reports whether wire payloads are copied into the segments of m's output in format
// f without decoding: when the wire format is the output format, and no row limit may cut a
// payload.
func passthrough(m *session.Manifest, f output.Format) bool {
	return m.Limit == 0 && ((m.DataFormat == session.FormatArrow && f == output.Arrow) ||
		(m.DataFormat == session.FormatAvro && f == output.Avro))
}

// errLimit ends a ReadRows call once the manifest's row limit is reached.
var errLimit = errors.New("shard: row limit reached")

func (w *worker) send(e event.Event) error {
	e.Stream, e.Pid = w.index, os.Getpid()
	return w.ev.Send(e)
}

func (w *worker) run(ctx context.Context) error {
	if t := w.m.ExpireTime; !t.IsZero() && !time.Now().Before(t) {
		return fmt.Errorf("%w at %s", ErrSessionExpired, t.UTC().Format(time.RFC3339))
	}
	_, end, err := StreamSegments(ctx, w.dir, w.index)
	if err != nil {
		return err
	}
	w.offset = end
	if err := w.resolveName(ctx); err != nil {
		return err
	}
	if err := w.send(event.Event{Kind: event.Start, Offset: end}); err != nil {
		return err
	}
	client, err := session.NewClient(ctx, w.m.Endpoint, w.m.Plaintext)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := w.readAll(ctx, client); err != nil && !errors.Is(err, errLimit) {
		w.abandon()
		return fmt.Errorf("read stream %d at offset %d: %w", w.index, w.offset, err)
	}
	if err := w.commit(ctx); err != nil {
		return err
	}
	if err := w.committed(); err != nil {
		return err
	}
	if err := w.dir.MarkDone(ctx, w.index, w.offset); err != nil {
		return err
	}
	return w.send(event.Event{Kind: event.Done, Rows: w.offset, Bytes: w.bytes, Progress: 1,
		Attempts: w.attempts, Retries: w.attempts - 1})
}

// readAll calls ReadRows until the stream ends, resuming at the current offset after transient
// errors.
func (w *worker) readAll(ctx context.Context, client *storage.BigQueryReadClient) error {
	for {
		w.attempts++
		err := w.readOnce(ctx, client)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, errSwitch) {
			continue
		}
		delay, ok := w.backoff.next(err, time.Now())
		if !ok {
			return err
		}
		w.send(event.Event{Kind: event.Retry, Offset: w.offset, Retries: w.attempts, Message: err.Error()})
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readOnce makes one ReadRows call at the current offset and consumes its responses. A response
// not followed by another within the idle timeout cancels the call with errStalled. The first
// answer of a call of a pending split's primary decides the split (decide); a split commanded
// while the call runs ends it with errSwitch.
func (w *worker) readOnce(ctx context.Context, client *storage.BigQueryReadClient) error {
	if err := w.command(); err != nil {
		return err
	}
	callCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(w.idle, func() { cancel(errStalled) })
	defer timer.Stop()
	w.interruptOnCommand(callCtx, cancel)
	stream, err := client.ReadRows(callCtx, &storagepb.ReadRowsRequest{ReadStream: w.readName(), Offset: w.offset}, w.recv...)
	if err != nil {
		return callErr(callCtx, err)
	}
	for {
		resp, err := stream.Recv()
		if w.pending != nil {
			if derr := w.decide(ctx, err); derr != nil {
				return callErr(callCtx, derr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return callErr(callCtx, err)
		}
		timer.Stop()
		w.backoff.reset()
		if err := w.consume(ctx, resp); err != nil {
			return err
		}
		if err := w.command(); err != nil {
			return err
		}
		timer.Reset(w.idle)
	}
}

// callErr returns errStalled for a call the idle timer cancelled, errSwitch for one a command
// ended, else err.
func callErr(callCtx context.Context, err error) error {
	switch cause := context.Cause(callCtx); {
	case errors.Is(cause, errStalled):
		return fmt.Errorf("%w (%v)", errStalled, err)
	case errors.Is(cause, errSwitch):
		return errSwitch
	}
	return err
}

// consume writes one response's rows into the open segment, committing it when full.
func (w *worker) consume(ctx context.Context, resp *storagepb.ReadRowsResponse) error {
	payload, rows, wire, err := responsePayload(resp)
	if err != nil {
		return err
	}
	w.bytes += int64(wire)
	w.progress = resp.GetStats().GetProgress().GetAtResponseEnd()
	if rows > 0 {
		if err := w.write(ctx, payload, rows); err != nil {
			return err
		}
	}
	if time.Since(w.lastSent) >= progressEvery {
		w.lastSent = time.Now()
		return w.send(event.Event{Kind: event.Progress, Rows: w.offset, Bytes: w.bytes, Progress: w.progress})
	}
	return nil
}

// responsePayload returns a response's rows payload and row count, falling back to the
// deprecated per-format counts, and the payload's size on the wire. A payload the session's
// response_compression_codec compressed (uncompressed_byte_size > 0) is returned decompressed;
// one sent as is (-1, or unset) unchanged.
func responsePayload(resp *storagepb.ReadRowsResponse) (payload []byte, rows int64, wire int, err error) {
	if b := resp.GetArrowRecordBatch(); b != nil {
		payload, rows = b.GetSerializedRecordBatch(), cmpOr(resp.GetRowCount(), b.GetRowCount())
	} else {
		r := resp.GetAvroRows()
		payload, rows = r.GetSerializedBinaryRows(), cmpOr(resp.GetRowCount(), r.GetRowCount())
	}
	wire = len(payload)
	size := resp.GetUncompressedByteSize()
	if size <= 0 {
		return payload, rows, wire, nil
	}
	if size > maxPayload {
		return nil, 0, 0, fmt.Errorf("%w: uncompressed_byte_size %d is more than a response can hold", errPayload, size)
	}
	out := make([]byte, size)
	n, err := lz4.UncompressBlock(payload, out)
	if err != nil || int64(n) != size {
		return nil, 0, 0, fmt.Errorf("%w: LZ4 block of %d bytes gave %d of %d bytes (%v)", errPayload, wire, n, size, err)
	}
	return out, rows, wire, nil
}

// maxPayload bounds uncompressed_byte_size before it is allocated: far above the 128 MB a
// response holds, it only guards against a corrupt size.
const maxPayload = 1 << 30

// errPayload is wrapped by errors for a response payload that cannot be decompressed.
var errPayload = errors.New("shard: corrupt response payload")

func cmpOr(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

// write writes a payload's rows into the open segment (the first of them, up to the manifest's
// row limit), committing it when full, and returns errLimit once the limit is reached.
func (w *worker) write(ctx context.Context, payload []byte, rows int64) error {
	keep := rows
	if lim := w.m.Limit; lim > 0 {
		keep = max(0, min(rows, lim-w.offset))
	}
	if keep > 0 {
		if err := w.writeRows(ctx, payload, rows, keep); err != nil {
			return err
		}
	}
	if lim := w.m.Limit; lim > 0 && w.offset >= lim {
		return errLimit
	}
	return nil
}

func (w *worker) writeRows(ctx context.Context, payload []byte, rows, keep int64) error {
	if w.seg == nil {
		if err := w.open(ctx); err != nil {
			return err
		}
	}
	before := w.seg.sink.size()
	if err := w.seg.sink.write(payload, rows, keep); err != nil {
		return diskFull(fmt.Errorf("write rows %d to %d: %w", w.offset, w.offset+keep, err))
	}
	w.offset += keep
	w.seg.rows += keep
	w.seg.wire += int64(len(payload))
	if w.seg.rows >= w.m.Output.SegmentRows || w.seg.wire >= w.m.Output.SegmentBytes || w.full(before) {
		return w.commit(ctx)
	}
	return nil
}

// full reports whether the open segment, whose body had before bytes ahead of the last payload,
// has no room for another payload as large under the manifest's MaxBytes.
func (w *worker) full(before int64) bool {
	lim := w.m.Output.MaxBytes
	if lim <= 0 {
		return false
	}
	size := w.seg.sink.size()
	return size+(size-before) > lim
}
