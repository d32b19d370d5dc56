package output

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

var mergeMiB = flag.Int("merge-mib", 64, "total MiB of part files for BenchmarkMergeFiles (the README quotes 1024)")

// BenchmarkMergeFiles merges part files on disk, totalling -merge-mib, into one file, next to `cp` of
// the same part files into a directory: the ratio of their MB/s is how close merge comes to a plain
// copy. CSV merges like NDJSON (byte concatenation) and is left out because the corpus is nested.
//
//	go test -run XXX -bench MergeFiles -benchtime 3x -merge-mib 1024 ./output
func BenchmarkMergeFiles(b *testing.B) {
	rec := benchRecord(b)
	for _, f := range []Format{Parquet, Arrow, Avro, NDJSON} {
		dir := b.TempDir()
		paths, total := partFiles(b, dir, f, rec)
		b.Run("merge/"+string(f), func(b *testing.B) {
			syscall.Sync() // neither side pays for the other's (or the setup's) dirty pages
			b.SetBytes(total)
			for b.Loop() {
				mergeOnDisk(b, f, paths, filepath.Join(dir, "merged"))
			}
		})
		b.Run("cp/"+string(f), func(b *testing.B) {
			syscall.Sync()
			b.SetBytes(total)
			for b.Loop() {
				dst := filepath.Join(dir, "copies")
				os.RemoveAll(dst)
				if err := os.Mkdir(dst, 0o755); err != nil {
					b.Fatal(err)
				}
				if out, err := exec.Command("cp", append(paths, dst)...).CombinedOutput(); err != nil {
					b.Fatalf("cp: %v: %s", err, out)
				}
			}
		})
	}
}

// partFiles writes one part of about 32 MiB and links it as many times as -merge-mib needs.
func partFiles(b *testing.B, dir string, f Format, rec arrow.Record) ([]string, int64) {
	b.Helper()
	first := filepath.Join(dir, "part-0")
	fh, err := os.Create(first)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWriter(fh, f, rec.Schema(), Options{})
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
	if err := w.Close(); err != nil {
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
	return paths, st.Size() * int64(len(paths))
}

func mergeOnDisk(b *testing.B, f Format, paths []string, dst string) {
	b.Helper()
	var parts []Part
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer fh.Close()
		st, _ := fh.Stat()
		parts = append(parts, Part{R: fh, Size: st.Size()})
	}
	os.Remove(dst) // as the cp side starts from an empty directory: no truncation of the last run's file
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	if err := Merge(out, f, parts); err != nil {
		b.Fatal(err)
	}
}
