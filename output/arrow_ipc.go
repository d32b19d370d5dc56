package output

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	flatbuffers "github.com/google/flatbuffers/go"
)

// This file reads and writes the few flatbuffer pieces of the Arrow IPC format that passthrough
// and merge need: the header fields of an encapsulated message, a file's footer block list, and a
// new footer. arrow-go keeps its generated flatbuffer code internal and has no API to append
// already-encoded messages to a file, so the footer is built here with the flatbuffers library;
// its Schema table is the schema message's own, embedded byte for byte.
//
// Layouts (Arrow's Message.fbs, File.fbs): Message {version: short; header_type: ubyte;
// header: table; bodyLength: long}, RecordBatch {length: long}, Footer {version: short;
// schema: Schema; dictionaries: [Block]; recordBatches: [Block]}, struct Block {offset: long;
// metaDataLength: int; bodyLength: long}.

var (
	arrowMagic = []byte("ARROW1")
	// arrowEOS is the end-of-stream marker: a continuation token and a zero length.
	arrowEOS = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
)

// Message header types.
const (
	arrowHeaderSchema          = 1
	arrowHeaderDictionaryBatch = 2
	arrowHeaderRecordBatch     = 3
)

// arrowBlockSize is the size of a Block struct in a footer vector.
const arrowBlockSize = 24

// errArrowMessage is wrapped by errors for a malformed IPC message or file.
var errArrowMessage = errors.New("output: malformed Arrow IPC data")

// arrowMessage is one encapsulated IPC message, parsed just enough to copy it.
type arrowMessage struct {
	fb         []byte // the Message flatbuffer (with any padding the producer put after it)
	prefixLen  int    // bytes before fb: 8 (continuation + length) or 4 (pre-1.0 length only)
	version    int16
	headerType byte
	headerPos  flatbuffers.UOffsetT // position of the header table in fb
	bodyLen    int64
	rows       int64 // RecordBatch.length; 0 for other messages
}

// metaLen is the length of the message before its body, as a footer Block counts it.
func (m *arrowMessage) metaLen() int64 { return int64(m.prefixLen + len(m.fb)) }

// parseArrowMessage parses the message at the start of b: its prefix, its flatbuffer and the
// header fields. The body (m.bodyLen bytes) follows at m.metaLen().
func parseArrowMessage(b []byte) (m *arrowMessage, err error) {
	m = &arrowMessage{prefixLen: 4}
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0xffffffff {
		b, m.prefixLen = b[4:], 8
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: message of %d bytes", errArrowMessage, len(b))
	}
	n := int64(int32(binary.LittleEndian.Uint32(b)))
	if n <= 0 || n > int64(len(b)-4) {
		return nil, fmt.Errorf("%w: message metadata length %d in %d bytes", errArrowMessage, n, len(b))
	}
	m.fb = b[4 : 4+n]
	// flatbuffers' accessors index without checks: turn a malformed buffer's panic into an error.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: bad message flatbuffer: %v", errArrowMessage, r)
		}
	}()
	t := flatbuffers.Table{Bytes: m.fb, Pos: flatbuffers.GetUOffsetT(m.fb)}
	m.version = int16(fbInt(&t, 0, 2))
	m.headerType = byte(fbInt(&t, 1, 1))
	m.bodyLen = fbInt(&t, 3, 8)
	if o := t.Offset(fbSlot(2)); o != 0 {
		m.headerPos = t.Indirect(t.Pos + flatbuffers.UOffsetT(o))
	}
	if m.headerType == arrowHeaderRecordBatch && m.headerPos != 0 {
		rb := flatbuffers.Table{Bytes: m.fb, Pos: m.headerPos}
		m.rows = fbInt(&rb, 0, 8)
	}
	if m.headerPos == 0 || m.bodyLen < 0 {
		return nil, fmt.Errorf("%w: message without header or with body length %d", errArrowMessage, m.bodyLen)
	}
	return m, nil
}

// fbSlot is the vtable offset of field slot i.
func fbSlot(i int) flatbuffers.VOffsetT { return flatbuffers.VOffsetT(4 + 2*i) }

// fbInt reads the little-endian integer of size bytes in field slot i of t, or 0 if it is absent.
func fbInt(t *flatbuffers.Table, i, size int) int64 {
	o := t.Offset(fbSlot(i))
	if o == 0 {
		return 0
	}
	p := t.Pos + flatbuffers.UOffsetT(o)
	switch size {
	case 1:
		return int64(t.GetByte(p))
	case 2:
		return int64(t.GetInt16(p))
	}
	return t.GetInt64(p)
}

// arrowBlock is a footer entry: where one message is in the file.
type arrowBlock struct {
	offset  int64
	metaLen int32
	bodyLen int64
}

// arrowFooter is what merge needs from a file's footer.
type arrowFooter struct {
	dictionaries int
	batches      []arrowBlock
}

// readArrowFooter reads the footer of an Arrow IPC file of the given size.
func readArrowFooter(r io.ReaderAt, size int64) (f *arrowFooter, err error) {
	tail := make([]byte, 10)
	if size < int64(len(arrowMagic)*2+len(tail)) {
		return nil, fmt.Errorf("%w: %d bytes is too small for an Arrow file", errArrowMessage, size)
	}
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(tail))
	if string(tail[4:]) != string(arrowMagic) || n <= 0 || n > size-int64(len(tail))-8 {
		return nil, fmt.Errorf("%w: no Arrow file footer", errArrowMessage)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-int64(len(tail))-n); err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%w: bad footer flatbuffer: %v", errArrowMessage, r)
		}
	}()
	t := flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}
	f = &arrowFooter{}
	if o := flatbuffers.UOffsetT(t.Offset(fbSlot(2))); o != 0 {
		f.dictionaries = t.VectorLen(o)
	}
	if o := flatbuffers.UOffsetT(t.Offset(fbSlot(3))); o != 0 {
		start := t.Vector(o)
		for i := 0; i < t.VectorLen(o); i++ {
			p := start + flatbuffers.UOffsetT(i*arrowBlockSize)
			f.batches = append(f.batches, arrowBlock{offset: t.GetInt64(p), metaLen: t.GetInt32(p + 8), bodyLen: t.GetInt64(p + 16)})
		}
	}
	return f, nil
}

// arrowFooterBytes builds a footer flatbuffer: schema is the schema message, whose Schema table
// is embedded unchanged; batches are the record batch blocks.
func arrowFooterBytes(schema *arrowMessage, batches []arrowBlock) []byte {
	b := flatbuffers.NewBuilder(len(schema.fb) + len(batches)*arrowBlockSize + 256)
	// The message flatbuffer goes in as a ubyte vector aligned to 8, so that its tables keep their
	// alignment; the footer then points into it at the Schema table.
	b.StartVector(1, len(schema.fb), 8)
	for i := len(schema.fb) - 1; i >= 0; i-- {
		b.PlaceByte(schema.fb[i])
	}
	embedded := b.EndVector(len(schema.fb))
	schemaTable := embedded - flatbuffers.UOffsetT(flatbuffers.SizeUOffsetT) - schema.headerPos

	b.StartVector(arrowBlockSize, len(batches), 8)
	for i := len(batches) - 1; i >= 0; i-- {
		blk := batches[i]
		b.Prep(8, arrowBlockSize)
		b.PrependInt64(blk.bodyLen)
		b.Pad(4)
		b.PrependInt32(blk.metaLen)
		b.PrependInt64(blk.offset)
	}
	recs := b.EndVector(len(batches))
	b.StartVector(arrowBlockSize, 0, 8)
	dicts := b.EndVector(0)

	b.StartObject(5)
	b.PrependUOffsetTSlot(3, recs, 0)
	b.PrependUOffsetTSlot(2, dicts, 0)
	b.PrependUOffsetTSlot(1, schemaTable, 0)
	b.PrependInt16Slot(0, schema.version, 0)
	b.Finish(b.EndObject())
	return b.FinishedBytes()
}
