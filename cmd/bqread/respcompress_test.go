package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExportResponseCompressionLZ4 reads the all_types corpus with LZ4-compressed ReadRows
// payloads in both wire formats, into NDJSON (decoded) and Arrow (the Arrow wire passed through),
// and checks the values against the golden NDJSON that an uncompressed read gives.
func TestExportResponseCompressionLZ4(t *testing.T) {
	golden, err := os.ReadFile("../../output/testdata/all_types.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for _, wire := range []string{"arrow", "avro"} {
		for _, format := range []string{"ndjson", "arrow"} {
			t.Run(wire+"→"+format, func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(t.TempDir(), "all_types."+format)
				mustExport(t, "bqread-demo.samples.all_types", "-o", out, "--streams", "3",
					"--data-format", wire, "--response-compression", "lz4")
				got := readBackAsNDJSON(t, format, out)
				if diff := cmp.Diff(strings.Split(string(golden), "\n"), strings.Split(string(got), "\n")); diff != "" {
					t.Errorf("values read back differ from the corpus (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestExportResponseCompressionRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown codec", []string{"--response-compression", "zstd"}, "use none or lz4"},
		{"with wire compression", []string{"--response-compression", "lz4", "--wire-compression", "zstd"}, "cannot be combined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.ndjson")
			code, _, stderr := exportCmd(t, append([]string{"bqread-demo.samples.all_types", "-o", out}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q\n%s", code, exitUsage, tc.want, stderr)
			}
		})
	}
}
