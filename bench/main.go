// Command bench measures `bqread export` side by side with the official Go client (the peer) and a
// receive-only client (the limit), all reading the same synthetic table from an in-process
// emulator on this machine, and prints ratios, peak memory and PASS/FAIL lines for the targets of
// issue #6. It is a command, not a test: it never fails because a target is missed.
//
//	go run ./bench                  # default run, a few minutes on 2 cores
//	go run ./bench --quick          # a smaller table and fewer stream counts
//	go run ./bench --json           # results as JSON on stdout
//
// bqread runs as its own binary (built once), the peer and the limit as child processes of this
// command, so that each contender's wall time includes starting a process and each one's memory
// is its own and not the emulator's.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if cfg.json {
		err = rep.writeJSON(os.Stdout)
	} else {
		err = rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
