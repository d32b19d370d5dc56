package decode

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/bqread/bqread/internal/civil"
)

// parseDateTime parses BigQuery's DATETIME text "YYYY-MM-DD[T ]HH:MM:SS[.ffffff]" into
// microseconds since 1970-01-01T00:00:00.
func parseDateTime(s []byte) (int64, error) {
	us, err := civil.ParseDateTime(s, civil.Canonical)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a DATETIME (want YYYY-MM-DDTHH:MM:SS[.ffffff])", ErrCorrupt, s)
	}
	return us, nil
}

// parseInterval parses BigQuery's canonical INTERVAL text "[-]Y-M [-]D [-]H:M:S[.ffffff]". It
// accepts any year and day parts that fit Arrow's month_day_nano fields (not only BigQuery's
// limits of 10,000 years and 3,660,000 days: a time part of up to BigQuery's 87,840,000 hours does
// not fit int64 nanoseconds, so its whole days are kept in the day part, which BigQuery treats as
// the same interval, comparing intervals with 1 day = 24 hours).
func parseInterval(s []byte) (arrow.MonthDayNanoInterval, error) {
	iv, err := civil.ParseInterval(s, civil.Canonical)
	if err != nil || iv.Months < math.MinInt32 || iv.Months > math.MaxInt32 || iv.Days < math.MinInt32 || iv.Days > math.MaxInt32 {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("%w: %q is not a canonical INTERVAL (want Y-M D H:M:S[.ffffff])", ErrCorrupt, s)
	}
	months, days, nanos, ok := iv.MonthDayNano()
	if !ok {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("%w: INTERVAL %q has too many days", ErrCorrupt, s)
	}
	return arrow.MonthDayNanoInterval{Months: months, Days: days, Nanoseconds: nanos}, nil
}
