package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/bqread/bqread/emulator"
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
		if !strings.Contains(strings.Join(keep, "\x00"), e.Name()) {
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
	client, err := bigquery.NewClient(t.Context(), "bqread-test",
		option.WithEndpoint("http://"+inst.HTTPAddr()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
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
			msg := stderr.String()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, msg)
			}
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("stderr should be one line containing %q:\n%s", tt.wantMsg, msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			checkNothingWritten(t, dir, "empty.sql")
		})
	}
}
