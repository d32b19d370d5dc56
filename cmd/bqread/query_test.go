package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/option"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
)

// dryRunSummary is the part of a dry run's --summary JSON the tests check.
type dryRunSummary struct {
	Status                string `json:"status"`
	DryRun                bool   `json:"dry_run"`
	Table                 string `json:"table"`
	Streams               int    `json:"streams"`
	EstimatedRows         int64  `json:"estimated_rows"`
	EstimatedBytesScanned int64  `json:"estimated_bytes_scanned"`
	Rows                  int64  `json:"rows"`
	Query                 *struct {
		BytesProcessed int64 `json:"total_bytes_processed"`
	} `json:"query"`
}

// checkNothingWritten fails if anything but the files named in keep is in dir.
func checkNothingWritten(t *testing.T, dir string, keep ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			t.Errorf("%s was written", e.Name())
		}
	}
}

// TestExportDryRunTable checks --dry-run of a table: nothing is read or written (no output, no
// work dir), and what it says, for a person on stdout and as JSON with --summary, is what the
// table's metadata (tables.get through Google's client) says and the streams asked for.
func TestExportDryRunTable(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	client := restClient(t, inst)
	meta, err := client.DatasetInProject("bqread-test", "ds").Table("items").Metadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if meta.NumRows != testRows {
		t.Fatalf("tables.get: %d rows, want %d", meta.NumRows, testRows)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "items.parquet")
	args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "--dry-run", "--streams", "3", "--progress", "none"}

	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), append(args, "-o", out), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, stderr.String())
	}
	want := fmt.Sprintf("dry run: %s: 3 streams, about %d rows and %s (%d bytes) scanned", testTable, meta.NumRows, size(meta.NumBytes), meta.NumBytes)
	if got := stdout.String(); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("stdout %q, want one line starting %q", got, want)
	}

	stdout.Reset()
	summary := filepath.Join(dir, "summary.json")
	if code := run(t.Context(), append(args, "--summary", summary), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("dry run without --out: exit %d\n%s", code, stderr.String())
	}
	var s dryRunSummary
	data, _ := os.ReadFile(summary)
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, data)
	}
	if s != (dryRunSummary{Status: "ok", DryRun: true, Table: testTable, Streams: 3, EstimatedRows: int64(meta.NumRows), EstimatedBytesScanned: meta.NumBytes}) {
		t.Errorf("summary %+v, want the table's %d rows and %d bytes, 3 streams, nothing read", s, meta.NumRows, meta.NumBytes)
	}
	if !strings.HasPrefix(stdout.String(), "dry run: ") {
		t.Errorf("stdout %q: want the line for a person", stdout.String())
	}
	checkNothingWritten(t, dir, "summary.json")
}

// TestExportQueryBadInput checks the refusals of export's query and dry-run flags: one line saying
// what to do, exit 2 (1 for a REST endpoint nothing answers at), and nothing written.
func TestExportQueryBadInput(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	os.Unsetenv("GOOGLE_CLOUD_PROJECT")
	t.Setenv("BQREAD_REST_ENDPOINT", "")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.sql")
	os.WriteFile(empty, []byte(" \n"), 0o644)
	q := "SELECT id FROM `bqread-test.ds.items`"
	srv := []string{"--endpoint", inst.GRPCAddr(), "--rest-endpoint", "http://" + inst.HTTPAddr(), "--project", "bqread-test"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"table and query", append([]string{testTable, "--query", q}, srv...), exitUsage, "TABLE and a query both"},
		{"query and query file", append([]string{"--query", q, "--query-file", empty}, srv...), exitUsage, "use one"},
		{"neither table nor query", srv, exitUsage, "name a TABLE, or give --query"},
		{"empty query file", append([]string{"--query-file", empty}, srv...), exitUsage, "the query is empty"},
		{"missing query file", append([]string{"--query-file", filepath.Join(dir, "nope.sql")}, srv...), exitUsage, "--query-file"},
		{"query with columns", append([]string{"--query", q, "--columns", "id"}, srv...), exitUsage, "--query and --columns cannot be used together"},
		{"query with where", append([]string{"--query", q, "--where", "id > 1"}, srv...), exitUsage, "--query and --where"},
		{"query with snapshot", append([]string{"--query", q, "--snapshot-time", "2024-01-01T00:00:00Z"}, srv...), exitUsage, "--query and --snapshot-time"},
		{"query with sample", append([]string{"--query", q, "--sample", "10"}, srv...), exitUsage, "--query and --sample"},
		{"bad label", append([]string{"--query", q, "--labels", "team"}, srv...), exitUsage, "KEY=VALUE"},
		{"label without query", append([]string{testTable, "--labels", "a=b"}, srv[:2]...), exitUsage, "apply to a --query only"},
		{"negative bytes billed", append([]string{"--query", q, "--maximum-bytes-billed", "-1"}, srv...), exitUsage, "--maximum-bytes-billed -1"},
		{"bad destination", append([]string{"--query", q, "--destination-table", "a b"}, srv...), exitUsage, "destination table"},
		{"no project", []string{"--query", q, "--endpoint", inst.GRPCAddr(), "--rest-endpoint", "http://" + inst.HTTPAddr()}, exitUsage, "--project"},
		{"endpoint without REST", []string{"--query", q, "--endpoint", inst.GRPCAddr(), "--project", "bqread-test"}, exitUsage, "--rest-endpoint"},
		{"REST not a URL", append(append([]string{"--query", q}, srv...), "--rest-endpoint", inst.HTTPAddr()), exitUsage, "http://HOST:PORT"},
		{"REST plain http elsewhere", append(append([]string{"--query", q}, srv...), "--rest-endpoint", "http://192.0.2.1:9050"), exitUsage, "--plaintext"},
		{"REST unreachable", append(append([]string{"--query", q}, srv...), "--rest-endpoint", "http://"+closedPort(t)), exitError, "--rest-endpoint"},
		{"dry run and resume", append([]string{"--query", q, "--dry-run", "--resume"}, srv...), exitUsage, "--dry-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.ndjson")
			args := append([]string{"export", "-o", out, "--progress", "none"}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), args, nil, &stdout, &stderr)
			wantOneLine(t, code, tt.wantCode, stderr.String(), tt.wantMsg)
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			checkNothingWritten(t, dir, "empty.sql")
		})
	}
}

// queryArgs are the flags of a query export against the test table's emulator (exportCmd).
func queryArgs(out, sql string, more ...string) []string {
	return append([]string{"--project", "bqread-test", "-o", out, "--query", sql}, more...)
}

// TestExportQuery exports queries over the test table from the emulator: the output holds the
// rows the SQL asks for, computed here from the source rows and read back with encoding/json (or
// arrow-go's Parquet reader); an ordered query is read with one stream and keeps its order.
func TestExportQuery(t *testing.T) {
	const table = "`bqread-test.ds.items`"
	renamed := func(keep func(int) bool) []string {
		var rows []string
		for i := range testRows {
			if keep(i) {
				r := sourceRow(i)
				rows = append(rows, canonical(t, map[string]any{"key": r["id"], "label": r["name"]}))
			}
		}
		slices.Sort(rows)
		return rows
	}
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"projection", "SELECT id, name FROM " + table, wantRows(t, all, "id", "name")},
		{"filter", "SELECT * FROM " + table + " WHERE score > 500 AND ok = true",
			wantRows(t, func(i int) bool { return float64(i)/4 > 500 && i%3 == 0 })},
		{"except", "SELECT * EXCEPT (tags, day) FROM " + table, wantRows(t, all, "id", "name", "score", "ok")},
		{"aliases", "SELECT t.id AS key, name label FROM " + table + " AS t WHERE id < 50", renamed(func(i int) bool { return i < 50 })},
		{"nothing matches", "SELECT id, name FROM " + table + " WHERE id < 0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "q.ndjson")
			s := mustExport(t, queryArgs(out, tt.sql, "--streams", "3")...)
			if diff := cmp.Diff(tt.want, readNDJSON(t, out)); diff != "" {
				t.Errorf("rows differ from the query's (-want +got):\n%s", diff)
			}
			if s.Rows != int64(len(tt.want)) {
				t.Errorf("summary: %d rows, want %d", s.Rows, len(tt.want))
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "q.ndjson")
		mustExport(t, queryArgs(out, "SELECT id FROM "+table+" WHERE id < 100 LIMIT 7")...)
		got := readNDJSON(t, out)
		ids := wantRows(t, func(i int) bool { return i < 100 }, "id")
		if len(got) != 7 || len(slices.Compact(slices.Clone(got))) != 7 {
			t.Fatalf("%d rows (%v), want 7 distinct", len(got), got)
		}
		for _, r := range got {
			if _, ok := slices.BinarySearch(ids, r); !ok {
				t.Errorf("row %s is not one of the rows with id < 100", r)
			}
		}
	})
	t.Run("order by", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "q.ndjson")
		code, stdout, stderr := exportCmd(t, append(queryArgs(out, "SELECT id, score FROM "+table+" WHERE id >= 2900 ORDER BY score DESC"),
			"--streams", "4", "--summary", "-")...)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var s exportSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := testRows - 1; i >= 2900; i-- {
			r := sourceRow(i)
			want = append(want, canonical(t, map[string]any{"id": r["id"], "score": r["score"]}))
		}
		if diff := cmp.Diff(want, readNDJSONInOrder(t, out)); diff != "" {
			t.Errorf("rows out of the query's order (-want +got):\n%s", diff)
		}
		if s.Streams != 1 || !strings.Contains(stderr, "ORDER BY") {
			t.Errorf("%d streams, stderr %q: want one stream and a line saying it is for the ORDER BY", s.Streams, stderr)
		}
	})
	t.Run("empty parquet", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "q.parquet")
		mustExport(t, queryArgs(out, "SELECT id, name FROM "+table+" WHERE id < 0")...)
		tbl := readParquet(t, out)
		if tbl.NumRows() != 0 || tbl.NumCols() != 2 || tbl.Schema().Field(0).Name != "id" || tbl.Schema().Field(1).Name != "name" {
			t.Errorf("%d rows, schema %v: want no rows of id, name", tbl.NumRows(), tbl.Schema())
		}
	})
}

// jobCounter is a proxy in front of an emulator's REST API that records the query jobs inserted
// (dry runs aside), so that a test knows the jobs a command ran and their IDs.
type jobCounter struct {
	URL   string
	mu    sync.Mutex
	ids   []string
	polls int // jobs.get calls
}

// restClient returns Google's BigQuery client for inst's REST API, closed when the test ends.
func restClient(t *testing.T, inst *emulator.Instance) *bigquery.Client {
	t.Helper()
	client, err := bigquery.NewClient(t.Context(), "bqread-test",
		option.WithEndpoint("http://"+inst.HTTPAddr()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func countJobs(t *testing.T, inst *emulator.Instance) *jobCounter {
	t.Helper()
	target, _ := url.Parse("http://" + inst.HTTPAddr())
	proxy := httputil.NewSingleHostReverseProxy(target)
	c := &jobCounter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var j bq.Job
			json.Unmarshal(body, &j)
			if j.Configuration == nil || !j.Configuration.DryRun {
				c.mu.Lock()
				c.ids = append(c.ids, j.JobReference.JobId)
				c.mu.Unlock()
			}
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/jobs/") {
			c.mu.Lock()
			c.polls++
			c.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// polled returns the number of jobs.get calls.
func (c *jobCounter) polled() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.polls
}

func (c *jobCounter) jobs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

// TestExportQueryFailures checks every way a query job fails: one line with BigQuery's reason and
// message (an invalid query's line and column), exit 2 for a bad query and 1 otherwise, and
// nothing written: no output, no work dir.
func TestExportQueryFailures(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, JobFaults: []emulator.JobFault{
		{Table: "bqread-demo.samples.all_types", Reason: "accessDenied"}, {Table: "bqread-demo.samples.empty", Reason: "quotaExceeded"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	srv := []string{"--endpoint", inst.GRPCAddr(), "--rest-endpoint", "http://" + inst.HTTPAddr(), "--project", "bqread-test", "--progress", "none"}
	tests := []struct {
		name     string
		sql      string
		more     []string
		wantCode int
		want     []string
	}{
		{"syntax error", "SELECT id\nFROMM `bqread-test.ds.items`", nil, exitUsage, []string{"invalidQuery: ", "at [2:", "fix the query"}},
		{"unknown column", "SELECT nope FROM `bqread-test.ds.items`", nil, exitUsage, []string{"invalidQuery: ", "nope", "at [1:8]"}},
		{"unsupported", "SELECT name, COUNT(*) FROM `bqread-test.ds.items` GROUP BY name", nil, exitUsage, []string{"invalidQuery: ", "not supported by the emulator"}},
		{"unknown table", "SELECT id FROM `bqread-test.ds.nope`", nil, exitUsage, []string{"notFound: ", "check the tables the query names"}},
		{"access denied", "SELECT * FROM `bqread-demo.samples.all_types`", nil, exitError, []string{"accessDenied: Access Denied", "credentials"}},
		{"quota", "SELECT * FROM `bqread-demo.samples.empty`", nil, exitError, []string{"quotaExceeded: Quota exceeded", "wait"}},
		{"bytes billed", "SELECT * FROM `bqread-test.ds.items`", []string{"--maximum-bytes-billed", "1000"}, exitUsage,
			[]string{"bytesBilledLimitExceeded: ", "--maximum-bytes-billed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(append([]string{"export", "-o", filepath.Join(dir, "q.ndjson"), "--query", tt.sql,
				"--summary", filepath.Join(dir, "s.json")}, srv...), tt.more...)
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), args, nil, &stdout, &stderr)
			msg := stderr.String()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, msg)
			}
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "query job bqread-test:US.") {
				t.Errorf("stderr should be one line naming the job:\n%s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr should say %q:\n%s", w, msg)
				}
			}
			var s struct {
				Status   string `json:"status"`
				ExitCode int    `json:"exit_code"`
				Query    struct {
					SQL string `json:"sql"`
					Job string `json:"job"`
				} `json:"query"`
			}
			data, _ := os.ReadFile(filepath.Join(dir, "s.json"))
			if err := json.Unmarshal(data, &s); err != nil || s.Status != "failed" || s.ExitCode != tt.wantCode || s.Query.SQL != tt.sql ||
				!strings.Contains(msg, s.Query.Job) || s.Query.Job == "" {
				t.Errorf("summary %s (%v): want failed, exit %d, the query and its job", data, err, tt.wantCode)
			}
			checkNothingWritten(t, dir, "s.json")
		})
	}
}

// TestExportQueryCancel interrupts an export while its query job runs: the job is cancelled
// (jobs.get, through Google's client, says it stopped), the export exits 130 in one line, and
// nothing is written.
func TestExportQueryCancel(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, JobRunTime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	jobs := countJobs(t, inst)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	args := []string{"export", "-o", filepath.Join(dir, "q.ndjson"), "--query", "SELECT id FROM `bqread-test.ds.items`",
		"--endpoint", inst.GRPCAddr(), "--rest-endpoint", jobs.URL, "--project", "bqread-test", "--progress", "none"}
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, args, nil, &stdout, &stderr) }()
	for jobs.polled() == 0 { // the job runs: jobs.insert answered, the export polls it
		select {
		case code := <-done:
			t.Fatalf("export ended (exit %d) before it polled its job\n%s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel() // as Ctrl-C does: main's context
	if code := <-done; code != exitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	if lines := errorLines(stderr.String()); len(lines) != 1 || !strings.Contains(lines[0], "interrupted") {
		t.Errorf("stderr should be one line saying it was interrupted:\n%s", stderr.String())
	}
	client := restClient(t, inst)
	job, err := client.JobFromID(t.Context(), jobs.jobs()[0])
	if err != nil {
		t.Fatal(err)
	}
	var be *bigquery.Error
	if st := job.LastStatus(); !st.Done() || !errors.As(st.Err(), &be) || be.Reason != "stopped" {
		t.Errorf("job after the interrupt: state %v, error %v; want DONE, stopped", st.State, st.Err())
	}
	checkNothingWritten(t, dir)
}

// TestExportQueryResume interrupts a query export part way (its streams stall) and resumes it:
// the resume reads the finished job's table (the output holds every row once) and runs no job.
func TestExportQueryResume(t *testing.T) {
	inst := stallingEmulator(t)
	jobs := countJobs(t, inst)
	out := filepath.Join(t.TempDir(), "q.ndjson")
	args := append(stalledArgs(inst, out)[2:], "--query", "SELECT * FROM `bqread-test.ds.items`", "--rest-endpoint", jobs.URL, "--project", "bqread-test")
	args = append([]string{"export"}, args...)
	cmd := exec.Command(os.Args[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitStalled(t, out+".bqread")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	waitNoWorkers(t, out+".bqread")
	if n := len(jobs.jobs()); n != 1 {
		t.Fatalf("%d jobs before the resume, want 1", n)
	}
	runResume(t, args)
	if diff := cmp.Diff(wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ from the source after resuming (-want +got):\n%s", diff)
	}
	if n := len(jobs.jobs()); n != 1 {
		t.Errorf("%d jobs after the resume, want 1: the resume ran the query again", n)
	}
}

// TestExportDryRunQuery checks --dry-run of a query: it says the bytes the query would process, as
// a dry run through Google's client does, for a person and as JSON; it runs no job and writes
// nothing.
func TestExportDryRunQuery(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	jobs := countJobs(t, inst)
	const sql = "SELECT id, name FROM `bqread-test.ds.items` WHERE id < 10"
	client := restClient(t, inst)
	q := client.Query(sql)
	q.DryRun = true
	job, err := q.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := job.LastStatus().Statistics.TotalBytesProcessed
	if want <= 0 {
		t.Fatalf("the official client's dry run says %d bytes", want)
	}
	dir := t.TempDir()
	args := []string{"export", "--query", sql, "--dry-run", "--endpoint", inst.GRPCAddr(), "--rest-endpoint", jobs.URL,
		"--project", "bqread-test", "--progress", "none", "-o", filepath.Join(dir, "q.parquet")}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if line := fmt.Sprintf("dry run: the query would process %s (%d bytes)", size(want), want); !strings.HasPrefix(stdout.String(), line) {
		t.Errorf("stdout %q, want %q", stdout.String(), line)
	}
	stdout.Reset()
	if code := run(t.Context(), append(args, "--summary", "-"), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var s dryRunSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	if !s.DryRun || s.Status != "ok" || s.Query == nil || s.Query.BytesProcessed != want || s.Rows != 0 || s.Streams != 0 {
		t.Errorf("summary %+v (query %+v): want a dry run of %d bytes processed, nothing read", s, s.Query, want)
	}
	if n := len(jobs.jobs()); n != 0 {
		t.Errorf("%d jobs run by a dry run", n)
	}
	checkNothingWritten(t, dir)
}

// TestJobDisplay checks how a query job's polls are shown: a line redrawn in place on a terminal,
// ended at DONE; log records when the state changes (and every interval) otherwise.
func TestJobDisplay(t *testing.T) {
	var out bytes.Buffer
	d := newJobDisplay("bar", &out, slog.New(slog.DiscardHandler), time.Hour)
	d.event(export.JobProgress{Job: "p:US.j1", State: "RUNNING"})
	d.event(export.JobProgress{Job: "p:US.j1", State: "DONE", BytesProcessed: 3 << 20})
	if got := out.String(); strings.Count(got, "\r\x1b[2K") != 2 || !strings.Contains(got, "query job p:US.j1  DONE") ||
		!strings.Contains(got, "3.0 MiB processed") || !strings.HasSuffix(got, "\n") {
		t.Errorf("bar output %q", got)
	}
	out.Reset()
	d.end() // after DONE: nothing
	d = newJobDisplay("bar", &out, slog.New(slog.DiscardHandler), time.Hour)
	d.event(export.JobProgress{Job: "p:US.j2", State: "RUNNING"})
	d.end() // interrupted while running
	if got := out.String(); !strings.HasSuffix(got, "processed  0s\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("bar output of an interrupted job %q: want its line ended", got)
	}
	var logs bytes.Buffer
	d = newJobDisplay("plain", &bytes.Buffer{}, slog.New(slog.NewTextHandler(&logs, nil)), time.Hour)
	for _, st := range []string{"PENDING", "RUNNING", "RUNNING", "RUNNING", "DONE"} {
		d.event(export.JobProgress{Job: "p:US.j1", State: st, BytesProcessed: 7})
	}
	if got := logs.String(); strings.Count(got, "msg=\"query job\"") != 3 || !strings.Contains(got, "state=DONE bytes_processed=7") {
		t.Errorf("plain records (one per state within the interval):\n%s", got)
	}
}

// TestExportQueryOptions checks the job options a query export passes and their effects: the
// query read from stdin, the labels (jobs.get through Google's client), --destination-table
// keeping the result (exported again as a table, the same rows) and refused the second time
// without --overwrite, --location naming where the job runs, and a resume with another query
// refused.
func TestExportQueryOptions(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	jobs := countJobs(t, inst)
	dir := t.TempDir()
	srv := []string{"--endpoint", inst.GRPCAddr(), "--rest-endpoint", jobs.URL, "--project", "bqread-test", "--progress", "none"}
	exp := func(stdin string, args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append(append([]string{"export"}, args...), srv...), strings.NewReader(stdin), &stdout, &stderr)
		return code, stderr.String()
	}
	const sql = "SELECT id, name FROM `bqread-test.ds.items` WHERE id < 300"
	want := wantRows(t, func(i int) bool { return i < 300 }, "id", "name")
	args := []string{"--query-file", "-", "--labels", "team=data", "--labels", "run=7", "--destination-table", "bqread-test.ds.kept"}
	if code, stderr := exp(sql, append(args, "-o", filepath.Join(dir, "q.ndjson"))...); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if diff := cmp.Diff(want, readNDJSON(t, filepath.Join(dir, "q.ndjson"))); diff != "" {
		t.Errorf("rows of the query from stdin (-want +got):\n%s", diff)
	}
	client := restClient(t, inst)
	job, err := client.JobFromID(t.Context(), jobs.jobs()[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := job.Config()
	if qc, ok := cfg.(*bigquery.QueryConfig); !ok || qc.Q != sql || !cmp.Equal(qc.Labels, map[string]string{"team": "data", "run": "7"}) ||
		qc.Dst == nil || qc.Dst.TableID != "kept" {
		t.Errorf("job configuration %+v: want the query, its labels and the destination table", cfg)
	}
	if code, stderr := exp("", "bqread-test.ds.kept", "-o", filepath.Join(dir, "kept.ndjson")); code != 0 {
		t.Fatalf("export of the destination table: exit %d\n%s", code, stderr)
	}
	if diff := cmp.Diff(want, readNDJSON(t, filepath.Join(dir, "kept.ndjson"))); diff != "" {
		t.Errorf("rows of the destination table (-want +got):\n%s", diff)
	}
	code, stderr := exp(sql, append(args, "-o", filepath.Join(dir, "again.ndjson"))...)
	if code != exitUsage || !strings.Contains(stderr, "duplicate: ") || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("a second export to the same destination table: exit %d, %q; want 2 and a hint at --overwrite", code, stderr)
	}
	if code, stderr := exp(sql, append(args, "-o", filepath.Join(dir, "again.ndjson"), "--overwrite")...); code != 0 {
		t.Errorf("with --overwrite: exit %d\n%s", code, stderr)
	}
	code, stderr = exp("", "--query", sql, "--location", "EU", "-o", filepath.Join(dir, "eu.ndjson"))
	if code != exitUsage || !strings.Contains(stderr, "notFound: ") || !strings.Contains(stderr, "EU") {
		t.Errorf("--location EU on the emulator (US): exit %d, %q; want 2, notFound", code, stderr)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keep.bqread"), 0o700); err != nil {
		t.Fatal(err)
	}
	if code, stderr := exp("", "--query", sql, "-o", filepath.Join(dir, "keep.ndjson"), "--keep-parts"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.Remove(filepath.Join(dir, "keep.ndjson"))
	code, stderr = exp("", "--query", sql+" AND id > 5", "-o", filepath.Join(dir, "keep.ndjson"), "--resume")
	if code != exitUsage || !strings.Contains(stderr, "was started with --query") {
		t.Errorf("resume with another query: exit %d, %q; want 2, naming --query", code, stderr)
	}
}

// TestExportEmulatorProject: with --emulator and no --project (nor GOOGLE_CLOUD_PROJECT), a table
// named dataset.table and a query's job are in the samples' project, bqread-demo: both give the
// rows of bqread-demo.samples.all_types, read back with encoding/json. GOOGLE_CLOUD_PROJECT still
// comes first: with it naming the test data's project, samples.all_types is not found there.
func TestExportEmulatorProject(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	dir := t.TempDir()
	full, table, query := filepath.Join(dir, "full.ndjson"), filepath.Join(dir, "table.ndjson"), filepath.Join(dir, "query.ndjson")
	for _, args := range [][]string{
		{"bqread-demo.samples.all_types", "-o", full},
		{"samples.all_types", "-o", table},
		{"-o", query, "--query", "SELECT * FROM samples.all_types"},
	} {
		if code, _, stderr := exportCmd(t, args...); code != 0 {
			t.Fatalf("export %q: exit %d\n%s", args, code, stderr)
		}
	}
	want := readNDJSON(t, full)
	if len(want) == 0 {
		t.Fatal("the all_types sample exported no rows")
	}
	for _, path := range []string{table, query} {
		if diff := cmp.Diff(want, readNDJSON(t, path)); diff != "" {
			t.Errorf("%s differs from bqread-demo.samples.all_types (-want +got):\n%s", filepath.Base(path), diff)
		}
	}

	t.Setenv("GOOGLE_CLOUD_PROJECT", "bqread-test")
	code, _, stderr := exportCmd(t, "samples.all_types", "-o", filepath.Join(dir, "env.ndjson"))
	if code != exitUsage || !strings.Contains(stderr, "bqread-test") {
		t.Errorf("with GOOGLE_CLOUD_PROJECT=bqread-test: exit %d, stderr %q; want %d naming bqread-test", code, stderr, exitUsage)
	}
}
