package decode_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/decode"
	"github.com/bqread/bqread/encode"
)

// touch reads every value of a decoded record (by encoding it as Avro rows), so that a record
// whose buffers do not match its metadata panics here instead of in a writer.
func touch(t *testing.T, dec decode.Decoder, payload []byte, rows int64) {
	rec, err := dec.Decode(payload, rows)
	if err != nil {
		return
	}
	defer rec.Release()
	if rec.NumRows() != rows {
		t.Fatalf("record of %d rows, Decode was told %d", rec.NumRows(), rows)
	}
	if _, err := encode.AvroRows(rec, nil); err != nil {
		t.Logf("decoded record cannot be re-encoded: %v", err)
	}
}

func FuzzArrow(f *testing.F) {
	recs := fixtures(f, memory.DefaultAllocator)
	defer releaseAll(recs)
	schemaMsg, _ := arrowPayloads(f, recs["records.json"], "") // all fixtures share the schema
	for _, rec := range recs {
		for _, c := range compressions {
			_, batch := arrowPayloads(f, rec, c)
			f.Add(batch, rec.NumRows())
			tail := rec.NewSlice(2, 3)
			_, batch = arrowPayloads(f, tail, c)
			tail.Release()
			f.Add(batch, int64(1))
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, rows int64) {
		dec, err := decode.NewArrow(schemaMsg, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		touch(t, dec, payload, rows)
	})
}

func FuzzAvro(f *testing.F) {
	recs := fixtures(f, memory.DefaultAllocator)
	defer releaseAll(recs)
	avroSchema, _ := avroPayloads(f, recs["records.json"]) // all fixtures share the schema
	for _, rec := range recs {
		_, rows := avroPayloads(f, rec)
		f.Add(rows, rec.NumRows())
		for i := int64(0); i < rec.NumRows(); i++ {
			row := rec.NewSlice(i, i+1)
			_, payload := avroPayloads(f, row)
			row.Release()
			f.Add(payload, int64(1))
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, rows int64) {
		dec, err := decode.NewAvro(avroSchema, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		touch(t, dec, payload, rows)
	})
}
