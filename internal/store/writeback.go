package store

import (
	"io"
	"os"
)

// writebackEvery is how many bytes a WritebackFile lets pile up before it asks the kernel to start
// writing them to disk.
const writebackEvery = 8 << 20

// WritebackFile is an *os.File that, as it is written, asks the kernel to start writing the
// written bytes to disk in the background (sync_file_range on Linux; nothing elsewhere), so that
// the final fsync waits for the last few MiB rather than for the whole file: the disk works while
// the writer does. Writes and io.Copy into it (copy_file_range between files) behave as the
// file's own.
type WritebackFile struct {
	*os.File
	written, started int64 // bytes written; bytes whose writeback was started
}

// NewWritebackFile wraps f, which is empty or positioned at its end.
func NewWritebackFile(f *os.File) *WritebackFile { return &WritebackFile{File: f} }

func (w *WritebackFile) Write(p []byte) (int, error) {
	n, err := w.File.Write(p)
	w.advance(int64(n))
	return n, err
}

// ReadFrom keeps io.Copy's fast path: the file's own ReadFrom (copy_file_range between files).
func (w *WritebackFile) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.File.ReadFrom(r)
	w.advance(n)
	return n, err
}

func (w *WritebackFile) advance(n int64) {
	w.written += n
	if w.written-w.started >= writebackEvery {
		startWriteback(w.File, w.started, w.written-w.started)
		w.started = w.written
	}
}
