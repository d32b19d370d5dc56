package output

import (
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// formatImpl is what one format file provides. Each format registers itself in an init function of
// its own file, so that formats stay independent of each other.
type formatImpl struct {
	newWriter func(w io.Writer, s *arrow.Schema, o Options) (Writer, error)
	// newMerger merges parts written with o.
	newMerger func(dst io.Writer, o Options) partMerger
	// anyOrder: the file lists its row blocks in a footer, so parts may be copied in any order and
	// close lists them in merged order.
	anyOrder bool
}

// partMerger is one format's merge, a part at a time: add is called with parts 0, 1, 2... (in
// the order they come) and close after at least one, with the add indexes in merged order
// (always 0, 1, 2... for formats that are not anyOrder).
type partMerger interface {
	add(i int, p Part) error
	close(order []int) error
}

var impls = map[Format]formatImpl{}

func register(f Format, impl formatImpl) { impls[f] = impl }

func lookup(f Format) (formatImpl, error) {
	impl, ok := impls[f]
	if !ok {
		return formatImpl{}, fmt.Errorf("%w: format %q", ErrUnsupported, f)
	}
	return impl, nil
}

// NewWriter returns a Writer of format f for records of schema s (the Storage API Arrow schema,
// with google:sqlType metadata), writing to w.
func NewWriter(w io.Writer, f Format, s *arrow.Schema, o Options) (Writer, error) {
	impl, err := lookup(f)
	if err != nil {
		return nil, err
	}
	if f != CSV && o.csvOnly() {
		return nil, fmt.Errorf("%w: the field delimiter, header and null marker options are for csv, not %s", ErrUnsupported, f)
	}
	return impl.newWriter(w, s, o)
}

// Merge writes the parts, complete files of format f written with the zero Options, in order, as
// one file of format f to dst, without decoding rows where the format allows it.
func Merge(dst io.Writer, f Format, parts []Part) error {
	m, err := NewMerger(dst, f, Options{})
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := m.Add(p); err != nil {
			return err
		}
	}
	return m.Close()
}

// Merger merges parts as they come: Add copies each part after the ones before it, Close finishes
// the file (a footer, for formats that have one). It is Merge for parts that are not all there yet.
// Arrow and Parquet files list their row blocks in the footer: their parts may be added in any
// order (AnyOrder), as they become ready, and the merged file lists them by Part.Order. The other
// formats take the parts in Order.
type Merger struct {
	f        Format
	m        partMerger
	anyOrder bool
	orders   [][]int64 // each added part's Order
}

// NewMerger returns a Merger writing one file of format f to dst from parts that were written with
// the options o (a CSV part starts with a header row unless o.NoHeader).
func NewMerger(dst io.Writer, f Format, o Options) (*Merger, error) {
	impl, err := lookup(f)
	if err != nil {
		return nil, err
	}
	return &Merger{f: f, m: impl.newMerger(dst, o), anyOrder: impl.anyOrder}, nil
}

// AnyOrder reports whether parts may be added in any order (Arrow, Parquet).
func (m *Merger) AnyOrder() bool { return m.anyOrder }

// Add appends part p, a complete file of the Merger's format. Unless AnyOrder, p must come after
// the parts added before it.
func (m *Merger) Add(p Part) error {
	i, order := len(m.orders), p.Order
	if order == nil {
		order = []int64{int64(i)}
	}
	if i > 0 && !m.anyOrder && slices.Compare(order, m.orders[i-1]) <= 0 {
		return fmt.Errorf("%s merge: part %d (order %v) does not come after part %d (order %v): %s parts must be added in order",
			m.f, i, order, i-1, m.orders[i-1], m.f)
	}
	if err := m.m.add(i, p); err != nil {
		return fmt.Errorf("%s merge: part %d: %w", m.f, i, err)
	}
	m.orders = append(m.orders, order)
	return nil
}

// Close finishes the file, listing the parts by Order. Merging no part at all is an error: there is
// no schema to write (write an empty file with NewWriter instead).
func (m *Merger) Close() error {
	if len(m.orders) == 0 {
		return fmt.Errorf("%s merge: no parts: write an empty file with NewWriter instead", m.f)
	}
	order := make([]int, len(m.orders))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return slices.Compare(m.orders[a], m.orders[b]) })
	for k := 1; k < len(order); k++ {
		if a, b := order[k-1], order[k]; slices.Equal(m.orders[a], m.orders[b]) {
			return fmt.Errorf("%s merge: parts %d and %d have the same order %v", m.f, a, b, m.orders[a])
		}
	}
	if err := m.m.close(order); err != nil {
		return fmt.Errorf("%s merge: %w", m.f, err)
	}
	return nil
}
