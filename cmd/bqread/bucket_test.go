package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/storetest"
)

// TestExportToBuckets exports the all_types corpus over several streams in every output format
// to gs:// (fake-gcs-server) and s3:// (gofakes3), with the default work dir beside the output in
// the bucket, reads each object back with a reader independent of our writers (pqarrow, arrow's
// IPC file reader, goavro, encoding/json, encoding/csv) and checks every value against the
// reviewed golden NDJSON of the corpus; the bucket then holds the output and nothing else.
func TestExportToBuckets(t *testing.T) {
	for _, srv := range storetest.Both(t) {
		for _, format := range []string{"parquet", "arrow", "avro", "ndjson", "csv"} {
			t.Run(srv.Scheme+"/"+format, func(t *testing.T) {
				bucket := "out-" + format
				srv.CreateBucket(bucket)
				key := "exports/all_types." + format
				args := []string{allTypesTable, "-o", srv.URL(bucket, key), "--streams", "3"}
				if format == "csv" {
					args = append(args, "--columns", allTypesFlat, "--field-delimiter", "tab", "--print-header=false", "--null-marker", `\N`)
				}
				if s := mustExport(t, args...); s.Streams < 2 {
					t.Errorf("streams = %d, want several", s.Streams)
				}
				if got := srv.Objects(t, bucket); !slices.Equal(got, []string{key}) {
					t.Errorf("the bucket holds %v, want only %s (the work dir removed)", got, key)
				}
				checkAllTypes(t, srv, bucket, key, format)
			})
		}
	}
}

// TestExportBucketErrors: a missing bucket, a bucket the server answers 403 for, missing
// credentials, and an existing object, file of a many-file output or summary without
// --overwrite are each refused before anything is read, in one line that says what to do, with
// exit code 2, for one object and for a many-file output (-o gs://b/p-*.ndjson), and nothing is
// written to the bucket.
func TestExportBucketErrors(t *testing.T) {
	servers := storetest.Both(t)
	for _, srv := range servers {
		srv.CreateBucket("kept")
		out := srv.URL("kept", "t.ndjson")
		if code, _, stderr := exportCmd(t, testTable, "-o", out, "--summary", srv.URL("kept", "s.json")); code != 0 {
			t.Fatalf("export: exit %d\n%s", code, stderr)
		}
		mustExport(t, testTable, "-o", srv.URL("kept", "p-*.ndjson"))
		kept := srv.Objects(t, "kept")
		if !slices.Contains(kept, "s.json") || !slices.Contains(kept, "p-manifest.json") {
			t.Fatalf("the bucket holds %v, want the summary s.json and the files p-*.ndjson", kept)
		}
		cases := []struct {
			name, out, want string
			args            []string
		}{
			{"missing bucket", srv.URL("no-such-bucket", "t.ndjson"), "the bucket does not exist: create it or name another", nil},
			{"missing bucket/many", srv.URL("no-such-bucket", "p-*.ndjson"), "the bucket does not exist: create it or name another", nil},
			{"missing bucket/summary", srv.URL("kept", "u.ndjson"), "the bucket does not exist", []string{"--summary", srv.URL("no-such-bucket", "s.json")}},
			{"denied", srv.URL(storetest.DeniedBucket, "t.ndjson"), "grant the credentials' account read and write access to the bucket", nil},
			{"denied/many", srv.URL(storetest.DeniedBucket, "d/p-*.ndjson"), "grant the credentials' account read and write access to the bucket", nil},
			{"exists", out, "exists: use --overwrite to replace it", nil},
			{"exists/many", srv.URL("kept", "p-*.ndjson"), srv.URL("kept", "p-000000.ndjson") + " exists: use --overwrite to replace the files", nil},
			{"exists/summary", srv.URL("kept", "u.ndjson"), "exists: use --overwrite to replace it", []string{"--summary", srv.URL("kept", "s.json")}},
		}
		for _, c := range cases {
			t.Run(srv.Scheme+"/"+c.name, func(t *testing.T) {
				code, _, stderr := exportCmd(t, append([]string{testTable, "-o", c.out}, c.args...)...)
				checkOneLine(t, code, stderr, c.want)
				if got := srv.Objects(t, "kept"); !slices.Equal(got, kept) {
					t.Errorf("the bucket holds %v, want only the earlier %v", got, kept)
				}
			})
		}
	}
	storetest.NoCredentials(t)
	for _, srv := range servers {
		for _, out := range []string{"new.ndjson", "new-*.ndjson"} {
			t.Run(srv.Scheme+"/no credentials/"+out, func(t *testing.T) {
				code, _, stderr := exportCmd(t, testTable, "-o", srv.URL("kept", out))
				checkOneLine(t, code, stderr, "set up credentials")
			})
		}
	}
}

// checkOneLine checks a refusal: exit 2 and one line of stderr holding want.
func checkOneLine(t *testing.T, code int, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line with %q", code, stderr, want)
	}
}

// TestExportResumeOnBuckets stops an export to gs:// and one to s3:// part way, by SIGINT and by
// SIGKILL, and resumes each: nothing is at -o in between; after SIGKILL the lock object is left and a resume is refused
// in one line naming it, until it is deleted; the resumed run reads only the rows not committed
// and the object holds every source row once.
func TestExportResumeOnBuckets(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("workers die with their coordinator through Linux's parent-death signal")
	}
	inst := stallingEmulator(t)
	for _, srv := range storetest.Both(t) {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
			t.Run(srv.Scheme+"/"+sig.String(), func(t *testing.T) { resumeOnBucket(t, inst, srv, sig) })
		}
	}
}

// resumeOnBucket is one run of TestExportResumeOnBuckets: the export to srv stopped by sig.
func resumeOnBucket(t *testing.T, inst *emulator.Instance, srv *storetest.Server, sig syscall.Signal) {
	bucket := "resume-" + strconv.Itoa(int(sig))
	srv.CreateBucket(bucket)
	out := srv.URL(bucket, "items.ndjson")
	workDir := out + ".bqread/"
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
	waitNoWorkers(t, workDir)
	if slices.Contains(srv.Objects(t, bucket), "items.ndjson") {
		t.Fatalf("%s exists after the export stopped part way", out)
	}
	if sig == syscall.SIGKILL {
		var so, se bytes.Buffer
		code := run(t.Context(), append(slices.Clone(args), "--resume"), nil, &so, &se)
		checkOneLine(t, code, se.String(), "remove "+workDir+"bqread.lock")
		b, err := store.OpenBlob(t.Context(), workDir)
		if err != nil {
			t.Fatal(err)
		}
		b.Remove(t.Context(), "bqread.lock")
	}
	s := runResume(t, args)
	path := srv.Download(t, bucket, "items.ndjson")
	if diff := cmp.Diff(wantRows(t, all), readNDJSON(t, path)); diff != "" {
		t.Errorf("rows differ from the source after resuming (-want +got):\n%s", diff)
	}
	for _, ps := range s.PerStream {
		if ps.StartOffset != committed[ps.Index] {
			t.Errorf("stream %d resumed at row %d, want %d (its committed rows)", ps.Index, ps.StartOffset, committed[ps.Index])
		}
	}
	if got := srv.Objects(t, bucket); !slices.Equal(got, []string{"items.ndjson"}) {
		t.Errorf("the bucket holds %v after the resumed export, want only items.ndjson", got)
	}
}

// TestDistributedCommandsOnBuckets runs plan, status, worker and merge by hand with the work dir
// in a bucket, on gs:// and s3://: a second plan without --overwrite is refused with exit 2; a
// merge before the workers ran exits 3 and writes nothing; status reports no task done, then
// both; the merge into a many-file output in the bucket writes files holding every source row
// once (read with encoding/json), their manifest and the summary, and removes the work dir.
func TestDistributedCommandsOnBuckets(t *testing.T) {
	inst := startEmulator(t)
	cmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), args, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	for _, srv := range storetest.Both(t) {
		t.Run(srv.Scheme, func(t *testing.T) {
			srv.CreateBucket("dist")
			work := srv.URL("dist", "work/")
			plan := []string{"plan", testTable, "--endpoint", inst.GRPCAddr(), "--work-dir", work, "-f", "ndjson", "--streams", "2"}
			if code, _, stderr := cmd(plan...); code != 0 {
				t.Fatalf("plan: exit %d\n%s", code, stderr)
			}
			if code, _, stderr := cmd(plan...); code != exitUsage || !strings.Contains(stderr, "--overwrite") {
				t.Errorf("second plan: exit %d, want 2 and --overwrite named:\n%s", code, stderr)
			}
			if code, out, _ := cmd("status", "--work-dir", work); code != 0 || !strings.Contains(out, "0 of 2 tasks done") {
				t.Errorf("status: exit %d\n%s", code, out)
			}
			merge := []string{"merge", "--work-dir", work, "-o", srv.URL("dist", "out/p-*.ndjson"), "--progress", "none", "--summary"}
			if code, _, stderr := cmd(append(merge, srv.URL("dist", "early.json"))...); code != exitPartial {
				t.Errorf("merge before the workers: exit %d, want %d\n%s", code, exitPartial, stderr)
			}
			if files, _ := openOut(t, srv, "dist").List(t.Context(), "out/"); len(files) != 0 {
				t.Errorf("a refused merge wrote %v", files)
			}
			var early struct{ Status string }
			if err := json.Unmarshal(readFile(t, srv.Download(t, "dist", "early.json")), &early); err != nil || early.Status != "partial" {
				t.Errorf("summary of the refused merge: status %q (%v), want partial", early.Status, err)
			}
			merge = append(merge, srv.URL("dist", "out/summary.json"))
			for _, task := range []string{"0", "1"} {
				if code, _, stderr := cmd("worker", "--work-dir", work, "--task-index", task); code != 0 {
					t.Fatalf("worker %s: exit %d\n%s", task, code, stderr)
				}
			}
			if code, out, _ := cmd("status", "--work-dir", work); code != 0 || !strings.Contains(out, "2 of 2 tasks done") {
				t.Errorf("status after the workers: exit %d\n%s", code, out)
			}
			if code, _, stderr := cmd(merge...); code != 0 {
				t.Fatalf("merge: exit %d\n%s", code, stderr)
			}
			var rows []string
			for _, key := range srv.Objects(t, "dist") {
				switch {
				case !strings.HasPrefix(key, "out/") && key != "early.json":
					t.Errorf("%s left outside the output after the merge", key)
				case strings.HasPrefix(key, "out/p-0"):
					rows = append(rows, readNDJSON(t, srv.Download(t, "dist", key))...)
				}
			}
			slices.Sort(rows)
			if diff := cmp.Diff(wantRows(t, all), rows); diff != "" {
				t.Errorf("rows of the merged files differ from the source (-want +got):\n%s", diff)
			}
			for _, key := range []string{"out/p-manifest.json", "out/summary.json"} {
				if !slices.Contains(srv.Objects(t, "dist"), key) {
					t.Errorf("no %s after the merge", key)
				}
			}
		})
	}
}

// openOut opens a bucket of srv.
func openOut(t *testing.T, srv *storetest.Server, bucket string) *store.Blob {
	t.Helper()
	b, err := store.OpenBlob(t.Context(), srv.URL(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestBucketPartsKilledAndResumed kills (SIGKILL) an export to a many-file output in a bucket
// while it writes its files, as the upload of the third reaches the server, which holds it until
// the process is dead: the two files put in place stay, without a manifest, an incomplete set.
// Once the lock object the killed process left is removed, a resume without --overwrite
// replaces them (they carry the export's mark) and writes the whole
// set: the bucket then holds the files and the manifest only, and the files every source row
// once, read with encoding/json.
func TestBucketPartsKilledAndResumed(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, srv := range storetest.Both(t) {
		t.Run(srv.Scheme, func(t *testing.T) {
			srv.CreateBucket("killed")
			args := []string{"export", testTable, "--endpoint", inst.GRPCAddr(), "-o", srv.URL("killed", "p-*.ndjson"),
				"--streams", "2", "--segment-rows", "1", "--progress", "none"} // a file per response
			held, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			srv.OnRequest(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet || r.Method == http.MethodHead || !strings.Contains(r.URL.String(), "p-000002") {
					return false
				}
				once.Do(func() { close(held) })
				<-release
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			})
			cmd := exec.Command(os.Args[0], args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-held:
			case err := <-exited:
				t.Fatalf("the export ended (%v) before it uploaded its third file:\n%s", err, stderr.String())
			}
			cmd.Process.Kill()
			<-exited
			close(release)
			srv.OnRequest(func(http.ResponseWriter, *http.Request) bool { return false })
			var outside []string
			for _, key := range srv.Objects(t, "killed") {
				if !strings.HasPrefix(key, "p-.ndjson.bqread/") {
					outside = append(outside, key)
				}
			}
			if want := []string{"p-000000.ndjson", "p-000001.ndjson"}; !slices.Equal(outside, want) {
				t.Fatalf("after the kill the bucket holds %v outside the work dir, want %v", outside, want)
			}
			b := openOut(t, srv, "killed")
			b.Remove(t.Context(), "p-.ndjson.bqread/bqread.lock") // the killed process's, as its refusal says
			runResume(t, args)
			var rows []string
			keys := srv.Objects(t, "killed")
			for _, key := range keys {
				if !strings.HasPrefix(key, "p-0") {
					continue
				}
				rows = append(rows, readNDJSON(t, srv.Download(t, "killed", key))...)
			}
			slices.Sort(rows)
			if diff := cmp.Diff(wantRows(t, all), rows); diff != "" {
				t.Errorf("rows of the files after the resume differ from the source (-want +got):\n%s", diff)
			}
			if len(keys) < 4 || keys[len(keys)-1] != "p-manifest.json" || slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, ".bqread/") }) {
				t.Errorf("after the resume the bucket holds %v, want the files and the manifest only", keys)
			}
		})
	}
}
