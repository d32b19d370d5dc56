package filter

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/bqread/bqread/schema"
	"github.com/google/go-cmp/cmp"
)

const testSchema = `[
 {"name": "id", "type": "INT64", "mode": "REQUIRED"},
 {"name": "i", "type": "INT64"}, {"name": "f", "type": "FLOAT64"}, {"name": "n", "type": "NUMERIC"},
 {"name": "bn", "type": "BIGNUMERIC"}, {"name": "s", "type": "STRING"}, {"name": "b", "type": "BOOL"},
 {"name": "d", "type": "DATE"}, {"name": "t", "type": "TIME"}, {"name": "dt", "type": "DATETIME"},
 {"name": "ts", "type": "TIMESTAMP"}, {"name": "by", "type": "BYTES"},
 {"name": "arr", "type": "INT64", "mode": "REPEATED"},
 {"name": "st", "type": "RECORD", "fields": [{"name": "a", "type": "INT64"}]},
 {"name": "j", "type": "JSON"}, {"name": "pico", "type": "TIMESTAMP", "timestampPrecision": 12}]`

// Rows in Arrow's JSON form: decimals as strings, dates as days, times and timestamps as micros.
const testRows = `[
 {"id": 1, "i": 5, "f": 1.5, "n": "0.100000000", "bn": "1.00000000000000000000000000000000000001", "s": "apple", "b": true,
  "d": 16340, "t": 3600000000, "dt": 1411776000000000, "ts": 1411776000000000, "by": "YWI=", "arr": [1], "st": {"a": 1}, "j": "{}"},
 {"id": 2, "i": null, "f": "NaN", "n": null, "bn": "-5", "s": "banana", "b": false,
  "d": 16341, "t": null, "dt": null, "ts": 0, "by": null, "arr": [], "st": null, "j": null},
 {"id": 3, "i": -7, "f": null, "n": "-0.500000000", "bn": null, "s": null, "b": null,
  "d": null, "t": 86399999999, "dt": 0, "ts": null, "by": "", "arr": [], "st": null, "j": null},
 {"id": 4, "i": 100, "f": -2, "n": "100", "bn": "1", "s": "a_%c", "b": true,
  "d": 0, "t": 0, "dt": 1, "ts": -1, "by": "eg==", "arr": [], "st": null, "j": null}]`

func fixture(t *testing.T) (schema.Schema, func(string, ...Option) []int64) {
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	rec, _, err := array.RecordFromJSON(mem, schema.ArrowSchema(s), strings.NewReader(testRows))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rec.Release()
		mem.AssertSize(t, 0)
	})
	ids := rec.Column(0).(*array.Int64)
	run := func(expr string, opts ...Option) []int64 {
		t.Helper()
		f, err := Parse(expr, s, opts...)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		keep := f.Eval(rec)
		got := []int64{}
		for i, k := range keep {
			if k {
				got = append(got, ids.Value(i))
			}
		}
		return got
	}
	return s, run
}

func TestEval(t *testing.T) {
	_, run := fixture(t)
	for _, tc := range []struct {
		expr string
		want []int64
	}{
		{"i > 0", []int64{1, 4}},
		{"i >= 5 AND i <= 100", []int64{1, 4}},
		{"I <> 5", []int64{3, 4}},
		{"i != 5", []int64{3, 4}},
		{"NOT i = 5", []int64{3, 4}},
		{"i IS NULL", []int64{2}},
		{"i IS NOT NULL", []int64{1, 3, 4}},
		{"i IN (5, -7)", []int64{1, 3}},
		{"i NOT IN (5, NULL)", []int64{}},
		{"i NOT IN (5)", []int64{3, 4}},
		{"i BETWEEN -10 AND 5", []int64{1, 3}},
		{"i NOT BETWEEN -10 AND 5", []int64{4}},
		{"i = 1 OR i = 100 AND s = 'a_%c'", []int64{4}},
		{"(i = 5 OR i = 100) AND s = 'apple'", []int64{1}},
		{"f > 1", []int64{1}},
		{"f = f", []int64{1, 4}},
		{"f < 2.5", []int64{1, 4}},
		{"n = 0.1", []int64{1}},
		{"n = NUMERIC '0.1'", []int64{1}},
		{"n < 0", []int64{3}},
		{"bn > 1", []int64{1}},
		{"bn = 1.00000000000000000000000000000000000001", []int64{1}},
		{"s = \"banana\"", []int64{2}},
		{"s LIKE 'a%'", []int64{1, 4}},
		{"s LIKE '_pple'", []int64{1}},
		{`s LIKE 'a\_\%c'`, []int64{4}},
		{`s LIKE r'a\_\%c'`, []int64{4}}, // raw: the backslashes reach LIKE as they are
		{`s = """apple""" OR s = '''banana'''`, []int64{1, 2}},
		{"s = 'apple' -- a comment\n OR /* another */ s = 'banana'", []int64{1, 2}},
		{"by = rb'ab' OR by = BR'z'", []int64{1, 4}},
		{"s NOT LIKE '%an%'", []int64{1, 4}},
		{"s > 'b'", []int64{2}},
		{"b", []int64{1, 4}},
		{"NOT b", []int64{2}},
		{"b IS TRUE", []int64{1, 4}},
		{"b IS NOT TRUE", []int64{2, 3}},
		{"b = FALSE", []int64{2}},
		{"d = CAST('2014-9-27' AS DATE)", []int64{1}},
		{"d = DATE '2014-09-27'", []int64{1}},
		{"d > '2014-09-27'", []int64{2}},
		{"d = '1970-01-01'", []int64{4}},
		{"t = TIME '01:00:00'", []int64{1}},
		{"t > '23:59:59.99'", []int64{3}},
		{"dt = DATETIME '2014-09-27 00:00:00'", []int64{1}},
		{"dt < '1970-01-01T00:00:00.000002'", []int64{3, 4}},
		{"ts = TIMESTAMP '2014-09-27 00:00:00 UTC'", []int64{1}},
		{"ts = '2014-09-27T02:00:00+02:00'", []int64{1}},
		{"ts < CAST('1970-01-01' AS TIMESTAMP)", []int64{4}},
		{"by = b'ab'", []int64{1}},
		{"`i` = 5", []int64{1}},
		{"id = CAST('3' AS INT64)", []int64{3}},
		{"1 = 1", []int64{1, 2, 3, 4}},
		{"'a' = 'b'", []int64{}},
		{"i = NULL", []int64{}},
		{"i > -8 AND NOT (i = 100)", []int64{1, 3}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, run(tc.expr)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	s, _ := fixture(t)
	for _, tc := range []struct{ expr, msg string }{
		{"", "empty"},
		{"nope = 1", "unrecognized name: nope"},
		{"st.a = 1", "nested field"},
		{"arr = 1", "ARRAY column"},
		{"pico > '2024-01-01'", "TIMESTAMP(12) column pico"},
		{"j = '{}'", "JSON column"},
		{"i = 'abc'", "could not cast"},
		{"i = s", "no matching signature"},
		{"UPPER(s) = 'A'", "function UPPER"},
		{"COUNT(i) > 1", "function COUNT"},
		{"i = 1 garbage", "unexpected"},
		{"i = (SELECT 1)", "expected a column or a literal"},
		{"i", "not BOOL"},
		{"s LIKE i", "LIKE needs"},
		{"d = '2014-02-30'", "could not cast"},
		{"i IN (1, 2", "expected"},
		{"s = 'unterminated", "unclosed string literal"},
		{"i BETWEEN 1 OR 2", "expected AND"},
		{"b < TRUE", "not supported for BOOL"},
		{"CAST(i AS STRING) = '1'", "CAST of a column"},
		{"i(1) = 1", "function i is not supported"},
		{strings.Repeat("i = 1 OR ", 120000) + "i = 1", "longer than 1 MB"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			_, err := Parse(tc.expr, s)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Parse(%.40q) error = %v, want ErrInvalid containing %q", tc.expr, err, tc.msg)
			}
		})
	}
}

func TestColumns(t *testing.T) {
	s, _ := fixture(t)
	f, err := Parse("s = 'x' OR i > 1 AND I < 5", s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"i", "s"}, f.Columns()); diff != "" {
		t.Errorf("Columns (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"i > 0 AND s LIKE 'a%'", "d = CAST('2014-9-27' AS DATE)", "n BETWEEN 1.0 AND 5.0",
		"ts > TIMESTAMP '2014-09-27 00:00:00+05:30'", "NOT (b IS NOT TRUE) OR i IN (1, -2, NULL)", "`s` = b'x'",
		"DATE(ts, 'Asia/Tokyo') = DATE_SUB(CURRENT_DATE(), INTERVAL 1 MONTH)", "TIMESTAMP_TRUNC(ts, WEEK(MONDAY)) > TIMESTAMP(d)",
		"DATETIME_ADD(dt, INTERVAL i QUARTER) < CURRENT_DATETIME", "DATE(i, 2, 29) = d"} {
		f.Add(seed)
	}
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		f.Fatal(err)
	}
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema.ArrowSchema(s), strings.NewReader(testRows))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Parse(expr, s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", expr, err)
			}
			return
		}
		got := flt.Eval(rec)
		if len(got) != int(rec.NumRows()) {
			t.Fatalf("Eval(%q) gave %d results for %d rows", expr, len(got), rec.NumRows())
		}
		// Knowing every column, CanMatch is Eval; knowing none, it keeps at least what Eval keeps.
		all := make([]string, len(s))
		for i, c := range s {
			all[i] = c.Name
		}
		if exact := flt.CanMatch(rec, all); !slices.Equal(exact, got) {
			t.Fatalf("CanMatch(%q, all columns) = %v, Eval = %v", expr, exact, got)
		}
		for i, may := range flt.CanMatch(rec, nil) {
			if got[i] && !may {
				t.Fatalf("CanMatch(%q, no columns) excludes row %d, which Eval keeps", expr, i)
			}
		}
	})
}
