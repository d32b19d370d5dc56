package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lstatDir returns the FileInfo of path, which must be a directory and not a symbolic link.
func lstatDir(path string) (fs.FileInfo, error) {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Path: path, Reason: ErrMissing, Detail: "does not exist"}
	case err != nil:
		return nil, fmt.Errorf("work dir %s: %w", path, err)
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, &Error{Path: path, Reason: ErrUnsafe, Detail: "is a symbolic link: name the directory itself"}
	case !info.IsDir():
		return nil, &Error{Path: path, Reason: ErrNotDir, Detail: "is not a directory"}
	}
	return info, nil
}
