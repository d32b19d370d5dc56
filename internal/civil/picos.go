package civil

import "strings"

// PicosPerSecond is the picoseconds in a second.
const PicosPerSecond = 1_000_000_000_000

// Picos is a TIMESTAMP of picosecond precision (BigQuery's TIMESTAMP(12)): Sec seconds since
// 1970-01-01T00:00:00 UTC plus Frac picoseconds, 0 <= Frac < PicosPerSecond.
type Picos struct{ Sec, Frac int64 }

// ParsePicos parses YYYY-MM-DD[T ]HH:MM:SS[.f] with 1 to 12 fractional digits, in no time zone
// (the caller strips and applies one), in the Form f.
func ParsePicos(s string, f Form) (Picos, error) {
	whole, frac := s, ""
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		whole, frac = s[:i], s[i+1:]
		if len(frac) < 1 || len(frac) > 12 || strings.Trim(frac, "0123456789") != "" {
			return Picos{}, ErrSyntax
		}
	}
	us, err := ParseDateTime(whole, f)
	if err != nil {
		return Picos{}, err
	}
	var ps int64
	for i := range 12 {
		ps *= 10
		if i < len(frac) {
			ps += int64(frac[i] - '0')
		}
	}
	return Picos{Sec: floorDiv(us, 1e6), Frac: ps}, nil
}

// ParseISOPicos parses the form AppendISOPicos writes (the Storage Read API's ISO 8601 text of a
// picosecond TIMESTAMP): YYYY-MM-DDTHH:MM:SS[.f]Z, 0 to 12 fractional digits.
func ParseISOPicos(s string) (Picos, error) {
	civilPart, ok := strings.CutSuffix(s, "Z")
	if !ok || strings.IndexByte(civilPart, 'T') != 10 {
		return Picos{}, ErrSyntax
	}
	return ParsePicos(civilPart, Canonical)
}

// AppendISOPicos appends p as YYYY-MM-DDTHH:MM:SS.ffffffffffffZ, always 12 fractional digits, so
// that the text of two values orders as the values do. ok is false outside years 1 to 9999.
func AppendISOPicos(dst []byte, p Picos) (out []byte, ok bool) {
	if dst, ok = AppendDateTime(dst, p.Sec*1e6, 'T'); !ok {
		return dst, false
	}
	return append(appendFraction(append(dst, '.'), p.Frac, 12), 'Z'), true
}

// AppendPicos appends p as BigQuery prints a TIMESTAMP: date, sep, time of day and, when the
// fraction is not zero, digits (6, 9 or 12) fractional digits of it; the caller appends the zone.
// The fraction is truncated to the digits. ok is false outside years 1 to 9999.
func AppendPicos(dst []byte, p Picos, sep byte, digits int) (out []byte, ok bool) {
	if dst, ok = AppendDateTime(dst, p.Sec*1e6, sep); !ok {
		return dst, false
	}
	frac := p.Frac
	for range 12 - digits {
		frac /= 10
	}
	if frac == 0 {
		return dst, true
	}
	return appendFraction(append(dst, '.'), frac, digits), true
}

// Micros returns p truncated to microseconds (toward the past).
func (p Picos) Micros() int64 { return p.Sec*1e6 + p.Frac/1e6 }

// Nanos returns p truncated to nanoseconds (toward the past); ok is false when that does not fit
// in an int64 (before 1677-09-21 or after 2262-04-11).
func (p Picos) Nanos() (ns int64, ok bool) {
	// math.MinInt64 and math.MaxInt64 nanoseconds as seconds and the nanoseconds after them.
	const minSec, minNanos, maxSec, maxNanos = -9223372037, 145224192, 9223372036, 854775807
	nanos := p.Frac / 1e3
	if p.Sec < minSec || p.Sec > maxSec || (p.Sec == minSec && nanos < minNanos) || (p.Sec == maxSec && nanos > maxNanos) {
		return 0, false
	}
	return p.Sec*1e9 + nanos, true
}

// PicosOfNanos returns the instant ns nanoseconds after the epoch.
func PicosOfNanos(ns int64) Picos {
	return Picos{Sec: floorDiv(ns, 1e9), Frac: (ns - floorDiv(ns, 1e9)*1e9) * 1e3}
}

// appendFraction appends v as exactly n decimal digits.
func appendFraction(dst []byte, v int64, n int) []byte {
	var buf [12]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:n]...)
}
