package workdir

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/bqread/bqread/internal/store"
)

// The files of a many-file output that bqread puts in place in a local directory are recorded in
// the work dir, each by its path and the device and inode of the temp file renamed there, before
// the rename: a run that was killed between two files leaves files a resume knows for its own
// (Placed) and writes again (RemovePlaced), where any other file at one of their names is not
// touched.

// placedPrefix and placedSuffix frame the names of the records of placed files.
const (
	placedPrefix = "placed-"
	placedSuffix = ".json"
)

// placedName returns the name of the record of the file at path.
func placedName(path string) string {
	sum := sha256.Sum256([]byte(path))
	return placedPrefix + hex.EncodeToString(sum[:8]) + placedSuffix
}

// isPlacedRecord reports whether a top-level name of the work dir has the shape of a placed
// file's record.
func isPlacedRecord(name string) bool {
	hash, ok := strings.CutPrefix(name, placedPrefix)
	hash, ok2 := strings.CutSuffix(hash, placedSuffix)
	_, err := hex.DecodeString(hash)
	return ok && ok2 && len(hash) == 16 && err == nil
}

// RecordPlaced records, durably, that f, a complete temp file bqread created, is about to be
// renamed to path, which must be absolute: its device, inode, size and modification time.
func (d *Dir) RecordPlaced(f *os.File, path string) error {
	dev, ino, err := fileID(f)
	var info fs.FileInfo
	if err == nil {
		info, err = f.Stat()
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", path, err)
	}
	data, _ := json.Marshal(fileRecord{Path: path, Dev: dev, Ino: ino, Size: info.Size(), MTime: info.ModTime().UnixNano()})
	return d.writeFile(placedName(path), data)
}

// Placed reports whether the file at path (absolute) is one bqread put there for this export: a
// regular file of the device, inode, size and modification time recorded before it was renamed
// there.
func (d *Dir) Placed(path string) (bool, error) {
	data, err := d.readFile(placedName(path))
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rec fileRecord
	if json.Unmarshal(data, &rec) != nil || rec.Path != path {
		return false, nil
	}
	info, err := os.Lstat(path)
	return err == nil && rec.holds(info), nil
}

// RemovePlaced removes the file at path (absolute) if it is one bqread put there for this export
// (Placed); any other file there is left.
func (d *Dir) RemovePlaced(path string) error {
	ours, err := d.Placed(path)
	if err != nil || !ours {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
