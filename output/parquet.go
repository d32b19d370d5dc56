package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/bqread/bqread/schema"
)

// Parquet files are written by arrow-go's pqarrow with these choices:
//
//   - Types: BOOL boolean; INT64 int64; FLOAT64 double; NUMERIC DECIMAL(38,9) and BIGNUMERIC
//     DECIMAL(76,38) as fixed_len_byte_array; DATE int32 DATE; TIME int64 TIME(MICROS, not
//     adjusted to UTC); DATETIME int64 TIMESTAMP(MICROS, not adjusted to UTC); TIMESTAMP int64
//     TIMESTAMP(MICROS, adjusted to UTC), never int96; STRING and GEOGRAPHY (WKT) byte_array STRING;
//     BYTES byte_array; RANGE a group {start, end}; REPEATED a 3-level LIST with required elements;
//     STRUCT a group.
//   - JSON is byte_array STRING, not the JSON logical type: arrow-go's reader turns the JSON logical
//     type into binary and drops the column's metadata, so Arrow readers would lose both the text
//     type and the fact that the column is JSON. As STRING, with the google:sqlType:json metadata in
//     the stored Arrow schema, every reader gets text and Arrow readers also get the BigQuery type.
//   - INTERVAL is byte_array STRING in BigQuery's canonical form ("1-2 3 4:05:06.789"). Parquet's
//     INTERVAL logical type holds months, days and milliseconds, which would drop BigQuery's
//     microseconds; the stored Arrow schema says utf8 with the google:sqlType:interval metadata.
//   - The Arrow schema (with the google:sqlType field metadata) is stored in the ARROW:schema
//     key-value metadata, so Arrow readers get the Storage API types back (INTERVAL aside; list
//     elements are named "element", as Parquet's LIST layout names them, not "item").
//   - Data pages are version 1 (the most widely read), dictionary encoding on, statistics on, no
//     page index and no bloom filters (so that merge can copy column chunks unchanged).
//   - A row group ends at parquetRowGroupRows rows or after parquetRowGroupBytes of Arrow data,
//     whichever comes first; it is buffered in memory (encoded and compressed, so usually smaller
//     than the Arrow data) until then, so memory is bounded by one row group.

// Row group bounds.
const (
	parquetRowGroupRows  = 1 << 20
	parquetRowGroupBytes = 64 << 20
)

func init() {
	register(Parquet, formatImpl{
		newWriter: func(w io.Writer, s *arrow.Schema, o Options) (Writer, error) {
			return newParquetWriter(w, s, o, memory.DefaultAllocator, parquetRowGroupBytes)
		},
		merge: mergeParquet,
	})
}

// parquetCodec maps Options.Compression to a Parquet codec.
func parquetCodec(name string) (compress.Compression, error) {
	switch strings.ToLower(name) {
	case "", "snappy":
		return compress.Codecs.Snappy, nil
	case "zstd":
		return compress.Codecs.Zstd, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("%w: parquet compression %q: use snappy, zstd, gzip or none", ErrUnsupported, name)
}

type parquetWriter struct {
	fw       *pqarrow.FileWriter
	in       *arrow.Schema // the records' schema
	plan     []columnPlan
	schema   *arrow.Schema // the schema written, after the column conversions of plan
	mem      memory.Allocator
	maxBytes int64
	rgBytes  int64 // Arrow bytes written to the open row group; -1 before the first write
}

// newParquetWriter writes Parquet to w, allocating from mem, ending row groups after maxBytes of
// Arrow data (or parquetRowGroupRows rows).
func newParquetWriter(w io.Writer, s *arrow.Schema, o Options, mem memory.Allocator, maxBytes int64) (*parquetWriter, error) {
	codec, err := parquetCodec(o.Compression)
	if err != nil {
		return nil, err
	}
	bq, err := schema.FromArrow(s)
	if err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	plan, written := planColumns(s, bq)
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(mem),
		parquet.WithCompression(codec),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithMaxRowGroupLength(parquetRowGroupRows),
		parquet.WithDictionaryDefault(true),
		parquet.WithStats(true),
		parquet.WithPageIndexEnabled(false),
	)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))
	// pqarrow closes its sink if it is an io.Closer; Writer.Close must not close w.
	fw, err := pqarrow.NewFileWriter(written, struct{ io.Writer }{w}, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	return &parquetWriter{fw: fw, in: s, plan: plan, schema: written, mem: mem, maxBytes: maxBytes, rgBytes: -1}, nil
}

// Write converts the columns that Parquet stores differently and appends rec to the open row
// group, starting a new row group when the open one is full.
func (p *parquetWriter) Write(rec arrow.Record) error {
	if !rec.Schema().Equal(p.in) {
		return fmt.Errorf("parquet writer: record schema differs from the writer's:\n%s\nwant\n%s", rec.Schema(), p.in)
	}
	if rec.NumRows() == 0 {
		return nil
	}
	conv, err := convertRecord(rec, p.schema, p.plan, p.mem)
	if err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	defer conv.Release()
	if p.rgBytes >= p.maxBytes {
		if err := p.fw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("parquet writer: new row group: %w", err)
		}
		p.rgBytes = 0
	}
	if err := p.fw.WriteBuffered(conv); err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	p.rgBytes = max(p.rgBytes, 0)
	for _, c := range conv.Columns() {
		p.rgBytes += dataBytes(c.Data())
	}
	return nil
}

// dataBytes is the size of d's buffers, children included (whole buffers, even for a slice).
func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// Close flushes the open row group and writes the footer.
func (p *parquetWriter) Close() error {
	if err := p.fw.Close(); err != nil {
		return fmt.Errorf("parquet writer: close: %w", err)
	}
	return nil
}
