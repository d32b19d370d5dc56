package civil

import (
	"errors"
	"math"
)

// The errors the parsers return; callers say which value and which form in their own terms.
var (
	// ErrSyntax is text not in the form asked for.
	ErrSyntax = errors.New("civil: malformed text")
	// ErrRange is text in the right form with a field out of range: a day the month lacks, a
	// year outside 1 to 9999, hour 24, minute 60, month 12 of an INTERVAL.
	ErrRange = errors.New("civil: field out of range")
)

// Form is how strictly the parsers read text.
type Form int

const (
	// Canonical is the text BigQuery writes: a DATE as YYYY-MM-DD and a TIME as HH:MM:SS, two
	// digits for each field but the year; a DATETIME with its time; an INTERVAL with single spaces
	// between its parts and at most 9, 2, 10, 8, 2 and 2 digits in its year, month, day, hour,
	// minute and second.
	Canonical Form = iota
	// Loose is the text BigQuery loads: one or two digits for the month, day, hour, minute and
	// second of a DATE, TIME or DATETIME; a DATETIME without its time (midnight); an INTERVAL with
	// any run of ASCII white space between and around its parts and up to 18 digits (leading zeros)
	// in each number.
	Loose
)

// text is what the parsers read: a string, or bytes without copying them.
type text interface{ ~string | ~[]byte }

// ParseDate parses YYYY-MM-DD into days since 1970-01-01.
func ParseDate[T text](s T, f Form) (int64, error) {
	p := parser[T]{s: s, ok: true}
	days, valid := p.date(f.narrow())
	return result(days, p.done(), valid)
}

// ParseTime parses HH:MM:SS[.ffffff] (1 to 6 fractional digits) into microseconds since midnight.
func ParseTime[T text](s T, f Form) (int64, error) {
	p := parser[T]{s: s, ok: true}
	us, valid := p.clock(f.narrow())
	return result(us, p.done(), valid)
}

// ParseDateTime parses YYYY-MM-DD[T ]HH:MM:SS[.ffffff], a DATETIME, into microseconds since
// 1970-01-01T00:00:00 in no time zone. In the Loose form the time may be left out.
func ParseDateTime[T text](s T, f Form) (int64, error) {
	p := parser[T]{s: s, ok: true}
	n := f.narrow()
	days, dateValid := p.date(n)
	if f == Loose && p.pos == len(s) {
		return result(days*MicrosPerDay, p.done(), dateValid)
	}
	if p.pos < len(s) && s[p.pos] == ' ' {
		p.pos++
	} else {
		p.sep('T')
	}
	us, clockValid := p.clock(n)
	return result(days*MicrosPerDay+us, p.done(), dateValid && clockValid)
}

// narrow is the fewest digits of a month, day, hour, minute or second: two, or one when Loose.
func (f Form) narrow() int {
	if f == Loose {
		return 1
	}
	return 2
}

// Interval is an INTERVAL's three parts as written, each with its sign.
type Interval struct {
	Months int64 // years × 12 + months
	Days   int64
	Micros int64 // hours, minutes and seconds; at most 87,840,000 hours
}

// ParseInterval parses BigQuery's INTERVAL text [-]Y-M [-]D [-]H:M:S[.ffffff], its months below
// 12, its hours at most BigQuery's 87,840,000, its minutes and seconds below 60. It does not hold
// the years and days to BigQuery's 10,000 and 3,660,000: a caller that must, checks Months and Days.
func ParseInterval[T text](s T, f Form) (Interval, error) {
	p := parser[T]{s: s, ok: true}
	// The most digits of the year, month, day, hour, minute and second parts. Loose text may have
	// any leading zeros: 18 digits cannot overflow int64.
	yw, mw, dw, hw := 9, 2, 10, 8
	// The white space between the parts and around them: one space and none in the Canonical form.
	between, around, loose := 1, 0, f == Loose
	if loose {
		yw, mw, dw, hw = 18, 18, 18, 18
		between, around = len(s), len(s)
	}
	p.spaces(0, around, loose)
	ySign := p.sign()
	y := p.digits(1, yw)
	p.sep('-')
	mo := p.digits(1, mw)
	p.spaces(1, between, loose)
	dSign := p.sign()
	d := p.digits(1, dw)
	p.spaces(1, between, loose)
	tSign := p.sign()
	h := p.digits(1, hw)
	p.sep(':')
	mi := p.digits(1, mw)
	p.sep(':')
	sec := p.digits(1, mw)
	frac := p.fraction()
	p.spaces(0, around, loose)
	// An invalid field may overflow the sums below; they are dropped then.
	valid := mo <= 11 && y <= (math.MaxInt64-11)/12 && h <= 87_840_000 && mi <= 59 && sec <= 59
	iv := Interval{
		Months: ySign * (y*12 + mo),
		Days:   dSign * d,
		Micros: tSign * ((h*3600+mi*60+sec)*1_000_000 + frac),
	}
	return result(iv, p.done(), valid)
}

// MonthDayNano returns iv as Arrow's month_day_nano fields. When the time part does not fit int64
// nanoseconds (above about 2,562,047 hours), its whole days move into the day part, which BigQuery
// treats as the same interval: it compares intervals with 1 day = 24 hours. ok is false when the
// months or those days do not fit int32.
func (iv Interval) MonthDayNano() (months, days int32, nanos int64, ok bool) {
	d, us := iv.Days, iv.Micros
	const maxNanoMicros = math.MaxInt64 / 1000
	if us > maxNanoMicros || us < -maxNanoMicros {
		d += us / MicrosPerDay
		us %= MicrosPerDay
	}
	if iv.Months < math.MinInt32 || iv.Months > math.MaxInt32 || d < math.MinInt32 || d > math.MaxInt32 {
		return 0, 0, 0, false
	}
	return int32(iv.Months), int32(d), us * 1000, true
}

// parser reads the fields of DATE, TIME, DATETIME and INTERVAL text without allocating. A field
// that is not there clears ok; the parse functions then return ErrSyntax.
type parser[T text] struct {
	s   T
	pos int
	ok  bool
}

// result returns v when the whole text was read in form (else ErrSyntax) and its fields were
// valid (else ErrRange).
func result[V any](v V, whole, valid bool) (V, error) {
	var zero V
	switch {
	case !whole:
		return zero, ErrSyntax
	case !valid:
		return zero, ErrRange
	}
	return v, nil
}

// date reads YYYY-MM-DD, with at least n digits for the month and the day, and returns its days
// since 1970-01-01; valid is false for a date that is not in the calendar or outside years 1 to
// 9999.
func (p *parser[T]) date(n int) (days int64, valid bool) {
	y := p.digits(4, 4)
	p.sep('-')
	m := p.digits(n, 2)
	p.sep('-')
	d := p.digits(n, 2)
	if !Valid(y, m, d) {
		return 0, false
	}
	return Days(y, m, d), true
}

// clock reads HH:MM:SS[.ffffff], with at least n digits for each of the three, and returns
// microseconds since midnight; valid is false past 23:59:59.
func (p *parser[T]) clock(n int) (us int64, valid bool) {
	h := p.digits(n, 2)
	p.sep(':')
	m := p.digits(n, 2)
	p.sep(':')
	s := p.digits(n, 2)
	frac := p.fraction()
	return (h*3600+m*60+s)*1_000_000 + frac, h <= 23 && m <= 59 && s <= 59
}

// done reports whether the text was read to its end with every field in place.
func (p *parser[T]) done() bool { return p.ok && p.pos == len(p.s) }

// digits reads between min and max decimal digits.
func (p *parser[T]) digits(min, max int) int64 {
	var v int64
	n := 0
	for ; n < max && p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9'; n++ {
		v = v*10 + int64(p.s[p.pos]-'0')
		p.pos++
	}
	if n < min {
		p.ok = false
	}
	return v
}

// sep reads one separator byte.
func (p *parser[T]) sep(c byte) {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return
	}
	p.ok = false
}

// spaces reads between min and max bytes of white space: spaces only, or any ASCII white space
// when loose.
func (p *parser[T]) spaces(min, max int, loose bool) {
	n := 0
	for ; n < max && p.pos < len(p.s) && (p.s[p.pos] == ' ' || loose && isSpace(p.s[p.pos])); n++ {
		p.pos++
	}
	if n < min {
		p.ok = false
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// sign reads an optional minus sign and returns -1 or 1.
func (p *parser[T]) sign() int64 {
	if p.pos < len(p.s) && p.s[p.pos] == '-' {
		p.pos++
		return -1
	}
	return 1
}

// fraction reads an optional ".f" of 1 to 6 digits and returns it in microseconds.
func (p *parser[T]) fraction() int64 {
	if p.pos == len(p.s) || p.s[p.pos] != '.' {
		return 0
	}
	p.pos++
	start := p.pos
	v := p.digits(1, 6)
	for n := p.pos - start; n < 6; n++ {
		v *= 10
	}
	return v
}
