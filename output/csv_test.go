package output

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/go-cmp/cmp"

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
			files := textParts(t, CSV, rec, Options{Compression: compression})
			var merged bytes.Buffer
			if err := Merge(&merged, CSV, asParts(files)); err != nil {
				t.Fatal(err)
			}
			got := merged.Bytes()
			if onDisk := mergeFiles(t, CSV, files); !bytes.Equal(onDisk, got) {
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
	var merged bytes.Buffer
	if err := Merge(&merged, CSV, asParts(textParts(t, CSV, rec, Options{}))); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a\nb", "c"}, {"1", "x,y"}, {"2", ""}}
	if diff := cmp.Diff(want, readCSV(t, merged.Bytes())); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

func TestCSVMergeErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := flatRecord(t, corpus(t, mem))
	plain := writeText(t, CSV, []arrow.Record{rec}, Options{})
	gz := writeText(t, CSV, []arrow.Record{rec}, Options{Compression: "gzip"})
	other := writeText(t, CSV, []arrow.Record{flatRecord(t, cut(t, rec, 0)[1])}, Options{})
	other = bytes.Replace(other, []byte("id,"), []byte("ID,"), 1)
	// A gzip CSV file whose header shares the rows' member, as other tools write them.
	oneMember := gzipBytes(t, plain)
	for _, tc := range []struct {
		name  string
		parts [][]byte
	}{
		{"no parts", nil},
		{"gzip and plain", [][]byte{plain, gz}},
		{"other header", [][]byte{plain, other}},
		{"no header", [][]byte{plain, []byte("1,2")}},
		{"gzip header not its own member", [][]byte{oneMember, oneMember}},
		{"truncated", [][]byte{plain[:len(plain)-1], plain}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Merge(&bytes.Buffer{}, CSV, asParts(tc.parts)); err == nil {
				t.Error("no error")
			}
		})
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
