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
		newMerger: newArrowMerger,
		anyOrder:  true,
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

// arrowFile writes an Arrow IPC file from encoded messages: the magic, the schema message, record
// batch messages appended as they are, and at the end the end-of-stream marker and a footer that
// lists the batches.
type arrowFile struct {
	out    *CountingWriter
	schema *arrowMessage
	blocks []arrowBlock
	closed bool
}

// newArrowFile starts a file on w with the encapsulated schema message schemaMsg.
func newArrowFile(w io.Writer, schemaMsg []byte) (*arrowFile, error) {
	m, err := parseArrowMessage(schemaMsg)
	if err != nil {
		return nil, err
	}
	if m.headerType != arrowHeaderSchema || m.bodyLen != 0 {
		return nil, fmt.Errorf("%w: expected a schema message, got message type %d", errArrowMessage, m.headerType)
	}
	if err := checkNoDictionaries(schemaMsg); err != nil {
		return nil, err
	}
	f := &arrowFile{out: &CountingWriter{W: w}, schema: m}
	if _, err := f.out.Write(append(append([]byte{}, arrowMagic...), 0, 0)); err != nil {
		return nil, err
	}
	if err := f.writeMeta(m); err != nil {
		return nil, err
	}
	return f, nil
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

// writeMeta writes m's continuation token, length and flatbuffer, padded to 8 bytes.
func (f *arrowFile) writeMeta(m *arrowMessage) error {
	pad := padding8(int64(len(m.fb)))
	var prefix [8]byte
	binary.LittleEndian.PutUint32(prefix[:4], 0xffffffff)
	binary.LittleEndian.PutUint32(prefix[4:], uint32(len(m.fb)+pad))
	if _, err := f.out.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := f.out.Write(m.fb); err != nil {
		return err
	}
	_, err := f.out.Write(make([]byte, pad))
	return err
}

func padding8(n int64) int { return int((8 - n%8) % 8) }

// appendBatch appends one record batch message: m parsed from it, its body at bodyOff in body.
// A message in the current framing with 8-byte aligned parts, as every Arrow writer makes them,
// is copied unchanged (raw, when the caller has the message's bytes at hand).
func (f *arrowFile) appendBatch(m *arrowMessage, raw []byte, body io.ReaderAt, bodyOff int64) error {
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
		if err := f.writeMeta(m); err != nil {
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

// close writes the end-of-stream marker, the footer, its length and the closing magic.
func (f *arrowFile) close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	footer := arrowFooterBytes(f.schema, f.blocks)
	var size [4]byte
	binary.LittleEndian.PutUint32(size[:], uint32(len(footer)))
	for _, b := range [][]byte{arrowEOS, footer, size[:], arrowMagic} {
		if _, err := f.out.Write(b); err != nil {
			return fmt.Errorf("write Arrow footer: %w", err)
		}
	}
	return nil
}

// arrowPassthrough is the RawWriter of NewArrowPassthrough.
type arrowPassthrough struct{ f *arrowFile }

// NewArrowPassthrough returns a RawWriter that writes an Arrow IPC file to w from the Storage Read
// API's Arrow payloads without decoding them: serializedSchema is the session's
// arrow_schema.serialized_schema (one encapsulated Schema message) and each WriteRaw payload one
// serialized_record_batch (one encapsulated RecordBatch message, body possibly LZ4_FRAME or ZSTD
// compressed), appended as it is. Close writes the footer but does not close w.
func NewArrowPassthrough(w io.Writer, serializedSchema []byte) (RawWriter, error) {
	f, err := newArrowFile(w, serializedSchema)
	if err != nil {
		return nil, fmt.Errorf("arrow passthrough: %w", err)
	}
	return &arrowPassthrough{f: f}, nil
}

// WriteRaw appends one record batch message holding rows rows.
func (a *arrowPassthrough) WriteRaw(payload []byte, rows int64) error {
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

// Close writes the footer.
func (a *arrowPassthrough) Close() error {
	if err := a.f.close(); err != nil {
		return fmt.Errorf("arrow passthrough: %w", err)
	}
	return nil
}

// arrowMerger writes the parts, Arrow IPC files of one schema, as one file: the first part's schema
// message, every part's record batch messages copied byte for byte as the parts come, and one
// footer listing the batches in merged order (readers take a file's batches in footer order).
type arrowMerger struct {
	dst    io.Writer
	out    *arrowFile // nil before the first part
	schema *arrow.Schema
	spans  [][2]int // out.blocks[lo:hi] of each part
}

func newArrowMerger(dst io.Writer, _ Options) partMerger { return &arrowMerger{dst: dst} }

func (m *arrowMerger) add(_ int, p Part) error {
	s, schemaMsg, footer, err := readArrowPart(p)
	if err != nil {
		return err
	}
	if m.out == nil {
		if m.out, err = newArrowFile(m.dst, schemaMsg); err != nil {
			return err
		}
		m.schema = s
	} else if !s.Equal(m.schema) || !s.Metadata().Equal(m.schema.Metadata()) {
		return errors.New("schema differs from the first part's: parts of one merge must come from one schema")
	}
	lo := len(m.out.blocks)
	if err := copyArrowBatches(m.out, p, footer); err != nil {
		return err
	}
	m.spans = append(m.spans, [2]int{lo, len(m.out.blocks)})
	return nil
}

func (m *arrowMerger) close(order []int) error {
	blocks := make([]arrowBlock, 0, len(m.out.blocks))
	for _, i := range order {
		blocks = append(blocks, m.out.blocks[m.spans[i][0]:m.spans[i][1]]...)
	}
	m.out.blocks = blocks
	return m.out.close()
}

// readArrowPart checks one part file and returns its schema, its schema message and its footer.
func readArrowPart(p Part) (*arrow.Schema, []byte, *arrowFooter, error) {
	r, err := ipc.NewFileReader(io.NewSectionReader(p.R, 0, p.Size))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("not a readable Arrow file: %w", err)
	}
	s := r.Schema()
	if err := r.Close(); err != nil {
		return nil, nil, nil, err
	}
	footer, err := readArrowFooter(p.R, p.Size)
	if err != nil {
		return nil, nil, nil, err
	}
	if footer.dictionaries > 0 {
		return nil, nil, nil, fmt.Errorf("%w: Arrow files with dictionaries cannot be merged", ErrUnsupported)
	}
	// The schema message follows the 8 bytes of magic and padding.
	schemaMsg, err := readArrowMessage(p, 8)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("schema message: %w", err)
	}
	return s, schemaMsg, footer, nil
}

// readArrowMessage reads the metadata of the message at off (the body is not read).
func readArrowMessage(p Part, off int64) ([]byte, error) {
	var prefix [8]byte
	if _, err := p.R.ReadAt(prefix[:], off); err != nil {
		return nil, err
	}
	n := int64(int32(binary.LittleEndian.Uint32(prefix[4:])))
	if binary.LittleEndian.Uint32(prefix[:4]) != 0xffffffff || n <= 0 || off+8+n > p.Size {
		return nil, fmt.Errorf("%w: no message at offset %d", errArrowMessage, off)
	}
	buf := make([]byte, 8+n)
	_, err := p.R.ReadAt(buf, off)
	return buf, err
}

// copyArrowBatches appends the record batches of a part, listed by its footer, to out.
func copyArrowBatches(out *arrowFile, p Part, footer *arrowFooter) error {
	for i, blk := range footer.batches {
		if blk.offset < 8 || blk.metaLen <= 0 || blk.bodyLen < 0 || blk.offset+int64(blk.metaLen)+blk.bodyLen > p.Size {
			return fmt.Errorf("%w: record batch %d lies outside the file", errArrowMessage, i)
		}
		meta, err := readArrowMessage(p, blk.offset)
		if err != nil {
			return fmt.Errorf("record batch %d: %w", i, err)
		}
		m, err := parseArrowMessage(meta)
		if err != nil {
			return fmt.Errorf("record batch %d: %w", i, err)
		}
		if m.metaLen() != int64(blk.metaLen) || m.bodyLen > blk.bodyLen {
			return fmt.Errorf("%w: record batch %d: footer block does not match the message", errArrowMessage, i)
		}
		if err := out.appendBatch(m, nil, p.R, blk.offset+int64(blk.metaLen)); err != nil {
			return fmt.Errorf("record batch %d: %w", i, err)
		}
	}
	return nil
}
