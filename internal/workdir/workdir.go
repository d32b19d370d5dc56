// Package workdir owns an export's work dir: the marker that shows bqread made it, the names
// inside it (manifest, stream folders, segments and their commit records, the temp output and its
// merge journal), and
// its removal. It is the only code that removes anything in a work dir, and it removes only what
// bqread created there: a directory bqread did not make, or one that holds anything else, is left
// in place and named. It knows nothing of rows, formats or gRPC beyond the names it hands out.
package workdir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bqread/bqread/internal/store"
)

// Names in a work dir.
const (
	// MarkerName is the file that shows bqread made the work dir; it is written first and
	// removed last.
	MarkerName = "bqread-workdir.json"
	// ManifestName is the session's manifest.
	ManifestName = "manifest.json"
	// OutputTempName is the temp output when the work dir is on the output's filesystem.
	OutputTempName = "output.tmp"
	// outputRecordName records the temp output's path when it lives beside the output.
	outputRecordName = "output-temp.json"
	// lockName is the file an exclusive user of the work dir locks (Create, Lock).
	lockName = "bqread.lock"
	// journalName is the merge journal of the temp output (OutputTemp).
	journalName = "merge-journal"
)

// Reasons a work dir cannot be used, wrapped by *Error.
var (
	ErrEarlier  = errors.New("workdir: holds an earlier export")
	ErrForeign  = errors.New("workdir: not empty and not made by bqread")
	ErrUnsafe   = errors.New("workdir: not private to this user")
	ErrNotDir   = errors.New("workdir: not a directory")
	ErrNoParent = errors.New("workdir: parent directory missing")
	ErrMissing  = errors.New("workdir: does not exist")
	ErrLocked   = errors.New("workdir: in use by another bqread")
)

// Error is a work dir that cannot be used: Reason is one of the Err* sentinels.
type Error struct {
	Path   string
	Reason error
	Detail string // what was found, in a few words
	Cause  error  // the error of a lower package that Detail tells, if any
}

func (e *Error) Error() string { return fmt.Sprintf("work dir %s %s", e.Path, e.Detail) }

func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Reason, e.Cause}
	}
	return []error{e.Reason}
}

// marker is the content of MarkerName.
type marker struct {
	Tool string `json:"tool"` // always "bqread"
	ID   string `json:"id"`
	// CreatedDir is set when bqread made the directory itself, so that removing it is bqread's
	// to do; a user's empty directory is emptied but kept.
	CreatedDir bool      `json:"created_dir"`
	Created    time.Time `json:"created"`
}

// Dir is an open work dir. It is safe for concurrent use by the goroutines of one process; several
// processes (workers) may open the same work dir.
type Dir struct {
	path   string
	st     store.Store
	bucket *store.Blob // the store of a work dir in a bucket; nil for a local one
	mark   marker
	// lockFile (local) or lockToken (bucket) is held while this process uses the work dir
	// exclusively.
	lockFile  *os.File
	lockToken string
	journal   journalCache // what this process read of the merge journal
}

// Lock takes the work dir for this process alone (an export, a plan, a merge), until Unlock;
// another process's Lock or Create fails with ErrLocked, naming its pid. Workers of one export
// share the work dir and do not lock it.
func (d *Dir) Lock() error {
	switch {
	case d.lockFile != nil || d.lockToken != "":
		return nil
	case d.bucket != nil:
		return d.lockBucket()
	}
	return d.lock()
}

// Unlock releases Lock; it is idempotent.
func (d *Dir) Unlock() {
	if d.lockFile != nil {
		d.lockFile.Close()
		d.lockFile = nil
	}
	d.unlockBucket()
}

// Close releases what the Dir holds: its lock, if it took one (Unlock), and the client of a
// work dir in a bucket. The Dir is not used after.
func (d *Dir) Close() error {
	d.Unlock()
	if d.bucket != nil {
		return d.bucket.Close()
	}
	return nil
}

// Path returns the work dir's local path, or its gs:// or s3:// URL.
func (d *Dir) Path() string { return d.path }

// Store returns the store of the work dir's files.
func (d *Dir) Store() store.Store { return d.st }

// ID returns the random identity written in the marker when the work dir was created.
func (d *Dir) ID() string { return d.mark.ID }

// Create makes path the work dir of a new export, and locks it (Lock). path may be missing (it is created 0700, in an
// existing parent, and Remove removes it), an empty directory of the user's that no one else can
// write (Remove empties it and keeps it), or a bqread work dir: one without a manifest (an export
// stopped before its session was made) is emptied and reused; one with a manifest is refused
// with ErrEarlier unless replace is set, and then emptied. Anything else is refused.
func Create(path string, replace bool) (*Dir, error) {
	if store.IsURL(path) {
		return createInBucket(path, replace)
	}
	created, err := makeDir(path)
	if err != nil {
		return nil, err
	}
	if created {
		return initDir(path, true)
	}
	d, err := Open(path)
	var we *Error
	switch {
	case errors.As(err, &we) && errors.Is(we.Reason, ErrForeign) && isEmpty(path):
		return initDir(path, false)
	case err != nil:
		return nil, err
	}
	return d.reuse(replace)
}

// reuse locks the work dir d of an earlier export and empties it for a new one: one without a
// manifest always, one with a manifest only if replace is set (else ErrEarlier).
func (d *Dir) reuse(replace bool) (*Dir, error) {
	if err := d.Lock(); err != nil {
		return nil, err
	}
	if d.has(ManifestName) && !replace {
		d.Unlock()
		return nil, &Error{Path: d.path, Reason: ErrEarlier, Detail: "holds an earlier export"}
	}
	if left, err := d.clear(); err != nil || len(left) > 0 {
		d.Unlock()
		return nil, removeError(d.path, left, err)
	}
	return d, nil
}

// CreateTemp makes a new work dir in the system's temp dir, for an export nobody named one for.
func CreateTemp() (*Dir, error) {
	path, err := os.MkdirTemp("", "bqread-*")
	if err != nil {
		return nil, fmt.Errorf("create a work dir: %w", err)
	}
	return initDir(path, true)
}

// makeDir creates path 0700 and reports whether it did; an existing path is left for Open to
// judge.
func makeDir(path string) (bool, error) {
	err := os.Mkdir(path, 0o700)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, &Error{Path: path, Reason: ErrNoParent, Detail: "cannot be created: its parent directory does not exist"}
	}
	return false, fmt.Errorf("create work dir %s: %w", path, err)
}

// initDir writes the marker of a new work dir.
func initDir(path string, created bool) (*Dir, error) {
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	st, err := store.NewDir(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{path: path, st: st}
	if err := d.writeMarker(created); err != nil {
		if created {
			os.Remove(path)
		}
		return nil, err
	}
	return d, d.Lock()
}

// writeMarker writes the marker of a new work dir, unless one was written first (then
// another bqread is making it: ErrLocked).
func (d *Dir) writeMarker(created bool) error {
	id := make([]byte, 12)
	rand.Read(id)
	d.mark = marker{Tool: "bqread", ID: hex.EncodeToString(id), CreatedDir: created, Created: time.Now().UTC()}
	data, _ := json.Marshal(d.mark)
	err := d.commitNew(context.Background(), "", MarkerName, data)
	if errors.Is(err, store.ErrExist) {
		return &Error{Path: d.path, Reason: ErrLocked, Detail: "is being made by another bqread"}
	}
	return err
}

// Open opens the work dir of an earlier export: a directory private to this user that holds
// bqread's marker.
func Open(path string) (*Dir, error) {
	if store.IsURL(path) {
		return openInBucket(path)
	}
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	st, err := store.NewDir(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{path: path, st: st}
	if err := d.readMarker(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dir) readMarker() error {
	data, err := d.readFile(MarkerName)
	if errors.Is(err, store.ErrNotExist) {
		return &Error{Path: d.path, Reason: ErrForeign, Detail: "was not made by bqread (it has no " + MarkerName + ")"}
	}
	if err != nil {
		return fmt.Errorf("read work dir marker: %w", err)
	}
	if err := json.Unmarshal(data, &d.mark); err != nil || d.mark.Tool != "bqread" || d.mark.ID == "" {
		return &Error{Path: d.path, Reason: ErrForeign, Detail: "has a " + MarkerName + " that bqread did not write"}
	}
	return nil
}

// writeFile commits data as name in the work dir.
func (d *Dir) writeFile(name string, data []byte) error {
	p, err := d.st.Create(context.Background(), "")
	if err != nil {
		return err
	}
	if _, err := p.Write(data); err != nil {
		p.Abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return p.Commit(name)
}

// readFile returns the content of the file name of the work dir.
func (d *Dir) readFile(name string) ([]byte, error) {
	o, err := d.st.Open(context.Background(), name)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

// has reports whether name exists in the work dir.
func (d *Dir) has(name string) bool {
	if d.bucket != nil {
		ok, err := d.bucket.Exists(context.Background(), name)
		return ok || err != nil
	}
	_, err := os.Lstat(filepath.Join(d.path, name))
	return err == nil
}

// isEmpty reports whether the directory path has no entries.
func isEmpty(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
