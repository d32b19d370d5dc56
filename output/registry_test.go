package output

import (
	"bytes"
	"strings"
	"testing"
)

// TestMergerAnyOrder checks that Arrow and Parquet parts added in reverse come out in Order.
func TestMergerAnyOrder(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	t.Run("arrow", func(t *testing.T) {
		recs := cut(t, rec, 1, 3)
		s, got := readArrow(t, mergeReversed(t, layoutOf(Arrow, rec, Options{}), arrowParts(t, recs, mem)), mem)
		sameRecords(t, recs, s, got)
	})
	t.Run("parquet", func(t *testing.T) {
		_, cols, md := readParquet(t, mergeReversed(t, layoutOf(Parquet, rec, Options{}), parquetParts(t, rec, mem)), mem)
		sameValues(t, parquetWant(t, rec, mem), cols)
		for i, rg := range md.RowGroups {
			if rg.Ordinal != nil && int(*rg.Ordinal) != i {
				t.Errorf("row group %d has ordinal %d", i, *rg.Ordinal)
			}
		}
	})
}

// TestMergerOrderErrors checks that formats without a footer refuse a part out of order, and that
// two parts may not share a place.
func TestMergerOrderErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	l := layoutOf(NDJSON, rec, Options{})
	parts := asParts(textParts(t, l, rec))
	m, err := NewMerger(&bytes.Buffer{}, l)
	if err != nil {
		t.Fatal(err)
	}
	parts[0].Order, parts[1].Order = []int64{1, 0}, []int64{0, 5}
	if err := m.Add(parts[0]); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(parts[1]); err == nil || !strings.Contains(err.Error(), "must be added in order") {
		t.Errorf("ndjson part out of order: err = %v", err)
	}
	files := arrowParts(t, cut(t, rec, 1, 3), mem)
	if m, err = NewMerger(&bytes.Buffer{}, layoutOf(Arrow, rec, Options{})); err != nil {
		t.Fatal(err)
	}
	for _, p := range asParts(files[:2]) {
		p.Order = []int64{3}
		if err := m.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err == nil || !strings.Contains(err.Error(), "same order") {
		t.Errorf("two arrow parts with one order: err = %v", err)
	}
}
