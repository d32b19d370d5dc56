//go:build unix

package output

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/schema"
)

var (
	mergeMiB = flag.Int("merge-mib", 64, "total MiB of part files for BenchmarkMergeFiles (the README quotes 1024)")
	mergeDir = flag.String("merge-dir", "", "where BenchmarkMergeFiles writes (default: a temp dir); e.g. /dev/shm to leave the disk out")
)

// BenchmarkMergeFiles merges part files on disk, totalling -merge-mib, into one file, and copies the
// same part files into a directory with `cp`, alternately, each from no output and no pending
// writeback; it reports the median MB/s of each and their ratio, how close merge comes to a plain
// copy. (Alternating and medians because on a VM the same cp takes 0.2 s or 0.8 s from one run to
// the next, as the host hands memory back.) The parts hold rows like the trips sample's, with varied values, so that Parquet row groups
// have the size they have on real tables (tens of MB): the fixture corpus repeated compresses about
// 100:1 into row groups of a few hundred KB, where the Parquet merge is bound by its footer (about
// 8 KB of Thrift to parse and write again per row group) rather than by the copy.
//
//	go test -run XXX -bench MergeFiles -benchtime 7x ./output -args -merge-mib 1024
func BenchmarkMergeFiles(b *testing.B) {
	rec := tripsRecord(b, 1<<18)
	for _, f := range []Format{Parquet, Arrow, Avro, NDJSON, CSV} {
		dir := mergeBenchDir(b)
		l := layoutOf(f, rec, Options{})
		paths, meta, total := partFiles(b, dir, l, rec)
		merged, copies := filepath.Join(dir, "merged"), filepath.Join(dir, "copies")
		b.Run(string(f), func(b *testing.B) {
			var mergeTimes, cpTimes []time.Duration
			for b.Loop() {
				mergeTimes = append(mergeTimes, timed(b, merged, func() { mergeOnDisk(b, l, paths, meta, merged) }))
				cpTimes = append(cpTimes, timed(b, copies, func() { cpToDir(b, paths, copies) }))
			}
			mergeMBs, cpMBs := mbPerSec(total, median(mergeTimes)), mbPerSec(total, median(cpTimes))
			b.ReportMetric(mergeMBs, "merge-MB/s")
			b.ReportMetric(cpMBs, "cp-MB/s")
			b.ReportMetric(mergeMBs/cpMBs, "merge/cp")
		})
	}
}

// tripsRecord returns n rows of the trips sample's schema with pseudo-random values (seeded, so
// every run merges the same bytes).
func tripsRecord(b *testing.B, n int) arrow.Record {
	b.Helper()
	sch, err := os.ReadFile("../emulator/samples/bqread-demo/samples/trips/schema.json")
	if err != nil {
		b.Fatal(err)
	}
	s, err := schema.Parse(sch)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	money := func(max int) string { c := r.IntN(max); return fmt.Sprintf("%d.%02d", c/100, c%100) }
	var rows bytes.Buffer
	enc := json.NewEncoder(&rows)
	for i := range n {
		pickup := time.Unix(1_700_000_000+r.Int64N(30_000_000), r.Int64N(1e9)).UTC().Truncate(time.Microsecond)
		err := enc.Encode(map[string]any{
			"trip_id": i, "vendor_id": []string{"CMT", "VTS", "DDS"}[r.IntN(3)],
			"pickup_time":  pickup.Format(time.RFC3339Nano),
			"dropoff_time": pickup.Add(time.Duration(r.Int64N(int64(2 * time.Hour))).Truncate(time.Microsecond)).Format(time.RFC3339Nano),
			"pickup_date":  pickup.Format(time.DateOnly), "passenger_count": 1 + r.IntN(6),
			"trip_distance_km": r.Float64() * 40,
			"pickup_zone":      fmt.Sprintf("zone-%03d", r.IntN(265)),
			"dropoff_zone":     fmt.Sprintf("zone-%03d", r.IntN(265)),
			"pickup_point":     fmt.Sprintf("POINT(%.6f %.6f)", -74.3+r.Float64()/2, 40.5+r.Float64()/2),
			"payment_type":     []string{"card", "cash", "dispute"}[r.IntN(3)],
			"fare_amount":      money(10_000), "tip_amount": money(2_000), "total_amount": money(12_000),
			"store_and_forward": r.IntN(50) == 0,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	rec, err := emulator.LoadNDJSON(s, &rows, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rec.Release)
	return rec
}

// partFiles writes one body of about 32 MiB and links it as many times as -merge-mib needs.
func partFiles(b *testing.B, dir string, l *Layout, rec arrow.Record) ([]string, []byte, int64) {
	b.Helper()
	first := filepath.Join(dir, "part-0")
	fh, err := os.Create(first)
	if err != nil {
		b.Fatal(err)
	}
	w, err := l.NewBody(fh)
	if err != nil {
		b.Fatal(err)
	}
	for size := int64(0); size < 32<<20; {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
		st, _ := fh.Stat()
		size = st.Size() + recordBytes(rec) // buffered row groups count too
	}
	meta, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	st, err := fh.Stat()
	if err != nil || fh.Close() != nil {
		b.Fatal(err)
	}
	paths := []string{first}
	for total := st.Size(); total < int64(*mergeMiB)<<20; total += st.Size() {
		p := filepath.Join(dir, fmt.Sprintf("part-%d", len(paths)))
		if err := os.Link(first, p); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths, meta, st.Size() * int64(len(paths))
}

func mergeBenchDir(b *testing.B) string {
	if *mergeDir == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(*mergeDir, "bqread-merge-bench-*")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// timed removes out and flushes dirty pages, so that run starts from no output file and no pending
// writeback (neither side pays for the other's 1 GiB), then returns how long run takes.
func timed(b *testing.B, out string, run func()) time.Duration {
	if err := os.RemoveAll(out); err != nil {
		b.Fatal(err)
	}
	syscall.Sync()
	start := time.Now()
	run()
	return time.Since(start)
}

func cpToDir(b *testing.B, paths []string, dir string) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("cp", append(paths, dir)...).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v: %s", err, out)
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func mbPerSec(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

func mergeOnDisk(b *testing.B, l *Layout, paths []string, meta []byte, dst string) {
	b.Helper()
	var parts []Part
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer fh.Close()
		st, _ := fh.Stat()
		parts = append(parts, Part{R: fh, Size: st.Size(), Meta: meta})
	}
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	if err := Merge(out, l, parts); err != nil {
		b.Fatal(err)
	}
}
