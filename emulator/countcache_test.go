package emulator

import (
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/emulator/filter"
)

// countingRows counts the reads of a table's rows.
type countingRows struct {
	rowSource
	reads int
}

func (c *countingRows) read(lo, hi int64, mem memory.Allocator) (arrow.Record, error) {
	c.reads++
	return c.rowSource.read(lo, hi, mem)
}

// TestFilteredCountsCached: the counts of a row restriction's rows per block are kept in the
// payload cache, so that a second session of the same restriction counts without reading the
// rows, with the same counts; a session of another restriction reads them and counts its own.
func TestFilteredCountsCached(t *testing.T) {
	fsys := fstest.MapFS{
		"schema.json":    {Data: mustRead(t, "samples/bqread-demo/samples/trips/schema.json")},
		"synthetic.json": {Data: []byte(`{"rows": 1000, "seed": 3}`)},
	}
	v, err := loadVersion(tableRef{"p", "d", "t"}, fsys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rows := &countingRows{rowSource: v.rows}
	v.rows = rows
	cache := newPayloadCache(1 << 20)
	count := func(expr string) []piece {
		t.Helper()
		f, err := filter.Parse(expr, v.columns())
		if err != nil {
			t.Fatal(err)
		}
		s := &session{version: v, filter: f, cache: cache, cacheKey: "t|" + expr}
		ps, err := s.count(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	total := func(ps []piece) (n int64) {
		for _, p := range ps {
			n += p.n
		}
		return n
	}
	first := count("passenger_count = 2")
	if rows.reads != 1 || total(first) == 0 || total(first) == 1000 {
		t.Fatalf("%d reads, %d of 1000 rows counted: want one read and some rows", rows.reads, total(first))
	}
	if again := count("passenger_count = 2"); rows.reads != 1 || !slices.Equal(again, first) {
		t.Errorf("the second count read the rows %d times more, counts equal %v", rows.reads-1, slices.Equal(again, first))
	}
	if other := count("trip_id <= 300"); rows.reads != 2 || total(other) != 300 {
		t.Errorf("another restriction: %d reads, %d rows counted; want a read of its own and 300 rows", rows.reads, total(other))
	}
}
