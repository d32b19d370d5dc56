package export

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/schema"
	"github.com/bqread/bqread/session"
)

// Export is a planned export: its read session exists and its manifest is in its work dir.
type Export struct {
	p       *plan
	dir     *workdir.Dir
	m       *session.Manifest
	temp    bool // the work dir is a temp dir the options did not name
	start   time.Time
	planned time.Time
	resumed bool
}

// Plan checks every option, creates the work dir and the read session, and saves the session's
// manifest in the work dir, which it keeps for this process (a second export there is refused
// until Run returns or Close is called); with Resume it opens the work dir of an interrupted export instead,
// after checking that it is the export the options describe and that its session still lives.
// Nothing is read yet: Run reads and merges, or workers run elsewhere (RunWorker) and Merge
// finishes.
func Plan(ctx context.Context, opts Options) (*Export, error) {
	start := time.Now()
	p, err := opts.check(ctx, start)
	if err != nil {
		return nil, err
	}
	e := &Export{p: p, start: start, resumed: opts.Resume}
	if opts.Resume {
		err = e.reopen(ctx, start)
	} else {
		err = e.create(ctx)
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w before the read started; nothing was written", ErrInterrupted)
	}
	if err != nil {
		_, err = p.report(nil, err, nil)
		return nil, err
	}
	e.planned = time.Now()
	return e, nil
}

// Streams returns the number of read streams of the session.
func (e *Export) Streams() int { return len(e.m.Streams) }

// Table returns the table the export reads, project.dataset.table: Options.Table's, or the
// destination table of the Query's job.
func (e *Export) Table() string { return e.m.Table }

// Tasks returns the number of tasks the workers were planned as.
func (e *Export) Tasks() int { return e.m.Tasks }

// Ordered reports whether the export reads one stream because its Query orders its rows.
func (e *Export) Ordered() bool { return e.p.ordered }

// EstimatedRows returns the server's estimate of the rows the session reads.
func (e *Export) EstimatedRows() int64 { return e.m.EstimatedRows }

// WorkDir returns the work dir's path.
func (e *Export) WorkDir() string { return e.dir.Path() }

// ExpireTime returns when the read session expires (zero if the server did not say).
func (e *Export) ExpireTime() time.Time { return e.m.ExpireTime }

// create makes the work dir, runs the Query's job, creates the read session and saves the
// manifest. The work dir is made (or checked) first, and removed again if the job fails or the
// session cannot be used.
func (e *Export) create(ctx context.Context) error {
	path := e.p.workDirPath()
	var err error
	if path == "" {
		e.dir, err = workdir.CreateTemp()
		e.temp = true
	} else {
		e.dir, err = workdir.Create(path, e.p.opts.Overwrite)
	}
	if err != nil {
		return workDirError(err)
	}
	var q *queryResult
	if e.p.opts.Query != "" {
		q, err = e.p.runQuery(ctx)
	}
	if err == nil && q != nil {
		e.p.req.Table = q.table
	}
	if err == nil {
		e.m, err = e.p.createManifest(ctx)
	}
	if err == nil && q != nil {
		e.m.Query = q.job
	}
	if err == nil {
		err = e.m.Save(ctx, e.dir.Store())
	}
	if err != nil {
		e.removeWorkDir()
		e.Close()
		return err
	}
	return nil
}

// openLocked opens an earlier export's work dir for this process alone (workdir.Dir.Lock).
func openLocked(path string) (*workdir.Dir, error) {
	d, err := workdir.Open(path)
	if err != nil {
		return nil, workDirError(err)
	}
	if err := d.Lock(); err != nil {
		d.Close()
		return nil, workDirError(err)
	}
	return d, nil
}

// Close releases the work dir that Plan took for this process, and a bucket's client (Run does
// so when it returns).
func (e *Export) Close() { e.dir.Close() }

// workDirError marks a work dir that cannot be used as bad input.
func workDirError(err error) error {
	var we *workdir.Error
	if errors.As(err, &we) {
		return asUsage(err)
	}
	return err
}

// removeWorkDir removes what bqread created in the work dir; what it cannot remove is named in a
// warning, since the export itself is over.
func (e *Export) removeWorkDir() {
	if err := e.dir.Remove(); err != nil {
		e.p.log().Warn("work dir not removed", "dir", e.dir.Path(), "error", err)
	}
}

// createManifest creates the read session and the manifest describing it.
func (p *plan) createManifest(ctx context.Context) (*session.Manifest, error) {
	m, err := p.openSession(ctx, session.Output{Format: string(p.opts.Format), Compression: p.outOpts.Compression,
		FieldDelimiter: p.outOpts.FieldDelimiter, NoHeader: p.outOpts.NoHeader, NullMarker: p.outOpts.NullMarker,
		SegmentRows: p.opts.SegmentRows, MaxBytes: bodyLimit(p.opts.MaxFileSize)})
	if err != nil {
		return nil, err
	}
	if err := p.checkLocation(m.Session); err != nil {
		return nil, err
	}
	if p.opts.Format == output.Avro {
		m.Output.AvroSync = make([]byte, 16) // one sync marker for every segment: their blocks join
		rand.Read(m.Output.AvroSync)
	}
	m.StallTimeout, m.Plaintext, m.Limit = p.opts.StallTimeout, p.opts.Plaintext, p.opts.Limit
	m.Tasks = p.opts.Tasks
	if m.Tasks == 0 {
		m.Tasks = len(m.Streams)
	}
	return m, p.checkOutputSchema(m)
}

// checkLocation refuses a session (projects/P/locations/L/sessions/S) outside Options.Location.
func (p *plan) checkLocation(sessionName string) error {
	_, rest, _ := strings.Cut(sessionName, "/locations/")
	loc, _, _ := strings.Cut(rest, "/")
	if p.opts.Location == "" || strings.EqualFold(loc, p.opts.Location) {
		return nil
	}
	return optionErrorf("{{Table}} %s is in location %s, not {{Location}} %s: nothing was read", p.req.Table, loc, p.opts.Location)
}

// ReadSchema returns the BigQuery schema of a read session of opts.Table (of opts.Columns), as an
// export would write it, without reading a row. It uses Table, Columns, Project, BillingProject,
// Endpoint, Plaintext and ConnectTimeout.
func ReadSchema(ctx context.Context, opts Options) (schema.Schema, error) {
	table, billing, err := opts.table(ctx)
	if err != nil {
		return nil, err
	}
	p := &plan{opts: opts, req: session.Request{Table: table, BillingProject: billing, Columns: opts.Columns, MaxStreams: 1}}
	if p.opts.ConnectTimeout == 0 {
		p.opts.ConnectTimeout = session.DefaultConnectTimeout
	}
	if err := checkEndpoint(opts); err != nil {
		return nil, err
	}
	m, err := p.openSession(ctx, session.Output{})
	if err != nil {
		return nil, err
	}
	return m.Schema, nil
}

// openSession probes the endpoint, creates the read session of the plan's request and describes
// it in a manifest that writes out.
func (p *plan) openSession(ctx context.Context, out session.Output) (*session.Manifest, error) {
	client, err := session.NewClient(ctx, p.opts.Endpoint, p.opts.Plaintext)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := session.Probe(ctx, p.opts.Endpoint, p.opts.Plaintext); err != nil {
		return nil, err
	}
	rs, err := session.Create(ctx, client, p.req, session.WithConnectTimeout(p.opts.ConnectTimeout),
		session.OnRetry(func(attempt int, err error, delay time.Duration) {
			p.log().Warn("create read session: retrying", "attempt", attempt, "code", status.Code(err).String(), "error", err, "delay", delay)
		}))
	if err != nil {
		return nil, sessionError(err)
	}
	return session.NewManifest(rs, p.req, p.opts.Endpoint, out)
}

// sessionError marks the CreateReadSession failures that bad input causes.
func sessionError(err error) error {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound:
		return asUsage(err)
	}
	return err
}

// checkOutputSchema refuses, before anything is written, a session whose columns the output
// format cannot hold (CSV and nested or repeated columns).
func (p *plan) checkOutputSchema(m *session.Manifest) error {
	w, err := output.NewWriter(io.Discard, p.opts.Format, schema.ArrowSchema(m.Schema), p.outOpts)
	if err != nil {
		return asUsage(fmt.Errorf("export: %w", err))
	}
	return w.Close()
}

// reopen opens the work dir of an interrupted export and checks that it is the export asked for
// and that its session can still be read. An expired session's work dir is removed.
func (e *Export) reopen(ctx context.Context, now time.Time) error {
	path := e.p.workDirPath()
	if path == "" {
		return optionErrorf("{{Resume}} of a stream output needs the {{WorkDir}} of the interrupted export")
	}
	d, err := openLocked(path)
	if err != nil {
		return err
	}
	e.dir = d
	m, err := session.LoadManifest(ctx, d.Store())
	if errors.Is(err, store.ErrNotExist) {
		d.Unlock()
		return optionErrorf("{{WorkDir}} %s holds no export to resume: start without {{Resume}}", path)
	}
	if err != nil {
		d.Unlock()
		return optionErrorf("{{WorkDir}} %s: %v: remove it and start without {{Resume}}", path, err)
	}
	if err := sameExport(m, e.p); err != nil {
		d.Unlock()
		return optionErrorf("{{WorkDir}} %s was started %v: use the same options, or remove it and start without {{Resume}}", path, err)
	}
	e.m = m
	if !m.ExpireTime.IsZero() && !now.Before(m.ExpireTime) {
		e.removeWorkDir()
		return fmt.Errorf("%w at %s, so its parts were removed", ErrSessionExpired, m.ExpireTime.UTC().Format(time.RFC3339))
	}
	return nil
}

// sameExport returns an error saying what differs between the manifest of an earlier export and
// the one planned now.
func sameExport(m *session.Manifest, p *plan) error {
	diff := func(what, was, now string) error {
		return fmt.Errorf("with {{%s}} %q, not %q", what, was, now)
	}
	var q session.QueryJob
	if m.Query != nil {
		q = *m.Query
	}
	switch {
	case q.SQL != p.opts.Query:
		return diff("Query", q.SQL, p.opts.Query)
	case q.DestinationTable != p.opts.DestinationTable:
		return diff("DestinationTable", q.DestinationTable, p.opts.DestinationTable)
	case p.opts.Query == "" && m.Table != p.req.Table.String():
		return diff("Table", m.Table, p.req.Table.String())
	case m.Output.Format != string(p.opts.Format):
		return diff("Format", m.Output.Format, string(p.opts.Format))
	case m.Output.Compression != p.outOpts.Compression:
		return diff("Compression", m.Output.Compression, p.outOpts.Compression)
	case m.Output.FieldDelimiter != p.outOpts.FieldDelimiter:
		return diff("FieldDelimiter", m.Output.FieldDelimiter, p.outOpts.FieldDelimiter)
	case m.Output.NoHeader != p.outOpts.NoHeader:
		return diff("NoHeader", fmt.Sprint(m.Output.NoHeader), fmt.Sprint(p.outOpts.NoHeader))
	case m.Output.NullMarker != p.outOpts.NullMarker:
		return diff("NullMarker", m.Output.NullMarker, p.outOpts.NullMarker)
	case !slices.Equal(m.Columns, p.req.Columns):
		return diff("Columns", strings.Join(m.Columns, ","), strings.Join(p.req.Columns, ","))
	case m.Where != p.req.Where:
		return diff("Where", m.Where, p.req.Where)
	case m.Sample != p.req.Sample:
		return diff("Sample", fmt.Sprint(m.Sample), fmt.Sprint(p.req.Sample))
	case m.DataFormat != p.req.DataFormat:
		return diff("DataFormat", m.DataFormat, p.req.DataFormat)
	case m.WireCompression != p.req.Compression:
		return diff("WireCompression", m.WireCompression, p.req.Compression)
	case m.ResponseCompression != p.req.ResponseCompression:
		return diff("ResponseCompression", m.ResponseCompression, p.req.ResponseCompression)
	case m.TimestampPrecision != p.req.TimestampPrecision:
		return diff("TimestampPrecision", m.TimestampPrecision, p.req.TimestampPrecision)
	case !p.req.SnapshotTime.IsZero() && !p.req.SnapshotTime.Equal(m.SnapshotTime):
		return diff("SnapshotTime", m.SnapshotTime.Format(time.RFC3339Nano), p.req.SnapshotTime.Format(time.RFC3339Nano))
	case m.Endpoint != p.opts.Endpoint:
		return diff("Endpoint", m.Endpoint, p.opts.Endpoint)
	case m.Limit != p.opts.Limit:
		return diff("Limit", fmt.Sprint(m.Limit), fmt.Sprint(p.opts.Limit))
	case m.Plaintext != p.opts.Plaintext:
		return diff("Plaintext", fmt.Sprint(m.Plaintext), fmt.Sprint(p.opts.Plaintext))
	}
	return nil
}
