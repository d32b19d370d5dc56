package main

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// allTypesFlat are the columns of the all_types sample that CSV can hold.
const allTypesFlat = "id,b,i,f,n,bn,s,by,d,t,dt,ts,g,j,iv,rd,rdt,rts"

// TestExportCSVOptions exports the all_types corpus (allTypesTable) over several streams as CSV with bq extract's
// options (tab delimiter, no header, \N for NULL), plain and gzip, reads it back with Go's
// encoding/csv, and checks it against the reviewed golden NDJSON of the corpus: every value,
// NULL as \N, no header row. Every worker writes its segments with the options of the manifest,
// and the merge keeps every part's first row.
func TestExportCSVOptions(t *testing.T) {
	want := goldenCSVRecords(t, `\N`)
	for _, out := range []string{"options.csv", "options.csv.gz"} {
		t.Run(out, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), out)
			s := mustExport(t, allTypesTable, "-o", path, "--columns", allTypesFlat, "--streams", "3",
				"--field-delimiter", "tab", "--print-header=false", "--null-marker", `\N`)
			if s.Streams < 2 {
				t.Errorf("streams = %d, want several", s.Streams)
			}
			if diff := cmp.Diff(want, readCSVFile(t, path, '\t')); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// goldenCSVRecords returns the CSV records of the flat columns of the golden NDJSON of
// allTypesTable, NULL as null: JSON strings unquoted, other JSON values as they are.
func goldenCSVRecords(t *testing.T, null string) [][]string {
	t.Helper()
	var records [][]string
	for _, line := range strings.Split(strings.TrimSuffix(allTypesGolden(t), "\n"), "\n") {
		var row map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, c := range strings.Split(allTypesFlat, ",") {
			raw := row[c]
			switch {
			case string(raw) == "null":
				fields = append(fields, null)
			case raw[0] == '"':
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				fields = append(fields, s)
			default:
				fields = append(fields, string(raw))
			}
		}
		records = append(records, fields)
	}
	return records
}

// readCSVFile reads a CSV file, gzip when its name ends in .gz, with Go's encoding/csv.
func readCSVFile(t *testing.T, path string, delim rune) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = delim
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v\n%s", path, err, data)
	}
	return records
}

// TestExportCSVOptionErrors: CSV options that cannot be written, or given for another format,
// are refused before anything is read.
func TestExportCSVOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"delimiter of two characters", []string{"-o", filepath.Join(dir, "a.csv"), "--field-delimiter", ";;"}, `field delimiter ";;": use one character`},
		{"quote delimiter", []string{"-o", filepath.Join(dir, "b.csv"), "--field-delimiter", `"`}, "field delimiter"},
		{"null marker holding the delimiter", []string{"-o", filepath.Join(dir, "c.csv"), "--null-marker", "a,b"}, "null marker"},
		{"no header for parquet", []string{"-o", filepath.Join(dir, "d.parquet"), "--print-header=false"}, "for csv, not parquet"},
		{"null marker for ndjson", []string{"-o", filepath.Join(dir, "e.ndjson"), "--null-marker", `\N`}, "for csv, not ndjson"},
		{"tab for avro", []string{"-o", filepath.Join(dir, "f.avro"), "--field-delimiter", `\t`}, "for csv, not avro"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := exportCmd(t, append([]string{"bqread-demo.samples.all_types", "--columns", allTypesFlat}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestExportLimit exports the first rows of the test table, for every wire format into formats
// that copy the wire's bytes and formats that decode them: exactly the rows asked for, in order.
func TestExportLimit(t *testing.T) {
	for _, wire := range []string{"arrow", "avro"} {
		for _, format := range []string{"ndjson", wire, "parquet"} {
			t.Run(wire+"-to-"+format, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "o."+format)
				s := mustExport(t, testTable, "-o", out, "--data-format", wire, "--limit", "37", "--segment-rows", "10")
				if s.Rows != 37 || s.Streams != 1 {
					t.Fatalf("summary: %d rows from %d streams, want 37 from 1", s.Rows, s.Streams)
				}
				if format == "arrow" || format == "parquet" {
					if n := readTable(t, format, out).NumRows(); n != 37 {
						t.Errorf("%s file holds %d rows, want 37", format, n)
					}
				}
				if format != "ndjson" {
					return
				}
				got := readNDJSON(t, out)
				want := wantRows(t, func(i int) bool { return i < 37 })
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("rows differ from the first 37 of the table")
				}
			})
		}
	}
	if code, _, stderr := exportCmd(t, testTable, "-o", filepath.Join(t.TempDir(), "o.ndjson"), "--limit", "-1"); code != exitUsage {
		t.Errorf("--limit -1: exit %d, want 2\n%s", code, stderr)
	}
}

// TestExportSample reads a sample of the trips table: some rows but not all, a warning that the
// service samples differently each time, and out-of-range percentages refused.
func TestExportSample(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o.ndjson")
	code, stdout, stderr := exportCmd(t, "bqread-demo.samples.trips", "-o", out, "--sample", "5", "--columns", "trip_id", "--summary", "-")
	var s exportSummary
	if code != 0 || json.Unmarshal([]byte(stdout), &s) != nil {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if s.Rows == 0 || s.Rows >= 2_000_000 || !strings.Contains(stderr, "sampling") {
		t.Errorf("--sample 5: %d rows of 2,000,000, stderr %q; want some, not all, and a warning", s.Rows, stderr)
	}
	for _, bad := range []string{"-1", "101"} {
		if code, _, stderr := exportCmd(t, testTable, "-o", filepath.Join(t.TempDir(), "o.ndjson"), "--sample", bad); code != exitUsage {
			t.Errorf("--sample %s: exit %d, want 2\n%s", bad, code, stderr)
		}
	}
}
