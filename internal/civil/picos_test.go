package civil

import (
	"math"
	"testing"
	"time"
)

func TestPicosText(t *testing.T) {
	for _, tc := range []struct {
		in     string
		iso    string
		text9  string
		micros int64
	}{
		{"2024-02-29 23:59:59.123456789012", "2024-02-29T23:59:59.123456789012Z", "2024-02-29 23:59:59.123456789",
			time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.UTC).UnixMicro()},
		{"1969-12-31T23:59:59.999999999999", "1969-12-31T23:59:59.999999999999Z", "1969-12-31 23:59:59.999999999", -1},
		{"1970-01-01 00:00:00.000000000001", "1970-01-01T00:00:00.000000000001Z", "1970-01-01 00:00:00", 0},
		{"0001-01-01 00:00:00", "0001-01-01T00:00:00.000000000000Z", "0001-01-01 00:00:00",
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()},
		{"9999-12-31 23:59:59.5", "9999-12-31T23:59:59.500000000000Z", "9999-12-31 23:59:59.500000000",
			time.Date(9999, 12, 31, 23, 59, 59, 5e8, time.UTC).UnixMicro()},
	} {
		p, err := ParsePicos(tc.in, Loose)
		if err != nil {
			t.Fatalf("ParsePicos(%q): %v", tc.in, err)
		}
		iso, ok := AppendISOPicos(nil, p)
		if !ok || string(iso) != tc.iso {
			t.Errorf("AppendISOPicos(%q) = %q, %v; want %q", tc.in, iso, ok, tc.iso)
		}
		if back, err := ParseISOPicos(string(iso)); err != nil || back != p {
			t.Errorf("ParseISOPicos(%q) = %v, %v; want %v", iso, back, err, p)
		}
		if text, _ := AppendPicos(nil, p, ' ', 9); string(text) != tc.text9 {
			t.Errorf("AppendPicos(%q, 9) = %q, want %q", tc.in, text, tc.text9)
		}
		if got := p.Micros(); got != tc.micros {
			t.Errorf("Micros(%q) = %d, want %d", tc.in, got, tc.micros)
		}
	}
	for _, bad := range []string{"2024-02-29 23:59:59.1234567890123", "2024-02-29 23:59:59.", "2024-02-30 00:00:00", "2024-02-29 23:59:59.12a"} {
		if _, err := ParsePicos(bad, Loose); err == nil {
			t.Errorf("ParsePicos(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"2024-02-29 23:59:59Z", "2024-02-29T23:59:59"} {
		if _, err := ParseISOPicos(bad); err == nil {
			t.Errorf("ParseISOPicos(%q) succeeded", bad)
		}
	}
}

func TestPicosNanos(t *testing.T) {
	for _, tc := range []struct {
		p  Picos
		ns int64
		ok bool
	}{
		{Picos{0, 999}, 0, true},
		{Picos{-1, PicosPerSecond - 1}, -1, true},
		{Picos{9223372036, 854775807999}, math.MaxInt64, true},
		{Picos{9223372036, 854775808000}, 0, false},
		{Picos{-9223372037, 145224192000}, math.MinInt64, true},
		{Picos{-9223372037, 145224191999}, 0, false},
		{Picos{1 << 40, 0}, 0, false},
	} {
		ns, ok := tc.p.Nanos()
		if ns != tc.ns || ok != tc.ok {
			t.Errorf("%v.Nanos() = %d, %v; want %d, %v", tc.p, ns, ok, tc.ns, tc.ok)
		}
		if ok && PicosOfNanos(ns) != (Picos{tc.p.Sec, tc.p.Frac / 1000 * 1000}) {
			t.Errorf("PicosOfNanos(%d) = %v", ns, PicosOfNanos(ns))
		}
	}
}
