package filter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
	"github.com/google/go-cmp/cmp"
)

// testNow is the clock of the function tests: 2026-01-02 23:30:00 UTC, a Friday.
var testNow = time.Date(2026, 1, 2, 23, 30, 0, 0, time.UTC)

// fold parses a call of literals and returns its value as BigQuery writes it.
func fold(t *testing.T, s schema.Schema, expr string) (string, error) {
	t.Helper()
	toks, err := tokenize(expr)
	if err != nil {
		return "", err
	}
	p := &parser{toks: toks, schema: s, used: map[string]bool{}, now: testNow}
	o, err := p.operand()
	if err != nil {
		return "", err
	}
	if !o.isLit() || p.peek().kind != tEOF {
		t.Fatalf("%s: not one literal", expr)
	}
	if o.lit.null {
		return "NULL", nil
	}
	switch o.typ {
	case schema.Date:
		b, _ := civil.AppendDate(nil, o.lit.i)
		return string(b), nil
	case schema.DateTime:
		b, _ := civil.AppendDateTime(nil, o.lit.i, ' ')
		return string(b), nil
	case schema.Timestamp:
		b, _ := civil.AppendDateTime(nil, o.lit.i, ' ')
		return string(b) + " UTC", nil
	}
	t.Fatalf("%s: type %s", expr, o.typ)
	return "", nil
}

// TestFunctions computes each function over literals and compares with values worked out by hand
// (calendars and time zone rules, not this package's code).
func TestFunctions(t *testing.T) {
	s, _ := fixture(t)
	for _, tc := range []struct{ expr, want string }{
		{"DATE(2024, 2, 29)", "2024-02-29"},
		{"DATE('2024-03-10')", "2024-03-10"},
		{"DATE(DATE '2024-03-10')", "2024-03-10"},
		{"DATE(DATETIME '2024-03-10 23:59:59.999999')", "2024-03-10"},
		{"DATE(TIMESTAMP '2024-03-10 23:30:00-05:00')", "2024-03-11"},                      // 04:30 UTC
		{"date(TIMESTAMP '2024-03-11 03:00:00 UTC', 'America/Los_Angeles')", "2024-03-10"}, // 20:00 PDT
		{"DATE(TIMESTAMP '2024-03-11 20:00:00 UTC', '+05:30')", "2024-03-12"},              // 01:30 next day
		{"DATE(TIMESTAMP '1969-12-31 23:59:59.999999')", "1969-12-31"},
		{"DATE(NULL)", "NULL"},
		{"TIMESTAMP('2024-01-02')", "2024-01-02 00:00:00 UTC"},
		{"TIMESTAMP('2024-01-02 10:00:00', 'America/New_York')", "2024-01-02 15:00:00 UTC"},       // EST
		{"TIMESTAMP('2024-01-02 10:00:00+01:00', 'America/New_York')", "2024-01-02 09:00:00 UTC"}, // its own zone wins
		{"TIMESTAMP(DATE '2024-07-04', 'America/New_York')", "2024-07-04 04:00:00 UTC"},           // EDT
		{"TIMESTAMP(DATETIME '2024-07-04 12:00:00')", "2024-07-04 12:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12.345678', MICROSECOND)", "2024-05-17 13:45:12.345678 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12.345678', MILLISECOND)", "2024-05-17 13:45:12.345000 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12.345678', SECOND)", "2024-05-17 13:45:12 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12.345678', MINUTE)", "2024-05-17 13:45:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12.345678', HOUR)", "2024-05-17 13:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12.345678', DAY)", "2024-05-17 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', WEEK)", "2024-05-12 00:00:00 UTC"}, // a Friday; Sunday before
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', WEEK(MONDAY))", "2024-05-13 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', WEEK(SATURDAY))", "2024-05-11 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-12 01:00:00', WEEK)", "2024-05-12 00:00:00 UTC"}, // a Sunday
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', ISOWEEK)", "2024-05-13 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', MONTH)", "2024-05-01 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', QUARTER)", "2024-04-01 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12', YEAR)", "2024-01-01 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2021-01-02 10:00:00', ISOYEAR)", "2019-12-30 00:00:00 UTC"}, // ISO week 53 of 2020
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 10:00:00', ISOYEAR)", "2024-01-01 00:00:00 UTC"},
		{"TIMESTAMP_TRUNC(TIMESTAMP '2024-03-10 12:00:00', DAY, 'America/New_York')", "2024-03-10 05:00:00 UTC"}, // midnight EST
		{"TIMESTAMP_TRUNC(TIMESTAMP '1969-12-31 23:59:59.5', SECOND)", "1969-12-31 23:59:59 UTC"},
		{"TIMESTAMP_TRUNC('2024-05-17 13:45:12', HOUR)", "2024-05-17 13:00:00 UTC"},
		{"DATE_TRUNC(DATE '2024-05-17', MONTH)", "2024-05-01"},
		{"DATE_TRUNC(DATE '2024-05-17', DAY)", "2024-05-17"},
		{"DATE_TRUNC('2024-11-17', QUARTER)", "2024-10-01"},
		{"DATETIME_TRUNC(DATETIME '2024-05-17 13:45:00', HOUR)", "2024-05-17 13:00:00"},
		{"DATE_SUB(DATE '2024-03-31', INTERVAL 1 MONTH)", "2024-02-29"},
		{"DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH)", "2024-02-29"},
		{"DATE_ADD(DATE '2023-01-31', INTERVAL 1 MONTH)", "2023-02-28"},
		{"DATE_ADD(DATE '2024-02-29', INTERVAL 1 YEAR)", "2025-02-28"},
		{"DATE_SUB(DATE '2024-01-01', INTERVAL 1 QUARTER)", "2023-10-01"},
		{"DATE_ADD(DATE '2024-01-01', INTERVAL -2 WEEK)", "2023-12-18"},
		{"DATE_SUB('2024-01-01', INTERVAL 1 DAY)", "2023-12-31"},
		{"DATE_SUB(DATE '2024-01-01', INTERVAL NULL DAY)", "NULL"},
		{"TIMESTAMP_SUB(TIMESTAMP '2024-01-01 00:00:00', INTERVAL 90 MINUTE)", "2023-12-31 22:30:00 UTC"},
		{"TIMESTAMP_ADD(TIMESTAMP '2024-01-01', INTERVAL 1 DAY)", "2024-01-02 00:00:00 UTC"},
		{"TIMESTAMP_ADD(TIMESTAMP '2024-01-01', INTERVAL 1500 MILLISECOND)", "2024-01-01 00:00:01.500000 UTC"},
		{"TIMESTAMP_SUB(TIMESTAMP '2024-01-01', INTERVAL 1 MICROSECOND)", "2023-12-31 23:59:59.999999 UTC"},
		{"DATETIME_ADD(DATETIME '2024-01-31 10:00:00', INTERVAL 1 MONTH)", "2024-02-29 10:00:00"},
		{"DATETIME_SUB(DATETIME '2024-01-01 00:30:00', INTERVAL 1 HOUR)", "2023-12-31 23:30:00"},
		{"CURRENT_DATE()", "2026-01-02"},
		{"current_date", "2026-01-02"},
		{"CURRENT_DATE('Asia/Tokyo')", "2026-01-03"}, // UTC+9
		{"CURRENT_DATETIME('-01:00')", "2026-01-02 22:30:00"},
		{"CURRENT_TIMESTAMP()", "2026-01-02 23:30:00 UTC"},
		{"DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY)", "2025-12-26"},
		{"TIMESTAMP_TRUNC(TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 HOUR), DAY)", "2026-01-02 00:00:00 UTC"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := fold(t, s, tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("= %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFunctionsOverRows evaluates calls of columns row by row (the fixture's rows: ts 2014-09-27
// 00:00 UTC, 0, NULL and -1 µs; d 2014-09-27, 2014-09-28, NULL, 1970-01-01).
func TestFunctionsOverRows(t *testing.T) {
	_, run := fixture(t)
	for _, tc := range []struct {
		expr string
		want []int64
	}{
		{"DATE(ts) = '2014-09-27'", []int64{1}},
		{"DATE(ts) = '1969-12-31'", []int64{4}},
		{"DATE(ts) IS NULL", []int64{3}},
		{"DATE(ts, 'America/New_York') = '1969-12-31'", []int64{2, 4}},
		{"TIMESTAMP_TRUNC(ts, DAY) = '1969-12-31'", []int64{4}},
		{"TIMESTAMP_TRUNC(ts, YEAR) = TIMESTAMP '2014-01-01'", []int64{1}},
		{"DATE(dt) = '1970-01-01'", []int64{3, 4}},
		{"DATE_SUB(d, INTERVAL 1 DAY) = '2014-09-26'", []int64{1}},
		{"DATE_ADD(d, INTERVAL i MONTH) = '2015-02-27'", []int64{1}}, // i = 5
		{"DATE_TRUNC(d, WEEK) = '2014-09-21'", []int64{1}},           // 2014-09-27 is a Saturday
		{"DATE_TRUNC(d, WEEK) = '2014-09-28'", []int64{2}},           // a Sunday
		{"TIMESTAMP(d) = ts", []int64{1}},
		{"DATE(i, 1, 1) IS NULL", []int64{2, 3}}, // year -7 is out of range: NULL, as is NULL
		{"d > DATE_SUB(DATE '2014-10-01', INTERVAL 7 DAY)", []int64{1, 2}},
		{"ts < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3650 DAY)", []int64{1, 2, 4}},
		{"d BETWEEN DATE_SUB(CURRENT_DATE, INTERVAL 20000 DAY) AND CURRENT_DATE()", []int64{1, 2}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, run(tc.expr, WithNow(testNow))); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFunctionErrors(t *testing.T) {
	s, _ := fixture(t)
	for _, tc := range []struct{ expr, msg string }{
		{"TIMESTAMP_SUB(ts, INTERVAL 1 MONTH) > ts", "TIMESTAMP_SUB does not support the MONTH date part"},
		{"DATE_SUB(ts, INTERVAL 1 DAY) = d", "no matching signature for function DATE_SUB for argument types: TIMESTAMP, INTERVAL INT64 DATE_TIME_PART"},
		{"TIMESTAMP_TRUNC(d, DAY) = ts", "no matching signature for function TIMESTAMP_TRUNC for argument types: DATE, DATE_TIME_PART"},
		{"TIMESTAMP_TRUNC(ts, FORTNIGHT) = ts", "a valid date part name is required but found FORTNIGHT"},
		{"TIMESTAMP_TRUNC(ts, WEEK(FUNDAY)) = ts", "needs a weekday"},
		{"DATE_TRUNC(d, HOUR) = d", "DATE_TRUNC does not support the HOUR date part"},
		{"DATE(2024, 2, 30) = d", "DATE: the result is out of range"},
		{"DATE_ADD(DATE '9999-12-31', INTERVAL 1 DAY) = d", "DATE_ADD: the result is out of range"},
		{"DATE(ts, 'Mars/Olympus') = d", "invalid time zone"},
		{"DATE(ts, s) = d", "must be a string literal"},
		{"TIMESTAMP(s) = ts", "TIMESTAMP of a STRING column is not supported"},
		{"TIMESTAMP(ts) = ts", "no matching signature for function TIMESTAMP for argument types: TIMESTAMP"},
		{"DATE_SUB(d, INTERVAL 1.5 DAY) = d", "INTERVAL needs an INT64"},
		{"DATE_SUB(d, 1) = d", "expected INTERVAL"},
		{"CURRENT_DATE(1, 2) = d", "no matching signature for function CURRENT_DATE"},
		{"DATE() = d", "no matching signature for function DATE"},
		{"DATE('x') = d", "could not cast literal \"x\""},
		{"DATE(ts) = ts", "no matching signature: TIMESTAMP compared with DATE"},
		{"CAST(DATE(ts) AS STRING) = 'x'", "CAST of a column or a function"},
		{"UPPER(s) = 'A'", "function UPPER is not supported"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr, s)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Parse(%q) error = %v, want ErrInvalid containing %q", tc.expr, err, tc.msg)
			}
		})
	}
}

func TestReadsClock(t *testing.T) {
	s, _ := fixture(t)
	for expr, want := range map[string]bool{
		"d > DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)":    true,
		"ts < CURRENT_TIMESTAMP":                          true,
		"d > DATE_SUB(DATE '2024-01-01', INTERVAL 1 DAY)": false,
	} {
		f, err := Parse(expr, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.ReadsClock(); got != want {
			t.Errorf("ReadsClock(%q) = %v, want %v", expr, got, want)
		}
	}
}
