package emulator

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/pierrec/lz4/v4"
	"google.golang.org/grpc/codes"
)

// payloadOf returns a response's rows payload in either wire format.
func payloadOf(r *storagepb.ReadRowsResponse) []byte {
	if b := r.GetArrowRecordBatch(); b != nil {
		return b.GetSerializedRecordBatch()
	}
	return r.GetAvroRows().GetSerializedBinaryRows()
}

// readPayloads creates a one-stream session of table and returns the payloads of its responses,
// undoing LZ4 response compression where uncompressed_byte_size says it was applied.
func readPayloads(t *testing.T, env *testEnv, table string, format storagepb.DataFormat, lz4Codec bool) [][]byte {
	t.Helper()
	opts := &storagepb.ReadSession_TableReadOptions{}
	if lz4Codec {
		opts.ResponseCompressionCodec = storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_LZ4.Enum()
	}
	sess, err := env.client.CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{Parent: billing, MaxStreamCount: 1,
		ReadSession: &storagepb.ReadSession{Table: table, DataFormat: format, ReadOptions: opts}})
	if err != nil {
		t.Fatal(err)
	}
	resps, err := env.readStream(t.Context(), sess.GetStreams()[0].GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i, r := range resps {
		p := payloadOf(r)
		switch size := r.UncompressedByteSize; {
		case !lz4Codec:
			if size != nil {
				t.Fatalf("response %d: uncompressed_byte_size = %d without a response_compression_codec, want unset", i, *size)
			}
		case size == nil:
			t.Fatalf("response %d: uncompressed_byte_size unset with LZ4 responses", i)
		case *size > 0:
			if int64(len(p)) >= *size {
				t.Errorf("response %d: compressed to %d bytes, not fewer than its %d", i, len(p), *size)
			}
			dst := make([]byte, *size)
			n, err := lz4.UncompressBlock(p, dst)
			if err != nil || int64(n) != *size {
				t.Fatalf("response %d: uncompress raw LZ4 block: %d bytes, %v; want %d", i, n, err, *size)
			}
			p = dst
		case *size != -1:
			t.Fatalf("response %d: uncompressed_byte_size = %d, want > 0 or -1", i, *size)
		}
		out = append(out, p)
	}
	return out
}

func TestResponseCompressionLZ4(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 64 << 10})
	table := genTable(t, env, "trips_lz4", 20_000)
	for _, format := range []storagepb.DataFormat{storagepb.DataFormat_ARROW, storagepb.DataFormat_AVRO} {
		t.Run(format.String(), func(t *testing.T) {
			plain := readPayloads(t, env, table, format, false)
			unpacked := readPayloads(t, env, table, format, true)
			if got, want := len(unpacked), len(plain); got != want || got < 2 {
				t.Fatalf("responses = %d, want %d (at least 2)", got, want)
			}
			for i := range plain {
				if !bytes.Equal(unpacked[i], plain[i]) {
					t.Fatalf("response %d: LZ4 payload decompresses to %d bytes that differ from the %d sent uncompressed", i, len(unpacked[i]), len(plain[i]))
				}
			}
		})
	}
}

func TestResponseCompressionRefusals(t *testing.T) {
	env := startEnv(t, Options{})
	for _, tc := range []struct {
		name  string
		opts  *storagepb.ReadSession_TableReadOptions
		wants string
	}{
		{"with arrow buffer compression", &storagepb.ReadSession_TableReadOptions{
			ResponseCompressionCodec: storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_LZ4.Enum(),
			OutputFormatSerializationOptions: &storagepb.ReadSession_TableReadOptions_ArrowSerializationOptions{
				ArrowSerializationOptions: &storagepb.ArrowSerializationOptions{BufferCompression: storagepb.ArrowSerializationOptions_ZSTD}},
		}, "at most one kind of compression"},
		{"unknown codec", &storagepb.ReadSession_TableReadOptions{
			ResponseCompressionCodec: storagepb.ReadSession_TableReadOptions_ResponseCompressionCodec(1).Enum(),
		}, "unknown response_compression_codec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.client.CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{Parent: billing,
				ReadSession: &storagepb.ReadSession{Table: allTypesTable, DataFormat: storagepb.DataFormat_ARROW, ReadOptions: tc.opts}})
			wantCode(t, err, codes.InvalidArgument, tc.wants)
		})
	}
}

func TestCompressPayloadIncompressible(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name     string
		payload  []byte
		wantSize int64
	}{
		{"random", random, -1},
		{"empty", nil, -1},
		{"one byte", []byte{7}, -1},
		{"repetitive", bytes.Repeat([]byte("bqread "), 1000), 7000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, size := compressPayload(tc.payload)
			if size != tc.wantSize {
				t.Fatalf("uncompressed_byte_size = %d, want %d", size, tc.wantSize)
			}
			if size == -1 && !bytes.Equal(got, tc.payload) {
				t.Fatalf("payload sent as is changed")
			}
		})
	}
}
