package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/storetest"
)

// smallResponses starts an emulator of the test tables whose ReadRows responses hold 1 KiB of
// payload, so that an export of a few hundred rows has many segments.
func smallResponses(t *testing.T) *emulator.Instance {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData, ResponseBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// inStoreArgs exports the all_types corpus from inst in format to out over 3 streams of segments
// of at most 7 rows: 280 rows make at least 40 segments, more than one compose request takes.
func inStoreArgs(inst *emulator.Instance, format, out string) []string {
	args := []string{"export", allTypesTable, "--endpoint", inst.GRPCAddr(), "-o", out, "--streams", "3", "--segment-rows", "7", "--progress", "none"}
	if format == "csv" {
		args = append(args, "--columns", allTypesFlat, "--field-delimiter", "tab", "--print-header=false", "--null-marker", `\N`)
	}
	return args
}

// runCmd runs bqread with args and returns its exit code and stderr.
func runCmd(t *testing.T, args ...string) (int, string) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, nil, &stdout, &stderr)
	return code, stderr.String()
}

// checkAllTypes reads the object key back with a reader other than our writers (pqarrow, arrow's
// IPC file reader, goavro, encoding/json, encoding/csv) and compares every row with the corpus.
func checkAllTypes(t *testing.T, srv *storetest.Server, bucket, key, format string) {
	t.Helper()
	path := srv.Download(t, bucket, key)
	if format == "csv" {
		if diff := cmp.Diff(goldenCSVRecords(t, `\N`), readCSVFile(t, path, '\t')); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		return
	}
	got := readBackAsNDJSON(t, format, path)
	if diff := cmp.Diff(strings.Split(allTypesGolden(t), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("values read back differ from the corpus (-want +got):\n%s", diff)
	}
}

// TestMergeInStore exports the corpus in every format to gs:// and s3:// with the work dir in the
// bucket beside the output. On fake-gcs-server the merge is GCS compose: the object is made by
// compose requests (counted at the server: more than one, since 40-odd segments need a tree of
// composes with temp objects in between), no line says the merge was copied, and afterwards the
// bucket holds the output alone, so the temp objects, the header and footer pieces and the work
// dir are gone. On gofakes3, which has no UploadPartCopy (and with segments far below S3's 5 MiB
// parts), the merge copies through bqread and one log line says so and why. Each object is read
// back by an independent reader and compared row for row with the corpus.
func TestMergeInStore(t *testing.T) {
	inst := smallResponses(t)
	for _, srv := range storetest.Both(t) {
		for _, format := range []string{"parquet", "arrow", "avro", "ndjson", "csv"} {
			t.Run(srv.Scheme+"/"+format, func(t *testing.T) {
				bucket := "instore-" + format
				srv.CreateBucket(bucket)
				key := "exports/all_types." + format
				var composes *storetest.Composes
				if srv.Scheme == "gs" {
					composes = storetest.WatchCompose(srv, 0)
				}
				code, stderr := runCmd(t, inStoreArgs(inst, format, srv.URL(bucket, key))...)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, stderr)
				}
				copied := strings.Contains(stderr, "merge copied through bqread")
				switch srv.Scheme {
				case "gs":
					if n := composes.Count(); n < 3 || copied {
						t.Errorf("%d compose requests, copied %v, want a tree of composes and no copy\n%s", n, copied, stderr)
					}
				case "s3":
					if !copied || !strings.Contains(stderr, "S3 part") {
						t.Errorf("stderr has no line saying the merge was copied, and why:\n%s", stderr)
					}
				}
				if got := srv.Objects(t, bucket); !slices.Equal(got, []string{key}) {
					t.Errorf("the bucket holds %v, want only %s", got, key)
				}
				checkAllTypes(t, srv, bucket, key, format)
			})
		}
	}
}

// TestMergeInStoreFailure refuses a compose part way through the tree (the second request, after
// the first made a temp object): the export fails with its parts kept, nothing is at -o, no temp
// object or merge piece is left in the work dir, only what bqread committed; a --resume then
// merges them into the whole object and leaves the bucket holding it alone.
func TestMergeInStoreFailure(t *testing.T) {
	srv := storetest.GCS(t)
	srv.CreateBucket("fail")
	key := "t.parquet"
	args := inStoreArgs(smallResponses(t), "parquet", srv.URL("fail", key))
	storetest.WatchCompose(srv, 2)
	code, stderr := runCmd(t, args...)
	if code != 3 || !strings.Contains(stderr, "refused by the test") {
		t.Fatalf("exit %d, want 3 and the injected refusal\n%s", code, stderr)
	}
	objects := srv.Objects(t, "fail")
	if slices.Contains(objects, key) {
		t.Errorf("%s exists after a failed merge", key)
	}
	for _, o := range objects {
		base := o[strings.LastIndex(o, "/")+1:]
		if store.IsPendingName(base) || strings.HasPrefix(base, "merge-") || !strings.HasPrefix(o, key+".bqread/") {
			t.Errorf("the bucket holds %s after a failed merge: not a committed file of the work dir", o)
		}
	}
	code, stderr = runCmd(t, append(args, "--resume")...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	if got := srv.Objects(t, "fail"); !slices.Equal(got, []string{key}) {
		t.Errorf("the bucket holds %v after the resume, want only %s", got, key)
	}
	checkAllTypes(t, srv, "fail", key, "parquet")
}
