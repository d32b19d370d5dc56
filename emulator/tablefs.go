package emulator

import (
	"errors"
	"io/fs"
	"os"
	"path"
)

// tableFS is the directory of one data-directory table as an fs.FS. Its errors name files relative
// to the table's directory (data.ndjson), never by their path on the server, so that they can be
// shown to clients.
type tableFS struct {
	root *os.Root // the data directory
	dir  string   // the table's directory in root
}

// Open opens a file of the table's directory for reading.
func (t tableFS) Open(name string) (fs.File, error) {
	f, err := t.root.Open(path.Join(t.dir, name))
	if err != nil {
		return nil, relPathError(err, name)
	}
	return tableFile{f, name}, nil
}

// tableFile is a file of a tableFS.
type tableFile struct {
	*os.File
	name string // relative to the table's directory
}

func (f tableFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	return n, relPathError(err, f.name)
}

func (f tableFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	return fi, relPathError(err, f.name)
}

// relPathError returns err with the path of its *fs.PathError replaced by name.
func relPathError(err error, name string) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return err
}
