package emulator

import (
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  string
	}{
		{"123.456", 9, "123456000000"},
		{"-0.5", 9, "-500000000"},
		{"1e-38", 38, "1"},
		{"1.5E2", 2, "15000"},
		{"0.0000000005", 9, "1"},   // half rounds away from zero
		{"-0.0000000005", 9, "-1"}, // on both sides
		{"0.0000000004", 9, "0"},
		{"+7", 0, "7"},
	}
	for _, tt := range tests {
		got, err := parseDecimal(tt.in, tt.scale)
		if err != nil || got.String() != tt.want {
			t.Errorf("parseDecimal(%q, %d) = %v, %v; want %s", tt.in, tt.scale, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-", "1.2.3", "abc", "1e", "0x10", "1e99999"} {
		if _, err := parseDecimal(bad, 9); err == nil {
			t.Errorf("parseDecimal(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseInterval(t *testing.T) {
	tests := []struct {
		in   string
		want interval
	}{
		{"0-0 0 0:0:0", interval{}},
		{"1-2 3 4:05:06.789", interval{14, 3, (4*3600+5*60+6)*1e9 + 789e6}},
		{"-1-2 -3 -4:05:06.000001", interval{-14, -3, -((4*3600+5*60+6)*1e9 + 1000)}},
		{"1-0 -1 0:0:1", interval{12, -1, 1e9}},
		// 87,840,000 hours overflow int64 nanoseconds: whole days move to the day part.
		{"0-0 0 87840000:0:0", interval{0, 3660000, 0}},
		{"0-0 0 -87840000:0:0.5", interval{0, -3660000, -5e8}},
	}
	for _, tt := range tests {
		got, err := parseInterval(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseInterval(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1-2 3", "1-12 0 0:0:0", "10001-0 0 0:0:0", "0-0 0 0:60:0", "0-0 0 0:0:0.1234567", "a-b c d:e:f", "1--2 0 0:0:0", "--1-2 0 0:0:0", "0-0 +1 0:0:0", "0-0 0 0:-1:0"} {
		if _, err := parseInterval(bad); err == nil {
			t.Errorf("parseInterval(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1970-01-01 00:00:00 UTC", 0},
		{"1970-01-01T00:00:01Z", 1e6},
		{"1970-01-01 01:00:00+01:00", 0},
		{"1970-01-01 00:00:00-0:30", 1800e6},
		{"1970-01-02", 86400e6},
		{"1970-1-2 3:04:05.5", (86400+3*3600+4*60+5)*1e6 + 5e5},
	}
	for _, tt := range tests {
		got, err := parseTimestamp(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseTimestamp(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"9999-12-31 23:59:59-01:00", "0001-01-01 00:00:00+00:01", "2024-13-01", "2024-01-01 24:00:00", "2024-01-01 00:00:00 PST"} {
		if _, err := parseTimestamp(bad); err == nil {
			t.Errorf("parseTimestamp(%q) succeeded, want an error", bad)
		}
	}
}

func TestPayloadCacheEvicts(t *testing.T) {
	c := newPayloadCache(10)
	c.put("a", make([]byte, 4), 1, 1)
	c.put("b", make([]byte, 4), 2, 2)
	if _, _, _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("c", make([]byte, 4), 3, 30) // evicts b, the least recently used
	if _, _, _, ok := c.get("b"); ok {
		t.Error("b survived eviction")
	}
	if _, n, end, ok := c.get("c"); !ok || n != 3 || end != 30 {
		t.Errorf("c = %d rows ending at %d, %v; want 3 rows ending at row 30", n, end, ok)
	}
	c.put("huge", make([]byte, 11), 1, 1)
	if _, _, _, ok := c.get("huge"); ok {
		t.Error("a payload larger than the cache was stored")
	}
}
