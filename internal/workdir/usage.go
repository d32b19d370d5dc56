package workdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// DiskUsage is the bytes of local disk the export holds now: the sizes of the regular files in a
// local work dir (segments, records, unfinished files, and the temp output when it is there) plus
// the temp output recorded beside the output (CreateOutputTemp). A work dir in a bucket holds no
// local disk, so only a temp output beside the output counts for it. It is one pass of stats: a
// file renamed or removed during the pass may be counted once, twice or not at all.
func (d *Dir) DiskUsage() (int64, error) {
	var total int64
	if d.bucket == nil {
		err := filepath.WalkDir(d.path, func(_ string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return skipGone(err)
			}
			info, err := e.Info()
			if err == nil {
				total += info.Size()
			}
			return skipGone(err)
		})
		if err != nil {
			return total, err
		}
	}
	rec, ok, err := d.besideOutput()
	if err != nil && !errors.Is(err, errOutputRecord) {
		return total, err
	}
	if !ok {
		return total, nil
	}
	if info, err := os.Lstat(rec.Path); err == nil && rec.holds(info) {
		total += info.Size()
	}
	return total, nil
}

// skipGone ignores the error of a file that went away between listing and stat.
func skipGone(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
