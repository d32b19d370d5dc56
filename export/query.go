package export

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/bqread/bqread/session"
)

// JobProgress is the state of a query job as it is polled, passed to Options.OnJob.
type JobProgress struct {
	Job            string // project:location.id
	State          string // PENDING, RUNNING or DONE
	BytesProcessed int64
}

// JobError is a query job that BigQuery refused or that failed: Reason is BigQuery's (invalidQuery,
// accessDenied, quotaExceeded, bytesBilledLimitExceeded, ...), Message its text, which for an
// invalid query names the line and column ([3:14]). A bad query (invalidQuery, invalid, notFound,
// duplicate, bytesBilledLimitExceeded) wraps ErrUsage.
type JobError struct {
	Job     string // project:location.id; "" when jobs.insert itself was refused
	Reason  string
	Message string
}

func (e *JobError) Error() string {
	job := "query job"
	if e.Job != "" {
		job += " " + e.Job
	}
	return fmt.Sprintf("%s failed: %s: %s", job, e.Reason, e.Message)
}

// Is makes a bad query a usage error.
func (e *JobError) Is(target error) bool {
	if target != ErrUsage {
		return false
	}
	switch e.Reason {
	case "invalidQuery", "invalid", "notFound", "duplicate", "bytesBilledLimitExceeded":
		return true
	}
	return false
}

// jobPollMax is the longest wait between two polls of a running job.
const jobPollMax = 5 * time.Second

// queryResult is what a finished query job left to read.
type queryResult struct {
	job   *session.QueryJob
	table session.TableRef // its destination table
}

// checkQuery checks the options of a query export; p.req.Table stays unset until the job has run.
func checkQuery(p *plan, _ time.Time) error {
	o := &p.opts
	if o.Query == "" {
		return nil
	}
	for _, f := range []struct {
		field string
		set   bool
	}{{"Table", o.Table != ""}, {"Columns", len(o.Columns) > 0}, {"Where", o.Where != ""},
		{"SnapshotTime", !o.SnapshotTime.IsZero()}, {"Sample", o.Sample != 0}} {
		if f.set {
			return optionErrorf("{{Query}} and {{%s}} cannot be used together: select the columns and rows in the query", f.field)
		}
	}
	if o.BillingProject == "" {
		return optionErrorf("{{Query}} needs a project to run its job in: pass {{Project}} or set GOOGLE_CLOUD_PROJECT")
	}
	if o.DestinationTable != "" {
		if _, err := session.ParseTableIn(o.DestinationTable, o.BillingProject); err != nil {
			return asUsage(fmt.Errorf("destination table: %w", err))
		}
	}
	if o.MaximumBytesBilled < 0 {
		return optionErrorf("{{MaximumBytesBilled}} %d: use 1 or more, or 0 for the project's default", o.MaximumBytesBilled)
	}
	if o.Endpoint != "" && o.RESTEndpoint == "" {
		return optionErrorf("{{Query}} with an {{Endpoint}} needs the {{RESTEndpoint}} of the same server, where its job runs")
	}
	if orderedAtTopLevel(o.Query) {
		p.req.MaxStreams, p.ordered = 1, true
	}
	return checkRESTEndpoint(o.RESTEndpoint, o.Plaintext)
}

// checkRESTEndpoint refuses a RESTEndpoint that is not an http or https URL of a host and port,
// and a plaintext one that is not on this machine without Plaintext.
func checkRESTEndpoint(endpoint string, plaintext bool) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
		return optionErrorf("{{RESTEndpoint}} %q: want http://HOST:PORT or https://HOST:PORT, e.g. http://127.0.0.1:9050", endpoint)
	}
	loopback, _ := session.IsLoopback(u.Host)
	if u.Scheme == "http" && !loopback && !plaintext {
		return optionErrorf("{{RESTEndpoint}} %s is plain http to another machine: pass {{Plaintext}} to reach an emulator there without credentials", endpoint)
	}
	return nil
}

// bigQueryClient returns a client of the BigQuery REST API billing project: at RESTEndpoint
// (loopback or Plaintext: without credentials), else Google's with Application Default
// Credentials. A RESTEndpoint nothing listens on is named at once: the client would retry a
// refused connection until the context ends.
func (p *plan) bigQueryClient(ctx context.Context) (*bigquery.Client, error) {
	var opts []option.ClientOption
	if ep := p.opts.RESTEndpoint; ep != "" {
		u, _ := url.Parse(ep) // checked by checkRESTEndpoint
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrRESTEndpoint, ep, err)
		}
		conn.Close()
		if u.Path == "" || u.Path == "/" {
			u.Path = "/bigquery/v2/"
		}
		opts = append(opts, option.WithEndpoint(u.String()))
		if loopback, _ := session.IsLoopback(u.Host); loopback || p.opts.Plaintext {
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	c, err := bigquery.NewClient(ctx, p.opts.BillingProject, opts...)
	if err != nil {
		return nil, &session.ClientError{Endpoint: p.opts.RESTEndpoint, Err: err}
	}
	return c, nil
}

// newQuery returns the job configuration of the options' query.
func (p *plan) newQuery(c *bigquery.Client, dryRun bool) *bigquery.Query {
	o := p.opts
	q := c.Query(o.Query)
	q.Location, q.Labels, q.MaxBytesBilled, q.DryRun = o.Location, o.Labels, o.MaximumBytesBilled, dryRun
	if o.DestinationTable != "" {
		t, _ := session.ParseTableIn(o.DestinationTable, o.BillingProject) // checked by checkQuery
		q.Dst = c.DatasetInProject(t.Project, t.Dataset).Table(t.Table)
		if o.Overwrite {
			q.WriteDisposition = bigquery.WriteTruncate
		}
	}
	return q
}

// runQuery runs the options' query as a job, waits for it with backoff (reporting each poll to
// OnJob), and returns its destination table. Cancelling ctx while the job runs cancels the job.
func (p *plan) runQuery(ctx context.Context) (*queryResult, error) {
	c, err := p.bigQueryClient(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	q := p.newQuery(c, false)
	q.JobID = "bqread_" + rand.Text() // known before jobs.insert answers, to cancel it
	job, err := q.Run(ctx)
	if err != nil && ctx.Err() != nil {
		p.cancelJobID(ctx, c, q.JobID)
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, apiError("", err)
	}
	name := jobName(job)
	bo := gax.Backoff{Initial: 100 * time.Millisecond, Max: jobPollMax, Multiplier: 1.6}
	for st := job.LastStatus(); ; {
		if st != nil {
			p.jobEvent(name, st)
			if st.Done() {
				break
			}
		}
		select {
		case <-ctx.Done():
			p.cancelJob(ctx, job)
			return nil, ctx.Err()
		case <-time.After(bo.Pause()):
		}
		if st, err = job.Status(ctx); err != nil && ctx.Err() == nil {
			return nil, apiError(name, err)
		}
	}
	return p.finishedQuery(ctx, c, job, name)
}

// finishedQuery reads the finished job again, whole, and returns its destination table, or the
// job's error.
func (p *plan) finishedQuery(ctx context.Context, c *bigquery.Client, job *bigquery.Job, name string) (*queryResult, error) {
	job, err := c.JobFromProject(ctx, job.ProjectID(), job.ID(), job.Location())
	if err != nil {
		return nil, apiError(name, err)
	}
	st := job.LastStatus()
	if err := st.Err(); err != nil {
		return nil, apiError(name, err)
	}
	cfg, err := job.Config()
	if err != nil {
		return nil, err
	}
	qc, _ := cfg.(*bigquery.QueryConfig)
	if qc == nil || qc.Dst == nil {
		return nil, &JobError{Job: name, Reason: "invalidQuery", Message: "the statement leaves no result table to export: export a SELECT query"}
	}
	res := &queryResult{job: &session.QueryJob{SQL: p.opts.Query, Job: name, DestinationTable: p.opts.DestinationTable},
		table: session.TableRef{Project: qc.Dst.ProjectID, Dataset: qc.Dst.DatasetID, Table: qc.Dst.TableID}}
	if qs, ok := st.Statistics.Details.(*bigquery.QueryStatistics); ok {
		res.job.BytesProcessed, res.job.BytesBilled, res.job.CacheHit = qs.TotalBytesProcessed, qs.TotalBytesBilled, qs.CacheHit
	}
	return res, nil
}

// dryRunQuery returns the bytes the options' query would process, from a dry-run job.
func (p *plan) dryRunQuery(ctx context.Context) (int64, error) {
	c, err := p.bigQueryClient(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	job, err := p.newQuery(c, true).Run(ctx)
	if err != nil {
		return 0, apiError("", err)
	}
	st := job.LastStatus()
	if st == nil || st.Statistics == nil {
		return 0, errors.New("dry-run job: BigQuery returned no statistics")
	}
	return st.Statistics.TotalBytesProcessed, nil
}

// jobEvent passes the job's state to OnJob.
func (p *plan) jobEvent(name string, st *bigquery.JobStatus) {
	if p.opts.OnJob == nil {
		return
	}
	e := JobProgress{Job: name, State: [...]string{"UNSPECIFIED", "PENDING", "RUNNING", "DONE"}[st.State]}
	if st.Statistics != nil {
		e.BytesProcessed = st.Statistics.TotalBytesProcessed
	}
	p.opts.OnJob(e)
}

// cancelJobID cancels the job of that ID, if jobs.insert created it before ctx was done.
func (p *plan) cancelJobID(ctx context.Context, c *bigquery.Client, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if job, err := c.JobFromIDLocation(ctx, id, p.opts.Location); err == nil {
		p.cancelJob(ctx, job)
	}
}

// cancelJob asks BigQuery to cancel job, under a context of its own since ctx is done.
func (p *plan) cancelJob(ctx context.Context, job *bigquery.Job) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if st := job.LastStatus(); st != nil && st.Done() {
		return
	}
	if err := job.Cancel(ctx); err != nil {
		p.log().Warn("query job not cancelled", "job", jobName(job), "error", err)
		return
	}
	p.log().Info("query job cancelled", "job", jobName(job))
}

func jobName(j *bigquery.Job) string {
	return j.ProjectID() + ":" + j.Location() + "." + j.ID()
}

// apiError turns an error of the BigQuery REST API (an HTTP error, or a failed job's error
// result) into a *JobError carrying BigQuery's reason and message; other errors are returned as
// they are.
func apiError(job string, err error) error {
	var be *bigquery.Error
	if errors.As(err, &be) {
		return &JobError{Job: job, Reason: be.Reason, Message: be.Message}
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		je := &JobError{Job: job, Reason: fmt.Sprint(ge.Code), Message: ge.Message}
		if len(ge.Errors) > 0 {
			je.Reason = ge.Errors[0].Reason
			if je.Message == "" {
				je.Message = ge.Errors[0].Message
			}
		}
		return je
	}
	return err
}
