package decode_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/decode"
	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

const samples = "../emulator/samples/bqread-demo/samples/"

func readSchema(t testing.TB, table string) schema.Schema {
	t.Helper()
	raw, err := os.ReadFile(samples + table + "/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixtures returns the test records, named: the all_types sample table (every type, nulls,
// nesting, empty arrays, extremes) loaded by the emulator, and encode's test records. The caller
// releases them.
func fixtures(t testing.TB, mem memory.Allocator) map[string]arrow.Record {
	t.Helper()
	s := readSchema(t, "all_types")
	data, err := os.Open(samples + "all_types/data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	allTypes, err := emulator.LoadNDJSON(s, data, mem)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../encode/testdata/records.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, _, err := array.RecordFromJSON(mem, schema.ArrowSchema(s), f)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]arrow.Record{"all_types": allTypes, "records.json": rec}
}

func releaseAll(recs map[string]arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// arrowPayloads encodes rec as a session's serialized schema and one record batch message.
func arrowPayloads(t testing.TB, rec arrow.Record, compression string) (schemaMsg, batch []byte) {
	t.Helper()
	schemaMsg, err := encode.ArrowSchemaMessage(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encode.NewArrowEncoder(rec.Schema(), compression, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if batch, err = enc.RecordBatch(rec); err != nil {
		t.Fatal(err)
	}
	return schemaMsg, batch
}

// avroPayloads encodes rec as a session's Avro schema and its binary rows.
func avroPayloads(t testing.TB, rec arrow.Record) (avroSchema string, rows []byte) {
	t.Helper()
	bq, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	rows, err = encode.AvroRows(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return schema.AvroSchema(bq), rows
}

var zones = []string{"Midtown", "Upper East Side", "JFK Airport", "Harlem", "Williamsburg", "Astoria", "SoHo"}

// tripsRecord returns n deterministic rows of the trips sample's schema.
func tripsRecord(t testing.TB, n int, mem memory.Allocator) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema.ArrowSchema(readSchema(t, "trips")))
	defer b.Release()
	rng := rand.New(rand.NewPCG(1, 2))
	const t0 = 1_700_000_000_000_000
	for i := 0; i < n; i++ {
		pickup := t0 + rng.Int64N(1e13)
		fare := rng.Int64N(100_000)
		tip := rng.Int64N(2_000)
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append([]string{"CMT", "VTS"}[i%2])
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(pickup))
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(pickup + rng.Int64N(3.6e9)))
		b.Field(4).(*array.Date32Builder).Append(arrow.Date32(pickup / 86_400_000_000))
		if i%17 == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.Int64Builder).Append(1 + rng.Int64N(5))
		}
		b.Field(6).(*array.Float64Builder).Append(rng.Float64() * 40)
		b.Field(7).(*array.StringBuilder).Append(zones[rng.IntN(len(zones))])
		b.Field(8).(*array.StringBuilder).Append(zones[rng.IntN(len(zones))])
		b.Field(9).(*array.StringBuilder).Append("POINT(-73.98 40.75)")
		b.Field(10).(*array.StringBuilder).Append([]string{"card", "cash"}[rng.IntN(2)])
		b.Field(11).(*array.Decimal128Builder).Append(decimal128.FromI64(fare * 10_000_000))
		b.Field(12).(*array.Decimal128Builder).Append(decimal128.FromI64(tip * 10_000_000))
		b.Field(13).(*array.Decimal128Builder).Append(decimal128.FromI64((fare + tip) * 10_000_000))
		b.Field(14).(*array.BooleanBuilder).Append(rng.IntN(50) == 0)
	}
	return b.NewRecord()
}

// sameRecord reports whether two records hold the same values, NaN equal to NaN, with no
// tolerance on floats.
// checkDecode decodes payload, which must hold want's rows, and compares the record with want.
func checkDecode(t *testing.T, name string, dec decode.Decoder, payload []byte, want arrow.Record) {
	t.Helper()
	got, err := dec.Decode(payload, want.NumRows())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer got.Release()
	if !sameRecord(got, want) {
		t.Errorf("%s: decoded record differs:\ngot  %v\nwant %v", name, got, want)
	}
}

func sameRecord(a, b arrow.Record) bool {
	return a.Schema().Equal(b.Schema()) &&
		array.RecordApproxEqual(a, b, array.WithNaNsEqual(true), array.WithAbsTolerance(0))
}
