package export

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// Options are everything an export takes. The zero value of a field is its default.
type Options struct {
	// Table is the table to read: project.dataset.table, project:dataset.table or
	// projects/P/datasets/D/tables/T.
	Table string
	// Query, in place of Table, is a GoogleSQL query: it runs as a BigQuery job (in Location, with
	// Labels, MaximumBytesBilled and DestinationTable; default: the job's anonymous table) through
	// RESTEndpoint, and its destination table is read as a table is. Columns, Where, SnapshotTime
	// and Sample are refused with it; a top-level ORDER BY is read with one stream, so the order
	// holds. OnJob receives the job's state while it runs.
	Query              string
	Labels             map[string]string
	MaximumBytesBilled int64
	DestinationTable   string
	RESTEndpoint       string // the BigQuery REST API, http(s)://HOST:PORT (default Google's)
	OnJob              func(JobProgress)
	// Out is the output file; "-" writes to Stdout. A FIFO, socket or character device is
	// written to as a stream; a file appears at Out only when complete. A "*" in its last path
	// element makes a many-file output: one file per segment, numbered in row order where the
	// "*" is, and a manifest written last (see PartManifest). Plan needs it only to
	// derive Format; Merge needs it.
	Out string
	// Format is the output format (default: from Out's extension); Compression its compression
	// (default: from the extension, else the format's default).
	Format      output.Format
	Compression string
	// FieldDelimiter, NoHeader and NullMarker shape a CSV output as bq extract's options do: the
	// one character between fields (default ","; "\t" for tabs), no header row, and the text of
	// NULL (default: an empty field). The other formats refuse them.
	FieldDelimiter string
	NoHeader       bool
	NullMarker     string
	// Columns, Where and SnapshotTime select what is read: column paths (default all), a row
	// restriction, and the instant the table is read as of (default: now).
	Columns      []string
	Where        string
	SnapshotTime time.Time
	// Sample reads about this percentage of the table's rows, in (0, 100], as the service samples
	// them: whole blocks, differently on each read (default 0: every row).
	Sample float64
	// Limit, when not 0, stops the export after that many rows, for a preview: the table is read
	// with one stream, which is cut at Limit rows (payloads are then decoded, even when the wire
	// format is the output format).
	Limit int64
	// Streams is the most read streams to ask for (default 2 x Parallelism; the server may
	// return fewer); Parallelism the most worker processes at once (default: the CPUs).
	Streams     int
	Parallelism int
	// DataFormat is the wire format, session.FormatArrow (default) or session.FormatAvro;
	// WireCompression the Arrow body compression on the wire: none (default), lz4, zstd.
	DataFormat      string
	WireCompression string
	// ResponseCompression compresses each ReadRows payload on the wire: none (default) or lz4
	// (one raw LZ4 block per response; the service takes it only without WireCompression).
	ResponseCompression string
	// TimestampPrecision is how TIMESTAMP(12) (picosecond) columns are read: micros (default,
	// truncated), nanos (truncated) or picos (ISO 8601 text); other columns are unaffected.
	TimestampPrecision string
	// Project bills the read and holds a Table named dataset.table (default: GOOGLE_CLOUD_PROJECT,
	// then, for the Google service, the credentials' project, then gcloud's core/project; see
	// session.DefaultProject). BillingProject, if set, bills the read instead.
	Project        string
	BillingProject string
	// Location, if set, is where the table must be (US, EU, us-central1...): a read session in
	// another location is refused before anything is read, for data that must stay in a region.
	// A Query's job runs there.
	Location string
	// Endpoint is the Storage Read endpoint HOST:PORT (default: Google's); a loopback endpoint is
	// plaintext without credentials.
	Endpoint string
	// Plaintext reaches a non-loopback Endpoint (an emulator in another container) without TLS
	// and without credentials; it is refused when GOOGLE_APPLICATION_CREDENTIALS names a key,
	// which would then not be used.
	Plaintext bool
	// WorkDir holds the manifest and segments (default: Out + ".bqread", or a new temp dir for a
	// stream output). It must be missing, empty or an earlier export's work dir.
	WorkDir string
	// KeepParts keeps the work dir after a successful merge.
	KeepParts bool
	// Overwrite replaces an existing Out or Summary file and an earlier export's work dir.
	Overwrite bool
	// Ephemeral says the read session ends with this process (an emulator started in it): an
	// export that stops removes its parts, since nothing could resume them.
	Ephemeral bool
	// Resume continues the interrupted export in WorkDir from its committed segments; the other
	// options must be those it was started with.
	Resume bool
	// Summary, if set, is where the JSON Summary is written; "-" is Stdout.
	Summary string
	// Tasks is the number of tasks a scheduler runs the workers as (Plan; default one per
	// stream): task i reads streams i, i+Tasks, ...
	Tasks int
	// ConnectTimeout bounds how long creating the read session is retried on transient errors
	// (default session.DefaultConnectTimeout); each retry is logged.
	ConnectTimeout time.Duration
	// MaxFileSize, for a many-file Out, bounds each file's bytes: a segment is ended before its
	// body would pass it less room for the header and footer (1/16), judged by the growth of its
	// last response, so a file passes it only when a response grows it more than the one before.
	MaxFileSize int64
	// SegmentRows is the rows per segment (default about a million); StallTimeout how long a
	// worker waits for the next response before it resumes a stalled stream (default 2m).
	SegmentRows  int64
	StallTimeout time.Duration
	// MaxRestarts is how often a stream's worker process is started again after it died
	// (default 3).
	MaxRestarts int
	// NoSplit turns straggler splitting off. By default, when a worker slot is free and no stream
	// waits for one, Run splits the running stream with the most reading time left (at least two
	// seconds, at its pace so far) with SplitReadStream, and reads the remainder in a new worker;
	// every split is recorded in the manifest first, so that a resume and the merge see it.
	// Plan and RunWorker (a cluster) never split.
	NoSplit bool
	// WorkerCommand is the program, and any arguments, run for each worker process, to which the
	// worker's own arguments are appended (default: this program, which must then call
	// RunWorkerIfChild first thing in main).
	WorkerCommand []string
	// Stdout receives an Out or Summary of "-".
	Stdout io.Writer
	// OnEvent, if set, receives every worker event during Run, one call at a time.
	OnEvent func(Event)
	// Log receives worker log lines and warnings (default: discarded).
	Log *slog.Logger
	// ExitCode, if set, maps the error an export ends with to the exit code its summary records
	// (a command line's).
	ExitCode func(error) int
}

// plan is the checked form of Options.
type plan struct {
	opts    Options
	req     session.Request
	outOpts output.Options
	outKind destKind
	ordered bool // the Query orders its rows: read with one stream
	dryRun  bool // DryRun: Out may be missing
}

// check checks every option before anything runs; its errors wrap ErrUsage.
func (o Options) check(ctx context.Context, now time.Time) (*plan, error) {
	return o.checkAs(ctx, now, false)
}

// checkAs is check, for a dry run (DryRun) when dryRun is set.
func (o Options) checkAs(ctx context.Context, now time.Time, dryRun bool) (*plan, error) {
	table, billing, err := o.table(ctx)
	if err != nil {
		return nil, err
	}
	o.BillingProject = billing
	if o.Parallelism == 0 {
		o.Parallelism = runtime.NumCPU()
	}
	if o.MaxRestarts == 0 {
		o.MaxRestarts = 3
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = session.DefaultConnectTimeout
	}
	if o.DataFormat == "" {
		o.DataFormat = session.FormatArrow
	}
	p := &plan{opts: o, req: session.Request{Table: table, BillingProject: o.BillingProject,
		DataFormat: strings.ToLower(o.DataFormat), Columns: o.Columns, Where: o.Where,
		Compression: strings.ToLower(o.WireCompression), SnapshotTime: o.SnapshotTime, TraceID: "bqread/" + Version(), Sample: o.Sample}}
	if c := strings.ToLower(o.ResponseCompression); c != "none" {
		p.req.ResponseCompression = c
	}
	switch tp := strings.ToLower(o.TimestampPrecision); tp {
	case "", session.PrecisionMicros:
	case session.PrecisionNanos, session.PrecisionPicos:
		p.req.TimestampPrecision = tp
	default:
		return nil, optionErrorf("{{TimestampPrecision}} %q: use micros, nanos or picos", o.TimestampPrecision)
	}
	p.dryRun = dryRun
	for _, check := range []func(*plan, time.Time) error{checkFormat, checkRead, checkQuery, checkDestinations} {
		if err := check(p, now); err != nil {
			return nil, err
		}
	}
	if _, err := p.req.Proto(); err != nil {
		return nil, asUsage(err)
	}
	if err := checkEndpoint(o); err != nil {
		return nil, err
	}
	return p, nil
}

// checkFormat settles the output format and compression.
func checkFormat(p *plan, _ time.Time) error {
	o := &p.opts
	switch {
	case o.Format != "":
	case o.Out == "" && p.dryRun:
		return nil
	case o.Out == "" || o.Out == "-":
		return optionErrorf("{{Format}} is needed when {{Out}} is %q: parquet, arrow, avro, csv or ndjson", o.Out)
	default:
		f, compression, err := output.FormatFromPath(o.Out)
		if err != nil {
			return asUsage(err)
		}
		o.Format, p.outOpts.Compression = f, compression
	}
	if _, err := output.ParseFormat(string(o.Format)); err != nil {
		return asUsage(err)
	}
	if o.Compression != "" {
		p.outOpts.Compression = strings.ToLower(o.Compression)
	}
	p.outOpts.FieldDelimiter, p.outOpts.NoHeader, p.outOpts.NullMarker = o.FieldDelimiter, o.NoHeader, o.NullMarker
	return asUsageOrNil(probeWriter(o.Format, p.outOpts))
}

func asUsageOrNil(err error) error {
	if err == nil {
		return nil
	}
	return asUsage(err)
}

// probeWriter checks that the output format and compression are supported by making a writer.
func probeWriter(f output.Format, o output.Options) error {
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	w, err := output.NewWriter(io.Discard, f, s, o)
	if err != nil {
		return err
	}
	return w.Close()
}

// checkRead checks what is read and how.
func checkRead(p *plan, now time.Time) error {
	o := &p.opts
	switch t := o.SnapshotTime; {
	case t.IsZero():
	case t.After(now):
		return optionErrorf("{{SnapshotTime}} %s is in the future: use a past instant", t.Format(time.RFC3339Nano))
	case t.Before(time.Unix(0, 0)):
		return optionErrorf("{{SnapshotTime}} %s is before 1970: BigQuery keeps 7 days of history, use a recent instant", t.Format(time.RFC3339Nano))
	}
	switch {
	case o.SegmentRows < 0:
		return optionErrorf("{{SegmentRows}} %d: use 1 or more", o.SegmentRows)
	case o.MaxFileSize != 0 && !isPattern(o.Out):
		return optionErrorf("{{MaxFileSize}} bounds the files of a many-file output: put a * in the file name of {{Out}}")
	case o.MaxFileSize < 0 || (o.MaxFileSize > 0 && o.MaxFileSize < minFileSize):
		return optionErrorf("{{MaxFileSize}} %d: use %d bytes (16KiB) or more", o.MaxFileSize, minFileSize)
	case o.StallTimeout < 0:
		return optionErrorf("{{StallTimeout}} %v: use a positive duration such as 30s", o.StallTimeout)
	case o.Parallelism < 1:
		return optionErrorf("{{Parallelism}} %d: use 1 or more", o.Parallelism)
	case o.Tasks < 0:
		return optionErrorf("{{Tasks}} %d: use 1 or more", o.Tasks)
	case o.Limit < 0:
		return optionErrorf("{{Limit}} %d: use 1 or more, or 0 for every row", o.Limit)
	}
	p.req.MaxStreams = o.Streams
	if o.Streams == 0 {
		p.req.MaxStreams = min(2*o.Parallelism, session.MaxStreams)
	}
	if p.req.MaxStreams < 1 || p.req.MaxStreams > session.MaxStreams {
		return optionErrorf("{{Streams}} %d: use 1 to %d", o.Streams, session.MaxStreams)
	}
	if o.Limit > 0 {
		p.req.MaxStreams = 1 // the rows of one stream, in its order, are cut at the limit
	}
	return nil
}

// workDirPath returns the work dir: WorkDir, else <Out>.bqread; "" for a temporary one (a stream
// output without WorkDir).
func (p *plan) workDirPath() string {
	switch {
	case p.opts.WorkDir != "":
		return p.opts.WorkDir
	case p.outKind == destStream || p.opts.Out == "":
		return ""
	case isPattern(p.opts.Out):
		return partWorkDir(p.opts.Out)
	}
	return p.opts.Out + ".bqread"
}

// table returns the table the options name and the project billed for reading it: Table, in
// the default project if it names none (session.DefaultProject), and BillingProject, else that
// project.
func (o Options) table(ctx context.Context) (session.TableRef, string, error) {
	project := session.DefaultProject(ctx, o.Project, o.Endpoint)
	if o.Query != "" && o.Table == "" {
		return session.TableRef{}, cmp.Or(o.BillingProject, project), nil // the job's destination, once it has run
	}
	table, err := session.ParseTableIn(o.Table, project)
	if err != nil {
		return session.TableRef{}, "", asUsage(err)
	}
	return table, cmp.Or(o.BillingProject, project), nil
}

// checkEndpoint refuses an Endpoint that is not HOST:PORT, and a bad Plaintext.
func checkEndpoint(o Options) error {
	if _, err := session.IsLoopback(o.Endpoint); o.Endpoint != "" && err != nil {
		return asUsage(err)
	}
	return checkPlaintext(o)
}

// checkPlaintext refuses Plaintext without an Endpoint, or beside a credentials file that it would
// silently not use.
func checkPlaintext(o Options) error {
	switch {
	case !o.Plaintext:
		return nil
	case o.Endpoint == "":
		return optionErrorf("{{Plaintext}} needs an {{Endpoint}}: the Google service is reached over TLS only")
	case os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "":
		return optionErrorf("{{Plaintext}} sends no credentials, but GOOGLE_APPLICATION_CREDENTIALS names %s: unset it for an emulator, or leave {{Plaintext}} off for a real endpoint", os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"))
	}
	return nil
}
