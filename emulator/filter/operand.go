package filter

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/bqread/bqread/schema"
)

// untyped marks a quoted string literal whose type comes from what it is compared with.
const untyped schema.Type = ""

// nullType marks the NULL literal.
const nullType schema.Type = "NULL"

// operand is a column reference (col ≥ 0), a function call over columns (fn not nil) or a literal
// (col < 0, value in lit).
type operand struct {
	col int
	typ schema.Type
	lit value
	raw string // an untyped string literal's text
	pos int
	fn  func(*row) value
}

// isLit reports whether o is a literal.
func (o operand) isLit() bool { return o.col < 0 && o.fn == nil }

// value is one scalar. Numbers use i (INT64, and DATE days or TIME/DATETIME/TIMESTAMP micros),
// f (FLOAT64) or r (NUMERIC, BIGNUMERIC, exact number literals), as kind says.
type value struct {
	null bool
	kind numKind
	i    int64
	f    float64
	r    *big.Rat
	s    string
	b    bool
}

type numKind int

const (
	kInt numKind = iota
	kFloat
	kRat
)

func (p *parser) operand() (operand, error) {
	t := p.next()
	switch {
	case t.kind == tNumber:
		return numberLiteral(t.text, t.pos)
	case t.kind == tOp && t.text == "-":
		n := p.next()
		if n.kind != tNumber {
			return operand{}, invalid(n.pos, "expected a number after \"-\"")
		}
		return numberLiteral("-"+n.text, t.pos)
	case t.kind == tString:
		return operand{col: -1, typ: untyped, raw: t.text, lit: value{s: t.text}, pos: t.pos}, nil
	case t.kind == tBytes:
		return operand{col: -1, typ: schema.Bytes, lit: value{s: t.text}, pos: t.pos}, nil
	case t.is("NULL"):
		return operand{col: -1, typ: nullType, lit: value{null: true}, pos: t.pos}, nil
	case t.is("TRUE"), t.is("FALSE"):
		return operand{col: -1, typ: schema.Bool, lit: value{b: t.is("TRUE")}, pos: t.pos}, nil
	case t.is("CAST"):
		return p.cast(t.pos)
	case t.kind == tIdent && !t.raw && p.peek().kind == tString && typedLiteral(t.text):
		s := p.next()
		return coerce(operand{col: -1, typ: untyped, raw: s.text, pos: s.pos}, schema.Type(strings.ToUpper(t.text)))
	case p.isCall(t):
		return p.call(t)
	case t.kind == tIdent:
		return p.column(t)
	}
	return operand{}, invalid(t.pos, "expected a column or a literal, found %q", t.text)
}

func typedLiteral(name string) bool {
	switch strings.ToUpper(name) {
	case "DATE", "TIME", "DATETIME", "TIMESTAMP", "NUMERIC", "BIGNUMERIC":
		return true
	}
	return false
}

func (p *parser) column(t token) (operand, error) {
	if n := p.peek(); n.kind == tOp && n.text == "." {
		return operand{}, invalid(t.pos, "nested field paths such as %s.… are not supported: filter on top-level columns", t.text)
	}
	for i, f := range p.schema {
		if !strings.EqualFold(f.Name, t.text) {
			continue
		}
		switch {
		case f.Repeated():
			return operand{}, invalid(t.pos, "ARRAY column %s cannot be filtered on", f.Name)
		case f.Type == schema.Struct, f.Type == schema.JSON, f.Type == schema.Geography,
			f.Type == schema.Range, f.Type == schema.Interval:
			return operand{}, invalid(t.pos, "%s column %s cannot be filtered on", f.Type, f.Name)
		case f.PicosColumn():
			return operand{}, invalid(t.pos, "TIMESTAMP(12) column %s cannot be filtered on", f.Name)
		}
		p.used[f.Name] = true
		p.refs = append(p.refs, i)
		return operand{col: i, typ: f.Type, pos: t.pos}, nil
	}
	return operand{}, invalid(t.pos, "unrecognized name: %s", t.text)
}

func (p *parser) cast(pos int) (operand, error) {
	if err := p.expectOp("("); err != nil {
		return operand{}, err
	}
	x, err := p.operand()
	if err != nil {
		return operand{}, err
	}
	if !x.isLit() {
		return operand{}, invalid(x.pos, "CAST of a column or a function is not supported: CAST a literal instead")
	}
	if !p.accept("AS") {
		return operand{}, invalid(p.peek().pos, "expected AS in CAST")
	}
	tt := p.next()
	if err := p.expectOp(")"); err != nil {
		return operand{}, err
	}
	t := schema.Type(strings.ToUpper(tt.text))
	if t == "INTEGER" {
		t = schema.Int64
	}
	if x.typ != untyped && x.typ != nullType && numeric(x.typ) && t == schema.String {
		x = operand{col: -1, typ: untyped, raw: numText(x.lit), pos: x.pos}
	} else if x.typ != untyped && x.typ != nullType && !(numeric(x.typ) && numeric(t)) && x.typ != t {
		return operand{}, invalid(pos, "CAST from %s to %s is not supported", x.typ, t)
	}
	return coerce(x, t)
}

func numText(v value) string {
	switch v.kind {
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	}
	return v.r.RatString()
}

func numberLiteral(text string, pos int) (operand, error) {
	if !strings.ContainsAny(text, ".eE") {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return operand{col: -1, typ: schema.Int64, lit: value{kind: kInt, i: i}, pos: pos}, nil
		}
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return operand{}, invalid(pos, "bad number %q", text)
	}
	return operand{col: -1, typ: schema.Numeric, lit: value{kind: kRat, r: r}, pos: pos}, nil
}

func numeric(t schema.Type) bool {
	switch t {
	case schema.Int64, schema.Float64, schema.Numeric, schema.BigNumeric:
		return true
	}
	return false
}

// coerce gives a literal operand the type t, parsing untyped string literals; columns and literals
// already of a compatible type are returned as they are.
func coerce(o operand, t schema.Type) (operand, error) {
	switch {
	case o.typ == nullType || o.typ == t || numeric(o.typ) && numeric(t):
		return o, nil
	case o.typ != untyped || o.col >= 0:
		return operand{}, invalid(o.pos, "no matching signature: %s compared with %s", o.typ, t)
	}
	v, err := parseLiteral(o.raw, t)
	if err != nil {
		return operand{}, invalid(o.pos, "could not cast literal %q to type %s", o.raw, t)
	}
	return operand{col: -1, typ: t, lit: v, pos: o.pos}, nil
}

func parseLiteral(s string, t schema.Type) (value, error) {
	s = strings.TrimSpace(s)
	switch t {
	case schema.String:
		return value{s: s}, nil
	case schema.Bool:
		b, err := strconv.ParseBool(s)
		return value{b: b}, err
	case schema.Int64, schema.Float64, schema.Numeric, schema.BigNumeric:
		o, err := numberLiteral(s, 0)
		if err == nil && t == schema.Float64 && o.lit.kind == kRat {
			f, _ := o.lit.r.Float64()
			o.lit = value{kind: kFloat, f: f}
		}
		return o.lit, err
	case schema.Date:
		d, err := parseDate(s)
		return value{i: d}, err
	case schema.Time:
		us, err := parseTime(s)
		return value{i: us}, err
	case schema.DateTime, schema.Timestamp:
		us, err := parseDateTime(s, t == schema.Timestamp)
		return value{i: us}, err
	}
	return value{}, errUnsupported
}

var errUnsupported = invalid(0, "unsupported type")

// parseDate accepts BigQuery's date literal form, including unpadded months and days (2014-9-27).
func parseDate(s string) (int64, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return 0, errUnsupported
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return 0, err
		}
		n[i] = v
	}
	d := time.Date(n[0], time.Month(n[1]), n[2], 0, 0, 0, 0, time.UTC)
	if n[0] < 1 || n[0] > 9999 || d.Month() != time.Month(n[1]) || d.Day() != n[2] {
		return 0, errUnsupported
	}
	return d.Unix() / 86400, nil
}

// parseTime accepts H:M:S[.ffffff] and returns microseconds since midnight.
func parseTime(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(sec, ":")
	if len(parts) != 3 || len(frac) > 6 {
		return 0, errUnsupported
	}
	var us int64
	for i, lim := range []int64{24, 60, 60} {
		v, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil || v < 0 || v >= lim {
			return 0, errUnsupported
		}
		us = us*60 + v
	}
	us *= 1e6
	if frac != "" {
		f, err := strconv.ParseInt((frac + "00000")[:6], 10, 64)
		if err != nil {
			return 0, err
		}
		us += f
	}
	return us, nil
}

// parseDateTime accepts "date[( |T)time]" and, for timestamps, a trailing zone (UTC, Z, ±HH[:MM]).
func parseDateTime(s string, zoned bool) (int64, error) {
	offset := int64(0)
	if zoned {
		var err error
		if s, offset, err = cutZone(s); err != nil {
			return 0, err
		}
	}
	date, clock, hasTime := strings.Cut(strings.Replace(s, "T", " ", 1), " ")
	d, err := parseDate(date)
	if err != nil {
		return 0, err
	}
	var us int64
	if hasTime {
		if us, err = parseTime(clock); err != nil {
			return 0, err
		}
	}
	return d*86400e6 + us - offset*60e6, nil
}

// cutZone removes a trailing time zone and returns its offset in minutes east of UTC.
func cutZone(s string) (string, int64, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasSuffix(s, " UTC"):
		return s[:len(s)-4], 0, nil
	case strings.HasSuffix(s, "Z"), strings.HasSuffix(s, "z"):
		return s[:len(s)-1], 0, nil
	}
	i := strings.LastIndexAny(s, "+-")
	if i < 10 { // the dashes of the date itself
		return s, 0, nil
	}
	h, m, _ := strings.Cut(strings.TrimSpace(s[i+1:]), ":")
	hh, err1 := strconv.Atoi(h)
	mm := 0
	var err2 error
	if m != "" {
		mm, err2 = strconv.Atoi(m)
	}
	if err1 != nil || err2 != nil || hh > 14 || mm > 59 {
		return "", 0, errUnsupported
	}
	off := int64(hh*60 + mm)
	if s[i] == '-' {
		off = -off
	}
	return strings.TrimSpace(s[:i]), off, nil
}

// compare orders two non-null values of compatible types; unordered is true for NaN.
func compare(a, b value, t schema.Type) (c int, unordered bool) {
	switch {
	case numeric(t):
		return compareNum(a, b)
	case t == schema.String, t == schema.Bytes:
		return strings.Compare(a.s, b.s), false
	case t == schema.Bool:
		return boolInt(a.b) - boolInt(b.b), false
	}
	return cmpInt(a.i, b.i), false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareNum(a, b value) (int, bool) {
	if a.kind == kInt && b.kind == kInt {
		return cmpInt(a.i, b.i), false
	}
	if a.kind == kFloat && math.IsNaN(a.f) || b.kind == kFloat && math.IsNaN(b.f) {
		return 0, true
	}
	if a.kind != kRat && b.kind != kRat {
		fa, fb := toFloat(a), toFloat(b)
		switch {
		case fa < fb:
			return -1, false
		case fa > fb:
			return 1, false
		}
		return 0, false
	}
	if a.kind == kFloat && math.IsInf(a.f, 0) {
		return int(math.Copysign(1, a.f)), false
	}
	if b.kind == kFloat && math.IsInf(b.f, 0) {
		return -int(math.Copysign(1, b.f)), false
	}
	return toRat(a).Cmp(toRat(b)), false
}

func toFloat(v value) float64 {
	if v.kind == kInt {
		return float64(v.i)
	}
	return v.f
}

func toRat(v value) *big.Rat {
	switch v.kind {
	case kInt:
		return new(big.Rat).SetInt64(v.i)
	case kFloat:
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(v.f, 'g', -1, 64))
		if r == nil {
			r = new(big.Rat).SetFloat64(v.f)
		}
		return r
	}
	return v.r
}
