package civil

// microsPer are the units of TruncMicros that are a fixed number of microseconds.
var microsPer = map[string]int64{
	"MICROSECOND": 1, "MILLISECOND": 1_000, "SECOND": 1_000_000, "MINUTE": 60_000_000, "HOUR": 3_600_000_000,
}

// TruncDays truncates a date (days since 1970-01-01) to the first day of its unit: DAY, WEEK (weeks
// that start on weekStart, 0 for Sunday to 6 for Saturday), ISOWEEK, MONTH, QUARTER, YEAR or ISOYEAR
// (the Monday of the ISO year's first week). Other units leave the date as it is.
func TruncDays(d int64, unit string, weekStart int64) int64 {
	switch unit {
	case "WEEK":
		return d - floorMod(Weekday(d)-weekStart, 7)
	case "ISOWEEK":
		return d - floorMod(Weekday(d)-1, 7)
	case "ISOYEAR":
		y, _, _ := Date(TruncDays(d, "ISOWEEK", 0) + 3) // the ISO week's Thursday is in its ISO year
		jan4 := Days(y, 1, 4)
		return jan4 - floorMod(Weekday(jan4)-1, 7)
	}
	y, m, day := Date(d)
	switch unit {
	case "MONTH":
		day = 1
	case "QUARTER":
		m, day = (m-1)/3*3+1, 1
	case "YEAR":
		m, day = 1, 1
	}
	return Days(y, m, day)
}

// TruncMicros truncates microseconds since 1970-01-01T00:00:00 (in no time zone) to the start of
// its unit: MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, or a unit of TruncDays.
func TruncMicros(us int64, unit string, weekStart int64) int64 {
	if n := microsPer[unit]; n != 0 {
		return floorDiv(us, n) * n
	}
	const day = 86_400_000_000
	return TruncDays(floorDiv(us, day), unit, weekStart) * day
}

// Weekday returns the day of the week of a date: 0 for Sunday to 6 for Saturday.
func Weekday(d int64) int64 { return floorMod(d+4, 7) } // 1970-01-01 was a Thursday

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
