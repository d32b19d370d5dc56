package output

import (
	"io"
	"testing"
)

func BenchmarkAvroWrite(b *testing.B) {
	benchWrite(b, Avro, benchRecord(b), "", "deflate", "snappy")
}

func BenchmarkAvroPassthrough(b *testing.B) {
	recs := cut(b, benchRecord(b), 5000, 10000, 15000)
	payloads, rows := avroPayloads(b, recs)
	l := rawLayout(b, recs[0], Options{})
	var n int
	for _, p := range payloads {
		n += len(p)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		w, err := l.NewRawBody(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		for i, p := range payloads {
			if err := w.WriteRaw(p, rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAvroMerge(b *testing.B) {
	benchMerge(b, Avro, benchRecord(b), Options{})
}
