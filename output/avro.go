package output

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

// Avro files are Avro object container files: the magic, a metadata map (avro.schema: the schema
// of schema.AvroSchema, or the session's own for passthrough; avro.codec), a random 16-byte sync
// marker, then blocks of rows in BigQuery's Avro binary form, each followed by the sync marker.
// Options.Compression is the codec: null (default), deflate or snappy. A file NewWriter writes has a
// random sync marker; the files and bodies of a Layout share its AvroSync, so that bodies join.

func init() {
	register(Avro, formatImpl{newWriter: newAvroWriter, newBody: newAvroBody, header: writeAvroHeader})
}

var avroMagic = []byte{'O', 'b', 'j', 1}

// avroBlockBytes bounds the uncompressed rows of one block the Avro writer makes.
const avroBlockBytes = 1 << 20

// avroFile writes an object container file block by block.
type avroFile struct {
	w     *bufio.Writer
	sync  [16]byte
	codec string
	// compress returns the block data for rows, valid until its next call; it may be rows.
	compress func(rows []byte) ([]byte, error)
	head     []byte
	n        int64 // bytes written
}

// newAvroFile starts blocks with sync on w, with the codec named by compression.
func newAvroFile(w io.Writer, compression string, sync [16]byte) (*avroFile, error) {
	f := &avroFile{w: bufio.NewWriterSize(w, textBufferBytes), sync: sync}
	if err := f.setCodec(compression); err != nil {
		return nil, err
	}
	return f, nil
}

// writeHeader writes the header of a file of schemaJSON.
func (f *avroFile) writeHeader(schemaJSON string) error {
	h := append([]byte{}, avroMagic...)
	h = appendAvroLong(h, 2)
	for _, kv := range [][2]string{{"avro.schema", schemaJSON}, {"avro.codec", f.codec}} {
		for _, s := range kv {
			h = append(appendAvroLong(h, int64(len(s))), s...)
		}
	}
	h = append(appendAvroLong(h, 0), f.sync[:]...)
	if _, err := f.w.Write(h); err != nil {
		return fmt.Errorf("avro: write header: %w", err)
	}
	return nil
}

func (f *avroFile) setCodec(compression string) error {
	switch strings.ToLower(compression) {
	case "", "null", "none", "uncompressed":
		f.codec = "null"
		f.compress = func(rows []byte) ([]byte, error) { return rows, nil }
	case "deflate":
		f.codec = "deflate"
		var out bytes.Buffer
		fw, err := flate.NewWriter(&out, flate.DefaultCompression)
		if err != nil {
			return err
		}
		f.compress = func(rows []byte) ([]byte, error) {
			out.Reset()
			fw.Reset(&out)
			if _, err := fw.Write(rows); err != nil {
				return nil, err
			}
			err := fw.Close()
			return out.Bytes(), err
		}
	case "snappy":
		f.codec = "snappy"
		var out []byte
		f.compress = func(rows []byte) ([]byte, error) {
			// Avro's snappy: the compressed block and the CRC-32 of the uncompressed data.
			out = snappy.Encode(out[:cap(out)], rows)
			out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(rows))
			return out, nil
		}
	default:
		return fmt.Errorf("%w: avro compression %q: use null, deflate or snappy", ErrUnsupported, compression)
	}
	return nil
}

// writeBlock writes one block of rows rows: the count, the size, the data, the sync marker.
func (f *avroFile) writeBlock(rows int64, data []byte) error {
	data, err := f.compress(data)
	if err != nil {
		return fmt.Errorf("avro: compress block: %w", err)
	}
	f.head = appendAvroLong(appendAvroLong(f.head[:0], rows), int64(len(data)))
	for _, b := range [][]byte{f.head, data, f.sync[:]} {
		if _, err := f.w.Write(b); err != nil {
			return fmt.Errorf("avro: write block: %w", err)
		}
		f.n += int64(len(b))
	}
	return nil
}

func (f *avroFile) close() error {
	if err := f.w.Flush(); err != nil {
		return fmt.Errorf("avro: flush: %w", err)
	}
	return nil
}

// appendAvroLong appends v as an Avro long: a zigzag varint.
func appendAvroLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

// avroWriter is the Writer of format Avro: rows encoded by encode.AvroRows, gathered into blocks
// of about avroBlockBytes.
type avroWriter struct {
	arrowSchema *arrow.Schema
	f           *avroFile
	rows        []byte
	count       int64
	chunk       int64 // rows to encode at a time, so that a block stays near avroBlockBytes
	closed      bool
}

func newAvroWriter(w io.Writer, s *arrow.Schema, o Options) (Writer, error) {
	var sync [16]byte
	if _, err := rand.Read(sync[:]); err != nil {
		return nil, fmt.Errorf("avro writer: sync marker: %w", err)
	}
	a, err := newAvroRows(w, s, o, sync)
	if err != nil {
		return nil, err
	}
	schemaJSON, err := avroSchemaOf(s)
	if err == nil {
		err = a.f.writeHeader(schemaJSON)
	}
	if err != nil {
		return nil, fmt.Errorf("avro writer: %w", err)
	}
	return a, nil
}

// newAvroRows returns a writer of the blocks of records of s, with no header.
func newAvroRows(w io.Writer, s *arrow.Schema, o Options, sync [16]byte) (*avroWriter, error) {
	f, err := newAvroFile(w, o.Compression, sync)
	if err != nil {
		return nil, fmt.Errorf("avro writer: %w", err)
	}
	return &avroWriter{arrowSchema: s, f: f, rows: make([]byte, 0, avroBlockBytes+avroBlockBytes/4), chunk: 256}, nil
}

// avroSchemaOf returns the Avro schema of records of s.
func avroSchemaOf(s *arrow.Schema) (string, error) {
	bq, err := schema.FromArrow(s)
	if err != nil {
		return "", err
	}
	return schema.AvroSchema(bq), nil
}

// newAvroBody writes the blocks of a body of l, records of l.Schema.
func newAvroBody(l *Layout, w io.Writer) (Body, error) {
	a, err := newAvroRows(w, l.Schema, l.Options, l.AvroSync)
	if err != nil {
		return nil, err
	}
	return noMeta{a}, nil
}

// writeAvroHeader writes the header of l's files: the session's Avro schema when payloads are
// copied, else the one of l.Schema.
func writeAvroHeader(l *Layout, w io.Writer) error {
	schemaJSON := l.RawAvroSchema
	if schemaJSON == "" {
		var err error
		if schemaJSON, err = avroSchemaOf(l.Schema); err != nil {
			return err
		}
	}
	f, err := newAvroFile(w, l.Options.Compression, l.AvroSync)
	if err == nil {
		err = f.writeHeader(schemaJSON)
	}
	if err == nil {
		err = f.close()
	}
	return err
}

// Write encodes rec's rows, writing a block whenever avroBlockBytes are gathered.
func (a *avroWriter) Write(rec arrow.Record) error {
	if a.closed {
		return errors.New("avro writer: Write after Close")
	}
	if !rec.Schema().Equal(a.arrowSchema) {
		return fmt.Errorf("avro writer: record schema differs from the writer's:\n%s\nwant\n%s", rec.Schema(), a.arrowSchema)
	}
	for off := int64(0); off < rec.NumRows(); {
		end := min(rec.NumRows(), off+a.chunk)
		if err := a.encode(rec, off, end); err != nil {
			return err
		}
		off = end
		if len(a.rows) >= avroBlockBytes {
			if err := a.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// encode appends rows [off, end) of rec and sizes the next chunk from their bytes per row.
func (a *avroWriter) encode(rec arrow.Record, off, end int64) error {
	part := rec
	if off != 0 || end != rec.NumRows() {
		part = rec.NewSlice(off, end)
		defer part.Release()
	}
	before := len(a.rows)
	var err error
	if a.rows, err = encode.AvroRows(part, a.rows); err != nil {
		return fmt.Errorf("avro writer: rows %d to %d: %w", off, end, err)
	}
	a.count += end - off
	perRow := int64(len(a.rows)-before)/(end-off) + 1
	a.chunk = max(1, avroBlockBytes/4/perRow)
	return nil
}

func (a *avroWriter) flush() error {
	if a.count == 0 {
		return nil
	}
	if err := a.f.writeBlock(a.count, a.rows); err != nil {
		return fmt.Errorf("avro writer: %w", err)
	}
	a.rows, a.count = a.rows[:0], 0
	return nil
}

func (a *avroWriter) size() int64 { return a.f.n + int64(len(a.rows)) }

// Close writes the last block and flushes.
func (a *avroWriter) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if err := a.flush(); err != nil {
		return err
	}
	if err := a.f.close(); err != nil {
		return fmt.Errorf("avro writer: %w", err)
	}
	return nil
}

// avroRawBody is the RawBody of Avro payloads.
type avroRawBody struct {
	f      *avroFile
	closed bool
}

// newAvroRawBody writes each WriteRaw payload (one serialized_binary_rows of the session's Avro
// schema) as one block, compressed with the codec of l.Options.Compression.
func newAvroRawBody(w io.Writer, l *Layout) (RawBody, error) {
	if !json.Valid([]byte(l.RawAvroSchema)) {
		return nil, errors.New("avro passthrough: the session's Avro schema is not JSON")
	}
	f, err := newAvroFile(w, l.Options.Compression, l.AvroSync)
	if err != nil {
		return nil, fmt.Errorf("avro passthrough: %w", err)
	}
	return &avroRawBody{f: f}, nil
}

// WriteRaw writes payload, rows rows in Avro binary encoding, as one block. An empty payload of
// no rows writes nothing.
func (a *avroRawBody) WriteRaw(payload []byte, rows int64) error {
	if a.closed {
		return errors.New("avro passthrough: WriteRaw after Close")
	}
	if rows < 0 || (rows == 0) != (len(payload) == 0) {
		return fmt.Errorf("avro passthrough: %d rows in %d bytes", rows, len(payload))
	}
	if rows == 0 {
		return nil
	}
	if err := a.f.writeBlock(rows, payload); err != nil {
		return fmt.Errorf("avro passthrough: %w", err)
	}
	return nil
}

// Size is the bytes written.
func (a *avroRawBody) Size() int64 { return a.f.n }

// Close flushes.
func (a *avroRawBody) Close() ([]byte, error) {
	if a.closed {
		return nil, nil
	}
	a.closed = true
	if err := a.f.close(); err != nil {
		return nil, fmt.Errorf("avro passthrough: %w", err)
	}
	return nil, nil
}
