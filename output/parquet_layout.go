package output

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

var parquetMagic = []byte("PAR1")

// parquetBody writes the body of a Parquet file: what a parquetWriter writes between the opening
// magic and the footer, that is the column chunks of its row groups. Its Meta is the footer the
// writer makes (Thrift FileMetaData), offsets counted from the start of a file whose body follows
// the magic. Page indexes and bloom filters, which our writer does not write, have no place in it.
type parquetBody struct {
	p    *parquetWriter
	sink *parquetSink
}

// parquetSink passes on what a parquetWriter writes, except the opening magic and, once dropping,
// everything.
type parquetSink struct {
	w        io.Writer
	skip     int
	dropping bool
	n        int64 // bytes passed on
}

func (s *parquetSink) Write(b []byte) (int, error) {
	n := len(b)
	k := min(s.skip, len(b))
	s.skip -= k
	if s.dropping || k == n {
		return n, nil
	}
	if _, err := s.w.Write(b[k:]); err != nil {
		return 0, err
	}
	s.n += int64(n - k)
	return n, nil
}

func newParquetBody(l *Layout, w io.Writer) (Body, error) {
	return newParquetBodySized(l, w, parquetRowGroupBytes)
}

// newParquetBodySized is newParquetBody with row groups of maxBytes of Arrow data.
func newParquetBodySized(l *Layout, w io.Writer, maxBytes int64) (*parquetBody, error) {
	sink := &parquetSink{w: w, skip: len(parquetMagic)}
	p, err := newParquetWriter(sink, l.Schema, l.Options, memory.DefaultAllocator, maxBytes)
	if err != nil {
		return nil, err
	}
	return &parquetBody{p: p, sink: sink}, nil
}

func (b *parquetBody) Write(rec arrow.Record) error { return b.p.Write(rec) }

// Size is the bytes written and the Arrow bytes of the open row group, whose encoded size is
// known only once it is written (usually smaller).
func (b *parquetBody) Size() int64 { return b.sink.n + max(b.p.rgBytes, 0) }

// Close writes the open row group and returns the footer, leaving it out of the body: the row
// group is ended by starting another, which stays empty, and from then on nothing written is
// kept; the empty row group is left out of the footer.
func (b *parquetBody) Close() ([]byte, error) {
	p := b.p
	var err error
	if p.fw == nil {
		err = p.open(nil)
	} else {
		err = p.fw.NewBufferedRowGroupChecked()
	}
	if err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	b.sink.dropping = true
	if err := p.Close(); err != nil {
		return nil, err
	}
	md, err := p.fw.FileMetadata()
	if err != nil {
		return nil, fmt.Errorf("parquet writer: footer: %w", err)
	}
	kept := md.RowGroups[:0]
	for _, rg := range md.RowGroups {
		if rg.NumRows > 0 {
			kept = append(kept, rg)
		}
	}
	md.RowGroups = kept
	var meta bytes.Buffer
	if _, err := md.WriteTo(&meta, nil); err != nil {
		return nil, fmt.Errorf("parquet writer: footer: %w", err)
	}
	return meta.Bytes(), nil
}

func writeParquetHeader(_ *Layout, w io.Writer) error {
	_, err := w.Write(parquetMagic)
	return err
}

// writeParquetFooter writes the footer of a file of bodies: the first body's footer (schema,
// created_by, column orders, key-value metadata with the stored Arrow schema) listing every
// body's row groups in order, their offsets shifted to where the body is. Every body must have the
// same schema. With no body, the footer of an empty body.
func writeParquetFooter(l *Layout, w io.Writer, bodies []BodyRef) error {
	if len(bodies) == 0 {
		b, err := newParquetBody(l, io.Discard)
		if err != nil {
			return err
		}
		meta, err := b.Close()
		if err != nil {
			return err
		}
		bodies = []BodyRef{{Offset: int64(len(parquetMagic)), Meta: meta}}
	}
	mds := make([]*metadata.FileMetaData, len(bodies))
	for k, b := range bodies {
		md, err := metadata.NewFileMetaData(b.Meta, nil)
		if err != nil {
			return fmt.Errorf("body %d: footer: %w", k, err)
		}
		if md.IsSetEncryptionAlgorithm() {
			return fmt.Errorf("%w: body %d: encrypted Parquet cannot be joined", ErrUnsupported, k)
		}
		if k > 0 {
			if err := sameParquetSchema(mds[0], md); err != nil {
				return fmt.Errorf("body %d: %w", k, err)
			}
		}
		if err := shiftRowGroups(md, b); err != nil {
			return fmt.Errorf("body %d: %w", k, err)
		}
		mds[k] = md
	}
	merged := mds[0]
	rowGroups, rows := merged.RowGroups[:0:0], int64(0)
	for _, md := range mds {
		rowGroups = append(rowGroups, md.RowGroups...)
		rows += md.NumRows
	}
	for i, rg := range rowGroups {
		switch {
		case rg.Ordinal == nil:
		case i > math.MaxInt16:
			rg.Ordinal = nil
		default:
			ord := int16(i)
			rg.Ordinal = &ord
		}
	}
	merged.RowGroups, merged.NumRows = rowGroups, rows
	n, err := merged.WriteTo(w, nil)
	if err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(n))
	copy(tail[4:], parquetMagic)
	if _, err := w.Write(tail[:]); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	return nil
}

// sameParquetSchema checks that md has the Parquet schema and the stored Arrow schema of first.
func sameParquetSchema(first, md *metadata.FileMetaData) error {
	if !first.Schema.Equals(md.Schema) {
		return errors.New("schema differs from the first body's: bodies of one file must come from one schema")
	}
	a, b := first.KeyValueMetadata().FindValue("ARROW:schema"), md.KeyValueMetadata().FindValue("ARROW:schema")
	if (a == nil) != (b == nil) || (a != nil && *a != *b) {
		return errors.New("stored Arrow schema differs from the first body's: bodies of one file must come from one schema")
	}
	return nil
}

// shiftRowGroups checks that every column chunk of md lies within body b, which its offsets
// place right after the magic, and that together they are as large as b, and shifts the offsets
// to where b is.
func shiftRowGroups(md *metadata.FileMetaData, b BodyRef) error {
	lo := int64(len(parquetMagic))
	shift, chunks := b.Offset-lo, int64(0)
	for r, rg := range md.RowGroups {
		for c, cc := range rg.Columns {
			cm := cc.MetaData
			if cm == nil {
				return fmt.Errorf("row group %d column %d has no metadata", r, c)
			}
			start := chunkStart(cm.DataPageOffset, cm.DictionaryPageOffset, cm.IndexPageOffset)
			if end := start + cm.TotalCompressedSize; start < lo || end > lo+b.Size || cm.TotalCompressedSize < 0 {
				return fmt.Errorf("row group %d column %d: chunk [%d, %d) lies outside the body's %d bytes", r, c, start-lo, end-lo, b.Size)
			}
			if cc.OffsetIndexOffset != nil || cc.ColumnIndexOffset != nil || cm.BloomFilterOffset != nil {
				return fmt.Errorf("%w: row group %d column %d has a page index or bloom filter, which bodies do not carry", ErrUnsupported, r, c)
			}
			chunks += cm.TotalCompressedSize
			cm.DataPageOffset += shift
			cm.DictionaryPageOffset = shifted(cm.DictionaryPageOffset, shift)
			cm.IndexPageOffset = shifted(cm.IndexPageOffset, shift)
			if cc.FileOffset != 0 {
				cc.FileOffset += shift
			}
			if c == 0 {
				rgStart := chunkStart(cm.DataPageOffset, cm.DictionaryPageOffset, cm.IndexPageOffset)
				rg.FileOffset = &rgStart
			}
		}
	}
	if chunks != b.Size {
		return fmt.Errorf("column chunks of %d bytes in a body of %d bytes: the footer does not describe the body", chunks, b.Size)
	}
	return nil
}

// chunkStart is where a column chunk begins: its first page, dictionary or index page included.
func chunkStart(data int64, dict, index *int64) int64 {
	start := data
	for _, o := range []*int64{dict, index} {
		if o != nil && *o > 0 && *o < start {
			start = *o
		}
	}
	return start
}

// shifted returns a new offset, shift bytes after o; an unset offset (nil or 0) stays unset.
func shifted(o *int64, shift int64) *int64 {
	if o == nil || *o <= 0 {
		return o
	}
	v := *o + shift
	return &v
}

// copyRange copies n bytes at off in r to out. Between two files (r an *os.File, out writing to
// one) the kernel copies them (copy_file_range); r's file offset moves then.
func copyRange(out io.Writer, r io.ReaderAt, off, n int64) error {
	if n == 0 {
		return nil
	}
	var src io.Reader = io.NewSectionReader(r, off, n)
	if f, ok := r.(*os.File); ok {
		if _, err := f.Seek(off, io.SeekStart); err == nil {
			src = io.LimitReader(f, n)
		}
	}
	written, err := io.Copy(out, src)
	if err == nil && written != n {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// CountingWriter counts the bytes written through it to W: N is the offset of the next byte.
type CountingWriter struct {
	W io.Writer
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

// ReadFrom lets io.Copy reach W's own ReadFrom (copy_file_range between files).
func (c *CountingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.W, r)
	c.N += n
	return n, err
}
