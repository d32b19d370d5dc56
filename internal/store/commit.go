package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// CommitFile makes the written temp file f durable under the name final: fsync, close, rename,
// fsync of final's directory. f is closed in every case, and removed unless it was renamed, so
// that a failed commit leaves neither a temp file nor a partial file at final.
func CommitFile(f *os.File, final string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("commit %s: %w", final, err)
	}
	if err := renameFile(f, final); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(final))
}

// renameFile closes the written temp file f and renames it to final; f is removed if that fails.
func renameFile(f *os.File, final string) error {
	tmp := f.Name()
	err := f.Close()
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("commit %s: %w", final, err)
	}
	return nil
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
