package output

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/schema"
)

// flatRecord returns rec without its nested and repeated columns, released at the end of the test.
func flatRecord(t testing.TB, rec arrow.Record) arrow.Record {
	t.Helper()
	bq, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range bq {
		if !f.Nested() {
			fields = append(fields, rec.Schema().Field(i))
			cols = append(cols, rec.Column(i))
		}
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	t.Cleanup(out.Release)
	return out
}

func jsonSchema() *arrow.Schema {
	return schema.ArrowSchema(schema.Schema{{Name: "j", Type: schema.JSON, Mode: schema.Nullable}})
}

func TestCSVRefusesNested(t *testing.T) {
	s := corpus(t, checkedMem(t)).Schema()
	_, err := NewWriter(&bytes.Buffer{}, CSV, s, Options{})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"ai", "as", "st", "ast", "--format ndjson", "--columns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "rd") {
		t.Errorf("error %q names a RANGE column, which CSV can hold", err)
	}
}

// csvWant derives the CSV fields of the flat columns from the reviewed NDJSON golden file: JSON
// strings unquoted, numbers, booleans and JSON values as written, null empty.
func csvWant(t testing.TB, rec arrow.Record) [][]string {
	t.Helper()
	golden := writeText(t, NDJSON, []arrow.Record{rec}, Options{})
	bq, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	for _, f := range bq {
		if !f.Nested() {
			header = append(header, f.Name)
		}
	}
	out := [][]string{header}
	for _, line := range bytes.Split(bytes.TrimSuffix(golden, []byte("\n")), []byte("\n")) {
		var row map[string]json.RawMessage
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, f := range bq {
			if f.Nested() {
				continue
			}
			raw := row[f.Name]
			switch {
			case string(raw) == "null":
				fields = append(fields, "")
			case raw[0] == '"': // a string; for a JSON column, a string of JSON text
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				fields = append(fields, s)
			default:
				fields = append(fields, string(raw))
			}
		}
		out = append(out, fields)
	}
	return out
}

func readCSV(t testing.TB, data []byte) [][]string {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v\n%s", err, data)
	}
	return records
}

func TestCSV(t *testing.T) {
	for _, compression := range []string{"", "gzip"} {
		t.Run(orDefault(compression), func(t *testing.T) {
			mem := checkedMem(t)
			rec := flatRecord(t, corpus(t, mem))
			data := writeText(t, CSV, cut(t, rec, 3), Options{Compression: compression})
			if compression == "gzip" {
				data = gunzip(t, data)
			}
			if diff := cmp.Diff(csvWant(t, rec), readCSV(t, data)); diff != "" {
				t.Errorf("CSV records (-want +got):\n%s", diff)
			}
			lines := strings.Split(string(data), "\n")
			// NULL is an empty field, an empty string "".
			if got, want := lines[2], "2"+strings.Repeat(",", int(rec.NumCols())-1); got != want {
				t.Errorf("row of nulls = %q, want %q", got, want)
			}
			if !strings.HasPrefix(lines[3], `3,false,-9223372036854775808,-Infinity,-99999999999999999999999999999.999999999,`) ||
				!strings.Contains(lines[3], `,"","",0001-01-01,`) {
				t.Errorf("row 3 = %q: want bare numbers and \"\" for the empty string and for empty BYTES", lines[3])
			}
		})
	}
}

func TestCSVWriterErrors(t *testing.T) {
	s := flatRecord(t, corpus(t, checkedMem(t))).Schema()
	if _, err := NewWriter(&bytes.Buffer{}, CSV, s, Options{Compression: "snappy"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("compression snappy: err = %v, want ErrUnsupported", err)
	}
}

func TestCSVMerge(t *testing.T) {
	for _, compression := range []string{"", "gzip"} {
		t.Run(orDefault(compression), func(t *testing.T) {
			mem := checkedMem(t)
			rec := flatRecord(t, corpus(t, mem))
			want := writeText(t, CSV, []arrow.Record{rec}, Options{})
			l := layoutOf(CSV, rec, Options{Compression: compression})
			bodies := textParts(t, l, rec)
			got := join(t, l, bodies)
			if onDisk := mergeFiles(t, l, bodies); !bytes.Equal(onDisk, got) {
				t.Error("merging files gives other bytes than merging in memory")
			}
			if compression == "gzip" {
				got = gunzip(t, got)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("merged file differs from writing all rows at once:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestCSVMergeQuotedHeader merges parts whose header has a quoted name holding a line break.
func TestCSVMergeQuotedHeader(t *testing.T) {
	mem := checkedMem(t)
	s := schema.ArrowSchema(schema.Schema{{Name: "a\nb", Type: schema.Int64, Mode: schema.Nullable}, {Name: "c", Type: schema.String, Mode: schema.Nullable}})
	rec, _, err := array.RecordFromJSON(mem, s, strings.NewReader(`[{"a\nb": 1, "c": "x,y"}, {"a\nb": 2, "c": null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	l := layoutOf(CSV, rec, Options{})
	merged := join(t, l, textParts(t, l, rec))
	want := [][]string{{"a\nb", "c"}, {"1", "x,y"}, {"2", ""}}
	if diff := cmp.Diff(want, readCSV(t, merged)); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// csvOptionValues has a NULL row, a row of empty values, one whose texts hold a comma, a tab, a
// semicolon, dashes and spaces, and strings equal to the null markers the tests use.
const csvOptionValues = `{"id": "1"}
{"id": "2", "s": "", "by": ""}
{"id": "3", "s": "a,b\tc;d", "by": "AA==", "d": "2024-02-29", "ts": "2024-02-29 12:00:00 UTC", "f": -1.5, "r": "[2024-01-01, UNBOUNDED)"}
{"id": "4", "s": "\\N"}
{"id": "5", "s": "NULL"}
`

func csvOptionRecord(t testing.TB) arrow.Record {
	t.Helper()
	s := schema.Schema{
		{Name: "id", Type: schema.Int64, Mode: schema.Required},
		{Name: "s", Type: schema.String, Mode: schema.Nullable},
		{Name: "by", Type: schema.Bytes, Mode: schema.Nullable},
		{Name: "d", Type: schema.Date, Mode: schema.Nullable},
		{Name: "ts", Type: schema.Timestamp, Mode: schema.Nullable},
		{Name: "f", Type: schema.Float64, Mode: schema.Nullable},
		{Name: "r", Type: schema.Range, Mode: schema.Nullable, RangeElementType: &schema.RangeElementType{Type: schema.Date}},
	}
	rec, err := emulator.LoadNDJSON(s, strings.NewReader(csvOptionValues), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Release)
	return rec
}

// csvOptionCases are the CSV options of bq extract (field delimiter, header, null marker), each
// with the fields of the lines it writes for csvOptionValues.
var csvOptionCases = []struct {
	name  string
	o     Options
	lines [][]string
}{{
	name: "default",
	lines: [][]string{
		{"id", "s", "by", "d", "ts", "f", "r"},
		{"1", "", "", "", "", "", ""},
		{"2", `""`, `""`, "", "", "", ""},
		{"3", "\"a,b\tc;d\"", "AA==", "2024-02-29", "2024-02-29 12:00:00 UTC", "-1.5", `"[2024-01-01, UNBOUNDED)"`},
		{"4", `\N`, "", "", "", "", ""},
		{"5", "NULL", "", "", "", "", ""},
	},
}, {
	name: "tab and \\N",
	o:    Options{FieldDelimiter: "\t", NullMarker: `\N`},
	lines: [][]string{
		{"id", "s", "by", "d", "ts", "f", "r"},
		{"1", `\N`, `\N`, `\N`, `\N`, `\N`, `\N`},
		{"2", "", "", `\N`, `\N`, `\N`, `\N`},
		{"3", "\"a,b\tc;d\"", "AA==", "2024-02-29", "2024-02-29 12:00:00 UTC", "-1.5", "[2024-01-01, UNBOUNDED)"},
		{"4", `"\N"`, `\N`, `\N`, `\N`, `\N`, `\N`},
		{"5", "NULL", `\N`, `\N`, `\N`, `\N`, `\N`},
	},
}, {
	name: "semicolon, NULL, no header",
	o:    Options{FieldDelimiter: ";", NullMarker: "NULL", NoHeader: true},
	lines: [][]string{
		{"1", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
		{"2", "", "", "NULL", "NULL", "NULL", "NULL"},
		{"3", "\"a,b\tc;d\"", "AA==", "2024-02-29", "2024-02-29 12:00:00 UTC", "-1.5", "[2024-01-01, UNBOUNDED)"},
		{"4", `\N`, "NULL", "NULL", "NULL", "NULL", "NULL"},
		{"5", `"NULL"`, "NULL", "NULL", "NULL", "NULL", "NULL"},
	},
}, {
	// A dash is in dates and negative numbers, a space in timestamps and ranges: they are quoted.
	name: "dash",
	o:    Options{FieldDelimiter: "-"},
	lines: [][]string{
		{"id", "s", "by", "d", "ts", "f", "r"},
		{"1", "", "", "", "", "", ""},
		{"2", `""`, `""`, "", "", "", ""},
		{"3", "a,b\tc;d", "AA==", `"2024-02-29"`, `"2024-02-29 12:00:00 UTC"`, `"-1.5"`, `"[2024-01-01, UNBOUNDED)"`},
		{"4", `\N`, "", "", "", "", ""},
		{"5", "NULL", "", "", "", "", ""},
	},
}, {
	name: "space, a multi-byte character as null marker",
	o:    Options{FieldDelimiter: " ", NullMarker: "∅"},
	lines: [][]string{
		{"id", "s", "by", "d", "ts", "f", "r"},
		{"1", "∅", "∅", "∅", "∅", "∅", "∅"},
		{"2", "", "", "∅", "∅", "∅", "∅"},
		{"3", "a,b\tc;d", "AA==", "2024-02-29", `"2024-02-29 12:00:00 UTC"`, "-1.5", `"[2024-01-01, UNBOUNDED)"`},
		{"4", `\N`, "∅", "∅", "∅", "∅", "∅"},
		{"5", "NULL", "∅", "∅", "∅", "∅", "∅"},
	},
}, {
	name: "multi-byte delimiter",
	o:    Options{FieldDelimiter: "¦"},
	lines: [][]string{
		{"id", "s", "by", "d", "ts", "f", "r"},
		{"1", "", "", "", "", "", ""},
		{"2", `""`, `""`, "", "", "", ""},
		{"3", "a,b\tc;d", "AA==", "2024-02-29", "2024-02-29 12:00:00 UTC", "-1.5", "[2024-01-01, UNBOUNDED)"},
		{"4", `\N`, "", "", "", "", ""},
		{"5", "NULL", "", "", "", "", ""},
	},
}}

// TestCSVOptions writes csvOptionValues with each case's options, checks the lines, and reads them
// back with DuckDB told the same delimiter, header and null marker: every case reads back as the
// same values, NULL as NULL.
func TestCSVOptions(t *testing.T) {
	rec := csvOptionRecord(t)
	var reads []string // a DuckDB query reading each case's file
	for k, tc := range csvOptionCases {
		delim := tc.o.FieldDelimiter
		if delim == "" {
			delim = ","
		}
		var lines []string
		for _, fields := range tc.lines {
			lines = append(lines, strings.Join(fields, delim))
		}
		for _, compression := range []string{"", "gzip"} {
			t.Run(tc.name+"/"+orDefault(compression), func(t *testing.T) {
				o := tc.o
				o.Compression = compression
				data := writeText(t, CSV, cut(t, rec, 2), o)
				if compression == "gzip" {
					data = gunzip(t, data)
				}
				if diff := cmp.Diff(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")); diff != "" {
					t.Errorf("lines (-want +got):\n%s", diff)
				}
			})
		}
		path := filepath.Join(t.TempDir(), "options.csv")
		if err := os.WriteFile(path, writeText(t, CSV, []arrow.Record{rec}, tc.o), 0o644); err != nil {
			t.Fatal(err)
		}
		reads = append(reads, fmt.Sprintf(`SELECT %d AS "case", * FROM read_csv(%s, auto_detect = false, header = %t, delim = %s,
			quote = '"', escape = '"', nullstr = %s, allow_quoted_nulls = false,
			columns = {'id': 'VARCHAR', 's': 'VARCHAR', 'by': 'VARCHAR', 'd': 'VARCHAR', 'ts': 'VARCHAR', 'f': 'VARCHAR', 'r': 'VARCHAR'})`,
			k, sqlString(path), !tc.o.NoHeader, sqlString(delim), sqlString(tc.o.NullMarker)))
	}
	t.Run("DuckDB", func(t *testing.T) {
		type row = map[string]any
		var got []row
		duckDB(t, strings.Join(reads, "\nUNION ALL\n")+` ORDER BY "case", id`, &got)
		values := []row{
			{"id": "1", "s": nil, "by": nil, "d": nil, "ts": nil, "f": nil, "r": nil},
			{"id": "2", "s": "", "by": "", "d": nil, "ts": nil, "f": nil, "r": nil},
			{"id": "3", "s": "a,b\tc;d", "by": "AA==", "d": "2024-02-29", "ts": "2024-02-29 12:00:00 UTC", "f": "-1.5", "r": "[2024-01-01, UNBOUNDED)"},
			{"id": "4", "s": `\N`, "by": nil, "d": nil, "ts": nil, "f": nil, "r": nil},
			{"id": "5", "s": "NULL", "by": nil, "d": nil, "ts": nil, "f": nil, "r": nil},
		}
		for k, tc := range csvOptionCases {
			var want []row
			for _, v := range values {
				r := row{"case": float64(k)}
				for c, x := range v {
					r[c] = x
				}
				want = append(want, r)
			}
			n := min(len(got), len(values))
			if diff := cmp.Diff(want, got[:n]); diff != "" {
				t.Errorf("%s: read back (-want +got):\n%s", tc.name, diff)
			}
			got = got[n:]
		}
	})
}

// TestCSVMergeOptions merges parts written with each case's options: the merged file is the file
// written at once, header or not, whatever the delimiter.
func TestCSVMergeOptions(t *testing.T) {
	rec := csvOptionRecord(t)
	for _, tc := range csvOptionCases {
		for _, compression := range []string{"", "gzip"} {
			t.Run(tc.name+"/"+orDefault(compression), func(t *testing.T) {
				o := tc.o
				o.Compression = compression
				want := writeText(t, CSV, []arrow.Record{rec}, tc.o)
				l := layoutOf(CSV, rec, o)
				var bodies []body // rows [0, 2), none, [2, 5)
				for _, r := range cut(t, rec, 2, 2) {
					bodies = append(bodies, writeBody(t, l, []arrow.Record{r}))
				}
				got := join(t, l, bodies)
				if compression == "gzip" {
					got = gunzip(t, got)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("merged file differs from writing all rows at once:\n%s\nwant\n%s", got, want)
				}
			})
		}
	}
}

func TestCSVOptionErrors(t *testing.T) {
	s := csvOptionRecord(t).Schema()
	for _, tc := range []struct {
		name string
		f    Format
		o    Options
	}{
		{"two characters", CSV, Options{FieldDelimiter: ";;"}},
		{"quote delimiter", CSV, Options{FieldDelimiter: `"`}},
		{"newline delimiter", CSV, Options{FieldDelimiter: "\n"}},
		{"carriage return delimiter", CSV, Options{FieldDelimiter: "\r"}},
		{"invalid UTF-8 delimiter", CSV, Options{FieldDelimiter: "\xff"}},
		{"null marker holds the delimiter", CSV, Options{NullMarker: "a,b"}},
		{"null marker holds the tab delimiter", CSV, Options{FieldDelimiter: "\t", NullMarker: "\t"}},
		{"null marker holds a quote", CSV, Options{NullMarker: `"NULL"`}},
		{"null marker holds a line break", CSV, Options{NullMarker: "\n"}},
		{"ndjson delimiter", NDJSON, Options{FieldDelimiter: ";"}},
		{"parquet no header", Parquet, Options{NoHeader: true}},
		{"arrow null marker", Arrow, Options{NullMarker: `\N`}},
		{"avro null marker", Avro, Options{NullMarker: "NULL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewWriter(&bytes.Buffer{}, tc.f, s, tc.o); !errors.Is(err, ErrUnsupported) {
				t.Errorf("err = %v, want ErrUnsupported", err)
			}
		})
	}
	// "," is the default, so it is no CSV-only option.
	if _, err := NewWriter(&bytes.Buffer{}, NDJSON, s, Options{FieldDelimiter: ","}); err != nil {
		t.Errorf("ndjson with delimiter \",\": %v", err)
	}
}
