package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/internal/jsread"
)

// picosNames are the columns of bqread-demo.samples.picos: flexible names (spaces, non-ASCII,
// punctuation, a leading digit) next to ordinary ones.
var picosNames = []string{"id", "event time", "plain_ts", "größe-ñ", "名前", "a&b=c+d:e'f<g>h#i|j", "2nd col", "laps", "inner rec"}

// picosFlat are its columns that CSV can hold.
var picosFlat = picosNames[:7]

// picosEvents is its "event time" column (a TIMESTAMP(12)) as each --timestamp-precision gives it,
// written out by hand from data.ndjson: microseconds and nanoseconds since the epoch (truncated
// toward the past, computed with time.Time), the ISO 8601 text, and BigQuery's text with 6, 9 and
// 12 fraction digits. The fourth row is NULL.
var picosEvents = []struct {
	micros, nanos int64
	iso           string
	text          [3]string
}{
	{time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.UTC).UnixMicro(), time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC).UnixNano(),
		"2024-02-29T23:59:59.123456789012Z",
		[3]string{"2024-02-29 23:59:59.123456 UTC", "2024-02-29 23:59:59.123456789 UTC", "2024-02-29 23:59:59.123456789012 UTC"}},
	{-1, -1, "1969-12-31T23:59:59.999999999999Z",
		[3]string{"1969-12-31 23:59:59.999999 UTC", "1969-12-31 23:59:59.999999999 UTC", "1969-12-31 23:59:59.999999999999 UTC"}},
	{time.Date(2001, 9, 8, 23, 46, 40, 1000, time.UTC).UnixMicro(), time.Date(2001, 9, 8, 23, 46, 40, 1000, time.UTC).UnixNano(),
		"2001-09-08T23:46:40.000001000001Z",
		[3]string{"2001-09-08 23:46:40.000001 UTC", "2001-09-08 23:46:40.000001000 UTC", "2001-09-08 23:46:40.000001000001 UTC"}},
	{},
	{time.Date(2024, 6, 1, 12, 0, 0, 5e8, time.UTC).UnixMicro(), time.Date(2024, 6, 1, 12, 0, 0, 5e8, time.UTC).UnixNano(),
		"2024-06-01T12:00:00.500000000000Z",
		[3]string{"2024-06-01 12:00:00.500000 UTC", "2024-06-01 12:00:00.500000000 UTC", "2024-06-01 12:00:00.500000000000 UTC"}},
}

// wantEvents is picosEvents as a reader of format gets them at precision: integers (as decimal
// text) or the ISO text from Parquet, Arrow and Avro, BigQuery's text from CSV and NDJSON; "" for
// NULL.
func wantEvents(format, precision string) []string {
	digits := map[string]int{"micros": 0, "nanos": 1, "picos": 2}[precision]
	out := make([]string, len(picosEvents))
	for i, e := range picosEvents {
		switch {
		case e.iso == "":
		case format == "csv" || format == "ndjson":
			out[i] = e.text[digits]
		case precision == "picos":
			out[i] = e.iso
		case precision == "nanos":
			out[i] = strconv.FormatInt(e.nanos, 10)
		default:
			out[i] = strconv.FormatInt(e.micros, 10)
		}
	}
	return out
}

// TestExportTimestampPrecision exports bqread-demo.samples.picos at each --timestamp-precision
// to every output format (from both wire formats where the path differs: Avro is passed through
// to Avro and decoded for NDJSON), reads the files back with readers other than bqread's writers
// (hyparquet, Apache Arrow JS, goavro, DuckDB, encoding/json), and compares the TIMESTAMP(12)
// column's values and type, and every column's (flexible) name, with what was loaded.
func TestExportTimestampPrecision(t *testing.T) {
	for _, precision := range []string{"micros", "nanos", "picos"} {
		for _, tc := range []struct{ wire, format string }{
			{"arrow", "parquet"}, {"arrow", "arrow"}, {"arrow", "avro"}, {"arrow", "csv"}, {"arrow", "ndjson"},
			{"avro", "avro"}, {"avro", "ndjson"},
		} {
			t.Run(fmt.Sprintf("%s/%s→%s", precision, tc.wire, tc.format), func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(t.TempDir(), "picos."+tc.format)
				args := []string{"bqread-demo.samples.picos", "-o", out, "--streams", "2", "--data-format", tc.wire,
					"--timestamp-precision", precision}
				names := picosNames
				if tc.format == "csv" {
					names = picosFlat
					args = append(args, "--columns", strings.Join(picosFlat, ","))
				}
				mustExport(t, args...)
				gotNames, gotEvents, gotType := readPicosBack(t, tc.format, out)
				if diff := gocmp.Diff(names, gotNames); diff != "" {
					t.Errorf("column names read back (-want +got):\n%s", diff)
				}
				if diff := gocmp.Diff(wantEvents(tc.format, precision), gotEvents); diff != "" {
					t.Errorf("event time values read back (-want +got):\n%s", diff)
				}
				if want := picosTypes[tc.format][precision]; gotType != want {
					t.Errorf("event time type = %q, want %q", gotType, want)
				}
			})
		}
	}
}

// picosTypes is the type each reader reports for the TIMESTAMP(12) column: the mapping README's
// type table documents ("" where the format has no type to check).
var picosTypes = map[string]map[string]string{
	"parquet": {"micros": "INT64 TIMESTAMP(MICROS, UTC)", "nanos": "INT64 TIMESTAMP(NANOS, UTC)", "picos": "BYTE_ARRAY STRING"},
	"arrow":   {"micros": "Timestamp<MICROSECOND, UTC>", "nanos": "Timestamp<NANOSECOND, UTC>", "picos": "Utf8 google:sqlType:timestamp"},
	"avro": {"micros": `{"logicalType":"timestamp-micros","type":"long"}`, "nanos": `{"logicalType":"timestamp-nanos","type":"long"}`,
		"picos": `{"sqlType":"TIMESTAMP","type":"string"}`},
	"csv":    {"micros": "", "nanos": "", "picos": ""},
	"ndjson": {"micros": "", "nanos": "", "picos": ""},
}

// readPicosBack reads a file of bqread-demo.samples.picos with a reader other than bqread's and
// returns its column names, its "event time" values as text ("" for NULL) and that column's type.
func readPicosBack(t *testing.T, format, path string) (names, events []string, typ string) {
	t.Helper()
	switch format {
	case "parquet":
		var pq struct {
			Schema []struct {
				Name        string
				Type        *string
				LogicalType map[string]any `json:"logical_type"`
			}
			Rows []map[string]any
		}
		jsread.Run(t, "readparquet.mjs", &pq, path)
		for _, e := range pq.Schema[1:] {
			if slices.Contains(picosNames, e.Name) {
				names = append(names, e.Name)
			}
			if e.Name == "event time" {
				typ = *e.Type + " " + fmt.Sprint(e.LogicalType["type"])
				if u, ok := e.LogicalType["unit"]; ok {
					typ += fmt.Sprintf("(%v, UTC)", u)
				}
			}
		}
		for _, r := range pq.Rows {
			events = append(events, text(r["event time"]))
		}
	case "arrow":
		var meta struct{ Fields []struct{ Name string } }
		jsread.Run(t, "readarrow.mjs", &meta, path)
		for _, f := range meta.Fields {
			names = append(names, f.Name)
		}
		var col struct {
			Type   string
			Values []any
		}
		jsread.Run(t, "arrowcolumn.mjs", &col, path, "event time")
		typ = col.Type
		var full struct {
			Fields []struct {
				Name     string
				Metadata map[string]string
			}
		}
		jsread.Run(t, "readarrow.mjs", &full, path)
		if ext := full.Fields[1].Metadata["ARROW:extension:name"]; ext != "" {
			typ += " " + ext
		}
		for _, v := range col.Values {
			events = append(events, text(v))
		}
	case "avro":
		return readPicosAvro(t, path)
	case "csv":
		var rows []map[string]any
		jsread.Run(t, "duckdb.mjs", &rows, "SELECT * FROM read_csv("+sqlQuote(path)+", all_varchar = true, header = true)")
		var cols []map[string]any
		jsread.Run(t, "duckdb.mjs", &cols, "DESCRIBE SELECT * FROM read_csv("+sqlQuote(path)+", all_varchar = true, header = true)")
		for _, c := range cols {
			names = append(names, c["column_name"].(string))
		}
		for _, r := range rows {
			events = append(events, text(r["event time"]))
		}
	case "ndjson":
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			dec := json.NewDecoder(strings.NewReader(line))
			names = names[:0]
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			row := map[string]any{}
			for dec.More() {
				k, _ := dec.Token()
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Fatal(err)
				}
				names = append(names, k.(string))
				row[k.(string)] = v
			}
			events = append(events, text(row["event time"]))
		}
	}
	return names, events, typ
}

// readPicosAvro reads an Avro file with goavro: a column's name is its field's displayName
// attribute, or the field's name where it has none; the type is the "event time" field's type (in
// its null union).
func readPicosAvro(t *testing.T, path string) (names, events []string, typ string) {
	ocf := openOCF(t, path)
	var root struct {
		Fields []struct {
			Name, DisplayName string
			Type              json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(ocf.Codec().Schema()), &root); err != nil {
		t.Fatal(err)
	}
	event := ""
	for _, f := range root.Fields {
		name := cmp.Or(f.DisplayName, f.Name)
		names = append(names, name)
		if name == "event time" {
			event = f.Name
			var union []json.RawMessage
			if err := json.Unmarshal(f.Type, &union); err != nil || len(union) != 2 {
				t.Fatalf("event time's Avro type %s is not a null union", f.Type)
			}
			var v any
			json.Unmarshal(union[1], &v)
			b, _ := json.Marshal(v) // sorted keys
			typ = string(b)
		}
	}
	for ocf.Scan() {
		row, err := ocf.Read()
		if err != nil {
			t.Fatal(err)
		}
		v := row.(map[string]any)[event]
		if m, ok := v.(map[string]any); ok { // goavro's union value: {"branch type": value}
			for _, x := range m {
				v = x
			}
		}
		switch x := v.(type) {
		case time.Time: // goavro applies timestamp-micros
			v = x.UnixMicro()
		}
		events = append(events, text(v))
	}
	if err := ocf.Err(); err != nil {
		t.Fatal(err)
	}
	return names, events, typ
}

// text is a value read back as text: "" for null.
func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestExportTimestampPrecisionRefused: a precision that is not one of the three is a usage error
// in one line that names the flag and the values, and nothing is written.
func TestExportTimestampPrecisionRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.ndjson")
	code, _, stderr := exportCmd(t, "bqread-demo.samples.picos", "-o", out, "--timestamp-precision", "hours")
	if want := `bqread: export: --timestamp-precision "hours": use micros, nanos or picos` + "\n"; code != exitUsage || stderr != want {
		t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr, exitUsage, want)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output after a refused flag: %v", err)
	}
}
