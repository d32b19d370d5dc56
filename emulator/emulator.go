package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of Options.
const (
	DefaultResponseBytes = 4 << 20
	DefaultCacheBytes    = 256 << 20
	// DefaultMaxConcurrentReads is the real service's concurrent ReadRows quota in the US and EU
	// multi-regions (400 elsewhere).
	DefaultMaxConcurrentReads = 2000
	defaultAddr               = "127.0.0.1:0"
	// maxResponse is the real service's limit on one ReadRows response.
	maxResponse = 128 << 20
	// maxMessage leaves room above maxResponse for the response's other fields.
	maxMessage = 130 << 20
)

// Options configure an emulator instance.
type Options struct {
	// DataDir holds extra tables as <dir>/<project>/<dataset>/<table>/schema.json plus data.ndjson
	// or synthetic.json, and optionally table.json ({"type": "VIEW", "view": {"query": "..."}}: a
	// view, materialized view or external table, which needs no data and CreateReadSession refuses
	// as the real service does). The built-in samples (project bqread-demo, dataset samples) are
	// always served.
	DataDir string
	// GRPCAddr and HTTPAddr are the listen addresses; empty means 127.0.0.1:0 (a free port).
	GRPCAddr, HTTPAddr string
	// ResponseBytes is the target size of one ReadRows response's encoded payload (default 4 MiB,
	// at most 128 MiB as on the real service).
	ResponseBytes int
	// Faults make ReadRows fail like the real service does, once per stream each (see Fault).
	Faults []Fault
	// StreamBandwidth limits each stream to that many payload bytes per second; 0 = unlimited.
	StreamBandwidth int64
	// Latency is added before every ReadRows response.
	Latency time.Duration
	// CacheBytes bounds the cache of encoded payloads (default 256 MiB).
	CacheBytes int64
	// MaxConcurrentReads is how many ReadRows calls are served at once per billing project (the
	// project of the session's parent; default DefaultMaxConcurrentReads, the real service's quota
	// in the US and EU multi-regions). One more fails with RESOURCE_EXHAUSTED "Concurrent stream
	// usage exceeded" and a RetryInfo, as the real service's does.
	MaxConcurrentReads int
	// MaxConcurrentReadsPerSession is how many ReadRows calls of one session are served at once;
	// 0 (the default) means no limit. The real service refuses a session whose parallelism it
	// deems excessive with a RESOURCE_EXHAUSTED carrying a RetryInfo, but publishes neither the
	// limit nor the message: this option stands in for it, with the emulator's own words.
	MaxConcurrentReadsPerSession int
	// JobRunTime is how long a query job stays RUNNING before it is DONE, so that clients poll and
	// can cancel it; 0 means DefaultJobRunTime, a negative value that jobs are DONE when created.
	JobRunTime time.Duration
	// JobPendingTime is how long a query job is PENDING (queued, not started) before it is
	// RUNNING, as BigQuery's jobs may be; 0 (the default) starts jobs at once. It does not apply
	// when JobRunTime is negative.
	JobPendingTime time.Duration
	// JobFaults make the query jobs that read a table fail as BigQuery's do (see JobFault).
	JobFaults []JobFault
	// StreamAllocation is how a session's rows are handed to its streams: AllocationFixed (the
	// default, as the service does) gives each stream fixed ranges of whole blocks of the unfiltered
	// table when the session is created, so that a row restriction leaves streams lopsided or empty;
	// AllocationLiquid hands the next block to whichever stream asks first. Either way a table gets
	// at most one stream per block of 128 rows, a stream's offsets count its rows after the row
	// restriction, and SplitReadStream splits at block boundaries.
	StreamAllocation string
	// Now is the clock, for tests that expire sessions; nil means time.Now.
	Now func() time.Time
	// Logger receives recovered panics and serving errors; nil means slog.Default().
	Logger *slog.Logger
}

// Instance is a running emulator. Close stops it.
type Instance struct {
	grpcLn, httpLn net.Listener
	grpc           *grpc.Server
	http           *http.Server
	catalog        *catalog
	jobs           *jobStore
	stop           func() bool
	closeOnce      sync.Once
	closeErr       error
}

// Start serves the Storage Read gRPC API and the BigQuery REST subset until Close is called or ctx
// is cancelled.
func Start(ctx context.Context, o Options) (*Instance, error) {
	o = o.withDefaults()
	for _, f := range o.Faults {
		if _, err := ParseFault(f.Kind); err != nil || f.AfterRows < 0 {
			return nil, fmt.Errorf("fault %+v: use a kind of %v and a non-negative AfterRows", f, FaultKinds)
		}
	}
	if !slices.Contains(StreamAllocations, o.StreamAllocation) {
		return nil, fmt.Errorf("stream allocation %q: use one of %s", o.StreamAllocation, strings.Join(StreamAllocations, ", "))
	}
	cat, err := newCatalog(o.DataDir, o.Now, o.Logger)
	if err != nil {
		return nil, err
	}
	jobs, err := newJobStore(cat, o)
	if err != nil {
		cat.close()
		return nil, err
	}
	inst := &Instance{catalog: cat, jobs: jobs}
	if inst.grpcLn, err = net.Listen("tcp", o.GRPCAddr); err != nil {
		cat.close()
		return nil, fmt.Errorf("listen for gRPC on %s: %w", o.GRPCAddr, err)
	}
	if inst.httpLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		inst.grpcLn.Close()
		cat.close()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", o.HTTPAddr, err)
	}
	rs := &readServer{
		catalog:       cat,
		cache:         newPayloadCache(o.CacheBytes),
		responseBytes: o.ResponseBytes,
		now:           o.Now,
		faults:        newFaultState(o.Faults),
		shaper:        newShaper(o.StreamBandwidth, o.Latency),
		quota:         newReadQuota(o.MaxConcurrentReads, o.MaxConcurrentReadsPerSession),
		allocation:    o.StreamAllocation,
		streams:       map[string]*readStream{},
	}
	inst.grpc = grpc.NewServer(
		grpc.MaxSendMsgSize(maxMessage),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.ChainUnaryInterceptor(recoverUnary(o.Logger), routingUnary),
		grpc.ChainStreamInterceptor(recoverStream(o.Logger), routingStream),
	)
	storagepb.RegisterBigQueryReadServer(inst.grpc, rs)
	inst.http = &http.Server{Handler: newRESTHandler(cat, jobs), ReadHeaderTimeout: 10 * time.Second}
	go inst.grpc.Serve(inst.grpcLn)
	go func() {
		if err := inst.http.Serve(inst.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("emulator: HTTP server stopped", "err", err)
		}
	}()
	inst.stop = context.AfterFunc(ctx, func() { inst.Close() })
	return inst, nil
}

func (o Options) withDefaults() Options {
	if o.GRPCAddr == "" {
		o.GRPCAddr = defaultAddr
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = defaultAddr
	}
	if o.ResponseBytes <= 0 {
		o.ResponseBytes = DefaultResponseBytes
	}
	o.ResponseBytes = min(o.ResponseBytes, maxResponse)
	if o.CacheBytes <= 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.MaxConcurrentReads <= 0 {
		o.MaxConcurrentReads = DefaultMaxConcurrentReads
	}
	if o.JobRunTime == 0 {
		o.JobRunTime = DefaultJobRunTime
	}
	if o.StreamAllocation == "" {
		o.StreamAllocation = AllocationFixed
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// GRPCAddr returns the host:port the Storage Read API listens on.
func (i *Instance) GRPCAddr() string { return i.grpcLn.Addr().String() }

// HTTPAddr returns the host:port the REST API listens on; its base URL is
// http://HTTPAddr()/bigquery/v2/.
func (i *Instance) HTTPAddr() string { return i.httpLn.Addr().String() }

// Close stops serving: open ReadRows calls are cancelled after a short grace period. It is
// idempotent and safe to call from several goroutines.
func (i *Instance) Close() error {
	i.closeOnce.Do(func() {
		i.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			i.grpc.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			i.grpc.Stop()
		}
		i.jobs.close()
		i.closeErr = errors.Join(i.http.Shutdown(ctx), i.catalog.close())
	})
	return i.closeErr
}

// recoverUnary turns a panic in a unary handler into an INTERNAL error; the server keeps serving.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = panicError(log, info.FullMethod, p)
			}
		}()
		return h(ctx, req)
	}
}

// recoverStream turns a panic in a streaming handler into an INTERNAL error.
func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = panicError(log, info.FullMethod, p)
			}
		}()
		return h(srv, ss)
	}
}

func panicError(log *slog.Logger, method string, p any) error {
	log.Error("emulator: recovered panic", "method", method, "panic", p, "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "emulator: internal error in %s: %v", method, p)
}
