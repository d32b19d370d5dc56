package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	bq "google.golang.org/api/bigquery/v2"

	"github.com/bqread/bqread/emulator/filter"
	"github.com/bqread/bqread/emulator/sql"
	"github.com/bqread/bqread/schema"
)

// DefaultJobRunTime is how long a query job is RUNNING before it is DONE, by default.
const DefaultJobRunTime = 100 * time.Millisecond

// JobFault makes every query job that reads Table (project.dataset.table) fail with Reason, in
// the words and with the HTTP status BigQuery uses: "accessDenied" (403, the caller may not read
// the table) or "quotaExceeded" (403, the project's query quota is used up).
type JobFault struct {
	Table  string
	Reason string
}

// JobFaultReasons are the reasons a JobFault takes.
var JobFaultReasons = []string{"accessDenied", "quotaExceeded"}

// ParseJobFaults parses REASON@PROJECT.DATASET.TABLE specs (the serve command's --job-fault).
func ParseJobFaults(specs []string) ([]JobFault, error) {
	var out []JobFault
	for _, spec := range specs {
		reason, table, _ := strings.Cut(spec, "@")
		if !slices.Contains(JobFaultReasons, reason) || len(strings.Split(table, ".")) != 3 {
			return nil, fmt.Errorf("%q: use REASON@PROJECT.DATASET.TABLE with a reason of %v", spec, JobFaultReasons)
		}
		out = append(out, JobFault{Table: table, Reason: reason})
	}
	return out, nil
}

// jobError is a failed job's error: BigQuery's reason, message and the HTTP status of the
// requests that report it.
type jobError struct {
	code          int
	reason, msg   string
	queryLocation bool // the error is about the query text
}

func (e *jobError) Error() string { return e.msg }

func (e *jobError) proto() *bq.ErrorProto {
	p := &bq.ErrorProto{Reason: e.reason, Message: e.msg}
	if e.queryLocation {
		p.Location = "query"
	}
	return p
}

func invalidQuery(err error) *jobError {
	return &jobError{code: http.StatusBadRequest, reason: "invalidQuery", msg: err.Error(), queryLocation: true}
}

func jobFaultError(reason string, r tableRef) *jobError {
	name := r.Project + ":" + r.Dataset + "." + r.Table
	if reason == "quotaExceeded" {
		return &jobError{code: http.StatusForbidden, reason: reason,
			msg: "Quota exceeded: Your project exceeded quota for free query bytes scanned. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas"}
	}
	return &jobError{code: http.StatusForbidden, reason: "accessDenied",
		msg: "Access Denied: Table " + name + ": User does not have permission to query table " + name + ", or perhaps it does not exist."}
}

var errStopped = &jobError{code: http.StatusBadRequest, reason: "stopped", msg: "Job execution was cancelled: User requested cancellation"}

// Job states.
const (
	statePending = "PENDING"
	stateRunning = "RUNNING"
	stateDone    = "DONE"
)

// job is one query job. Its fields after ref are guarded by jobStore.mu.
type job struct {
	ref     bq.JobReference
	config  *bq.JobConfiguration
	created time.Time
	plan    *sql.Plan
	source  *tableVersion
	dest    tableRef
	bytes   int64 // estimated bytes processed
	done    chan struct{}

	state          string
	started, ended time.Time
	err            *jobError
	result         *tableVersion
	timer          *time.Timer
}

type jobKey struct{ project, id string }

// jobStore holds the query jobs of an emulator instance.
type jobStore struct {
	cat         *catalog
	runTime     time.Duration
	pendingTime time.Duration
	faults      map[tableRef]string
	now         func() time.Time

	quit chan struct{} // closed by close, to end the waits of jobs.query and getQueryResults

	mu   sync.Mutex
	jobs map[jobKey]*job
}

func newJobStore(cat *catalog, o Options) (*jobStore, error) {
	s := &jobStore{cat: cat, runTime: o.JobRunTime, pendingTime: o.JobPendingTime, now: o.Now, faults: map[tableRef]string{}, jobs: map[jobKey]*job{},
		quit: make(chan struct{})}
	for _, f := range o.JobFaults {
		parts := strings.Split(f.Table, ".")
		if len(parts) != 3 || !slices.Contains(JobFaultReasons, f.Reason) {
			return nil, fmt.Errorf("job fault %+v: name a table as project.dataset.table and a reason of %v", f, JobFaultReasons)
		}
		s.faults[tableRef{parts[0], parts[1], parts[2]}] = f.Reason
	}
	return s, nil
}

// close stops the jobs still running (they never finish) and the requests waiting for them.
func (s *jobStore) close() {
	close(s.quit)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.timer != nil {
			j.timer.Stop()
		}
	}
}

// queryRequest is what jobs.insert and jobs.query share.
type queryRequest struct {
	project, jobID, location string
	query                    *bq.JobConfigurationQuery
	dryRun                   bool
	labels                   map[string]string
}

// newJobID returns a job ID like the official clients make.
func newJobID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "job_" + hex.EncodeToString(b)
}

// plan checks a query request and plans its job. The error is the job's (or the request's, for a
// dry run); the job is returned with it, to be registered as failed.
func (s *jobStore) plan(ctx context.Context, req queryRequest) (*job, *jobError) {
	q := req.query
	j := &job{config: &bq.JobConfiguration{JobType: "QUERY", Query: q, DryRun: req.dryRun, Labels: req.labels},
		created: s.now(), done: make(chan struct{})}
	j.ref = bq.JobReference{ProjectId: req.project, JobId: req.jobID, Location: restLocation}
	if q.UseLegacySql == nil || *q.UseLegacySql {
		return j, &jobError{code: http.StatusBadRequest, reason: "invalidQuery", queryLocation: true,
			msg: sql.UnsupportedPrefix + "legacy SQL (send useLegacySql: false; BigQuery's default is legacy SQL)"}
	}
	if loc := req.location; loc != "" && !strings.EqualFold(loc, restLocation) {
		return j, &jobError{code: http.StatusNotFound, reason: "notFound",
			msg: "Not found: the emulator's datasets are in location " + restLocation + ", not " + loc}
	}
	d := sql.Defaults{Project: req.project}
	if q.DefaultDataset != nil {
		d.Dataset = q.DefaultDataset.DatasetId
		if q.DefaultDataset.ProjectId != "" {
			d.Project = q.DefaultDataset.ProjectId
		}
	}
	parsed, err := sql.Parse(q.Query, d)
	if err != nil {
		return j, invalidQuery(err)
	}
	ref := tableRef{parsed.Table.Project, parsed.Table.Dataset, parsed.Table.Table}
	if reason := s.faults[ref]; reason != "" {
		return j, jobFaultError(reason, ref)
	}
	v, err := s.cat.resolve(ctx, ref, timeZero)
	switch {
	case errors.Is(err, errNotFound):
		return j, &jobError{code: http.StatusNotFound, reason: "notFound",
			msg: "Not found: Table " + ref.Project + ":" + ref.Dataset + "." + ref.Table + " was not found in location " + restLocation}
	case errors.Is(err, errInvalidName):
		return j, &jobError{code: http.StatusBadRequest, reason: "invalidQuery", msg: userMessage(err), queryLocation: true}
	case err != nil:
		return j, &jobError{code: http.StatusInternalServerError, reason: "backendError", msg: userMessage(err)}
	case !v.readable():
		return j, invalidQuery(fmt.Errorf("%squerying a %s (%s)", sql.UnsupportedPrefix, v.kind, ref.dotted()))
	}
	plan, err := parsed.Bind(v.columns(), filter.WithNow(s.now()))
	if err != nil {
		return j, invalidQuery(err)
	}
	if err := v.checkPartitionFilter(plan.Where()); err != nil {
		return j, &jobError{code: http.StatusBadRequest, reason: "invalidQuery", msg: strings.TrimPrefix(err.Error(), "request failed: Query error: ")}
	}
	j.plan, j.source, j.bytes = plan, v, bytesProcessed(v, plan)
	if !req.dryRun && q.MaximumBytesBilled > 0 && billed(j.bytes) > q.MaximumBytesBilled {
		return j, &jobError{code: http.StatusBadRequest, reason: "bytesBilledLimitExceeded",
			msg: fmt.Sprintf("Query exceeded limit for bytes billed: %d. %d or higher required.", q.MaximumBytesBilled, billed(j.bytes))}
	}
	return j, nil
}

// bytesProcessed estimates the bytes a query reads: the table's size times the share of its
// columns the query reads (BigQuery bills the columns read, whole; pseudo-columns are free) and
// the share of its rows in the partitions its WHERE does not prune.
func bytesProcessed(v *tableVersion, plan *sql.Plan) int64 {
	all, rows := estimateRowBytes(v.schema), v.rows.numRows()
	if all == 0 || rows == 0 {
		return 0
	}
	var read schema.Schema
	for _, c := range plan.Columns() {
		if f := v.schema.Find(c); f != nil {
			read = append(read, f)
		}
	}
	return v.bytes * estimateRowBytes(read) / all * v.scannedRows(plan.Where()) / rows
}

// billed is what on-demand pricing bills for bytes processed: rounded up to a MiB, at least 10 MiB.
func billed(processed int64) int64 {
	const mib = 1 << 20
	return max(10*mib, (processed+mib-1)/mib*mib)
}

// destination returns the table a job writes: the one the request names (which must not be a
// sample or data-directory table, nor an earlier result unless WRITE_TRUNCATE), or a new table of
// the anonymous dataset.
func (s *jobStore) destination(ctx context.Context, j *job) *jobError {
	q := j.config.Query
	if q.DestinationTable == nil {
		j.dest = tableRef{j.ref.ProjectId, anonymousDataset(j.ref.ProjectId), "anon" + strings.TrimPrefix(j.ref.JobId, "job_")}
		q.DestinationTable = &bq.TableReference{ProjectId: j.dest.Project, DatasetId: j.dest.Dataset, TableId: j.dest.Table}
		return nil
	}
	d := q.DestinationTable
	if d.ProjectId == "" {
		d.ProjectId = j.ref.ProjectId
	}
	j.dest = tableRef{d.ProjectId, d.DatasetId, d.TableId}
	name := d.ProjectId + ":" + d.DatasetId + "." + d.TableId
	if err := j.dest.validate(); err != nil {
		return &jobError{code: http.StatusBadRequest, reason: "invalid", msg: userMessage(err)}
	}
	if ok, _ := s.cat.datasetExists(j.dest); !ok {
		return &jobError{code: http.StatusNotFound, reason: "notFound", msg: "Not found: Dataset " + d.ProjectId + ":" + d.DatasetId}
	}
	if s.cat.result(j.dest) != nil {
		switch q.WriteDisposition {
		case "WRITE_TRUNCATE":
			return nil
		case "WRITE_APPEND":
			return &jobError{code: http.StatusBadRequest, reason: "invalid", msg: sql.UnsupportedPrefix + "WRITE_APPEND to " + name}
		}
		return &jobError{code: http.StatusConflict, reason: "duplicate", msg: "Already Exists: Table " + name}
	}
	if _, err := s.cat.resolve(ctx, j.dest, timeZero); err == nil {
		return &jobError{code: http.StatusConflict, reason: "duplicate",
			msg: "Already Exists: Table " + name + " (the emulator writes query results only to new tables)"}
	}
	return nil
}

// register keeps a planned job under its ID: it has failed, with jerr (its plan's error) or its
// destination's error, or it runs: PENDING for the pending time, RUNNING for the run time, then
// DONE. It returns the job's failure, and err when the ID is taken, which keeps no job.
func (s *jobStore) register(ctx context.Context, j *job, jerr *jobError) (failure, err *jobError) {
	if jerr == nil {
		jerr = s.destination(ctx, j)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := jobKey{j.ref.ProjectId, j.ref.JobId}
	if s.jobs[key] != nil {
		return jerr, &jobError{code: http.StatusConflict, reason: "duplicate",
			msg: "Already Exists: Job " + j.ref.ProjectId + ":" + restLocation + "." + j.ref.JobId}
	}
	s.jobs[key] = j
	if jerr != nil {
		j.state, j.started, j.ended, j.err = stateDone, j.created, j.created, jerr
		close(j.done)
		return jerr, nil
	}
	if s.runTime < 0 {
		j.state, j.started = stateRunning, s.now()
		s.mu.Unlock()
		s.run(j)
		s.mu.Lock()
		return nil, nil
	}
	j.state = statePending
	if s.pendingTime > 0 {
		j.timer = time.AfterFunc(s.pendingTime, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.startLocked(j)
		})
		return nil, nil
	}
	s.startLocked(j)
	return nil, nil
}

// startLocked moves a PENDING job to RUNNING, to be DONE after the run time; a job cancelled
// meanwhile stays as it is. s.mu is held.
func (s *jobStore) startLocked(j *job) {
	if j.state != statePending {
		return
	}
	j.state, j.started = stateRunning, s.now()
	j.timer = time.AfterFunc(s.runTime, func() { s.run(j) })
}

// run computes the job's result and registers its table, unless the job was cancelled meanwhile.
func (s *jobStore) run(j *job) {
	v, err := s.compute(j)
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.state == stateDone {
		return
	}
	if err != nil {
		// Not "internalError": the official clients retry that for ever.
		j.err = invalidQuery(fmt.Errorf("%s%v", sql.UnsupportedPrefix, err))
	} else {
		s.cat.putResult(v)
		j.result = v
	}
	j.state, j.ended = stateDone, s.now()
	close(j.done)
}

func (s *jobStore) compute(j *job) (*tableVersion, error) {
	src := j.source
	read := func(lo, hi int64) (arrow.Record, error) { return src.rows.read(lo, hi, memory.DefaultAllocator) }
	rec, err := j.plan.Run(context.Background(), src.rows.numRows(), read, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("run query: %w", err)
	}
	out := j.plan.Schema()
	now := s.now()
	v := &tableVersion{ref: j.dest, key: "result/" + j.dest.String() + "@" + j.ref.JobId, schema: out,
		arrow: rec.Schema(), since: now, created: now, bytes: rec.NumRows() * estimateRowBytes(out),
		rows: recordSource{rec}, kind: kindTable}
	if isAnonymous(j.dest.Dataset) {
		v.expires = now.Add(anonymousTTL)
	}
	return v, nil
}

// cancel stops a job that has not finished: it ends DONE with the reason "stopped".
func (s *jobStore) cancel(project, id string) (*bq.Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[jobKey{project, id}]
	if j == nil {
		return nil, false
	}
	if j.state != stateDone {
		if j.timer != nil {
			j.timer.Stop()
		}
		j.state, j.ended, j.err = stateDone, s.now(), errStopped
		close(j.done)
	}
	return s.resourceLocked(j), true
}

func (s *jobStore) get(project, id string) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[jobKey{project, id}]
}

// resource returns the job as jobs.get does.
func (s *jobStore) resource(j *job) *bq.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resourceLocked(j)
}

func (s *jobStore) resourceLocked(j *job) *bq.Job {
	ref := j.ref
	out := &bq.Job{
		Kind:          "bigquery#job",
		Id:            ref.ProjectId + ":" + restLocation + "." + ref.JobId,
		JobReference:  &ref,
		Configuration: j.config,
		Status:        &bq.JobStatus{State: j.state},
		Statistics: &bq.JobStatistics{
			CreationTime: j.created.UnixMilli(),
			StartTime:    millisOrZero(j.started),
			EndTime:      millisOrZero(j.ended),
		},
	}
	if j.err != nil {
		out.Status.ErrorResult = j.err.proto()
		out.Status.Errors = []*bq.ErrorProto{j.err.proto()}
		return out
	}
	if j.state == stateDone {
		out.Statistics.TotalBytesProcessed = j.bytes
		out.Statistics.Query = &bq.JobStatistics2{TotalBytesProcessed: j.bytes, TotalBytesBilled: billed(j.bytes),
			StatementType: "SELECT", Schema: &bq.TableSchema{Fields: restFields(j.plan.Schema())},
			ForceSendFields: []string{"CacheHit"}}
		out.Statistics.ForceSendFields = []string{"TotalBytesProcessed"}
	}
	return out
}

func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// dryRunJob is the job jobs.insert returns for a dry run: DONE, with the bytes the query would
// process and its result's schema; it is not kept.
func dryRunJob(j *job) *bq.Job {
	return &bq.Job{
		Kind:          "bigquery#job",
		JobReference:  &bq.JobReference{ProjectId: j.ref.ProjectId, Location: restLocation},
		Configuration: j.config,
		Status:        &bq.JobStatus{State: stateDone},
		Statistics: &bq.JobStatistics{
			CreationTime: j.created.UnixMilli(), TotalBytesProcessed: j.bytes,
			Query: &bq.JobStatistics2{TotalBytesProcessed: j.bytes, StatementType: "SELECT",
				Schema: &bq.TableSchema{Fields: restFields(j.plan.Schema())}, ForceSendFields: []string{"TotalBytesProcessed"}},
			ForceSendFields: []string{"TotalBytesProcessed"},
		},
	}
}

// wait waits for the job to be DONE, at most timeout, until ctx is done or the emulator stops; it
// reports whether the job is DONE.
func (s *jobStore) wait(ctx context.Context, j *job, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-j.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	case <-s.quit:
	}
	return false
}
