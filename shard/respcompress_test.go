package shard

import (
	"bytes"
	"errors"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/pierrec/lz4/v4"
)

func TestResponsePayloadLZ4(t *testing.T) {
	raw := bytes.Repeat([]byte("avro rows "), 500)
	block := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, err := lz4.CompressBlock(raw, block, nil)
	if err != nil || n == 0 {
		t.Fatalf("compress: %d, %v", n, err)
	}
	block = block[:n]
	size := func(n int64) *int64 { return &n }
	avro := func(p []byte, s *int64) *storagepb.ReadRowsResponse {
		return &storagepb.ReadRowsResponse{RowCount: 5, UncompressedByteSize: s,
			Rows: &storagepb.ReadRowsResponse_AvroRows{AvroRows: &storagepb.AvroRows{SerializedBinaryRows: p}}}
	}
	arrowResp := func(p []byte, s *int64) *storagepb.ReadRowsResponse {
		return &storagepb.ReadRowsResponse{RowCount: 5, UncompressedByteSize: s,
			Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: p}}}
	}
	for _, tc := range []struct {
		name    string
		resp    *storagepb.ReadRowsResponse
		want    []byte
		wantErr bool
	}{
		{"unset", avro(raw, nil), raw, false},
		{"sent as is", avro(raw, size(-1)), raw, false},
		{"lz4 avro", avro(block, size(int64(len(raw)))), raw, false},
		{"lz4 arrow", arrowResp(block, size(int64(len(raw)))), raw, false},
		{"wrong size", avro(block, size(int64(len(raw))+1)), nil, true},
		{"not lz4", avro([]byte{0xff, 0xff, 0xff}, size(100)), nil, true},
		{"absurd size", avro(block, size(1<<40)), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rows, _, err := responsePayload(tc.resp)
			if tc.wantErr {
				if !errors.Is(err, errPayload) {
					t.Fatalf("err = %v, want errPayload", err)
				}
				return
			}
			if err != nil || rows != 5 || !bytes.Equal(got, tc.want) {
				t.Fatalf("payload of %d bytes, rows %d, err %v; want the %d bytes, 5 rows", len(got), rows, err, len(tc.want))
			}
		})
	}
}
