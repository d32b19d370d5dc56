package encode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
)

// ErrUnencodable is wrapped when a value cannot be written in BigQuery's Avro form: a null in a
// REQUIRED column, a DATETIME outside years 1-9999, an INTERVAL with sub-microsecond nanoseconds,
// or an Arrow array whose type does not match the column's BigQuery type.
var ErrUnencodable = errors.New("encode: value cannot be encoded as Avro")

// valueEnc appends the Avro encoding of row i of one array.
type valueEnc func(dst []byte, i int) ([]byte, error)

// AvroRows appends every row of rec to dst in Avro binary encoding, back to back (no container
// header, no sync markers, no block counts), following schema.AvroSchema(schema.FromArrow(rec.Schema())):
// ["null", T] unions as branch 0 or 1, arrays as one block and a zero count, decimals as minimal
// big-endian two's complement, DATETIME and INTERVAL as BigQuery's canonical strings, RANGE as a
// record of nullable bounds. It returns the extended slice.
func AvroRows(rec arrow.Record, dst []byte) ([]byte, error) {
	s, err := schema.FromArrow(rec.Schema())
	if err != nil {
		return dst, fmt.Errorf("encode: Avro rows: %w", err)
	}
	cols := make([]valueEnc, len(s))
	for i, f := range s {
		if cols[i], err = compileField(f, rec.Column(i)); err != nil {
			return dst, err
		}
	}
	for row := 0; row < int(rec.NumRows()); row++ {
		for _, enc := range cols {
			if dst, err = enc(dst, row); err != nil {
				return dst, fmt.Errorf("row %d: %w", row, err)
			}
		}
	}
	return dst, nil
}

// compileField returns the encoder of a column with its mode: an array, a union with null, or the
// bare type.
func compileField(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	if f.Repeated() {
		return compileList(f, arr)
	}
	enc, err := compileType(f, arr)
	if err != nil {
		return nil, err
	}
	if !f.Nullable() {
		return func(dst []byte, i int) ([]byte, error) {
			if arr.IsNull(i) {
				return dst, fmt.Errorf("%w: null in REQUIRED column %q", ErrUnencodable, f.Name)
			}
			return enc(dst, i)
		}, nil
	}
	return func(dst []byte, i int) ([]byte, error) {
		if arr.IsNull(i) {
			return append(dst, 0), nil // union branch 0: null
		}
		return enc(append(dst, 2), i) // union branch 1, zigzag encoded
	}, nil
}

func compileList(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	list, err := as[*array.List](f, arr)
	if err != nil {
		return nil, err
	}
	elem := *f
	elem.Mode = schema.Required
	item, err := compileField(&elem, list.ListValues())
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		start, end := list.ValueOffsets(i)
		if n := end - start; n > 0 && list.IsValid(i) {
			dst = appendLong(dst, n)
			for j := start; j < end; j++ {
				if dst, err = item(dst, int(j)); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	}, nil
}

func as[T arrow.Array](f *schema.Field, arr arrow.Array) (T, error) {
	a, ok := arr.(T)
	if !ok {
		return a, fmt.Errorf("%w: column %q of type %s holds an Arrow %s", ErrUnencodable, f.Name, f.Type, arr.DataType())
	}
	return a, nil
}

func compileType(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	switch f.Type {
	case schema.Bool:
		return compileBool(f, arr)
	case schema.Int64:
		return compileInt[*array.Int64](f, arr)
	case schema.Date:
		return compileInt[*array.Date32](f, arr)
	case schema.Time:
		return compileInt[*array.Time64](f, arr)
	case schema.Timestamp:
		if f.PicosColumn() { // served as its ISO 8601 text
			return compileBytes[*array.String](f, arr)
		}
		return compileInt[*array.Timestamp](f, arr) // micros or nanos, as the schema says
	case schema.Float64:
		return compileFloat(f, arr)
	case schema.Numeric:
		return compileNumeric(f, arr)
	case schema.BigNumeric:
		return compileBigNumeric(f, arr)
	case schema.String, schema.Geography, schema.JSON:
		return compileBytes[*array.String](f, arr)
	case schema.Bytes:
		return compileBytes[*array.Binary](f, arr)
	case schema.DateTime:
		return compileDateTime(f, arr)
	case schema.Interval:
		return compileInterval(f, arr)
	case schema.Range:
		t := f.RangeElementType.Type
		return compileStruct(f, []*schema.Field{
			{Name: "start", Type: t, Mode: schema.Nullable},
			{Name: "end", Type: t, Mode: schema.Nullable}}, arr)
	case schema.Struct:
		return compileStruct(f, f.Fields, arr)
	}
	return nil, fmt.Errorf("%w: column %q has unknown type %s", ErrUnencodable, f.Name, f.Type)
}

func compileStruct(f *schema.Field, fields []*schema.Field, arr arrow.Array) (valueEnc, error) {
	st, err := as[*array.Struct](f, arr)
	if err != nil {
		return nil, err
	}
	if st.NumField() != len(fields) {
		return nil, fmt.Errorf("%w: column %q has %d fields, its Arrow struct %d", ErrUnencodable, f.Name, len(fields), st.NumField())
	}
	children := make([]valueEnc, len(fields))
	for i, c := range fields {
		if children[i], err = compileField(c, st.Field(i)); err != nil {
			return nil, err
		}
	}
	return func(dst []byte, i int) ([]byte, error) {
		var err error
		for _, c := range children {
			if dst, err = c(dst, i); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}, nil
}

func compileBool(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[*array.Boolean](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		if a.Value(i) {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	}, nil
}

// integer is an Arrow array of values that Avro writes as int or long (both zigzag varints).
type integer[V ~int32 | ~int64] interface {
	arrow.Array
	Value(int) V
}

func compileInt[A integer[V], V ~int32 | ~int64](f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[A](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) { return appendLong(dst, int64(a.Value(i))), nil }, nil
}

func compileFloat(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[*array.Float64](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.Value(i))), nil
	}, nil
}

// binaryLike is an Arrow array of strings or byte strings.
type binaryLike[V string | []byte] interface {
	arrow.Array
	Value(int) V
}

func compileBytes[A binaryLike[V], V string | []byte](f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[A](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		v := a.Value(i)
		dst = appendLong(dst, int64(len(v)))
		return append(dst, v...), nil
	}, nil
}

func compileNumeric(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[*array.Decimal128](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		v := a.Value(i)
		var b [16]byte
		binary.BigEndian.PutUint64(b[0:], uint64(v.HighBits()))
		binary.BigEndian.PutUint64(b[8:], v.LowBits())
		return appendTwosComplement(dst, b[:]), nil
	}, nil
}

func compileBigNumeric(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[*array.Decimal256](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		words := a.Value(i).Array() // least significant word first
		var b [32]byte
		for w := 0; w < 4; w++ {
			binary.BigEndian.PutUint64(b[24-8*w:], words[w])
		}
		return appendTwosComplement(dst, b[:]), nil
	}, nil
}

// appendTwosComplement appends the Avro bytes of a big-endian two's complement integer, without the
// leading bytes that only repeat the sign (as Java's BigInteger.toByteArray writes decimals).
func appendTwosComplement(dst, b []byte) []byte {
	i := 0
	for i < len(b)-1 && ((b[i] == 0 && b[i+1]&0x80 == 0) || (b[i] == 0xff && b[i+1]&0x80 != 0)) {
		i++
	}
	dst = appendLong(dst, int64(len(b)-i))
	return append(dst, b[i:]...)
}

func compileDateTime(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[*array.Timestamp](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		var buf [32]byte
		text, ok := civil.AppendDateTime(buf[:0], int64(a.Value(i)), 'T')
		if !ok {
			return dst, fmt.Errorf("column %q: %w: DATETIME %d µs is outside years 1-9999", f.Name, ErrUnencodable, a.Value(i))
		}
		dst = appendLong(dst, int64(len(text)))
		return append(dst, text...), nil
	}, nil
}

func compileInterval(f *schema.Field, arr arrow.Array) (valueEnc, error) {
	a, err := as[*array.MonthDayNanoInterval](f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		var buf [64]byte
		text, err := AppendInterval(buf[:0], a.Value(i))
		if err != nil {
			return dst, fmt.Errorf("column %q: %w", f.Name, err)
		}
		dst = appendLong(dst, int64(len(text)))
		return append(dst, text...), nil
	}, nil
}

// AppendInterval appends BigQuery's canonical INTERVAL text "[-]Y-M [-]D [-]H:MM:SS[.F]" for v
// (DESIGN.md's form, e.g. "1-2 3 4:05:06.789"): the year-month part from v.Months, the day part
// from v.Days and the time part from v.Nanoseconds, each with its own sign, and the fraction without
// trailing zeros. Sub-microsecond nanoseconds give an error wrapping ErrUnencodable, since BigQuery
// keeps microseconds. It is the one INTERVAL formatter: the Avro wire and every text output use it.
func AppendInterval(dst []byte, v arrow.MonthDayNanoInterval) ([]byte, error) {
	if v.Nanoseconds%1000 != 0 {
		return dst, fmt.Errorf("%w: INTERVAL with %d ns is not a whole number of microseconds", ErrUnencodable, v.Nanoseconds)
	}
	months := int64(v.Months)
	if months < 0 {
		dst, months = append(dst, '-'), -months
	}
	dst = strconv.AppendInt(dst, months/12, 10)
	dst = strconv.AppendInt(append(dst, '-'), months%12, 10)
	dst = strconv.AppendInt(append(dst, ' '), int64(v.Days), 10)
	dst = append(dst, ' ')
	micros := uint64(v.Nanoseconds / 1000)
	if v.Nanoseconds < 0 {
		dst, micros = append(dst, '-'), uint64(-(v.Nanoseconds / 1000))
	}
	secs, frac := micros/1e6, micros%1e6
	dst = strconv.AppendUint(dst, secs/3600, 10)
	dst = appendPadded(append(dst, ':'), int(secs/60%60), 2)
	dst = appendPadded(append(dst, ':'), int(secs%60), 2)
	if frac != 0 {
		n := len(dst) + 1
		dst = appendPadded(append(dst, '.'), int(frac), 6)
		for dst[len(dst)-1] == '0' && len(dst) > n {
			dst = dst[:len(dst)-1]
		}
	}
	return dst, nil
}

func appendPadded(dst []byte, v, width int) []byte {
	var buf [8]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for n := len(b); n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendLong appends v as an Avro long: a zigzag varint.
func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}
