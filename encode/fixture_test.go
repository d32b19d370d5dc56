package encode_test

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

// fixtureRecord returns the all_types sample table as the emulator loads it.
func fixtureRecord(t *testing.T, mem memory.Allocator) arrow.Record {
	t.Helper()
	raw, err := os.ReadFile(allTypes + "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(allTypes + "data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := emulator.LoadNDJSON(s, f, mem)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestAvroRowsFixture reads the all_types table's Avro rows back with goavro and checks values of
// every kind, extremes included.
func TestAvroRowsFixture(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := fixtureRecord(t, mem)
	defer rec.Release()
	data, err := encode.AvroRows(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := readAvro(t, rec.Schema(), data)
	if got, want := len(rows), int(rec.NumRows()); got != want {
		t.Fatalf("goavro read %d rows, want %d", got, want)
	}
	tests := []struct {
		row  int
		col  string
		want any
	}{
		{0, "iv", u("string", "1-2 3 4:05:06.789")},
		{0, "dt", u("string", "2024-02-29T23:59:59.999999")},
		{0, "n", u("bytes.decimal", rat("123.456"))},
		{0, "rts", u("google.sqlType.RANGE_TIMESTAMP", obj{"start": nil, "end": u("long.timestamp-micros", day(2024, 1, 1))})},
		{1, "ai", []any{}},
		{1, "st", nil},
		{2, "bn", u("bytes.decimal", rat("-578960446186580977117854925043439539266.34992332820282019728792003956564819968"))},
		{2, "n", u("bytes.decimal", rat("-99999999999999999999999999999.999999999"))},
		{2, "i", u("long", int64(math.MinInt64))},
		{2, "d", u("int.date", day(1, 1, 1))},
		{3, "bn", u("bytes.decimal", rat("578960446186580977117854925043439539266.34992332820282019728792003956564819967"))},
		{3, "dt", u("string", "9999-12-31T23:59:59.999999")},
		{3, "f", u("double", math.Inf(1))},
		{4, "s", u("string", "héllo wörld 🚀 \x00nul 中文 ")},
		{4, "ts", u("long.timestamp-micros", time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC))},
		{4, "rts", u("google.sqlType.RANGE_TIMESTAMP", obj{"start": u("long.timestamp-micros", time.Date(2024, 2, 29, 6, 30, 0, 0, time.UTC)), "end": nil})},
		{5, "iv", u("string", "-1-2 -3 -4:05:06.000001")},
		{5, "n", u("bytes.decimal", rat("0.000000001"))},
		{6, "t", u("long.time-micros", 23*time.Hour)},
	}
	for _, tt := range tests {
		got := rows[tt.row].(map[string]any)[tt.col]
		if diff := cmp.Diff(tt.want, got, cmpNatives); diff != "" {
			t.Errorf("row %d column %s (-want +got):\n%s", tt.row, tt.col, diff)
		}
	}
}
