package filter

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// This file answers what a service asks of a filter before it reads a partitioned table: which
// partitions it can skip, knowing only the partitioning column's values, and whether the filter
// can be used to skip any at all.

// leafPred is one condition (a comparison, IS, IN, BETWEEN, LIKE or a BOOL operand) with the
// columns it reads.
type leafPred struct {
	pred
	cols []int
}

// unwrap returns p without its leafPred wrappers, for evaluation without their indirection.
func unwrap(p pred) pred {
	switch p := p.(type) {
	case andPred:
		return andPred{unwrap(p.l), unwrap(p.r)}
	case orPred:
		return orPred{unwrap(p.l), unwrap(p.r)}
	case notPred:
		return notPred{unwrap(p.x)}
	case leafPred:
		return p.pred
	}
	return p
}

// The three values of a condition as bits of a set.
const (
	anyValue uint8 = 1<<tFalse | 1<<tTrue | 1<<tNull
)

// possible returns the set of values p may take on row r when only the columns marked in known are
// known and the others could hold anything.
func possible(p pred, r *row, known []bool) uint8 {
	switch p := p.(type) {
	case andPred:
		return combine(possible(p.l, r, known), possible(p.r, r, known), andTri)
	case orPred:
		return combine(possible(p.l, r, known), possible(p.r, r, known), orTri)
	case notPred:
		return combine(possible(p.x, r, known), 1<<tTrue, func(x, _ tri) tri { return notTri(x) })
	case constPred:
		return 1 << tri(p)
	case leafPred:
		for _, c := range p.cols {
			if !known[c] {
				return anyValue
			}
		}
		return 1 << p.eval(r)
	}
	return anyValue
}

// combine applies f to every pair of values of the sets a and b.
func combine(a, b uint8, f func(x, y tri) tri) uint8 {
	var out uint8
	for x := tFalse; x <= tNull; x++ {
		for y := tFalse; y <= tNull; y++ {
			if a&(1<<x) != 0 && b&(1<<y) != 0 {
				out |= 1 << f(x, y)
			}
		}
	}
	return out
}

// knownColumns marks the schema positions of the named columns.
func (f *Filter) knownColumns(columns []string) []bool {
	known := make([]bool, len(f.schema))
	for i, c := range f.schema {
		for _, name := range columns {
			known[i] = known[i] || strings.EqualFold(c.Name, name)
		}
	}
	return known
}

// CanMatch returns, for each row of rec (with the schema the filter was parsed against), whether
// the filter could be TRUE for some row that has the same values in the named columns, whatever
// its other columns hold. With the partitioning column named, a partition none of whose rows can
// match is one the service skips (prunes) without reading it.
func (f *Filter) CanMatch(rec arrow.Record, columns []string) []bool {
	known := f.knownColumns(columns)
	return eachRow(rec, func(r *row) bool { return possible(f.tree, r, known)&(1<<tTrue) != 0 })
}

// Restricts reports whether every row the filter keeps must meet a condition that reads only the
// named columns (one at least): one of the conditions joined by its top-level ANDs. That is the
// filter BigQuery asks for on a table that requires one "that can be used for partition
// elimination".
func (f *Filter) Restricts(columns []string) bool {
	known := f.knownColumns(columns)
	var conjunct func(p pred) bool
	conjunct = func(p pred) bool {
		if a, ok := p.(andPred); ok {
			return conjunct(a.l) || conjunct(a.r)
		}
		cols, ok := reads(p)
		if !ok || len(cols) == 0 {
			return false
		}
		for _, c := range cols {
			if !known[c] {
				return false
			}
		}
		return true
	}
	return conjunct(f.tree)
}

// reads returns the columns p reads; ok is false for a predicate of unknown shape.
func reads(p pred) (cols []int, ok bool) {
	switch p := p.(type) {
	case andPred:
		return readsBoth(p.l, p.r)
	case orPred:
		return readsBoth(p.l, p.r)
	case notPred:
		return reads(p.x)
	case constPred:
		return nil, true
	case leafPred:
		return p.cols, true
	}
	return nil, false
}

func readsBoth(l, r pred) ([]int, bool) {
	a, ok1 := reads(l)
	b, ok2 := reads(r)
	return append(a[:len(a):len(a)], b...), ok1 && ok2
}
