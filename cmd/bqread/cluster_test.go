package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPlanWorkerMergeCommands runs the distributed commands by hand: a plan refused a second time
// without --overwrite, a worker of an expired session that says so and exits 4, and status.
func TestPlanWorkerMergeCommands(t *testing.T) {
	inst := startEmulator(t)
	workDir := filepath.Join(t.TempDir(), "work")
	cmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), args, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	plan := []string{"plan", testTable, "--endpoint", inst.GRPCAddr(), "--work-dir", workDir, "-f", "ndjson", "--streams", "2", "--json"}
	code, out, stderr := cmd(plan...)
	var p struct {
		Tasks         int      `json:"tasks"`
		WorkerCommand []string `json:"worker_command"`
	}
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || p.Tasks != 2 || p.WorkerCommand[1] != "worker" {
		t.Fatalf("plan: exit %d, %q (%v)\n%s", code, out, err, stderr)
	}
	if code, _, stderr := cmd(plan...); code != exitUsage || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("second plan: exit %d, want 2 and --overwrite named:\n%s", code, stderr)
	}
	if code, _, stderr := cmd(append(plan, "--overwrite")...); code != 0 {
		t.Errorf("plan --overwrite: exit %d\n%s", code, stderr)
	}
	code, out, _ = cmd("status", "--work-dir", workDir)
	if code != 0 || !strings.Contains(out, "0 of 2 tasks done") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	expire(t, filepath.Join(workDir, "manifest.json"))
	code, _, stderr = cmd("worker", "--work-dir", workDir, "--task-index", "0")
	if code != exitExpired || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "expired") || !strings.Contains(stderr, "plan again") {
		t.Errorf("worker of an expired session: exit %d, want %d and one line:\n%s", code, exitExpired, stderr)
	}
}

// expire sets the expiry of the manifest at path an hour in the past.
func expire(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	m["expire_time"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	data, _ = json.Marshal(m)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPlanQuery plans a query's export for a scheduler: plan runs the job once (jobs counted by a
// proxy in front of the emulator's REST API) and plans its destination table, printed as the
// plan's table; two workers and the merge then write the query's rows (computed here from the
// source rows, read back with encoding/json) and run no job. A TABLE and --query together are
// refused.
func TestPlanQuery(t *testing.T) {
	inst := startEmulator(t)
	jobs := countJobs(t, inst)
	workDir := filepath.Join(t.TempDir(), "work")
	out := filepath.Join(t.TempDir(), "q.ndjson")
	cmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), args, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	query := "SELECT id, name FROM `bqread-test.ds.items` WHERE score > 500"
	code, stdout, stderr := cmd("plan", "--endpoint", inst.GRPCAddr(), "--rest-endpoint", jobs.URL, "--project", "bqread-test",
		"--work-dir", workDir, "-f", "ndjson", "--streams", "2", "--json", "--query", query)
	var p struct {
		Table string `json:"table"`
		Tasks int    `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(stdout), &p); code != 0 || err != nil {
		t.Fatalf("plan --query: exit %d, %q (%v)\n%s", code, stdout, err, stderr)
	}
	if ids := jobs.jobs(); len(ids) != 1 || p.Tasks < 1 || p.Table == "" || p.Table == testTable || !strings.HasPrefix(p.Table, "bqread-test.") {
		t.Fatalf("plan --query: jobs %v, table %q; want one job and its destination table", ids, p.Table)
	}
	for i := range p.Tasks {
		if code, _, stderr := cmd("worker", "--work-dir", workDir, "--task-index", strconv.Itoa(i)); code != 0 {
			t.Fatalf("worker %d: exit %d\n%s", i, code, stderr)
		}
	}
	if code, _, stderr := cmd("merge", "--work-dir", workDir, "-o", out); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	want := wantRows(t, func(i int) bool { return float64(i)/4 > 500 }, "id", "name")
	if diff := cmp.Diff(want, readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ from the query's (-want +got):\n%s", diff)
	}
	if n := len(jobs.jobs()); n != 1 {
		t.Errorf("%d jobs after the workers and the merge, want 1", n)
	}

	code, _, stderr = cmd("plan", testTable, "--endpoint", inst.GRPCAddr(), "--work-dir", workDir+"2", "-f", "ndjson", "--query", query)
	if want := "bqread: plan: TABLE and a query both say what to export: use one\n"; code != exitUsage || stderr != want {
		t.Errorf("plan TABLE --query: exit %d, stderr %q; want %d, %q", code, stderr, exitUsage, want)
	}
}
