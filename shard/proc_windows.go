package shard

import "syscall"

// workerSysProcAttr puts a worker in a process group of its own, so that a console's Ctrl+C
// reaches the coordinator only: Windows turns Ctrl+C off in a new process group. Windows has no
// SIGTERM for the coordinator to stop a worker with, so a cancelled worker is killed once the
// command's WaitDelay has passed; and no parent-death signal: a worker whose coordinator died
// exits when its next event line meets the closed pipe.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
