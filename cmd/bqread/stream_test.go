package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bqread/bqread/emulator"
)

// slowEmulator serves the test table at a few KiB/s per stream, so that an export of it takes
// seconds.
func slowEmulator(t *testing.T) *emulator.Instance {
	t.Helper()
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 2 << 10, StreamBandwidth: 48 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// TestExportStreamsToStdout checks that -o - writes the first stream's rows while the others are
// still being read, for the formats that can stream, and that stdout gets every row in order.
func TestExportStreamsToStdout(t *testing.T) {
	inst := slowEmulator(t)
	for _, format := range []string{"ndjson", "csv"} {
		t.Run(format, func(t *testing.T) {
			workDir := filepath.Join(t.TempDir(), "work")
			r, w := io.Pipe()
			doneAtFirstLine := make(chan int, 1)
			readAll := make(chan struct{})
			var got bytes.Buffer
			go func() {
				defer close(readAll)
				br := bufio.NewReader(r)
				first, _ := br.ReadString('\n')
				done, _ := filepath.Glob(filepath.Join(workDir, "stream-*", "done.json"))
				doneAtFirstLine <- len(done)
				got.WriteString(first)
				io.Copy(&got, br)
			}()
			var stderr bytes.Buffer
			code := run(t.Context(), []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", "-", "-f", format, "--work-dir", workDir,
				"--streams", "3", "--segment-rows", "50", "--progress", "none", "--columns", "id,name,score"}, nil, w, &stderr)
			w.Close()
			<-readAll
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			if n := <-doneAtFirstLine; n >= 3 {
				t.Errorf("the first row reached stdout only after all %d streams were read", n)
			}
			lines := strings.Count(got.String(), "\n")
			if want := testRows + map[string]int{"csv": 1}[format]; lines != want {
				t.Errorf("stdout has %d lines, want %d", lines, want)
			}
		})
	}
}

// TestExportBrokenPipe closes the reader of -o - after one line, as `| head -1` does: the export
// ends quietly with exit 141 and leaves nothing in the temp dir.
func TestExportBrokenPipe(t *testing.T) {
	inst := slowEmulator(t)
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "export", testTable, "--endpoint", inst.GRPCAddr(), "-o", "-", "-f", "csv",
		"--streams", "2", "--segment-rows", "50", "--progress", "none", "--columns", "id,name")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	out.Close()
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitBrokenPipe || stderr.Len() != 0 {
		t.Errorf("exit %d (%v), stderr %q; want %d and nothing said", code, err, stderr.String(), exitBrokenPipe)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left in the temp dir: %v", entries)
	}
}

// TestExportStreamFooterFormats says, when Parquet or Arrow go to stdout, that their reader must
// wait for the footer.
func TestExportStreamFooterFormats(t *testing.T) {
	for _, format := range []string{"parquet", "arrow"} {
		code, stdout, stderr := exportCmd(t, testTable, "-o", "-", "-f", format, "--progress", "plain")
		if code != 0 || len(stdout) == 0 || !strings.Contains(stderr, "must wait for the footer") {
			t.Errorf("-f %s to stdout: exit %d, %d bytes, stderr:\n%s", format, code, len(stdout), stderr)
		}
	}
}
