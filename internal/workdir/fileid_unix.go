//go:build unix

package workdir

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// fileID returns the device and inode of f, which name it while it exists.
func fileID(f *os.File) (dev, ino uint64, err error) {
	info, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if dev, ino = infoID(info); ino == 0 {
		return 0, 0, errors.New("no device and inode")
	}
	return dev, ino, nil
}

// infoID returns the device and inode of the file info describes, or zeros.
func infoID(info fs.FileInfo) (dev, ino uint64) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino)
}
