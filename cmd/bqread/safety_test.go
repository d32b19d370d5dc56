package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/workdir"
)

// fileState is what a test remembers of a file it did not let bqread create.
type fileState struct {
	mode fs.FileMode
	sum  [32]byte // content of a regular file, target of a link
}

// snapshot records every entry under root (links not followed).
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	files := map[string]fileState{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fileState{mode: info.Mode()}
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			st.sum = sha256.Sum256(data)
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			st.sum = sha256.Sum256([]byte(target))
		}
		files[p] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkUntouched fails unless every entry of before is still there, byte for byte, mode for mode.
func checkUntouched(t *testing.T, before map[string]fileState) {
	t.Helper()
	for p, want := range before {
		info, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s is gone: %v", p, err)
			continue
		}
		got := snapshot(t, p)[p]
		if info.IsDir() {
			got.sum = want.sum
		}
		if got != want {
			t.Errorf("%s changed: mode %v → %v, or its content", p, want.mode, got.mode)
		}
	}
}

// hostile is one layout of user files around an export.
type hostile struct {
	name     string
	setup    func(t *testing.T, dir string) []string // makes the layout, returns the export args
	code     int
	stderr   string   // a part of the one-line error
	notIn    string   // a hint the error must not give
	noOutput []string // paths (relative to dir) that must not exist afterwards
}

// TestExportHostileLayouts runs exports into layouts that once lost data while exiting 0 and
// checks, for each, the exit code, the error, and that every file the test made is untouched.
func TestExportHostileLayouts(t *testing.T) {
	for _, tt := range hostileLayouts() {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tt.setup(t, dir)
			before := snapshot(t, dir)
			code, _, stderr := exportCmd(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) || (tt.notIn != "" && strings.Contains(stderr, tt.notIn)) {
				t.Errorf("stderr %q: want %q in it and not %q", stderr, tt.stderr, tt.notIn)
			}
			if code != 0 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line:\n%s", stderr)
			}
			checkUntouched(t, before)
			for _, p := range tt.noOutput {
				if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s exists after the export", p)
				}
			}
		})
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hostileLayouts() []hostile {
	userDir := func(t *testing.T, dir string) string {
		h := filepath.Join(dir, "H")
		write(t, filepath.Join(h, "manifest.json"), "{}")
		write(t, filepath.Join(h, "docs", "thesis.tex"), "x")
		return h
	}
	return []hostile{
		{name: "user dir with a manifest.json, --overwrite", code: exitUsage, stderr: "not made by bqread", notIn: "--overwrite",
			setup: func(t *testing.T, dir string) []string {
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--work-dir", userDir(t, dir), "--overwrite"}
			}, noOutput: []string{"o.ndjson"}},
		{name: "user dir with a manifest.json", code: exitUsage, stderr: "not made by bqread", notIn: "--overwrite",
			setup: func(t *testing.T, dir string) []string {
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--work-dir", userDir(t, dir)}
			}},
		{name: "output inside the work dir", code: exitUsage, stderr: "inside the work dir",
			setup: func(t *testing.T, dir string) []string {
				os.Mkdir(filepath.Join(dir, "W"), 0o700)
				return []string{testTable, "-o", filepath.Join(dir, "W", "out.ndjson"), "--work-dir", filepath.Join(dir, "W")}
			}, noOutput: []string{"W/out.ndjson"}},
		{name: "work dir an ancestor of the output", code: exitUsage, stderr: "inside the work dir",
			setup: func(t *testing.T, dir string) []string {
				write(t, filepath.Join(dir, "W", "sub", "keep.txt"), "keep")
				return []string{testTable, "-o", filepath.Join(dir, "W", "sub", "out.ndjson"), "--work-dir", filepath.Join(dir, "W")}
			}},
		{name: "summary names the output", code: exitUsage, stderr: "same file",
			setup: func(t *testing.T, dir string) []string {
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--summary", filepath.Join(dir, ".", "o.ndjson")}
			}, noOutput: []string{"o.ndjson"}},
		{name: "summary over an existing file", code: exitUsage, stderr: "notes.txt exists: use --overwrite",
			setup: func(t *testing.T, dir string) []string {
				write(t, filepath.Join(dir, "notes.txt"), "my notes")
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--summary", filepath.Join(dir, "notes.txt")}
			}, noOutput: []string{"o.ndjson"}},
		{name: "summary inside the work dir", code: exitUsage, stderr: "is inside the work dir",
			setup: func(t *testing.T, dir string) []string {
				os.Mkdir(filepath.Join(dir, "W"), 0o700)
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--work-dir", filepath.Join(dir, "W"), "--summary", filepath.Join(dir, "W", "s.json")}
			}},
		{name: "summary in a missing directory", code: exitUsage, stderr: "does not exist",
			setup: func(t *testing.T, dir string) []string {
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--summary", filepath.Join(dir, "nonexistent", "s.json")}
			}, noOutput: []string{"o.ndjson", "o.ndjson.bqread"}},
		{name: "directory at --out", code: exitUsage, stderr: "is a directory",
			setup: func(t *testing.T, dir string) []string {
				write(t, filepath.Join(dir, "x.ndjson", "inside.txt"), "mine")
				return []string{testTable, "-o", filepath.Join(dir, "x.ndjson"), "--overwrite"}
			}, noOutput: []string{"x.ndjson.bqread"}},
		{name: "symlink at --out", code: exitUsage, stderr: "symbolic link",
			setup: func(t *testing.T, dir string) []string {
				write(t, filepath.Join(dir, "real.ndjson"), "mine")
				os.Symlink("real.ndjson", filepath.Join(dir, "link.ndjson"))
				return []string{testTable, "-o", filepath.Join(dir, "link.ndjson"), "--overwrite"}
			}},
		{name: "symlink as --work-dir", code: exitUsage, stderr: "symbolic link",
			setup: func(t *testing.T, dir string) []string {
				os.Mkdir(filepath.Join(dir, "empty"), 0o700)
				os.Symlink("empty", filepath.Join(dir, "wd"))
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--work-dir", filepath.Join(dir, "wd")}
			}},
		{name: "file as --work-dir", code: exitUsage, stderr: "not a directory",
			setup: func(t *testing.T, dir string) []string {
				write(t, filepath.Join(dir, "wd"), "a file")
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--work-dir", filepath.Join(dir, "wd")}
			}},
		{name: "work dir writable by others with planted segments", code: exitUsage, stderr: "writable by other users",
			setup: func(t *testing.T, dir string) []string {
				wd := filepath.Join(dir, "o.ndjson.bqread")
				write(t, filepath.Join(wd, "stream-000000", "seg-000000000000-000000500000.ndjson"), "{}\n")
				os.Chmod(wd, 0o777)
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson")}
			}},
		{name: "a user's empty dir as work dir is kept", code: 0,
			setup: func(t *testing.T, dir string) []string {
				os.Mkdir(filepath.Join(dir, "mine"), 0o700)
				return []string{testTable, "-o", filepath.Join(dir, "o.ndjson"), "--work-dir", filepath.Join(dir, "mine")}
			}},
		{name: "character device at --out", code: 0,
			setup: func(t *testing.T, dir string) []string {
				return []string{testTable, "-o", nullDevice(t, dir), "-f", "ndjson", "--overwrite"}
			}, noOutput: []string{"null.bqread"}},
	}
}

// TestExportWorkDirOwnedByAnotherUser plants segments in a work dir that another user made: it
// is refused, and nothing in it is read or changed. It needs root to give the dir away.
func TestExportWorkDirOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	inst := startEmulator(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.ndjson")
	wd := out + ".bqread"
	write(t, filepath.Join(wd, "stream-000000", "seg-000000000000-000000500000.ndjson"), "{}\n")
	for _, p := range []string{wd, filepath.Join(wd, "stream-000000")} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, dir)
	for _, extra := range [][]string{{"--resume"}, {"--overwrite"}, nil} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--progress", "none"}, extra...)
		if code := run(t.Context(), args, nil, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "belongs to another user") {
			t.Errorf("%v: exit %d, want 2 and 'belongs to another user':\n%s", extra, code, stderr.String())
		}
	}
	checkUntouched(t, before)
}

func startEmulator(t *testing.T) *emulator.Instance {
	t.Helper()
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// TestResumeTrustsOnlyRecordedSegments plants files named like segments in an export's own work
// dir and changes a committed one: a planted file is never merged, a changed one stops the merge.
func TestResumeTrustsOnlyRecordedSegments(t *testing.T) {
	inst := startEmulator(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "items.ndjson")
	args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "2", "--progress", "none"}
	runOK := func(extra ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), append(args, extra...), nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
	}
	runOK("--keep-parts")
	os.Remove(out)
	wd := out + ".bqread"
	// Stream 0 loses its records; a planted one-line file claims all of its rows.
	records, _ := filepath.Glob(filepath.Join(wd, "stream-000000", "*.commit"))
	for _, r := range records {
		os.Remove(r)
	}
	planted := filepath.Join(wd, workdir.StreamDir(0), fmt.Sprintf("seg-%012d-%012d-0123456789ab.ndjson-body", 0, testRows))
	write(t, planted, `{"id":"forged"}`+"\n")
	runOK("--resume", "--keep-parts")
	if got := readNDJSON(t, out); len(got) != testRows || strings.Contains(strings.Join(got, ""), "forged") {
		t.Fatalf("resume merged %d rows (forged in them: %v), want the %d source rows", len(got), strings.Contains(strings.Join(got, ""), "forged"), testRows)
	}
	// A committed segment changed after its commit: the merge refuses it and writes nothing.
	os.Remove(out)
	segs, _ := filepath.Glob(filepath.Join(wd, "stream-000001", "seg-*.ndjson-body"))
	if len(segs) == 0 {
		t.Fatal("no segment of stream 1")
	}
	data, _ := os.ReadFile(segs[0])
	os.WriteFile(segs[0], bytes.ToUpper(data), 0o600)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append(args, "--resume"), nil, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "changed since its commit") {
		t.Errorf("resume over a changed segment: exit %d, want an error saying it changed:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output was written from a changed segment")
	}
}

// TestExportOutputFollowsUmask checks that the output's mode is what the umask allows, as cp's.
func TestExportOutputFollowsUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o002} {
		dir := t.TempDir()
		out := filepath.Join(dir, "o.parquet")
		var code int
		var stderr string
		withUmask(t, mask, func() {
			code, _, stderr = exportCmd(t, testTable, "-o", out, "--summary", filepath.Join(dir, "s.json"))
		})
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, p := range []string{out, filepath.Join(dir, "s.json")} {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info.Mode().Perm(), fs.FileMode(0o666&^mask); got != want {
				t.Errorf("umask %#o: %s mode %v, want %v", mask, filepath.Base(p), got, want)
			}
		}
	}
}

// TestExportToFIFO streams the output into a FIFO that a reader drains: the FIFO stays a FIFO and
// the reader gets every row.
func TestExportToFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	mkfifo(t, fifo)
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		data, _ := io.ReadAll(f)
		f.Close()
		got <- data
	}()
	code, _, stderr := exportCmd(t, testTable, "-o", fifo, "-f", "ndjson")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data := <-got
	if n := bytes.Count(data, []byte("\n")); n != testRows {
		t.Errorf("reader got %d rows, want %d", n, testRows)
	}
	if info, err := os.Lstat(fifo); err != nil || info.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", info.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files beside the FIFO: %v", entries)
	}
}

// TestExportWorkDirDot uses the current directory as work dir: an empty one is used and left
// empty, a non-empty one is refused.
func TestExportWorkDirDot(t *testing.T) {
	parent := t.TempDir()
	wd := filepath.Join(parent, "wd")
	if err := os.Mkdir(wd, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(wd)
	code, _, stderr := exportCmd(t, testTable, "-o", filepath.Join(parent, "o.ndjson"), "--work-dir", ".")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if entries, err := os.ReadDir(wd); err != nil || len(entries) != 0 {
		t.Errorf("work dir . after the export: %v, %v; want it kept and empty", entries, err)
	}
	write(t, filepath.Join(wd, "notes.txt"), "mine")
	code, _, stderr = exportCmd(t, testTable, "-o", filepath.Join(parent, "o2.ndjson"), "--work-dir", ".")
	if code != exitUsage || !strings.Contains(stderr, "not made by bqread") {
		t.Errorf("non-empty work dir .: exit %d, %s", code, stderr)
	}
}

// TestExportSnapshotZeroTime refuses 0001-01-01 like any instant before 1970, instead of reading
// the table as of now.
func TestExportSnapshotZeroTime(t *testing.T) {
	for _, ts := range []string{"0001-01-01T00:00:00Z", "1900-01-01T00:00:00Z"} {
		code, _, stderr := exportCmd(t, testTable, "-o", filepath.Join(t.TempDir(), "o.ndjson"), "--snapshot-time", ts)
		if code != exitUsage || !strings.Contains(stderr, "before 1970") {
			t.Errorf("--snapshot-time %s: exit %d, %s", ts, code, stderr)
		}
	}
}

// TestExportInterruptedDuringSession cancels the export while its session is being created: it
// exits 130 and leaves nothing.
func TestExportInterruptedDuringSession(t *testing.T) {
	hang, stop := hangingEndpoint(t)
	defer stop()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-hang.called
		cancel()
	}()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"export", testTable, "--endpoint", hang.addr, "-o", filepath.Join(dir, "o.ndjson")}, nil, &stdout, &stderr)
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d: %s", code, exitInterrupted, stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// hangingServer answers CreateReadSession only when the call is cancelled.
type hangingServer struct {
	storagepb.UnimplementedBigQueryReadServer
	called chan struct{}
}

func (s hangingServer) CreateReadSession(ctx context.Context, _ *storagepb.CreateReadSessionRequest) (*storagepb.ReadSession, error) {
	close(s.called)
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// TestExportSummaryOverwrite replaces an existing summary only with --overwrite, whole.
func TestExportSummaryOverwrite(t *testing.T) {
	dir := t.TempDir()
	s := filepath.Join(dir, "notes.json")
	write(t, s, "old")
	code, _, stderr := exportCmd(t, testTable, "-o", filepath.Join(dir, "o.ndjson"), "--summary", s, "--overwrite")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(s)
	var sum exportSummary
	if err := json.Unmarshal(data, &sum); err != nil || sum.Rows != testRows {
		t.Errorf("summary %s: %v", data, err)
	}
}

// nullDevice returns a character device to write to that the test's snapshot covers: a node of
// the null device in dir when running as root, else /dev/null.
func nullDevice(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Cleanup(func() {
			if info, err := os.Lstat(os.DevNull); err != nil || info.Mode()&fs.ModeCharDevice == 0 {
				t.Errorf("%s is no longer a character device", os.DevNull)
			}
		})
		return os.DevNull
	}
	p := filepath.Join(dir, "null")
	mknodNull(t, p)
	return p
}

// TestExportEndpointNotGRPC names, within the probe's bound, an endpoint that is not a gRPC
// server, where the export once hung for 600 s.
func TestExportEndpointNotGRPC(t *testing.T) {
	inst := startEmulator(t)
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for name, ep := range map[string]string{"http/1": web.Listener.Addr().String(), "emulator REST": inst.HTTPAddr(), "silent": silent.Addr().String()} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"export", testTable, "--endpoint", ep, "-o", filepath.Join(t.TempDir(), "o.ndjson")}, nil, &stdout, &stderr)
		if code != exitError || !strings.Contains(stderr.String(), "not a gRPC endpoint") || !strings.Contains(stderr.String(), ep) {
			t.Errorf("%s: exit %d, want 1 naming %s as not gRPC: %s", name, code, ep, stderr.String())
		}
	}
}

// TestExportTwoAtOnce runs a second export to the output of one still running: it is refused in
// one line naming the first one's pid, and the first finishes whole.
func TestExportTwoAtOnce(t *testing.T) {
	inst := startEmulator(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "o.ndjson")
	d, err := workdir.Create(out+".bqread", false) // the first export, as far as the work dir knows
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--overwrite"}, nil, &stdout, &stderr)
	msg := stderr.String()
	if code != exitUsage || !strings.Contains(msg, fmt.Sprintf("in use by another bqread (pid %d)", os.Getpid())) || strings.Count(msg, "\n") != 1 {
		t.Errorf("second export: exit %d, want 2 and one line naming pid %d:\n%s", code, os.Getpid(), msg)
	}
	d.Unlock()
	code = run(t.Context(), []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out}, nil, &stdout, &stderr)
	if code != 0 {
		t.Errorf("export after the first ended: exit %d\n%s", code, stderr.String())
	}
}

// TestSummaryOnEveryExit checks the --summary of an export that succeeds, one refused after its
// options were checked, and one interrupted: each says how it ended, with its exit code.
func TestSummaryOnEveryExit(t *testing.T) {
	inst := startEmulator(t)
	hang, stop := hangingEndpoint(t)
	defer stop()
	tests := []struct {
		name     string
		table    string
		endpoint string
		cancel   bool
		code     int
		status   string
	}{
		{"ok", testTable, inst.GRPCAddr(), false, 0, "ok"},
		{"table not found", "bqread-test.ds.nope", inst.GRPCAddr(), false, exitUsage, "failed"},
		{"interrupted", testTable, hang.addr, true, exitInterrupted, "interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				go func() { <-hang.called; cancel() }()
			}
			s := filepath.Join(dir, "s.json")
			var stdout, stderr bytes.Buffer
			code := run(ctx, []string{"export", tt.table, "--endpoint", tt.endpoint, "-o", filepath.Join(dir, "o.ndjson"), "--summary", s, "--progress", "none"}, nil, &stdout, &stderr)
			var sum struct {
				Status   string `json:"status"`
				ExitCode int    `json:"exit_code"`
				Error    string `json:"error"`
				Version  string `json:"bqread_version"`
				Start    string `json:"start_time"`
				End      string `json:"end_time"`
				Format   string `json:"format"`
				Schema   []any  `json:"schema"`
				Rows     int64  `json:"rows"`
			}
			data, err := os.ReadFile(s)
			if err == nil {
				err = json.Unmarshal(data, &sum)
			}
			if err != nil || code != tt.code || sum.Status != tt.status || sum.ExitCode != tt.code || sum.Version == "" || sum.Start == "" || sum.End == "" || sum.Format != "ndjson" {
				t.Fatalf("exit %d (%s), summary %s (%v); want exit and exit_code %d, status %s", code, stderr.String(), data, err, tt.code, tt.status)
			}
			if tt.code == 0 && (len(sum.Schema) != 6 || sum.Rows != testRows || sum.Error != "") {
				t.Errorf("summary of a success: %s", data)
			}
			if tt.code != 0 && sum.Error == "" {
				t.Errorf("summary of a failure without its error: %s", data)
			}
		})
	}
}

// hangingEndpoint is a gRPC server whose CreateReadSession answers only when cancelled.
type hangEndpoint struct {
	addr   string
	called chan struct{}
}

func hangingEndpoint(t *testing.T) (*hangEndpoint, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	h := &hangEndpoint{addr: ln.Addr().String(), called: make(chan struct{})}
	storagepb.RegisterBigQueryReadServer(srv, hangingServer{called: h.called})
	go srv.Serve(ln)
	return h, srv.Stop
}

// TestExportEmulatorInterrupted stops an --emulator export part way: its parts cannot be resumed
// (the session ended with the process), so they are removed and the advice is to run it again.
func TestExportEmulatorInterrupted(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.ndjson")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if segs, _ := filepath.Glob(filepath.Join(out+".bqread", "stream-*", "*.commit")); len(segs) > 0 {
				cancel()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"export", testTable, "--emulator", "--emulator-data", testData, "-o", out, "--segment-rows", "10",
		"--emulator-fault", "stall@200", "--stall-timeout", "1m", "--progress", "none"}, nil, &stdout, &stderr)
	msg := stderr.String()
	if code != exitInterrupted || strings.Contains(msg, "--resume") || !strings.Contains(msg, "run the same command again") {
		t.Errorf("exit %d, want %d and advice to run again, not --resume:\n%s", code, exitInterrupted, msg)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
