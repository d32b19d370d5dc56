// Package store is the small storage interface of the work dir: segment files, the manifest and the
// merge read through it, so that object stores (gs://, s3://) can stand in for a local directory
// later. Names are slash-separated paths relative to the store's root. It knows nothing of rows,
// formats or gRPC.
package store

import (
	"context"
	"errors"
	"io"
)

// ErrNotExist is wrapped by errors for a name that does not exist in the store.
var ErrNotExist = errors.New("store: does not exist")

// ErrExist is wrapped by CommitNew errors for a name that exists already.
var ErrExist = errors.New("store: exists already")

// Store holds named files. Implementations are safe for concurrent use.
type Store interface {
	// Create starts a new, invisible file in the folder dir ("" for the root); it becomes visible
	// under its name only when committed.
	Create(ctx context.Context, dir string) (Pending, error)
	// List returns the committed files whose names start with prefix, sorted by name. Uncommitted
	// files are not listed.
	List(ctx context.Context, prefix string) ([]Entry, error)
	// Open opens a committed file for range reads. The caller closes it.
	Open(ctx context.Context, name string) (Object, error)
	// Remove deletes a committed file; removing a missing file is not an error.
	Remove(ctx context.Context, name string) error
}

// Pending is a file being written. Exactly one of Commit or Abort ends it; calling either again
// is a no-op that returns nil.
type Pending interface {
	io.Writer
	// Written returns the bytes written so far and their CRC-32C (Castagnoli), which a commit
	// record keeps so that a reader can check the file before it trusts it.
	Written() (size int64, crc32c uint32)
	// Commit makes the written bytes durable and visible under name, replacing any file of that
	// name, atomically: readers see the old file or the whole new one, never a part.
	Commit(name string) error
	// CommitNew is Commit that never replaces: if name exists, it discards the written bytes and
	// returns an error wrapping ErrExist, so that of several writers of one name exactly one wins.
	CommitNew(name string) error
	// Abort discards the written bytes.
	Abort() error
}

// Object is a committed file open for reading.
type Object interface {
	io.ReaderAt
	io.Reader
	io.Closer
	Size() int64
}

// Entry is one listed file.
type Entry struct {
	Name string
	Size int64
}
