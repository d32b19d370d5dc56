package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/bqread/bqread/export"
)

// queryFlags are the flags of a query export (export and plan take them) and export's --dry-run.
type queryFlags struct {
	command     string // the command that takes them, for its errors
	query, file string
	labels      []string
	dryRun      bool
}

func (q *queryFlags) addFlags(f *pflag.FlagSet, o *export.Options) {
	f.StringVar(&q.query, "query", "", "export the result of this GoogleSQL query (run as a BigQuery job) instead of a TABLE")
	f.StringVar(&q.file, "query-file", "", "read the --query from this file; - for stdin")
	f.StringArrayVar(&q.labels, "labels", nil, "with --query, a label KEY=VALUE of the job; repeatable")
	f.Int64Var(&o.MaximumBytesBilled, "maximum-bytes-billed", 0, "with --query, fail the job rather than bill more than this many bytes (default the project's)")
	f.StringVar(&o.DestinationTable, "destination-table", "", "with --query, keep the result in this `TABLE`, project.dataset.table (default the job's anonymous table)")
	f.StringVar(&o.RESTEndpoint, "rest-endpoint", "", "with --query, the `URL` of BigQuery's REST API, http://HOST:PORT (env BQREAD_REST_ENDPOINT; with --endpoint, the http address of bqread serve)")
}

// apply sets the query options: the SQL from --query, --query-file or stdin, and the labels.
// TABLE (args) and a query exclude each other.
func (q *queryFlags) apply(f *pflag.FlagSet, o *export.Options, args []string, stdin io.Reader) error {
	if !f.Changed("rest-endpoint") {
		o.RESTEndpoint = os.Getenv("BQREAD_REST_ENDPOINT")
	}
	switch n := len(args); {
	case q.query != "" && q.file != "":
		return usageErrorf("%s: --query and --query-file both give the query: use one", q.command)
	case q.query == "" && q.file == "" && n == 0:
		return usageErrorf("%s: name a TABLE, or give --query or --query-file: run bqread %s --help", q.command, q.command)
	case n == 1 && (q.query != "" || q.file != ""):
		return usageErrorf("%s: TABLE and a query both say what to export: use one", q.command)
	case n == 1:
		o.Table = args[0]
	}
	o.Query = q.query
	if q.file != "" {
		sql, err := readQueryFile(q.command, q.file, stdin)
		if err != nil {
			return err
		}
		o.Query = sql
	}
	if strings.TrimSpace(o.Query) == "" && o.Table == "" {
		return usageErrorf("%s: the query is empty: give a GoogleSQL SELECT", q.command)
	}
	for _, l := range q.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return usageErrorf("%s: --labels %q: use KEY=VALUE", q.command, l)
		}
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[k] = v
	}
	if o.Query == "" && (len(q.labels) > 0 || o.MaximumBytesBilled != 0 || o.DestinationTable != "") {
		return usageErrorf("%s: --labels, --maximum-bytes-billed and --destination-table apply to a --query only", q.command)
	}
	return nil
}

// readQueryFile reads the query from path, or from stdin when path is "-".
func readQueryFile(command, path string, stdin io.Reader) (string, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return "", usageErrorf("%s: --query-file: %v", command, err)
	}
	return string(data), nil
}

// jobDisplay shows a query job's state while it runs, as progress shows rows: a line redrawn in
// place on a terminal, or a log record when the state changes and every interval otherwise.
type jobDisplay struct {
	mode  string
	w     io.Writer
	log   *slog.Logger
	every time.Duration

	mu    sync.Mutex
	state string
	last  time.Time
	begin time.Time
}

func newJobDisplay(mode string, w io.Writer, log *slog.Logger, every time.Duration) *jobDisplay {
	return &jobDisplay{mode: displayMode(mode, w), w: w, log: log, every: every, begin: time.Now()}
}

// event shows one poll of the job.
func (d *jobDisplay) event(e export.JobProgress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := e.State != d.state
	d.state = e.State
	elapsed := time.Since(d.begin).Round(time.Second)
	switch d.mode {
	case "bar":
		fmt.Fprintf(d.w, "\r\x1b[2K  query job %s  %-7s %10s processed  %s", e.Job, e.State, size(e.BytesProcessed), elapsed)
		if e.State == "DONE" {
			fmt.Fprintln(d.w)
		}
	case "plain":
		if changed || time.Since(d.last) >= d.every {
			d.log.Info("query job", "job", e.Job, "state", e.State, "bytes_processed", e.BytesProcessed, "seconds", elapsed.Seconds())
			d.last = time.Now()
		}
	}
}

// end ends a line left open on a terminal by a job that did not reach DONE (an interrupt), so
// that what follows starts on a line of its own.
func (d *jobDisplay) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mode == "bar" && d.state != "" && d.state != "DONE" {
		fmt.Fprintln(d.w)
	}
}

// reportDryRun says, for a person, what a dry run found would be read.
func reportDryRun(w io.Writer, s *export.Summary) {
	if s.Query != nil {
		fmt.Fprintf(w, "dry run: the query would process %s (%d bytes); nothing was run, read or written\n",
			size(s.Query.BytesProcessed), s.Query.BytesProcessed)
		return
	}
	fmt.Fprintf(w, "dry run: %s: %d streams, about %d rows and %s (%d bytes) scanned, as the service estimates; nothing was read or written\n",
		s.Table, s.Streams, s.EstimatedRows, size(s.EstimatedBytesScanned), s.EstimatedBytesScanned)
}
