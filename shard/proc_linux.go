package shard

import "syscall"

// workerSysProcAttr puts a worker in its own process group, so that a terminal's SIGINT reaches
// the coordinator only (it stops workers with SIGTERM), and has the kernel kill the worker when
// the coordinator dies (SIGKILL, OOM), so that no orphan keeps committing segments into a work dir
// that a later --resume reads.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
