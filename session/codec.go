package session

import (
	"fmt"
	"math/bits"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// rowsCodec is the gRPC codec of our clients. It is gRPC's proto codec, except that a
// ReadRowsResponse's rows payload (AvroRows.serialized_binary_rows or
// ArrowRecordBatch.serialized_record_batch, megabytes each) points into the received message
// instead of being copied out of it: gRPC's codec unmarshals from a pooled buffer, so the proto
// runtime must copy every bytes field, and that copy was a third of a passthrough worker's CPU.
// The message is gathered into a buffer of its own once, as gRPC's codec does, and not copied again.
type rowsCodec struct{}

// Field numbers of ReadRowsResponse and of its two payload messages.
const (
	fieldAvroRows         protowire.Number = 3
	fieldArrowRecordBatch protowire.Number = 4
	fieldSerializedRows   protowire.Number = 1 // serialized_binary_rows, serialized_record_batch
)

func (rowsCodec) Name() string { return grpcproto.Name }

func (rowsCodec) Marshal(v any) (mem.BufferSlice, error) {
	return encoding.GetCodecV2(grpcproto.Name).Marshal(v)
}

func (rowsCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*storagepb.ReadRowsResponse)
	if !ok {
		return encoding.GetCodecV2(grpcproto.Name).Unmarshal(data, v)
	}
	return unmarshalReadRows(data.Materialize(), resp)
}

// RowsBuffer is a codec for ReadRows calls whose reader is done with each response before it
// receives the next, as a worker is: it copies a payload into its segment, or decodes it into a
// record that aliases the payload and writes and releases that record, before its next Recv.
// Every response is gathered into the same buffer, grown to the next power of two when a response
// needs more, instead of a new one. A response received through it holds its payload only until
// the next response of a call with the same RowsBuffer is received. A new buffer per response,
// zeroed and its pages faulted in, cost a 4-stream Arrow → arrow export a fifth of its CPU or
// more, and Arrow → Parquet 2-6%. One call at a time uses a RowsBuffer.
type RowsBuffer struct {
	rowsCodec
	buf []byte
}

// CallOption makes a ReadRows call receive its responses into b.
func (b *RowsBuffer) CallOption() gax.CallOption {
	return gax.WithGRPCOptions(grpc.ForceCodecV2(b))
}

func (b *RowsBuffer) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*storagepb.ReadRowsResponse)
	if !ok {
		return b.rowsCodec.Unmarshal(data, v)
	}
	n := data.Len()
	if cap(b.buf) < n {
		// A power of two: responses of about the same size, a few bytes apart, fit the same buffer.
		b.buf = make([]byte, n, 1<<bits.Len(uint(n-1)))
	}
	b.buf = b.buf[:n]
	data.CopyTo(b.buf)
	return unmarshalReadRows(b.buf, resp)
}

// unmarshalReadRows is proto.Unmarshal(b, resp), except that the rows payload aliases b. Fields
// other than the payload messages go through proto.Unmarshal; so do the payload messages' fields
// other than the rows bytes.
func unmarshalReadRows(b []byte, resp *storagepb.ReadRowsResponse) error {
	var rest []byte
	var rows proto.Message // the payload message: occurrences of one merge, the other's replaces it
	var rowsField protowire.Number
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("read rows response: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return fmt.Errorf("read rows response: %w", protowire.ParseError(m))
		}
		field := b[:n+m]
		b = b[n+m:]
		if typ != protowire.BytesType || (num != fieldAvroRows && num != fieldArrowRecordBatch) {
			rest = append(rest, field...)
			continue
		}
		if num != rowsField {
			rows, rowsField = newPayload(num), num
		}
		msg, _ := protowire.ConsumeBytes(field[n:])
		if err := mergePayload(rows, msg); err != nil {
			return err
		}
	}
	if err := proto.Unmarshal(rest, resp); err != nil {
		return err
	}
	switch r := rows.(type) {
	case *storagepb.AvroRows:
		resp.Rows = &storagepb.ReadRowsResponse_AvroRows{AvroRows: r}
	case *storagepb.ArrowRecordBatch:
		resp.Rows = &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: r}
	}
	return nil
}

// newPayload returns an empty payload message of field num.
func newPayload(num protowire.Number) proto.Message {
	if num == fieldAvroRows {
		return &storagepb.AvroRows{}
	}
	return &storagepb.ArrowRecordBatch{}
}

// mergePayload merges one occurrence of a payload message, encoded as msg, into m; the rows bytes
// alias msg.
func mergePayload(m proto.Message, msg []byte) error {
	payload, rest, found, err := splitRows(msg)
	if err != nil {
		return err
	}
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(rest, m); err != nil {
		return err
	}
	if found {
		r := m.ProtoReflect()
		r.Set(r.Descriptor().Fields().ByNumber(fieldSerializedRows), protoreflect.ValueOfBytes(payload))
	}
	return nil
}

// splitRows returns the last rows bytes field of a payload message (aliasing msg) and the message's
// other fields.
func splitRows(msg []byte) (payload, rest []byte, found bool, err error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, nil, false, fmt.Errorf("read rows payload: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return nil, nil, false, fmt.Errorf("read rows payload: %w", protowire.ParseError(m))
		}
		if num == fieldSerializedRows && typ == protowire.BytesType {
			payload, _ = protowire.ConsumeBytes(msg[n : n+m])
			found = true
		} else {
			rest = append(rest, msg[:n+m]...)
		}
		msg = msg[n+m:]
	}
	return payload, rest, found, nil
}
