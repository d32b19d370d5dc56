package output

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{3.5, "3.5"},
		{1e6, "1000000"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1.5e300, "1.5e+300"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{-0.1, "-0.1"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	} {
		if got := string(appendFloat([]byte("x"), tc.in)); got != "x"+tc.want {
			t.Errorf("appendFloat(%v) = %q, want %q", tc.in, got[1:], tc.want)
		}
	}
	// Every finite value reads back as itself.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := math.Float64frombits(rng.Uint64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		text := appendFloat(nil, v)
		var back float64
		if err := json.Unmarshal(text, &back); err != nil || math.Float64bits(back) != math.Float64bits(v) {
			t.Fatalf("appendFloat(%v) = %s reads back as %v (%v)", v, text, back, err)
		}
	}
}

// bigWords returns v (within 256 bits) as two's complement words, least significant first.
func bigWords(v *big.Int) []uint64 {
	u := new(big.Int).Set(v)
	if v.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), 256))
	}
	words := make([]uint64, 4)
	for k := range words {
		words[k] = new(big.Int).Rsh(u, uint(64*k)).Uint64()
	}
	return words
}

func TestAppendDecimal(t *testing.T) {
	for _, tc := range []struct {
		words []uint64
		scale int
		want  string
	}{
		{[]uint64{0, 0}, 9, "0"},
		{[]uint64{123456000000, 0}, 9, "123.456"},
		{[]uint64{^uint64(499999999), ^uint64(0)}, 9, "-0.5"},
		{[]uint64{1, 0}, 9, "0.000000001"},
		{[]uint64{^uint64(0), ^uint64(0)}, 9, "-0.000000001"},
		{[]uint64{1, 0, 0, 0}, 38, "0.00000000000000000000000000000000000001"},
		{[]uint64{0, 0, 0, 1 << 63}, 38, "-578960446186580977117854925043439539266.34992332820282019728792003956564819968"},
		{[]uint64{^uint64(0), ^uint64(0), ^uint64(0), 1<<63 - 1}, 38, "578960446186580977117854925043439539266.34992332820282019728792003956564819967"},
		{[]uint64{10_000_000_000_000_000_000, 0}, 0, "10000000000000000000"},
	} {
		if got := string(appendDecimal(nil, tc.words, tc.scale)); got != tc.want {
			t.Errorf("appendDecimal(%x, %d) = %s, want %s", tc.words, tc.scale, got, tc.want)
		}
	}
	// Random values agree with math/big.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		b := make([]byte, 1+rng.IntN(31)) // below 2^248: within BIGNUMERIC
		for k := range b {
			b[k] = byte(rng.Uint32())
		}
		v := new(big.Int).SetBytes(b)
		if rng.IntN(2) == 0 {
			v.Neg(v)
		}
		want := new(big.Rat).SetFrac(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil))
		got, ok := new(big.Rat).SetString(string(appendDecimal(nil, bigWords(v), 38)))
		if !ok || got.Cmp(want) != 0 {
			t.Fatalf("appendDecimal(%s e-38) = %s", v, appendDecimal(nil, bigWords(v), 38))
		}
	}
}

// TestDateClock checks dates and times against package time, over the whole range of years.
func TestDateClock(t *testing.T) {
	for _, tc := range []struct {
		micros int64
		want   string
	}{
		{0, "1970-01-01T00:00:00"},
		{-1, "1969-12-31T23:59:59.999999"},
		{1, "1970-01-01T00:00:00.000001"},
		{time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC).UnixMicro(), "2024-02-29T23:59:59.999999"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), "0001-01-01T00:00:00"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro(), "9999-12-31T23:59:59.999999"},
		{time.Date(2000, 1, 1, 12, 0, 0, 500000000, time.UTC).UnixMicro(), "2000-01-01T12:00:00.500000"},
	} {
		got, err := appendDateClock(nil, tc.micros, 'T', nil)
		if err != nil || string(got) != tc.want {
			t.Errorf("appendDateClock(%d) = %s, %v; want %s", tc.micros, got, err, tc.want)
		}
	}
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400
	for days := first; days <= last; days += 13 {
		got, err := appendDate(nil, days, nil)
		if want := time.Unix(days*86400, 0).UTC().Format(time.DateOnly); err != nil || string(got) != want {
			t.Fatalf("appendDate(%d) = %s, %v; want %s", days, got, err, want)
		}
	}
	for _, days := range []int64{first - 1, last + 1} {
		if _, err := appendDate(nil, days, &schema.Field{Name: "d", Type: schema.Date}); err == nil {
			t.Errorf("appendDate(%d): no error for a year outside 1-9999", days)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"hello", `"hello"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"line1\nline2\r\t", `"line1\nline2\r\t"`},
		{"\x00nul\x1f", `"\u0000nul\u001f"`},
		{"<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"héllo 🚀 中文", `"héllo 🚀 中文"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"\x7f", "\"\x7f\""},
	} {
		got := appendJSONString(nil, tc.in)
		if string(got) != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: not JSON: %v", tc.in, got, err)
		} else if want := string([]rune(tc.in)); back != want {
			t.Errorf("appendJSONString(%q) reads back as %q", tc.in, back)
		}
	}
}

// TestValuesAllocate checks that appending values allocates nothing once dst has room.
func TestValuesAllocate(t *testing.T) {
	dst := make([]byte, 0, 1024)
	words := []uint64{1, 2, 3, 1 << 63}
	iv := arrow.MonthDayNanoInterval{Months: -14, Days: 3, Nanoseconds: 3_723_000_001_000}
	allocs := testing.AllocsPerRun(100, func() {
		d := appendFloat(dst[:0], 1.7976931348623157e308)
		d = appendDecimal(d, words, 38)
		d, _ = appendDateClock(d, -62135596800000000, ' ', nil)
		d = appendJSONString(d, "héllo <\x00> \xff")
		d, _ = encode.AppendInterval(d, iv)
		_ = strconv.AppendInt(d, 1, 10)
	})
	if allocs != 0 {
		t.Errorf("appending values allocates %v times, want 0", allocs)
	}
}
