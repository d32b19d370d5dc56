package sql_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/emulator/sql"
	"github.com/bqread/bqread/schema"
)

const testSchema = `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "f", "type": "FLOAT64"},
 {"name": "s", "type": "STRING"}, {"name": "st", "type": "RECORD", "fields": [{"name": "k", "type": "INT64", "mode": "REQUIRED"}]}]`

// testRows: f has NULL, NaN, infinities and a tie; s has NULLs; st is NULL in row 4.
const testRows = `{"id": 1, "f": 2.5, "s": "b", "st": {"k": 30}}
{"id": 2, "f": null, "s": "a", "st": {"k": 10}}
{"id": 3, "f": "NaN", "s": null, "st": {"k": 20}}
{"id": 4, "f": "-Infinity", "s": "c", "st": null}
{"id": 5, "f": 2.5, "s": null, "st": {"k": 10}}
{"id": 6, "f": "Infinity", "s": "a", "st": {"k": 40}}
`

func table(t *testing.T) (schema.Schema, arrow.Record) {
	t.Helper()
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := emulator.LoadNDJSON(s, strings.NewReader(testRows), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Release)
	return s, rec
}

// bind parses a query (in the project my-project) and binds it to s.
func bind(t *testing.T, query string, s schema.Schema) *sql.Plan {
	t.Helper()
	q, err := sql.Parse(query, sql.Defaults{Project: "my-project"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := q.Bind(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a query over the test table and returns its first column (INT64) and its schema.
func run(t *testing.T, query string) ([]any, schema.Schema) {
	t.Helper()
	s, rec := table(t)
	p := bind(t, query, s)
	read := func(lo, hi int64) (arrow.Record, error) { return rec.NewSlice(lo, hi), nil }
	out, err := p.Run(t.Context(), rec.NumRows(), read, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	col := out.Column(0).(*array.Int64)
	var ids []any
	for i := range col.Len() {
		if col.IsNull(i) {
			ids = append(ids, nil)
		} else {
			ids = append(ids, col.Value(i))
		}
	}
	return ids, p.Schema()
}

// TestOrderBy: the orders BigQuery gives: NULL first ascending and last descending (unless NULLS
// FIRST/LAST), then NaN, -Infinity ... Infinity; ties kept in table order only after the next key.
func TestOrderBy(t *testing.T) {
	for _, c := range []struct {
		query string
		want  []any
	}{
		{"SELECT id FROM ds.t ORDER BY f, id", []any{int64(2), int64(3), int64(4), int64(1), int64(5), int64(6)}},
		{"SELECT id FROM ds.t ORDER BY f DESC, id DESC", []any{int64(6), int64(5), int64(1), int64(4), int64(3), int64(2)}},
		{"SELECT id FROM ds.t ORDER BY f NULLS LAST, id", []any{int64(3), int64(4), int64(1), int64(5), int64(6), int64(2)}},
		{"SELECT id FROM ds.t ORDER BY f DESC NULLS FIRST, id", []any{int64(2), int64(6), int64(1), int64(5), int64(4), int64(3)}},
		{"SELECT id, s AS x FROM ds.t AS t ORDER BY x DESC, t.id LIMIT 4", []any{int64(4), int64(1), int64(2), int64(6)}},
		{"SELECT st.k, id FROM ds.t ORDER BY 1, 2 DESC", []any{nil, int64(10), int64(10), int64(20), int64(30), int64(40)}},
		{"SELECT id FROM ds.t WHERE t.f > 0 OR s IS NULL ORDER BY id DESC LIMIT 3 OFFSET 1", []any{int64(5), int64(3), int64(1)}},
		{"SELECT id FROM ds.t ORDER BY id LIMIT 2 OFFSET 10", nil},
		{"SELECT id FROM ds.t WHERE s = r'a' OR s = '''c''' ORDER BY id", []any{int64(2), int64(4), int64(6)}},
	} {
		t.Run(c.query, func(t *testing.T) {
			got, _ := run(t, c.query)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestResultSchema: names come from aliases, else the column or field; a REQUIRED field of a
// NULLable STRUCT is NULLable in the result, and NULL where the STRUCT is.
func TestResultSchema(t *testing.T) {
	ids, s := run(t, "SELECT st.k AS kk, * EXCEPT (st, f), st.* FROM ds.t ORDER BY id")
	var names, modes []string
	for _, f := range s {
		names, modes = append(names, f.Name), append(modes, string(f.Mode))
	}
	if diff := cmp.Diff([]string{"kk", "id", "s", "k"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"NULLABLE", "REQUIRED", "NULLABLE", "NULLABLE"}, modes); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{int64(30), int64(10), int64(20), nil, int64(10), int64(40)}, ids); diff != "" {
		t.Errorf("st.k (-want +got):\n%s", diff)
	}
}

// TestTableNames: the FROM forms and their defaults.
func TestTableNames(t *testing.T) {
	for _, c := range []struct {
		from string
		want sql.TableName
	}{
		{"`p-1x.ds.t`", sql.TableName{Project: "p-1x", Dataset: "ds", Table: "t"}},
		{"my-project-2.ds.t", sql.TableName{Project: "my-project-2", Dataset: "ds", Table: "t"}},
		{"`my-project`.ds.`t`", sql.TableName{Project: "my-project", Dataset: "ds", Table: "t"}},
		{"ds.t", sql.TableName{Project: "def-proj", Dataset: "ds", Table: "t"}},
		{"t", sql.TableName{Project: "def-proj", Dataset: "defds", Table: "t"}},
	} {
		q, err := sql.Parse("SELECT a FROM "+c.from, sql.Defaults{Project: "def-proj", Dataset: "defds"})
		if err != nil {
			t.Errorf("%s: %v", c.from, err)
			continue
		}
		if q.Table != c.want {
			t.Errorf("%s: table %+v, want %+v", c.from, q.Table, c.want)
		}
	}
}

// TestErrorPositions: lines and columns count characters, after comments, strings and newlines.
func TestErrorPositions(t *testing.T) {
	for _, c := range []struct{ query, msg string }{
		{"SELECT id\n-- SELECT COUNT(x)\n  FROM ds.t /* GROUP BY */ WHERE s = 'GROUP BY' GROUP BY id",
			"not supported by the emulator: GROUP BY at [3:49]"},
		{"SELECT 'é', id FROM ds.t", "not supported by the emulator: literals in the select list at [1:8]"},
		{"SELECT id FROM ds.t WHERE s = 'é' AND nope = 1", "Unrecognized name: nope at [1:39]"},
		{"SELECT id,\n\tnope FROM ds.t", "Unrecognized name: nope at [2:2]"},
		{"SELECT id FROM ds.t WHERE s = 'open", "Syntax error: Unclosed string literal at [1:31]"},
		{"SELECT id FROM ds.t /* open", "Syntax error: Unclosed comment at [1:21]"},
		{"SELECT id FROM ds.t; SELECT 1", "not supported by the emulator: several statements (a script) at [1:22]"},
		{"SELECT st.k.x FROM ds.t", "Cannot access field x on a value with type INT64 at [1:8]"},
		{"SELECT f.* FROM ds.t", "Dot-star is not supported for type FLOAT64 at [1:8]"},
		{"SELECT * EXCEPT (id, ID) FROM ds.t", "Column ID in SELECT * EXCEPT list is duplicated at [1:22]"},
		{"SELECT id FROM ds.t ORDER BY 5", "ORDER BY column number exceeds number of SELECT columns: 5 at [1:30]"},
		{"SELECT id FROM ds.t LIMIT x", `Syntax error: Unexpected identifier "x"; LIMIT and OFFSET expect an integer literal at [1:27]`},
		{"SELECT id FROM ds.t WHERE id > 1 LIMIT 1.5", "LIMIT and OFFSET expect a non-negative integer literal, not 1.5 at [1:40]"},
		{"SELECT id FROM ds.t WHERE s = 'a\\x41'", "not supported by the emulator: unsupported escape \\x in WHERE at [1:33]"},
		{"SELECT id FROM ds.t WHERE s = `x", "Syntax error: Unclosed identifier literal at [1:31]"},
		{"SELECT id FROM ds.t WHERE s = 'a' ^ 2", "not supported by the emulator: unexpected \"^\" in WHERE at [1:35]"},
	} {
		s, _ := table(t)
		q, err := sql.Parse(c.query, sql.Defaults{Project: "my-project"})
		if err == nil {
			_, err = q.Bind(s)
		}
		var e *sql.Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want a *sql.Error", c.query, err)
			continue
		}
		if e.Error() != c.msg {
			t.Errorf("%q:\n got %s\nwant %s", c.query, e.Error(), c.msg)
		}
		if e.Unsupported != strings.HasPrefix(c.msg, sql.UnsupportedPrefix) {
			t.Errorf("%q: Unsupported = %v", c.query, e.Unsupported)
		}
	}
}

// TestRunReadsInChunks: over a table larger than a chunk, WHERE and ORDER BY see every row, and a
// query without ORDER BY stops reading once its LIMIT is met.
func TestRunReadsInChunks(t *testing.T) {
	const n = 200_000
	s, err := schema.Parse([]byte(`[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "v", "type": "FLOAT64"}]`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id": %d, "v": %g}`+"\n", i, math.Mod(float64(i)*7919, 1000))
	}
	rec, err := emulator.LoadNDJSON(s, strings.NewReader(b.String()), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	reads := 0
	read := func(lo, hi int64) (arrow.Record, error) { reads++; return rec.NewSlice(lo, hi), nil }
	runIDs := func(query string) []int64 {
		t.Helper()
		reads = 0
		p := bind(t, query, s)
		out, err := p.Run(t.Context(), n, read, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		return append([]int64(nil), out.Column(0).(*array.Int64).Int64Values()...)
	}
	var want []int64
	for i := n - 1; i >= 0 && len(want) < 5; i-- {
		if math.Mod(float64(i)*7919, 1000) < 3 {
			want = append(want, int64(i))
		}
	}
	if diff := cmp.Diff(want, runIDs("SELECT id FROM ds.t WHERE v < 3 ORDER BY id DESC LIMIT 5")); diff != "" {
		t.Errorf("ORDER BY over chunks (-want +got):\n%s", diff)
	}
	if reads < 2 {
		t.Errorf("read %d chunks of %d rows, want all", reads, n)
	}
	if got := runIDs("SELECT id FROM ds.t LIMIT 10"); len(got) != 10 || reads != 1 {
		t.Errorf("LIMIT 10 without ORDER BY: %d rows in %d reads, want 10 in 1", len(got), reads)
	}
}
