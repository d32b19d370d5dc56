package output

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

var parquetMagic = []byte("PAR1")

// parquetMerger writes the parts as one Parquet file without decoding a page: each part's column
// chunks are copied byte for byte, and one footer lists every part's row groups with their page
// offsets shifted to where the chunks now are. The footer's schema, created_by, column orders and
// key-value metadata (the stored Arrow schema) are the first part's; every part must have the same
// schema. Parts are copied as they come; the footer lists their row groups in merged order. Page
// indexes and bloom filters, which our writer does not write, are not copied: their references are
// dropped from the footer.
type parquetMerger struct {
	out     *CountingWriter
	footers []*metadata.FileMetaData
}

func newParquetMerger(dst io.Writer, _ Options) partMerger {
	return &parquetMerger{out: &CountingWriter{W: dst}}
}

func (m *parquetMerger) add(_ int, p Part) error {
	md, err := parquetFooter(p)
	if err != nil {
		return err
	}
	if len(m.footers) == 0 {
		if _, err := m.out.Write(parquetMagic); err != nil {
			return err
		}
	} else if err := sameParquetSchema(m.footers[0], md); err != nil {
		return err
	}
	if err := copyRowGroups(m.out, p, md); err != nil {
		return err
	}
	m.footers = append(m.footers, md)
	return nil
}

// close writes the footer: the first part's, with every part's row groups in merged order.
func (m *parquetMerger) close(order []int) error {
	merged := m.footers[0]
	rowGroups, rows := merged.RowGroups[:0:0], int64(0)
	for _, i := range order {
		rowGroups = append(rowGroups, m.footers[i].RowGroups...)
		rows += m.footers[i].NumRows
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
	return writeParquetFooter(m.out, merged)
}

// parquetFooter reads and checks one part's footer.
func parquetFooter(p Part) (*metadata.FileMetaData, error) {
	rdr, err := file.NewParquetReader(io.NewSectionReader(p.R, 0, p.Size))
	if err != nil {
		return nil, fmt.Errorf("not a readable Parquet file: %w", err)
	}
	md := rdr.MetaData()
	if err := rdr.Close(); err != nil {
		return nil, err
	}
	if md.IsSetEncryptionAlgorithm() {
		return nil, fmt.Errorf("%w: encrypted Parquet files cannot be merged", ErrUnsupported)
	}
	return md, nil
}

// sameParquetSchema checks that md has the Parquet schema and the stored Arrow schema of first.
func sameParquetSchema(first, md *metadata.FileMetaData) error {
	if !first.Schema.Equals(md.Schema) {
		return errors.New("schema differs from the first part's: parts of one merge must come from one schema")
	}
	a, b := first.KeyValueMetadata().FindValue("ARROW:schema"), md.KeyValueMetadata().FindValue("ARROW:schema")
	if (a == nil) != (b == nil) || (a != nil && *a != *b) {
		return errors.New("stored Arrow schema differs from the first part's: parts of one merge must come from one schema")
	}
	return nil
}

// copyRowGroups copies the column chunks of md's row groups from p to out, in order, and shifts
// their offsets in md to their new positions. Contiguous chunks are copied in one piece.
func copyRowGroups(out *CountingWriter, p Part, md *metadata.FileMetaData) error {
	footerStart := p.Size - int64(md.Size()) - 8
	var run struct{ start, end int64 } // the part's bytes not yet copied; they go to out.N
	flush := func() error {
		err := copyRange(out, p.R, run.start, run.end-run.start)
		run.start = run.end
		return err
	}
	for r, rg := range md.RowGroups {
		for c, cc := range rg.Columns {
			cm := cc.MetaData
			if cm == nil {
				return fmt.Errorf("row group %d column %d has no metadata", r, c)
			}
			start := chunkStart(cm.DataPageOffset, cm.DictionaryPageOffset, cm.IndexPageOffset)
			end := start + cm.TotalCompressedSize
			if start < int64(len(parquetMagic)) || end > footerStart || cm.TotalCompressedSize < 0 {
				return fmt.Errorf("row group %d column %d: chunk [%d, %d) lies outside the data of a %d-byte file", r, c, start, end, p.Size)
			}
			if start != run.end {
				if err := flush(); err != nil {
					return err
				}
				run.start, run.end = start, start
			}
			shift := out.N + (run.end - run.start) - start
			run.end = end
			cm.DataPageOffset += shift
			cm.DictionaryPageOffset = shifted(cm.DictionaryPageOffset, shift)
			cm.IndexPageOffset = shifted(cm.IndexPageOffset, shift)
			if cc.FileOffset != 0 {
				cc.FileOffset += shift
			}
			cc.OffsetIndexOffset, cc.OffsetIndexLength = nil, nil
			cc.ColumnIndexOffset, cc.ColumnIndexLength = nil, nil
			cm.BloomFilterOffset, cm.BloomFilterLength = nil, nil
			if c == 0 {
				rgStart := chunkStart(cm.DataPageOffset, cm.DictionaryPageOffset, cm.IndexPageOffset)
				rg.FileOffset = &rgStart
			}
		}
	}
	return flush()
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

// writeParquetFooter writes the footer, its length and the closing magic.
func writeParquetFooter(out *CountingWriter, md *metadata.FileMetaData) error {
	n, err := md.WriteTo(out, nil)
	if err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(n))
	copy(tail[4:], parquetMagic)
	if _, err := out.Write(tail[:]); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	return nil
}

// copyRange copies n bytes at off in r to out. Between two files (r an *os.File, out writing to
// one) the kernel copies them (copy_file_range); r's file offset moves then.
func copyRange(out *CountingWriter, r io.ReaderAt, off, n int64) error {
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
