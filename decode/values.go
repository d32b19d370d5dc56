package decode

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
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
	if !p.done() || y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return 0, fmt.Errorf("%w: %q is not a DATETIME (want YYYY-MM-DDTHH:MM:SS[.ffffff])", ErrCorrupt, s)
	}
	return daysFromCivil(y, mo, d)*microsPerDay + (h*3600+mi*60+sec)*microsPerSecond + frac, nil
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the proleptic Gregorian date y-m-d.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0 here: years start at 1
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseInterval parses BigQuery's canonical INTERVAL text "[-]Y-M [-]D [-]H:M:S[.ffffff]" within
// BigQuery's limits (10,000 years, 3,660,000 days, 87,840,000 hours). A time part too long for
// int64 nanoseconds moves its whole days into the day part, which BigQuery treats as the same
// interval (it compares intervals with 1 day = 24 hours).
func parseInterval(s []byte) (arrow.MonthDayNanoInterval, error) {
	p := textParser{s: s, ok: true}
	ySign := p.sign()
	y := p.digits(1, 5)
	p.sep('-')
	mo := p.digits(1, 2)
	p.sep(' ')
	dSign := p.sign()
	d := p.digits(1, 7)
	p.sep(' ')
	tSign := p.sign()
	h := p.digits(1, 8)
	p.sep(':')
	mi := p.digits(1, 2)
	p.sep(':')
	sec := p.digits(1, 2)
	frac := p.fraction()
	if !p.done() || y > 10000 || mo > 11 || d > 3660000 || h > 87840000 || mi > 59 || sec > 59 {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("%w: %q is not a canonical INTERVAL (want Y-M D H:M:S[.ffffff])", ErrCorrupt, s)
	}
	days := dSign * d
	micros := tSign * ((h*3600+mi*60+sec)*microsPerSecond + frac)
	const maxNanoMicros = (1<<63 - 1) / 1000
	if micros > maxNanoMicros || micros < -maxNanoMicros {
		days += micros / microsPerDay
		micros %= microsPerDay
	}
	return arrow.MonthDayNanoInterval{Months: int32(ySign * (y*12 + mo)), Days: int32(days), Nanoseconds: micros * 1000}, nil
}
