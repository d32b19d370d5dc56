package decode

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/schema"
)

// avroDecoder decodes Avro binary rows straight into Arrow builders through a tree of per-field
// decoders compiled once from the schema.
type avroDecoder struct {
	mem    memory.Allocator
	bq     schema.Schema
	schema *arrow.Schema
	c      compiler
	b      *array.RecordBuilder
	fields []fieldDec
	// dataPerRow is, for each top-level STRING or BYTES column, the bytes per row of the last
	// payload: Decode reserves that much up front instead of growing the buffer by doubling.
	dataPerRow []int
}

// fieldDec decodes one value from r and appends it to the builder it was compiled for.
type fieldDec func(r *avroReader) error

// NewAvro returns a decoder for a session whose ReadSession.avro_schema.schema is avroSchemaJSON.
// Records have the Arrow schema schema.ArrowSchema(schema.FromAvro(avroSchemaJSON)) and are
// allocated from mem. NULLABLE columns are ["null", T] unions with null first, as BigQuery writes
// them.
func NewAvro(avroSchemaJSON string, mem memory.Allocator) (Decoder, error) {
	bq, scales, err := schema.FromAvroDecimals(avroSchemaJSON)
	if err != nil {
		return nil, fmt.Errorf("decode: Avro schema: %w", err)
	}
	c := compiler{scales: scales}
	if err := c.check(bq, ""); err != nil {
		return nil, fmt.Errorf("decode: Avro schema: %w", err)
	}
	d := &avroDecoder{mem: mem, bq: bq, schema: schema.ArrowSchema(bq), c: c}
	d.rebuild()
	return d, nil
}

// rebuild makes fresh builders and compiles the decoders for them; after an error the builders
// hold part of a row.
func (d *avroDecoder) rebuild() {
	if d.b != nil {
		d.b.Release()
	}
	d.b = array.NewRecordBuilder(d.mem, d.schema)
	d.fields = make([]fieldDec, len(d.bq))
	d.dataPerRow = make([]int, len(d.bq))
	for i, f := range d.bq {
		d.fields[i] = d.c.field(f, d.b.Field(i), f.Name)
	}
}

func (d *avroDecoder) Schema() *arrow.Schema { return d.schema }

func (d *avroDecoder) Decode(payload []byte, rows int64) (arrow.Record, error) {
	if err := d.checkRows(payload, rows); err != nil {
		return nil, err
	}
	if len(d.fields) == 0 {
		return array.NewRecord(d.schema, nil, rows), nil
	}
	d.reserve(rows, len(payload))
	r := avroReader{buf: payload}
	for row := int64(0); row < rows; row++ {
		for i, dec := range d.fields {
			if err := dec(&r); err != nil {
				d.rebuild()
				return nil, fmt.Errorf("Avro row %d of %d, column %q, byte %d: %w", row, rows, d.bq[i].Name, r.pos, err)
			}
		}
	}
	if r.pos != len(payload) {
		d.rebuild()
		return nil, fmt.Errorf("%w: %d bytes left after %d Avro rows: the payload holds more rows than the response says", ErrCorrupt, len(payload)-r.pos, rows)
	}
	d.learn(rows)
	return d.b.NewRecord(), nil
}

// reserve sizes the builders for rows rows; string data takes at most the payload's size.
func (d *avroDecoder) reserve(rows int64, payloadLen int) {
	d.b.Reserve(int(rows))
	for i, f := range d.b.Fields() {
		if b, ok := binaryBuilder(f); ok {
			b.ReserveData(min(int(rows)*d.dataPerRow[i], payloadLen))
		}
	}
}

func (d *avroDecoder) learn(rows int64) {
	for i, f := range d.b.Fields() {
		if b, ok := binaryBuilder(f); ok && rows > 0 {
			d.dataPerRow[i] = int((int64(b.DataLen()) + rows - 1) / rows)
		}
	}
}

func binaryBuilder(b array.Builder) (*array.BinaryBuilder, bool) {
	switch b := b.(type) {
	case *array.StringBuilder:
		return b.BinaryBuilder, true
	case *array.BinaryBuilder:
		return b, true
	}
	return nil, false
}

// checkRows rejects row counts that the payload cannot hold: every value of a BigQuery Avro row
// takes at least one byte, so a row takes at least one byte per column.
func (d *avroDecoder) checkRows(payload []byte, rows int64) error {
	if rows < 0 {
		return fmt.Errorf("%w: negative row count %d", ErrCorrupt, rows)
	}
	if len(d.fields) == 0 && len(payload) != 0 {
		return fmt.Errorf("%w: %d bytes of Avro rows for a schema without columns", ErrCorrupt, len(payload))
	}
	if len(d.fields) > 0 && rows > int64(len(payload))/int64(len(d.fields)) {
		return fmt.Errorf("%w: %d Avro rows of %d columns cannot fit in %d bytes", ErrCorrupt, rows, len(d.fields), len(payload))
	}
	return nil
}

// compiler builds the decoder tree of a schema; path is a column's dotted path.
type compiler struct {
	scales map[string]int32 // decimal scales from the Avro schema
}

// check rejects decimal scales that the Arrow decimal types cannot hold exactly.
func (c compiler) check(fields schema.Schema, prefix string) error {
	for _, f := range fields {
		path := prefix + f.Name
		if scale, ok := c.scales[path]; ok && (scale < 0 || scale > targetScale(f.Type)) {
			return fmt.Errorf("column %q: decimal scale %d does not fit the Arrow type's scale %d", path, scale, targetScale(f.Type))
		}
		if err := c.check(f.Fields, path+"."); err != nil {
			return err
		}
	}
	return nil
}

func targetScale(t schema.Type) int32 {
	if t == schema.BigNumeric {
		return schema.BigNumericType.Scale
	}
	return schema.NumericType.Scale
}

// field returns the decoder of a column with its mode: an array, a union with null, or the bare
// type.
func (c compiler) field(f *schema.Field, b array.Builder, path string) fieldDec {
	if f.Repeated() {
		return c.list(f, b.(*array.ListBuilder), path)
	}
	dec := c.typ(f, b, path)
	if !f.Nullable() {
		return dec
	}
	return func(r *avroReader) error {
		branch, err := r.byte()
		switch {
		case err != nil:
			return err
		case branch == 0:
			b.AppendNull()
			return nil
		case branch == 2: // zigzag 1
			return dec(r)
		}
		return fmt.Errorf("%w: union branch byte %#x, want 0 (null) or 2", ErrCorrupt, branch)
	}
}

func (c compiler) list(f *schema.Field, lb *array.ListBuilder, path string) fieldDec {
	elem := *f
	elem.Mode = schema.Required
	item := c.field(&elem, lb.ValueBuilder(), path)
	return func(r *avroReader) error {
		lb.Append(true)
		for {
			n, err := r.blockCount()
			if n == 0 || err != nil {
				return err
			}
			for ; n > 0; n-- {
				if err := item(r); err != nil {
					return err
				}
			}
		}
	}
}

func (c compiler) typ(f *schema.Field, b array.Builder, path string) fieldDec {
	switch f.Type {
	case schema.Bool:
		return decodeBool(b.(*array.BooleanBuilder))
	case schema.Int64:
		return decodeLong(b.(*array.Int64Builder).Append)
	case schema.Time:
		return decodeLong(func(v int64) { b.(*array.Time64Builder).Append(arrow.Time64(v)) })
	case schema.Timestamp:
		if f.PicosColumn() { // the ISO 8601 text of a TIMESTAMP(12) read as picos
			return decodeBytes(b.(*array.StringBuilder).BinaryBuilder)
		}
		return decodeLong(func(v int64) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(v)) }) // micros or nanos
	case schema.Date:
		return decodeDate(b.(*array.Date32Builder))
	case schema.Float64:
		return decodeDouble(b.(*array.Float64Builder))
	case schema.Numeric:
		return decodeNumeric(b.(*array.Decimal128Builder), c.rescale(f, path))
	case schema.BigNumeric:
		return decodeBigNumeric(b.(*array.Decimal256Builder), c.rescale(f, path))
	case schema.String, schema.Geography, schema.JSON:
		return decodeBytes(b.(*array.StringBuilder).BinaryBuilder)
	case schema.Bytes:
		return decodeBytes(b.(*array.BinaryBuilder))
	case schema.DateTime:
		return decodeDateTime(b.(*array.TimestampBuilder))
	case schema.Interval:
		return decodeInterval(b.(*array.MonthDayNanoIntervalBuilder))
	case schema.Range:
		t := f.RangeElementType.Type
		return c.strct([]*schema.Field{
			{Name: "start", Type: t, Mode: schema.Nullable},
			{Name: "end", Type: t, Mode: schema.Nullable}}, b.(*array.StructBuilder), path)
	}
	return c.strct(f.Fields, b.(*array.StructBuilder), path) // schema.FromAvro makes no other type
}

// rescale is the power of ten by which a decimal column's unscaled Avro values are multiplied to
// reach the Arrow type's scale: 0 for BigQuery's own scales (9 and 38), more for parameterized
// types such as NUMERIC(10, 2) if their Avro schema states their own scale.
func (c compiler) rescale(f *schema.Field, path string) int32 {
	scale, ok := c.scales[path]
	if !ok {
		return 0
	}
	return targetScale(f.Type) - scale
}

func (c compiler) strct(fields []*schema.Field, sb *array.StructBuilder, path string) fieldDec {
	children := make([]fieldDec, len(fields))
	for i, f := range fields {
		children[i] = c.field(f, sb.FieldBuilder(i), path+"."+f.Name)
	}
	return func(r *avroReader) error {
		sb.Append(true)
		for _, child := range children {
			if err := child(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func decodeBool(b *array.BooleanBuilder) fieldDec {
	return func(r *avroReader) error {
		v, err := r.byte()
		if err != nil {
			return err
		}
		if v > 1 {
			return fmt.Errorf("%w: boolean byte %#x", ErrCorrupt, v)
		}
		b.Append(v == 1)
		return nil
	}
}

func decodeLong(appendFn func(int64)) fieldDec {
	return func(r *avroReader) error {
		v, err := r.long()
		if err != nil {
			return err
		}
		appendFn(v)
		return nil
	}
}

func decodeDate(b *array.Date32Builder) fieldDec {
	return func(r *avroReader) error {
		v, err := r.long()
		if err != nil {
			return err
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("%w: date %d days does not fit an Avro int", ErrCorrupt, v)
		}
		b.Append(arrow.Date32(v))
		return nil
	}
}

func decodeDouble(b *array.Float64Builder) fieldDec {
	return func(r *avroReader) error {
		v, err := r.fixed(8)
		if err != nil {
			return err
		}
		b.Append(math.Float64frombits(binary.LittleEndian.Uint64(v)))
		return nil
	}
}

func decodeBytes(b *array.BinaryBuilder) fieldDec {
	return func(r *avroReader) error {
		v, err := r.bytes()
		if err != nil {
			return err
		}
		b.Append(v)
		return nil
	}
}

func decodeNumeric(b *array.Decimal128Builder, rescale int32) fieldDec {
	return func(r *avroReader) error {
		var buf [16]byte
		if err := r.twosComplement(buf[:]); err != nil {
			return err
		}
		v := decimal128.New(int64(binary.BigEndian.Uint64(buf[:8])), binary.BigEndian.Uint64(buf[8:]))
		if rescale > 0 {
			if !v.FitsInPrecision(38 - rescale) {
				return fmt.Errorf("%w: decimal %s overflows NUMERIC", ErrCorrupt, v.BigInt())
			}
			v = v.IncreaseScaleBy(rescale)
		}
		b.Append(v)
		return nil
	}
}

func decodeBigNumeric(b *array.Decimal256Builder, rescale int32) fieldDec {
	return func(r *avroReader) error {
		var buf [32]byte
		if err := r.twosComplement(buf[:]); err != nil {
			return err
		}
		be := binary.BigEndian
		v := decimal256.New(be.Uint64(buf[:8]), be.Uint64(buf[8:16]), be.Uint64(buf[16:24]), be.Uint64(buf[24:]))
		if rescale > 0 {
			if !v.FitsInPrecision(76 - rescale) {
				return fmt.Errorf("%w: decimal %s overflows BIGNUMERIC", ErrCorrupt, v.BigInt())
			}
			v = v.IncreaseScaleBy(rescale)
		}
		b.Append(v)
		return nil
	}
}

func decodeDateTime(b *array.TimestampBuilder) fieldDec {
	return func(r *avroReader) error {
		v, err := r.bytes()
		if err != nil {
			return err
		}
		micros, err := parseDateTime(v)
		if err != nil {
			return err
		}
		b.Append(arrow.Timestamp(micros))
		return nil
	}
}

func decodeInterval(b *array.MonthDayNanoIntervalBuilder) fieldDec {
	return func(r *avroReader) error {
		v, err := r.bytes()
		if err != nil {
			return err
		}
		iv, err := parseInterval(v)
		if err != nil {
			return err
		}
		b.Append(iv)
		return nil
	}
}

// avroReader reads Avro binary values from buf, checking every length against what is left.
type avroReader struct {
	buf []byte
	pos int
}

var errTruncated = fmt.Errorf("%w: Avro value runs past the end of the payload", ErrCorrupt)

func (r *avroReader) byte() (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, errTruncated
	}
	r.pos++
	return r.buf[r.pos-1], nil
}

// long reads a zigzag varint of at most 10 bytes.
func (r *avroReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if r.pos >= len(r.buf) {
			return 0, errTruncated
		}
		c := r.buf[r.pos]
		r.pos++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, fmt.Errorf("%w: Avro long longer than 10 bytes", ErrCorrupt)
}

func (r *avroReader) fixed(n int) ([]byte, error) {
	if n > len(r.buf)-r.pos {
		return nil, errTruncated
	}
	r.pos += n
	return r.buf[r.pos-n : r.pos], nil
}

// bytes reads a length-prefixed string or byte string, without copying.
func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.buf)-r.pos) {
		return nil, fmt.Errorf("%w: Avro length %d with %d bytes left", ErrCorrupt, n, len(r.buf)-r.pos)
	}
	return r.fixed(int(n))
}

// blockCount reads the item count of the next array block (skipping the byte size that follows a
// negative count); an array ends with a zero count. Every item takes at least one byte, so a count
// above the bytes left is corrupt.
func (r *avroReader) blockCount() (int64, error) {
	n, err := r.long()
	if err != nil || n == 0 {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, fmt.Errorf("%w: Avro block count %d", ErrCorrupt, n)
		}
		n = -n
		size, err := r.long()
		if err != nil {
			return 0, err
		}
		if size < 0 {
			return 0, fmt.Errorf("%w: Avro block size %d", ErrCorrupt, size)
		}
	}
	if n > int64(len(r.buf)-r.pos) {
		return 0, fmt.Errorf("%w: Avro block of %d items with %d bytes left", ErrCorrupt, n, len(r.buf)-r.pos)
	}
	return n, nil
}

// twosComplement reads Avro decimal bytes (big-endian two's complement) into dst, sign-extended
// to its width. Longer encodings are accepted when their extra leading bytes only repeat the sign.
func (r *avroReader) twosComplement(dst []byte) error {
	v, err := r.bytes()
	if err != nil {
		return err
	}
	if len(v) == 0 {
		return fmt.Errorf("%w: empty Avro decimal", ErrCorrupt)
	}
	var sign byte
	if v[0]&0x80 != 0 {
		sign = 0xff
	}
	for len(v) > len(dst) {
		if v[0] != sign || (v[1]&0x80 != 0) != (sign != 0) {
			return fmt.Errorf("%w: Avro decimal of %d bytes does not fit in %d", ErrCorrupt, len(v), len(dst))
		}
		v = v[1:]
	}
	pad := len(dst) - len(v)
	for i := 0; i < pad; i++ {
		dst[i] = sign
	}
	copy(dst[pad:], v)
	return nil
}
