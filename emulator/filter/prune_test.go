package filter

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/bqread/bqread/schema"
	"github.com/google/go-cmp/cmp"
)

// TestCanMatch asks which rows could match knowing only d (the fixture's d: 2014-09-27,
// 2014-09-28, NULL, 1970-01-01), as a service prunes partitions by their partitioning value.
func TestCanMatch(t *testing.T) {
	s, err := schema.Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec, _, err := array.RecordFromJSON(mem, schema.ArrowSchema(s), strings.NewReader(testRows))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for _, tc := range []struct {
		expr string
		want []bool
	}{
		{"d = '2014-09-27' AND i > 100", []bool{true, false, false, false}},
		{"d = '2014-09-27' OR i > 100", []bool{true, true, true, true}},
		{"NOT (d = '2014-09-27')", []bool{false, true, false, true}},
		{"NOT (d = '2014-09-27' AND s = 'x')", []bool{true, true, true, true}},
		{"d IS NULL OR s = 'x'", []bool{true, true, true, true}},
		{"d IS NULL AND s = 'x'", []bool{false, false, true, false}},
		{"DATE_SUB(d, INTERVAL 1 DAY) >= '2014-09-27'", []bool{false, true, false, false}},
		{"d IN ('1970-01-01', '2014-09-28') AND (i > 0 OR b)", []bool{false, true, false, true}},
		{"i > 0", []bool{true, true, true, true}},
		{"1 = 0 OR s = 'x'", []bool{true, true, true, true}},
		{"1 = 0 AND s = 'x'", []bool{false, false, false, false}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := Parse(tc.expr, s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, f.CanMatch(rec, []string{"D"})); diff != "" {
				t.Errorf("CanMatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRestricts(t *testing.T) {
	s, _ := fixture(t)
	for expr, want := range map[string]bool{
		"d = '2014-09-27'":                               true,
		"d > '2014-01-01' AND i > 1":                     true,
		"i > 1 AND (d > '2014-01-01' OR d IS NULL)":      true,
		"NOT (d = '2014-09-27')":                         true,
		"DATE_TRUNC(d, MONTH) = '2014-09-01'":            true,
		"d > DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY)":   true,
		"d > '2014-01-01' OR i > 1":                      false,
		"i > 1":                                          false,
		"1 = 1":                                          false,
		"d = DATE(ts)":                                   false,
		"(d = '2014-09-27' OR i = 1) AND (s = 'x' OR b)": false,
	} {
		f, err := Parse(expr, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Restricts([]string{"d"}); got != want {
			t.Errorf("Restricts(%q) = %v, want %v", expr, got, want)
		}
	}
}
