package output

import "testing"

func BenchmarkCSVWrite(b *testing.B) {
	benchWrite(b, CSV, flatRecord(b, benchRecord(b)), "", "gzip")
}

func BenchmarkCSVMerge(b *testing.B) {
	for _, compression := range []string{"", "gzip"} {
		b.Run(orDefault(compression), func(b *testing.B) {
			benchMerge(b, CSV, flatRecord(b, benchRecord(b)), Options{Compression: compression})
		})
	}
}
