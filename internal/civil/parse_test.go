package civil

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// bad is the error a parse case wants: none, ErrSyntax or ErrRange.
type bad int

const (
	good bad = iota
	syntax
	outOfRange
)

func (b bad) check(t *testing.T, call string, err error) {
	t.Helper()
	want := map[bad]error{good: nil, syntax: ErrSyntax, outOfRange: ErrRange}[b]
	if !errors.Is(err, want) || (want == nil) != (err == nil) {
		t.Errorf("%s err = %v, want %v", call, err, want)
	}
}

// parseCase is a text, the value it stands for, and what each form makes of it.
type parseCase[V comparable] struct {
	in         string
	want       V
	canon, lax bad
}

// checkParse runs the cases through parse in both forms.
func checkParse[V comparable](t *testing.T, name string, parse func(string, Form) (V, error), tests []parseCase[V]) {
	t.Helper()
	for _, tt := range tests {
		for f, b := range map[Form]bad{Canonical: tt.canon, Loose: tt.lax} {
			got, err := parse(tt.in, f)
			b.check(t, fmt.Sprintf("%s(%q, %d)", name, tt.in, f), err)
			if b == good && got != tt.want {
				t.Errorf("%s(%q, %d) = %v, want %v", name, tt.in, f, got, tt.want)
			}
		}
	}
}

func TestParseDate(t *testing.T) {
	checkParse(t, "ParseDate", ParseDate[string], []parseCase[int64]{
		{"1970-01-01", 0, good, good},
		{"2024-02-29", 19782, good, good},
		{"0001-01-01", -719162, good, good},
		{"9999-12-31", 2932896, good, good},
		{"2024-2-9", 19762, syntax, good},
		{"2023-02-29", 0, outOfRange, outOfRange},
		{"0000-01-01", 0, outOfRange, outOfRange},
		{"2024-13-01", 0, outOfRange, outOfRange},
		{"24-01-01", 0, syntax, syntax},
		{"2024-001-01", 0, syntax, syntax},
		{"2024-01-01 ", 0, syntax, syntax},
		{"+024-01-01", 0, syntax, syntax},
		{"", 0, syntax, syntax},
	})
}

func TestParseTime(t *testing.T) {
	checkParse(t, "ParseTime", ParseTime[string], []parseCase[int64]{
		{"00:00:00", 0, good, good},
		{"23:59:59.999999", 86_399_999_999, good, good},
		{"12:34:56.7", 45_296_700_000, good, good},
		{"1:2:3", 3_723_000_000, syntax, good},
		{"24:00:00", 0, outOfRange, outOfRange},
		{"00:60:00", 0, outOfRange, outOfRange},
		{"00:00:60", 0, outOfRange, outOfRange},
		{"00:00:00.", 0, syntax, syntax},
		{"00:00:00.1234567", 0, syntax, syntax},
		{"00:00", 0, syntax, syntax},
		{"000:00:00", 0, syntax, syntax},
	})
}

func TestParseDateTime(t *testing.T) {
	checkParse(t, "ParseDateTime", ParseDateTime[string], []parseCase[int64]{
		{"1970-01-01T00:00:00", 0, good, good},
		{"1970-01-01 00:00:00.5", 500000, good, good},
		{"1969-12-31T23:59:59.999999", -1, good, good},
		{"2024-02-29T12:00:00", 1709208000000000, good, good},
		{"0001-01-01T00:00:00", -62135596800000000, good, good},
		{"9999-12-31T23:59:59.999999", 253402300799999999, good, good},
		{"1970-1-2 3:04:05.5", (86400+3*3600+4*60+5)*1e6 + 5e5, syntax, good},
		{"1970-01-02", 86400e6, syntax, good},
		{"2023-02-29T00:00:00", 0, outOfRange, outOfRange},
		{"2024-13-01T00:00:00", 0, outOfRange, outOfRange},
		{"0000-01-01T00:00:00", 0, outOfRange, outOfRange},
		{"2024-01-01T24:00:00", 0, outOfRange, outOfRange},
		{"2024-01-01T", 0, syntax, syntax},
		{"2024-01-01 ", 0, syntax, syntax},
		{"2024-01-01t00:00:00", 0, syntax, syntax},
		{"2024-01-01T00:00:00.", 0, syntax, syntax},
		{"2024-01-01T00:00:00.1234567", 0, syntax, syntax},
		{"2024-01-01T00:00:00Z", 0, syntax, syntax},
		{"", 0, syntax, syntax},
	})
}

// TestParseDateTimeRoundTrip parses what AppendDateTime writes, and checks both against time.
func TestParseDateTimeRoundTrip(t *testing.T) {
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		us := lo + r.Int64N(hi-lo+1)
		text, _ := AppendDateTime(nil, us, 'T')
		for _, f := range []Form{Canonical, Loose} {
			if got, err := ParseDateTime(text, f); err != nil || got != us {
				t.Fatalf("ParseDateTime(%q, %d) = %d, %v; want %d", text, f, got, err, us)
			}
		}
		if got, err := ParseDate(text[:10], Canonical); err != nil || got != floorDiv(us, MicrosPerDay) {
			t.Fatalf("ParseDate(%q) = %d, %v; want %d", text[:10], got, err, floorDiv(us, MicrosPerDay))
		}
	}
}

func TestParseInterval(t *testing.T) {
	const hms = (4*3600 + 5*60 + 6) * 1e6
	checkParse(t, "ParseInterval", ParseInterval[string], []parseCase[Interval]{
		{"0-0 0 0:0:0", Interval{}, good, good},
		{"1-2 3 4:05:06.789", Interval{14, 3, hms + 789e3}, good, good},
		{"-1-2 -3 -4:05:06.000001", Interval{-14, -3, -(hms + 1)}, good, good},
		{"1-0 -1 0:0:1", Interval{12, -1, 1e6}, good, good},
		{"0-0 0 87840000:0:0", Interval{0, 0, 87840000 * 3600e6}, good, good},
		{"-178956970-8 -2147483648 -0:0:0.5", Interval{math.MinInt32, math.MinInt32, -5e5}, good, good},
		{"999999999-11 9999999999 0:0:0", Interval{999999999*12 + 11, 9999999999, 0}, good, good},
		{" 1-2\t3  4:5:6 ", Interval{14, 3, (4*3600 + 5*60 + 6) * 1e6}, syntax, good},
		{"0010-011 0003 004:005:006", Interval{131, 3, hms}, syntax, good},
		{"0-12 0 0:0:0", Interval{}, outOfRange, outOfRange},
		{"0-0 0 87840001:0:0", Interval{}, outOfRange, outOfRange},
		{"0-0 0 0:60:0", Interval{}, outOfRange, outOfRange},
		{"0-0 0 0:0:60", Interval{}, outOfRange, outOfRange},
		{"768614336404564650-0 0 0:0:0", Interval{}, syntax, outOfRange},
		{"0-0 0 0:0:0.1234567", Interval{}, syntax, syntax},
		{"", Interval{}, syntax, syntax},
		{"1-2 3", Interval{}, syntax, syntax},
		{"a-b c d:e:f", Interval{}, syntax, syntax},
		{"1--2 0 0:0:0", Interval{}, syntax, syntax},
		{"--1-2 0 0:0:0", Interval{}, syntax, syntax},
		{"+1-0 0 0:0:0", Interval{}, syntax, syntax},
		{"0-0 +1 0:0:0", Interval{}, syntax, syntax},
		{"0-0 0 0:-1:0", Interval{}, syntax, syntax},
		{"- 1-0 0 0:0:0", Interval{}, syntax, syntax},
		{"1-0 0 0:0", Interval{}, syntax, syntax},
		{"1-0  0 0:0:0", Interval{12, 0, 0}, syntax, good},
		{"1-0 0 0:0:0 ", Interval{12, 0, 0}, syntax, good},
		{"1-0 0 0:0:0\u00a0", Interval{}, syntax, syntax},
	})
}

func TestMonthDayNano(t *testing.T) {
	const maxNanoMicros = math.MaxInt64 / 1000
	tests := []struct {
		iv           Interval
		months, days int32
		nanos        int64
		ok           bool
	}{
		{Interval{14, 3, 1}, 14, 3, 1000, true},
		{Interval{0, 0, maxNanoMicros}, 0, 0, maxNanoMicros * 1000, true},
		// 87,840,000 hours do not fit int64 nanoseconds: whole days move to the day part.
		{Interval{0, 0, 87840000 * 3600e6}, 0, 3660000, 0, true},
		{Interval{0, -3660000, -87840000*3600e6 - 5e5}, 0, -7320000, -5e8, true},
		{Interval{math.MinInt32, math.MaxInt32, -1}, math.MinInt32, math.MaxInt32, -1000, true},
		{Interval{math.MaxInt32 + 1, 0, 0}, 0, 0, 0, false},
		{Interval{0, math.MinInt32 - 1, 0}, 0, 0, 0, false},
		{Interval{0, math.MinInt32, -87840000 * 3600e6}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		m, d, ns, ok := tt.iv.MonthDayNano()
		if m != tt.months || d != tt.days || ns != tt.nanos || ok != tt.ok {
			t.Errorf("%+v.MonthDayNano() = %d, %d, %d, %v; want %d, %d, %d, %v", tt.iv, m, d, ns, ok, tt.months, tt.days, tt.nanos, tt.ok)
		}
	}
}

// FuzzParse checks that the Loose form takes all the Canonical form takes, with the same value,
// and that neither panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2024-02-29T12:34:56.123456", "1970-1-2 3:4:5", "-1-2 -3 -4:05:06.000001", " 1-2\t3 4:5:6 ", "23:59:59.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, parse := range map[string]func(string, Form) (any, error){
			"ParseDate":     func(s string, f Form) (any, error) { return ParseDate(s, f) },
			"ParseTime":     func(s string, f Form) (any, error) { return ParseTime(s, f) },
			"ParseDateTime": func(s string, f Form) (any, error) { return ParseDateTime(s, f) },
			"ParseInterval": func(s string, f Form) (any, error) { return ParseInterval(s, f) },
		} {
			canon, err := parse(s, Canonical)
			if err != nil {
				continue
			}
			if lax, err := parse(s, Loose); err != nil || lax != canon {
				t.Errorf("%s(%q): Canonical %v, Loose %v, %v", name, s, canon, lax, err)
			}
		}
	})
}
