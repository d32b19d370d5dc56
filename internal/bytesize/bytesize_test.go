package bytesize

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1048576", 1 << 20},
		{"10B", 10},
		{"4G", 4_000_000_000},
		{"4g", 4_000_000_000},
		{"4GB", 4_000_000_000},
		{"4GiB", 4 << 30},
		{"4Gi", 4 << 30},
		{"500KB", 500_000},
		{"1.5KiB", 1536},
		{"1.5 GiB/s", 3 << 29},
		{"25MiB/s", 25 << 20},
		{" 4G ", 4_000_000_000},
		{"0.5", 0},
		{"8EiB", 0}, // too large
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.in == "8EiB" {
			if err == nil {
				t.Errorf("Parse(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "fast", "-1MiB", "MiB", "4 GiBs", "1e6", "/s"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 7: "7 B", 256 << 20: "256 MiB", 3 << 29: "1.5 GiB", 4 << 30: "4.0 GiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}
