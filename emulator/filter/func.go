package filter

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
)

// This file holds the functions a row restriction may call: the date and time functions people use
// to prune partitions, with GoogleSQL's semantics (UTC unless a time zone argument says otherwise).
// A call whose arguments are all literals is computed once, when the restriction is parsed.

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

var (
	minDay    = civil.Days(1, 1, 1)
	maxDay    = civil.Days(9999, 12, 31)
	minMicros = minDay * microsPerDay
	maxMicros = (maxDay+1)*microsPerDay - 1
)

// argKind is what one argument of a function is, syntactically.
type argKind int

const (
	aValue    argKind = iota // an operand
	aPart                    // a date part: DAY, WEEK(MONDAY), ...
	aInterval                // INTERVAL n part
)

// fnSpec describes one function: its argument kinds (the last ones optional from min on), how to
// build the call, and its signatures for error messages.
type fnSpec struct {
	args  []argKind
	min   int
	bare  bool // may be called without parentheses (CURRENT_DATE)
	build func(p *parser, c *call) (operand, error)
	sigs  string
}

// call is a parsed function call.
type call struct {
	name string
	pos  int
	args []arg
	spec *fnSpec
}

// arg is one argument: an operand, or a date part (alone or as an INTERVAL's unit).
type arg struct {
	operand
	kind    argKind
	part    string // DAY, WEEK, ... (upper case)
	weekday int64  // WEEK(<weekday>): 0 = Sunday
}

var funcs map[string]*fnSpec

func init() {
	tz := []argKind{aValue, aValue}
	funcs = map[string]*fnSpec{
		"DATE": {args: []argKind{aValue, aValue, aValue}, min: 1, build: buildDate,
			sigs: "DATE(TIMESTAMP, [STRING]); DATE(DATETIME); DATE(DATE); DATE(INT64, INT64, INT64)"},
		"TIMESTAMP": {args: tz, min: 1, build: buildTimestamp,
			sigs: "TIMESTAMP(STRING, [STRING]); TIMESTAMP(DATE, [STRING]); TIMESTAMP(DATETIME, [STRING])"},
		"DATE_TRUNC": {args: []argKind{aValue, aPart}, min: 2, build: buildTrunc(schema.Date),
			sigs: "DATE_TRUNC(DATE, DATE_TIME_PART)"},
		"DATETIME_TRUNC": {args: []argKind{aValue, aPart}, min: 2, build: buildTrunc(schema.DateTime),
			sigs: "DATETIME_TRUNC(DATETIME, DATE_TIME_PART)"},
		"TIMESTAMP_TRUNC": {args: []argKind{aValue, aPart, aValue}, min: 2, build: buildTrunc(schema.Timestamp),
			sigs: "TIMESTAMP_TRUNC(TIMESTAMP, DATE_TIME_PART, [STRING])"},
		"CURRENT_DATE": {args: []argKind{aValue}, bare: true, build: buildCurrent(schema.Date),
			sigs: "CURRENT_DATE([STRING])"},
		"CURRENT_DATETIME": {args: []argKind{aValue}, bare: true, build: buildCurrent(schema.DateTime),
			sigs: "CURRENT_DATETIME([STRING])"},
		"CURRENT_TIMESTAMP": {bare: true, build: buildCurrent(schema.Timestamp),
			sigs: "CURRENT_TIMESTAMP()"},
	}
	for _, t := range []schema.Type{schema.Date, schema.DateTime, schema.Timestamp} {
		for _, op := range []string{"ADD", "SUB"} {
			name := string(t) + "_" + op
			funcs[name] = &fnSpec{args: []argKind{aValue, aInterval}, min: 2, build: buildAdd(t, op == "SUB"),
				sigs: fmt.Sprintf("%s(%s, INTERVAL INT64 DATE_TIME_PART)", name, t)}
		}
	}
}

// funcNames lists the functions for the error about an unsupported one.
const funcNames = "CAST, DATE, TIMESTAMP, DATE_TRUNC, DATETIME_TRUNC, TIMESTAMP_TRUNC, DATE_ADD, DATE_SUB, " +
	"DATETIME_ADD, DATETIME_SUB, TIMESTAMP_ADD, TIMESTAMP_SUB, CURRENT_DATE, CURRENT_DATETIME and CURRENT_TIMESTAMP"

// isCall reports whether t, the token just read, starts a function call.
func (p *parser) isCall(t token) bool {
	if t.kind != tIdent || t.raw {
		return false
	}
	if n := p.peek(); n.kind == tOp && n.text == "(" {
		return true
	}
	spec := funcs[strings.ToUpper(t.text)]
	return spec != nil && spec.bare && p.schema.Find(t.text) == nil
}

// call parses the call of function name, whose name token was just read.
func (p *parser) call(name token) (operand, error) {
	c := &call{name: strings.ToUpper(name.text), pos: name.pos, spec: funcs[strings.ToUpper(name.text)]}
	if c.spec == nil {
		return operand{}, invalid(name.pos, "function %s is not supported: a row restriction may call %s", name.text, funcNames)
	}
	if t := p.peek(); t.kind == tOp && t.text == "(" {
		p.i++
		if err := p.callArgs(c); err != nil {
			return operand{}, err
		}
	}
	if len(c.args) < c.spec.min || len(c.args) > len(c.spec.args) {
		return operand{}, c.noSignature()
	}
	if c.name == "CURRENT_DATE" || c.name == "CURRENT_DATETIME" || c.name == "CURRENT_TIMESTAMP" {
		p.clock = true
	}
	return c.spec.build(p, c)
}

// callArgs parses the arguments of c up to its closing parenthesis.
func (p *parser) callArgs(c *call) error {
	if t := p.peek(); t.kind == tOp && t.text == ")" {
		p.i++
		return nil
	}
	for {
		kind := aValue
		if i := len(c.args); i < len(c.spec.args) {
			kind = c.spec.args[i]
		}
		a, err := p.callArg(kind)
		if err != nil {
			return err
		}
		c.args = append(c.args, a)
		switch sep := p.next(); {
		case sep.kind == tOp && sep.text == ")":
			return nil
		case sep.kind != tOp || sep.text != ",":
			return invalid(sep.pos, "expected \",\" or \")\" in the arguments of %s, found %q", c.name, sep.text)
		}
	}
}

func (p *parser) callArg(kind argKind) (arg, error) {
	switch kind {
	case aPart:
		return p.datePart()
	case aInterval:
		if t := p.next(); !t.is("INTERVAL") {
			return arg{}, invalid(t.pos, "expected INTERVAL, found %q", t.text)
		}
		n, err := p.operand()
		if err != nil {
			return arg{}, err
		}
		if n.typ != schema.Int64 && n.typ != nullType {
			return arg{}, invalid(n.pos, "INTERVAL needs an INT64 count, not %s", typeName(n.typ))
		}
		a, err := p.datePart()
		a.operand, a.kind = n, aInterval
		return a, err
	}
	o, err := p.operand()
	return arg{operand: o}, err
}

var weekdays = []string{"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}

// datePart parses a date part name, with WEEK's optional (<weekday>).
func (p *parser) datePart() (arg, error) {
	t := p.next()
	name := strings.ToUpper(t.text)
	if t.kind != tIdent || t.raw || partUnits[name] == 0 && !calendarParts[name] {
		return arg{}, invalid(t.pos, "a valid date part name is required but found %s", t.text)
	}
	a := arg{kind: aPart, part: name, operand: operand{col: -1, pos: t.pos}}
	if n := p.peek(); name == "WEEK" && n.kind == tOp && n.text == "(" {
		p.i++
		w := p.next()
		a.weekday = -1
		for i, d := range weekdays {
			if w.is(d) {
				a.weekday = int64(i)
			}
		}
		if a.weekday < 0 {
			return arg{}, invalid(w.pos, "WEEK(...) needs a weekday (SUNDAY to SATURDAY), found %q", w.text)
		}
		return a, p.expectOp(")")
	}
	return a, nil
}

// partUnits are the date parts that are a fixed number of microseconds; calendarParts the others.
var (
	partUnits = map[string]int64{
		"MICROSECOND": 1, "MILLISECOND": 1_000, "SECOND": microsPerSecond, "MINUTE": 60 * microsPerSecond,
		"HOUR": 3600 * microsPerSecond, "DAY": microsPerDay,
	}
	calendarParts = map[string]bool{"WEEK": true, "ISOWEEK": true, "MONTH": true, "QUARTER": true, "YEAR": true, "ISOYEAR": true}
)

// noSignature is the error for arguments that match none of c's signatures.
func (c *call) noSignature() error {
	types := make([]string, len(c.args))
	for i, a := range c.args {
		switch a.kind {
		case aPart:
			types[i] = "DATE_TIME_PART"
		case aInterval:
			types[i] = "INTERVAL INT64 DATE_TIME_PART"
		default:
			types[i] = typeName(a.typ)
		}
	}
	return invalid(c.pos, "no matching signature for function %s for argument types: %s; supported: %s",
		c.name, strings.Join(types, ", "), c.spec.sigs)
}

func typeName(t schema.Type) string {
	switch t {
	case untyped:
		return "STRING"
	}
	return string(t)
}

// want gives argument i the type t (parsing a string literal); ok is false when it cannot have it.
func (c *call) want(i int, t schema.Type) bool {
	a := &c.args[i]
	if a.kind != aValue || a.typ != untyped && a.typ != nullType && a.typ != t {
		return false
	}
	if a.typ == untyped {
		o, err := coerce(a.operand, t)
		if err != nil {
			return false
		}
		a.operand = o
	}
	return true
}

// zone returns the time zone of the optional argument i (a string literal), nil for UTC.
func (c *call) zone(i int) (*time.Location, error) {
	if i >= len(c.args) {
		return nil, nil
	}
	a := c.args[i]
	if a.kind != aValue || a.typ != untyped {
		return nil, invalid(a.pos, "the time zone of %s must be a string literal", c.name)
	}
	loc, err := parseZone(a.raw)
	if err != nil {
		return nil, invalid(a.pos, "invalid time zone %q: use a name such as \"America/Los_Angeles\" or an offset such as \"+05:30\"", a.raw)
	}
	return loc, nil
}

// apply returns the operand computing f over the values of args (days or micros, or INT64s): a
// literal when all are literals, else a function of the row. Any NULL argument gives NULL; a result
// out of range (ok false) is an error for literals and NULL for rows.
func (c *call) apply(typ schema.Type, f func(v [3]int64) (int64, bool), args ...operand) (operand, error) {
	fn := func(r *row) value {
		var v [3]int64
		for i, a := range args {
			x := r.get(a)
			if x.null {
				return value{null: true}
			}
			v[i] = x.i
		}
		out, ok := f(v)
		return value{i: out, null: !ok}
	}
	lit := true
	for _, a := range args {
		lit = lit && a.isLit()
	}
	if !lit {
		return operand{col: -1, typ: typ, pos: c.pos, fn: fn}, nil
	}
	v := fn(nil)
	for _, a := range args {
		if a.lit.null {
			return operand{col: -1, typ: typ, lit: v, pos: c.pos}, nil
		}
	}
	if v.null {
		return operand{}, invalid(c.pos, "%s: the result is out of range (%s)", c.name, rangeOf(typ))
	}
	return operand{col: -1, typ: typ, lit: v, pos: c.pos}, nil
}

func rangeOf(t schema.Type) string {
	if t == schema.Date {
		return "0001-01-01 to 9999-12-31"
	}
	return "0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999"
}

func buildDate(p *parser, c *call) (operand, error) {
	if len(c.args) == 3 {
		if !c.want(0, schema.Int64) || !c.want(1, schema.Int64) || !c.want(2, schema.Int64) {
			return operand{}, c.noSignature()
		}
		return c.apply(schema.Date, func(v [3]int64) (int64, bool) {
			if !civil.Valid(v[0], v[1], v[2]) {
				return 0, false
			}
			return civil.Days(v[0], v[1], v[2]), true
		}, c.args[0].operand, c.args[1].operand, c.args[2].operand)
	}
	x := &c.args[0]
	if x.typ == untyped && !c.want(0, schema.Date) && !c.want(0, schema.Timestamp) {
		return operand{}, invalid(x.pos, "could not cast literal %q to type DATE or TIMESTAMP", x.raw)
	}
	if x.typ == nullType {
		x.typ = schema.Timestamp
	}
	switch {
	case x.kind != aValue:
	case x.typ == schema.Date && len(c.args) == 1:
		return x.operand, nil
	case x.typ == schema.DateTime && len(c.args) == 1:
		return c.apply(schema.Date, func(v [3]int64) (int64, bool) { return floorDiv(v[0], microsPerDay), true }, x.operand)
	case x.typ == schema.Timestamp:
		loc, err := c.zone(1)
		if err != nil {
			return operand{}, err
		}
		return c.apply(schema.Date, func(v [3]int64) (int64, bool) {
			return floorDiv(toLocal(v[0], loc), microsPerDay), true
		}, x.operand)
	}
	return operand{}, c.noSignature()
}

func buildTimestamp(p *parser, c *call) (operand, error) {
	loc, err := c.zone(1)
	if err != nil {
		return operand{}, err
	}
	x := c.args[0]
	switch {
	case x.kind != aValue:
	case x.typ == untyped:
		us, err := parseTimestampIn(x.raw, loc)
		if err != nil {
			return operand{}, invalid(x.pos, "could not cast literal %q to type TIMESTAMP", x.raw)
		}
		return operand{col: -1, typ: schema.Timestamp, lit: value{i: us}, pos: c.pos}, nil
	case x.typ == schema.String:
		return operand{}, invalid(x.pos, "TIMESTAMP of a STRING column is not supported: give a string literal, a DATE or a DATETIME")
	case x.typ == schema.Date:
		return c.apply(schema.Timestamp, func(v [3]int64) (int64, bool) {
			return checkMicros(fromLocal(v[0]*microsPerDay, loc))
		}, x.operand)
	case x.typ == schema.DateTime:
		return c.apply(schema.Timestamp, func(v [3]int64) (int64, bool) { return checkMicros(fromLocal(v[0], loc)) }, x.operand)
	case x.typ == nullType:
		return operand{col: -1, typ: schema.Timestamp, lit: value{null: true}, pos: c.pos}, nil
	}
	return operand{}, c.noSignature()
}

// parseTimestampIn parses a TIMESTAMP literal; without a zone of its own it is a time in loc.
func parseTimestampIn(s string, loc *time.Location) (int64, error) {
	civilPart, _, err := cutZone(s)
	if err != nil {
		return 0, err
	}
	if civilPart != strings.TrimSpace(s) { // the text has its own zone
		return parseDateTime(s, true)
	}
	us, err := parseDateTime(s, false)
	if err != nil {
		return 0, err
	}
	us, ok := checkMicros(fromLocal(us, loc))
	if !ok {
		return 0, errUnsupported
	}
	return us, nil
}

func buildTrunc(t schema.Type) func(p *parser, c *call) (operand, error) {
	return func(p *parser, c *call) (operand, error) {
		if !c.want(0, t) {
			return operand{}, c.noSignature()
		}
		pt := c.args[1]
		if _, sub := partUnits[pt.part]; t == schema.Date && sub && pt.part != "DAY" {
			return operand{}, invalid(pt.pos, "%s does not support the %s date part", c.name, pt.part)
		}
		var loc *time.Location
		if t == schema.Timestamp {
			var err error
			if loc, err = c.zone(2); err != nil {
				return operand{}, err
			}
		}
		return c.apply(t, func(v [3]int64) (int64, bool) {
			if t == schema.Date {
				return checkDays(civil.TruncDays(v[0], pt.part, pt.weekday))
			}
			return checkMicros(fromLocal(civil.TruncMicros(toLocal(v[0], loc), pt.part, pt.weekday), loc))
		}, c.args[0].operand)
	}
}

func buildAdd(t schema.Type, sub bool) func(p *parser, c *call) (operand, error) {
	return func(p *parser, c *call) (operand, error) {
		if !c.want(0, t) {
			return operand{}, c.noSignature()
		}
		pt := c.args[1]
		_, fixed := partUnits[pt.part]
		switch {
		case t == schema.Date && fixed && pt.part != "DAY",
			t == schema.Timestamp && !fixed,
			pt.part == "ISOWEEK", pt.part == "ISOYEAR":
			return operand{}, invalid(pt.pos, "%s does not support the %s date part", c.name, pt.part)
		}
		return c.apply(t, func(v [3]int64) (int64, bool) {
			n := v[1]
			if sub {
				if n == math.MinInt64 {
					return 0, false
				}
				n = -n
			}
			return addPart(t, v[0], n, pt.part)
		}, c.args[0].operand, pt.operand)
	}
}

// addPart adds n parts to a date (days) or a datetime or timestamp (micros); ok is false when the
// result leaves BigQuery's range.
func addPart(t schema.Type, x, n int64, part string) (int64, bool) {
	months := map[string]int64{"MONTH": 1, "QUARTER": 3, "YEAR": 12}[part]
	if part == "WEEK" {
		part, n = "DAY", mulOr(n, 7)
	}
	if t == schema.Date {
		if months != 0 {
			return addMonths(x, mulOr(n, months))
		}
		return checkDays(x + clamp(n, maxDay-minDay+1))
	}
	if months != 0 { // a DATETIME: the date moves, the time of day stays
		days := floorDiv(x, microsPerDay)
		d, ok := addMonths(days, mulOr(n, months))
		return d*microsPerDay + x - days*microsPerDay, ok
	}
	unit := partUnits[part]
	return checkMicros(x + clamp(n, (maxMicros-minMicros)/unit+1)*unit)
}

// addMonths adds n months to a date, ending on the month's last day when it has fewer days.
func addMonths(d, n int64) (int64, bool) {
	y, m, day := civil.Date(d)
	total := y*12 + m - 1 + clamp(n, 12*10_000)
	y, m = floorDiv(total, 12), floorMod(total, 12)+1
	if y < 1 || y > 9999 {
		return 0, false
	}
	return civil.Days(y, m, min(day, civil.DaysIn(y, m))), true
}

// clamp bounds n to ±limit, so that sums stay far from overflow and out of range when it was beyond.
func clamp(n, limit int64) int64 { return max(min(n, limit), -limit) }

// mulOr multiplies a count by a small factor, saturating rather than overflowing.
func mulOr(n, k int64) int64 {
	if n > math.MaxInt64/k || n < math.MinInt64/k {
		return clamp(n, math.MaxInt64/k) * k
	}
	return n * k
}

func buildCurrent(t schema.Type) func(p *parser, c *call) (operand, error) {
	return func(p *parser, c *call) (operand, error) {
		var loc *time.Location
		if t != schema.Timestamp {
			var err error
			if loc, err = c.zone(0); err != nil {
				return operand{}, err
			}
		}
		local := toLocal(p.now.UnixMicro(), loc)
		if t == schema.Date {
			local = floorDiv(local, microsPerDay)
		}
		return operand{col: -1, typ: t, lit: value{i: local}, pos: c.pos}, nil
	}
}

// parseZone reads a time zone argument: a tz database name or an offset (+HH[:MM]). UTC is nil.
func parseZone(s string) (*time.Location, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "UTC", s == "Z", s == "Etc/UTC":
		return nil, nil
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, "-"):
		_, off, err := cutZone("2000-01-01 00:00:00" + s)
		if err != nil || off == 0 && strings.Trim(s, "+-0:") != "" {
			return nil, errUnsupported
		}
		return time.FixedZone(s, int(off)*60), nil
	case s == "", strings.EqualFold(s, "local"):
		return nil, errUnsupported
	}
	return time.LoadLocation(s)
}

// toLocal turns microseconds since the epoch into the wall-clock micros of loc (nil: UTC).
func toLocal(us int64, loc *time.Location) int64 {
	if loc == nil {
		return us
	}
	_, off := time.Unix(floorDiv(us, microsPerSecond), 0).In(loc).Zone()
	return us + int64(off)*microsPerSecond
}

// fromLocal turns wall-clock micros of loc (nil: UTC) into microseconds since the epoch.
func fromLocal(local int64, loc *time.Location) int64 {
	if loc == nil {
		return local
	}
	days := floorDiv(local, microsPerDay)
	tod := local - days*microsPerDay
	y, m, d := civil.Date(days)
	return time.Date(int(y), time.Month(m), int(d), int(tod/3600e6), int(tod/60e6%60), int(tod/1e6%60), int(tod%1e6)*1000, loc).UnixMicro()
}

func checkDays(d int64) (int64, bool)    { return d, d >= minDay && d <= maxDay }
func checkMicros(us int64) (int64, bool) { return us, us >= minMicros && us <= maxMicros }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
