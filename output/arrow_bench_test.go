package output

import (
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func BenchmarkArrowWrite(b *testing.B) {
	benchWrite(b, Arrow, benchRecord(b), "none", "lz4", "zstd")
}

func BenchmarkArrowPassthrough(b *testing.B) {
	recs := cut(b, benchRecord(b), 5000, 10000, 15000)
	schemaMsg, batches := bareMessages(b, recs, memory.DefaultAllocator, "")
	var n int
	for _, m := range batches {
		n += len(m)
	}
	b.SetBytes(int64(n))
	l := &Layout{Format: Arrow, RawArrowSchema: schemaMsg}
	for b.Loop() {
		w, err := l.NewRawBody(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		for i, m := range batches {
			if err := w.WriteRaw(m, recs[i].NumRows()); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkArrowMerge(b *testing.B) {
	recs := cut(b, benchRecord(b), 5000, 10000, 15000)
	benchJoin(b, layoutOf(Arrow, recs[0], Options{}), writeBody(b, layoutOf(Arrow, recs[0], Options{}), recs))
}
