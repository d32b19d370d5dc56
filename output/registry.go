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
	// newBody writes one body of l's files (records of l.Schema).
	newBody func(l *Layout, w io.Writer) (Body, error)
	// header writes what starts every file of l; nil for none.
	header func(l *Layout, w io.Writer) error
	// footer writes what ends a file of l made of bodies, listed in file order; nil for none.
	footer func(l *Layout, w io.Writer, bodies []BodyRef) error
	// anyOrder: the footer lists the row blocks, so bodies may be copied in any order and the
	// footer lists them in merged order.
	anyOrder bool
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
// with google:sqlType metadata), writing to w: one complete file.
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

// Merge writes one file of layout l to dst from the bodies parts, in order.
func Merge(dst io.Writer, l *Layout, parts []Part) error {
	m, err := NewMerger(dst, l)
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

// Merger writes one file of a Layout as its bodies come: the header first, then each body Add
// is given, copied byte for byte, then at Close the footer, made from the bodies' metadata and
// places. Where the footer lists the row blocks (Arrow, Parquet), bodies may be added in any
// order (AnyOrder), as they become ready, and the footer lists them by Part.Order; the other
// formats take the bodies in Order. A Merger never decodes a row.
type Merger struct {
	l      *Layout
	impl   formatImpl
	out    *CountingWriter
	header bool      // written
	orders [][]int64 // each added part's Order
	refs   []BodyRef // each added part's place
}

// NewMerger returns a Merger writing one file of layout l to dst.
func NewMerger(dst io.Writer, l *Layout) (*Merger, error) {
	impl, err := l.impl()
	if err != nil {
		return nil, err
	}
	return &Merger{l: l, impl: impl, out: &CountingWriter{W: dst}}, nil
}

// AnyOrder reports whether bodies may be added in any order (Arrow, Parquet).
func (m *Merger) AnyOrder() bool { return m.impl.anyOrder }

// Written is the number of bytes written to dst so far.
func (m *Merger) Written() int64 { return m.out.N }

func (m *Merger) writeHeader() error {
	if m.header {
		return nil
	}
	m.header = true
	if m.impl.header == nil {
		return nil
	}
	if err := m.impl.header(m.l, m.out); err != nil {
		return fmt.Errorf("%s header: %w", m.l.Format, err)
	}
	return nil
}

// Resume sets a new Merger to go on after the first at bytes of a file that an earlier Merger of
// the same layout wrote: the header and the bodies refs, whose Orders are orders. dst is
// positioned at at.
func (m *Merger) Resume(at int64, refs []BodyRef, orders [][]int64) error {
	if len(m.refs) > 0 || m.out.N > 0 || len(refs) != len(orders) {
		return fmt.Errorf("%s merge: resume of a Merger that wrote already, or of %d bodies with %d orders", m.l.Format, len(refs), len(orders))
	}
	m.header, m.out.N = true, at
	m.refs, m.orders = slices.Clone(refs), slices.Clone(orders)
	return nil
}

// Add appends body p. Unless AnyOrder, p must come after the bodies added before it.
func (m *Merger) Add(p Part) error {
	return m.add(p, func() error { return copyRange(m.out, p.R, 0, p.Size) })
}

// AddFrom is Add of the body read from r, which ends after p.Size bytes; p.R is not read. An
// error of r's last read, after its bytes were written, is returned.
func (m *Merger) AddFrom(p Part, r io.Reader) error {
	return m.add(p, func() error {
		n, err := io.Copy(m.out, r)
		if err == nil && n != p.Size {
			err = fmt.Errorf("%d bytes, want %d", n, p.Size)
		}
		return err
	})
}

// Place is Add without the copy: p.R is not read, and the caller puts p's Size bytes where the
// body would be, between what this Merger writes before and after (a store that concatenates
// objects puts the header, the bodies and the footer together). Written counts them as written.
func (m *Merger) Place(p Part) error {
	return m.add(p, func() error {
		m.out.N += p.Size
		return nil
	})
}

// add writes body p with put, in its place among the bodies.
func (m *Merger) add(p Part, put func() error) error {
	i, order := len(m.orders), p.Order
	if order == nil {
		order = []int64{int64(i)}
	}
	f := m.l.Format
	if i > 0 && !m.impl.anyOrder && slices.Compare(order, m.orders[i-1]) <= 0 {
		return fmt.Errorf("%s merge: part %d (order %v) does not come after part %d (order %v): %s parts must be added in order",
			f, i, order, i-1, m.orders[i-1], f)
	}
	if err := m.writeHeader(); err != nil {
		return err
	}
	ref := BodyRef{Offset: m.out.N, Size: p.Size, Meta: p.Meta}
	if err := put(); err != nil {
		return fmt.Errorf("%s merge: part %d: %w", f, i, err)
	}
	m.orders, m.refs = append(m.orders, order), append(m.refs, ref)
	return nil
}

// Close writes the footer, listing the bodies by Order. With no body it finishes a valid file
// with the schema and no rows.
func (m *Merger) Close() error {
	if err := m.writeHeader(); err != nil {
		return err
	}
	order := make([]int, len(m.orders))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return slices.Compare(m.orders[a], m.orders[b]) })
	refs := make([]BodyRef, len(order))
	for k, i := range order {
		if k > 0 && slices.Equal(m.orders[order[k-1]], m.orders[i]) {
			return fmt.Errorf("%s merge: parts %d and %d have the same order %v", m.l.Format, order[k-1], i, m.orders[i])
		}
		refs[k] = m.refs[i]
	}
	if m.impl.footer == nil {
		return nil
	}
	if err := m.impl.footer(m.l, m.out, refs); err != nil {
		return fmt.Errorf("%s footer: %w", m.l.Format, err)
	}
	return nil
}
