// Package encode turns arrow.Record values into the payloads the Storage Read API puts on the
// wire: bare Arrow IPC messages (a schema message, record batch messages with optional LZ4_FRAME or
// ZSTD body compression) and Avro binary rows. The emulator serves these payloads and the Avro
// writer reuses the row encoding. It does no I/O and knows nothing of gRPC.
package encode

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrSchemaMismatch is wrapped when a record does not have the encoder's schema.
var ErrSchemaMismatch = errors.New("encode: schema mismatch")

// ArrowSchemaMessage returns s as one encapsulated IPC Schema message (continuation marker,
// metadata length, flatbuffer, padding to 8 bytes), the form of
// ReadSession.arrow_schema.serialized_schema.
func ArrowSchemaMessage(s *arrow.Schema) ([]byte, error) {
	p := ipc.GetSchemaPayload(s, memory.DefaultAllocator)
	defer p.Release()
	var buf bytes.Buffer
	if _, err := p.WritePayload(&buf); err != nil {
		return nil, fmt.Errorf("encode: write schema message: %w", err)
	}
	return buf.Bytes(), nil
}

// ArrowEncoder encodes records of one schema as bare IPC RecordBatch messages. It holds no state
// between calls and is safe for concurrent use.
type ArrowEncoder struct {
	schema *arrow.Schema
	opts   []ipc.Option
}

// NewArrowEncoder returns an encoder for records of schema s. compression is an ArrowCompression
// by its canonical name: "" (none), "lz4" (LZ4_FRAME) or "zstd" (ZSTD), the body compressions of
// arrow_serialization_options.buffer_compression. mem allocates the temporary buffers.
func NewArrowEncoder(s *arrow.Schema, compression string, mem memory.Allocator) (*ArrowEncoder, error) {
	c, err := ParseArrowCompression(compression)
	if err != nil || string(c) != compression {
		return nil, fmt.Errorf("%w %q: use \"\", \"lz4\" or \"zstd\"", ErrUnknownCompression, compression)
	}
	opts := append([]ipc.Option{ipc.WithSchema(s), ipc.WithAllocator(mem)}, c.IPCOptions()...)
	return &ArrowEncoder{schema: s, opts: opts}, nil
}

// RecordBatch returns rec as one encapsulated IPC RecordBatch message: no schema, no dictionary,
// no end-of-stream marker. rec must have the encoder's schema.
func (e *ArrowEncoder) RecordBatch(rec arrow.Record) ([]byte, error) {
	if !rec.Schema().Equal(e.schema) {
		return nil, fmt.Errorf("%w: record has schema %s, encoder has %s", ErrSchemaMismatch, rec.Schema(), e.schema)
	}
	p, err := ipc.GetRecordBatchPayload(rec, e.opts...)
	if err != nil {
		return nil, fmt.Errorf("encode: record batch of %d rows: %w", rec.NumRows(), err)
	}
	defer p.Release()
	var size counter
	if _, err := p.WritePayload(&size); err != nil {
		return nil, fmt.Errorf("encode: size record batch message: %w", err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := p.WritePayload(buf); err != nil {
		return nil, fmt.Errorf("encode: write record batch message: %w", err)
	}
	return buf.Bytes(), nil
}

// counter is an io.Writer that counts bytes, to size a message's buffer exactly.
type counter int

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }
