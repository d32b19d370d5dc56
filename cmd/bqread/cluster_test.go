package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
