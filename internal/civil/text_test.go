package civil

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestAppendDateTime checks the text against time's formatting at the ends of the range and at
// random instants in between.
func TestAppendDateTime(t *testing.T) {
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	micros := []int64{lo, hi, 0, -1, 500000, 86_399_999_999}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		micros = append(micros, lo+r.Int64N(hi-lo+1))
	}
	for _, us := range micros {
		want := strings.TrimSuffix(time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000"), ".000000")
		for _, sep := range []byte{'T', ' '} {
			got, ok := AppendDateTime(nil, us, sep)
			if w := strings.Replace(want, "T", string(sep), 1); !ok || string(got) != w {
				t.Fatalf("AppendDateTime(%d, %q) = %q, %v; want %q", us, sep, got, ok, w)
			}
		}
	}
	for _, us := range []int64{lo - 1, hi + 1} {
		if got, ok := AppendDateTime([]byte("x"), us, 'T'); ok || string(got) != "x" {
			t.Errorf("AppendDateTime(%d) = %q, %v; want nothing appended, false", us, got, ok)
		}
	}
}

func TestAppendClock(t *testing.T) {
	for us, want := range map[int64]string{0: "00:00:00", 1: "00:00:00.000001", 86_399_999_999: "23:59:59.999999", 45_296_789_000: "12:34:56.789000"} {
		if got := AppendClock(nil, us); string(got) != want {
			t.Errorf("AppendClock(%d) = %q, want %q", us, got, want)
		}
	}
}
