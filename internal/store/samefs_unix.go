//go:build unix

package store

import (
	"os"
	"syscall"
)

// SameFilesystem reports whether the existing paths a and b are on one filesystem, where a file
// can be renamed from one to the other.
func SameFilesystem(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return false
	}
	da, okA := sa.Sys().(*syscall.Stat_t)
	db, okB := sb.Sys().(*syscall.Stat_t)
	return okA && okB && da.Dev == db.Dev
}
