package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/workdir"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// unwritableDir returns an existing directory this process cannot create files in: a 0555
// directory, or /sys (sysfs refuses new files) when running as root, which ignores permissions.
func unwritableDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		if f, err := os.CreateTemp("/sys", "probe-*"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("running as root and /sys is writable: no unwritable directory to test with")
		}
		return "/sys"
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExportBadInput checks every bad input of issue 5: a one-line error saying what to do, the
// exit code (2 for bad input, 1 when a server or the machine fails), the destination untouched
// (an existing file keeps its bytes and mtime) and no work dir left.
func TestExportBadInput(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.ndjson")
	if err := os.WriteFile(existing, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(existing, old, old); err != nil {
		t.Fatal(err)
	}
	ro := unwritableDir(t)
	emu := []string{"--emulator", "--emulator-data", testData}
	ep := []string{"--endpoint", inst.GRPCAddr()}
	with := func(a ...[]string) []string {
		var args []string
		for _, x := range a {
			args = append(args, x...)
		}
		return args
	}
	tests := []struct {
		name     string
		out      string
		args     []string
		env      map[string]string
		wantCode int
		wantMsg  string // what the line must say
	}{
		{"malformed table", "a.ndjson", with(ep, []string{"not-a-table"}), nil, exitUsage, "project.dataset.table"},
		{"unknown project", "b.ndjson", with(ep, []string{"no-such-project.ds.items"}), nil, exitUsage, "check the project, dataset and table"},
		{"unknown dataset", "c.ndjson", with(ep, []string{"bqread-test.nope.items"}), nil, exitUsage, "check the project, dataset and table"},
		{"unknown table", "d.ndjson", with(ep, []string{"bqread-test.ds.nope"}), nil, exitUsage, "check the project, dataset and table"},
		{"unknown column", "e.ndjson", with(ep, []string{testTable, "--columns", "id,nope"}), nil, exitUsage, "nope"},
		{"invalid filter", "f.ndjson", with(ep, []string{testTable, "--where", "id >"}), nil, exitUsage, "--where"},
		{"future snapshot", "g.ndjson", with(ep, []string{testTable, "--snapshot-time", "2999-01-01T00:00:00Z"}), nil, exitUsage, "use a past instant"},
		{"unparsable snapshot", "h.ndjson", with(ep, []string{testTable, "--snapshot-time", "yesterday"}), nil, exitUsage, "RFC 3339"},
		{"unknown format", "i.ndjson", with(ep, []string{testTable, "-f", "xlsx"}), nil, exitUsage, "xlsx"},
		{"unknown compression", "j.ndjson", with(ep, []string{testTable, "--compression", "lz77"}), nil, exitUsage, "lz77"},
		{"unknown extension", "k.xlsx", with(ep, []string{testTable}), nil, exitUsage, "xlsx"},
		{"csv with nested columns", "l.csv", with(ep, []string{testTable}), nil, exitUsage, "(tags): use --format ndjson, or leave them out with --columns"},
		{"streams below range", "m.ndjson", with(ep, []string{testTable, "--streams", "-1"}), nil, exitUsage, "use 1 to 1000"},
		{"streams above range", "n.ndjson", with(ep, []string{testTable, "--streams", "1001"}), nil, exitUsage, "use 1 to 1000"},
		{"parallelism out of range", "o.ndjson", with(ep, []string{testTable, "--parallelism", "0"}), nil, exitUsage, "use 1 or more"},
		{"output exists", existing, with(ep, []string{testTable}), nil, exitUsage, "--overwrite"},
		{"output dir missing", filepath.Join(dir, "missing", "p.ndjson"), with(ep, []string{testTable}), nil, exitUsage, "create it first"},
		{"output dir not writable", filepath.Join(ro, "q.ndjson"), with(ep, []string{testTable}), nil, exitUsage, "make the directory writable"},
		{"endpoint unreachable", "r.ndjson", []string{testTable, "--endpoint", closedPort(t)}, nil, exitError, "must name a Storage Read server"},
		{"endpoint malformed", "s.ndjson", []string{testTable, "--endpoint", "localhost"}, nil, exitUsage, "HOST:PORT"},
		{"credentials missing", "t.ndjson", []string{testTable}, map[string]string{
			"GOOGLE_APPLICATION_CREDENTIALS": filepath.Join(dir, "no-such-key.json"), "HOME": t.TempDir(),
			"GCE_METADATA_HOST": "127.0.0.1:1", "BQREAD_ENDPOINT": ""}, exitError, "gcloud auth application-default login"},
		{"resume with the emulator", "u.ndjson", with(emu, []string{testTable, "--resume"}), nil, exitUsage, "bqread serve"},
		{"bad emulator fault", "v.ndjson", with(emu, []string{testTable, "--emulator-fault", "meteor@10"}), nil, exitUsage, "--emulator-fault"},
		{"emulator fault without the emulator", "w.ndjson", with(ep, []string{testTable, "--emulator-fault", "stall@10"}), nil, exitUsage, "needs --emulator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			out := tt.out
			if !filepath.IsAbs(out) {
				out = filepath.Join(dir, out)
			}
			args := append([]string{"export", "-o", out, "--progress", "none"}, tt.args...)
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(t.Context(), args, nil, &stdout, &stderr)
			wantOneLine(t, code, tt.wantCode, stderr.String(), tt.wantMsg)
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v to fail", d) // guards against client retries, not a speed check
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			if out == existing {
				data, _ := os.ReadFile(existing)
				info, err := os.Stat(existing)
				if string(data) != "keep me\n" || err != nil || !info.ModTime().Equal(old) {
					t.Errorf("existing output changed: %q, %v", data, err)
				}
			} else if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after the error", out)
			}
			if _, err := os.Lstat(out + ".bqread"); !os.IsNotExist(err) {
				t.Errorf("work dir left after the error")
			}
			if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(tmps) > 0 && filepath.Dir(out) != "/sys" {
				t.Errorf("files left in the output dir: %v", tmps)
			}
		})
	}
}

// TestMergeOutputFailureLeavesNothing fails the merge part way (the segments do not hold the rows
// the stream's reader recorded): nothing is left at --out or beside it, and the parts are kept.
func TestMergeOutputFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "items.ndjson")
	mustExport(t, testTable, "-o", out, "--streams", "2", "--keep-parts")
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	done := filepath.Join(out+".bqread", workdir.StreamDir(1), "done.json")
	data, err := os.ReadFile(done)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.Unmarshal(data, &rec)
	rec["rows"] = rec["rows"].(float64) + 1
	data, _ = json.Marshal(rec)
	os.WriteFile(done, data, 0o600)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"merge", "--work-dir", out + ".bqread", "-o", out}, nil, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "do not tile") {
		t.Fatalf("merge over a wrong row count: exit %d, %s", code, stderr.String())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != filepath.Base(out)+".bqread" {
			t.Errorf("%s left in the output dir after a failed merge", e.Name())
		}
	}
}

// wantOneLine checks a command's exit code, and that its stderr is one line containing msg.
func wantOneLine(t *testing.T, code, wantCode int, stderr, msg string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit %d, want %d\n%s", code, wantCode, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, msg) {
		t.Errorf("stderr should be one line containing %q:\n%s", msg, stderr)
	}
}
