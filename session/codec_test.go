package session

import (
	"testing"
	"unsafe"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

func readRowsSamples() []*storagepb.ReadRowsResponse {
	return []*storagepb.ReadRowsResponse{
		{},
		{RowCount: 3, Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{
			SerializedRecordBatch: []byte("arrow batch bytes"), RowCount: 3}},
			Stats:         &storagepb.StreamStats{Progress: &storagepb.StreamStats_Progress{AtResponseStart: 0.25, AtResponseEnd: 0.5}},
			ThrottleState: &storagepb.ThrottleState{ThrottlePercent: 7}},
		{RowCount: 2, Rows: &storagepb.ReadRowsResponse_AvroRows{AvroRows: &storagepb.AvroRows{SerializedBinaryRows: []byte{0, 1, 2, 255}, RowCount: 2}},
			Schema: &storagepb.ReadRowsResponse_AvroSchema{AvroSchema: &storagepb.AvroSchema{Schema: `{"type":"record"}`}}},
		{Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{RowCount: 9}}},
		{Rows: &storagepb.ReadRowsResponse_AvroRows{AvroRows: &storagepb.AvroRows{}}},
	}
}

// TestUnmarshalReadRows: the codec reads what proto.Unmarshal reads, and the payload points into
// the received bytes.
func TestUnmarshalReadRows(t *testing.T) {
	for i, want := range readRowsSamples() {
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := &storagepb.ReadRowsResponse{}
		if err := (rowsCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("sample %d: got %v, want %v", i, got, want)
		}
		direct := &storagepb.ReadRowsResponse{}
		if err := unmarshalReadRows(b, direct); err != nil {
			t.Fatal(err)
		}
		if p := direct.GetArrowRecordBatch().GetSerializedRecordBatch(); len(p) > 0 && !within(p, b) {
			t.Errorf("sample %d: Arrow payload was copied", i)
		}
		if p := direct.GetAvroRows().GetSerializedBinaryRows(); len(p) > 0 && !within(p, b) {
			t.Errorf("sample %d: Avro payload was copied", i)
		}
	}
}

func within(p, b []byte) bool {
	start, end := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
	at := uintptr(unsafe.Pointer(&p[0]))
	return at >= start && at+uintptr(len(p)) <= end
}

// TestUnmarshalReadRowsMerges: repeated payload messages merge, and the last oneof member wins,
// as proto.Unmarshal has it.
func TestUnmarshalReadRowsMerges(t *testing.T) {
	var b []byte
	for _, m := range []*storagepb.ReadRowsResponse{
		{Rows: &storagepb.ReadRowsResponse_AvroRows{AvroRows: &storagepb.AvroRows{SerializedBinaryRows: []byte("avro")}}},
		{Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: []byte("first"), RowCount: 4}}},
		{Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: []byte("second")}}},
		{RowCount: 5},
	} {
		mb, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, mb...)
	}
	want, got := &storagepb.ReadRowsResponse{}, &storagepb.ReadRowsResponse{}
	if err := proto.Unmarshal(b, want); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalReadRows(b, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzUnmarshalReadRows: on any bytes, the codec fails where proto.Unmarshal fails and otherwise
// reads the same message.
func FuzzUnmarshalReadRows(f *testing.F) {
	for _, m := range readRowsSamples() {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, got := &storagepb.ReadRowsResponse{}, &storagepb.ReadRowsResponse{}
		wantErr, gotErr := proto.Unmarshal(b, want), unmarshalReadRows(b, got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("proto.Unmarshal: %v; unmarshalReadRows: %v", wantErr, gotErr)
		}
		if wantErr == nil && !proto.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}
