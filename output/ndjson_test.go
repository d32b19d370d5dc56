package output

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const ndjsonGolden = "testdata/all_types.ndjson"

// writeText writes recs with a writer of format f and returns the file.
func writeText(t testing.TB, f Format, recs []arrow.Record, o Options) []byte {
	return writeWith(t, recs, func(w io.Writer) (Writer, error) { return NewWriter(w, f, recs[0].Schema(), o) })
}

// writeWith writes recs with the writer newWriter returns and returns the file.
func writeWith(t testing.TB, recs []arrow.Record, newWriter func(io.Writer) (Writer, error)) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNDJSONGolden writes the corpus and compares it with the reviewed golden file.
func TestNDJSONGolden(t *testing.T) {
	mem := checkedMem(t)
	got := writeText(t, NDJSON, []arrow.Record{corpus(t, mem)}, Options{})
	if *update {
		if err := os.WriteFile(ndjsonGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(ndjsonGolden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("NDJSON differs from %s (-want +got):\n%s", ndjsonGolden, diff)
	}
}

// ndjsonRows parses NDJSON with encoding/json, numbers kept as their literals.
func ndjsonRows(t testing.TB, data []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("line %d: %v: %s", len(rows)+1, err, sc.Bytes())
		}
		rows = append(rows, row)
	}
	return rows
}

// TestNDJSONValues parses the output with encoding/json and checks values of every type against
// the corpus's source rows, written out by hand in BigQuery's JSON export form.
func TestNDJSONValues(t *testing.T) {
	mem := checkedMem(t)
	rows := ndjsonRows(t, writeText(t, NDJSON, []arrow.Record{corpus(t, mem)}, Options{}))
	if got, want := len(rows), 7; got != want {
		t.Fatalf("rows = %d, want %d", got, want)
	}
	num := func(s string) json.Number { return json.Number(s) }
	for _, tc := range []struct {
		row    int
		column string
		want   any
	}{
		{0, "id", "1"},
		{0, "b", true},
		{0, "i", "42"},
		{0, "f", num("3.5")},
		{0, "n", "123.456"},
		{0, "bn", "-0.00000000000000000000000000000000000001"},
		{0, "by", "AAEC/w=="},
		{0, "d", "2024-02-29"},
		{0, "t", "12:34:56.789000"},
		{0, "dt", "2024-02-29T23:59:59.999999"},
		{0, "ts", "2024-02-29 12:34:56.789000 UTC"},
		{0, "g", "POINT(-122.35 47.62)"},
		{0, "j", map[string]any{"a": []any{num("1"), num("2"), map[string]any{"b": nil}}, "s": "x"}},
		{0, "iv", "1-2 3 4:05:06.789"},
		{0, "rd", "[2024-01-01, 2024-02-01)"},
		{0, "rdt", "[2024-01-01T00:00:00, UNBOUNDED)"},
		{0, "rts", "[UNBOUNDED, 2024-01-01 00:00:00 UTC)"},
		{0, "ai", []any{"1", "2", "3"}},
		{0, "st", map[string]any{"a": "7", "b": "nested", "arr": []any{
			map[string]any{"x": num("1.5"), "ts": "2020-01-01 00:00:00 UTC", "inner": map[string]any{"y": "1.5", "z": "2020-01-01"}},
			map[string]any{"x": nil, "ts": nil, "inner": nil}}}},
		{0, "ast", []any{map[string]any{"k": "a", "v": []any{"1"}}, map[string]any{"k": "b", "v": []any{}}}},
		{1, "b", nil},
		{1, "ai", []any{}},
		{1, "st", nil},
		{2, "i", "-9223372036854775808"},
		{2, "f", "-Infinity"},
		{2, "n", "-99999999999999999999999999999.999999999"},
		{2, "bn", "-578960446186580977117854925043439539266.34992332820282019728792003956564819968"},
		{2, "s", ""},
		{2, "d", "0001-01-01"},
		{2, "ts", "0001-01-01 00:00:00 UTC"},
		{2, "j", `"just a string"`},            // a JSON string value: a string of its JSON text
		{2, "iv", "-10000-0 -7320000 0:00:00"}, // as LoadNDJSON stores it
		{2, "rd", "[UNBOUNDED, UNBOUNDED)"},
		{3, "i", "9223372036854775807"},
		{3, "f", "Infinity"},
		{3, "s", "line1\nline2 \"quoted\", comma\ttab"},
		{3, "ts", "9999-12-31 23:59:59.999999 UTC"},
		{3, "j", map[string]any{"k": []any{true, false, nil}, "n": num("1.5e300")}},
		{4, "f", "NaN"},
		{4, "n", "0"},
		{4, "s", "héllo wörld 🚀 \x00nul 中文 "},
		{4, "by", "AA=="},
		{4, "ts", "1969-12-31 23:59:59.999999 UTC"},
		{4, "j", []any{num("1"), "two", num("3.0")}},
		{4, "iv", "0-0 0 0:00:00"},
		{4, "rts", "[2024-02-29 06:30:00 UTC, UNBOUNDED)"},
		{4, "st", map[string]any{"a": "0", "b": "b", "arr": []any{map[string]any{"x": num("-0"), "ts": "2024-07-01 06:59:59.500000 UTC",
			"inner": map[string]any{"y": "-0.000000001", "z": "0001-01-01"}}}}},
		{5, "f", num("1.7976931348623157e+308")},
		{5, "bn", "0.00000000000000000000000000000000000001"},
		{5, "j", nil},
		{5, "iv", "-1-2 -3 -4:05:06.000001"},
		{6, "f", num("5e-324")},
		{6, "n", "-0.5"},
		{6, "bn", "12345678901234567890123456789012345678.12345678901234567890123456789012345678"},
		{6, "j", map[string]any{}},
		{6, "ast", []any{}},
	} {
		if diff := cmp.Diff(tc.want, rows[tc.row][tc.column]); diff != "" {
			t.Errorf("row %d column %s (-want +got):\n%s", tc.row+1, tc.column, diff)
		}
	}
	// Every row has every column, in schema order.
	first := bytes.SplitN(writeText(t, NDJSON, []arrow.Record{corpus(t, mem)}, Options{}), []byte("\n"), 2)[0]
	var keys []string
	for _, f := range corpus(t, mem).Schema().Fields() {
		keys = append(keys, `"`+f.Name+`":`)
	}
	pos := 0
	for _, k := range keys {
		at := bytes.Index(first[pos:], []byte(k))
		if at < 0 {
			t.Fatalf("key %s missing or out of schema order in %s", k, first)
		}
		pos += at + len(k)
	}
}

// TestNDJSONRoundTrip loads the output back with the emulator's BigQuery JSON loader: the records
// equal the corpus, so the output loads back into BigQuery unchanged. The INTERVAL column is left
// out: the loader folds the corpus's 87,840,000 hours (more nanoseconds than int64 holds) into
// 7,320,000 days, then refuses that day count when it reads it back (TestNDJSONValues checks the
// column's text).
func TestNDJSONRoundTrip(t *testing.T) {
	for _, compression := range []string{"", "gzip"} {
		t.Run(orDefault(compression), func(t *testing.T) {
			mem := checkedMem(t)
			rec, s := withoutColumn(t, corpus(t, mem), "iv")
			data := writeText(t, NDJSON, cut(t, rec, 1, 2, 5), Options{Compression: compression})
			if compression == "gzip" {
				data = gunzip(t, data)
			}
			back, err := emulator.LoadNDJSON(s, bytes.NewReader(data), mem)
			if err != nil {
				t.Fatal(err)
			}
			defer back.Release()
			sameValues(t, rec, back.Columns())
		})
	}
}

// withoutColumn returns rec without the named column and its BigQuery schema.
func withoutColumn(t testing.TB, rec arrow.Record, name string) (arrow.Record, schema.Schema) {
	t.Helper()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		if f.Name != name {
			fields = append(fields, f)
			cols = append(cols, rec.Column(i))
		}
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	t.Cleanup(out.Release)
	s, err := schema.FromArrow(out.Schema())
	if err != nil {
		t.Fatal(err)
	}
	return out, s
}

func TestNDJSONEmpty(t *testing.T) {
	s := corpus(t, memory.DefaultAllocator).Schema()
	for _, compression := range []string{"", "gzip"} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, NDJSON, s, Options{Compression: compression})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if compression == "gzip" {
			if got := gunzip(t, buf.Bytes()); len(got) != 0 {
				t.Errorf("gzip: %q, want no rows", got)
			}
		} else if buf.Len() != 0 {
			t.Errorf("%q, want an empty file", buf.Bytes())
		}
	}
}

func TestNDJSONWriterErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	if _, err := NewWriter(&bytes.Buffer{}, NDJSON, rec.Schema(), Options{Compression: "zstd"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("compression zstd: err = %v, want ErrUnsupported", err)
	}
	w, err := NewWriter(&bytes.Buffer{}, NDJSON, rec.Schema(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	flat := flatRecord(t, rec)
	if err := w.Write(flat); err == nil {
		t.Error("record of another schema: no error")
	}
	bad, _, err := array.RecordFromJSON(mem, jsonSchema(), strings.NewReader(`[{"j": "{not json"}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Release()
	wj, err := NewWriter(&bytes.Buffer{}, NDJSON, bad.Schema(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wj.Write(bad); err == nil || !strings.Contains(err.Error(), `column "j"`) {
		t.Errorf("JSON column holding invalid JSON: err = %v, want one naming the column", err)
	}
}

// textParts writes the corpus as three bodies of l: one row, no rows, the rest.
func textParts(t testing.TB, l *Layout, rec arrow.Record) []body {
	var bodies []body
	for _, r := range cut(t, rec, 1, 1) {
		bodies = append(bodies, writeBody(t, l, []arrow.Record{r}))
	}
	return bodies
}

func TestNDJSONMerge(t *testing.T) {
	for _, compression := range []string{"", "gzip"} {
		t.Run(orDefault(compression), func(t *testing.T) {
			mem := checkedMem(t)
			rec := corpus(t, mem)
			want := writeText(t, NDJSON, []arrow.Record{rec}, Options{})
			l := layoutOf(NDJSON, rec, Options{Compression: compression})
			bodies := textParts(t, l, rec)
			got := join(t, l, bodies)
			if onDisk := mergeFiles(t, l, bodies); !bytes.Equal(onDisk, got) {
				t.Error("merging files gives other bytes than merging in memory")
			}
			if compression == "gzip" {
				got = gunzip(t, got) // a multi-member gzip file
			}
			if !bytes.Equal(got, want) {
				t.Errorf("merged rows differ from writing all rows at once:\n%s\nwant\n%s", got, want)
			}
		})
	}
}
