package output

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/encode"
)

// Arrow files are Arrow IPC files ("Feather v2"): the schema keeps the google:sqlType field
// metadata. Options.Compression is the IPC body compression: none (default), lz4 or zstd.

func init() {
	register(Arrow, formatImpl{
		newWriter: func(w io.Writer, s *arrow.Schema, o Options) (Writer, error) {
			return newArrowWriter(w, s, o, memory.DefaultAllocator)
		},
		newBody:  newArrowBody,
		header:   writeArrowHeader,
		footer:   writeArrowFooter,
		anyOrder: true,
	})
}

type arrowWriter struct{ fw *ipc.FileWriter }

// newArrowWriter writes an Arrow IPC file of schema s to w, allocating from mem.
func newArrowWriter(w io.Writer, s *arrow.Schema, o Options, mem memory.Allocator) (*arrowWriter, error) {
	c, err := encode.ParseArrowCompression(o.Compression)
	if err != nil {
		return nil, fmt.Errorf("%w: arrow compression %q: use none, lz4 or zstd", ErrUnsupported, o.Compression)
	}
	opts := append([]ipc.Option{ipc.WithSchema(s), ipc.WithAllocator(mem)}, c.IPCOptions()...)
	fw, err := ipc.NewFileWriter(w, opts...)
	if err != nil {
		return nil, fmt.Errorf("arrow writer: %w", err)
	}
	return &arrowWriter{fw: fw}, nil
}

// Write appends rec as one record batch.
func (a *arrowWriter) Write(rec arrow.Record) error {
	if err := a.fw.Write(rec); err != nil {
		return fmt.Errorf("arrow writer: %w", err)
	}
	return nil
}

// Close writes the footer.
func (a *arrowWriter) Close() error {
	if err := a.fw.Close(); err != nil {
		return fmt.Errorf("arrow writer: close: %w", err)
	}
	return nil
}

// arrowSchemaMessage returns the encapsulated schema message of l's files: the session's, when
// payloads are copied, else one of l.Schema.
func arrowSchemaMessage(l *Layout) (*arrowMessage, error) {
	b := l.RawArrowSchema
	if b == nil {
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(l.Schema))
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("schema message: %w", err)
		}
		b = buf.Bytes()
	}
	m, err := parseArrowMessage(b)
	if err != nil {
		return nil, err
	}
	if m.headerType != arrowHeaderSchema || m.bodyLen != 0 {
		return nil, fmt.Errorf("%w: expected a schema message, got message type %d", errArrowMessage, m.headerType)
	}
	if err := checkNoDictionaries(b); err != nil {
		return nil, err
	}
	return m, nil
}

// writeArrowHeader writes the header of l's files: the magic, its padding and the schema message.
func writeArrowHeader(l *Layout, w io.Writer) error {
	m, err := arrowSchemaMessage(l)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(append([]byte{}, arrowMagic...), 0, 0)); err != nil {
		return err
	}
	return writeArrowMeta(w, m)
}

// writeArrowFooter writes the end of a file of l: the end-of-stream marker, then a footer that
// lists the record batches of bodies, in order, and the closing magic.
func writeArrowFooter(l *Layout, w io.Writer, bodies []BodyRef) error {
	m, err := arrowSchemaMessage(l)
	if err != nil {
		return err
	}
	var blocks []arrowBlock
	for k, b := range bodies {
		if len(b.Meta)%arrowBlockSize != 0 {
			return fmt.Errorf("%w: body %d: %d bytes of block list", errArrowMessage, k, len(b.Meta))
		}
		end := int64(0) // the blocks must tile the body
		for i := 0; i < len(b.Meta); i += arrowBlockSize {
			blk := arrowBlock{offset: int64(binary.LittleEndian.Uint64(b.Meta[i:])),
				metaLen: int32(binary.LittleEndian.Uint32(b.Meta[i+8:])), bodyLen: int64(binary.LittleEndian.Uint64(b.Meta[i+16:]))}
			if blk.offset != end || blk.metaLen <= 0 || blk.bodyLen < 0 || blk.offset+int64(blk.metaLen)+blk.bodyLen > b.Size {
				return fmt.Errorf("%w: body %d: record batch %d is not where the last ended, within the body's %d bytes", errArrowMessage, k, i/arrowBlockSize, b.Size)
			}
			end = blk.offset + int64(blk.metaLen) + blk.bodyLen
			blk.offset += b.Offset
			blocks = append(blocks, blk)
		}
		if end != b.Size {
			return fmt.Errorf("%w: body %d: its record batches end at %d of its %d bytes", errArrowMessage, k, end, b.Size)
		}
	}
	footer := arrowFooterBytes(m, blocks)
	var size [4]byte
	binary.LittleEndian.PutUint32(size[:], uint32(len(footer)))
	for _, b := range [][]byte{arrowEOS, footer, size[:], arrowMagic} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write Arrow footer: %w", err)
		}
	}
	return nil
}

// checkNoDictionaries decodes the schema message and refuses dictionary-encoded columns, whose
// dictionary batches this writer does not carry (the Storage Read API sends none).
func checkNoDictionaries(schemaMsg []byte) error {
	r, err := ipc.NewReader(bytes.NewReader(schemaMsg))
	if err != nil {
		return fmt.Errorf("%w: schema message: %w", errArrowMessage, err)
	}
	defer r.Release()
	for _, f := range r.Schema().Fields() {
		if hasDictionary(f.Type) {
			return fmt.Errorf("%w: dictionary-encoded column %q", ErrUnsupported, f.Name)
		}
	}
	return nil
}

func hasDictionary(dt arrow.DataType) bool {
	switch t := dt.(type) {
	case *arrow.DictionaryType:
		return true
	case arrow.NestedType:
		for _, f := range t.Fields() {
			if hasDictionary(f.Type) {
				return true
			}
		}
	}
	return false
}

// writeArrowMeta writes m's continuation token, length and flatbuffer, padded to 8 bytes.
func writeArrowMeta(w io.Writer, m *arrowMessage) error {
	pad := padding8(int64(len(m.fb)))
	var prefix [8]byte
	binary.LittleEndian.PutUint32(prefix[:4], 0xffffffff)
	binary.LittleEndian.PutUint32(prefix[4:], uint32(len(m.fb)+pad))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(m.fb); err != nil {
		return err
	}
	_, err := w.Write(make([]byte, pad))
	return err
}

func padding8(n int64) int { return int((8 - n%8) % 8) }

// arrowBlocks writes the record-batch messages of a body and lists them, offsets counted from
// the body's start.
type arrowBlocks struct {
	out    *CountingWriter
	blocks []arrowBlock
	closed bool
}

// appendBatch appends one record batch message: m parsed from it, its body at bodyOff in body.
// A message in the current framing with 8-byte aligned parts, as every Arrow writer makes them,
// is copied unchanged (raw, when the caller has the message's bytes at hand).
func (f *arrowBlocks) appendBatch(m *arrowMessage, raw []byte, body io.ReaderAt, bodyOff int64) error {
	if f.closed {
		return errors.New("record batch after Close")
	}
	if m.headerType != arrowHeaderRecordBatch {
		return fmt.Errorf("%w: expected a record batch message, got message type %d", errArrowMessage, m.headerType)
	}
	blk := arrowBlock{offset: f.out.N}
	aligned := m.prefixLen == 8 && m.metaLen()%8 == 0 && m.bodyLen%8 == 0
	switch {
	case aligned && raw != nil:
		if _, err := f.out.Write(raw); err != nil {
			return err
		}
	default:
		if err := writeArrowMeta(f.out, m); err != nil {
			return err
		}
		if err := copyRange(f.out, body, bodyOff, m.bodyLen); err != nil {
			return fmt.Errorf("copy record batch body: %w", err)
		}
		if _, err := f.out.Write(make([]byte, padding8(m.bodyLen))); err != nil {
			return err
		}
	}
	blk.metaLen = int32(8 + len(m.fb) + padding8(int64(len(m.fb))))
	blk.bodyLen = f.out.N - blk.offset - int64(blk.metaLen)
	f.blocks = append(f.blocks, blk)
	return nil
}

// close returns the block list: 24 bytes a block, little-endian offset, metadata length (and 4
// bytes of padding) and body length, as a footer Block.
func (f *arrowBlocks) close() []byte {
	f.closed = true
	meta := make([]byte, 0, len(f.blocks)*arrowBlockSize)
	for _, b := range f.blocks {
		meta = binary.LittleEndian.AppendUint64(meta, uint64(b.offset))
		meta = binary.LittleEndian.AppendUint32(meta, uint32(b.metaLen))
		meta = binary.LittleEndian.AppendUint32(meta, 0)
		meta = binary.LittleEndian.AppendUint64(meta, uint64(b.bodyLen))
	}
	return meta
}

// arrowRawBody is the RawBody of Arrow payloads.
type arrowRawBody struct{ f *arrowBlocks }

// newArrowRawBody writes each WriteRaw payload, one serialized_record_batch (one encapsulated
// RecordBatch message, body possibly LZ4_FRAME or ZSTD compressed), as it is.
func newArrowRawBody(w io.Writer) RawBody {
	return &arrowRawBody{f: &arrowBlocks{out: &CountingWriter{W: w}}}
}

// WriteRaw appends one record batch message holding rows rows.
func (a *arrowRawBody) WriteRaw(payload []byte, rows int64) error {
	m, err := parseArrowMessage(payload)
	if err != nil {
		return fmt.Errorf("arrow passthrough: %w", err)
	}
	if got := int64(len(payload)) - m.metaLen(); got != m.bodyLen {
		return fmt.Errorf("arrow passthrough: %w: message body is %d bytes, its header says %d", errArrowMessage, got, m.bodyLen)
	}
	if m.rows != rows {
		return fmt.Errorf("arrow passthrough: %w: record batch has %d rows, the response says %d", errArrowMessage, m.rows, rows)
	}
	if err := a.f.appendBatch(m, payload, bytes.NewReader(payload), m.metaLen()); err != nil {
		return fmt.Errorf("arrow passthrough: %w", err)
	}
	return nil
}

// Close returns the block list.
func (a *arrowRawBody) Close() ([]byte, error) { return a.f.close(), nil }

// Size is the bytes written.
func (a *arrowRawBody) Size() int64 { return a.f.out.N }

// arrowBody is the Body of Arrow records: each record encoded as one IPC record-batch message
// (compressed as Options.Compression says) by arrow-go's stream writer, then appended.
type arrowBody struct {
	f   *arrowBlocks
	buf bytes.Buffer
	ipc *ipc.Writer
}

func newArrowBody(l *Layout, w io.Writer) (Body, error) {
	c, err := encode.ParseArrowCompression(l.Options.Compression)
	if err != nil {
		return nil, fmt.Errorf("%w: arrow compression %q: use none, lz4 or zstd", ErrUnsupported, l.Options.Compression)
	}
	b := &arrowBody{f: &arrowBlocks{out: &CountingWriter{W: w}}}
	b.ipc = ipc.NewWriter(&b.buf, append([]ipc.Option{ipc.WithSchema(l.Schema)}, c.IPCOptions()...)...)
	return b, nil
}

// Write appends rec as one record batch.
func (b *arrowBody) Write(rec arrow.Record) error {
	b.buf.Reset()
	if err := b.ipc.Write(rec); err != nil {
		return fmt.Errorf("arrow writer: %w", err)
	}
	for msgs := b.buf.Bytes(); len(msgs) > 0; {
		m, err := parseArrowMessage(msgs)
		if err != nil {
			return fmt.Errorf("arrow writer: %w", err)
		}
		n := m.metaLen() + m.bodyLen
		if n > int64(len(msgs)) {
			return fmt.Errorf("arrow writer: %w: message of %d bytes in %d", errArrowMessage, n, len(msgs))
		}
		if m.headerType == arrowHeaderRecordBatch {
			if err := b.f.appendBatch(m, msgs[:n], bytes.NewReader(msgs), m.metaLen()); err != nil {
				return fmt.Errorf("arrow writer: %w", err)
			}
		}
		msgs = msgs[n:]
	}
	return nil
}

// Size is the bytes written.
func (b *arrowBody) Size() int64 { return b.f.out.N }

// Close returns the block list.
func (b *arrowBody) Close() ([]byte, error) {
	if err := b.ipc.Close(); err != nil { // what it writes, the end-of-stream marker, is not kept
		return nil, fmt.Errorf("arrow writer: close: %w", err)
	}
	return b.f.close(), nil
}
