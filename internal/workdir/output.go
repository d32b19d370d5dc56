package workdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bqread/bqread/internal/store"
)

// CreateOutputTemp creates, empty, the file the output is written into before it is renamed to
// out: OutputTempName in the work dir when that is on out's filesystem (then removing the work dir
// removes it), else a hidden file beside out (createBesideOutput). A temp output of an earlier run
// is removed first. The file's mode follows the umask.
func (d *Dir) CreateOutputTemp(out string) (*os.File, error) {
	if err := d.RemoveOutputTemp(); err != nil {
		return nil, err
	}
	if !store.SameFilesystem(d.path, filepath.Dir(out)) {
		return d.createBesideOutput(out)
	}
	f, err := os.OpenFile(filepath.Join(d.path, OutputTempName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create the temp output: %w", err)
	}
	return f, nil
}

// createBesideOutput creates the temp output as a hidden file of a new name beside out
// (store.CreateBeside) and records its path, device and inode in the work dir, so that a resumed
// export, a new one or Remove finds it after a crash and knows it for the file bqread created. A
// crash between its creation and the record leaves it where it is, unknown.
func (d *Dir) createBesideOutput(out string) (*os.File, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	f, err := store.CreateBeside(abs)
	if err != nil {
		return nil, fmt.Errorf("create the temp output: %w", err)
	}
	rec := outputRecord{Path: f.Name()}
	if rec.Dev, rec.Ino, err = fileID(f); err == nil {
		err = d.writeOutputRecord(rec)
	}
	if err != nil {
		store.RemoveTemp(f)
		return nil, err
	}
	return f, nil
}

// outputRecord is the content of outputRecordName: the temp output beside the output.
type outputRecord = fileRecord

// fileRecord is the record of a file bqread created outside the work dir: its path and, once it
// is created, its device and inode; for a file recorded once complete, also its size and
// modification time, since a file made after it was removed may get the same inode.
type fileRecord struct {
	Path  string `json:"path"`
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	Size  int64  `json:"size,omitempty"`
	MTime int64  `json:"mtime_ns,omitempty"`
}

// holds reports whether info, of the file at the recorded path, is the file bqread created there:
// a regular file of the recorded device and inode, and size and modification time where they are
// recorded. Without device and inode (a crash before they were recorded, or a system without
// inodes) nothing is.
func (rec fileRecord) holds(info fs.FileInfo) bool {
	dev, ino := infoID(info)
	same := rec.MTime == 0 || info.Size() == rec.Size && info.ModTime().UnixNano() == rec.MTime
	return info.Mode().IsRegular() && rec.Ino != 0 && dev == rec.Dev && ino == rec.Ino && same
}

// errOutputRecord is wrapped by the error for an output record bqread did not write.
var errOutputRecord = errors.New("not a record bqread wrote")

func (d *Dir) writeOutputRecord(rec outputRecord) error {
	data, _ := json.Marshal(rec)
	return d.writeFile(outputRecordName, data)
}

// besideOutput returns the record of the temp output beside the output; ok is false when there
// is none (the temp output is in the work dir).
func (d *Dir) besideOutput() (rec outputRecord, ok bool, err error) {
	data, err := d.readFile(outputRecordName)
	if errors.Is(err, store.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.Path == "" {
		return rec, false, fmt.Errorf("%s: %w", outputRecordName, errOutputRecord)
	}
	return rec, true, nil
}

// RemoveOutputTemp removes the temp output of an earlier run, if any, and its merge journal first:
// the one in the work dir, or the one beside the output while the file at its recorded path is
// the one bqread created (outputRecord.holds); any other file there is left.
func (d *Dir) RemoveOutputTemp() error {
	ctx := context.Background()
	if err := d.st.Remove(ctx, journalName); err != nil {
		return err
	}
	if err := d.st.Remove(ctx, OutputTempName); err != nil {
		return err
	}
	rec, ok, err := d.besideOutput()
	switch {
	case errors.Is(err, errOutputRecord):
	case err != nil:
		return err
	case !ok:
		return nil
	default:
		if info, err := os.Lstat(rec.Path); err == nil && rec.holds(info) {
			if err := os.Remove(rec.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the temp output: %w", err)
			}
		}
	}
	return d.st.Remove(ctx, outputRecordName)
}

// outputTempPath returns where CreateOutputTemp put the temp output: the path recorded beside
// the output, else OutputTempName in the work dir.
func (d *Dir) outputTempPath() (string, error) {
	rec, ok, err := d.besideOutput()
	if err != nil || ok {
		return rec.Path, err
	}
	return filepath.Join(d.path, OutputTempName), nil
}
