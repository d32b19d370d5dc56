package decode

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/bqread/bqread/internal/civil"
)

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

// textParser reads the fields of DATETIME and INTERVAL text without allocating.
type textParser struct {
	s   []byte
	pos int
	ok  bool
}

// digits reads between min and max decimal digits.
func (p *textParser) digits(min, max int) int64 {
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
func (p *textParser) sep(c byte) {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return
	}
	p.ok = false
}

// sign reads an optional minus sign and returns -1 or 1.
func (p *textParser) sign() int64 {
	if p.pos < len(p.s) && p.s[p.pos] == '-' {
		p.pos++
		return -1
	}
	return 1
}

// fraction reads an optional ".f" of 1 to 6 digits and returns it in microseconds.
func (p *textParser) fraction() int64 {
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

func (p *textParser) done() bool { return p.ok && p.pos == len(p.s) }

// parseDateTime parses BigQuery's DATETIME text "YYYY-MM-DD[T ]HH:MM:SS[.ffffff]" into
// microseconds since 1970-01-01T00:00:00.
func parseDateTime(s []byte) (int64, error) {
	p := textParser{s: s, ok: true}
	y := p.digits(4, 4)
	p.sep('-')
	mo := p.digits(2, 2)
	p.sep('-')
	d := p.digits(2, 2)
	if p.pos < len(s) && s[p.pos] == ' ' {
		p.pos++
	} else {
		p.sep('T')
	}
	h := p.digits(2, 2)
	p.sep(':')
	mi := p.digits(2, 2)
	p.sep(':')
	sec := p.digits(2, 2)
	frac := p.fraction()
	if !p.done() || !civil.Valid(y, mo, d) || h > 23 || mi > 59 || sec > 59 {
		return 0, fmt.Errorf("%w: %q is not a DATETIME (want YYYY-MM-DDTHH:MM:SS[.ffffff])", ErrCorrupt, s)
	}
	return civil.Days(y, mo, d)*microsPerDay + (h*3600+mi*60+sec)*microsPerSecond + frac, nil
}

// parseInterval parses BigQuery's canonical INTERVAL text "[-]Y-M [-]D [-]H:M:S[.ffffff]". It
// accepts any year and day parts that fit Arrow's month_day_nano fields (not only BigQuery's
// limits of 10,000 years and 3,660,000 days: a time part of up to BigQuery's 87,840,000 hours does
// not fit int64 nanoseconds, so its whole days are kept in the day part, which BigQuery treats as
// the same interval, comparing intervals with 1 day = 24 hours).
func parseInterval(s []byte) (arrow.MonthDayNanoInterval, error) {
	p := textParser{s: s, ok: true}
	ySign := p.sign()
	y := p.digits(1, 9)
	p.sep('-')
	mo := p.digits(1, 2)
	p.sep(' ')
	dSign := p.sign()
	d := p.digits(1, 10)
	p.sep(' ')
	tSign := p.sign()
	h := p.digits(1, 8)
	p.sep(':')
	mi := p.digits(1, 2)
	p.sep(':')
	sec := p.digits(1, 2)
	frac := p.fraction()
	months, days := ySign*(y*12+mo), dSign*d
	if !p.done() || mo > 11 || h > 87840000 || mi > 59 || sec > 59 ||
		months < math.MinInt32 || months > math.MaxInt32 || days < math.MinInt32 || days > math.MaxInt32 {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("%w: %q is not a canonical INTERVAL (want Y-M D H:M:S[.ffffff])", ErrCorrupt, s)
	}
	micros := tSign * ((h*3600+mi*60+sec)*microsPerSecond + frac)
	const maxNanoMicros = (1<<63 - 1) / 1000
	if micros > maxNanoMicros || micros < -maxNanoMicros {
		days += micros / microsPerDay
		micros %= microsPerDay
	}
	if days < math.MinInt32 || days > math.MaxInt32 {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("%w: INTERVAL %q has too many days", ErrCorrupt, s)
	}
	return arrow.MonthDayNanoInterval{Months: int32(months), Days: int32(days), Nanoseconds: micros * 1000}, nil
}
