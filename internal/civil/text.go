package civil

// MicrosPerDay is the microseconds in a day.
const MicrosPerDay = 86400 * 1_000_000

// AppendDate appends the day days after 1970-01-01 as YYYY-MM-DD. ok is false, and nothing is
// appended, outside years 1 to 9999.
func AppendDate(dst []byte, days int64) (out []byte, ok bool) {
	y, m, d := Date(days)
	if y < 1 || y > 9999 {
		return dst, false
	}
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = append2(dst, m)
	return append2(append(dst, '-'), d), true
}

// AppendDateTime appends micros, microseconds since 1970-01-01T00:00:00 in no time zone, as the
// date, sep and the time of day: BigQuery's DATETIME text with sep 'T', the date and time of its
// TIMESTAMP text with ' '. ok is false, and nothing is appended, outside years 1 to 9999.
func AppendDateTime(dst []byte, micros int64, sep byte) (out []byte, ok bool) {
	days, us := floorDiv(micros, MicrosPerDay), micros%MicrosPerDay
	if us < 0 {
		us += MicrosPerDay
	}
	dst, ok = AppendDate(dst, days)
	if !ok {
		return dst, false
	}
	return AppendClock(append(dst, sep), us), true
}

// AppendClock appends the time of day us (microseconds since midnight) as HH:MM:SS, with
// .ffffff (six digits) when us has a fraction of a second.
func AppendClock(dst []byte, us int64) []byte {
	secs := us / 1e6
	dst = append2(dst, secs/3600)
	dst = append2(append(dst, ':'), secs/60%60)
	dst = append2(append(dst, ':'), secs%60)
	if frac := us % 1e6; frac != 0 {
		dst = append(dst, '.')
		for div := int64(1e5); div > 0; div /= 10 {
			dst = append(dst, byte('0'+frac/div%10))
		}
	}
	return dst
}

func append2(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }
