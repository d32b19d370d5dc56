package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/slurmtest"
)

// The Slurm test's export: 6 streams of 500 rows as 4 tasks, so that tasks 0 and 1 read two
// streams each (0 and 4, 1 and 5). Responses of about 1 KiB at 16 KiB/s per stream make one stream
// take about 4 s, and a segment is committed every 20 rows: a task can be cancelled part way.
const (
	slurmStreams       = 6
	slurmTasks         = 4
	slurmResponseBytes = 1 << 10
	slurmBandwidth     = 16 << 10
	slurmSegmentRows   = 20
	// slurmVictim is the task cancelled once its second stream has committed rows, then run again.
	slurmVictim = 1
)

// TestSlurmArray runs the workers of a planned export as a Slurm job array on the cluster that
// scripts/slurm-cluster starts: it cancels one array task part way (scancel), checks that merge
// refuses with exit 3 and lists that task's unfinished streams, resubmits that one array index,
// merges, and checks the output row for row against the source.
func TestSlurmArray(t *testing.T) {
	slurmtest.Require(t)
	start := time.Now()
	elapsed := func() string { return fmt.Sprintf("[%4.1fs]", time.Since(start).Seconds()) }
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData,
		ResponseBytes: slurmResponseBytes, StreamBandwidth: slurmBandwidth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })

	dir := t.TempDir()
	work, out, logs := filepath.Join(dir, "work"), filepath.Join(dir, "items.ndjson"), filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}

	// 1. plan.
	stdout, _ := slurmCLI(t, exitOK, "plan", testTable, "--endpoint", inst.GRPCAddr(), "--work-dir", work, "-f", "ndjson",
		"--streams", fmt.Sprint(slurmStreams), "--tasks", fmt.Sprint(slurmTasks),
		"--segment-rows", fmt.Sprint(slurmSegmentRows), "--json")
	var p planned
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, stdout)
	}
	if p.Streams != slurmStreams || p.Tasks != slurmTasks {
		t.Fatalf("plan: %d streams as %d tasks, want %d as %d", p.Streams, p.Tasks, slurmStreams, slurmTasks)
	}
	t.Logf("%s bqread plan --json: %s", elapsed(), strings.TrimSpace(stdout))

	// 2. The workers as an array job: the planned worker command, with this test binary as bqread
	// (asMainEnv is in the environment, which sbatch passes on) and the index from
	// SLURM_ARRAY_TASK_ID.
	wrap := shellQuote(append([]string{os.Args[0]}, p.WorkerCommand[1:]...))
	output := "--output=" + filepath.Join(logs, "slurm-%A_%a.out")
	job := slurmtest.Submit(t, fmt.Sprintf("--array=0-%d", slurmTasks-1), output, "--wrap", wrap)
	t.Cleanup(func() { slurmCancelAll(t, job) })
	t.Logf("%s sbatch --array=0-%d --wrap %q: job %s", elapsed(), slurmTasks-1, wrap, job)

	// 3. Cancel the victim task once its second stream has committed rows, not all of them.
	second := slurmVictim + slurmTasks
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := slurmStatus(t, work)
		st := s.Streams[second]
		if st.Task != slurmVictim {
			t.Fatalf("stream %d is read by task %d, want %d", second, st.Task, slurmVictim)
		}
		if st.RowsCommitted > 0 && !st.Done {
			t.Logf("%s task %d running, stream %d at %d rows committed: scancel %s_%d (states %v)",
				elapsed(), slurmVictim, second, st.RowsCommitted, job, slurmVictim, slurmtest.States(t, job))
			break
		}
		if st.Done {
			t.Fatalf("stream %d was read to its end before it could be cancelled: raise the test's stream time", second)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %d has no rows committed after 60s: states %v, status %+v", second, slurmtest.States(t, job), s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	slurmtest.Cancel(t, job, slurmVictim)
	states := slurmtest.Wait(t, job, 90*time.Second)
	want := map[int]string{}
	for i := range slurmTasks {
		want[i] = "COMPLETED"
	}
	want[slurmVictim] = "CANCELLED"
	if !maps.Equal(states, want) {
		slurmLogOutputs(t, logs)
		t.Fatalf("job %s: states %v, want %v", job, states, want)
	}
	t.Logf("%s job %s ended: %v; task %d's output ends:\n%s", elapsed(), job, states, slurmVictim,
		slurmTail(t, filepath.Join(logs, fmt.Sprintf("slurm-%s_%d.out", job, slurmVictim)), 3))

	// 4. merge refuses, naming the victim's unfinished streams and their committed rows.
	s := slurmStatus(t, work)
	var unfinished []export.StreamStatus
	for _, st := range s.Streams {
		if !st.Done {
			unfinished = append(unfinished, st)
		}
	}
	if len(unfinished) == 0 || unfinished[len(unfinished)-1].Index != second {
		t.Fatalf("after the cancel, streams not done: %+v, want stream %d among them", unfinished, second)
	}
	for _, st := range unfinished {
		if st.Task != slurmVictim {
			t.Errorf("stream %d (task %d) is not done after every task but %d completed", st.Index, st.Task, slurmVictim)
		}
	}
	slurmLogStatus(t, work)
	_, stderr := slurmCLI(t, exitPartial, "merge", "--work-dir", work, "-o", out, "--progress", "none")
	for _, st := range unfinished {
		if w := fmt.Sprintf("%d (%d rows committed)", st.Index, st.RowsCommitted); !strings.Contains(stderr, w) {
			t.Errorf("merge's message does not name %q:\n%s", w, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("merge that refused left %s (stat: %v)", out, err)
	}
	t.Logf("%s bqread merge: exit %d: %s", elapsed(), exitPartial, strings.TrimSpace(stderr))

	// 5. Run the victim's array index again: it resumes each unfinished stream at its committed rows.
	retry := slurmtest.Submit(t, fmt.Sprintf("--array=%d", slurmVictim), output, "--wrap", wrap)
	t.Cleanup(func() { slurmCancelAll(t, retry) })
	if got, want := slurmtest.Wait(t, retry, 60*time.Second), map[int]string{slurmVictim: "COMPLETED"}; !maps.Equal(got, want) {
		slurmLogOutputs(t, logs)
		t.Fatalf("job %s: states %v, want %v", retry, got, want)
	}
	starts := slurmStarts(t, filepath.Join(logs, fmt.Sprintf("slurm-%s_%d.out", retry, slurmVictim)))
	t.Logf("%s sbatch --array=%d: job %s COMPLETED; its worker started streams at offsets %v", elapsed(), slurmVictim, retry, starts)
	for i := range starts {
		if s.Streams[i].Task != slurmVictim {
			t.Errorf("the rerun of array index %d read stream %d, of task %d: SLURM_ARRAY_TASK_ID=%d was not taken as task %d",
				slurmVictim, i, s.Streams[i].Task, slurmVictim, slurmVictim)
		}
	}
	for _, st := range unfinished {
		if off, ok := starts[st.Index]; !ok {
			t.Errorf("the rerun of task %d did not read stream %d", slurmVictim, st.Index)
		} else if off != st.RowsCommitted {
			t.Errorf("the rerun of task %d read stream %d from offset %d, want %d, the rows committed", slurmVictim, st.Index, off, st.RowsCommitted)
		}
	}
	if t.Failed() {
		slurmLogOutputs(t, logs)
		t.FailNow()
	}
	slurmLogStatus(t, work)

	// 6. merge, and the output is the table.
	slurmCLI(t, exitOK, "merge", "--work-dir", work, "-o", out, "--progress", "none")
	got := readNDJSON(t, out)
	if diff := cmp.Diff(wantRows(t, all), got); diff != "" {
		t.Errorf("merged output (-source +got), %d rows:\n%s", len(got), diff)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work dir %s after the merge: stat: %v, want it removed", work, err)
	}
	t.Logf("%s bqread merge: exit 0: %d rows, equal to the source's %d as a multiset; work dir removed",
		elapsed(), len(got), testRows)
}

// slurmCLI runs bqread in process, checks its exit code, and returns its stdout and stderr.
func slurmCLI(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(t.Context(), args, nil, &out, &errOut); code != wantCode {
		t.Fatalf("bqread %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// slurmStatus returns bqread status --json of the work dir.
func slurmStatus(t *testing.T, work string) export.Status {
	t.Helper()
	var s export.Status
	stdout, _ := slurmCLI(t, exitOK, "status", "--work-dir", work, "--json")
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Streams) != slurmStreams {
		t.Fatalf("status: %d streams, want %d", len(s.Streams), slurmStreams)
	}
	return s
}

// slurmLogStatus logs bqread status of the work dir, as a person reads it.
func slurmLogStatus(t *testing.T, work string) {
	t.Helper()
	stdout, _ := slurmCLI(t, exitOK, "status", "--work-dir", work)
	t.Logf("bqread status:\n%s", stdout)
}

// slurmStarts returns the offset of each stream's start event in a worker's output.
func slurmStarts(t *testing.T, path string) map[int]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	starts := map[int]int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if e, err := event.Parse(sc.Bytes()); err == nil && e.Kind == event.Start {
			starts[e.Stream] = e.Offset
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return starts
}

// slurmTail returns the last n lines of a file.
func slurmTail(t *testing.T, path string, n int) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// slurmLogOutputs logs the ends of the array tasks' output files, for a failure.
func slurmLogOutputs(t *testing.T, logs string) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(logs, "*.out"))
	for _, p := range paths {
		t.Logf("%s ends:\n%s", filepath.Base(p), slurmTail(t, p, 10))
	}
}

// slurmCancelAll cancels the tasks of the job that are pending or running and waits for them to
// end, so that a failed test leaves no job behind, nor one writing into its temporary dir.
func slurmCancelAll(t *testing.T, job string) {
	cancelled := false
	for i, s := range slurmtest.States(t, job) {
		if s == "PENDING" || s == "RUNNING" {
			slurmtest.Cancel(t, job, i)
			cancelled = true
		}
	}
	if cancelled {
		slurmtest.Wait(t, job, 30*time.Second)
	}
}

// shellQuote quotes each argument for sh and joins them with spaces.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
