package emulator

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
)

// ErrBadRow is wrapped by every error LoadNDJSON returns for a malformed row or value.
var ErrBadRow = errors.New("emulator: bad row")

// maxLine bounds one NDJSON row (BigQuery's JSON load limit is 100 MB per row).
const maxLine = 100 << 20

// LoadNDJSON reads rows in BigQuery's JSON load form, one JSON object per line, into one record
// whose schema is schema.ArrowSchema(s). It accepts the forms of DESIGN.md "Data conventions": INT64
// and NUMERIC as strings or numbers (decimals are parsed exactly, never through float64), FLOAT64
// specials as "NaN"/"Infinity"/"-Infinity", BYTES in base64, DATETIME with 'T' or a space,
// TIMESTAMP with " UTC", "Z" or a numeric offset, JSON columns as JSON values or strings holding
// JSON, INTERVAL in canonical form, RANGE as "[start, end)" with UNBOUNDED, arrays (null = empty) and
// objects. A missing key is NULL. Blank lines are skipped. A line that is not valid UTF-8 is refused,
// as BigQuery refuses it. Errors wrap ErrBadRow and name the line and the column. The caller
// releases the record.
func LoadNDJSON(s schema.Schema, r io.Reader, mem memory.Allocator) (arrow.Record, error) {
	b := array.NewRecordBuilder(mem, schema.ArrowSchema(s))
	defer b.Release()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := appendRow(b, s, sc.Bytes()); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadRow, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read NDJSON rows: %w", err)
	}
	return b.NewRecord(), nil
}

func appendRow(b *array.RecordBuilder, s schema.Schema, line []byte) error {
	if !utf8.Valid(line) {
		return invalidUTF8(line)
	}
	row, err := decodeObject(line)
	if err != nil {
		return err
	}
	if err := checkKeys(row, s, ""); err != nil {
		return err
	}
	for i, f := range s {
		if err := appendValue(b.Field(i), f, lookup(row, f.Name), f.Name); err != nil {
			// A failed row leaves the builders ragged; the whole load fails, so that is harmless.
			return err
		}
	}
	return nil
}

// invalidUTF8 is the error for a line that is not valid UTF-8 (encoding/json would load its bytes as
// U+FFFD; BigQuery refuses them). It names the column or key that holds the first invalid byte.
func invalidUTF8(line []byte) error {
	at := 0
	for at < len(line) {
		r, size := utf8.DecodeRune(line[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	msg := fmt.Sprintf("invalid UTF-8 at byte %d: BigQuery loads only UTF-8 text; re-encode the file as UTF-8", at+1)
	if col := jsonPathAt(line, int64(at)); col != "" {
		return fmt.Errorf("column %s: %s", col, msg)
	}
	return errors.New(msg)
}

// jsonFrame is an object or array being read by jsonPathAt.
type jsonFrame struct {
	object  bool
	wantKey bool   // object: the next string is a member's name
	key     string // object: the member being read
	next    int    // array: the index of the next element
}

// jsonPathAt returns the path (st.arr[2].x, as LoadNDJSON names columns) of the key or value of a
// JSON object that holds byte at, or "" if there is none (the byte is outside strings, or the JSON
// breaks before it).
func jsonPathAt(line []byte, at int64) string {
	dec := json.NewDecoder(bytes.NewReader(line))
	var stack []jsonFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
			continue
		}
		var top *jsonFrame
		if n := len(stack); n > 0 {
			top = &stack[n-1]
		}
		isKey := top != nil && top.object && top.wantKey
		switch {
		case isKey:
			top.key, top.wantKey = tok.(string), false
		case top != nil && top.object:
			top.wantKey = true
		case top != nil:
			top.next++
		}
		if dec.InputOffset() > at {
			return framePath(stack)
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, jsonFrame{object: d == '{', wantKey: d == '{'})
		}
	}
}

// framePath joins the members and elements of a jsonPathAt stack; the outermost object is the row.
func framePath(stack []jsonFrame) string {
	var b strings.Builder
	for i, f := range stack {
		switch {
		case !f.object:
			fmt.Fprintf(&b, "[%d]", f.next-1)
		case i > 0:
			b.WriteString("." + f.key)
		default:
			b.WriteString(f.key)
		}
	}
	return b.String()
}

func decodeObject(line []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	row, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("a row must be a JSON object")
	}
	return row, nil
}

// lookup finds a column's value by name, exactly or else case-insensitively (BigQuery column names
// are case-insensitive). A missing key is nil, that is NULL.
func lookup(obj map[string]any, name string) any {
	if v, ok := obj[name]; ok {
		return v
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// checkKeys rejects keys that name no column, as a BigQuery load without ignoreUnknownValues does.
func checkKeys(obj map[string]any, fields []*schema.Field, prefix string) error {
	for k := range obj {
		found := false
		for _, f := range fields {
			found = found || strings.EqualFold(f.Name, k)
		}
		if !found {
			return fmt.Errorf("column %s%s: no such field in the schema", prefix, k)
		}
	}
	return nil
}

func appendValue(b array.Builder, f *schema.Field, v any, path string) error {
	if f.Repeated() {
		return appendList(b.(*array.ListBuilder), f, v, path)
	}
	if v == nil {
		if f.Mode == schema.Required {
			return fmt.Errorf("column %s: null value for a REQUIRED column", path)
		}
		b.AppendNull()
		return nil
	}
	if f.Type == schema.Struct {
		return appendStruct(b.(*array.StructBuilder), f, v, path)
	}
	if err := appendScalar(b, f, v); err != nil {
		return fmt.Errorf("column %s: %w", path, err)
	}
	return nil
}

func appendList(b *array.ListBuilder, f *schema.Field, v any, path string) error {
	b.Append(true)
	if v == nil {
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("column %s: a REPEATED column needs a JSON array, got %s", path, describe(v))
	}
	elem := *f
	elem.Mode = schema.Required
	for i, item := range items {
		if item == nil {
			return fmt.Errorf("column %s[%d]: array element is null; BigQuery arrays cannot hold NULL", path, i)
		}
		if err := appendValue(b.ValueBuilder(), &elem, item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// appendScalar appends a non-null value of a non-repeated, non-STRUCT column.
func appendScalar(b array.Builder, f *schema.Field, v any) error {
	switch f.Type {
	case schema.Range:
		return appendRange(b.(*array.StructBuilder), f, v)
	case schema.JSON:
		text, err := canonicalJSON(v)
		if err != nil {
			return err
		}
		b.(*array.StringBuilder).Append(text)
		return nil
	}
	if _, isString := v.(string); !isString {
		if _, isNumber := v.(json.Number); !isNumber {
			if bv, isBool := v.(bool); isBool && f.Type == schema.Bool {
				b.(*array.BooleanBuilder).Append(bv)
				return nil
			}
			return fmt.Errorf("want a %s value, got %s", f.Type, describe(v))
		}
	}
	return appendText(b, f.Type, fmt.Sprint(v), isNumber(v))
}

func isNumber(v any) bool { _, ok := v.(json.Number); return ok }

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%T", v)
}

func appendStruct(b *array.StructBuilder, f *schema.Field, v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("column %s: want a JSON object for a STRUCT, got %s", path, describe(v))
	}
	if err := checkKeys(obj, f.Fields, path+"."); err != nil {
		return err
	}
	b.Append(true)
	for i, c := range f.Fields {
		if err := appendValue(b.FieldBuilder(i), c, lookup(obj, c.Name), path+"."+c.Name); err != nil {
			return err
		}
	}
	return nil
}

// appendRange appends a RANGE given as "[start, end)" (UNBOUNDED or NULL for an open bound) or as
// an object {"start": …, "end": …}.
func appendRange(b *array.StructBuilder, f *schema.Field, v any) error {
	var bounds [2]any
	switch x := v.(type) {
	case string:
		inner, ok := strings.CutPrefix(strings.TrimSpace(x), "[")
		inner, ok2 := strings.CutSuffix(inner, ")")
		lo, hi, ok3 := strings.Cut(inner, ",")
		if !ok || !ok2 || !ok3 {
			return fmt.Errorf("%q is not a RANGE (want \"[start, end)\")", x)
		}
		for i, s := range []string{lo, hi} {
			s = strings.TrimSpace(s)
			if !strings.EqualFold(s, "UNBOUNDED") && !strings.EqualFold(s, "NULL") {
				bounds[i] = s
			}
		}
	case map[string]any:
		bounds = [2]any{lookup(x, "start"), lookup(x, "end")}
	default:
		return fmt.Errorf("want a RANGE string \"[start, end)\", got %s", describe(v))
	}
	b.Append(true)
	for i, bound := range bounds {
		if bound == nil {
			b.FieldBuilder(i).AppendNull()
			continue
		}
		s, ok := bound.(string)
		if !ok {
			return fmt.Errorf("RANGE bound must be a string, got %s", describe(bound))
		}
		if err := appendText(b.FieldBuilder(i), f.RangeElementType.Type, s, false); err != nil {
			return err
		}
	}
	return nil
}

// appendText appends a scalar given as text (a JSON string, or a JSON number's literal when number
// is true).
func appendText(b array.Builder, t schema.Type, s string, number bool) error {
	switch t {
	case schema.Bool:
		v, err := strconv.ParseBool(s)
		if err != nil || number {
			return fmt.Errorf("%q is not a BOOL", s)
		}
		b.(*array.BooleanBuilder).Append(v)
	case schema.Int64:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an INT64", s)
		}
		b.(*array.Int64Builder).Append(v)
	case schema.Float64:
		v, err := parseFloat(s, number)
		if err != nil {
			return err
		}
		b.(*array.Float64Builder).Append(v)
	case schema.Numeric:
		return appendNumeric(b.(*array.Decimal128Builder), s)
	case schema.BigNumeric:
		return appendBigNumeric(b.(*array.Decimal256Builder), s)
	case schema.String, schema.Geography:
		if number {
			return fmt.Errorf("want a string for %s, got a number", t)
		}
		b.(*array.StringBuilder).Append(s)
	case schema.Bytes:
		v, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("BYTES must be base64: %v", err)
		}
		b.(*array.BinaryBuilder).Append(v)
	default:
		if number && t != schema.Timestamp {
			return fmt.Errorf("want a string for %s, got a number", t)
		}
		return appendTemporal(b, t, s, number)
	}
	return nil
}

func parseFloat(s string, number bool) (float64, error) {
	if !number {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity", "inf", "+inf", "+Infinity":
			return math.Inf(1), nil
		case "-Infinity", "-inf":
			return math.Inf(-1), nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a FLOAT64 (use \"NaN\", \"Infinity\" or \"-Infinity\" for the special values)", s)
	}
	return v, nil
}

var (
	maxNumeric    = new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	maxBigNumeric = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1))
	minBigNumeric = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 255))
)

func appendNumeric(b *array.Decimal128Builder, s string) error {
	v, err := parseDecimal(s, int(schema.NumericType.Scale))
	if err != nil {
		return err
	}
	if new(big.Int).Abs(v).Cmp(maxNumeric) > 0 {
		return fmt.Errorf("NUMERIC %s is out of range (at most 29 integer digits)", s)
	}
	w := twosComplementWords(v)
	b.Append(decimal128.New(int64(w[1]), w[0]))
	return nil
}

func appendBigNumeric(b *array.Decimal256Builder, s string) error {
	v, err := parseDecimal(s, int(schema.BigNumericType.Scale))
	if err != nil {
		return err
	}
	if v.Cmp(maxBigNumeric) > 0 || v.Cmp(minBigNumeric) < 0 {
		return fmt.Errorf("BIGNUMERIC %s is out of range", s)
	}
	w := twosComplementWords(v)
	b.Append(decimal256.New(w[3], w[2], w[1], w[0]))
	return nil
}

func appendTemporal(b array.Builder, t schema.Type, s string, number bool) error {
	switch t {
	case schema.Date:
		d, err := parseDate(s)
		if err != nil {
			return err
		}
		b.(*array.Date32Builder).Append(arrow.Date32(d.days()))
	case schema.Time:
		us, err := parseTime(s)
		if err != nil {
			return err
		}
		b.(*array.Time64Builder).Append(arrow.Time64(us))
	case schema.DateTime:
		us, err := parseDateTime(s)
		if err != nil {
			return err
		}
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
	case schema.Timestamp:
		if sb, ok := b.(*array.StringBuilder); ok { // a TIMESTAMP(12), held as its ISO 8601 text
			return appendPicos(sb, s, number)
		}
		us, err := timestampMicros(s, number)
		if err != nil {
			return err
		}
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
	case schema.Interval:
		iv, err := parseInterval(s)
		if err != nil {
			return err
		}
		b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: iv.months, Days: iv.days, Nanoseconds: iv.nanos})
	default:
		return fmt.Errorf("type %s cannot be loaded from text", t)
	}
	return nil
}

// timestampMicros parses a TIMESTAMP string, or a JSON number of seconds since the epoch (which
// BigQuery also loads), into microseconds since the epoch.
func timestampMicros(s string, number bool) (int64, error) {
	if !number {
		return parseTimestamp(s)
	}
	v, err := parseDecimal(s, 6)
	if err != nil || !v.IsInt64() || v.Int64() < minTimestamp || v.Int64() > maxTimestamp {
		return 0, fmt.Errorf("%s is not a TIMESTAMP in seconds since the epoch within 0001-01-01 to 9999-12-31", s)
	}
	return v.Int64(), nil
}

// appendPicos appends a TIMESTAMP(12) given as text (up to 12 fractional digits) or as a JSON
// number of seconds since the epoch, as the ISO 8601 text a read session serves it in.
func appendPicos(b *array.StringBuilder, s string, number bool) error {
	var p civil.Picos
	if number {
		v, err := parseDecimal(s, 12)
		sec, frac := new(big.Int), new(big.Int)
		if err == nil {
			sec.DivMod(v, big.NewInt(civil.PicosPerSecond), frac) // frac >= 0: sec rounds toward the past
		}
		if err != nil || !sec.IsInt64() {
			return fmt.Errorf("%s is not a TIMESTAMP in seconds since the epoch within 0001-01-01 to 9999-12-31", s)
		}
		p = civil.Picos{Sec: sec.Int64(), Frac: frac.Int64()}
	} else {
		civilPart, offset, err := cutZone(s)
		if err != nil {
			return err
		}
		if p, err = civil.ParsePicos(civilPart, civil.Loose); err != nil {
			return fmt.Errorf("timestamp %q is malformed (want YYYY-MM-DD HH:MM:SS[.f, up to 12 digits] with an optional zone)", s)
		}
		p.Sec -= offset
	}
	text, ok := civil.AppendISOPicos(nil, p)
	if !ok {
		return fmt.Errorf("timestamp %q is out of range (0001-01-01 to 9999-12-31)", s)
	}
	b.Append(string(text))
	return nil
}

// canonicalJSON returns the compact JSON text of a JSON column's value. A string holds JSON text
// itself (BigQuery loads JSON columns given either way). Object keys come out sorted; numbers keep
// their literal form.
func canonicalJSON(v any) (string, error) {
	if s, ok := v.(string); ok {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil || dec.More() {
			return "", fmt.Errorf("the string %q is not valid JSON text", s)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode JSON value: %v", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
