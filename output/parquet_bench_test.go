package output

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchRecord is the fixture corpus repeated to 20,000 rows.
func benchRecord(b *testing.B) arrow.Record {
	return repeat(b, corpus(b, memory.DefaultAllocator), 5000, memory.DefaultAllocator)
}

func recordBytes(rec arrow.Record) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func BenchmarkParquetWrite(b *testing.B) {
	benchWrite(b, Parquet, benchRecord(b), "snappy", "zstd", "none")
}

func BenchmarkParquetMerge(b *testing.B) {
	rec := benchRecord(b)
	l := layoutOf(Parquet, rec, Options{})
	benchJoin(b, l, writeBody(b, l, []arrow.Record{rec}))
}
