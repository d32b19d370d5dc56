package emulator

import (
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
	nanosPerDay     = 86_400 * 1_000_000_000
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

// ymd is a calendar date in the proleptic Gregorian calendar.
type ymd struct{ y, m, d int }

// parseDate parses "YYYY-M-D" (one or two digits for month and day, as BigQuery accepts).
func parseDate(s string) (ymd, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) < 1 || len(parts[1]) > 2 || len(parts[2]) < 1 || len(parts[2]) > 2 {
		return ymd{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || p[0] == '+' || p[0] == '-' {
			return ymd{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
		}
		n[i] = v
	}
	c := ymd{n[0], n[1], n[2]}
	if !civil.Valid(int64(c.y), int64(c.m), int64(c.d)) {
		return ymd{}, fmt.Errorf("date %q is out of range (0001-01-01 to 9999-12-31)", s)
	}
	return c, nil
}

// days returns the number of days from 1970-01-01 to c.
func (c ymd) days() int64 { return civil.Days(int64(c.y), int64(c.m), int64(c.d)) }

// parseTime parses "H:M:S[.ffffff]" into microseconds since midnight.
func parseTime(s string) (int64, error) {
	bad := fmt.Errorf("%q is not a time (want HH:MM:SS[.ffffff])", s)
	hms, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, bad
	}
	var n [3]int64
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 || strings.Trim(p, "0123456789") != "" {
			return 0, bad
		}
		n[i], _ = strconv.ParseInt(p, 10, 64)
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, fmt.Errorf("time %q is out of range", s)
	}
	us, err := parseFraction(frac, hasFrac)
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", s, err)
	}
	return (n[0]*3600+n[1]*60+n[2])*microsPerSecond + us, nil
}

// parseFraction turns up to six fractional-second digits into microseconds.
func parseFraction(frac string, present bool) (int64, error) {
	if !present {
		return 0, nil
	}
	if len(frac) < 1 || len(frac) > 6 || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("fractional seconds %q: use 1 to 6 digits", frac)
	}
	v, _ := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	return v, nil
}

// parseDateTime parses "YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]]" into microseconds since the epoch,
// without a time zone.
func parseDateTime(s string) (int64, error) {
	ds, ts, hasTime := cutDateTime(s)
	d, err := parseDate(ds)
	if err != nil {
		return 0, err
	}
	var us int64
	if hasTime {
		if us, err = parseTime(ts); err != nil {
			return 0, err
		}
	}
	return d.days()*microsPerDay + us, nil
}

func cutDateTime(s string) (date, tod string, ok bool) {
	if i := strings.IndexAny(s, "T "); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

var (
	minTimestamp = ymd{1, 1, 1}.days() * microsPerDay
	maxTimestamp = (ymd{9999, 12, 31}.days()+1)*microsPerDay - 1
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
// parts with its own optional sign. When the H:M:S part does not fit in int64 nanoseconds (BigQuery
// allows up to 87,840,000 hours), whole days are moved into the day part, which BigQuery treats as
// the same interval (it compares intervals with 1 day = 24 hours).
func parseInterval(s string) (interval, error) {
	bad := fmt.Errorf("%q is not an INTERVAL (want Y-M D H:M:S[.ffffff])", s)
	parts := strings.Fields(s)
	if len(parts) != 3 {
		return interval{}, bad
	}
	ySign, ym := cutSign(parts[0])
	ys, ms, ok := strings.Cut(ym, "-")
	dSign, ds := cutSign(parts[1])
	tSign, hms := cutSign(parts[2])
	clock, frac, hasFrac := strings.Cut(hms, ".")
	hmsParts := strings.Split(clock, ":")
	if !ok || len(hmsParts) != 3 || !allDigits(ys, ms, ds, hmsParts[0], hmsParts[1], hmsParts[2]) {
		return interval{}, bad
	}
	y, err1 := strconv.ParseInt(ys, 10, 64)
	mo, err2 := strconv.ParseInt(ms, 10, 64)
	d, err3 := strconv.ParseInt(ds, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return interval{}, fmt.Errorf("interval %q is out of range", s)
	}
	var n [3]int64
	for i, p := range hmsParts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return interval{}, fmt.Errorf("interval %q is out of range", s)
		}
		n[i] = v
	}
	us, err := parseFraction(frac, hasFrac)
	if err != nil {
		return interval{}, fmt.Errorf("interval %q: %w", s, err)
	}
	if y > 10000 || mo > 11 || d > 3660000 || n[0] > 87840000 || n[1] > 59 || n[2] > 59 {
		return interval{}, fmt.Errorf("interval %q is out of range", s)
	}
	months := ySign * (y*12 + mo)
	days := dSign * d
	// At most 87,840,000 hours: 3.2e17 µs fits in int64, nanoseconds may not.
	micros := tSign * ((n[0]*3600+n[1]*60+n[2])*microsPerSecond + us)
	const maxNanoMicros = (1<<63 - 1) / 1000
	if micros > maxNanoMicros || micros < -maxNanoMicros {
		days += micros / microsPerDay
		micros %= microsPerDay
	}
	return interval{months: int32(months), days: int32(days), nanos: micros * 1000}, nil
}

// allDigits reports whether every string is a non-empty run of ASCII digits.
func allDigits(ss ...string) bool {
	for _, s := range ss {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return false
		}
	}
	return true
}

func cutSign(s string) (int64, string) {
	if strings.HasPrefix(s, "-") {
		return -1, s[1:]
	}
	return 1, s
}
