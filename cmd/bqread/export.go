package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/schema"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// maxRestarts is how often a stream's worker is started again after it died.
const maxRestarts = 3

type exportOptions struct {
	table           string
	out             string
	format          string
	compression     string
	columns         []string
	where           string
	snapshotTime    string
	streams         int
	parallelism     int
	dataFormat      string
	wireCompression string
	billingProject  string
	endpoint        string
	emulator        bool
	emulatorData    string
	workDir         string
	keepParts       bool
	overwrite       bool
	summary         string
	progress        string
	resume          bool
	faultSpecs      []string
	faults          []emulator.Fault
	outKind         destKind // set by validate
	summaryKind     destKind

	segmentRows  int64 // rows per segment; 0 = shard.DefaultSegmentRows
	stallTimeout time.Duration

	stdout, stderr io.Writer
}

func newExportCmd(s streams) *cobra.Command {
	opts := &exportOptions{stdout: s.out, stderr: s.err}
	cmd := &cobra.Command{
		Use:   "export TABLE -o PATH [flags]",
		Short: "Export a table to one file, one worker process per read stream",
		Long: `export creates one read session for TABLE, reads each of its streams in its own worker process
(at most --parallelism at once), and merges the workers' segments into one file at --out. The file
appears only when complete. TABLE is project.dataset.table, project:dataset.table or
projects/P/datasets/D/tables/T. Real BigQuery is reached with Application Default Credentials
(gcloud auth application-default login); --emulator starts the local Storage Read server with the
sample tables of project bqread-demo, dataset samples (all_types, trips, empty).

An export stopped part way (Ctrl-C, SIGTERM, a killed process, a failed stream) keeps the manifest
and committed segments in its work dir: run the same command with --resume to read only the rest.
Without --resume, an earlier export's work dir is refused (--overwrite discards it). The work dir
is private (0700) and marked as bqread's; a directory that holds anything else is never used or
removed, and only files bqread created there are ever deleted. Once the read
session has expired (BigQuery: 6 hours), --resume says so, removes the work dir, and the same
command without --resume exports again.

` + exitCodesHelp,
		Example: `  bqread export bqread-demo.samples.trips --emulator -o trips.parquet
  bqread export bqread-demo.samples.trips --emulator -o - -f ndjson --columns trip_id,fare_amount --where "fare_amount > 50"
  bqread export bqread-demo.samples.all_types --emulator -o all_types.ndjson --data-format avro --summary -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.table = args[0]
			if !cmd.Flags().Changed("endpoint") {
				opts.endpoint = os.Getenv("BQREAD_ENDPOINT")
			}
			return runExport(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.out, "out", "o", "", "output file; - for stdout")
	f.StringVarP(&opts.format, "format", "f", "", "output format: parquet, arrow, avro, csv, ndjson (default from the --out extension)")
	f.StringVar(&opts.compression, "compression", "", "output compression: parquet snappy|zstd|gzip|none, avro null|deflate|snappy, csv/ndjson gzip|none")
	f.StringSliceVar(&opts.columns, "columns", nil, "columns to export, comma separated (dotted paths into STRUCTs); default all")
	f.StringVar(&opts.where, "where", "", "row restriction, e.g. \"fare_amount > 20 AND payment_type = 'card'\"")
	f.StringVar(&opts.snapshotTime, "snapshot-time", "", "read the table as of this RFC 3339 instant")
	f.IntVar(&opts.streams, "streams", 0, "maximum read streams, 1 to 1000 (default 2 x --parallelism; the server may return fewer)")
	f.IntVar(&opts.parallelism, "parallelism", runtime.NumCPU(), "worker processes at once")
	f.StringVar(&opts.dataFormat, "data-format", session.FormatArrow, "wire format: arrow or avro")
	f.StringVar(&opts.wireCompression, "wire-compression", "none", "Arrow body compression on the wire: none, lz4, zstd")
	f.StringVar(&opts.billingProject, "billing-project", "", "project billed for the read (default the table's project)")
	f.StringVar(&opts.endpoint, "endpoint", "", "Storage Read endpoint HOST:PORT (env BQREAD_ENDPOINT); loopback is plaintext without auth")
	f.BoolVar(&opts.emulator, "emulator", false, "start the emulator in-process and read from it")
	f.StringVar(&opts.emulatorData, "emulator-data", "", "with --emulator, also serve the tables under this directory")
	f.StringVar(&opts.workDir, "work-dir", "", "private directory for the manifest and segments (default <out>.bqread); must be missing, empty or an earlier bqread work dir")
	f.BoolVar(&opts.keepParts, "keep-parts", false, "keep the work dir after a successful merge")
	f.BoolVar(&opts.overwrite, "overwrite", false, "replace an existing --out (and an earlier export's work dir)")
	f.BoolVar(&opts.resume, "resume", false, "continue the interrupted export in the work dir, from its committed parts (same flags)")
	f.StringArrayVar(&opts.faultSpecs, "emulator-fault", nil, "with --emulator, inject a fault: KIND@ROWS (see bqread serve --help); repeatable")
	f.StringVar(&opts.summary, "summary", "", "write a JSON summary to this file; - for stdout")
	f.StringVar(&opts.progress, "progress", "auto", "progress display: auto, bar, plain, none")
	f.Int64Var(&opts.segmentRows, "segment-rows", 0, "rows per segment file (default about a million)")
	f.DurationVar(&opts.stallTimeout, "stall-timeout", shard.DefaultIdleTimeout, "how long a worker waits for the next response before it resumes a stalled stream")
	f.MarkHidden("segment-rows")
	return cmd
}

// exportPlan is the validated form of exportOptions.
type exportPlan struct {
	req      session.Request
	out      output.Format
	outOpts  output.Options
	progress string
}

func runExport(ctx context.Context, opts *exportOptions) error {
	start := time.Now()
	plan, err := opts.validate(time.Now())
	if err != nil {
		return err
	}
	var d *workdir.Dir
	var m *session.Manifest
	if opts.resume {
		d, m, err = opts.resumeWorkDir(ctx, time.Now(), plan)
	} else {
		endpoint := opts.endpoint
		if opts.emulator {
			inst, err := emulator.Start(ctx, emulator.Options{DataDir: opts.emulatorData, Faults: opts.faults})
			if err != nil {
				return fmt.Errorf("start the emulator: %w", err)
			}
			defer inst.Close()
			endpoint = inst.GRPCAddr()
		}
		d, m, err = opts.newExport(ctx, plan, endpoint)
	}
	if err != nil && ctx.Err() != nil {
		return withCode(exitInterrupted, errors.New("interrupted before the read started; nothing was written"))
	}
	if err != nil {
		return err
	}
	sessionDone := time.Now()
	sum, err := runSession(ctx, opts, plan, d, m)
	if err != nil {
		return opts.failed(ctx, d, err)
	}
	cleanup := time.Now()
	if !opts.keepParts {
		opts.removeWorkDir(d)
	}
	sum.WallSeconds = time.Since(start).Seconds()
	sum.Phases.Session = sessionDone.Sub(start).Seconds()
	sum.Phases.Cleanup = time.Since(cleanup).Seconds()
	if err := opts.writeSummary(sum); err != nil {
		return err
	}
	reportDone(plan.progress, opts.stderr, slog.New(slog.NewTextHandler(opts.stderr, nil)), sum)
	return nil
}

// failed decides what happens to the work dir after err stopped the export, and returns the
// error the user sees: an interrupted or failed export keeps its committed parts for --resume; an
// expired session's parts are removed, since nothing can continue them.
func (o *exportOptions) failed(ctx context.Context, d *workdir.Dir, err error) error {
	dir := d.Path()
	removeAll := func() { o.removeWorkDir(d) }
	switch {
	case ctx.Err() != nil && o.workDirPath() == "":
		return withCode(exitInterrupted, fmt.Errorf("interrupted; committed parts are kept in %s: run the same command with --resume --work-dir %s to continue", dir, dir))
	case ctx.Err() != nil:
		return withCode(exitInterrupted, fmt.Errorf("interrupted; committed parts are kept in %s: run the same command with --resume to continue", dir))
	case shard.SessionExpired(err):
		removeAll()
		return fmt.Errorf("%w; the session's parts were removed: run the same command without --resume to export again", err)
	case o.workDirPath() == "":
		removeAll() // a temporary work dir nobody could name in a --resume
		return err
	case errors.Is(err, errUsage):
		removeAll()
		return err
	}
	return withCode(exitPartial, fmt.Errorf("%w; committed parts are kept in %s: fix the cause and run the same command with --resume", err, dir))
}

// newExport creates the work dir and the read session, and saves the session's manifest in the
// work dir. The work dir is made (or checked) before the session is created, and removed again if
// the session cannot be exported.
func (o *exportOptions) newExport(ctx context.Context, plan *exportPlan, endpoint string) (*workdir.Dir, *session.Manifest, error) {
	d, err := o.createWorkDir()
	if err != nil {
		return nil, nil, err
	}
	m, err := o.createManifest(ctx, plan, endpoint)
	if err == nil {
		err = m.Save(ctx, d.Store())
	}
	if err != nil {
		o.removeWorkDir(d)
		return nil, nil, err
	}
	return d, m, nil
}

// createManifest creates the read session and the manifest describing it.
func (o *exportOptions) createManifest(ctx context.Context, plan *exportPlan, endpoint string) (*session.Manifest, error) {
	if err := probeEndpoint(ctx, endpoint); err != nil {
		return nil, err
	}
	m, err := createSession(ctx, endpoint, plan, o.segmentRows)
	if err != nil {
		return nil, err
	}
	m.StallTimeout = o.stallTimeout
	return m, checkOutputSchema(plan, m)
}

// createWorkDir makes the work dir of a new export: --work-dir or <out>.bqread (package workdir
// decides what may be used), or a new temp dir for a stream output.
func (o *exportOptions) createWorkDir() (*workdir.Dir, error) {
	path := o.workDirPath()
	if path == "" {
		return workdir.CreateTemp()
	}
	d, err := workdir.Create(path, o.overwrite)
	return d, workDirError(err)
}

// workDirError adds to a work dir that cannot be used the flag that fixes it; bad work dirs exit
// with code 2.
func workDirError(err error) error {
	var we *workdir.Error
	if !errors.As(err, &we) {
		return err
	}
	hint := "name another --work-dir"
	switch we.Reason {
	case workdir.ErrEarlier:
		hint = "pass --resume to continue it, or --overwrite to start over"
	case workdir.ErrUnsafe:
		hint = "use a directory of yours that no other user can write (chmod go-w), or name another --work-dir"
	case workdir.ErrNoParent:
		hint = "create its parent directory first, or name another --work-dir"
	case workdir.ErrMissing:
		hint = "there is nothing to resume: run without --resume"
	}
	return usageErrorf("export: %v: %s", err, hint)
}

// removeWorkDir removes what bqread created in the work dir; what it cannot remove is named in a
// warning, since the export itself is done.
func (o *exportOptions) removeWorkDir(d *workdir.Dir) {
	if err := d.Remove(); err != nil {
		slog.New(slog.NewTextHandler(o.stderr, nil)).Warn("work dir not removed", "dir", d.Path(), "error", err)
	}
}

// probeEndpoint fails fast, with what to do, when an explicit endpoint does not accept
// connections or is not a gRPC server (session.Probe); the client library would otherwise retry
// CreateReadSession for minutes.
func probeEndpoint(ctx context.Context, endpoint string) error {
	if endpoint == "" {
		return nil
	}
	if _, err := session.IsLoopback(endpoint); err != nil {
		return usageErrorf("%v", err)
	}
	err := session.Probe(ctx, endpoint)
	if errors.Is(err, session.ErrEndpoint) {
		return fmt.Errorf("%w; --endpoint (or BQREAD_ENDPOINT) must name a Storage Read server such as `bqread serve`'s gRPC port", err)
	}
	return err
}

// checkOutputSchema refuses, before anything is written, a session whose columns the output
// format cannot hold (CSV and nested or repeated columns).
func checkOutputSchema(plan *exportPlan, m *session.Manifest) error {
	w, err := output.NewWriter(io.Discard, plan.out, schema.ArrowSchema(m.Schema), plan.outOpts)
	if err != nil {
		return usageErrorf("export: %v", err)
	}
	return w.Close()
}

// validate checks every flag before anything runs; its errors exit with code 2.
func (o *exportOptions) validate(now time.Time) (*exportPlan, error) {
	table, err := session.ParseTable(o.table)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	p := &exportPlan{req: session.Request{Table: table, BillingProject: o.billingProject,
		DataFormat: strings.ToLower(o.dataFormat), Columns: o.columns, Where: o.where,
		Compression: strings.ToLower(o.wireCompression)}}
	if err := o.validateOutput(p); err != nil {
		return nil, err
	}
	if err := o.validateRead(p, now); err != nil {
		return nil, err
	}
	if _, err := p.req.Proto(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	return p, nil
}

func (o *exportOptions) validateOutput(p *exportPlan) error {
	if o.out == "" {
		return usageErrorf("export: --out is required (a file path, or - for stdout)")
	}
	switch {
	case o.format != "":
		f, err := output.ParseFormat(o.format)
		if err != nil {
			return usageErrorf("%v", err)
		}
		p.out = f
	case o.out == "-":
		return usageErrorf("export: -o - needs --format (parquet, arrow, avro, csv, ndjson)")
	default:
		f, compression, err := output.FormatFromPath(o.out)
		if err != nil {
			return usageErrorf("%v", err)
		}
		p.out, p.outOpts.Compression = f, compression
	}
	if o.compression != "" {
		p.outOpts.Compression = strings.ToLower(o.compression)
	}
	if err := probeWriter(p.out, p.outOpts); err != nil {
		return usageErrorf("%v", err)
	}
	if err := o.validateDestinations(); err != nil {
		return err
	}
	switch o.progress {
	case "auto", "bar", "plain", "none":
		p.progress = o.progress
	default:
		return usageErrorf("export: --progress %q: use auto, bar, plain or none", o.progress)
	}
	return nil
}

// validateDestinations checks --out and --summary, and that neither they nor the work dir
// would destroy one another.
func (o *exportOptions) validateDestinations() error {
	if o.out == "-" && o.summary == "-" {
		return usageErrorf("export: -o - and --summary - both use stdout: write the summary to a file")
	}
	var err error
	if o.outKind, err = checkDest("--out", o.out, o.overwrite); err != nil {
		return err
	}
	if o.summary != "" {
		if o.summaryKind, err = checkDest("--summary", o.summary, o.overwrite); err != nil {
			return err
		}
	}
	return checkApart(o.out, o.summary, o.workDirPath())
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

func (o *exportOptions) validateRead(p *exportPlan, now time.Time) error {
	if o.snapshotTime != "" {
		t, err := time.Parse(time.RFC3339Nano, o.snapshotTime)
		if err != nil {
			return usageErrorf("export: --snapshot-time %q: use RFC 3339, e.g. 2024-02-29T12:00:00Z", o.snapshotTime)
		}
		if t.After(now) {
			return usageErrorf("export: --snapshot-time %s is in the future: use a past instant", o.snapshotTime)
		}
		if t.Before(time.Unix(0, 0)) {
			return usageErrorf("export: --snapshot-time %s is before 1970: BigQuery keeps 7 days of history, use a recent instant", o.snapshotTime)
		}
		p.req.SnapshotTime = t
	}
	if o.segmentRows < 0 {
		return usageErrorf("export: --segment-rows %d: use 1 or more", o.segmentRows)
	}
	if o.stallTimeout <= 0 {
		return usageErrorf("export: --stall-timeout %v: use a positive duration such as 30s", o.stallTimeout)
	}
	if o.parallelism < 1 {
		return usageErrorf("export: --parallelism %d: use 1 or more", o.parallelism)
	}
	p.req.MaxStreams = o.streams
	if o.streams == 0 {
		p.req.MaxStreams = min(2*o.parallelism, session.MaxStreams)
	}
	if p.req.MaxStreams < 1 || p.req.MaxStreams > session.MaxStreams {
		return usageErrorf("export: --streams %d: use 1 to %d", o.streams, session.MaxStreams)
	}
	if o.emulator && o.endpoint != "" {
		return usageErrorf("export: --emulator and --endpoint (or BQREAD_ENDPOINT) both name a server: use one")
	}
	if o.emulatorData != "" && !o.emulator {
		return usageErrorf("export: --emulator-data needs --emulator")
	}
	return o.validateResume()
}

func (o *exportOptions) validateResume() error {
	if len(o.faultSpecs) > 0 && !o.emulator {
		return usageErrorf("export: --emulator-fault needs --emulator")
	}
	for _, spec := range o.faultSpecs {
		f, err := emulator.ParseFault(spec)
		if err != nil {
			return usageErrorf("export: --emulator-fault: %v", err)
		}
		o.faults = append(o.faults, f)
	}
	switch {
	case o.resume && o.emulator:
		return usageErrorf("export: --resume cannot continue an --emulator export (its sessions ended with its process): run without --resume, or serve with `bqread serve` and pass --endpoint")
	case o.resume && o.workDirPath() == "":
		return usageErrorf("export: --resume with -o - needs the --work-dir of the interrupted export")
	}
	return nil
}

// createSession creates the read session and its manifest.
func createSession(ctx context.Context, endpoint string, p *exportPlan, segmentRows int64) (*session.Manifest, error) {
	client, err := session.NewClient(ctx, endpoint)
	if err != nil && endpoint == "" {
		return nil, fmt.Errorf("%w; or use --emulator for the sample tables", err)
	}
	if err != nil {
		return nil, err
	}
	defer client.Close()
	rs, err := session.Create(ctx, client, p.req)
	if err != nil {
		return nil, sessionError(err, endpoint)
	}
	return session.NewManifest(rs, p.req, endpoint, session.Output{Format: string(p.out),
		Compression: p.outOpts.Compression, SegmentRows: segmentRows})
}

// sessionError says what to do about a CreateReadSession failure; bad requests exit with code 2.
func sessionError(err error, endpoint string) error {
	switch status.Code(err) {
	case codes.InvalidArgument:
		return usageErrorf("%v: check --columns, --where and --snapshot-time", err)
	case codes.NotFound:
		hint := "check the project, dataset and table"
		if endpoint == "" {
			hint += ", or run with --emulator to use the sample tables"
		}
		return usageErrorf("%v: %s", err, hint)
	case codes.PermissionDenied, codes.Unauthenticated:
		return fmt.Errorf("%w: check the credentials (gcloud auth application-default login) and --billing-project", err)
	}
	return err
}

// workDirPath returns the work dir of the export: --work-dir, else <out>.bqread; "" for a
// temporary one (a stream output such as -o - without --work-dir).
func (o *exportOptions) workDirPath() string {
	switch {
	case o.workDir != "":
		return o.workDir
	case o.outKind == destStream:
		return ""
	}
	return o.out + ".bqread"
}

// resumeWorkDir opens the work dir of an interrupted export and checks that it is the export
// asked for and that its session can still be read. An expired session's work dir is removed.
func (o *exportOptions) resumeWorkDir(ctx context.Context, now time.Time, p *exportPlan) (*workdir.Dir, *session.Manifest, error) {
	d, err := workdir.Open(o.workDirPath())
	if err != nil {
		return nil, nil, workDirError(err)
	}
	dir := d.Path()
	m, err := session.LoadManifest(ctx, d.Store())
	if errors.Is(err, store.ErrNotExist) {
		return nil, nil, usageErrorf("export --resume: %s holds no export to resume: run without --resume", dir)
	}
	if err != nil {
		return nil, nil, usageErrorf("export --resume: %v: remove %s and run without --resume", err, dir)
	}
	if err := sameExport(m, p, o.endpoint); err != nil {
		return nil, nil, usageErrorf("export --resume: %s was started %v: run the same command, or remove %s and run without --resume", dir, err, dir)
	}
	if !m.ExpireTime.IsZero() && !now.Before(m.ExpireTime) {
		o.removeWorkDir(d)
		return nil, nil, fmt.Errorf("export --resume: the read session expired at %s, so its parts were removed: run the same command without --resume to export again",
			m.ExpireTime.UTC().Format(time.RFC3339))
	}
	return d, m, nil
}

// sameExport returns an error saying what differs between the manifest of an earlier export and
// the one asked for now.
func sameExport(m *session.Manifest, p *exportPlan, endpoint string) error {
	diff := func(what, was, now string) error {
		return fmt.Errorf("with %s %q, not %q", what, was, now)
	}
	switch {
	case m.Table != p.req.Table.String():
		return diff("table", m.Table, p.req.Table.String())
	case m.Output.Format != string(p.out):
		return diff("--format", m.Output.Format, string(p.out))
	case m.Output.Compression != p.outOpts.Compression:
		return diff("--compression", m.Output.Compression, p.outOpts.Compression)
	case !slices.Equal(m.Columns, p.req.Columns):
		return diff("--columns", strings.Join(m.Columns, ","), strings.Join(p.req.Columns, ","))
	case m.Where != p.req.Where:
		return diff("--where", m.Where, p.req.Where)
	case m.DataFormat != p.req.DataFormat:
		return diff("--data-format", m.DataFormat, p.req.DataFormat)
	case m.WireCompression != p.req.Compression:
		return diff("--wire-compression", m.WireCompression, p.req.Compression)
	case !p.req.SnapshotTime.IsZero() && !p.req.SnapshotTime.Equal(m.SnapshotTime):
		return diff("--snapshot-time", m.SnapshotTime.Format(time.RFC3339Nano), p.req.SnapshotTime.Format(time.RFC3339Nano))
	case m.Endpoint != endpoint:
		return diff("--endpoint", m.Endpoint, endpoint)
	}
	return nil
}

// runSession runs the workers, merges their segments and returns the summary. Where the output
// format allows (Arrow, Parquet), segments are merged into the output file as they are committed,
// so that little is left to copy once the streams are read.
func runSession(ctx context.Context, opts *exportOptions, p *exportPlan, d *workdir.Dir, m *session.Manifest) (*summary, error) {
	out, err := createOutput(opts.out, opts.outKind, d, opts.stdout)
	if err != nil {
		return nil, err
	}
	defer out.discard()
	merger, err := shard.NewMerger(d, m, out.w)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(opts.stderr, nil))
	prog := newProgress(p.progress, opts.stderr, log, len(m.Streams), m.EstimatedRows)
	cfg := shard.Config{WorkDir: d.Path(), Parallelism: opts.parallelism, MaxRestarts: maxRestarts, OnEvent: prog.event, Log: log}
	if out.live() { // a stream gets nothing until every stream is read
		cfg.Merger = merger
	}
	start := time.Now()
	prog.start(ctx)
	res, err := shard.Run(ctx, cfg)
	prog.stop()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("export interrupted: %w", ctx.Err())
	}
	if err != nil {
		return nil, err
	}
	merge := time.Now()
	written, err := finishOutput(ctx, out, merger, res)
	if err != nil {
		return nil, err
	}
	sum := newSummary(m, res, written, opts)
	sum.Phases.Read, sum.Phases.Merge = merge.Sub(start).Seconds(), time.Since(merge).Seconds()
	return sum, nil
}

// finishOutput merges what is left, checking the segments against the rows each stream's
// workers reported, and puts the output in place.
func finishOutput(ctx context.Context, out *outputFile, merger *shard.Merger, res *shard.Result) (shard.MergeStats, error) {
	want := make([]int64, len(res.Streams))
	for i, s := range res.Streams {
		want[i] = s.Rows
	}
	written, err := merger.Finish(ctx, want)
	if err == nil {
		err = out.commit()
	}
	return written, err
}

// summary is the --summary JSON.
type summary struct {
	Table         string          `json:"table"`
	Session       string          `json:"session"`
	Streams       int             `json:"streams"`
	Rows          int64           `json:"rows"`
	BytesReceived int64           `json:"bytes_received"`
	BytesWritten  int64           `json:"bytes_written"`
	OutputFiles   []string        `json:"output_files"`
	WallSeconds   float64         `json:"wall_seconds"`
	Phases        phaseSeconds    `json:"phase_seconds"`
	Retries       int             `json:"retries"`
	PerStream     []streamSummary `json:"per_stream"`
}

// phaseSeconds is where the wall time went: creating the session and work dir (or opening them
// for --resume), the workers reading the streams, merging into --out (fsync and rename included),
// and removing the work dir.
type phaseSeconds struct {
	Session float64 `json:"session"`
	Read    float64 `json:"read"`
	Merge   float64 `json:"merge"`
	Cleanup float64 `json:"cleanup"`
}

type streamSummary struct {
	Index    int   `json:"index"`
	Pid      int   `json:"pid"`  // the process that finished the stream
	Pids     []int `json:"pids"` // every process started for it
	Rows     int64 `json:"rows"`
	Segments int   `json:"segments"` // committed by this run
	Attempts int   `json:"attempts"`
	// StartOffset is the rows an interrupted run had committed, which this run did not read again.
	StartOffset int64 `json:"start_offset"`
}

func newSummary(m *session.Manifest, res *shard.Result, written shard.MergeStats, opts *exportOptions) *summary {
	s := &summary{Table: m.Table, Session: m.Session, Streams: len(m.Streams), Rows: written.Rows,
		BytesReceived: res.Bytes, BytesWritten: written.Bytes, OutputFiles: []string{opts.out},
		Retries: res.Retries, PerStream: []streamSummary{}}
	for _, r := range res.Streams {
		ss := streamSummary{Index: r.Index, Pids: r.Pids, Rows: r.Rows, Segments: r.Segments, Attempts: r.Attempts,
			StartOffset: r.StartOffset}
		if len(r.Pids) > 0 {
			ss.Pid = r.Pids[len(r.Pids)-1]
		}
		s.PerStream = append(s.PerStream, ss)
	}
	return s
}

func (o *exportOptions) writeSummary(s *summary) error {
	if o.summary == "" {
		return nil
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := writeDest(o.summary, o.summaryKind, data, o.stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// writeDest writes data to a destination checked by checkDest: a file appears whole (tmp →
// rename), a stream is written to.
func writeDest(path string, kind destKind, data []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	if kind == destStream {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Close())
	}
	f, err := createBeside(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return store.CommitFile(f, path)
}
