package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/bytesize"
)

type serveOptions struct {
	addr            string
	httpAddr        string
	dataDir         string
	responseBytes   int
	faults          []string
	bandwidth       string
	cacheSize       string
	latency         time.Duration
	maxReads        int
	maxSessionReads int
	jobRunTime      time.Duration
	jobPendingTime  time.Duration
	jobFaults       []string
	allocation      string

	stdout io.Writer
}

func newServeCmd(s streams) *cobra.Command {
	opts := &serveOptions{stdout: s.out}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the local Storage Read emulator",
		Long: `serve runs the local BigQuery Storage Read server: the gRPC Storage Read API
(CreateReadSession, ReadRows, SplitReadStream) and, under /bigquery/v2/, the REST calls
datasets.get, datasets.list, tables.get, tables.list, tabledata.list and the query jobs' jobs.insert,
jobs.get, jobs.getQueryResults, jobs.query and jobs.cancel, so that bqread and the official clients
read its tables and query results. Queries are GoogleSQL SELECTs over one table (columns, *,
* EXCEPT, STRUCT fields, aliases, WHERE, ORDER BY, LIMIT; see the README); anything else is refused
with invalidQuery "not supported by the emulator: ...". A job is PENDING for --job-pending-time (default
none), then RUNNING for --job-run-time before it is DONE; --job-fault REASON@PROJECT.DATASET.TABLE (repeatable) makes the jobs that read that
table fail with accessDenied or quotaExceeded, as BigQuery words them. It always serves the sample
tables of project bqread-demo, dataset samples (all_types, trips, empty); --data adds tables laid out
as DIR/PROJECT/DATASET/TABLE/schema.json plus data.ndjson (BigQuery's JSON load form) or
synthetic.json ({"rows": N, "seed": S}, N at most 10^12), and optionally table.json ({"type":
"VIEW"|"MATERIALIZED_VIEW"|"EXTERNAL"}: CreateReadSession refuses those, as BigQuery does).

Faults and shaping, for testing clients: --fault KIND@ROWS (repeatable) makes each stream's
ReadRows fail once, after that stream has sent at least ROWS rows (counted across calls), the way the
real service fails. KIND is one of:
  unavailable         UNAVAILABLE (retryable)
  rst_stream          INTERNAL "RST_STREAM" (retryable)
  eos                 INTERNAL "Received unexpected EOS on DATA frame" (retryable)
  resource_exhausted  RESOURCE_EXHAUSTED with google.rpc.RetryInfo (retry after the delay)
  stall               stop sending until the client gives up
  deadline            DEADLINE_EXCEEDED
  expired             FAILED_PRECONDITION "session expired" (not retryable)
--stream-bandwidth caps each stream (25MiB/s, 500KB/s, 1000000) and --latency delays each response.
--max-concurrent-streams is the quota of ReadRows calls served at once per billing project (the
real service's is 2,000 in the US and EU multi-regions, 400 elsewhere); a call over it gets
RESOURCE_EXHAUSTED "Concurrent stream usage exceeded" with a RetryInfo.
--max-concurrent-streams-per-session limits one session's ReadRows calls at once (0, the default:
no limit), standing in for the service's unpublished limit on a session's parallelism: a call over
it gets RESOURCE_EXHAUSTED with a RetryInfo.
--stream-allocation says how a session's rows go to its streams, in blocks of 128 rows of the
unfiltered table (a table gets at most one stream per block): fixed (the default, as the service
does) gives each stream fixed ranges of blocks when the session is created, so a --where filter,
applied as rows are read, leaves streams lopsided or empty; liquid hands the next block to
whichever stream asks first, and a stream ends when none is left. Either way a stream's offsets
count its rows after the filter, and SplitReadStream splits at block boundaries.
Every call must carry the x-goog-request-params routing header, as Google's clients send it
(read_session.table=..., read_stream=..., name=...); one without it gets INVALID_ARGUMENT "Request
is missing 'x-goog-request-params' header.", as from the real service.

The first line on stdout is "listening on HOST:PORT" (gRPC), the second "http on HOST:PORT". It
serves until SIGINT or SIGTERM and then exits 0.

` + serveExitCodesHelp,
		Example: `  bqread serve
  bqread serve --addr 127.0.0.1:9060 --http-addr 127.0.0.1:9050 --data ./tables
  bqread serve --stream-allocation liquid
  bqread serve --fault unavailable@100000 --fault rst_stream@300000 --stream-bandwidth 25MiB/s --latency 5ms
  bqread export bqread-demo.samples.trips --endpoint 127.0.0.1:9060 -o trips.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "127.0.0.1:9060", "gRPC listen address (port 0 picks a free port)")
	f.StringVar(&opts.httpAddr, "http-addr", "127.0.0.1:9050", "REST listen address (port 0 picks a free port)")
	f.StringVar(&opts.dataDir, "data", "", "directory of extra tables: DIR/PROJECT/DATASET/TABLE/{schema.json,data.ndjson|synthetic.json[,table.json]}")
	f.IntVar(&opts.responseBytes, "response-bytes", emulator.DefaultResponseBytes, "target encoded payload bytes per ReadRows response")
	f.StringArrayVar(&opts.faults, "fault", nil, "inject a fault: KIND@ROWS, repeatable (kinds above)")
	f.StringVar(&opts.bandwidth, "stream-bandwidth", "", "per-stream bandwidth cap, e.g. 25MiB/s (default unlimited)")
	f.DurationVar(&opts.latency, "latency", 0, "delay added before each ReadRows response, e.g. 5ms")
	f.StringVar(&opts.cacheSize, "cache-size", "", fmt.Sprintf("memory for encoded payloads kept for the next read of the same rows, e.g. 4GiB (default %s)",
		bytesize.Format(emulator.DefaultCacheBytes)))
	f.IntVar(&opts.maxReads, "max-concurrent-streams", emulator.DefaultMaxConcurrentReads, "ReadRows calls served at once per billing project; more get RESOURCE_EXHAUSTED")
	f.StringVar(&opts.allocation, "stream-allocation", emulator.AllocationFixed, "how rows go to streams: "+strings.Join(emulator.StreamAllocations, " or "))
	f.IntVar(&opts.maxSessionReads, "max-concurrent-streams-per-session", 0, "ReadRows calls of one session served at once, 0 for no limit; more get RESOURCE_EXHAUSTED")
	f.DurationVar(&opts.jobRunTime, "job-run-time", emulator.DefaultJobRunTime, "how long a query job is RUNNING before it is DONE (0: DONE at once)")
	f.DurationVar(&opts.jobPendingTime, "job-pending-time", 0, "how long a query job is PENDING before it is RUNNING (0: RUNNING at once)")
	f.StringArrayVar(&opts.jobFaults, "job-fault", nil, "make query jobs reading a table fail: accessDenied|quotaExceeded@PROJECT.DATASET.TABLE, repeatable")
	registerCompletions(cmd)
	return cmd
}

// runServe serves until ctx is cancelled.
func runServe(ctx context.Context, opts *serveOptions) error {
	if opts.responseBytes <= 0 {
		return usageErrorf("--response-bytes must be positive, got %d", opts.responseBytes)
	}
	if opts.latency < 0 {
		return usageErrorf("--latency must not be negative, got %s", opts.latency)
	}
	if opts.maxReads < 1 {
		return usageErrorf("--max-concurrent-streams must be 1 or more, got %d", opts.maxReads)
	}
	if opts.maxSessionReads < 0 {
		return usageErrorf("--max-concurrent-streams-per-session must not be negative, got %d", opts.maxSessionReads)
	}
	if !slices.Contains(emulator.StreamAllocations, opts.allocation) {
		return usageErrorf("--stream-allocation %q: use %s", opts.allocation, strings.Join(emulator.StreamAllocations, " or "))
	}
	if opts.jobPendingTime < 0 {
		return usageErrorf("--job-pending-time must not be negative, got %s", opts.jobPendingTime)
	}
	if opts.jobRunTime < 0 {
		return usageErrorf("--job-run-time must not be negative, got %s", opts.jobRunTime)
	}
	jobFaults, err := emulator.ParseJobFaults(opts.jobFaults)
	if err != nil {
		return usageErrorf("--job-fault: %v", err)
	}
	jobRunTime := opts.jobRunTime
	if jobRunTime == 0 {
		jobRunTime = -1 // the emulator's "DONE at once"
	}
	faults, err := emulator.ParseFaults(opts.faults)
	if err != nil {
		return usageErrorf("--fault: %v", err)
	}
	bandwidth, err := parseBytes(opts.bandwidth)
	if err != nil {
		return usageErrorf("--stream-bandwidth: %v", err)
	}
	cache, err := parseBytes(opts.cacheSize)
	if err != nil {
		return usageErrorf("--cache-size: %v", err)
	}
	inst, err := emulator.Start(ctx, emulator.Options{
		DataDir:                      opts.dataDir,
		GRPCAddr:                     opts.addr,
		HTTPAddr:                     opts.httpAddr,
		ResponseBytes:                opts.responseBytes,
		Faults:                       faults,
		StreamBandwidth:              bandwidth,
		Latency:                      opts.latency,
		CacheBytes:                   cache,
		MaxConcurrentReads:           opts.maxReads,
		MaxConcurrentReadsPerSession: opts.maxSessionReads,
		JobRunTime:                   jobRunTime,
		JobPendingTime:               opts.jobPendingTime,
		JobFaults:                    jobFaults,
		StreamAllocation:             opts.allocation,
	})
	if err != nil {
		return fmt.Errorf("start the emulator: %w", err)
	}
	fmt.Fprintf(opts.stdout, "listening on %s\nhttp on %s\n", inst.GRPCAddr(), inst.HTTPAddr())
	<-ctx.Done()
	return inst.Close()
}

// parseBytes parses a size such as "4GiB", "4G" or "1000000" (bytes), or a rate such as "25MiB/s"
// or "500KB/s" (bytes per second); the empty string is 0, the default.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := bytesize.Parse(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a size: use a positive number of bytes such as 4GiB, 4G or 500KB (per second for a rate: 25MiB/s)", s)
	}
	return n, nil
}
