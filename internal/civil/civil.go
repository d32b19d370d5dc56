// Package civil converts proleptic Gregorian calendar dates to and from days since 1970-01-01
// (Howard Hinnant's algorithms), for BigQuery's date range without time.Time, writes dates, times
// of day and datetimes as BigQuery's text, and reads DATE, TIME, DATETIME and INTERVAL text in the
// form BigQuery writes or the looser one it loads. It is the one place the calendar is computed,
// written and read: the emulator's loader, the decoders, the Avro encoder and the text writers
// share it. It does no I/O.
package civil

// Valid reports whether y-m-d is a real date within BigQuery's range, 0001-01-01 to 9999-12-31.
func Valid(y, m, d int64) bool {
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= DaysIn(y, m)
}

// DaysIn returns the number of days in month m of year y.
func DaysIn(y, m int64) int64 {
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

// Days returns the number of days from 1970-01-01 to y-m-d (negative before it).
func Days(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// Date returns the date days days after 1970-01-01; it is the inverse of Days.
func Date(days int64) (y, m, d int64) {
	z := days + 719468 // days since 0000-03-01
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // day of the 400-year era
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era, from March
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of that March-based year
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
