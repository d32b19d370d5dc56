package emulator

import (
	"errors"
	"io"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
)

// BenchmarkReadRows reads one 250,000-row stream of the trips sample (8 streams) per iteration. The
// first iteration generates and encodes the payloads, later ones are served from the cache: the
// figure is what the emulator can push to one client stream.
func BenchmarkReadRows(b *testing.B) {
	for _, format := range []storagepb.DataFormat{storagepb.DataFormat_ARROW, storagepb.DataFormat_AVRO} {
		b.Run(format.String(), func(b *testing.B) {
			env := startEnv(b, Options{})
			sess, err := env.createSession(b.Context(), sessionOpts{table: "projects/bqread-demo/datasets/samples/tables/trips", format: format, maxStreams: 8})
			if err != nil {
				b.Fatal(err)
			}
			name := sess.GetStreams()[0].GetName()
			b.ResetTimer()
			for b.Loop() {
				rows, err := env.client.ReadRows(b.Context(), &storagepb.ReadRowsRequest{ReadStream: name})
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for {
					r, err := rows.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n += int64(len(r.GetArrowRecordBatch().GetSerializedRecordBatch()) + len(r.GetAvroRows().GetSerializedBinaryRows()))
				}
				b.SetBytes(n)
			}
		})
	}
}
