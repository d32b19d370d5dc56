package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/workdir"
)

// killTrials is how many exports TestExportKilledAtRandom kills per format: a few in every test
// run, 50 in .ci/run's own step (-kill-trials 50), which takes minutes.
var killTrials = flag.Int("kill-trials", 3, "exports TestExportKilledAtRandom kills per format")

// TestExportKilledAtRandom kills exports of every format at random points while their segments
// are written, merged into the temp output, made durable, journaled and removed (the write-once
// path): in half the trials the coordinator with SIGKILL, then the export is resumed; in the
// other half one worker with SIGKILL, which the coordinator restarts. Nothing may appear at --out
// before the export succeeds, and the output, read by a reader other than bqread's (encoding/json,
// encoding/csv, goavro, arrow-go's IPC file and stream readers, pqarrow), must hold the table's
// rows once each, in order. The kill time is drawn uniformly over the time an export takes
// unkilled, measured first. The test logs how many coordinator kills left a merge journal that the
// resume went on from.
func TestExportKilledAtRandom(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("workers die with their coordinator through Linux's parent-death signal")
	}
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 4 << 10, Latency: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	for _, format := range []string{"parquet", "arrow", "avro", "csv", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(len(format))))
			start := time.Now()
			first, took, _ := killExport(t, inst, format, 0, nil)
			journaled := 0
			for k := range *killTrials {
				at := time.Duration(rng.Int64N(int64(took - first)))
				victim := -1 // the coordinator
				if k%2 == 1 {
					victim = rng.IntN(2)
				}
				if _, _, j := killExport(t, inst, format, at, &killed{victim: victim}); j {
					journaled++
				}
				if t.Failed() {
					t.Fatalf("trial %d: killed %v after %v", k, victim, at)
				}
			}
			t.Logf("%s: %d trials in %v (an export unkilled: %v, its first segment at %v); %d coordinator kills left a merge journal the resume went on from",
				format, *killTrials, time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond), first.Round(time.Millisecond), journaled)
		})
	}
}

// killed is the victim of one trial: -1 the coordinator, else the worker of that stream.
type killed struct {
	victim int
}

// killExport exports the test table in format with the coordinator in its own process and, if
// kill is set, kills kill.victim at after the first segment was committed; then it resumes a
// killed coordinator's export, and checks the output. It returns when the first segment was
// committed and when the coordinator exited, from its start, and whether it was killed with a
// merge journal holding segments in its work dir.
func killExport(t *testing.T, inst *emulator.Instance, format string, at time.Duration, kill *killed) (first, took time.Duration, journaled bool) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "items."+format)
	workDir := out + ".bqread"
	args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "2",
		"--parallelism", "2", "--segment-rows", "100", "--progress", "none", "--split-stragglers=false"}
	if format == "csv" {
		args = append(args, "--columns", "id,name,score,ok,day") // CSV holds no repeated column
	}
	cmd := exec.Command(os.Args[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	first = waitCommitted(workDir, exited).Sub(start)
	if kill != nil {
		time.Sleep(at)
		if kill.victim < 0 {
			cmd.Process.Kill()
		} else if pid, ok := workerPids(t, workDir)[kill.victim]; ok {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	<-exited
	took = time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		if kill == nil || kill.victim >= 0 || code != -1 {
			t.Fatalf("export: exit %d\n%s", code, stderr.String())
		}
		journaled = resumeKilled(t, args, format, out)
	}
	if diff := cmp.Diff(sourceKeys(), outputKeys(t, format, out)); diff != "" {
		t.Fatalf("rows differ from the source, in order (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(workDir); !os.IsNotExist(err) {
		t.Fatalf("work dir left after the export succeeded: %v", err)
	}
	return first, took, journaled
}

// resumeKilled finishes the export of args into out whose coordinator was killed: it checks
// that --out holds nothing, or the whole output if the kill came after the rename (then the work
// dir is removed, as a user would), and resumes it. It reports whether the work dir held a merge
// journal of merged segments, which the resume went on from; the caller checks the output then.
func resumeKilled(t *testing.T, args []string, format, out string) (journaled bool) {
	t.Helper()
	workDir := out + ".bqread"
	waitNoWorkers(t, workDir)
	if _, err := os.Stat(out); err == nil { // killed after the rename: remove the work dir, as a user would
		d, err := workdir.Open(workDir)
		if errors.Is(err, workdir.ErrMissing) { // killed after its removal too, before it exited
			return false
		}
		if err == nil {
			err = d.Remove()
		}
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	journaled = journalHolds(workDir)
	if _, err := os.Stat(filepath.Join(workDir, "manifest.json")); err == nil {
		runResume(t, args)
		return journaled
	}
	var stderr bytes.Buffer // killed before its session was saved: nothing to resume
	if code := run(t.Context(), args, nil, io.Discard, &stderr); code != exitOK {
		t.Fatalf("export again: exit %d\n%s", code, stderr.String())
	}
	return false
}

// waitCommitted waits until a segment of the export in workDir is committed, or its coordinator
// has exited, and returns when.
func waitCommitted(workDir string, exited <-chan struct{}) time.Time {
	for {
		select {
		case <-exited:
			return time.Now()
		default:
		}
		if recs, _ := filepath.Glob(filepath.Join(workDir, "stream-*", "*.commit")); len(recs) > 0 {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// journalHolds reports whether the work dir's merge journal records a merged segment: it has a
// line after the one naming the temp output.
func journalHolds(workDir string) bool {
	data, err := os.ReadFile(filepath.Join(workDir, "merge-journal"))
	return err == nil && bytes.Count(data, []byte("\n")) > 1
}

// sourceKeys returns "id|name|score" of each row of the test table, in order.
func sourceKeys() []string {
	keys := make([]string, testRows)
	for i := range testRows {
		r := sourceRow(i)
		name := "<null>"
		if n, ok := r["name"].(string); ok {
			name = n
		}
		keys[i] = fmt.Sprintf("%d|%s|%g", i, name, r["score"])
	}
	return keys
}

// outputKeys reads an output file of the test table with a reader other than bqread's and
// returns "id|name|score" of each row, in the file's order.
func outputKeys(t *testing.T, format, path string) []string {
	t.Helper()
	switch format {
	case "parquet":
		return tableKeys(readParquet(t, path))
	case "arrow":
		keys := tableKeys(readArrowFile(t, path))
		sorted, stream := slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(arrowStreamKeys(t, path)))
		if !cmp.Equal(sorted, stream) { // the stream has the batches in the order they were merged
			t.Fatalf("the Arrow file's embedded stream holds other rows than its footer lists:\n%s", cmp.Diff(sorted, stream))
		}
		return keys
	case "avro":
		return avroKeys(t, path)
	case "csv":
		return csvKeys(t, path)
	}
	return ndjsonKeys(t, path)
}

// tableKeys returns "id|name|score" of each row of an output table of the test table.
func tableKeys(tbl arrow.Table) []string {
	var keys []string
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		ids, names, scores := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String), rec.Column(2).(*array.Float64)
		for i := range int(rec.NumRows()) {
			name := "<null>"
			if names.IsValid(i) {
				name = names.Value(i)
			}
			keys = append(keys, fmt.Sprintf("%d|%s|%g", ids.Value(i), name, scores.Value(i)))
		}
	}
	return keys
}

// arrowStreamKeys reads the IPC stream embedded in an Arrow file (after its 8-byte magic) with
// arrow-go's stream reader, which reads every message up to the end-of-stream marker, whether
// the footer lists it or not, in the order they were written.
func arrowStreamKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewReader(io.NewSectionReader(f, 8, 1<<62))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var recs []arrow.Record
	for r.Next() {
		r.Record().Retain()
		recs = append(recs, r.Record())
	}
	if r.Err() != nil {
		t.Fatalf("the Arrow file's embedded stream: %v", r.Err())
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	defer tbl.Release()
	for _, rec := range recs {
		rec.Release()
	}
	return tableKeys(tbl)
}

// avroKeys reads an Avro file with goavro.
func avroKeys(t *testing.T, path string) []string {
	t.Helper()
	ocf := openOCF(t, path)
	var keys []string
	for ocf.Scan() {
		v, err := ocf.Read()
		if err != nil {
			t.Fatalf("%s: row %d: %v", path, len(keys), err)
		}
		row := v.(map[string]any)
		keys = append(keys, fmt.Sprintf("%v|%v|%v", avroValue(row["id"]), avroValue(row["name"]), avroValue(row["score"])))
	}
	return keys
}

// avroValue unwraps goavro's union value ({"branch type": value}); null is "<null>".
func avroValue(v any) any {
	if m, ok := v.(map[string]any); ok {
		for _, x := range m {
			return x
		}
	}
	if v == nil {
		return "<null>"
	}
	return v
}

// csvKeys reads a CSV file with encoding/csv; its first record is the header.
func csvKeys(t *testing.T, path string) []string {
	t.Helper()
	records := readCSVFile(t, path, ',')
	if len(records) == 0 || !cmp.Equal(records[0][:3], []string{"id", "name", "score"}) {
		t.Fatalf("%s: no header row: %v", path, records[:min(1, len(records))])
	}
	var keys []string
	for _, r := range records[1:] {
		name := r[1]
		if name == "" {
			name = "<null>"
		}
		score, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			t.Fatalf("%s: score %q: %v", path, r[2], err)
		}
		keys = append(keys, fmt.Sprintf("%s|%s|%g", r[0], name, score))
	}
	return keys
}

// ndjsonKeys reads an NDJSON file with encoding/json, checking each whole row against the
// source row its id names.
func ndjsonKeys(t *testing.T, path string) []string {
	t.Helper()
	var keys []string
	for _, row := range ndjsonRows(t, path) {
		id, _ := strconv.Atoi(fmt.Sprint(row["id"]))
		if got, want := canonical(t, row), canonical(t, sourceRow(id)); got != want {
			t.Fatalf("%s: row %d is %s, want %s", path, len(keys), got, want)
		}
		name := "<null>"
		if n, ok := row["name"].(string); ok {
			name = n
		}
		keys = append(keys, fmt.Sprintf("%v|%s|%g", row["id"], name, row["score"]))
	}
	return keys
}
