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
	merge     func(dst io.Writer, parts []Part) error
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
	impl, err := lookup(f)
	if err != nil {
		return err
	}
	return impl.merge(dst, parts)
}
