package output

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// formatImpl is what one format file provides. Each format registers itself in an init function of
// its own file, so that formats stay independent of each other.
type formatImpl struct {
	newWriter func(w io.Writer, s *arrow.Schema, o Options) (Writer, error)
	newMerger func(dst io.Writer) partMerger
}

// partMerger is one format's merge, a part at a time: add is called with parts 0, 1, 2... and close
// after at least one.
type partMerger interface {
	add(i int, p Part) error
	close() error
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
	return impl.newWriter(w, s, o)
}

// Merge writes the parts, complete files of format f in order, as one file of format f to dst,
// without decoding rows where the format allows it.
func Merge(dst io.Writer, f Format, parts []Part) error {
	m, err := NewMerger(dst, f)
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
type Merger struct {
	f     Format
	m     partMerger
	parts int
}

// NewMerger returns a Merger writing one file of format f to dst.
func NewMerger(dst io.Writer, f Format) (*Merger, error) {
	impl, err := lookup(f)
	if err != nil {
		return nil, err
	}
	return &Merger{f: f, m: impl.newMerger(dst)}, nil
}

// Add appends part p, a complete file of the Merger's format.
func (m *Merger) Add(p Part) error {
	if err := m.m.add(m.parts, p); err != nil {
		return fmt.Errorf("%s merge: part %d: %w", m.f, m.parts, err)
	}
	m.parts++
	return nil
}

// Close finishes the file. Merging no part at all is an error: there is no schema to write (write
// an empty file with NewWriter instead).
func (m *Merger) Close() error {
	if m.parts == 0 {
		return fmt.Errorf("%s merge: no parts: write an empty file with NewWriter instead", m.f)
	}
	if err := m.m.close(); err != nil {
		return fmt.Errorf("%s merge: %w", m.f, err)
	}
	return nil
}
