package workdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bqread/bqread/internal/store"
)

// CreateOutputTemp creates, empty, the file the output is written into before it is renamed to
// out: OutputTempName in the work dir when that is on out's filesystem (then removing the work dir
// removes it), else a hidden file beside out whose path is recorded in the work dir before it is
// created, so that a resumed export, a new one or Remove finds it after a crash. A temp output of
// an earlier run is removed first. The file's mode follows the umask.
func (d *Dir) CreateOutputTemp(out string) (*os.File, error) {
	if err := d.RemoveOutputTemp(); err != nil {
		return nil, err
	}
	tmp := filepath.Join(d.path, OutputTempName)
	if !store.SameFilesystem(d.path, filepath.Dir(out)) {
		abs, err := filepath.Abs(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".bqread-"+d.mark.ID[:8]+".tmp"))
		if err != nil {
			return nil, err
		}
		data, _ := json.Marshal(outputRecord{Path: abs})
		if err := d.writeFile(outputRecordName, data); err != nil {
			return nil, err
		}
		tmp = abs
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create the temp output: %w", err)
	}
	return f, nil
}

// outputRecord is the content of outputRecordName.
type outputRecord struct {
	Path string `json:"path"`
}

// RemoveOutputTemp removes the temp output of an earlier run, if any, and its merge journal first:
// the one in the work dir, or the regular file at the path recorded when it was created beside the
// output.
func (d *Dir) RemoveOutputTemp() error {
	ctx := context.Background()
	if err := d.st.Remove(ctx, journalName); err != nil {
		return err
	}
	if err := d.st.Remove(ctx, OutputTempName); err != nil {
		return err
	}
	data, err := d.readFile(outputRecordName)
	if errors.Is(err, store.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec outputRecord
	if json.Unmarshal(data, &rec) == nil && rec.Path != "" {
		if info, err := os.Lstat(rec.Path); err == nil && info.Mode().IsRegular() {
			if err := os.Remove(rec.Path); err != nil {
				return fmt.Errorf("remove the temp output: %w", err)
			}
		}
	}
	return d.st.Remove(ctx, outputRecordName)
}

// outputTempPath returns where CreateOutputTemp put the temp output: the path recorded beside
// the output, else OutputTempName in the work dir.
func (d *Dir) outputTempPath() (string, error) {
	data, err := d.readFile(outputRecordName)
	if errors.Is(err, store.ErrNotExist) {
		return filepath.Join(d.path, OutputTempName), nil
	}
	if err != nil {
		return "", err
	}
	var rec outputRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Path == "" {
		return "", fmt.Errorf("%s: not a record bqread wrote", outputRecordName)
	}
	return rec.Path, nil
}
