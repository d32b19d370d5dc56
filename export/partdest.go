package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
)

// partDest is the folder the files of a many-file output are put in: a local directory, or a
// prefix of a bucket. A file created in it appears under its name only when closed, whole; undo
// discards the files not closed and removes those put in place that are still the ones put
// there (the same inode; the same mark and ETag), so that a file someone else put at a name
// meanwhile is never removed.
type partDest interface {
	// create starts the file name; closing it puts it in place, unless a file appeared at the
	// name while the export ran and Overwrite is off.
	create(ctx context.Context, name string) (io.WriteCloser, error)
	undo(ctx context.Context)
	close()
}

// openPartDest opens the folder of pattern for the export in wd. The files an earlier run of it
// left there (killed while it wrote them) are removed first, so that they are written again:
// in a bucket those that carry the work dir's ID as their mark, in a directory those the work dir
// recorded (workdir.Dir.Placed).
func openPartDest(ctx context.Context, pattern string, overwrite bool, wd *workdir.Dir) (partDest, error) {
	dir, _ := splitPattern(pattern)
	if !store.IsURL(pattern) {
		for _, f := range patternFiles(pattern) {
			if err := wd.RemovePlaced(f); err != nil {
				return nil, err
			}
		}
		return &localParts{dir: dir, overwrite: overwrite, wd: wd}, nil
	}
	b, err := store.OpenBlob(ctx, dir)
	if err != nil {
		return nil, bucketError("Out", pattern, err)
	}
	d := &bucketParts{b: b, overwrite: overwrite, mark: wd.ID()}
	if err := d.removeEarlier(ctx, pattern); err != nil {
		b.Close()
		return nil, err
	}
	return d, nil
}

// changedError says that final was not put in place because of what appeared there.
func changedError(final string, err error) error {
	return fmt.Errorf("%s changed while the export ran, so the files were not put there (%v)", final, err)
}

// localParts is a partDest in a local directory: each file is a hidden temp file beside its
// name, recorded in the work dir wd (workdir.Dir.RecordPlaced) and renamed to it
// (store.CommitFile) when closed.
type localParts struct {
	dir       string
	wd        *workdir.Dir
	overwrite bool
	temps     []*os.File   // created, not yet put in place
	placed    []placedFile // put in place
}

// placedFile is a file put in place: undo removes it only while it is still that file.
type placedFile struct {
	path string
	info os.FileInfo
}

func (d *localParts) create(_ context.Context, name string) (io.WriteCloser, error) {
	final, err := filepath.Abs(filepath.Join(d.dir, name))
	if err != nil {
		return nil, err
	}
	f, err := store.CreateBeside(final)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	d.temps = append(d.temps, f)
	return &localPart{d: d, f: f, final: final}, nil
}

// localPart is a file of a localParts being written.
type localPart struct {
	d     *localParts
	f     *os.File
	final string
}

func (p *localPart) Write(b []byte) (int, error) { return p.f.Write(b) }

// Close puts the file in place, after checking its name again as before the export.
func (p *localPart) Close() error {
	if _, err := checkDest("Out", p.final, p.d.overwrite); err != nil {
		return changedError(p.final, err)
	}
	info, err := p.f.Stat()
	if err != nil {
		return fmt.Errorf("write %s: %w", p.final, err)
	}
	if err := p.d.wd.RecordPlaced(p.f, p.final); err != nil {
		return fmt.Errorf("write %s: %w", p.final, err)
	}
	p.d.temps = p.d.temps[:len(p.d.temps)-1] // CommitFile closes it, and removes it on failure
	if err := store.CommitFile(p.f, p.final); err != nil {
		return fmt.Errorf("write %s: %w", p.final, err)
	}
	p.d.placed = append(p.d.placed, placedFile{p.final, info})
	return nil
}

func (d *localParts) undo(context.Context) {
	for _, f := range d.temps {
		store.RemoveTemp(f)
	}
	for _, p := range d.placed {
		if info, err := os.Lstat(p.path); err == nil && os.SameFile(info, p.info) {
			os.Remove(p.path) // still the file this export put there
		}
	}
	d.temps, d.placed = nil, nil
}

func (d *localParts) close() {}

// bucketParts is a partDest in a bucket: each file is an upload straight to its name, carrying
// the export's mark, that appears only when closed (the upload completes); one that is never
// closed leaves nothing.
type bucketParts struct {
	b         *store.Blob
	overwrite bool
	mark      string
	open      []*store.Upload // started, not yet completed
	placed    []store.Placed
}

func (d *bucketParts) create(ctx context.Context, name string) (io.WriteCloser, error) {
	up, err := d.b.UploadMarked(ctx, name, d.overwrite, d.mark)
	if err != nil {
		return nil, err
	}
	d.open = append(d.open, up)
	return &bucketPart{d: d, up: up, url: d.b.URL() + name}, nil
}

// bucketPart is a file of a bucketParts being written.
type bucketPart struct {
	d   *bucketParts
	up  *store.Upload
	url string
}

func (p *bucketPart) Write(b []byte) (int, error) { return p.up.Write(b) }

// Close completes the upload, which fails where an object appeared at its name meanwhile
// unless Overwrite.
func (p *bucketPart) Close() error {
	err := p.up.Commit()
	if errors.Is(err, store.ErrExist) {
		p.d.open = p.d.open[:len(p.d.open)-1] // another writer's object is there, not this one
		return changedError(p.url, err)
	}
	if err != nil {
		return err // undo removes what the upload may have put there
	}
	p.d.open = p.d.open[:len(p.d.open)-1]
	p.d.placed = append(p.d.placed, p.up.Placed())
	return nil
}

// undo cancels the uploads not completed, and removes the objects put in place while they are
// still the ones this export put there; an upload cancelled once its bytes were sent may have put
// its object there too, so it is removed where it carries the export's mark.
func (d *bucketParts) undo(ctx context.Context) {
	for _, up := range d.open {
		up.Abort()
		d.placed = append(d.placed, up.Placed())
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, p := range d.placed {
		d.b.RemovePlaced(ctx, p)
	}
	d.open, d.placed = nil, nil
}

func (d *bucketParts) close() { d.b.Close() }

// removeEarlier removes the files of pattern and its manifest that carry this export's mark: an
// earlier run of it put them there.
func (d *bucketParts) removeEarlier(ctx context.Context, pattern string) error {
	_, base := splitPattern(pattern)
	before, _, _ := strings.Cut(base, "*")
	objects, err := d.b.List(ctx, before)
	if err != nil {
		return err
	}
	for _, name := range objectsOf(pattern, objects) {
		if err := d.b.RemovePlaced(ctx, store.Placed{Name: name, Mark: d.mark}); err != nil {
			return err
		}
	}
	return nil
}
