package decode_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/decode"
)

const benchRows = 4000

func BenchmarkDecodeArrow(b *testing.B) {
	rec := tripsRecord(b, benchRows, memory.DefaultAllocator)
	defer rec.Release()
	for _, c := range compressions {
		b.Run("compression="+c, func(b *testing.B) {
			schemaMsg, batch := arrowPayloads(b, rec, c)
			dec, err := decode.NewArrow(schemaMsg, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				got, err := dec.Decode(batch, benchRows)
				if err != nil {
					b.Fatal(err)
				}
				got.Release()
			}
		})
	}
}

func BenchmarkDecodeAvro(b *testing.B) {
	rec := tripsRecord(b, benchRows, memory.DefaultAllocator)
	defer rec.Release()
	avroSchema, rows := avroPayloads(b, rec)
	dec, err := decode.NewAvro(avroSchema, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rows)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := dec.Decode(rows, benchRows)
		if err != nil {
			b.Fatal(err)
		}
		got.Release()
	}
}
