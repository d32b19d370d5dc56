package encode_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/encode"
)

// benchRecord is the test record repeated to 3,000 rows.
func benchRecord(b *testing.B) arrow.Record {
	rec := testRecord(&testing.T{}, memory.DefaultAllocator)
	defer rec.Release()
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		parts := make([]arrow.Array, 1000)
		for j := range parts {
			parts[j] = rec.Column(i)
		}
		col, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		defer col.Release()
		cols[i] = col
	}
	return array.NewRecord(rec.Schema(), cols, 1000*rec.NumRows())
}

func BenchmarkAvroRows(b *testing.B) {
	rec := benchRecord(b)
	defer rec.Release()
	buf, err := encode.AvroRows(rec, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = encode.AvroRows(rec, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordBatch(b *testing.B) {
	rec := benchRecord(b)
	defer rec.Release()
	for _, c := range []string{"", "lz4", "zstd"} {
		b.Run("compression="+c, func(b *testing.B) {
			enc, err := encode.NewArrowEncoder(rec.Schema(), c, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				batch, err := enc.RecordBatch(rec)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(batch)))
			}
		})
	}
}
