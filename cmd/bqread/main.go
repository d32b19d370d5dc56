// Command bqread exports BigQuery tables in parallel through the Storage Read API, and serves a local
// Storage Read emulator. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
)

// profileEnv names a directory where every bqread process (the coordinator and each worker) writes
// a CPU profile, bqread-PID.pprof, for `go tool pprof`. Unset: no profiling.
const profileEnv = "BQREAD_CPUPROFILE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	signal.Ignore(syscall.SIGPIPE) // a closed output pipe is a write error (EPIPE) that the export handles
	stopProfile := startProfile(os.Getenv(profileEnv))
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// startProfile starts a CPU profile into dir, if dir is set, and returns what stops it.
func startProfile(dir string) (stop func()) {
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("bqread-%d.pprof", os.Getpid())))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bqread: %s: %v: profiling off\n", profileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
