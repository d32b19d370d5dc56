//go:build unix

package workdir

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivate checks that path is a real directory (not a link to one), owned by this process's
// user and writable by no one else, so that no other user can plant or swap files in it.
func checkPrivate(path string) error {
	info, err := lstatDir(path)
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return &Error{Path: path, Reason: ErrUnsafe, Detail: fmt.Sprintf("belongs to another user (uid %d)", st.Uid)}
	}
	if info.Mode().Perm()&0o022 != 0 {
		return &Error{Path: path, Reason: ErrUnsafe, Detail: fmt.Sprintf("is writable by other users (mode %#o)", info.Mode().Perm())}
	}
	return nil
}
