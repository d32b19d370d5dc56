package workdir

import (
	"context"
	"fmt"
	"hash/crc32"

	"github.com/bqread/bqread/internal/store"
)

// The pieces a merge inside the store writes beside the segments of a work dir in a bucket: the
// output's header and footer, which the store concatenates with the segments' bodies.
const (
	MergeHeaderName = "merge-header"
	MergeFooterName = "merge-footer"
)

// WriteMergePiece commits data as the merge piece name (MergeHeaderName or MergeFooterName),
// replacing one an earlier merge left, and returns it as a source of a concatenation.
func (d *Dir) WriteMergePiece(name string, data []byte) (store.Source, error) {
	if name != MergeHeaderName && name != MergeFooterName {
		return store.Source{}, fmt.Errorf("workdir: %q is not a merge piece", name)
	}
	if err := d.writeFile(name, data); err != nil {
		return store.Source{}, err
	}
	return store.Source{Name: name, Size: int64(len(data)), CRC32C: crc32.Checksum(data, castagnoli)}, nil
}

// RemoveMergePieces removes the merge pieces; missing ones are no error.
func (d *Dir) RemoveMergePieces(ctx context.Context) error {
	for _, name := range []string{MergeHeaderName, MergeFooterName} {
		if err := d.st.Remove(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// Source returns the segment as a source of a concatenation, with its recorded size and CRC-32C.
func (s Segment) Source() store.Source {
	return store.Source{Name: s.Name, Size: s.Size, CRC32C: s.CRC32C}
}
