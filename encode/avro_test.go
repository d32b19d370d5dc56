package encode_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/linkedin/goavro/v2"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

type obj = map[string]any

func u(branch string, v any) any { return obj{branch: v} }

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// wantRows are the goavro natives of testdata/records.json.
var wantRows = []obj{
	{
		"id": int64(1), "b": u("boolean", true), "i": u("long", int64(42)), "f": u("double", 3.5),
		"n":  u("bytes.decimal", rat("123.456")),
		"bn": u("bytes.decimal", rat("-0.00000000000000000000000000000000000001")),
		"s":  u("string", "hello"), "by": u("bytes", []byte{0, 1, 2, 255}),
		"d":  u("int.date", day(2024, 2, 29)),
		"t":  u("long.time-micros", 12*time.Hour+34*time.Minute+56789*time.Millisecond),
		"dt": u("string", "2024-02-29T23:59:59.999999"),
		"ts": u("long.timestamp-micros", time.Date(2024, 2, 29, 12, 34, 56, 789e6, time.UTC)),
		"g":  u("string", "POINT(-122.35 47.62)"), "j": u("string", `{"a":1}`),
		"iv": u("string", "1-2 3 4:05:06.789"),
		"rd": u("google.sqlType.RANGE_DATE", obj{
			"start": u("int.date", day(2024, 1, 1)), "end": u("int.date", day(2024, 2, 1))}),
		"rdt": u("google.sqlType.RANGE_DATETIME", obj{"start": u("string", "2024-01-01T00:00:00"), "end": nil}),
		"rts": u("google.sqlType.RANGE_TIMESTAMP", obj{
			"start": nil, "end": u("long.timestamp-micros", day(2024, 1, 1))}),
		"ai": []any{int64(1), int64(2), int64(3)},
		"as": []any{"x", "", "z"},
		"st": u("st", obj{"a": u("long", int64(7)), "b": u("string", "nested"), "arr": []any{
			obj{"x": u("double", 1.5), "ts": u("long.timestamp-micros", day(2020, 1, 1)),
				"inner": u("st__arr__inner", obj{"y": u("bytes.decimal", rat("1.5")), "z": u("int.date", day(2020, 1, 1))})},
			obj{"x": nil, "ts": nil, "inner": nil},
		}}),
		"ast": []any{obj{"k": "a", "v": []any{int64(1)}}, obj{"k": "b", "v": []any{}}},
	},
	{
		"id": int64(2), "b": nil, "i": nil, "f": nil, "n": nil, "bn": nil, "s": nil, "by": nil, "d": nil,
		"t": nil, "dt": nil, "ts": nil, "g": nil, "j": nil, "iv": nil, "rd": nil, "rdt": nil, "rts": nil,
		"ai": []any{}, "as": []any{}, "st": nil, "ast": []any{},
	},
	{
		"id": int64(3), "b": u("boolean", false), "i": u("long", int64(math.MinInt64)), "f": u("double", -1e300),
		"n":  u("bytes.decimal", rat("-99999999999999999999999999999.999999999")),
		"bn": u("bytes.decimal", rat("-57896044618658097711785492504343953926.63499233282028201972879200395656481996")),
		"s":  u("string", ""), "by": u("bytes", []byte{}),
		"d":  u("int.date", day(1, 1, 1)),
		"t":  u("long.time-micros", 24*time.Hour-time.Microsecond),
		"dt": u("string", "0001-01-01T00:00:00"),
		"ts": u("long.timestamp-micros", time.Date(1969, 12, 31, 23, 59, 59, 999999e3, time.UTC)),
		"g":  u("string", "LINESTRING(0 0, 1 1)"), "j": u("string", `"s"`),
		"iv": u("string", "-1-2 -3 -0:00:00.000001"),
		"rd": u("google.sqlType.RANGE_DATE", obj{"start": nil, "end": nil}), "rdt": nil, "rts": nil,
		"ai": []any{int64(math.MinInt64)}, "as": []any{"only"},
		"st":  u("st", obj{"a": nil, "b": nil, "arr": []any{}}),
		"ast": []any{obj{"k": "", "v": []any{int64(0), int64(-1)}}},
	},
}

// readAvro decodes back-to-back rows with goavro until data is used up.
func readAvro(t *testing.T, s *arrow.Schema, data []byte) []any {
	t.Helper()
	bq, err := schema.FromArrow(s)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(schema.AvroSchema(bq))
	if err != nil {
		t.Fatal(err)
	}
	var rows []any
	for len(data) > 0 {
		var row any
		if row, data, err = codec.NativeFromBinary(data); err != nil {
			t.Fatalf("row %d: %v", len(rows), err)
		}
		rows = append(rows, row)
	}
	return rows
}

var cmpNatives = cmp.Options{
	cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 }),
	cmpopts.EquateEmpty(),
}

func TestAvroRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()

	prefix := []byte("kept")
	data, err := encode.AvroRows(rec, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:4]) != "kept" {
		t.Fatalf("AvroRows overwrote dst: %q", data[:4])
	}
	got := readAvro(t, rec.Schema(), data[4:])
	want := make([]any, len(wantRows))
	for i, r := range wantRows {
		want[i] = map[string]any(r)
	}
	if diff := cmp.Diff(want, got, cmpNatives); diff != "" {
		t.Fatalf("rows read back with goavro differ (-want +got):\n%s", diff)
	}
}

func TestAvroRowsSlicedRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	tail := rec.NewSlice(1, 3)
	defer tail.Release()
	data, err := encode.AvroRows(tail, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{map[string]any(wantRows[1]), map[string]any(wantRows[2])}
	if diff := cmp.Diff(want, readAvro(t, tail.Schema(), data), cmpNatives); diff != "" {
		t.Fatalf("rows of a sliced record differ (-want +got):\n%s", diff)
	}
}

func TestAvroRowsErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tests := []struct {
		name string
		typ  arrow.DataType
		md   arrow.Metadata
		json string
	}{
		{"null in REQUIRED", arrow.PrimitiveTypes.Int64, arrow.Metadata{}, `[1, null]`},
		{"DATETIME past 9999", schema.DateTimeType, arrow.NewMetadata([]string{schema.ExtensionName}, []string{"google:sqlType:datetime"}), `[253402300800000000]`},
		{"sub-microsecond INTERVAL", arrow.FixedWidthTypes.MonthDayNanoInterval, arrow.Metadata{}, `[{"months": 0, "days": 0, "nanoseconds": 1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := arrow.NewSchema([]arrow.Field{{Name: "c", Type: tt.typ, Nullable: tt.name != "null in REQUIRED", Metadata: tt.md}}, nil)
			col, _, err := array.FromJSON(mem, tt.typ, strings.NewReader(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			defer col.Release()
			rec := array.NewRecord(s, []arrow.Array{col}, int64(col.Len()))
			defer rec.Release()
			if _, err := encode.AvroRows(rec, nil); !errors.Is(err, encode.ErrUnencodable) {
				t.Fatalf("err = %v, want ErrUnencodable", err)
			}
		})
	}
}

func TestAppendInterval(t *testing.T) {
	tests := []struct {
		in   arrow.MonthDayNanoInterval
		want string
	}{
		{arrow.MonthDayNanoInterval{}, "0-0 0 0:00:00"},
		{arrow.MonthDayNanoInterval{Months: 14, Days: 3, Nanoseconds: (4*3600 + 5*60 + 6) * 1e9}, "1-2 3 4:05:06"},
		{arrow.MonthDayNanoInterval{Months: 14, Days: 3, Nanoseconds: 14706789000000}, "1-2 3 4:05:06.789"},
		{arrow.MonthDayNanoInterval{Months: -14, Days: -3, Nanoseconds: -14706789000000}, "-1-2 -3 -4:05:06.789"},
		{arrow.MonthDayNanoInterval{Months: -1, Days: 40, Nanoseconds: 3599_999_999_000}, "-0-1 40 0:59:59.999999"},
		{arrow.MonthDayNanoInterval{Nanoseconds: 1000}, "0-0 0 0:00:00.000001"},
		{arrow.MonthDayNanoInterval{Months: -120000, Days: -3660000, Nanoseconds: -1}, ""},
		{arrow.MonthDayNanoInterval{Months: 120000, Days: 3660000, Nanoseconds: 2562047 * 3600 * 1e9}, "10000-0 3660000 2562047:00:00"},
		{arrow.MonthDayNanoInterval{Months: math.MinInt32, Days: math.MinInt32, Nanoseconds: -500e3}, "-178956970-8 -2147483648 -0:00:00.0005"},
	}
	for _, tt := range tests {
		got, err := encode.AppendInterval(nil, tt.in)
		if tt.want == "" {
			if !errors.Is(err, encode.ErrUnencodable) {
				t.Errorf("AppendInterval(%v) err = %v, want ErrUnencodable", tt.in, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendInterval(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
