package decode

import (
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/internal/civil"
)

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1970-01-01T00:00:00", 0, true},
		{"1970-01-01 00:00:00.5", 500000, true},
		{"1969-12-31T23:59:59.999999", -1, true},
		{"2024-02-29T12:00:00", 1709208000000000, true},
		{"0001-01-01T00:00:00", -62135596800000000, true},
		{"9999-12-31T23:59:59.999999", 253402300799999999, true},
		{"2023-02-29T00:00:00", 0, false},
		{"2024-13-01T00:00:00", 0, false},
		{"0000-01-01T00:00:00", 0, false},
		{"2024-01-01T24:00:00", 0, false},
		{"2024-01-01T00:00:00.", 0, false},
		{"2024-01-01T00:00:00.1234567", 0, false},
		{"2024-01-01T00:00:00Z", 0, false},
		{"2024-1-01T00:00:00", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDateTime([]byte(tt.in))
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("parseDateTime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, ErrCorrupt) {
			t.Errorf("parseDateTime(%q) err = %v, want ErrCorrupt", tt.in, err)
		}
	}
}

func TestParseInterval(t *testing.T) {
	mdn := func(m, d int32, ns int64) arrow.MonthDayNanoInterval {
		return arrow.MonthDayNanoInterval{Months: m, Days: d, Nanoseconds: ns}
	}
	tests := []struct {
		in   string
		want arrow.MonthDayNanoInterval
		ok   bool
	}{
		{"0-0 0 0:0:0", mdn(0, 0, 0), true},
		{"1-2 3 4:5:6.789", mdn(14, 3, 14706789000000), true},
		{"1-2 3 4:05:06.789000", mdn(14, 3, 14706789000000), true},
		{"-1-2 -3 -0:0:0.000001", mdn(-14, -3, -1000), true},
		{"10000-0 3660000 0:0:0", mdn(120000, 3660000, 0), true},
		// 87,840,000 hours do not fit int64 nanoseconds: whole days move to the day part.
		{"-10000-0 -3660000 -87840000:0:0", mdn(-120000, -7320000, 0), true},
		{"0-12 0 0:0:0", mdn(0, 0, 0), false},
		{"-10000-0 -7320000 0:0:0", mdn(-120000, -7320000, 0), true},
		{"-178956970-8 -2147483648 -0:0:0.5", mdn(math.MinInt32, math.MinInt32, -5e8), true},
		{"178956970-8 0 0:0:0", mdn(0, 0, 0), false},
		{"0-0 2147483648 0:0:0", mdn(0, 0, 0), false},
		{"0-0 -2147483648 -87840000:0:0", mdn(0, 0, 0), false},
		{"0-0 0 0:60:0", mdn(0, 0, 0), false},
		{"+1-0 0 0:0:0", mdn(0, 0, 0), false},
		{"1-0 0 0:0", mdn(0, 0, 0), false},
		{"1-0  0 0:0:0", mdn(0, 0, 0), false},
		{"1-0 0 0:0:0 ", mdn(0, 0, 0), false},
	}
	for _, tt := range tests {
		got, err := parseInterval([]byte(tt.in))
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("parseInterval(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, ErrCorrupt) {
			t.Errorf("parseInterval(%q) err = %v, want ErrCorrupt", tt.in, err)
		}
	}
}

// TestTextRoundTrip parses what packages civil and encode write.
func TestTextRoundTrip(t *testing.T) {
	for _, us := range []int64{0, 1, -1, 999999, 1709208000123456, -62135596800000000, 253402300799999999} {
		text, ok := civil.AppendDateTime(nil, us, 'T')
		if !ok {
			t.Fatalf("civil.AppendDateTime(%d) failed", us)
		}
		if got, err := parseDateTime(text); err != nil || got != us {
			t.Errorf("DATETIME %d → %q → %d, %v", us, text, got, err)
		}
	}
	for _, iv := range []arrow.MonthDayNanoInterval{
		{}, {Months: 14, Days: 3, Nanoseconds: 1000}, {Months: -120000, Days: -3660000, Nanoseconds: -1000},
		{Months: 7, Days: -2, Nanoseconds: (math.MaxInt64 / 1000) * 1000},
		{Months: math.MinInt32, Days: math.MaxInt32, Nanoseconds: -1000},
	} {
		text, err := encode.AppendInterval(nil, iv)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := parseInterval(text); err != nil || got != iv {
			t.Errorf("INTERVAL %v → %q → %v, %v", iv, text, got, err)
		}
	}
}
