package output

import (
	"bytes"
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
	for b.Loop() {
		w, err := NewArrowPassthrough(io.Discard, schemaMsg)
		if err != nil {
			b.Fatal(err)
		}
		for i, m := range batches {
			if err := w.WriteRaw(m, recs[i].NumRows()); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkArrowMerge(b *testing.B) {
	recs := cut(b, benchRecord(b), 5000, 10000, 15000)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Arrow, recs[0].Schema(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	files := [][]byte{buf.Bytes(), buf.Bytes(), buf.Bytes(), buf.Bytes()}
	b.SetBytes(int64(buf.Len() * len(files)))
	for b.Loop() {
		if err := Merge(io.Discard, Arrow, asParts(files)); err != nil {
			b.Fatal(err)
		}
	}
}
