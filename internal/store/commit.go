package store

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// CreateBeside creates a new, empty hidden file beside path, of a name not used before
// (.NAME.bqread-RANDOM.tmp), for it to be renamed to path; its mode follows the umask.
func CreateBeside(path string) (*os.File, error) {
	for range 10 {
		name := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.bqread-%08x.tmp", filepath.Base(path), rand.Uint32()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temp file beside %s: too many name collisions", path)
}

// CommitFile makes the written temp file f durable under the name final: fsync, close, rename,
// fsync of final's directory. f is closed in every case, and removed unless it was renamed (only
// while its name still holds it: RemoveTemp), so that a failed commit leaves neither a temp file
// nor a partial file at final.
func CommitFile(f *os.File, final string) error {
	if err := f.Sync(); err != nil {
		RemoveTemp(f)
		return fmt.Errorf("commit %s: %w", final, err)
	}
	if err := renameFile(f, final); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(final))
}

// renameFile closes the written temp file f and renames it to final; f is removed if that fails.
func renameFile(f *os.File, final string) error {
	own, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), final)
	}
	if err != nil {
		if own != nil {
			removeIfSame(f.Name(), own)
		}
		return fmt.Errorf("commit %s: %w", final, err)
	}
	return nil
}

// RemoveTemp closes f, a temp file this process created (O_EXCL, os.CreateTemp), and removes its
// name while the name still holds that file: a file put there meanwhile is left alone, and a name
// already gone is not an error.
func RemoveTemp(f *os.File) error {
	own, err := f.Stat()
	f.Close()
	if err != nil {
		return err
	}
	return removeIfSame(f.Name(), own)
}

// removeIfSame removes name if it is the file own describes.
func removeIfSame(name string, own os.FileInfo) error {
	at, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !os.SameFile(own, at):
		return nil
	}
	return os.Remove(name)
}

// SyncDir fsyncs a directory so that a rename into it is durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
