package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
)

// splitRemainderCommitted returns the manifest's splits once the remainder of one of them has
// committed rows, nil before.
func splitRemainderCommitted(t *testing.T, workDir string) []session.Split {
	t.Helper()
	d, err := workdir.Open(workDir)
	if err != nil {
		return nil
	}
	m, err := session.LoadManifest(t.Context(), d.Store())
	if err != nil {
		return nil
	}
	committed := committedRows(t, workDir)
	for _, s := range m.Splits {
		if committed[s.Remainder] > 0 {
			return m.Splits
		}
	}
	return nil
}

// TestExportResumeAfterSplitsKilled exports one slow stream with three workers, so that the
// coordinator splits it, kills the coordinator with SIGKILL once a remainder has committed rows,
// and resumes: the output holds every source row once, in the table's order, for NDJSON (rows
// merged in order) and Parquet (row groups listed in order).
func TestExportResumeAfterSplitsKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("workers die with their coordinator through Linux's parent-death signal")
	}
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 4 << 10, StreamBandwidth: 48 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	for _, format := range []string{"ndjson", "parquet"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "items."+format)
			workDir := out + ".bqread"
			args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "1",
				"--parallelism", "3", "--segment-rows", "50", "--progress", "none"}
			cmd := exec.Command(os.Args[0], args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var splits []session.Split
			for deadline := time.Now().Add(60 * time.Second); splits == nil; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("no split remainder committed rows\n%s", stderr.String())
				}
				splits = splitRemainderCommitted(t, workDir)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			waitNoWorkers(t, workDir)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s exists after the coordinator was killed", out)
			}

			s := runResume(t, args)
			if s.Rows != testRows {
				t.Errorf("resumed export wrote %d rows, want %d", s.Rows, testRows)
			}
			if format == "parquet" {
				checkIDsInOrder(t, readTable(t, format, out))
				return
			}
			if diff := cmp.Diff(wantRows(t, all), readNDJSON(t, out)); diff != "" {
				t.Errorf("rows differ from the source after resuming (-want +got):\n%s", diff)
			}
			checkNDJSONOrder(t, out)
		})
	}
}

// checkNDJSONOrder checks that the rows of an NDJSON output have ids 0, 1, 2... in file order.
func checkNDJSONOrder(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for i := 0; dec.More(); i++ {
		var row struct {
			ID json.Number `json:"id"`
		}
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		if row.ID.String() != strconv.Itoa(i) {
			t.Fatalf("row %d has id %s: rows out of the table's order", i, row.ID)
		}
	}
}
