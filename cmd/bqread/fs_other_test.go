//go:build !unix

package main

import (
	"runtime"
	"testing"
)

// The Unix file tests skip elsewhere: there is no umask, FIFO or device node to make.

func withUmask(t *testing.T, _ int, _ func()) { t.Skipf("no umask on %s", runtime.GOOS) }

func mkfifo(t *testing.T, _ string) { t.Skipf("no FIFOs on %s", runtime.GOOS) }

func mknodNull(t *testing.T, _ string) { t.Skipf("no device nodes on %s", runtime.GOOS) }
