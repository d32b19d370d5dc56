package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
)

// asMainEnv makes the test binary act as bqread itself, so that the worker processes export starts
// through os.Executable() run the real worker command.
const asMainEnv = "BQREAD_TEST_AS_MAIN"

// testData is the emulator data dir holding the test table (see writeTestTable).
var testData string

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" { // as main does
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		signal.Ignore(syscall.SIGPIPE)
		var stdout io.Writer = os.Stdout
		if dir := os.Getenv(dieEnv); dir != "" && os.Args[1] == "worker" {
			stdout = &dyingWriter{w: os.Stdout, marker: filepath.Join(dir, "stream-"+os.Args[slices.Index(os.Args, "--task-index")+1])}
		}
		if os.Getenv(dieAlwaysEnv) == "1" && os.Args[1] == "worker" {
			stdout = &dyingWriter{w: os.Stdout}
		}
		code := run(ctx, os.Args[1:], os.Stdin, stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Setenv(asMainEnv, "1")
	// Under -race, every process sleeps 1s at exit unless told not to: workers are processes.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	dir, err := os.MkdirTemp("", "bqread-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testData = dir
	err = writeTestTable(dir)
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// dieEnv names a directory; when set, the first worker process of each stream dies abruptly
// (exit 7, no result) right after reporting its first committed segment.
const dieEnv = "BQREAD_TEST_DIE_DIR"

// dieAlwaysEnv, when "1", makes every worker process die abruptly after its first committed
// segment, so that a stream runs out of restarts.
const dieAlwaysEnv = "BQREAD_TEST_DIE_ALWAYS"

// dyingWriter passes worker output through and exits the process after the first segment event,
// unless its marker file says that this stream's worker died before; with no marker, always.
type dyingWriter struct {
	w      io.Writer
	marker string
}

func (d *dyingWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if bytes.Contains(p, []byte(`"kind":"segment"`)) {
		if d.marker == "" {
			os.Exit(7)
		}
		if f, ferr := os.OpenFile(d.marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); ferr == nil {
			f.Close()
			os.Exit(7)
		}
	}
	return n, err
}

const (
	testTable = "bqread-test.ds.items"
	testRows  = 3000
)

const testSchema = `[
  {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
  {"name": "name", "type": "STRING"},
  {"name": "score", "type": "FLOAT"},
  {"name": "ok", "type": "BOOLEAN"},
  {"name": "day", "type": "DATE"},
  {"name": "tags", "type": "STRING", "mode": "REPEATED"}
]`

// sourceRow is row i of the test table in BigQuery's JSON export form (what ndjson output holds).
func sourceRow(i int) map[string]any {
	row := map[string]any{
		"id":    strconv.Itoa(i),
		"name":  fmt.Sprintf("item %d", i),
		"score": float64(i) / 4,
		"ok":    i%3 == 0,
		"day":   fmt.Sprintf("2024-%02d-%02d", i%12+1, i%28+1),
		"tags":  []any{},
	}
	if i%7 == 0 {
		row["name"] = nil
	}
	for j := range i % 3 {
		row["tags"] = append(row["tags"].([]any), fmt.Sprintf("t%d", j))
	}
	return row
}

// allTypesTable is the all_types corpus (the sample's schema and rows) repeated allTypesCopies
// times: 280 rows, three blocks of the emulator's 128 rows, so an export of it has several streams
// (the 7-row sample gets one stream, as the service gives a small table), and the streams' bounds
// fall in the middle of the corpus.
const (
	allTypesTable  = "bqread-test.ds.all_types"
	allTypesCopies = 40
	allTypesSample = "../../emulator/samples/bqread-demo/samples/all_types/"
)

// allTypesGolden returns the reviewed golden NDJSON of the corpus, as allTypesTable's output holds it.
func allTypesGolden(t *testing.T) string {
	t.Helper()
	golden, err := os.ReadFile("../../output/testdata/all_types.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Repeat(string(golden), allTypesCopies)
}

// writeAllTypesTable writes allTypesTable in the emulator's data dir layout.
func writeAllTypesTable(dir string) error {
	tdir := filepath.Join(dir, "bqread-test", "ds", "all_types")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return err
	}
	schema, err := os.ReadFile(allTypesSample + "schema.json")
	if err != nil {
		return err
	}
	rows, err := os.ReadFile(allTypesSample + "data.ndjson")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tdir, "schema.json"), schema, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tdir, "data.ndjson"), bytes.Repeat(rows, allTypesCopies), 0o644)
}

// writeTestTable writes the test table (and allTypesTable) in the emulator's data dir layout, rows
// in load form.
func writeTestTable(dir string) error {
	if err := writeAllTypesTable(dir); err != nil {
		return err
	}
	tdir := filepath.Join(dir, "bqread-test", "ds", "items")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tdir, "schema.json"), []byte(testSchema), 0o644); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range testRows {
		if err := enc.Encode(sourceRow(i)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(tdir, "data.ndjson"), buf.Bytes(), 0o644)
}

// export runs bqread export in process with the test table's emulator; it returns the exit code and
// what went to stdout and stderr.
func exportCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"export", "--emulator", "--emulator-data", testData, "--progress", "none"}, args...)
	code := run(t.Context(), args, nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// exportSummary is the part of the --summary JSON the tests check.
type exportSummary struct {
	Streams     int                `json:"streams"`
	Rows        int64              `json:"rows"`
	WallSeconds float64            `json:"wall_seconds"`
	Phases      map[string]float64 `json:"phase_seconds"`
	PerStream   []struct {
		Index int   `json:"index"`
		Pid   int   `json:"pid"`
		Pids  []int `json:"pids"`
		Rows  int64 `json:"rows"`
	} `json:"per_stream"`
}

func mustExport(t *testing.T, args ...string) exportSummary {
	t.Helper()
	code, stdout, stderr := exportCmd(t, append(args, "--summary", "-")...)
	if code != 0 {
		t.Fatalf("bqread export %v: exit %d\n%s", args, code, stderr)
	}
	var s exportSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout)
	}
	checkPhases(t, s)
	return s
}

// checkPhases checks that the summary's phases are the four, that the read took time, and that
// they add up to no more than the wall time.
func checkPhases(t *testing.T, s exportSummary) {
	t.Helper()
	sum := 0.0
	for _, name := range []string{"session", "read", "merge", "cleanup"} {
		v, ok := s.Phases[name]
		if !ok || v < 0 {
			t.Errorf("phase_seconds %v: %s missing or negative", s.Phases, name)
		}
		sum += v
	}
	if len(s.Phases) != 4 || s.Phases["read"] <= 0 || sum > s.WallSeconds {
		t.Errorf("phase_seconds %v (sum %.3f) for wall_seconds %.3f: want session, read > 0, merge and cleanup, adding up to at most the wall time",
			s.Phases, sum, s.WallSeconds)
	}
}

// readNDJSON reads an ndjson file with encoding/json, one canonical JSON string per row, sorted.
func readNDJSON(t *testing.T, path string) []string {
	t.Helper()
	rows := readNDJSONInOrder(t, path)
	slices.Sort(rows)
	return rows
}

// readNDJSONInOrder reads an ndjson file with encoding/json, one canonical JSON string per row, in
// file order.
func readNDJSONInOrder(t *testing.T, path string) []string {
	t.Helper()
	var rows []string
	for _, row := range ndjsonRows(t, path) {
		rows = append(rows, canonical(t, row))
	}
	return rows
}

// ndjsonRows decodes each row of an ndjson file with encoding/json.
func ndjsonRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for dec := json.NewDecoder(bytes.NewReader(data)); dec.More(); {
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("%s: row %d: %v", path, len(rows), err)
		}
		rows = append(rows, row)
	}
	return rows
}

func canonical(t *testing.T, row map[string]any) string {
	b, err := json.Marshal(row) // map keys are sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantRows returns the canonical rows of the source rows that keep selects, projected to columns
// (all when nil), sorted.
func wantRows(t *testing.T, keep func(i int) bool, columns ...string) []string {
	var rows []string
	for i := range testRows {
		if !keep(i) {
			continue
		}
		row := sourceRow(i)
		if columns != nil {
			proj := map[string]any{}
			for _, c := range columns {
				proj[c] = row[c]
			}
			row = proj
		}
		rows = append(rows, canonical(t, row))
	}
	slices.Sort(rows)
	return rows
}

func all(int) bool { return true }

// rowsDiff compares an output's rows with want: in order with fixed streams, whose blocks follow the
// table's order; as sets with liquid ones, whose streams hold the blocks they asked for first.
func rowsDiff(allocation string, want, got []string) string {
	if allocation == emulator.AllocationLiquid {
		want, got = slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))
	}
	return cmp.Diff(want, got)
}

// readParquet reads a parquet file with arrow-go's pqarrow reader.
func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pf.Close() })
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// parquetRows returns "id|name|score" per row of a parquet file of the test table, sorted.
func parquetRows(t *testing.T, tbl arrow.Table) []string {
	t.Helper()
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	var rows []string
	for tr.Next() {
		rec := tr.Record()
		ids := rec.Column(0).(*array.Int64)
		names := rec.Column(1).(*array.String)
		scores := rec.Column(2).(*array.Float64)
		for i := range int(rec.NumRows()) {
			name := "<null>"
			if names.IsValid(i) {
				name = names.Value(i)
			}
			rows = append(rows, fmt.Sprintf("%d|%s|%g", ids.Value(i), name, scores.Value(i)))
		}
	}
	slices.Sort(rows)
	return rows
}

func checkProcesses(t *testing.T, s exportSummary, streams int) {
	t.Helper()
	if s.Streams != streams || len(s.PerStream) != streams {
		t.Fatalf("session has %d streams (%d reported), want %d", s.Streams, len(s.PerStream), streams)
	}
	seen := map[int]int{os.Getpid(): -1}
	for _, ps := range s.PerStream {
		if len(ps.Pids) != 1 || ps.Pid != ps.Pids[0] {
			t.Errorf("stream %d ran in processes %v, want exactly one", ps.Index, ps.Pids)
		}
		if other, dup := seen[ps.Pid]; dup {
			t.Errorf("stream %d ran in pid %d, as did stream %d (-1: the coordinator)", ps.Index, ps.Pid, other)
		}
		seen[ps.Pid] = ps.Index
	}
}

func TestExportStreamsInProcesses(t *testing.T) {
	want := wantRows(t, all)
	for _, wire := range []string{"arrow", "avro"} {
		for _, streams := range []int{1, 2, 7, 16} {
			t.Run(fmt.Sprintf("%s/%d", wire, streams), func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(t.TempDir(), "items.ndjson")
				s := mustExport(t, testTable, "-o", out, "--data-format", wire,
					"--streams", strconv.Itoa(streams), "--parallelism", strconv.Itoa(streams), "--segment-rows", "400")
				checkProcesses(t, s, streams)
				got := readNDJSON(t, out)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("output rows differ from the source (-want +got):\n%s", diff)
				}
				if s.Rows != testRows {
					t.Errorf("summary rows = %d, want %d", s.Rows, testRows)
				}
				if _, err := os.Stat(out + ".bqread"); !os.IsNotExist(err) {
					t.Errorf("work dir left after success: %v", err)
				}
			})
		}
	}
}

// sourceParquetRows is the source rows as parquetRows gives them, sorted.
func sourceParquetRows() []string {
	var want []string
	for i := range testRows {
		r := sourceRow(i)
		name := "<null>"
		if n, ok := r["name"].(string); ok {
			name = n
		}
		want = append(want, fmt.Sprintf("%d|%s|%g", i, name, r["score"]))
	}
	slices.Sort(want)
	return want
}

func TestExportParquet(t *testing.T) {
	want := sourceParquetRows()
	for _, wire := range []string{"arrow", "avro"} {
		t.Run(wire, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "items.parquet")
			s := mustExport(t, testTable, "-o", out, "--data-format", wire, "--streams", "3", "--segment-rows", "400")
			checkProcesses(t, s, 3)
			if diff := cmp.Diff(want, parquetRows(t, readParquet(t, out))); diff != "" {
				t.Errorf("parquet rows differ from the source (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExportKeepsRowOrder checks that Arrow and Parquet outputs, whose segments are merged as they
// are committed (in whatever order the streams commit them), list the rows in (stream, offset)
// order: the test table's streams are consecutive runs of ids, so ids come out 0, 1, 2...
func TestExportKeepsRowOrder(t *testing.T) {
	for _, format := range []string{"arrow", "parquet"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "items."+format)
			mustExport(t, testTable, "-o", out, "--streams", "3", "--parallelism", "3", "--segment-rows", "300")
			checkIDsInOrder(t, readTable(t, format, out))
		})
	}
}

// tableIDs returns the ids (the first column) of an output of the test table, in order.
func tableIDs(tbl arrow.Table) []int64 {
	var ids []int64
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	for tr.Next() {
		ids = append(ids, tr.Record().Column(0).(*array.Int64).Int64Values()...)
	}
	return ids
}

// checkIDsInOrder checks that the test table's ids come out 0, 1, 2... testRows-1.
func checkIDsInOrder(t *testing.T, tbl arrow.Table) {
	t.Helper()
	ids := tableIDs(tbl)
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("row %d has id %d: rows out of (stream, offset) order", i, id)
		}
	}
	if len(ids) != testRows {
		t.Errorf("%d rows, want %d", len(ids), testRows)
	}
}

// readTable reads a Parquet or Arrow output file.
func readTable(t *testing.T, format, path string) arrow.Table {
	t.Helper()
	if format == "parquet" {
		return readParquet(t, path)
	}
	return readArrowFile(t, path)
}

// readArrowFile reads an Arrow IPC file with arrow-go's file reader, batches in footer order.
func readArrowFile(t *testing.T, path string) arrow.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	var recs []arrow.Record
	for i := range fr.NumRecords() {
		rec, err := fr.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		rec.Retain()
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(fr.Schema(), recs)
	for _, r := range recs {
		r.Release()
	}
	t.Cleanup(tbl.Release)
	return tbl
}

func TestExportColumnsWhere(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cols.ndjson")
	mustExport(t, testTable, "-o", out, "--columns", "name,id", "--streams", "2")
	if diff := cmp.Diff(wantRows(t, all, "id", "name"), readNDJSON(t, out)); diff != "" {
		t.Errorf("--columns: rows differ (-want +got):\n%s", diff)
	}
	out = filepath.Join(dir, "where.ndjson")
	mustExport(t, testTable, "-o", out, "--where", "id < 100 AND ok", "--streams", "2", "--data-format", "avro")
	if diff := cmp.Diff(wantRows(t, func(i int) bool { return i < 100 && i%3 == 0 }), readNDJSON(t, out)); diff != "" {
		t.Errorf("--where: rows differ (-want +got):\n%s", diff)
	}
}

func TestExportEmpty(t *testing.T) {
	tests := []struct{ name, table, where string }{
		{"empty table", "bqread-demo.samples.empty", ""},
		{"filter matches nothing", testTable, "id < 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "empty.parquet")
			args := []string{tt.table, "-o", out}
			if tt.where != "" {
				args = append(args, "--where", tt.where)
			}
			s := mustExport(t, args...)
			if s.Rows != 0 {
				t.Errorf("rows = %d, want 0", s.Rows)
			}
			tbl := readParquet(t, out)
			if tbl.NumRows() != 0 || tbl.NumCols() == 0 {
				t.Errorf("parquet file has %d rows and %d columns, want 0 rows and the schema", tbl.NumRows(), tbl.NumCols())
			}
		})
	}
}

// parquetIDs returns the sorted first (INT64) column of a parquet file.
func parquetIDs(t *testing.T, path string) []int64 {
	t.Helper()
	tr := array.NewTableReader(readParquet(t, path), 0)
	defer tr.Release()
	var ids []int64
	for tr.Next() {
		ids = append(ids, tr.Record().Column(0).(*array.Int64).Int64Values()...)
	}
	slices.Sort(ids)
	return ids
}

func TestExportSnapshotTime(t *testing.T) {
	data := t.TempDir()
	tdir := filepath.Join(data, "bqread-test", "ds", "versions")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	schemaPath := filepath.Join(tdir, "schema.json")
	os.WriteFile(schemaPath, []byte(`[{"name":"id","type":"INT64"}]`), 0o644)
	os.Chtimes(schemaPath, now.Add(-4*time.Hour), now.Add(-4*time.Hour))
	writeVersion := func(rows int, mtime time.Time) []int64 {
		var buf bytes.Buffer
		var ids []int64
		for i := range rows {
			fmt.Fprintf(&buf, "{\"id\": %d}\n", i)
			ids = append(ids, int64(i))
		}
		path := filepath.Join(tdir, "data.ndjson")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	exportAt := func(name, snapshot string) (int, string) {
		args := []string{"export", "bqread-test.ds.versions", "--endpoint", inst.GRPCAddr(), "--progress", "none",
			"-o", filepath.Join(dir, name), "--streams", "2"}
		if snapshot != "" {
			args = append(args, "--snapshot-time", snapshot)
		}
		var stderr bytes.Buffer
		code := run(t.Context(), args, nil, io.Discard, &stderr)
		return code, stderr.String()
	}

	v1 := writeVersion(10, now.Add(-2*time.Hour))
	if code, stderr := exportAt("v1.parquet", ""); code != 0 {
		t.Fatalf("export of version 1: exit %d\n%s", code, stderr)
	}
	v2 := writeVersion(25, now.Add(-time.Hour))
	tests := []struct {
		name, snapshot string
		want           []int64
	}{
		{"now", "", v2},
		{"between versions", now.Add(-90 * time.Minute).Format(time.RFC3339Nano), v1},
		{"after version 2", now.Add(-time.Minute).Format(time.RFC3339Nano), v2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "_") + ".parquet"
			if code, stderr := exportAt(name, tt.snapshot); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if diff := cmp.Diff(tt.want, parquetIDs(t, filepath.Join(dir, name))); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
		})
	}
	code, stderr := exportAt("before.parquet", now.Add(-3*time.Hour).Format(time.RFC3339))
	if code != exitUsage {
		t.Errorf("snapshot before the table existed: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
}

func TestExportRestartsDeadWorkers(t *testing.T) {
	t.Setenv(dieEnv, t.TempDir())
	out := filepath.Join(t.TempDir(), "items.parquet")
	s := mustExport(t, testTable, "-o", out, "--streams", "3", "--segment-rows", "300")
	for _, ps := range s.PerStream {
		if len(ps.Pids) != 2 || ps.Pids[0] == ps.Pids[1] {
			t.Errorf("stream %d ran in processes %v, want a dead one and its replacement", ps.Index, ps.Pids)
		}
	}
	want := sourceParquetRows()
	if diff := cmp.Diff(want, parquetRows(t, readParquet(t, out))); diff != "" {
		t.Errorf("rows differ from the source after restarts (-want +got):\n%s", diff)
	}
}

// TestExportFaults is the fault matrix: every fault kind of the emulator, on both wire formats with
// several streams, fixed and liquid, ends with exactly the source rows (retried in the worker, or
// the worker restarted), and the summary counts what happened; an expired session fails cleanly.
// A fault fires once on each stream that has rows left to send after its ROWS: with fixed streams,
// on both; with liquid ones, on each that took that many rows.
func TestExportFaults(t *testing.T) {
	tests := []struct {
		name     string
		retried  []string // each fires once per stream and is retried in the worker
		restart  []string // each fires once per stream and restarts the worker
		wantCode int
	}{
		{"transient", []string{"resource_exhausted@100", "unavailable@500", "rst_stream@700", "eos@900", "stall@1100"}, nil, exitOK},
		{"deadline restarts the worker", nil, []string{"deadline@300"}, exitOK},
		{"expired session", nil, []string{"expired@300"}, exitError},
	}
	for _, allocation := range emulator.StreamAllocations {
		for _, wire := range []string{"arrow", "avro"} {
			for _, tt := range tests {
				t.Run(allocation+"/"+wire+"/"+tt.name, func(t *testing.T) {
					t.Parallel()
					retried, restart := parseFaults(t, tt.retried), parseFaults(t, tt.restart)
					inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 4 << 10,
						Faults: append(retried, restart...), StreamAllocation: allocation})
					if err != nil {
						t.Fatal(err)
					}
					defer inst.Close()
					out := filepath.Join(t.TempDir(), "items.ndjson")
					var stdout, stderr bytes.Buffer
					code := run(t.Context(), []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--data-format", wire,
						"--streams", "2", "--stall-timeout", "1s", "--progress", "none", "--summary", "-"}, nil, &stdout, &stderr)
					if code != tt.wantCode {
						t.Fatalf("exit %d, want %d\n%s", code, tt.wantCode, stderr.String())
					}
					if code != exitOK {
						checkExpired(t, out, stderr.String())
						return
					}
					var s struct {
						Retries   int `json:"retries"`
						PerStream []struct {
							Rows int64 `json:"rows"`
							Pids []int `json:"pids"`
						} `json:"per_stream"`
					}
					if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
						t.Fatal(err)
					}
					if len(s.PerStream) != 2 {
						t.Fatalf("%d streams, want 2", len(s.PerStream))
					}
					wantRetries := 0
					for i, ps := range s.PerStream {
						wantRetries += firing(retried, ps.Rows)
						if want := 1 + firing(restart, ps.Rows); len(ps.Pids) != want {
							t.Errorf("stream %d (%d rows) ran in %d worker processes, want %d", i, ps.Rows, len(ps.Pids), want)
						}
					}
					if s.Retries != wantRetries || (allocation == emulator.AllocationFixed && wantRetries != 2*len(retried)) {
						t.Errorf("retries = %d, want %d (each fault once per stream that reached it)", s.Retries, wantRetries)
					}
					if diff := rowsDiff(allocation, wantRows(t, all), readNDJSON(t, out)); diff != "" {
						t.Errorf("rows differ after faults (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// parseFaults parses fault specs.
func parseFaults(t *testing.T, specs []string) []emulator.Fault {
	t.Helper()
	faults, err := emulator.ParseFaults(specs)
	if err != nil {
		t.Fatal(err)
	}
	return faults
}

// firing counts the faults that fire on a stream of rows: those with rows left to send after theirs.
func firing(faults []emulator.Fault, rows int64) int {
	n := 0
	for _, f := range faults {
		if f.AfterRows < rows {
			n++
		}
	}
	return n
}

// TestExportOverConcurrencyQuota runs more workers at once than the server serves ReadRows calls:
// the calls over the quota get RESOURCE_EXHAUSTED with a RetryInfo, the workers wait and retry,
// and every row arrives once.
//
// Each response waits a second, so a stream holds its call for at least that long and the
// workers, started together, overlap however slowly their processes start.
func TestExportOverConcurrencyQuota(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData,
		Latency: time.Second, MaxConcurrentReads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	out := filepath.Join(t.TempDir(), "items.ndjson")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out,
		"--streams", "3", "--parallelism", "3", "--progress", "none", "--summary", "-"}, nil, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var s struct {
		Streams int `json:"streams"`
		Retries int `json:"retries"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Streams != 3 || s.Retries == 0 {
		t.Errorf("streams %d, retries %d: want 3 streams read one at a time, with retries", s.Streams, s.Retries)
	}
	if diff := cmp.Diff(wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ (-want +got):\n%s", diff)
	}
}

// checkExpired checks that an export whose session expired said so in one line and left nothing.
func checkExpired(t *testing.T, out, stderr string) {
	t.Helper()
	if msg := errorLines(stderr); len(msg) != 1 || !strings.Contains(msg[0], "expired") || !strings.Contains(msg[0], "without --resume") {
		t.Errorf("want one error line saying the session expired and what to do:\n%s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed export", out)
	}
	if _, err := os.Stat(out + ".bqread"); !os.IsNotExist(err) {
		t.Errorf("work dir left after a failed export")
	}
}

func TestExportEmulatorFault(t *testing.T) {
	out := filepath.Join(t.TempDir(), "items.ndjson")
	code, stdout, stderr := exportCmd(t, testTable, "-o", out, "--streams", "2", "--summary", "-",
		"--emulator-fault", "unavailable@0", "--emulator-fault", "eos@0")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var s struct {
		Retries int `json:"retries"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Retries != 4 {
		t.Errorf("retries = %d, want 4 (two faults on each of two streams)", s.Retries)
	}
	if diff := cmp.Diff(wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ after retries (-want +got):\n%s", diff)
	}
}
