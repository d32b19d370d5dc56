package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// stallAt is where every stream of stallingEmulator stops sending, once: an export against it is
// stuck part way, with the rows before committed, until its processes are killed or interrupted.
const stallAt = 600

// stallingEmulator serves the test table in small responses and stalls each stream once at stallAt
// rows. Sessions outlive the processes that created them, as with BigQuery.
func stallingEmulator(t *testing.T) *emulator.Instance {
	return stallingEmulatorFor(t, emulator.AllocationFixed)
}

// stallingEmulatorFor is stallingEmulator with its streams allocated as allocation says.
func stallingEmulatorFor(t *testing.T, allocation string) *emulator.Instance {
	t.Helper()
	stall, err := emulator.ParseFault("stall@" + strconv.Itoa(stallAt))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 4 << 10,
		Faults: []emulator.Fault{stall}, StreamAllocation: allocation})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// stalledArgs are the export flags of the interrupted runs and their resumes: one segment per
// response, so that a stream's committed rows reach stallAt before it stalls, and no straggler
// splitting, so that the streams stay the two of the session (split_test.go resumes splits).
func stalledArgs(inst *emulator.Instance, out string) []string {
	return []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "2",
		"--parallelism", "2", "--segment-rows", "1", "--progress", "none", "--split-stragglers=false"}
}

// committedRows returns the rows committed per stream in workDir, nil while there is no manifest.
func committedRows(t *testing.T, workDir string) []int64 {
	t.Helper()
	d, err := workdir.Open(workDir)
	if err != nil {
		return nil
	}
	m, err := session.LoadManifest(t.Context(), d.Store())
	if err != nil {
		return nil
	}
	ends := make([]int64, len(m.Streams))
	for i := range m.Streams {
		if _, ends[i], err = shard.StreamSegments(t.Context(), d, i); err != nil {
			t.Fatal(err)
		}
	}
	return ends
}

// waitStalled waits until every stream of the export in workDir has committed stallAt rows:
// each stream's stall has fired and the export is stuck part way.
func waitStalled(t *testing.T, workDir string) []int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ends := committedRows(t, workDir)
		stalled := len(ends) > 0
		for _, e := range ends {
			stalled = stalled && e >= stallAt
		}
		if stalled {
			return ends
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the export in %s did not reach %d committed rows per stream: %v", workDir, stallAt, committedRows(t, workDir))
	return nil
}

// workerPids returns the pids of the live worker processes of the work dir workDir, by stream
// (each local worker is the task of one stream), from /proc.
func workerPids(t *testing.T, workDir string) map[int]int {
	t.Helper()
	manifest := "\x00--work-dir\x00" + workDir + "\x00"
	pids := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range dirs {
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(data, []byte(manifest)) {
			continue
		}
		if state, err := os.ReadFile(filepath.Join(filepath.Dir(path), "stat")); err == nil && bytes.Contains(state, []byte(") Z ")) {
			continue // a zombie: dead, not yet reaped
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		for i, a := range args {
			if a == "--task-index" && i+1 < len(args) {
				idx, _ := strconv.Atoi(args[i+1])
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
				pids[idx] = pid
			}
		}
	}
	return pids
}

// resumeSummary is the part of the --summary JSON a resume test checks.
type resumeSummary struct {
	Rows      int64 `json:"rows"`
	PerStream []struct {
		Index       int   `json:"index"`
		Pids        []int `json:"pids"`
		Rows        int64 `json:"rows"`
		StartOffset int64 `json:"start_offset"`
	} `json:"per_stream"`
}

// runResume runs args with --resume in process and returns its summary.
func runResume(t *testing.T, args []string) resumeSummary {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--resume", "--summary", "-")
	if code := run(t.Context(), args, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("export --resume: exit %d\n%s", code, stderr.String())
	}
	var s resumeSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	return s
}

// TestExportResumeAfterCoordinatorStops stops a coordinator process part way (killed, or
// interrupted), then resumes its export against the same server: the output holds every source
// row once, and the resumed run reads only the rows that were not committed. It runs with fixed
// and with liquid streams.
func TestExportResumeAfterCoordinatorStops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("workers die with their coordinator through Linux's parent-death signal")
	}
	tests := []struct {
		name     string
		sig      syscall.Signal
		wantCode int
	}{
		{"SIGKILL", syscall.SIGKILL, -1},
		{"SIGINT", syscall.SIGINT, exitInterrupted},
		{"SIGTERM", syscall.SIGTERM, exitInterrupted},
	}
	for _, allocation := range emulator.StreamAllocations {
		inst := stallingEmulatorFor(t, allocation)
		for _, tt := range tests {
			t.Run(allocation+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resumeAfterStop(t, inst, allocation, tt.sig, tt.wantCode)
			})
		}
	}
}

// resumeAfterStop is one case of TestExportResumeAfterCoordinatorStops: the coordinator gets sig
// once every stream is stalled, and should exit wantCode.
func resumeAfterStop(t *testing.T, inst *emulator.Instance, allocation string, sig syscall.Signal, wantCode int) {
	out := filepath.Join(t.TempDir(), "items.ndjson")
	workDir := out + ".bqread"
	args := stalledArgs(inst, out)
	cmd := exec.Command(os.Args[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := waitStalled(t, workDir)
	cmd.Process.Signal(sig)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != wantCode {
		t.Fatalf("coordinator exit %d, want %d\n%s", code, wantCode, stderr.String())
	}
	if sig != syscall.SIGKILL {
		msg := errorLines(stderr.String())
		if len(msg) != 1 || !strings.Contains(msg[0], "--resume") || !strings.Contains(msg[0], workDir) {
			t.Errorf("the error should be one line naming the work dir and --resume:\n%s", stderr.String())
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("%s exists after the coordinator stopped part way", out)
	}
	waitNoWorkers(t, workDir)
	if got := committedRows(t, workDir); !cmp.Equal(got, committed) {
		t.Fatalf("committed rows changed after the coordinator stopped: %v, then %v", committed, got)
	}

	s := runResume(t, args)
	if diff := rowsDiff(allocation, wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ from the source after resuming (-want +got):\n%s", diff)
	}
	for _, ps := range s.PerStream {
		if ps.StartOffset != committed[ps.Index] {
			t.Errorf("stream %d resumed at row %d, want %d (its committed rows)", ps.Index, ps.StartOffset, committed[ps.Index])
		}
	}
	if _, err := os.Stat(workDir); !os.IsNotExist(err) {
		t.Errorf("work dir left after the resumed export succeeded: %v", err)
	}
}

// TestExportResumeAfterPowerLoss kills a coordinator part way, then does to the segments it had
// not merged what a power loss may do to files committed without fsync: stream 1's last segment
// file is gone and one before it is cut short. The resume reads stream 1 again from the start of
// the short one, and the output holds every source row once.
func TestExportResumeAfterPowerLoss(t *testing.T) {
	inst := stallingEmulator(t)
	out := filepath.Join(t.TempDir(), "items.ndjson")
	workDir := out + ".bqread"
	args := stalledArgs(inst, out)
	cmd := exec.Command(os.Args[0], args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := waitStalled(t, workDir)
	cmd.Process.Kill()
	cmd.Wait()
	waitNoWorkers(t, workDir)
	d, err := workdir.Open(workDir)
	if err != nil {
		t.Fatal(err)
	}
	segs, _, err := shard.StreamSegments(t.Context(), d, 1)
	if err != nil || len(segs) < 3 || segs[len(segs)-2].Merged {
		t.Fatalf("stream 1 segments %+v (%v): want 3 or more, not merged (NDJSON merges stream 0 first)", segs, err)
	}
	short, gone := segs[len(segs)-2], segs[len(segs)-1]
	os.Remove(filepath.Join(workDir, gone.Name))
	os.Truncate(filepath.Join(workDir, short.Name), short.Size/2)

	s := runResume(t, args)
	if diff := cmp.Diff(wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ from the source after resuming (-want +got):\n%s", diff)
	}
	for _, ps := range s.PerStream {
		if want := []int64{committed[0], short.Lo}[ps.Index]; ps.StartOffset != want {
			t.Errorf("stream %d resumed at row %d, want %d", ps.Index, ps.StartOffset, want)
		}
	}
}

// TestExportResumeMergedWhileReading interrupts Arrow and Parquet exports, whose segments are
// merged into the temp output as they are committed, and resumes them: nothing is left beside
// --out in between, and the resumed output holds every row once, in (stream, offset) order. It
// runs with fixed and with liquid streams.
func TestExportResumeMergedWhileReading(t *testing.T) {
	for _, allocation := range emulator.StreamAllocations {
		inst := stallingEmulatorFor(t, allocation)
		for _, format := range []string{"arrow", "parquet"} {
			t.Run(allocation+"/"+format, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				out := filepath.Join(dir, "items."+format)
				args := stalledArgs(inst, out)
				cmd := exec.Command(os.Args[0], args...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				waitStalled(t, out+".bqread")
				streams := sessionStreams(t, out+".bqread")
				cmd.Process.Signal(syscall.SIGINT)
				if err := cmd.Wait(); cmd.ProcessState.ExitCode() != exitInterrupted {
					t.Fatalf("interrupted export: %v, want exit %d", err, exitInterrupted)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "items."+format+".bqread" {
					t.Fatalf("beside --out after the interrupt: %v, want only the work dir", entries)
				}
				runResume(t, args)
				checkIDsInStreamOrder(t, inst, streams, readTable(t, format, out))
			})
		}
	}
}

// sessionStreams returns the stream names of the session of the export in workDir.
func sessionStreams(t *testing.T, workDir string) []string {
	t.Helper()
	d, err := workdir.Open(workDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.LoadManifest(t.Context(), d.Store())
	if err != nil {
		t.Fatal(err)
	}
	return m.Streams
}

// checkIDsInStreamOrder checks that an output of the test table holds the rows of the session's
// streams in (stream, offset) order, as the emulator serves them when each stream is read again
// with Google's official client: a liquid stream gives again the blocks it took.
func checkIDsInStreamOrder(t *testing.T, inst *emulator.Instance, streams []string, tbl arrow.Table) {
	t.Helper()
	client, err := storage.NewBigQueryReadClient(t.Context(), option.WithEndpoint(inst.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var want []int64
	for _, name := range streams {
		rows, err := client.ReadRows(t.Context(), &storagepb.ReadRowsRequest{ReadStream: name})
		if err != nil {
			t.Fatal(err)
		}
		var schema []byte
		for {
			r, err := rows.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("ReadRows(%s): %v", name, err)
			}
			if s := r.GetArrowSchema().GetSerializedSchema(); s != nil {
				schema = s
			}
			rd, err := ipc.NewReader(io.MultiReader(bytes.NewReader(schema), bytes.NewReader(r.GetArrowRecordBatch().GetSerializedRecordBatch())))
			if err != nil {
				t.Fatal(err)
			}
			for rd.Next() {
				want = append(want, rd.Record().Column(0).(*array.Int64).Int64Values()...)
			}
			rd.Release()
		}
	}
	got := tableIDs(tbl)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ids out of (stream, offset) order (-streams read again +output):\n%s", diff)
	}
	slices.Sort(got)
	for i, id := range got {
		if id != int64(i) {
			t.Fatalf("ids are not the test table's rows, each once: %d where %d should be", id, i)
		}
	}
}

// errorLines returns the lines of stderr that are not log records (the coordinator logs its
// workers' stderr lines).
func errorLines(stderr string) []string {
	var lines []string
	for line := range strings.Lines(stderr) {
		if !strings.HasPrefix(line, "time=") {
			lines = append(lines, line)
		}
	}
	return lines
}

// waitNoWorkers waits until no worker of the export in workDir is alive: workers stop with their
// coordinator, also when it was killed.
func waitNoWorkers(t *testing.T, workDir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(workerPids(t, workDir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("workers %v outlived their coordinator", workerPids(t, workDir))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExportRestartsKilledWorkers kills each worker mid-stream with SIGKILL: the coordinator
// restarts it at its last committed segment, and the output holds every source row once. It runs
// with fixed and with liquid streams.
func TestExportRestartsKilledWorkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds worker processes in /proc")
	}
	creds := fakeCredentials(t)
	for _, allocation := range emulator.StreamAllocations {
		t.Run(allocation, func(t *testing.T) { restartKilledWorkers(t, allocation, creds) })
	}
}

// restartKilledWorkers is TestExportRestartsKilledWorkers with streams allocated as allocation;
// creds is the secret of the credentials in the environment, which no worker's argv may hold.
func restartKilledWorkers(t *testing.T, allocation, creds string) {
	inst := stallingEmulatorFor(t, allocation)
	out := filepath.Join(t.TempDir(), "items.ndjson")
	workDir := out + ".bqread"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := run(ctx, append(stalledArgs(inst, out), "--summary", "-"), nil, &stdout, &stderr)
		done <- result{code, stdout.String(), stderr.String()}
	}()
	committed := waitStalled(t, workDir)
	pids := workerPids(t, workDir)
	if len(pids) != len(committed) {
		t.Fatalf("found workers %v for %d streams", pids, len(committed))
	}
	for i, pid := range pids {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"worker", "--work-dir", workDir, "--task-index", strconv.Itoa(i), "--task-count", strconv.Itoa(len(committed))}
		if got := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")[1:]; !cmp.Equal(got, want) {
			t.Errorf("worker argv %q, want %q", got, want)
		}
		if bytes.Contains(cmdline, []byte(creds)) {
			t.Errorf("worker argv holds the credentials path")
		}
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill() // SIGKILL
		}
	}
	r := <-done
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var s resumeSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	for _, ps := range s.PerStream {
		if len(ps.Pids) != 2 || ps.Pids[0] != pids[ps.Index] {
			t.Errorf("stream %d ran in processes %v, want the killed %d and its replacement", ps.Index, ps.Pids, pids[ps.Index])
		}
	}
	if diff := rowsDiff(allocation, wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ from the source after killing workers (-want +got):\n%s", diff)
	}
}

// TestExportResumeChecks runs --resume and fresh exports on the work dir of an earlier export
// (kept with --keep-parts, its output removed).
func TestExportResumeChecks(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "items.ndjson")
	workDir := out + ".bqread"
	base := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "2", "--progress", "none"}
	exportTo := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		code := run(t.Context(), append(append([]string(nil), base...), args...), nil, &bytes.Buffer{}, &stderr)
		return code, stderr.String()
	}
	if code, stderr := exportTo("--keep-parts", "--where", "id < 1000"); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"fresh export on an earlier work dir", []string{"--where", "id < 1000"}, exitUsage, "pass --resume"},
		{"different filter", []string{"--resume", "--where", "id < 5"}, exitUsage, `--where "id < 1000"`},
		{"different format", []string{"--resume", "--where", "id < 1000", "-f", "csv"}, exitUsage, "--format"},
		{"different columns", []string{"--resume", "--where", "id < 1000", "--columns", "id"}, exitUsage, "--columns"},
		{"different timestamp precision", []string{"--resume", "--where", "id < 1000", "--timestamp-precision", "picos"}, exitUsage, "--timestamp-precision"},
		{"nothing to resume", []string{"--resume", "--where", "id < 1000", "--work-dir", filepath.Join(dir, "none")}, exitUsage, "run without --resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := exportTo(tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantMsg) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, want %d with one line containing %q:\n%s", code, tt.wantCode, tt.wantMsg, stderr)
			}
			if _, err := os.Stat(filepath.Join(workDir, workdir.ManifestName)); err != nil {
				t.Errorf("the earlier work dir was touched: %v", err)
			}
		})
	}

	// Every stream is complete: resuming only merges.
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), append(append([]string(nil), base...), "--resume", "--where", "id < 1000", "--keep-parts"), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("resume of a complete export: exit %d\n%s", code, stderr.String())
	}
	if diff := cmp.Diff(wantRows(t, func(i int) bool { return i < 1000 }), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ (-want +got):\n%s", diff)
	}
	os.Remove(out)

	// The session expired: --resume says so, removes its parts, and a fresh export works.
	manifest := filepath.Join(workDir, workdir.ManifestName)
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["expire_time"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, msg := exportTo("--resume", "--where", "id < 1000")
	if code != exitError || !strings.Contains(msg, "expired") || !strings.Contains(msg, "without --resume") || strings.Count(msg, "\n") != 1 {
		t.Errorf("resume of an expired session: exit %d, want %d and one line saying it expired and what to do:\n%s", code, exitError, msg)
	}
	if _, err := os.Stat(workDir); !os.IsNotExist(err) {
		t.Errorf("the expired session's work dir is left: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s written by a failed resume", out)
	}
	if code, stderr := exportTo("--where", "id < 1000"); code != exitOK {
		t.Errorf("fresh export after the expired one: exit %d\n%s", code, stderr)
	}
}

// fakeCredentials points GOOGLE_APPLICATION_CREDENTIALS at a fake service account key and returns
// the key's secret.
func fakeCredentials(t *testing.T) string {
	t.Helper()
	secret := "bqread-test-secret-" + strconv.Itoa(os.Getpid())
	path := filepath.Join(t.TempDir(), "key-"+secret+".json")
	key := `{"type":"service_account","project_id":"bqread-test","private_key_id":"` + secret +
		`","private_key":"-----BEGIN PRIVATE KEY-----\n` + secret + `\n-----END PRIVATE KEY-----\n","client_email":"x@bqread-test.iam.gserviceaccount.com"}`
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	return secret
}

// TestExportKeepsCredentialsOut runs an export with credentials in the environment: neither
// their path nor the key appears in the manifest, the summary, the logs or the output.
func TestExportKeepsCredentialsOut(t *testing.T) {
	secret := fakeCredentials(t)
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "items.ndjson")
	summary := filepath.Join(dir, "summary.json")
	var stdout, stderr bytes.Buffer
	args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "2",
		"--progress", "plain", "--summary", summary, "--keep-parts"}
	if code := run(t.Context(), args, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if stderr.Len() == 0 {
		t.Fatal("no log lines to check")
	}
	files := map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes()}
	for _, path := range []string{summary, filepath.Join(out+".bqread", workdir.ManifestName), out} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[path] = data
	}
	for name, data := range files {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds the credentials", name)
		}
	}
}

// TestExportPartialThenResume runs out of restarts (every worker dies after one segment): the
// export exits with code 3 keeping its committed parts, and --resume completes it exactly. It runs
// with fixed and with liquid streams.
func TestExportPartialThenResume(t *testing.T) {
	for _, allocation := range emulator.StreamAllocations {
		t.Run(allocation, func(t *testing.T) { partialThenResume(t, allocation) })
	}
}

// partialThenResume is TestExportPartialThenResume with streams allocated as allocation.
func partialThenResume(t *testing.T, allocation string) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 4 << 10, StreamAllocation: allocation})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	out := filepath.Join(t.TempDir(), "items.ndjson")
	args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "2",
		"--segment-rows", "100", "--progress", "none"}
	t.Setenv(dieAlwaysEnv, "1")
	var stderr bytes.Buffer
	code := run(t.Context(), args, nil, &bytes.Buffer{}, &stderr)
	msg := errorLines(stderr.String())
	if code != exitPartial || len(msg) != 1 || !strings.Contains(msg[0], "--resume") {
		t.Fatalf("exit %d, want %d and one line saying to --resume:\n%s", code, exitPartial, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("%s exists after a partial export", out)
	}
	committed := committedRows(t, out+".bqread")
	var sum int64
	for _, c := range committed {
		sum += c
	}
	if sum == 0 || sum >= testRows {
		t.Fatalf("committed rows %v: want some, not all", committed)
	}
	t.Setenv(dieAlwaysEnv, "0")
	s := runResume(t, args)
	for _, ps := range s.PerStream {
		if ps.StartOffset != committed[ps.Index] {
			t.Errorf("stream %d resumed at row %d, want %d", ps.Index, ps.StartOffset, committed[ps.Index])
		}
	}
	if diff := rowsDiff(allocation, wantRows(t, all), readNDJSON(t, out)); diff != "" {
		t.Errorf("rows differ from the source (-want +got):\n%s", diff)
	}
}
