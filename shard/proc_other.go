//go:build !linux && !windows

package shard

import "syscall"

// workerSysProcAttr puts a worker in its own process group, so that a terminal's SIGINT reaches
// the coordinator only (it stops workers with SIGTERM). Outside Linux there is no parent-death
// signal: a worker whose coordinator died exits when its next event line meets the closed pipe.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
