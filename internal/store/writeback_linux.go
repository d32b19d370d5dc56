package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing the n bytes at off of f to disk and does not wait for it. It is
// advice: an error changes nothing, since the final fsync still writes whatever is left.
func startWriteback(f *os.File, off, n int64) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) })
	}
}
