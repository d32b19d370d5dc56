//go:build unix

package workdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lock takes the exclusive lock of the work dir (flock on lockName, which holds the holder's
// pid), or returns an *Error (ErrLocked) naming the process that holds it.
func (d *Dir) lock() error {
	f, err := os.OpenFile(filepath.Join(d.path, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock work dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data, _ := os.ReadFile(f.Name())
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return &Error{Path: d.path, Reason: ErrLocked, Detail: "is in use by another bqread (pid " + holder(data) + ")"}
		}
		return fmt.Errorf("lock work dir: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	d.lockFile = f
	return nil
}

// holder returns the pid written in a lock file, or "unknown".
func holder(data []byte) string {
	if pid := strings.TrimSpace(string(data)); pid != "" {
		return pid
	}
	return "unknown"
}
