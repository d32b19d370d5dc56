package export

import (
	"fmt"
	"io"
	"os"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
)

// outputFile is where the merge writes: the work dir's temp output, which commit renames to
// --out, or a stream (stdout, a device, a FIFO) written to directly.
type outputFile struct {
	path      string
	overwrite bool // Options.Overwrite: an existing regular file may be replaced
	dir       *workdir.Dir
	f         *os.File // the temp file; nil for a stream
	w         io.Writer
}

// createOutput creates the temp output of a file destination in the work dir d (workdir decides
// where it lives), or opens a stream destination for writing.
func createOutput(out string, kind destKind, overwrite bool, d *workdir.Dir, stdout io.Writer) (*outputFile, error) {
	switch {
	case out == "-":
		return &outputFile{path: out, w: stdout}, nil
	case kind == destStream:
		f, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open output: %w", err)
		}
		return &outputFile{path: out, w: f}, nil
	}
	f, err := d.CreateOutputTemp(out)
	if err != nil {
		return nil, err
	}
	return &outputFile{path: out, overwrite: overwrite, dir: d, f: f, w: store.NewWritebackFile(f)}, nil
}

// commit makes the temp file the output: fsync, rename, fsync of the directory. The destination
// is checked again first, as it was before the export: what appeared there while the export ran
// (a file without Overwrite, a directory, a device) is never renamed over; the export then stops
// with its parts kept.
func (o *outputFile) commit() error {
	if o.f == nil {
		return o.closeStream()
	}
	if _, err := checkDest("Out", o.path, o.overwrite); err != nil {
		return fmt.Errorf("%s changed while the export ran, so the output was not put there (%v)", o.path, err)
	}
	f := o.f
	o.f = nil
	if err := store.CommitFile(f, o.path); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// closeStream closes a device or FIFO opened by createOutput (not stdout).
func (o *outputFile) closeStream() error {
	if c, ok := o.w.(*os.File); ok && o.path != "-" {
		o.w = nil
		return c.Close()
	}
	return nil
}

// discard removes the temp file unless commit put it in place.
func (o *outputFile) discard() {
	if o.f != nil {
		o.f.Close()
		o.dir.RemoveOutputTemp()
		o.f = nil
	}
	o.closeStream()
}
