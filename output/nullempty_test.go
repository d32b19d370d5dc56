package output

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/jsread"
	"github.com/bqread/bqread/schema"
)

// emptyValues is a table of every type that has an empty value, with three rows: all NULL, all
// empty (STRING "", BYTES b"", JSON "", ARRAY [], a STRUCT of a NULL), and values that are not
// empty, for contrast. A JSON value cannot be empty text; its empty string must not turn NULL.
const emptyValues = `{"id": "1"}
{"id": "2", "s": "", "by": "", "j": "\"\"", "as": [], "st": {"a": null}}
{"id": "3", "s": "x", "by": "AA==", "j": "{}", "as": [""], "st": {"a": ""}}
`

func emptyValuesRecord(t testing.TB) arrow.Record {
	t.Helper()
	s := schema.Schema{
		{Name: "id", Type: schema.Int64, Mode: schema.Required},
		{Name: "s", Type: schema.String, Mode: schema.Nullable},
		{Name: "by", Type: schema.Bytes, Mode: schema.Nullable},
		{Name: "j", Type: schema.JSON, Mode: schema.Nullable},
		{Name: "as", Type: schema.String, Mode: schema.Repeated},
		{Name: "st", Type: schema.Struct, Mode: schema.Nullable, Fields: schema.Schema{{Name: "a", Type: schema.String, Mode: schema.Nullable}}},
	}
	rec, err := emulator.LoadNDJSON(s, strings.NewReader(emptyValues), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Release)
	return rec
}

// TestNullAgainstEmpty writes NULLs and empty values of every type that has an empty value, checks
// the lines as written, and reads the file back with DuckDB, a reader independent of ours: NULL
// must read back as NULL and an empty value as empty. BigQuery has no NULL arrays: a NULL ARRAY
// is written as [], as BigQuery writes it. CSV holds the flat columns only.
func TestNullAgainstEmpty(t *testing.T) {
	rec := emptyValuesRecord(t)
	flat := flatRecord(t, rec)
	type row = map[string]any
	for _, tc := range []struct {
		name   string
		f      Format
		rec    arrow.Record
		o      Options
		lines  []string
		reader string // DuckDB's table function reading the file %s
		want   []row
	}{{
		name: "csv",
		f:    CSV,
		rec:  flat,
		lines: []string{
			`id,s,by,j`,
			`1,,,`,
			`2,"","",""""""`,
			`3,x,AA==,{}`,
		},
		// DuckDB reads a quoted field equal to the null string as NULL unless allow_quoted_nulls
		// is off (README "Formats and types").
		reader: `read_csv(%s, header = true, all_varchar = true, allow_quoted_nulls = false)`,
		want: []row{
			{"id": "1", "s": nil, "by": nil, "j": nil},
			{"id": "2", "s": "", "by": "", "j": `""`},
			{"id": "3", "s": "x", "by": "AA==", "j": "{}"},
		},
	}, {
		name: "ndjson",
		f:    NDJSON,
		rec:  rec,
		lines: []string{
			`{"id":"1","s":null,"by":null,"j":null,"as":[],"st":null}`,
			`{"id":"2","s":"","by":"","j":"\"\"","as":[],"st":{"a":null}}`,
			`{"id":"3","s":"x","by":"AA==","j":{},"as":[""],"st":{"a":""}}`,
		},
		reader: `read_json(%s, format = 'newline_delimited', columns = {'id': 'VARCHAR', 's': 'VARCHAR', 'by': 'VARCHAR', 'j': 'VARCHAR', 'as': 'VARCHAR[]', 'st': 'STRUCT(a VARCHAR)'})`,
		want: []row{
			{"id": "1", "s": nil, "by": nil, "j": nil, "as": []any{}, "st": nil},
			{"id": "2", "s": "", "by": "", "j": `""`, "as": []any{}, "st": row{"a": nil}},
			{"id": "3", "s": "x", "by": "AA==", "j": "{}", "as": []any{""}, "st": row{"a": ""}},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			data := writeText(t, tc.f, []arrow.Record{tc.rec}, tc.o)
			if diff := cmp.Diff(tc.lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			path := filepath.Join(t.TempDir(), "empty."+string(tc.f))
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var got []row
			duckDB(t, "SELECT * FROM "+strings.Replace(tc.reader, "%s", sqlString(path), 1)+" ORDER BY id", &got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DuckDB read back (-want +got):\n%s", diff)
			}
		})
	}
}

// duckDB runs query with DuckDB (testdata/js/duckdb.mjs) and decodes its rows into v. It skips
// the test when node or DuckDB's package is not installed.
func duckDB(t *testing.T, query string, v any) {
	t.Helper()
	jsread.Run(t, "duckdb.mjs", v, query)
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
