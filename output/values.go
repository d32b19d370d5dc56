package output

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
)

// This file turns Arrow values into the text forms of BigQuery's JSON export, which NDJSON and
// CSV output share (DESIGN.md "Data conventions"). The text of a non-null scalar:
//
//	BOOL        true, false
//	INT64       -9223372036854775808
//	FLOAT64     the shortest decimal that reads back as the same float64: plain notation for
//	            magnitudes in [1e-6, 1e21), otherwise 1.5e+300 or 5e-324; -0 stays -0; NaN,
//	            Infinity, -Infinity
//	NUMERIC,    the exact decimal without trailing fraction zeros: 123.456, 0, -0.5, all 77
//	BIGNUMERIC  digits of BIGNUMERIC's extremes; never through float64
//	BYTES       standard base64 with padding
//	DATE        2024-02-29
//	TIME        23:59:59.999999; the fraction, when not zero, always has six digits
//	DATETIME    2024-02-29T23:59:59.999999 (fraction as for TIME)
//	TIMESTAMP   2024-02-29 23:59:59.999999 UTC (fraction as for TIME); a TIMESTAMP(12) read
//	            as nanos or picos has 9 or 12 fraction digits: 23:59:59.123456789012 UTC
//	INTERVAL    canonical [-]Y-M [-]D [-]H:MM:SS[.F], trailing fraction zeros trimmed
//	RANGE       [2024-01-01, UNBOUNDED)
//	STRING,     the text itself
//	GEOGRAPHY,
//	JSON
//
// In NDJSON, BOOL, finite FLOAT64 and JSON values are bare JSON (except a JSON value that is a
// string: it is written as a string of its JSON text, "\"text\"", the form BigQuery's JSON load
// reads back as that value); every other scalar is a JSON string. Strings are escaped as
// BigQuery's JSON export does: <, > and & as \u003c, \u003e and \u0026, control characters (NUL
// included) as \u00XX or their short escapes, invalid UTF-8 as \ufffd. Appending a value
// allocates nothing.

// appendFunc appends the text of row i of one array to dst.
type appendFunc func(dst []byte, i int) ([]byte, error)

// columnArray asserts that arr, holding column f, has the Arrow type A.
func columnArray[A arrow.Array](f *schema.Field, arr arrow.Array) (A, error) {
	a, ok := arr.(A)
	if !ok {
		return a, fmt.Errorf("%w: column %q of type %s holds an Arrow %s: records must have the Storage Read API schema",
			ErrUnsupported, f.Name, f.Type, arr.DataType())
	}
	return a, nil
}

// jsonFunc returns the function appending the NDJSON form of row i of column f, held in arr:
// null, a scalar, an array (a null list as []), or an object with the fields in schema order.
func jsonFunc(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	if f.Repeated() {
		return jsonList(f, arr)
	}
	value, err := jsonNonNull(f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		if arr.IsNull(i) {
			return append(dst, "null"...), nil
		}
		return value(dst, i)
	}, nil
}

func jsonList(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	list, err := columnArray[*array.List](f, arr)
	if err != nil {
		return nil, err
	}
	elem := *f
	elem.Mode = schema.Required
	item, err := jsonFunc(&elem, list.ListValues())
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		dst = append(dst, '[')
		if list.IsValid(i) {
			start, end := list.ValueOffsets(i)
			for j := start; j < end; j++ {
				if j > start {
					dst = append(dst, ',')
				}
				var err error
				if dst, err = item(dst, int(j)); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, ']'), nil
	}, nil
}

// jsonObject returns the function appending row i of the arrays cols, holding fields, as a JSON
// object. A top-level row is such an object too.
func jsonObject(fields []*schema.Field, cols []arrow.Array) (appendFunc, error) {
	members := make([]appendFunc, len(fields))
	keys := make([][]byte, len(fields))
	for k, c := range fields {
		var err error
		if members[k], err = jsonFunc(c, cols[k]); err != nil {
			return nil, err
		}
		keys[k] = append(appendJSONString(nil, c.Name), ':')
	}
	return func(dst []byte, i int) ([]byte, error) {
		dst = append(dst, '{')
		for k, member := range members {
			if k > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = member(append(dst, keys[k]...), i); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}, nil
}

// jsonNonNull returns the function appending the NDJSON form of a non-null value of column f
// (not REPEATED).
func jsonNonNull(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	switch f.Type {
	case schema.Struct:
		st, err := columnArray[*array.Struct](f, arr)
		if err != nil {
			return nil, err
		}
		cols := make([]arrow.Array, st.NumField())
		if len(cols) != len(f.Fields) {
			return nil, fmt.Errorf("%w: column %q has %d fields, its Arrow struct %d", ErrUnsupported, f.Name, len(f.Fields), len(cols))
		}
		for k := range cols {
			cols[k] = st.Field(k)
		}
		return jsonObject(f.Fields, cols)
	case schema.String, schema.Geography:
		a, err := columnArray[*array.String](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return appendJSONString(dst, a.Value(i)), nil }, err
	case schema.JSON:
		return jsonText(f, arr)
	case schema.Bool:
		return textFunc(f, arr)
	case schema.Float64:
		a, err := columnArray[*array.Float64](f, arr)
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return append(appendFloat(append(dst, '"'), v), '"'), nil
			}
			return appendFloat(dst, v), nil
		}, err
	}
	text, err := textFunc(f, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		dst, err := text(append(dst, '"'), i)
		return append(dst, '"'), err
	}, nil
}

// jsonText appends a JSON column's text as the JSON value it holds, compacted so that it stays on
// one line; a JSON string value goes in as a string of its JSON text. Text that is not JSON is an
// error.
func jsonText(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	a, err := columnArray[*array.String](f, arr)
	if err != nil {
		return nil, err
	}
	values, offsets := a.ValueBytes(), a.ValueOffsets()
	var scratch bytes.Buffer
	return func(dst []byte, i int) ([]byte, error) {
		scratch.Reset()
		if err := json.Compact(&scratch, values[offsets[i]-offsets[0]:offsets[i+1]-offsets[0]]); err != nil {
			return dst, fmt.Errorf("column %q: JSON value %q: %w", f.Name, a.Value(i), err)
		}
		if text := scratch.Bytes(); text[0] != '"' {
			return append(dst, text...), nil
		}
		// A JSON string value is written as a string holding its JSON text: BigQuery's JSON
		// load reads a string given for a JSON column as JSON text, so only this form loads back
		// as the same value.
		return appendJSONString(dst, unsafeString(scratch.Bytes())), nil
	}, nil
}

// unsafeString returns b's bytes as a string without copying; b must not change while it is used.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// textFunc returns the function appending the text of a non-null value of column f (a scalar
// type other than STRING, GEOGRAPHY and JSON, or RANGE), held in arr. The text is ASCII and has
// no character that JSON must escape.
func textFunc(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	switch f.Type {
	case schema.Bool:
		a, err := columnArray[*array.Boolean](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendBool(dst, a.Value(i)), nil }, err
	case schema.Int64:
		a, err := columnArray[*array.Int64](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, a.Value(i), 10), nil }, err
	case schema.Float64:
		a, err := columnArray[*array.Float64](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return appendFloat(dst, a.Value(i)), nil }, err
	case schema.Numeric:
		a, err := columnArray[*array.Decimal128](f, arr)
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			return appendDecimal(dst, []uint64{v.LowBits(), uint64(v.HighBits())}, int(schema.NumericType.Scale)), nil
		}, err
	case schema.BigNumeric:
		a, err := columnArray[*array.Decimal256](f, arr)
		return func(dst []byte, i int) ([]byte, error) {
			words := a.Value(i).Array()
			return appendDecimal(dst, words[:], int(schema.BigNumericType.Scale)), nil
		}, err
	case schema.Bytes:
		a, err := columnArray[*array.Binary](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return base64.StdEncoding.AppendEncode(dst, a.Value(i)), nil }, err
	case schema.Interval:
		a, err := columnArray[*array.MonthDayNanoInterval](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return encode.AppendInterval(dst, a.Value(i)) }, err
	case schema.Range:
		return rangeFunc(f, arr)
	}
	return temporalFunc(f, arr)
}

// temporalFunc is textFunc for DATE, TIME, DATETIME and TIMESTAMP.
func temporalFunc(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	switch f.Type {
	case schema.Date:
		a, err := columnArray[*array.Date32](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return appendDate(dst, int64(a.Value(i)), f) }, err
	case schema.Time:
		a, err := columnArray[*array.Time64](f, arr)
		return func(dst []byte, i int) ([]byte, error) {
			us := int64(a.Value(i))
			if us < 0 || us >= civil.MicrosPerDay {
				return dst, fmt.Errorf("column %q: TIME of %d µs is outside one day", f.Name, us)
			}
			return civil.AppendClock(dst, us), nil
		}, err
	case schema.DateTime:
		a, err := columnArray[*array.Timestamp](f, arr)
		return func(dst []byte, i int) ([]byte, error) { return appendDateClock(dst, int64(a.Value(i)), 'T', f) }, err
	case schema.Timestamp:
		return timestampFunc(f, arr)
	}
	return nil, fmt.Errorf("%w: column %q: no text form for type %s", ErrUnsupported, f.Name, f.Type)
}

// timestampFunc appends a TIMESTAMP as BigQuery prints it, with the fraction's digits of the
// column's precision: 6 (microseconds), 9 (TIMESTAMP(12) read as nanos) or 12 (read as picos,
// whose ISO 8601 text is parsed).
func timestampFunc(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	var value func(i int) (civil.Picos, bool)
	switch f.TimestampPrecision {
	case schema.Picos:
		a, err := columnArray[*array.String](f, arr)
		if err != nil {
			return nil, err
		}
		value = func(i int) (civil.Picos, bool) {
			p, err := civil.ParseISOPicos(a.Value(i))
			return p, err == nil
		}
	case schema.Nanos:
		a, err := columnArray[*array.Timestamp](f, arr)
		if err != nil {
			return nil, err
		}
		value = func(i int) (civil.Picos, bool) { return civil.PicosOfNanos(int64(a.Value(i))), true }
	default:
		a, err := columnArray[*array.Timestamp](f, arr)
		return func(dst []byte, i int) ([]byte, error) {
			dst, err := appendDateClock(dst, int64(a.Value(i)), ' ', f)
			return append(dst, " UTC"...), err
		}, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		p, ok := value(i)
		if ok {
			dst, ok = civil.AppendPicos(dst, p, ' ', int(f.TimestampPrecision))
		}
		if !ok {
			return dst, fmt.Errorf("column %q: TIMESTAMP row %d is not a time within years 1-9999", f.Name, i)
		}
		return append(dst, " UTC"...), nil
	}, nil
}

// rangeFunc appends a RANGE as "[start, end)", a null bound as UNBOUNDED.
func rangeFunc(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	st, err := columnArray[*array.Struct](f, arr)
	if err != nil {
		return nil, err
	}
	if f.RangeElementType == nil || st.NumField() != 2 {
		return nil, fmt.Errorf("%w: RANGE column %q without start and end", ErrUnsupported, f.Name)
	}
	bound := &schema.Field{Name: f.Name, Type: f.RangeElementType.Type}
	var ends [2]appendFunc
	for k := range ends {
		if ends[k], err = textFunc(bound, st.Field(k)); err != nil {
			return nil, err
		}
	}
	return func(dst []byte, i int) ([]byte, error) {
		dst = append(dst, '[')
		for k, end := range ends {
			if k == 1 {
				dst = append(dst, ", "...)
			}
			var err error
			if st.Field(k).IsNull(i) {
				dst = append(dst, "UNBOUNDED"...)
			} else if dst, err = end(dst, i); err != nil {
				return dst, err
			}
		}
		return append(dst, ')'), nil
	}, nil
}

// appendFloat appends v as the shortest decimal that parses back to v.
func appendFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, v, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-2] == '0' {
		dst[n-2], dst = dst[n-1], dst[:n-1] // e-07 → e-7, as JSON writers print it
	}
	return dst
}

// appendDecimal appends the exact decimal value of the two's complement integer words (least
// significant word first) divided by 10^scale, without trailing fraction zeros.
func appendDecimal(dst []byte, words []uint64, scale int) []byte {
	var mag [4]uint64
	copy(mag[:], words)
	neg := words[len(words)-1]>>63 == 1
	if neg {
		carry := uint64(1)
		for k := range words {
			mag[k], carry = bits.Add64(^mag[k], 0, carry)
		}
	}
	// Digits, least significant first, 19 at a time.
	var digits [80]byte
	n := 0
	for top := len(words) - 1; ; {
		for top > 0 && mag[top] == 0 {
			top--
		}
		var rem uint64
		for k := top; k >= 0; k-- {
			mag[k], rem = bits.Div64(rem, mag[k], 1e19)
		}
		last := isZero(mag[:top+1])
		for d := 0; d < 19 && (rem != 0 || !last); d++ {
			digits[n], rem = byte('0'+rem%10), rem/10
			n++
		}
		if last {
			break
		}
	}
	if n <= scale { // at least one integer digit
		for n <= scale {
			digits[n] = '0'
			n++
		}
	}
	if neg {
		dst = append(dst, '-')
	}
	for k := n - 1; k >= scale; k-- {
		dst = append(dst, digits[k])
	}
	frac := 0
	for frac < scale && digits[frac] == '0' {
		frac++
	}
	if frac < scale {
		dst = append(dst, '.')
		for k := scale - 1; k >= frac; k-- {
			dst = append(dst, digits[k])
		}
	}
	return dst
}

func isZero(words []uint64) bool {
	for _, w := range words {
		if w != 0 {
			return false
		}
	}
	return true
}

// appendDate appends the day days after 1970-01-01 as YYYY-MM-DD.
func appendDate(dst []byte, days int64, f *schema.Field) ([]byte, error) {
	out, ok := civil.AppendDate(dst, days)
	if !ok {
		y, _, _ := civil.Date(days)
		return dst, fmt.Errorf("column %q: %s of year %d is outside years 1-9999", f.Name, f.Type, y)
	}
	return out, nil
}

// appendDateClock appends micros, microseconds since 1970-01-01T00:00:00, as the date, sep and
// the time of day.
func appendDateClock(dst []byte, micros int64, sep byte, f *schema.Field) ([]byte, error) {
	out, ok := civil.AppendDateTime(dst, micros, sep)
	if !ok {
		return dst, fmt.Errorf("column %q: %s %d µs is outside years 1-9999", f.Name, f.Type, micros)
	}
	return out, nil
}

// jsonSafe[c] says whether ASCII byte c goes into a JSON string unescaped.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			if r == utf8.RuneError {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
