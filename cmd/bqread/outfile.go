package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bqread/bqread/internal/store"
)

// outputFile is where the merge writes: a temp file that commit renames to --out, or stdout for
// "-".
type outputFile struct {
	path string
	f    *os.File // the temp file; nil for stdout
	w    io.Writer
}

// outputTempName is the temp output in the work dir. It has one name, so that a resumed export
// writes over what a killed one left, and removing the work dir removes it.
const outputTempName = "output.tmp"

// createOutput creates the temp output: in the work dir when that is on the output's filesystem
// (the default, <out>.bqread), else beside --out as a hidden file.
func createOutput(out, workDir string, stdout io.Writer) (*outputFile, error) {
	if out == "-" {
		return &outputFile{path: out, w: stdout}, nil
	}
	var (
		f   *os.File
		err error
	)
	if store.SameFilesystem(workDir, filepath.Dir(out)) {
		f, err = os.Create(filepath.Join(workDir, outputTempName))
	} else {
		f, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	}
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	return &outputFile{path: out, f: f, w: store.NewWritebackFile(f)}, nil
}

// commit makes the temp file the output: fsync, rename, fsync of the directory.
func (o *outputFile) commit() error {
	if o.f == nil {
		return nil
	}
	f := o.f
	o.f = nil
	err := f.Chmod(0o644) // a CreateTemp file is 0600; the output is an ordinary file
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), o.path)
	}
	if err == nil {
		err = store.SyncDir(filepath.Dir(o.path))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// discard removes the temp file unless commit put it in place.
func (o *outputFile) discard() {
	if o.f != nil {
		o.f.Close()
		os.Remove(o.f.Name())
		o.f = nil
	}
}
