package decode_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"

	"github.com/bqread/bqread/decode"
)

func TestAvroRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	for name, rec := range recs {
		avroSchema, rows := avroPayloads(t, rec)
		dec, err := decode.NewAvro(avroSchema, mem)
		if err != nil {
			t.Fatal(err)
		}
		if !dec.Schema().Equal(rec.Schema()) {
			t.Fatalf("%s: schema = %v, want %v", name, dec.Schema(), rec.Schema())
		}
		for i := 0; i < 2; i++ { // builders are reused
			checkDecode(t, name, dec, rows, rec)
		}
	}
}

// TestAvroFromGoavro decodes rows that goavro wrote (its own decimal bytes, block counts, unions).
func TestAvroFromGoavro(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	for name, rec := range recs {
		avroSchema, rows := avroPayloads(t, rec)
		codec, err := goavro.NewCodec(avroSchema)
		if err != nil {
			t.Fatal(err)
		}
		var payload []byte
		for len(rows) > 0 {
			var native any
			if native, rows, err = codec.NativeFromBinary(rows); err != nil {
				t.Fatalf("%s: goavro reads our rows: %v", name, err)
			}
			if payload, err = codec.BinaryFromNative(payload, native); err != nil {
				t.Fatalf("%s: goavro writes: %v", name, err)
			}
		}
		dec, err := decode.NewAvro(avroSchema, mem)
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, name, dec, payload, rec)
	}
}

// TestAvroArrayBlocks decodes arrays split into several blocks, one with a negative count and a
// byte size, as the Avro spec allows.
func TestAvroArrayBlocks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const avroSchema = `{"type": "record", "name": "__root__", "fields": [{"name": "a", "type": {"type": "array", "items": "long"}}]}`
	dec, err := decode.NewAvro(avroSchema, mem)
	if err != nil {
		t.Fatal(err)
	}
	// Row 1: block of -2 items (4 bytes), items 1 and -1; block of 1 item, 2; end. Row 2: empty.
	payload := []byte{3, 8, 2, 1, 2, 4, 0, 0}
	got, err := dec.Decode(payload, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want, _, err := array.RecordFromJSON(mem, dec.Schema(), strings.NewReader(`[{"a": [1, -1, 2]}, {"a": []}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if !sameRecord(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAvroCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	rec := recs["records.json"]
	avroSchema, rows := avroPayloads(t, rec)
	dec, err := decode.NewAvro(avroSchema, mem)
	if err != nil {
		t.Fatal(err)
	}
	n := rec.NumRows()
	check := func(name string, payload []byte, rows int64) {
		t.Helper()
		got, err := dec.Decode(payload, rows)
		if !errors.Is(err, decode.ErrCorrupt) {
			if got != nil {
				got.Release()
			}
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	for i := 0; i < len(rows); i++ {
		check("truncated", rows[:i], n)
	}
	check("fewer rows than said", rows, n+1)
	check("more rows than said", rows, n-1)
	check("negative rows", rows, -1)
	check("huge rows", rows, 1<<62)
	check("garbage", []byte("garbage, garbage, garbage, garbage, garbage, garbage, garbage"), 1)
	check("long too long", append([]byte{2}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 1)

	// Single-column schemas, to aim at one value.
	single := func(avroType string) decode.Decoder {
		d, err := decode.NewAvro(`{"type": "record", "name": "__root__", "fields": [{"name": "c", "type": `+avroType+`}]}`, mem)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name, avroType string
		payload        []byte
	}{
		{"union index 2", `["null", "long"]`, []byte{4, 2}},
		{"negative union index", `["null", "long"]`, []byte{1, 2}},
		{"bool byte 2", `"boolean"`, []byte{2}},
		{"negative string length", `"string"`, []byte{1, 'a'}},
		{"string past the end", `"string"`, []byte{0x80, 0x80, 0x80, 0x80, 0x10, 'a'}},
		{"array count past the end", `{"type": "array", "items": "long"}`, []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 2, 0}},
		{"negative block size", `{"type": "array", "items": "long"}`, []byte{1, 1, 2, 0}},
		{"empty decimal", `{"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 9}`, []byte{0}},
		{"decimal of 17 bytes", `{"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 9}`,
			append([]byte{34, 1}, make([]byte, 16)...)},
		{"date past int", `{"type": "int", "logicalType": "date"}`, []byte{0x80, 0x80, 0x80, 0x80, 0x10}},
		{"bad datetime", `{"type": "string", "logicalType": "datetime"}`, append([]byte{38}, "2024-02-30T00:00:00"...)},
		{"bad interval", `{"type": "string", "sqlType": "INTERVAL"}`, append([]byte{24}, "1-12 0 0:0:0"...)},
		{"double truncated", `"double"`, []byte{0, 0, 0}},
	}
	for _, tt := range tests {
		d := single(tt.avroType)
		got, err := d.Decode(tt.payload, 1)
		if !errors.Is(err, decode.ErrCorrupt) {
			if got != nil {
				got.Release()
			}
			t.Errorf("%s: err = %v, want ErrCorrupt", tt.name, err)
		}
	}

	// The decoder still works after errors.
	checkDecode(t, "after errors", dec, rows, rec)
}

func TestNewAvroErrors(t *testing.T) {
	record := func(fieldType string) string {
		return `{"type": "record", "name": "__root__", "fields": [{"name": "c", "type": ` + fieldType + `}]}`
	}
	for _, s := range []string{
		``,
		`{"type": "long"}`,
		record(`{"type": "map", "values": "long"}`),
		record(`["long", "null"]`),
		record(`"float"`),
		record(`["null", {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 12}]`),
		record(`{"type": "record", "name": "loop", "fields": [{"name": "again", "type": ["null", "loop"]}]}`),
	} {
		if _, err := decode.NewAvro(s, memory.DefaultAllocator); err == nil {
			t.Errorf("NewAvro(%s) accepted it", s)
		}
	}
}

// TestAvroDecimalScale reads a decimal whose Avro schema states a scale below BigQuery's (as a
// parameterized NUMERIC(10, 2) may): values keep their meaning in the Arrow type's scale.
func TestAvroDecimalScale(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dec, err := decode.NewAvro(`{"type": "record", "name": "__root__", "fields": [
		{"name": "n", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
		{"name": "bn", "type": {"type": "bytes", "logicalType": "decimal", "precision": 50, "scale": 2}}]}`, mem)
	if err != nil {
		t.Fatal(err)
	}
	// 12345 and -12345 as two's complement bytes: 123.45 and -123.45.
	got, err := dec.Decode([]byte{4, 0x30, 0x39, 4, 0xcf, 0xc7}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want, _, err := array.RecordFromJSON(mem, dec.Schema(), strings.NewReader(`[{"n": "123.45", "bn": "-123.45"}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if !sameRecord(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
