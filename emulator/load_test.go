package emulator

import (
	"errors"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/schema"
)

const allTypesDir = "samples/bqread-demo/samples/all_types/"

func loadAllTypes(t *testing.T, mem memory.Allocator) (schema.Schema, arrow.Record) {
	t.Helper()
	raw, err := os.ReadFile(allTypesDir + "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(allTypesDir + "data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := LoadNDJSON(s, f, mem)
	if err != nil {
		t.Fatalf("LoadNDJSON(all_types): %v", err)
	}
	return s, rec
}

// cell returns the value at (row, column) as a string through arrow's own formatting.
func cell(rec arrow.Record, col string, row int) string {
	idx := rec.Schema().FieldIndices(col)[0]
	return rec.Column(idx).ValueStr(row)
}

func TestLoadNDJSONAllTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s, rec := loadAllTypes(t, mem)
	defer rec.Release()
	if got, want := rec.NumRows(), int64(7); got != want {
		t.Fatalf("rows = %d, want %d", got, want)
	}
	if !rec.Schema().Equal(schema.ArrowSchema(s)) {
		t.Fatalf("schema = %v, want schema.ArrowSchema", rec.Schema())
	}
	tests := []struct {
		col  string
		row  int
		want string
	}{
		{"id", 0, "1"},
		{"i", 2, "-9223372036854775808"},
		{"i", 3, "9223372036854775807"}, // a JSON number, not a string
		{"i", 1, "(null)"},
		{"n", 0, "123.456"},
		{"n", 2, "-99999999999999999999999999999.999999999"},
		{"n", 3, "99999999999999999999999999999.999999999"}, // a JSON number with 38 digits
		{"by", 0, "AAEC/w=="},
		{"d", 2, "0001-01-01"},
		{"d", 3, "9999-12-31"},
		{"t", 0, "12:34:56.789000"},
		{"t", 4, "00:00:00.000001"},
		{"g", 5, "GEOMETRYCOLLECTION EMPTY"},
		{"j", 0, `{"a":[1,2,{"b":null}],"s":"x"}`},
		{"j", 2, `"just a string"`},
		{"j", 3, `{"k":[true,false,null],"n":1.5e300}`},
		{"j", 4, `[1,"two",3.0]`},
		{"j", 5, "(null)"},
		{"j", 6, `{}`},
		{"ai", 1, "[]"},
		{"ai", 3, "[9223372036854775807,0]"},
		{"st", 1, "(null)"},
	}
	for _, tt := range tests {
		if got := cell(rec, tt.col, tt.row); got != tt.want {
			t.Errorf("%s[%d] = %q, want %q", tt.col, tt.row, got, tt.want)
		}
	}
	checkAllTypesExact(t, rec)
}

// checkAllTypesExact checks the values whose text form hides the stored integers.
func checkAllTypesExact(t *testing.T, rec arrow.Record) {
	t.Helper()
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	f := col("f").(*array.Float64)
	if !math.IsInf(f.Value(2), -1) || !math.IsInf(f.Value(3), 1) || !math.IsNaN(f.Value(4)) || f.Value(6) != 5e-324 {
		t.Errorf("FLOAT64 specials = %v %v %v %v", f.Value(2), f.Value(3), f.Value(4), f.Value(6))
	}
	x := rec.Column(rec.Schema().FieldIndices("st")[0]).(*array.Struct).Field(2).(*array.List).ListValues().(*array.Struct).Field(0).(*array.Float64)
	// st.arr elements: row 0 has 2, rows 3, 4 and 6 one each, so row 4's (id 5) is element 3.
	if v := x.Value(3); v != 0 || !math.Signbit(v) {
		t.Errorf("st.arr[0].x of row 5 = %v (signbit %v), want -0", v, math.Signbit(v))
	}
	n := col("n").(*array.Decimal128)
	if got, want := n.Value(5).BigInt().String(), "1"; got != want {
		t.Errorf("n[5] unscaled = %s, want %s", got, want)
	}
	if got, want := n.Value(3).BigInt().String(), strings.Repeat("9", 38); got != want {
		t.Errorf("n[3] unscaled = %s, want %s", got, want)
	}
	bn := col("bn").(*array.Decimal256)
	if got, want := bn.Value(2).BigInt().String(), "-"+pow2(255); got != want {
		t.Errorf("bn[2] unscaled = %s, want %s", got, want)
	}
	if got, want := bn.Value(0).BigInt().String(), "-1"; got != want {
		t.Errorf("bn[0] unscaled = %s, want %s", got, want)
	}
	if got, want := bn.Value(5).BigInt().String(), "1"; got != want {
		t.Errorf("bn[5] (1e-38) unscaled = %s, want %s", got, want)
	}
	ts := col("ts").(*array.Timestamp)
	tsWant := map[int]int64{
		0: 1709210096789000,
		2: -62135596800000000,
		3: 253402300799999999,
		4: -1,
		6: 1735686000000001,
	}
	for row, want := range tsWant {
		if got := int64(ts.Value(row)); got != want {
			t.Errorf("ts[%d] = %d µs, want %d", row, got, want)
		}
	}
	dt := col("dt").(*array.Timestamp)
	if got, want := int64(dt.Value(3)), int64(253402300799999999); got != want {
		t.Errorf("dt[3] (space form) = %d, want %d", got, want)
	}
	iv := col("iv").(*array.MonthDayNanoInterval)
	ivWant := map[int]arrow.MonthDayNanoInterval{
		0: {Months: 14, Days: 3, Nanoseconds: (4*3600+5*60+6)*1e9 + 789e6},
		2: {Months: -120000, Days: -7320000, Nanoseconds: 0},
		3: {Months: 120000, Days: 7320000, Nanoseconds: 0},
		5: {Months: -14, Days: -3, Nanoseconds: -((4*3600+5*60+6)*1e9 + 1000)},
		6: {Nanoseconds: 1000},
	}
	for row, want := range ivWant {
		if diff := cmp.Diff(want, iv.Value(row)); diff != "" {
			t.Errorf("iv[%d] (-want +got):\n%s", row, diff)
		}
	}
	rts := col("rts").(*array.Struct)
	start := rts.Field(0).(*array.Timestamp)
	if !rts.IsValid(4) || int64(start.Value(4)) != 1709188200000000 || rts.Field(1).IsValid(4) {
		t.Errorf("rts[4] = %v, want [2024-02-29 06:30:00 UTC, UNBOUNDED)", rts.ValueStr(4))
	}
	arrTs := rec.Column(rec.Schema().FieldIndices("st")[0]).(*array.Struct).Field(2).(*array.List).ListValues().(*array.Struct).Field(1).(*array.Timestamp)
	if got, want := int64(arrTs.Value(3)), int64(1719817199500000); got != want {
		t.Errorf("st.arr[0].ts of row 5 = %d, want %d (2024-07-01 06:59:59.5 UTC)", got, want)
	}
}

func pow2(n uint) string {
	v := new(big.Int).Lsh(big.NewInt(1), n)
	return v.String()
}

func TestLoadNDJSONErrors(t *testing.T) {
	s, err := schema.Parse([]byte(`[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"ts","type":"TIMESTAMP"},
		{"name":"st","type":"RECORD","fields":[{"name":"n","type":"NUMERIC"}]},{"name":"a","type":"INT64","mode":"REPEATED"}]`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data, want string
	}{
		{"required null", `{"id":"1"}` + "\n" + `{"id":null}`, "line 2: column id: null value for a REQUIRED column"},
		{"required missing", `{"ts":null}`, "line 1: column id: null"},
		{"bad int", `{"id":"x"}`, `line 1: column id: "x" is not an INT64`},
		{"unknown column", `{"id":1,"nope":1}`, "line 1: column nope: no such field"},
		{"timestamp too early", `{"id":1,"ts":"0001-01-01 00:00:00+01:00"}`, "line 1: column ts: timestamp"},
		{"bad date", `{"id":1,"ts":"2023-02-29 00:00:00 UTC"}`, "out of range"},
		{"numeric too large", `{"id":1,"st":{"n":"1e29"}}`, "line 1: column st.n: NUMERIC 1e29 is out of range"},
		{"null element", `{"id":1,"a":[1,null]}`, "line 1: column a[1]: array element is null"},
		{"not an object", `[1]`, "line 1: a row must be a JSON object"},
		{"bad json", `{"id":`, "line 1: invalid JSON"},
		{"invalid UTF-8 in a field", "{\"id\":1,\"st\":{\"n\":\"1\xff\"}}", "line 1: column st.n: invalid UTF-8 at byte 21"},
		{"invalid UTF-8 in a key", "{\"id\":1,\"a\xc3\":[]}", "line 1: column a\ufffd: invalid UTF-8 at byte 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rec, err := LoadNDJSON(s, strings.NewReader(tt.data), mem)
			if err == nil {
				rec.Release()
				t.Fatalf("LoadNDJSON(%q) succeeded, want error containing %q", tt.data, tt.want)
			}
			if !errors.Is(err, ErrBadRow) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrBadRow containing %q", err, tt.want)
			}
		})
	}
}

// FuzzLoadNDJSON feeds lines derived from the fixture corpus to the loader: it must return a record
// of one valid row or an error wrapping ErrBadRow, never panic.
func FuzzLoadNDJSON(f *testing.F) {
	raw, err := os.ReadFile(allTypesDir + "data.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f.Add(line)
	}
	s, err := schema.Parse(mustReadF(f, allTypesDir+"schema.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "\n") {
			return
		}
		rec, err := LoadNDJSON(s, strings.NewReader(line), memory.DefaultAllocator)
		if err != nil {
			if !errors.Is(err, ErrBadRow) {
				t.Fatalf("error %v does not wrap ErrBadRow", err)
			}
			return
		}
		defer rec.Release()
		if rec.NumRows() > 1 {
			t.Fatalf("one line gave %d rows", rec.NumRows())
		}
		if err := array.ValidateRecordFull(rec); err != nil {
			t.Fatalf("invalid record: %v", err)
		}
	})
}

func mustReadF(f *testing.F, path string) []byte {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
