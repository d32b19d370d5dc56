package export_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/storetest"
)

func openBucket(t *testing.T, srv *storetest.Server, bucket string) *store.Blob {
	t.Helper()
	b, err := store.OpenBlob(context.Background(), srv.URL(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// clusterEmulator serves the cluster table in responses of 4 KiB.
func clusterEmulator(t *testing.T) *emulator.Instance {
	t.Helper()
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t), ResponseBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// TestBucketOutputs exports the cluster table over 3 streams in every format to gs://
// (fake-gcs-server) and s3:// (gofakes3), as one object and as many (each at most the least
// MaxFileSize), with the summary written to the bucket too. Each object is read back by a reader
// other than bqread's writer (pqarrow, arrow's IPC file reader, goavro, encoding/csv,
// encoding/json) and the rows of the export compared with the table's; a many-file output's
// manifest lists every file, numbered in order, with the rows and bytes the objects hold; the
// summary object is the export's; and the bucket holds nothing else (no work dir, no temp
// object).
func TestBucketOutputs(t *testing.T) {
	inst := clusterEmulator(t)
	const max = 16 << 10
	for _, srv := range storetest.Both(t) {
		for _, f := range []string{"parquet", "arrow", "avro", "csv", "ndjson"} {
			for _, many := range []bool{false, true} {
				name := map[bool]string{false: "one", true: "many"}[many]
				bucket := fmt.Sprintf("out-%s-%s", f, name)
				srv.CreateBucket(bucket)
				t.Run(srv.Scheme+"/"+f+"/"+name, func(t *testing.T) {
					t.Parallel()
					o := export.Options{Table: "bqread-test.ds.t", Out: srv.URL(bucket, "t/all."+f), Endpoint: inst.GRPCAddr(),
						Streams: 3, Summary: srv.URL(bucket, "summary.json")}
					if many {
						o.Out, o.MaxFileSize = srv.URL(bucket, "t/part-*."+f), max
					}
					if f == "avro" {
						o.DataFormat = "avro" // payloads copied from the wire
					}
					sum, err := export.Run(t.Context(), o)
					if err != nil {
						t.Fatal(err)
					}
					want := []string{"summary.json", "t/all." + f}
					if many {
						want = checkPartManifest(t, srv, bucket, f, max)
					}
					if got := srv.Objects(t, bucket); !slices.Equal(got, want) {
						t.Errorf("the bucket holds %v, want %v", got, want)
					}
					var rows []string
					for _, key := range want[1:] {
						if !strings.HasSuffix(key, "manifest.json") {
							rows = append(rows, independentRows(t, f, srv.Download(t, bucket, key))...)
						}
					}
					slices.Sort(rows)
					if !slices.Equal(rows, sourceRows()) {
						t.Errorf("the objects hold %d rows, not the table's %d once each", len(rows), clusterRows)
					}
					var stored export.Summary
					data, _ := os.ReadFile(srv.Download(t, bucket, "summary.json"))
					if err := json.Unmarshal(data, &stored); err != nil || stored.Status != "ok" || stored.Rows != clusterRows ||
						!slices.Equal(stored.OutputFiles, sum.OutputFiles) || len(sum.OutputFiles) != len(want)-1 {
						t.Errorf("summary object: %v, status %q, %d rows, files %v; want ok, %d rows, the export's files %v",
							err, stored.Status, stored.Rows, stored.OutputFiles, clusterRows, sum.OutputFiles)
					}
				})
			}
		}
	}
}

// checkPartManifest reads the manifest of t/part-*.f in the bucket and checks it: at least 2
// files, named part-000000.f, part-000001.f, ... in order, each an object of the bytes it says,
// at most max, and the rows it says adding up to the table's. It returns the keys the bucket
// should hold: the summary, the files and the manifest.
func checkPartManifest(t *testing.T, srv *storetest.Server, bucket, f string, max int64) []string {
	t.Helper()
	var pm export.PartManifest
	data, _ := os.ReadFile(srv.Download(t, bucket, "t/part-manifest.json"))
	if err := json.Unmarshal(data, &pm); err != nil {
		t.Fatal(err)
	}
	if len(pm.Files) < 2 || pm.Rows != clusterRows || pm.Format != f {
		t.Fatalf("manifest: %d files, %d rows, format %s; want several files of %d rows in %s", len(pm.Files), pm.Rows, pm.Format, clusterRows, f)
	}
	sizes := map[string]int64{}
	all, _ := openBucket(t, srv, bucket).List(context.Background(), "t/")
	for _, e := range all {
		sizes[e.Name] = e.Size
	}
	keys := []string{"summary.json"}
	var rows int64
	for k, pf := range pm.Files {
		if want := fmt.Sprintf("part-%06d.%s", k, f); pf.Name != want {
			t.Errorf("file %d is %s, want %s", k, pf.Name, want)
		}
		key := "t/" + pf.Name
		if size, ok := sizes[key]; !ok || size != pf.Bytes || size > max {
			t.Errorf("%s: %d bytes (there: %v); the manifest says %d, the bound is %d", key, size, ok, pf.Bytes, max)
		}
		if got := int64(len(independentRows(t, f, srv.Download(t, bucket, key)))); got != pf.Rows || got == 0 {
			t.Errorf("%s holds %d rows, the manifest says %d", key, got, pf.Rows)
		}
		rows += pf.Rows
		keys = append(keys, key)
	}
	if rows != clusterRows {
		t.Errorf("the manifest's files add up to %d rows, want %d", rows, clusterRows)
	}
	return append(keys, "t/part-manifest.json")
}

// TestBucketPartsFailure: an object that another writer puts at the name of the third file
// while a many-file export to a bucket runs stops the export before its manifest; the files it
// had put in place are removed, the other writer's object is left, no upload is left, and the
// parts are kept (in the bucket) for a resume.
func TestBucketPartsFailure(t *testing.T) {
	inst := clusterEmulator(t)
	for _, srv := range storetest.Both(t) {
		t.Run(srv.Scheme, func(t *testing.T) {
			srv.CreateBucket("fail")
			b := openBucket(t, srv, "fail")
			put := func() {
				if ok, _ := b.Exists(context.Background(), "part-000002.csv"); ok {
					return
				}
				up, err := b.Upload(context.Background(), "part-000002.csv", false)
				if err != nil {
					t.Error(err)
					return
				}
				up.Write([]byte("theirs"))
				up.Commit()
			}
			_, err := export.Run(t.Context(), export.Options{Table: "bqread-test.ds.t", Out: srv.URL("fail", "part-*.csv"),
				Endpoint: inst.GRPCAddr(), Streams: 3, SegmentRows: 1000, OnEvent: func(export.Event) { put() }})
			var ke *export.KeptError
			if !errors.As(err, &ke) || !strings.Contains(err.Error(), "part-000002.csv changed while the export ran") {
				t.Fatalf("export = %v, want its parts kept and the changed file named", err)
			}
			var outside []string
			for _, key := range srv.Objects(t, "fail") {
				if !strings.HasPrefix(key, "part-.csv.bqread/") {
					outside = append(outside, key)
				}
			}
			if want := []string{"part-000002.csv"}; !slices.Equal(outside, want) {
				t.Errorf("outside the work dir the bucket holds %v, want only the other writer's %v", outside, want)
			}
			data, _ := os.ReadFile(srv.Download(t, "fail", "part-000002.csv"))
			if string(data) != "theirs" {
				t.Errorf("the other writer's object holds %q", data)
			}
			if ke.WorkDir != srv.URL("fail", "part-.csv.bqread/") {
				t.Errorf("parts kept in %s, want the bucket's default work dir", ke.WorkDir)
			}
		})
	}
}

// TestBucketPartsInterrupted interrupts a many-file export to a bucket while it writes its
// files: the export's context is cancelled as the upload of the third file reaches the server
// (which then refuses it). The two files put in place are removed, no manifest is written, and
// the parts are kept in the bucket for a resume.
func TestBucketPartsInterrupted(t *testing.T) {
	inst := clusterEmulator(t)
	for _, srv := range storetest.Both(t) {
		t.Run(srv.Scheme, func(t *testing.T) {
			srv.CreateBucket("stop")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var uploads atomic.Int32
			srv.OnRequest(func(w http.ResponseWriter, r *http.Request) bool {
				if (r.Method == http.MethodPost || r.Method == http.MethodPut) && strings.Contains(r.URL.String(), "part-0") {
					uploads.Add(1)
				}
				if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.URL.String(), "part-000002") {
					cancel()
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				return false
			})
			defer srv.OnRequest(func(http.ResponseWriter, *http.Request) bool { return false })
			_, err := export.Run(ctx, export.Options{Table: "bqread-test.ds.t", Out: srv.URL("stop", "part-*.ndjson"),
				Endpoint: inst.GRPCAddr(), Streams: 3, SegmentRows: 1000})
			var ke *export.KeptError
			if !errors.As(err, &ke) || !errors.Is(err, export.ErrInterrupted) {
				t.Fatalf("export = %v, want interrupted with its parts kept", err)
			}
			if n := uploads.Load(); n < 3 {
				t.Fatalf("%d uploads of files reached the server, want the first two and the third", n)
			}
			for _, key := range srv.Objects(t, "stop") {
				if !strings.HasPrefix(key, "part-.ndjson.bqread/") {
					t.Errorf("%s left outside the work dir", key)
				}
			}
			if ke.WorkDir != srv.URL("stop", "part-.ndjson.bqread/") {
				t.Errorf("parts kept in %s, want the bucket's default work dir", ke.WorkDir)
			}
		})
	}
}
