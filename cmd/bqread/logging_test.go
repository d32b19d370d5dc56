package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogging checks the logging flags: JSON records, progress records at the asked interval,
// quiet, and the refusals.
func TestLogging(t *testing.T) {
	inst := startEmulator(t)
	export := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", filepath.Join(t.TempDir(), "o.ndjson")}, args...)
		return run(t.Context(), args, nil, &stdout, &stderr), stderr.String()
	}
	code, stderr := export("--log-format", "json", "--progress", "plain", "--progress-interval", "10ms", "--segment-rows", "10")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	msgs := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
		msgs[rec["msg"].(string)]++
	}
	if msgs["done"] != 1 || msgs["progress"] < 1 {
		t.Errorf("records %v: want one done and progress records", msgs)
	}
	if code, stderr := export("-q", "--progress", "plain"); code != 0 || stderr != "" {
		t.Errorf("-q: exit %d, stderr %q; want nothing", code, stderr)
	}
	for _, bad := range [][]string{{"--log-format", "xml"}, {"-q", "-v"}, {"--progress-interval", "0s"}} {
		if code, stderr := export(bad...); code != exitUsage || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, want 2 and one line:\n%s", bad, code, stderr)
		}
	}
}
