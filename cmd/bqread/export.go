package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// exportOptions are the flags of export (and of plan, which takes the same read flags).
type exportOptions struct {
	opts         export.Options
	format       string
	snapshotTime string
	maxFileSize  string
	emulator     bool
	emulatorData string
	faultSpecs   []string
	progress     string
	stderr       io.Writer
	stdin        io.Reader
	log          *logConfig
	interval     time.Duration
	query        queryFlags
}

func newExportCmd(s streams) *cobra.Command {
	o := &exportOptions{stderr: s.err, stdin: s.in, log: s.log, opts: export.Options{Stdout: s.out}, query: queryFlags{command: "export"}}
	cmd := &cobra.Command{
		Use:   "export (TABLE | --query SQL) -o PATH [flags]",
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
removed, and only files bqread created there are ever deleted. Once the read session has expired
(BigQuery: 6 hours), --resume says so, removes the work dir, and the same command without --resume
exports again.

--query SQL (or --query-file PATH, - for stdin) exports the result of a GoogleSQL query instead: it
runs as a BigQuery job (--location, --labels, --maximum-bytes-billed, --destination-table), its
state and bytes processed are shown while it runs, Ctrl-C cancels it, and its destination table is
read as a table is (--columns, --where, --snapshot-time and --sample do not apply). A query whose
top level has ORDER BY is read with one stream, so that the order holds. --resume reads the finished
job's table again and never runs the query again. A failed job is one line with BigQuery's reason
and message: exit 2 for a bad query (invalidQuery, notFound, bytesBilledLimitExceeded), 1 otherwise
(accessDenied, quotaExceeded, ...).

--dry-run reads and writes nothing (no work dir, no output) and says what would be read: a table's
streams and the service's estimates of its rows and bytes scanned, or a query's bytes processed
(a dry-run job); on stdout, or as JSON with --summary.

` + exitCodesHelp,
		Example: `  bqread export bqread-demo.samples.trips --emulator -o trips.parquet
  bqread export bqread-demo.samples.trips --emulator -o - -f ndjson --columns trip_id,fare_amount --where "fare_amount > 50"
  bqread export bqread-demo.samples.all_types --emulator -o all_types.ndjson --data-format avro --summary -
  bqread export --emulator -o big.csv --query 'SELECT trip_id, fare_amount FROM ` + "`bqread-demo.samples.trips`" + ` WHERE fare_amount > 50 ORDER BY fare_amount DESC'
  bqread export bqread-demo.samples.trips --emulator --dry-run`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.envDefaults(cmd.Flags())
			if err := o.query.apply(cmd.Flags(), &o.opts, args, o.stdin); err != nil {
				return err
			}
			return runExport(cmd.Context(), o)
		},
	}
	o.addFlags(cmd.Flags(), true)
	o.query.addFlags(cmd.Flags(), &o.opts)
	cmd.Flags().BoolVar(&o.query.dryRun, "dry-run", false, "read and write nothing: say what would be read (a table's estimated rows, bytes and streams, a query's bytes processed)")
	registerCompletions(cmd)
	return cmd
}

// addFlags defines the flags that map to export.Options; local adds those of a run on this machine.
func (o *exportOptions) addFlags(f *pflag.FlagSet, local bool) {
	p := &o.opts
	f.StringVarP(&p.Out, "out", "o", "", "output file, or object (gs://BUCKET/PATH, s3://BUCKET/PATH); - for stdout (a FIFO or character device is written to as a stream); a * in the file name writes one file per segment, numbered, and a manifest")
	f.StringVarP(&o.format, "format", "f", "", "output format: parquet, arrow, avro, csv, ndjson (default from the --out extension)")
	f.StringVar(&p.Compression, "compression", "", "output compression: parquet snappy|zstd|gzip|none, arrow none|lz4|zstd, avro null|deflate|snappy, csv/ndjson gzip|none")
	f.StringVar(&p.FieldDelimiter, "field-delimiter", ",", `CSV field delimiter, one character; \t or tab for a tab`)
	f.BoolFunc("print-header", "CSV: print a header row of the column names first (default true; --print-header=false leaves it out)", func(v string) error {
		on, err := strconv.ParseBool(v)
		p.NoHeader = !on
		return err
	})
	f.StringVar(&p.NullMarker, "null-marker", "", `CSV text of NULL, such as \N (default: an empty field; an empty string is then "")`)
	f.StringSliceVar(&p.Columns, "columns", nil, "columns to export, comma separated (dotted paths into STRUCTs); default all")
	f.Float64Var(&p.Sample, "sample", 0, "read about this percentage of the rows, 0 to 100, sampled by the service in whole blocks and differently on each read")
	f.StringVar(&p.Where, "where", "", "row restriction, e.g. \"fare_amount > 20 AND payment_type = 'card'\"")
	f.StringVar(&o.snapshotTime, "snapshot-time", "", "read the table as of this RFC 3339 instant")
	f.Int64Var(&p.Limit, "limit", 0, "stop after this many rows, for a preview (read with one stream); 0 for every row")
	f.IntVar(&p.Streams, "streams", 0, "maximum read streams, 1 to 1000; 0 (the default) asks for 2 x --parallelism; the server may return fewer")
	f.IntVar(&p.Parallelism, "parallelism", runtime.NumCPU(), "worker processes at once")
	f.StringVar(&p.DataFormat, "data-format", session.FormatArrow, "wire format: arrow or avro")
	f.StringVar(&p.WireCompression, "wire-compression", "none", "Arrow body compression on the wire: none, lz4, zstd")
	f.StringVar(&p.ResponseCompression, "response-compression", "none", "ReadRows payload compression on the wire, either data format: none or lz4 (not with --wire-compression)")
	f.StringVar(&p.TimestampPrecision, "timestamp-precision", "micros", "TIMESTAMP(12) (picosecond) columns read as micros, nanos or picos (ISO 8601 text); see the type mapping")
	f.StringVar(&p.Project, "project", "", "project billing the read and holding a TABLE given as dataset.table (default GOOGLE_CLOUD_PROJECT, the credentials', gcloud's; with --emulator, the samples' bqread-demo)")
	f.StringVar(&p.Location, "location", "", "refuse the table unless it is in this location (US, EU, us-central1, ...)")
	f.StringVar(&p.BillingProject, "billing-project", "", "project billed for the read, if not --project's (default the table's project when no project is found)")
	f.StringVar(&p.Endpoint, "endpoint", "", "Storage Read endpoint HOST:PORT (env BQREAD_ENDPOINT); loopback is plaintext without auth")
	f.BoolVar(&p.Plaintext, "plaintext", false, "reach a non-loopback --endpoint (an emulator in another container) without TLS or credentials (env BQREAD_PLAINTEXT=1)")
	f.StringVar(&p.WorkDir, "work-dir", "", "private directory for the manifest and segments (default <out>.bqread); must be missing, empty or an earlier bqread work dir")
	f.BoolVar(&p.Overwrite, "overwrite", false, "replace an existing --out or --summary file, and an earlier export's work dir")
	f.Int64Var(&p.SegmentRows, "segment-rows", 0, "rows per segment file (default about a million)")
	f.StringVar(&o.maxFileSize, "max-file-size", "", "with a * in --out: the most bytes of each file, such as 1GiB (default: none)")
	f.DurationVar(&p.ConnectTimeout, "connect-timeout", session.DefaultConnectTimeout, "how long creating the read session is retried on transient errors (each retry is logged)")
	f.DurationVar(&p.StallTimeout, "stall-timeout", shard.DefaultIdleTimeout, "how long a worker waits for the next response before it resumes a stalled stream")
	f.MarkHidden("segment-rows")
	if !local {
		return
	}
	f.BoolVar(&o.emulator, "emulator", false, "start the emulator in-process and read from it")
	f.StringVar(&o.emulatorData, "emulator-data", "", "with --emulator, also serve the tables under this directory")
	f.BoolVar(&p.KeepParts, "keep-parts", false, "keep the work dir after a successful merge")
	f.BoolVar(&p.Resume, "resume", false, "continue the interrupted export in the work dir, from its committed parts (same flags)")
	f.BoolFunc("split-stragglers", "when a worker is free, split the stream with the most left and read its remainder in a new worker (default true; --split-stragglers=false turns it off)", func(v string) error {
		on, err := strconv.ParseBool(v)
		p.NoSplit = !on
		return err
	})
	f.StringArrayVar(&o.faultSpecs, "emulator-fault", nil, "with --emulator, inject a fault: KIND@ROWS (see bqread serve --help); repeatable")
	f.StringVar(&p.Summary, "summary", "", "write a JSON summary to this file or object (gs://, s3://); - for stdout")
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto, bar, plain, none")
	f.DurationVar(&o.interval, "progress-interval", 5*time.Second, "time between two progress log records (--progress plain)")
}

// envDefaults applies BQREAD_ENDPOINT and BQREAD_PLAINTEXT to the flags not given.
func (o *exportOptions) envDefaults(f *pflag.FlagSet) {
	if !f.Changed("endpoint") {
		o.opts.Endpoint = os.Getenv("BQREAD_ENDPOINT")
	}
	if !f.Changed("plaintext") {
		o.opts.Plaintext = os.Getenv("BQREAD_PLAINTEXT") == "1"
	}
}

// options turns the flags into export.Options; its errors are usage errors.
func (o *exportOptions) options() (export.Options, error) {
	opts := o.opts
	if d := strings.ToLower(opts.FieldDelimiter); d == `\t` || d == "tab" {
		opts.FieldDelimiter = "\t"
	}
	if o.format != "" {
		f, err := output.ParseFormat(o.format)
		if err != nil {
			return opts, usageErrorf("%v", err)
		}
		opts.Format = f
	}
	if o.snapshotTime != "" {
		t, err := time.Parse(time.RFC3339Nano, o.snapshotTime)
		if err != nil {
			return opts, usageErrorf("export: --snapshot-time %q: use RFC 3339, e.g. 2024-02-29T12:00:00Z", o.snapshotTime)
		}
		if t.Before(time.Unix(0, 0)) { // 0001-01-01 would read as unset
			return opts, usageErrorf("export: --snapshot-time %s is before 1970: BigQuery keeps 7 days of history, use a recent instant", o.snapshotTime)
		}
		opts.SnapshotTime = t
	}
	if o.maxFileSize != "" {
		n, err := parseBytes(o.maxFileSize)
		if err != nil {
			return opts, usageErrorf("export: --max-file-size: %v", err)
		}
		opts.MaxFileSize = n
	}
	if o.opts.StallTimeout <= 0 {
		return opts, usageErrorf("export: --stall-timeout %v: use a positive duration such as 30s", o.opts.StallTimeout)
	}
	if o.opts.Parallelism < 1 {
		return opts, usageErrorf("export: --parallelism %d: use 1 or more", o.opts.Parallelism)
	}
	return opts, nil
}

// emulatorProject is the project of an --emulator run: --project or GOOGLE_CLOUD_PROJECT, else
// the samples' project, so that the samples and a query's job need no --project.
func emulatorProject(ctx context.Context, opts export.Options) string {
	return cmp.Or(session.DefaultProject(ctx, opts.Project, opts.Endpoint), emulator.SampleProject)
}

// checkLocal checks the flags of a run on this machine: progress and the emulator.
func (o *exportOptions) checkLocal() ([]emulator.Fault, error) {
	switch o.progress {
	case "auto", "bar", "plain", "none":
	default:
		return nil, usageErrorf("export: --progress %q: use auto, bar, plain or none", o.progress)
	}
	if o.interval <= 0 {
		return nil, usageErrorf("export: --progress-interval %v: use a positive duration such as 10s", o.interval)
	}
	switch {
	case o.emulator && o.opts.Endpoint != "":
		return nil, usageErrorf("export: --emulator and --endpoint (or BQREAD_ENDPOINT) both name a server: use one")
	case o.emulatorData != "" && !o.emulator:
		return nil, usageErrorf("export: --emulator-data needs --emulator")
	case len(o.faultSpecs) > 0 && !o.emulator:
		return nil, usageErrorf("export: --emulator-fault needs --emulator")
	case o.opts.Resume && o.emulator:
		return nil, usageErrorf("export: --resume cannot continue an --emulator export (its sessions ended with its process): run without --resume, or serve with `bqread serve` and pass --endpoint")
	case o.query.dryRun && o.opts.Resume:
		return nil, usageErrorf("export: --dry-run reads nothing, so there is nothing to --resume: use one")
	}
	faults, err := emulator.ParseFaults(o.faultSpecs)
	if err != nil {
		return nil, usageErrorf("export: --emulator-fault: %v", err)
	}
	return faults, nil
}

func runExport(ctx context.Context, o *exportOptions) error {
	if o.opts.Out == "" && !o.query.dryRun {
		return usageErrorf("export: --out is required (a file path, or - for stdout)")
	}
	opts, err := o.options()
	if err != nil {
		return err
	}
	faults, err := o.checkLocal()
	if err != nil {
		return err
	}
	log := o.log.logger(o.stderr)
	opts.Log = log
	opts.ExitCode = func(err error) int { return exitCode(ctx, explain(err, opts)) }
	if o.emulator {
		inst, err := emulator.Start(ctx, emulator.Options{DataDir: o.emulatorData, Faults: faults})
		if err != nil {
			return fmt.Errorf("start the emulator: %w", err)
		}
		defer inst.Close()
		opts.Endpoint, opts.Ephemeral, opts.RESTEndpoint = inst.GRPCAddr(), true, "http://"+inst.HTTPAddr()
		opts.Project = emulatorProject(ctx, opts)
	}
	if o.query.dryRun {
		return runDryRun(ctx, o, opts)
	}
	job := newJobDisplay(o.log.progressMode(o.progress), o.stderr, log, o.interval)
	opts.OnJob = job.event
	var prog *progress
	opts.OnEvent = func(e export.Event) { prog.event(e) }
	e, err := export.Plan(ctx, opts)
	job.end()
	if err != nil {
		return explain(err, opts)
	}
	if opts.Sample > 0 {
		log.Warn("sampling: the service picks whole blocks of rows, and other ones on each read", "percent", opts.Sample)
	}
	if opts.Out == "-" && (opts.Format == output.Parquet || opts.Format == output.Arrow) {
		log.Info("streaming a file format: its reader must wait for the footer, written at the end", "format", opts.Format)
	}
	prog = newProgress(o.log.progressMode(o.progress), o.stderr, log, e.Streams(), e.EstimatedRows())
	prog.every = o.interval
	if e.Ordered() {
		prog.note = "one stream, to keep the order of the query's ORDER BY"
		log.Info("reading one stream: the query's top level has ORDER BY, whose order only one stream keeps")
	}
	prog.start(ctx)
	sum, err := e.Run(ctx)
	prog.stop()
	if err != nil {
		return explain(err, opts)
	}
	reportDone(o.log.progressMode(o.progress), o.stderr, log, sum)
	return nil
}

// runDryRun says what the export would read, on stdout (stderr when the JSON summary goes there).
func runDryRun(ctx context.Context, o *exportOptions, opts export.Options) error {
	sum, err := export.DryRun(ctx, opts)
	if err != nil {
		return explain(err, opts)
	}
	w := opts.Stdout
	if opts.Summary == "-" {
		w = o.stderr
	}
	reportDryRun(w, sum)
	return nil
}

// flagNames maps the export.Options fields that errors name to the flags that set them.
var flagNames = map[string]string{
	"Table": "TABLE", "Out": "--out", "Format": "--format", "Compression": "--compression", "Columns": "--columns",
	"Where": "--where", "SnapshotTime": "--snapshot-time", "Streams": "--streams", "Parallelism": "--parallelism",
	"DataFormat": "--data-format", "WireCompression": "--wire-compression", "ResponseCompression": "--response-compression", "TimestampPrecision": "--timestamp-precision", "Endpoint": "--endpoint",
	"WorkDir": "--work-dir", "Overwrite": "--overwrite", "Resume": "--resume", "Summary": "--summary",
	"Tasks": "--tasks", "SegmentRows": "--segment-rows", "MaxFileSize": "--max-file-size", "StallTimeout": "--stall-timeout",
	"FieldDelimiter": "--field-delimiter", "NoHeader": "--print-header", "NullMarker": "--null-marker",
	"ConnectTimeout": "--connect-timeout", "Plaintext": "--plaintext", "Project": "--project", "BillingProject": "--billing-project", "Limit": "--limit", "Location": "--location", "Sample": "--sample",
	"Query": "--query", "Labels": "--labels", "MaximumBytesBilled": "--maximum-bytes-billed", "DestinationTable": "--destination-table", "RESTEndpoint": "--rest-endpoint",
}

// flagName names an export.Options field by its flag.
func flagName(field string) string {
	if f, ok := flagNames[field]; ok {
		return f
	}
	return strings.ToLower(field)
}
