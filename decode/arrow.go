package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
)

// continuation is the marker that starts every encapsulated IPC message.
const continuation = 0xFFFFFFFF

// arrowDecoder reads bare RecordBatch messages with one long-lived ipc.Reader, so the schema is
// parsed once per session: a feeder hands the reader one message per Decode.
type arrowDecoder struct {
	mem    *budget
	schema *arrow.Schema
	// schemaMsg and empty (a zero-row batch) are kept for the decoder's life: schemaMsg starts a
	// new reader after an error, empty makes the reader drop its reference to the last record.
	schemaMsg, empty *ipc.Message
	feed             feeder
	r                *ipc.Reader
}

// NewArrow returns a decoder for a session whose ReadSession.arrow_schema.serialized_schema is
// serializedSchema: exactly one encapsulated IPC Schema message. Each payload given to Decode is one
// encapsulated RecordBatch message (serialized_record_batch), its body uncompressed or compressed
// with LZ4_FRAME or ZSTD. Decompressed buffers are allocated from mem; uncompressed ones share the
// payload's memory.
func NewArrow(serializedSchema []byte, mem memory.Allocator) (Decoder, error) {
	d := &arrowDecoder{mem: &budget{mem: mem}}
	msg, err := parseMessage(append([]byte(nil), serializedSchema...), ipc.MessageSchema)
	if err != nil {
		return nil, fmt.Errorf("Arrow schema: %w", err)
	}
	d.schemaMsg = msg
	if err := d.restart(); err != nil {
		return nil, fmt.Errorf("Arrow schema: %w", err)
	}
	d.schema = d.r.Schema()
	if d.empty, err = emptyBatch(d.schema); err != nil {
		return nil, err
	}
	return d, nil
}

// emptyBatch returns the RecordBatch message of zero rows of schema s, in Go heap memory (it
// lives as long as the decoder).
func emptyBatch(s *arrow.Schema) (*ipc.Message, error) {
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	rec := b.NewRecord()
	defer rec.Release()
	p, err := ipc.GetRecordBatchPayload(rec, ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("decode: empty record batch of the schema: %w", err)
	}
	defer p.Release()
	var buf writerBuffer
	if _, err := p.WritePayload(&buf); err != nil {
		return nil, fmt.Errorf("decode: empty record batch of the schema: %w", err)
	}
	return parseMessage(buf, ipc.MessageRecordBatch)
}

type writerBuffer []byte

func (w *writerBuffer) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }

// restart replaces the reader, which ipc.Reader makes unusable after any error.
func (d *arrowDecoder) restart() error {
	if d.r != nil {
		d.r.Release()
	}
	d.feed.next = d.schemaMsg
	r, err := ipc.NewReaderFromMessageReader(&d.feed, ipc.WithAllocator(d.mem))
	if err != nil {
		d.r = nil
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	d.r = r
	return nil
}

func (d *arrowDecoder) Schema() *arrow.Schema { return d.schema }

func (d *arrowDecoder) Decode(payload []byte, rows int64) (arrow.Record, error) {
	rec, err := d.decode(payload)
	if err != nil {
		return nil, fmt.Errorf("Arrow record batch of %d bytes: %w", len(payload), err)
	}
	if rec.NumRows() != rows {
		rec.Release()
		return nil, fmt.Errorf("%w: record batch holds %d rows, the response says %d", ErrCorrupt, rec.NumRows(), rows)
	}
	if err := validateRecord(rec); err != nil {
		rec.Release()
		return nil, fmt.Errorf("Arrow record batch: %w", err)
	}
	return rec, nil
}

func (d *arrowDecoder) decode(payload []byte) (arrow.Record, error) {
	if d.r == nil {
		if err := d.restart(); err != nil {
			return nil, err
		}
	}
	msg, err := parseMessage(payload, ipc.MessageRecordBatch)
	if err != nil {
		return nil, err
	}
	d.mem.begin(len(payload))
	rec, err := d.read(msg)
	d.mem.end(err == nil)
	msg.Release()
	if err != nil {
		return nil, err
	}
	// Make the reader let go of rec, so that the caller's Release frees it.
	if _, err := d.read(d.empty); err != nil {
		rec.Release()
		return nil, err
	}
	return rec, nil
}

// read feeds msg to the reader and returns the record it makes, retained for the caller.
func (d *arrowDecoder) read(msg *ipc.Message) (arrow.Record, error) {
	d.feed.next = msg
	if !d.r.Next() {
		err := d.r.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		d.r.Release()
		d.r = nil
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	rec := d.r.RecordBatch()
	rec.Retain()
	return rec, nil
}

// feeder is the ipc.MessageReader of an arrowDecoder: it hands out the one message Decode set.
// The decoder owns the messages.
type feeder struct{ next *ipc.Message }

func (f *feeder) Message() (*ipc.Message, error) {
	msg := f.next
	f.next = nil
	if msg == nil {
		return nil, io.EOF
	}
	return msg, nil
}

func (f *feeder) Retain()  {}
func (f *feeder) Release() {}

// parseMessage checks the framing of one encapsulated IPC message of type want (continuation
// marker, metadata length, flatbuffer metadata, body of the length the metadata states, nothing
// after) and returns it. The message's body is data's own memory, not a copy. The caller releases
// the message.
func parseMessage(data []byte, want ipc.MessageType) (msg *ipc.Message, err error) {
	if len(data) < 8 || binary.LittleEndian.Uint32(data) != continuation {
		return nil, fmt.Errorf("%w: not an encapsulated Arrow IPC message (no continuation marker)", ErrCorrupt)
	}
	metaLen := int64(int32(binary.LittleEndian.Uint32(data[4:])))
	if metaLen <= 0 || metaLen > int64(len(data)-8) {
		return nil, fmt.Errorf("%w: IPC metadata length %d does not fit in %d bytes", ErrCorrupt, metaLen, len(data))
	}
	meta, body := data[8:8+metaLen], data[8+metaLen:]
	if err := checkMetadata(meta); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			msg, err = nil, fmt.Errorf("%w: IPC message metadata: %v", ErrCorrupt, p)
		}
	}()
	msg = ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(body))
	if msg.Type() != want {
		msg.Release()
		return nil, fmt.Errorf("%w: IPC message is a %s, want a %s", ErrCorrupt, msg.Type(), want)
	}
	if msg.BodyLen() != int64(len(body)) {
		msg.Release()
		return nil, fmt.Errorf("%w: IPC message body is %d bytes, its metadata says %d", ErrCorrupt, len(body), msg.BodyLen())
	}
	return msg, nil
}

// messageCustomMetadata is the vtable slot of Message.custom_metadata in Arrow's Message.fbs.
const messageCustomMetadata = 12

// checkMetadata checks the one length in the Message flatbuffer that arrow-go allocates by
// before reading (the custom metadata vector): it must fit in the metadata. Everything else
// arrow-go reads by index, and a bad index is an error there.
func checkMetadata(meta []byte) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("%w: IPC message metadata is not a flatbuffer", ErrCorrupt)
		}
	}()
	t := flatbuffers.Table{Bytes: meta, Pos: flatbuffers.GetUOffsetT(meta)}
	if o := flatbuffers.UOffsetT(t.Offset(messageCustomMetadata)); o != 0 {
		start, n := uint64(t.Vector(o)), uint64(t.VectorLen(o))
		if start+n*flatbuffers.SizeUOffsetT > uint64(len(meta)) {
			return fmt.Errorf("%w: IPC custom metadata of %d entries does not fit in %d bytes", ErrCorrupt, n, len(meta))
		}
	}
	return nil
}

// errBudget is the panic of a budget allocation over its limit; ipc.Reader turns it into an error.
var errBudget = errors.New("decode: allocation larger than the payload can hold")

// budget is the allocator of an Arrow decoder. While one payload is decoded, it bounds the bytes
// allocated, so that a bogus uncompressed length in a compressed buffer cannot make a huge
// allocation (the bound is generous for real data: 64 MiB plus 1,024 bytes per payload byte),
// and it tracks the allocations, so that those of a failed decode are freed: ipc.Reader drops
// partly built arrays without releasing them when a message is corrupt.
type budget struct {
	mem  memory.Allocator
	mu   sync.Mutex // records of earlier payloads may be released by other goroutines
	left int64
	live map[*byte][]byte // allocations of the current decode not freed yet
}

// begin starts the decode of a payload of payloadLen bytes.
func (b *budget) begin(payloadLen int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left = 64<<20 + 1024*int64(payloadLen)
	b.live = map[*byte][]byte{}
}

// end finishes a decode. When it failed, end frees what the decode allocated and did not free.
func (b *budget) end(ok bool) {
	b.mu.Lock()
	live := b.live
	b.live = nil
	b.mu.Unlock()
	if ok {
		return
	}
	for _, buf := range live {
		b.mem.Free(buf)
	}
}

// reserve charges n bytes and reports whether the budget allowed them.
func (b *budget) reserve(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.live == nil || int64(n) <= b.left {
		b.left -= int64(n)
		return true
	}
	return false
}

func (b *budget) track(old, buf []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.live == nil {
		return
	}
	if len(old) > 0 {
		delete(b.live, unsafe.SliceData(old))
	}
	if len(buf) > 0 {
		b.live[unsafe.SliceData(buf)] = buf
	}
}

func (b *budget) Allocate(size int) []byte {
	if !b.reserve(size) {
		panic(errBudget)
	}
	buf := b.mem.Allocate(size)
	b.track(nil, buf)
	return buf
}

func (b *budget) Reallocate(size int, old []byte) []byte {
	if !b.reserve(size - len(old)) {
		panic(errBudget)
	}
	buf := b.mem.Reallocate(size, old)
	b.track(old, buf)
	return buf
}

func (b *budget) Free(buf []byte) {
	b.track(buf, nil)
	b.mem.Free(buf)
}
