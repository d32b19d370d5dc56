package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
)

// restError is Google's JSON error body.
type restError struct {
	Error struct {
		Code    int
		Message string
		Status  string
		Errors  []struct{ Reason, Message, Domain string }
	}
}

// call sends a REST request to the emulator and decodes the answer into out (a *restError when
// the status is not 200); it returns the status.
func (env *queryEnv) call(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+env.inst.HTTPAddr()+"/bigquery/v2/projects/my-project/"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

var pfalse = new(bool)

// matches reports whether msg is want, where a "*" in want stands for any text (the words of the
// filter package, which are not this test's).
func matches(msg, want string) bool {
	prefix, suffix, wild := strings.Cut(want, "*")
	if !wild {
		return msg == want
	}
	return len(msg) >= len(prefix)+len(suffix) && strings.HasPrefix(msg, prefix) && strings.HasSuffix(msg, suffix)
}

// wantError checks an error body: HTTP status, reason and message.
func wantError(t *testing.T, what string, code int, got restError, status int, reason, msg string) {
	t.Helper()
	e := got.Error
	if code != status || e.Code != status || len(e.Errors) != 1 || e.Errors[0].Reason != reason || !matches(e.Message, msg) ||
		e.Errors[0].Message != e.Message || e.Errors[0].Domain != "global" {
		t.Errorf("%s: %d %+v\nwant %d %s %q", what, code, e, status, reason, msg)
	}
}

// queryFails runs sql with jobs.query and with jobs.insert; both must fail with the status, the
// reason and the message: jobs.query answers the error, jobs.insert answers the job DONE with it
// as errorResult (and jobs.getQueryResults answers the error).
func (env *queryEnv) queryFails(t *testing.T, req *bq.QueryRequest, status int, reason, msg string) {
	t.Helper()
	if req.UseLegacySql == nil {
		req.UseLegacySql = pfalse
	}
	var e restError
	code := env.call(t, "POST", "queries", req, &e)
	wantError(t, "jobs.query", code, e, status, reason, msg)

	id := "fails_" + itoa(int(jobSeq.Add(1)))
	ins := &bq.Job{JobReference: &bq.JobReference{JobId: id, Location: req.Location}, Configuration: &bq.JobConfiguration{
		Query: &bq.JobConfigurationQuery{Query: req.Query, UseLegacySql: req.UseLegacySql, MaximumBytesBilled: req.MaximumBytesBilled}}}
	var job bq.Job
	if code := env.call(t, "POST", "jobs", ins, &job); code != http.StatusOK {
		t.Fatalf("jobs.insert: %d", code)
	}
	if job.Status == nil || job.Status.State != "DONE" || job.Status.ErrorResult == nil ||
		job.Status.ErrorResult.Reason != reason || !matches(job.Status.ErrorResult.Message, msg) {
		t.Errorf("jobs.insert: status %+v, want DONE with %s %q", job.Status, reason, msg)
	}
	e = restError{}
	code = env.call(t, "GET", "queries/"+id, nil, &e)
	wantError(t, "jobs.getQueryResults", code, e, status, reason, msg)
}

// TestQueryRefusals: every construct outside the emulator's subset is refused with invalidQuery,
// "not supported by the emulator: <construct>" and the construct's line and column.
func TestQueryRefusals(t *testing.T) {
	env := newQueryEnv(t, Options{JobRunTime: -1}, 20)
	for _, c := range []struct{ sql, construct, at string }{
		{"SELECT DISTINCT city FROM ds.people", "SELECT DISTINCT", "1:8"},
		{"SELECT city, COUNT(*) FROM ds.people GROUP BY city", "function COUNT in the select list", "1:14"},
		{"SELECT id FROM ds.people GROUP BY id", "GROUP BY", "1:26"},
		{"SELECT a.id FROM ds.people a JOIN ds.people b ON a.id = b.id", "joins", "1:30"},
		{"SELECT id FROM ds.people, ds.other", "joins", "1:25"},
		{"SELECT id FROM (SELECT id FROM ds.people)", "subqueries in FROM", "1:16"},
		{"SELECT id FROM ds.people\nWHERE id IN (SELECT id FROM ds.people)", "subqueries", "2:14"},
		{"WITH x AS (SELECT 1) SELECT * FROM x", "WITH (common table expressions)", "1:1"},
		{"INSERT INTO ds.people (id) VALUES (1)", "DML statements (INSERT)", "1:1"},
		{"SELECT id + 1 FROM ds.people", "expressions in the select list (only columns, STRUCT fields and * are)", "1:8"},
		{"SELECT 'x' FROM ds.people", "literals in the select list", "1:8"},
		{"SELECT id FROM ds.people UNION ALL SELECT id FROM ds.people", "set operations (UNION)", "1:26"},
		{"SELECT id FROM ds.people ORDER BY LENGTH(name)", "expressions in ORDER BY (only columns, STRUCT fields and select-list aliases are)", "1:35"},
		{"SELECT id FROM ds.people WHERE id = @x", "query parameters", "1:37"},
		{"SELECT id FROM `my-project.ds.people_*`", "wildcard tables", "1:16"},
		{"SELECT id, id FROM ds.people", "duplicate column names in the result (id); give one an alias", "1:12"},
		{"SELECT * REPLACE (1 AS id) FROM ds.people", "SELECT * REPLACE", "1:10"},
		{"SELECT id FROM ds.people WHERE UPPER(name) = 'X'", "function UPPER is not supported* in WHERE", "1:32"},
		{"SELECT id FROM ds.people WHERE addr.zip = 1", "nested field paths such as addr.… are not supported* in WHERE", "1:32"},
	} {
		t.Run(c.sql, func(t *testing.T) {
			env.queryFails(t, &bq.QueryRequest{Query: c.sql}, http.StatusBadRequest, "invalidQuery",
				"not supported by the emulator: "+c.construct+" at ["+c.at+"]")
		})
	}
}

// TestQueryErrors: invalid queries say what and where as BigQuery does; a missing table, a table
// the caller may not read, a used-up quota and a query over the bytes-billed limit fail with
// BigQuery's reasons and HTTP statuses.
func TestQueryErrors(t *testing.T) {
	env := newQueryEnv(t, Options{JobRunTime: -1, JobFaults: []JobFault{
		{Table: "my-project.ds.secret", Reason: "accessDenied"}, {Table: "my-project.ds.busy", Reason: "quotaExceeded"}}}, 20)
	for _, c := range []struct {
		sql            string
		status         int
		reason, msg    string
		maxBytesBilled int64
		location       string
	}{
		{sql: "SELECT id,\n  nme FROM ds.people", status: 400, reason: "invalidQuery", msg: "Unrecognized name: nme at [2:3]"},
		{sql: "SELECT FROM ds.people", status: 400, reason: "invalidQuery", msg: "Syntax error: Unexpected keyword FROM at [1:8]"},
		{sql: "SELECT id FROM ds.people WHERE", status: 400, reason: "invalidQuery", msg: "Syntax error: Unexpected end of script at [1:31]"},
		{sql: "SELECT id FROM ds.people LIMIT 5 x", status: 400, reason: "invalidQuery", msg: `Syntax error: Expected end of input but got identifier "x" at [1:34]`},
		{sql: "SELECT id FROM ds.people WHERE name = 1", status: 400, reason: "invalidQuery", msg: "No matching signature: INT64 compared with STRING at [1:39]"},
		{sql: "SELECT * EXCEPT (nope) FROM ds.people", status: 400, reason: "invalidQuery", msg: "Column nope in SELECT * EXCEPT list does not exist at [1:18]"},
		{sql: "SELECT addr.nope FROM ds.people", status: 400, reason: "invalidQuery", msg: "Field name nope does not exist in STRUCT<street STRING, zip INT64> at [1:8]"},
		{sql: "SELECT id FROM ds.people ORDER BY addr", status: 400, reason: "invalidQuery", msg: "ORDER BY does not support expressions of type STRUCT<street STRING, zip INT64> at [1:35]"},
		{sql: "SELECT id FROM people", status: 400, reason: "invalidQuery", msg: `Table "people" must be qualified with a dataset (e.g. dataset.table). at [1:16]`},
		{sql: "SELECT id FROM ds.nope", status: 404, reason: "notFound", msg: "Not found: Table my-project:ds.nope was not found in location US"},
		{sql: "SELECT id FROM ds.people", location: "EU", status: 404, reason: "notFound", msg: "Not found: the emulator's datasets are in location US, not EU"},
		{sql: "SELECT * FROM ds.secret", status: 403, reason: "accessDenied",
			msg: "Access Denied: Table my-project:ds.secret: User does not have permission to query table my-project:ds.secret, or perhaps it does not exist."},
		{sql: "SELECT * FROM ds.busy", status: 403, reason: "quotaExceeded",
			msg: "Quota exceeded: Your project exceeded quota for free query bytes scanned. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas"},
		{sql: "SELECT * FROM ds.people", maxBytesBilled: 1000, status: 400, reason: "bytesBilledLimitExceeded",
			msg: "Query exceeded limit for bytes billed: 1000. 10485760 or higher required."},
	} {
		t.Run(c.sql, func(t *testing.T) {
			env.queryFails(t, &bq.QueryRequest{Query: c.sql, MaximumBytesBilled: c.maxBytesBilled, Location: c.location}, c.status, c.reason, c.msg)
		})
	}
	t.Run("legacy SQL", func(t *testing.T) {
		var e restError
		code := env.call(t, "POST", "queries", &bq.QueryRequest{Query: "SELECT id FROM [my-project:ds.people]"}, &e)
		wantError(t, "jobs.query", code, e, 400, "invalidQuery",
			"not supported by the emulator: legacy SQL (send useLegacySql: false; BigQuery's default is legacy SQL)")
	})
	t.Run("the official client", func(t *testing.T) {
		_, err := env.plain.Query("SELECT id FROM ds.people WHERE nope = 1").Read(t.Context())
		var gerr *googleapi.Error
		if !errors.As(err, &gerr) || gerr.Code != 400 || len(gerr.Errors) != 1 || gerr.Errors[0].Reason != "invalidQuery" ||
			gerr.Message != "Unrecognized name: nope at [1:32]" {
			t.Errorf("Query.Read: %v, want a googleapi 400 invalidQuery", err)
		}
	})
	t.Run("duplicate and unknown jobs", func(t *testing.T) {
		ins := &bq.Job{JobReference: &bq.JobReference{JobId: "twice"},
			Configuration: &bq.JobConfiguration{Query: &bq.JobConfigurationQuery{Query: "SELECT id FROM ds.people", UseLegacySql: pfalse}}}
		var job bq.Job
		if code := env.call(t, "POST", "jobs", ins, &job); code != 200 {
			t.Fatalf("first insert: %d", code)
		}
		var e restError
		code := env.call(t, "POST", "jobs", ins, &e)
		wantError(t, "second insert", code, e, 409, "duplicate", "Already Exists: Job my-project:US.twice")
		e = restError{}
		code = env.call(t, "GET", "jobs/nope", nil, &e)
		wantError(t, "jobs.get", code, e, 404, "notFound", "Not found: Job my-project:US.nope")
	})
}

// TestQueryCancel: a job RUNNING until cancelled ends DONE with the reason "stopped", leaves no
// result table, and its results are that error; the official client sees the same.
func TestQueryCancel(t *testing.T) {
	env := newQueryEnv(t, Options{JobRunTime: time.Hour}, 20)
	ins := &bq.Job{JobReference: &bq.JobReference{JobId: "long"},
		Configuration: &bq.JobConfiguration{Query: &bq.JobConfigurationQuery{Query: "SELECT id FROM ds.people", UseLegacySql: pfalse}}}
	var job bq.Job
	if code := env.call(t, "POST", "jobs", ins, &job); code != 200 || job.Status.State != "RUNNING" {
		t.Fatalf("insert: %d %+v", code, job.Status)
	}
	var got bq.Job
	env.call(t, "GET", "jobs/long", nil, &got)
	if got.Status.State != "RUNNING" || got.Statistics.StartTime == 0 || got.Statistics.EndTime != 0 {
		t.Fatalf("jobs.get: %+v %+v", got.Status, got.Statistics)
	}
	var res bq.GetQueryResultsResponse
	if code := env.call(t, "GET", "queries/long?timeoutMs=10", nil, &res); code != 200 || res.JobComplete {
		t.Fatalf("getQueryResults of a running job: %d complete=%v", code, res.JobComplete)
	}
	var cancelled bq.JobCancelResponse
	if code := env.call(t, "POST", "jobs/long/cancel", nil, &cancelled); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	st := cancelled.Job.Status
	if st.State != "DONE" || st.ErrorResult == nil || st.ErrorResult.Reason != "stopped" ||
		st.ErrorResult.Message != "Job execution was cancelled: User requested cancellation" {
		t.Fatalf("cancelled job: %+v", st)
	}
	var e restError
	code := env.call(t, "GET", "queries/long", nil, &e)
	wantError(t, "getQueryResults", code, e, 400, "stopped", "Job execution was cancelled: User requested cancellation")
	var tables bq.TableList
	env.call(t, "GET", "datasets/"+anonymousDataset("my-project")+"/tables", nil, &tables)
	if len(tables.Tables) != 0 {
		t.Errorf("a cancelled job left tables: %+v", tables.Tables)
	}

	q := env.plain.Query("SELECT id FROM ds.people")
	j, err := q.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Cancel(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = j.Wait(t.Context())
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || len(gerr.Errors) != 1 || gerr.Errors[0].Reason != "stopped" {
		t.Errorf("Wait after Cancel: %v, want reason stopped", err)
	}
}

// TestQueryPending: with JobPendingTime, a job is PENDING (no start time) when inserted and then
// RUNNING with a start time, as Google's client reads jobs.get; one cancelled while PENDING ends
// DONE, stopped, and never runs. (JobRunTime is an hour, so RUNNING lasts until the cancel.)
func TestQueryPending(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending time.Duration
	}{{"starts", 50 * time.Millisecond}, {"cancelled while pending", time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			env := newQueryEnv(t, Options{JobPendingTime: tc.pending, JobRunTime: time.Hour}, 5)
			var job bq.Job
			ins := &bq.Job{Configuration: &bq.JobConfiguration{Query: &bq.JobConfigurationQuery{Query: "SELECT id FROM ds.people", UseLegacySql: pfalse}}}
			if code := env.call(t, "POST", "jobs", ins, &job); code != 200 || job.Status.State != "PENDING" || job.Statistics.StartTime != 0 {
				t.Fatalf("insert: %d %+v %+v", code, job.Status, job.Statistics)
			}
			j, err := env.plain.JobFromID(t.Context(), job.JobReference.JobId)
			if err != nil {
				t.Fatal(err)
			}
			if tc.pending == time.Hour {
				if err := j.Cancel(t.Context()); err != nil {
					t.Fatal(err)
				}
				st, err := j.Status(t.Context())
				if err != nil || st.State != bigquery.Done || st.Err() == nil || !strings.Contains(st.Err().Error(), "stopped") ||
					!st.Statistics.StartTime.IsZero() {
					t.Fatalf("cancelled while pending: %+v, %v; want DONE, stopped, never started", st, err)
				}
				return
			}
			for {
				st, err := j.Status(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if st.State == bigquery.Pending {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if st.State != bigquery.Running || st.Statistics.StartTime.IsZero() {
					t.Fatalf("after PENDING: state %v, start %v; want RUNNING with a start time", st.State, st.Statistics.StartTime)
				}
				break
			}
			if err := j.Cancel(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestQueryDryRun: a dry run reports the bytes the query would process (more for more columns)
// and its schema, and neither keeps a job nor makes a table.
func TestQueryDryRun(t *testing.T) {
	env := newQueryEnv(t, Options{}, 50)
	dry := func(sql string) *bq.Job {
		t.Helper()
		var job bq.Job
		code := env.call(t, "POST", "jobs", &bq.Job{Configuration: &bq.JobConfiguration{DryRun: true,
			Query: &bq.JobConfigurationQuery{Query: sql, UseLegacySql: pfalse}}}, &job)
		if code != 200 || job.Status.State != "DONE" || job.JobReference.JobId != "" {
			t.Fatalf("dry run %q: %d %+v %+v", sql, code, job.Status, job.JobReference)
		}
		return &job
	}
	one, all := dry("SELECT id FROM ds.people"), dry("SELECT * FROM ds.people WHERE name = 'x'")
	if one.Statistics.TotalBytesProcessed <= 0 || one.Statistics.TotalBytesProcessed >= all.Statistics.TotalBytesProcessed ||
		all.Statistics.Query.TotalBytesProcessed != all.Statistics.TotalBytesProcessed {
		t.Errorf("bytes processed: one column %d, all %d", one.Statistics.TotalBytesProcessed, all.Statistics.TotalBytesProcessed)
	}
	if f := one.Statistics.Query.Schema.Fields; len(f) != 1 || f[0].Name != "id" || f[0].Type != "INTEGER" {
		t.Errorf("dry-run schema: %+v", f)
	}
	var e restError
	code := env.call(t, "POST", "jobs", &bq.Job{Configuration: &bq.JobConfiguration{DryRun: true,
		Query: &bq.JobConfigurationQuery{Query: "SELECT nope FROM ds.people", UseLegacySql: pfalse}}}, &e)
	wantError(t, "invalid dry run", code, e, 400, "invalidQuery", "Unrecognized name: nope at [1:8]")

	q := env.plain.Query("SELECT id, name FROM ds.people")
	q.DryRun = true
	j, err := q.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st := j.LastStatus(); st.State != bigquery.Done || st.Statistics.TotalBytesProcessed <= one.Statistics.TotalBytesProcessed {
		t.Errorf("official client dry run: %+v", st.Statistics)
	}
	var datasets bq.DatasetList
	env.call(t, "GET", "datasets?all=true", nil, &datasets)
	for _, d := range datasets.Datasets {
		if strings.HasPrefix(d.DatasetReference.DatasetId, "_") {
			t.Errorf("a dry run made a result table in %s", d.Id)
		}
	}
}

// TestCloseEndsWaits: closing the emulator ends a jobs.getQueryResults waiting for a running job,
// so that the HTTP server shuts down cleanly.
func TestCloseEndsWaits(t *testing.T) {
	env := newQueryEnv(t, Options{JobRunTime: time.Hour}, 5)
	ins := &bq.Job{JobReference: &bq.JobReference{JobId: "long"},
		Configuration: &bq.JobConfiguration{Query: &bq.JobConfigurationQuery{Query: "SELECT id FROM ds.people", UseLegacySql: pfalse}}}
	var job bq.Job
	if code := env.call(t, "POST", "jobs", ins, &job); code != 200 {
		t.Fatalf("insert: %d", code)
	}
	answered := make(chan bq.GetQueryResultsResponse, 1)
	go func() {
		var res bq.GetQueryResultsResponse
		resp, err := http.Get("http://" + env.inst.HTTPAddr() + "/bigquery/v2/projects/my-project/queries/long?timeoutMs=10000")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
		}
		answered <- res
	}()
	time.Sleep(50 * time.Millisecond) // let the request reach its wait (if not, Close has nothing to end)
	if err := env.inst.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if res := <-answered; res.JobComplete {
		t.Errorf("getQueryResults said a stopped job is complete")
	}
}
