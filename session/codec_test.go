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

// TestRowsBuffer: responses received through a RowsBuffer read as proto.Unmarshal reads them,
// gathered from pieces into one buffer whose payload they point into; the buffer grows for a
// larger response and is reused for a smaller one.
func TestRowsBuffer(t *testing.T) {
	var rb RowsBuffer
	samples := readRowsSamples()
	samples = append(samples, samples[1]) // after the larger Avro sample: a smaller one
	for i, want := range samples {
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		before := cap(rb.buf)
		var base *byte
		if before > 0 {
			base = &rb.buf[:1][0]
		}
		half := len(b) / 2
		pieces := mem.BufferSlice{mem.SliceBuffer(b[:half]), mem.SliceBuffer(b[half:])}
		got := &storagepb.ReadRowsResponse{}
		if err := rb.Unmarshal(pieces, got); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("sample %d: got %v, want %v", i, got, want)
		}
		for _, p := range [][]byte{got.GetArrowRecordBatch().GetSerializedRecordBatch(), got.GetAvroRows().GetSerializedBinaryRows()} {
			if len(p) > 0 && !within(p, rb.buf) {
				t.Errorf("sample %d: payload not in the buffer", i)
			}
		}
		if c := cap(rb.buf); len(b) > 0 && (c&(c-1) != 0 || c < len(b) || c >= 2*len(b) && c > before) {
			t.Errorf("sample %d of %d bytes: buffer capacity %d, want the least power of two that holds it", i, len(b), c)
		}
		if reused := base != nil && &rb.buf[:1][0] == base; before > 0 && reused != (len(b) <= before) {
			t.Errorf("sample %d of %d bytes: buffer of %d bytes reused: %v", i, len(b), before, reused)
		}
	}
	if err := rb.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0xff})}, &storagepb.ReadRowsResponse{}); err == nil {
		t.Error("a truncated response gave no error")
	}
}

// TestRowsBufferPowerOfTwo: a response of exactly a power of two bytes gets a buffer of that size,
// which the next response of that size reuses.
func TestRowsBufferPowerOfTwo(t *testing.T) {
	var b []byte
	for n := 0; len(b) != 64; n++ {
		resp := &storagepb.ReadRowsResponse{RowCount: 1, Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: make([]byte, n)}}}
		var err error
		if b, err = proto.Marshal(resp); err != nil || len(b) > 64 {
			t.Fatalf("no response of 64 bytes (%d bytes, %v)", len(b), err)
		}
	}
	var rb RowsBuffer
	var first *byte
	for i := range 2 {
		if err := rb.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &storagepb.ReadRowsResponse{}); err != nil {
			t.Fatal(err)
		}
		if cap(rb.buf) != 64 {
			t.Fatalf("response %d of 64 bytes: buffer capacity %d", i, cap(rb.buf))
		}
		if i == 0 {
			first = &rb.buf[0]
		} else if &rb.buf[0] != first {
			t.Error("the second response of 64 bytes got a new buffer")
		}
	}
}
