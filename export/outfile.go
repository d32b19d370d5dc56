package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// outputFile is where the merge writes: the work dir's temp output, which commit renames to
// --out, an upload to an object, which commit completes, or a stream (stdout, a device, a FIFO)
// written to directly.
type outputFile struct {
	path      string
	overwrite bool // Options.Overwrite: an existing regular file may be replaced
	dir       *workdir.Dir
	f         *os.File            // the temp file; nil for a stream
	temp      *workdir.OutputTemp // f and its merge journal
	up        *store.Upload       // the object's upload
	bucket    *store.Blob         // the bucket up writes to; closed by discard
	w         io.Writer
}

// createOutput creates the temp output of a file destination in the work dir d (workdir decides
// where it lives), or takes over the one an earlier run left with a merge journal, or opens a
// stream destination for writing. Unless keepParts, a new temp output has a journal, so that the
// merge removes the segments it copied (shard.Merger.WriteOnce).
func createOutput(ctx context.Context, out string, kind destKind, overwrite, keepParts bool, d *workdir.Dir, stdout io.Writer) (*outputFile, error) {
	switch {
	case kind == destObject:
		return createObject(ctx, "Out", out, overwrite)
	case out == "-":
		return &outputFile{path: out, w: stdout}, nil
	case kind == destStream:
		f, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open output: %w", err)
		}
		return &outputFile{path: out, w: f}, nil
	}
	t, err := d.OpenOutputTemp(out, !keepParts)
	if err != nil {
		return nil, err
	}
	return &outputFile{path: out, overwrite: overwrite, dir: d, f: t.File, temp: t, w: store.NewWritebackFile(t.File)}, nil
}

// newMerger returns the merger of the export's segments into o. Where a failed merge leaves the
// destination as it was (a temp output is not renamed, an upload not completed), it checks each
// segment as it copies it, reading it once; it also writes each byte once when the temp output
// has a merge journal.
func (o *outputFile) newMerger(ctx context.Context, d *workdir.Dir, m *session.Manifest) (*shard.Merger, error) {
	mg, err := shard.NewMerger(d, m, o.w)
	if err != nil {
		return nil, err
	}
	if o.temp != nil || o.up != nil {
		mg.CheckAsCopied()
	}
	if o.temp == nil || !o.temp.Journaled() {
		return mg, nil
	}
	return mg, mg.WriteOnce(ctx, o.temp)
}

// createObject starts the upload of the object out, named by the option field; it is written
// last, when commit completes the upload, and only if no object appeared there meanwhile unless
// overwrite. An upload that does not complete (an error, an interrupt) leaves no object.
func createObject(ctx context.Context, field, out string, overwrite bool) (*outputFile, error) {
	dir, name := splitObject(out)
	b, err := store.OpenBlob(ctx, dir)
	if err != nil {
		return nil, bucketError(field, out, err)
	}
	up, err := b.Upload(ctx, name, overwrite)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &outputFile{path: out, overwrite: overwrite, up: up, bucket: b, w: up}, nil
}

// commit makes the temp file the output: fsync, rename, fsync of the directory. The destination
// is checked again first, as it was before the export: what appeared there while the export ran
// (a file without Overwrite, a directory, a device) is never renamed over; the export then stops
// with its parts kept.
func (o *outputFile) commit() error {
	if o.up != nil {
		err := o.up.Commit()
		if errors.Is(err, store.ErrExist) {
			return appeared(o.path, err)
		}
		return err
	}
	if o.f == nil {
		return o.closeStream()
	}
	if _, err := checkDest("Out", o.path, o.overwrite); err != nil {
		return fmt.Errorf("%s changed while the export ran, so the output was not put there (%v)", o.path, err)
	}
	f := o.f
	o.f = nil
	o.temp.Close()
	if err := store.CommitFile(f, o.path); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// appeared is the error for an object that appeared at out while the export ran (err wraps
// store.ErrExist).
func appeared(out string, err error) error {
	return fmt.Errorf("%s appeared while the export ran, so the output was not put there (%w)", out, err)
}

// closeStream closes a device or FIFO opened by createOutput (not stdout).
func (o *outputFile) closeStream() error {
	if c, ok := o.w.(*os.File); ok && o.path != "-" {
		o.w = nil
		return c.Close()
	}
	return nil
}

// discard removes the temp file unless commit put it in place or it holds segments whose files
// the merge removed (a resume goes on from it), and closes the bucket of an object's upload.
func (o *outputFile) discard() {
	if o.up != nil {
		o.up.Abort()
		o.bucket.Close()
		o.up, o.bucket = nil, nil
	}
	if o.f != nil {
		o.f.Close()
		o.temp.Close()
		if !o.temp.Holds() {
			o.dir.RemoveOutputTemp()
		}
		o.f = nil
	}
	o.closeStream()
}
