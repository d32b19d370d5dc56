package emulator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// tableFS is the directory of one data-directory table as an fs.FS, for one load. It opens only
// regular files, without blocking: a FIFO, device, socket or directory is refused, not waited on or
// read forever. Reads fail once ctx is done, which bounds the time of a load. Its errors name files
// relative to the table's directory (data.ndjson), never by their path on the server, so that they
// can be shown to clients.
type tableFS struct {
	ctx  context.Context
	root *os.Root // the data directory
	dir  string   // the table's directory in root
}

// Open opens a regular file of the table's directory for reading.
func (t tableFS) Open(name string) (fs.File, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
	f, err := t.root.OpenFile(path.Join(t.dir, name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, relPathError(err, name)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, relPathError(err, name)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is a %s, not a regular file: replace it with one", name, fileKind(fi.Mode()))
	}
	return tableFile{f, t.ctx, name}, nil
}

// fileKind names the type of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// tableFile is a file of a tableFS.
type tableFile struct {
	*os.File
	ctx  context.Context
	name string // relative to the table's directory
}

// Read reads from the file unless the load's context is done.
func (f tableFile) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
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
