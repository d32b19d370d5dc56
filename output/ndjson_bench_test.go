package output

import (
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// benchWrite measures one long-lived writer of format f: the steady state of a long export.
func benchWrite(b *testing.B, f Format, rec arrow.Record, compressions ...string) {
	for _, compression := range compressions {
		b.Run(orDefault(compression), func(b *testing.B) {
			w, err := NewWriter(io.Discard, f, rec.Schema(), Options{Compression: compression})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(recordBytes(rec))
			for b.Loop() {
				if err := w.Write(rec); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// benchMerge measures joining four copies of the body that writing rec with format f gives.
func benchMerge(b *testing.B, f Format, rec arrow.Record, o Options) {
	l := layoutOf(f, rec, o)
	benchJoin(b, l, writeBody(b, l, []arrow.Record{rec}))
}

// benchJoin measures joining four copies of one body into a file of l.
func benchJoin(b *testing.B, l *Layout, one body) {
	bodies := []body{one, one, one, one}
	b.SetBytes(int64(len(one.data) * len(bodies)))
	for b.Loop() {
		if err := Merge(io.Discard, l, asParts(bodies)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNDJSONWrite(b *testing.B) {
	benchWrite(b, NDJSON, benchRecord(b), "", "gzip")
}

func BenchmarkNDJSONMerge(b *testing.B) {
	benchMerge(b, NDJSON, benchRecord(b), Options{})
}
