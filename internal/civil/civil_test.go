package civil

import (
	"testing"
	"time"
)

// TestAgainstTime checks Days and Date against the standard library over BigQuery's whole range.
func TestAgainstTime(t *testing.T) {
	for day := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 10000; day = day.AddDate(0, 0, 1) {
		y, m, d := int64(day.Year()), int64(day.Month()), int64(day.Day())
		want := day.Unix() / 86400
		if got := Days(y, m, d); got != want {
			t.Fatalf("Days(%d, %d, %d) = %d, want %d", y, m, d, got, want)
		}
		if gy, gm, gd := Date(want); gy != y || gm != m || gd != d {
			t.Fatalf("Date(%d) = %d-%d-%d, want %d-%d-%d", want, gy, gm, gd, y, m, d)
		}
		if !Valid(y, m, d) {
			t.Fatalf("Valid(%d, %d, %d) = false", y, m, d)
		}
	}
}

func TestValid(t *testing.T) {
	for _, c := range [][3]int64{{0, 12, 31}, {10000, 1, 1}, {2023, 2, 29}, {2024, 13, 1}, {2024, 4, 31}, {2024, 1, 0}, {1900, 2, 29}} {
		if Valid(c[0], c[1], c[2]) {
			t.Errorf("Valid(%v) = true, want false", c)
		}
	}
	if !Valid(2000, 2, 29) || !Valid(2024, 2, 29) {
		t.Error("leap days rejected")
	}
}
