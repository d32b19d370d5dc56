package emulator

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/bqread/bqread/internal/civil"
)

// This file parses BigQuery's textual value forms (the JSON load form) into the integers that the
// Arrow representation stores. Nothing here goes through float64 or time.Time.

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

// parseDecimal parses a decimal number ("-12.5", "1e-38", "3") into an unscaled integer at the given
// scale, rounding half away from zero when it has more fractional digits, as BigQuery does on load.
func parseDecimal(s string, scale int) (*big.Int, error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return nil, fmt.Errorf("invalid exponent in %q", s)
		}
		mant, exp = s[:i], e
	}
	neg := false
	switch {
	case strings.HasPrefix(mant, "-"):
		neg, mant = true, mant[1:]
	case strings.HasPrefix(mant, "+"):
		mant = mant[1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	// value = digits × 10^(exp - len(frac)); we want value × 10^scale.
	shift := exp - len(frac) + scale
	v, _ := new(big.Int).SetString(digits, 10)
	if shift >= 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
	} else {
		div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil)
		q, r := new(big.Int).QuoRem(v, div, new(big.Int))
		if r.Lsh(r, 1).Cmp(div) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		v = q
	}
	if neg {
		v.Neg(v)
	}
	return v, nil
}

// twosComplementWords returns v as four 64-bit words (least significant first) of its 256-bit two's
// complement form. v must fit in 256 bits signed.
func twosComplementWords(v *big.Int) [4]uint64 {
	u := new(big.Int).Set(v)
	if u.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), 256))
	}
	var b [32]byte
	u.FillBytes(b[:])
	var w [4]uint64
	for i := range 4 {
		for j := range 8 {
			w[i] = w[i]<<8 | uint64(b[32-8*(i+1)+j])
		}
	}
	return w
}

// day is a DATE as days since 1970-01-01.
type day int64

// days returns d as days since 1970-01-01.
func (d day) days() int64 { return int64(d) }

// parseDate parses "YYYY-M-D" (one or two digits for month and day, as BigQuery accepts).
func parseDate(s string) (day, error) {
	d, err := civil.ParseDate(s, civil.Loose)
	if err != nil {
		return 0, dateText.error(s, err)
	}
	return day(d), nil
}

// parseTime parses "H:M:S[.ffffff]" into microseconds since midnight.
func parseTime(s string) (int64, error) {
	us, err := civil.ParseTime(s, civil.Loose)
	if err != nil {
		return 0, timeText.error(s, err)
	}
	return us, nil
}

// parseDateTime parses "YYYY-M-D[( |T)H:M:S[.ffffff]]" into microseconds since the epoch,
// without a time zone.
func parseDateTime(s string) (int64, error) {
	us, err := civil.ParseDateTime(s, civil.Loose)
	if err != nil {
		return 0, dateTimeText.error(s, err)
	}
	return us, nil
}

func cutDateTime(s string) (date, tod string, ok bool) {
	if i := strings.IndexAny(s, "T "); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

var (
	minTimestamp = civil.Days(1, 1, 1) * microsPerDay
	maxTimestamp = (civil.Days(9999, 12, 31)+1)*microsPerDay - 1
)

// parseTimestamp parses a TIMESTAMP in the forms BigQuery loads: a civil date-time followed by an
// optional zone ("UTC", "Z", "+05:30", "-07", with or without a space before it; none means UTC).
func parseTimestamp(s string) (int64, error) {
	civilPart, offset, err := cutZone(s)
	if err != nil {
		return 0, err
	}
	us, err := parseDateTime(civilPart)
	if err != nil {
		return 0, err
	}
	us -= offset * microsPerSecond
	if us < minTimestamp || us > maxTimestamp {
		return 0, fmt.Errorf("timestamp %q is out of range (0001-01-01 00:00:00 UTC to 9999-12-31 23:59:59.999999 UTC)", s)
	}
	return us, nil
}

// cutZone splits a timestamp into its civil part and its zone offset in seconds east of UTC.
func cutZone(s string) (string, int64, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasSuffix(s, " UTC"):
		return s[:len(s)-4], 0, nil
	case strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z"):
		return strings.TrimSpace(s[:len(s)-1]), 0, nil
	}
	_, tod, ok := cutDateTime(s)
	if !ok {
		return s, 0, nil
	}
	i := strings.LastIndexAny(tod, "+-")
	if i < 0 {
		return s, 0, nil
	}
	zone := tod[i:]
	civilPart := strings.TrimSpace(s[:len(s)-len(zone)])
	hh, mm, _ := strings.Cut(zone[1:], ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(orZero(mm))
	if err1 != nil || err2 != nil || len(hh) > 2 || h > 14 || m > 59 {
		return "", 0, fmt.Errorf("timestamp %q has an invalid zone offset %q", s, zone)
	}
	off := int64(h*3600 + m*60)
	if zone[0] == '-' {
		off = -off
	}
	return civilPart, off, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// interval is a BigQuery INTERVAL as Arrow's month_day_nano stores it.
type interval struct {
	months, days int32
	nanos        int64
}

// parseInterval parses BigQuery's canonical INTERVAL form "Y-M D H:M:S[.ffffff]", each of the three
// parts with its own optional sign, within BigQuery's limits of 10,000 years and 3,660,000 days.
// When the H:M:S part does not fit in int64 nanoseconds (BigQuery allows up to 87,840,000 hours),
// whole days are moved into the day part, which BigQuery treats as the same interval (it compares
// intervals with 1 day = 24 hours).
func parseInterval(s string) (interval, error) {
	iv, err := civil.ParseInterval(s, civil.Loose)
	if err == nil && (iv.Months/12 > 10_000 || iv.Months/12 < -10_000 || iv.Days > 3_660_000 || iv.Days < -3_660_000) {
		err = civil.ErrRange
	}
	if err != nil {
		return interval{}, intervalText.error(s, err)
	}
	months, days, nanos, _ := iv.MonthDayNano() // within those limits they fit
	return interval{months: months, days: days, nanos: nanos}, nil
}

// textType names a type whose text failed to parse: its name, form and range, for errors.
type textType struct{ name, form, limits string }

var (
	dateText     = textType{"date", "YYYY-MM-DD", "0001-01-01 to 9999-12-31"}
	timeText     = textType{"time", "HH:MM:SS[.ffffff]", "00:00:00 to 23:59:59.999999"}
	dateTimeText = textType{"datetime", "YYYY-MM-DD[ HH:MM:SS[.ffffff]]", "0001-01-01 to 9999-12-31 23:59:59.999999"}
	intervalText = textType{"interval", "Y-M D H:M:S[.ffffff]", "years to 10000, days to 3660000, hours to 87840000"}
)

// error says why s, which package civil did not take, is not a value of type t.
func (t textType) error(s string, err error) error {
	if errors.Is(err, civil.ErrRange) {
		return fmt.Errorf("%s %q is out of range (%s)", t.name, s, t.limits)
	}
	return fmt.Errorf("%s %q is malformed (want %s)", t.name, s, t.form)
}
