package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/output"
)

func TestMain(m *testing.M) {
	export.RunWorkerIfChild() // Run's worker processes are this test binary
	// Under -race, every process sleeps 1s at exit unless told not to: workers are processes.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// Example exports a sample table of an emulator to an NDJSON file, each stream read by a worker
// process (this program, run again: see RunWorkerIfChild).
func Example() {
	ctx := context.Background()
	inst, err := emulator.Start(ctx, emulator.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Close()
	dir, err := os.MkdirTemp("", "bqread-example-*")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sum, err := export.Run(ctx, export.Options{
		Table:    "bqread-demo.samples.all_types",
		Out:      filepath.Join(dir, "all_types.ndjson"),
		Endpoint: inst.GRPCAddr(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("exported %d rows to %s\n", sum.Rows, filepath.Base(sum.OutputFiles[0]))
	// Output: exported 7 rows to all_types.ndjson
}

// clusterRows is the size of the orchestrator test's table.
const clusterRows = 6000

// writeClusterTable writes a table of clusterRows rows (id, name, score) for the emulator.
func writeClusterTable(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	dir := filepath.Join(data, "bqread-test", "ds", "t")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	schema := `[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"name","type":"STRING"},{"name":"score","type":"FLOAT64"}]`
	var rows strings.Builder
	for i := range clusterRows {
		fmt.Fprintf(&rows, `{"id": %d, "name": "row %d", "score": %g}`+"\n", i, i, float64(i)/8)
	}
	os.WriteFile(filepath.Join(dir, "schema.json"), []byte(schema), 0o644)
	os.WriteFile(filepath.Join(dir, "data.ndjson"), []byte(rows.String()), 0o644)
	return data
}

// sourceRows is the multiset of the table's rows as "id|name|score", sorted.
func sourceRows() []string {
	var out []string
	for i := range clusterRows {
		out = append(out, fmt.Sprintf("%d|row %d|%g", i, i, float64(i)/8))
	}
	slices.Sort(out)
	return out
}

// worker is one task's process, started the way a scheduler starts it: the command with the
// index in an environment variable, no --task-index.
type worker struct {
	cmd    *exec.Cmd
	events *bufio.Scanner
}

func startWorker(t *testing.T, workDir, indexVar string, index int) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "worker", "--work-dir", workDir)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { // no index but ours
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(export.IndexEnv, name)
	})
	cmd.Env = append(env, "BQREAD_WORKER=1", fmt.Sprintf("%s=%d", indexVar, index))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &worker{cmd: cmd, events: bufio.NewScanner(out)}
}

// untilSegment reads the worker's events until it reports a committed segment.
func (w *worker) untilSegment(t *testing.T) {
	t.Helper()
	for w.events.Scan() {
		if e, err := event.Parse(w.events.Bytes()); err == nil && e.Kind == event.Segment {
			return
		}
	}
	t.Fatal("the worker ended without committing a segment")
}

// wait drains the worker's events and waits for it to exit.
func (w *worker) wait() error {
	for w.events.Scan() {
	}
	return w.cmd.Wait()
}

// TestOrchestrator plays a scheduler: one plan, four tasks over six streams started by index from
// each scheduler's variable, one task killed with SIGKILL part way and run again, two copies of
// another at once; the merged output holds each source row once, for Arrow and Avro on the wire
// into Parquet and NDJSON.
func TestOrchestrator(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t), ResponseBytes: 4 << 10, StreamBandwidth: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, wire := range []string{"arrow", "avro"} {
		for _, format := range []string{"parquet", "ndjson"} {
			t.Run(wire+"-to-"+format, func(t *testing.T) {
				dir := t.TempDir()
				workDir := filepath.Join(dir, "work")
				e, err := export.Plan(t.Context(), export.Options{Table: "bqread-test.ds.t", Format: output.Format(format), WorkDir: workDir,
					Endpoint: inst.GRPCAddr(), Streams: 6, Tasks: 4, DataFormat: wire, SegmentRows: 200})
				if err != nil {
					t.Fatal(err)
				}
				e.Close() // the workers and the merge run elsewhere
				if e.Streams() != 6 || e.Tasks() != 4 {
					t.Fatalf("planned %d streams as %d tasks, want 6 as 4", e.Streams(), e.Tasks())
				}
				runTasks(t, workDir)
				out := filepath.Join(dir, "t."+format)
				sum, err := export.Merge(t.Context(), export.MergeOptions{WorkDir: workDir, Out: out, KeepParts: true})
				if err != nil {
					t.Fatal(err)
				}
				got := readRows(t, format, out)
				if sum.Rows != clusterRows || !slices.Equal(got, sourceRows()) {
					t.Errorf("merged %d rows (summary %d); the multiset differs from the source's %d rows", len(got), sum.Rows, clusterRows)
				}
				// The same parts as many files: one per segment, then the manifest.
				sum, err = export.Merge(t.Context(), export.MergeOptions{WorkDir: workDir, Out: filepath.Join(dir, "p-*."+format)})
				if err != nil {
					t.Fatal(err)
				}
				var fromFiles []string
				for _, f := range sum.OutputFiles[:len(sum.OutputFiles)-1] {
					fromFiles = append(fromFiles, independentRows(t, format, f)...)
				}
				slices.Sort(fromFiles)
				if _, err := os.Stat(filepath.Join(dir, "p-manifest.json")); err != nil || !slices.Equal(fromFiles, sourceRows()) {
					t.Errorf("many-file merge: %d files hold %d rows (manifest: %v), want the source's %d", len(sum.OutputFiles)-1, len(fromFiles), err, clusterRows)
				}
				if _, err := os.Stat(workDir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("work dir left after the merge: %v", err)
				}
			})
		}
	}
}

// runTasks runs the four tasks of the plan in workDir as a scheduler would, with one killed and
// retried and one run twice at once, and checks that a merge before the end is refused.
func runTasks(t *testing.T, workDir string) {
	t.Helper()
	vars := export.IndexEnv // task i gets its index from the i-th scheduler's variable
	killed := startWorker(t, workDir, vars[1], 1)
	killed.untilSegment(t)
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.wait()
	_, err := export.Merge(t.Context(), export.MergeOptions{WorkDir: workDir, Out: filepath.Join(filepath.Dir(workDir), "early.out")})
	if !errors.Is(err, export.ErrIncomplete) {
		t.Fatalf("merge with a task killed = %v, want ErrIncomplete", err)
	}
	workers := []*worker{startWorker(t, workDir, vars[0], 0), startWorker(t, workDir, vars[1], 1),
		startWorker(t, workDir, vars[2], 2), startWorker(t, workDir, vars[2], 2), startWorker(t, workDir, vars[3], 3)}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			if err := w.wait(); err != nil {
				t.Errorf("worker %v: %v", w.cmd.Env[len(w.cmd.Env)-1], err)
			}
		})
	}
	wg.Wait()
	status, err := export.ReadStatus(t.Context(), workDir)
	if err != nil || !status.Done || status.TasksDone != 4 || status.RowsCommitted != clusterRows {
		js, _ := json.Marshal(status)
		t.Fatalf("status after every task: %s, %v", js, err)
	}
}

// readRows reads an NDJSON or Parquet output back as sorted "id|name|score" rows, with arrow-go's
// Parquet reader for Parquet (the writer is bqread's own merge of column chunks).
func readRows(t *testing.T, format, path string) []string {
	t.Helper()
	var out []string
	if format == "ndjson" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var r struct {
				ID    string  `json:"id"`
				Name  string  `json:"name"`
				Score float64 `json:"score"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			out = append(out, fmt.Sprintf("%s|%s|%g", r.ID, r.Name, r.Score))
		}
	} else {
		out = parquetRows(t, path)
	}
	slices.Sort(out)
	return out
}

func parquetRows(t *testing.T, path string) []string {
	t.Helper()
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []string
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		ids, names, scores := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String), rec.Column(2).(*array.Float64)
		for i := range int(rec.NumRows()) {
			out = append(out, fmt.Sprintf("%d|%s|%g", ids.Value(i), names.Value(i), scores.Value(i)))
		}
	}
	return out
}

// TestOutputAppearedDuringExport creates, between the plan and the end of the read, a file at
// Out and one at Summary: neither is replaced (there is no Overwrite), and the export stops with
// its parts kept for a resume.
func TestOutputAppearedDuringExport(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	out, summary := filepath.Join(dir, "o.ndjson"), filepath.Join(dir, "s.json")
	e, err := export.Plan(t.Context(), export.Options{Table: "bqread-demo.samples.all_types", Out: out, Summary: summary, Endpoint: inst.GRPCAddr()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{out, summary} {
		if err := os.WriteFile(p, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.Run(t.Context())
	var ke *export.KeptError
	if !errors.As(err, &ke) || !errors.Is(err, export.ErrPartial) {
		t.Fatalf("Run = %v, want a partial export with its parts kept", err)
	}
	for _, p := range []string{out, summary} {
		if data, _ := os.ReadFile(p); string(data) != "mine" {
			t.Errorf("%s was replaced: %q", p, data)
		}
	}
	if _, err := os.Stat(ke.WorkDir); err != nil {
		t.Errorf("the parts were not kept: %v", err)
	}
}
