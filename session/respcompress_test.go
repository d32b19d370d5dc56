package session

import (
	"errors"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
)

func TestRequestResponseCompression(t *testing.T) {
	lz4 := storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_LZ4
	unset := storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_UNSPECIFIED
	for _, tc := range []struct {
		name    string
		req     Request
		want    storagepb.ReadSession_TableReadOptions_ResponseCompressionCodec
		wantErr bool
	}{
		{"default", Request{}, unset, false},
		{"none", Request{ResponseCompression: "none"}, unset, false},
		{"lz4 arrow", Request{ResponseCompression: "lz4"}, lz4, false},
		{"LZ4 avro", Request{ResponseCompression: "LZ4", DataFormat: FormatAvro}, lz4, false},
		{"unknown", Request{ResponseCompression: "zstd"}, unset, true},
		{"with arrow buffer compression", Request{ResponseCompression: "lz4", Compression: "lz4"}, unset, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Table = TableRef{"p", "d", "t"}
			req, err := tc.req.Proto()
			if tc.wantErr {
				if !errors.Is(err, ErrRequest) {
					t.Fatalf("err = %v, want ErrRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := req.GetReadSession().GetReadOptions().GetResponseCompressionCodec(); got != tc.want {
				t.Fatalf("response_compression_codec = %v, want %v", got, tc.want)
			}
		})
	}
}
