package output

import (
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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
//     TIMESTAMP(MICROS, adjusted to UTC), never int96 (a TIMESTAMP(12) read as nanos TIMESTAMP(NANOS,
//     adjusted to UTC); read as picos, byte_array STRING, the ISO 8601 text the service sends, as no
//     Parquet type holds picoseconds); STRING and GEOGRAPHY (WKT) byte_array STRING;
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
//   - Data pages are version 1 (the most widely read), statistics on, no page index and no bloom
//     filters (so that merge can copy column chunks unchanged).
//   - Dictionary encoding is on, except for top-level columns whose first values are nearly all
//     distinct (see plainColumns): ids, timestamps, measurements. For those a dictionary only costs
//     time: it grows to its 1 MiB page limit and is abandoned, every row group. On the trips table,
//     a quarter of a Parquet worker's CPU went to dictionaries of unique int64 values.
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
		newBody:  newParquetBody,
		header:   writeParquetHeader,
		footer:   writeParquetFooter,
		anyOrder: true,
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
	fw       *pqarrow.FileWriter // nil until the first rows: their values choose the encodings
	w        io.Writer
	props    []parquet.WriterProperty
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
	props := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCompression(codec),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithMaxRowGroupLength(parquetRowGroupRows),
		parquet.WithDictionaryDefault(true),
		parquet.WithStats(true),
		parquet.WithPageIndexEnabled(false),
	}
	// pqarrow closes its sink if it is an io.Closer; Writer.Close must not close w.
	return &parquetWriter{w: struct{ io.Writer }{w}, props: props, in: s, plan: plan, schema: written,
		mem: mem, maxBytes: maxBytes, rgBytes: -1}, nil
}

// open starts the file, with dictionaries off for the columns of first (the first rows, nil for
// none) that plainColumns picks.
func (p *parquetWriter) open(first arrow.Record) error {
	props := slices.Clip(p.props)
	for _, name := range plainColumns(first) {
		props = append(props, parquet.WithDictionaryFor(name, false))
	}
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(p.mem))
	fw, err := pqarrow.NewFileWriter(p.schema, p.w, parquet.NewWriterProperties(props...), arrowProps)
	if err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	p.fw = fw
	return nil
}

// Sampling of plainColumns: the first dictionarySample values of a column, of which more than
// plainDistinct are distinct. A column of N equally likely values shows 0.9 distinct in 8,192
// draws when N is about 39,000: for 8-byte values a dictionary of 300 KiB, a third of the way to
// the 1 MiB page limit where the writer gives up on it anyway. (Sampling is about 2% of a Parquet
// worker's CPU; twice the sample was twice that.)
const (
	dictionarySample = 8192
	plainDistinct    = 0.9
	minSample        = 256 // fewer non-null values than this: keep the dictionary
)

// plainColumns names the top-level primitive columns of rec whose first non-null values are
// nearly all distinct. Nested columns keep the dictionary.
func plainColumns(rec arrow.Record) []string {
	if rec == nil {
		return nil
	}
	var names []string
	seed := maphash.MakeSeed()
	for i, col := range rec.Columns() {
		if _, nested := col.DataType().(arrow.NestedType); nested {
			continue
		}
		value := valueBytes(col)
		if value == nil {
			continue
		}
		seen := make(map[uint64]struct{}, min(col.Len(), dictionarySample)) // hashes: no copy of a value
		values := 0
		for row := 0; row < col.Len() && values < dictionarySample; row++ {
			if col.IsValid(row) {
				seen[maphash.Bytes(seed, value(row))] = struct{}{}
				values++
			}
		}
		if values >= minSample && float64(len(seen)) > plainDistinct*float64(values) {
			names = append(names, rec.Schema().Field(i).Name)
		}
	}
	return names
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
	if p.fw == nil {
		if err := p.open(conv); err != nil {
			return err
		}
	}
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

// valueBytes returns what gives a row's value as bytes (equal values, equal bytes) for binary,
// string and fixed-width columns of whole bytes, or nil for other columns (booleans, which Parquet
// never dictionary-encodes).
func valueBytes(col arrow.Array) func(row int) []byte {
	switch c := col.(type) {
	case *array.String:
		data, offsets := c.ValueBytes(), c.ValueOffsets()
		return func(row int) []byte { return data[offsets[row]-offsets[0] : offsets[row+1]-offsets[0]] }
	case *array.Binary:
		return c.Value
	}
	fw, ok := col.DataType().(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth()%8 != 0 || len(col.Data().Buffers()) < 2 {
		return nil
	}
	width, data, offset := fw.BitWidth()/8, col.Data().Buffers()[1].Bytes(), col.Data().Offset()
	return func(row int) []byte { return data[(offset+row)*width : (offset+row+1)*width] }
}

// Close flushes the open row group and writes the footer.
func (p *parquetWriter) Close() error {
	if p.fw == nil {
		if err := p.open(nil); err != nil {
			return err
		}
	}
	if err := p.fw.Close(); err != nil {
		return fmt.Errorf("parquet writer: close: %w", err)
	}
	return nil
}
