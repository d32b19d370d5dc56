package export_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/workdir"
)

// TestPeakDisk exports with the parts kept and checks the summary's peak disk against the files:
// at least the output plus every committed segment (segments are removed only at the end, so the
// merge's last byte finds them all beside the whole temp output), at most the work dir as kept plus
// the output.
func TestPeakDisk(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t), ResponseBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, format := range []string{"arrow", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			wd, out := filepath.Join(dir, "work"), filepath.Join(dir, "out."+format)
			sum, err := export.Run(t.Context(), export.Options{Table: "bqread-test.ds.t", Out: out, Endpoint: inst.GRPCAddr(),
				Streams: 3, Parallelism: 3, WorkDir: wd, KeepParts: true})
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			d, err := workdir.Open(wd)
			if err != nil {
				t.Fatal(err)
			}
			var segments int64
			for i := range sum.Streams {
				segs, err := d.Segments(t.Context(), i)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range segs {
					fi, err := os.Stat(filepath.Join(wd, s.Name))
					if err != nil {
						t.Fatal(err)
					}
					segments += fi.Size()
				}
			}
			kept, err := d.DiskUsage()
			if err != nil {
				t.Fatal(err)
			}
			if segments == 0 || sum.PeakDiskBytes < info.Size()+segments || sum.PeakDiskBytes > kept+info.Size() {
				t.Errorf("peak disk %d, want at least output %d + segments %d and at most kept work dir %d + output",
					sum.PeakDiskBytes, info.Size(), segments, kept)
			}
		})
	}
}
