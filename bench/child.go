package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// The peer and the limit run as child processes of the bench binary: childEnv names the mode
// ("peer" or "limit") and jobEnv carries the childJob as JSON.
const (
	childEnv = "BQREAD_BENCH_CHILD"
	jobEnv   = "BQREAD_BENCH_JOB"
)

// childJob is what a child reads.
type childJob struct {
	GRPCAddr string `json:"grpc_addr"`
	HTTPAddr string `json:"http_addr"`
	Project  string `json:"project"`
	Dataset  string `json:"dataset"`
	Table    string `json:"table"`
	Streams  int    `json:"streams"`
	Wire     string `json:"wire"`
	Out      string `json:"out,omitempty"`
	// Fsync makes the write limit fsync each stream's file once, after its last payload.
	Fsync bool `json:"fsync,omitempty"`
	// AsPeer makes the limit ask for streams as the peer does (server decides, at least Streams), so
	// that a warm-up read covers the peer's stream layout.
	AsPeer bool `json:"as_peer,omitempty"`
}

// childResult is what a child prints on stdout.
type childResult struct {
	Rows    int64 `json:"rows"`
	Bytes   int64 `json:"bytes"`   // wire payload bytes received
	Streams int   `json:"streams"` // streams the server granted
}

// childMain runs one child mode and returns the exit code.
func childMain(mode string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var j childJob
	if err := json.Unmarshal([]byte(os.Getenv(jobEnv)), &j); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: read %s: %v\n", mode, jobEnv, err)
		return 2
	}
	var (
		res childResult
		err error
	)
	switch mode {
	case "peer":
		res, err = runPeer(ctx, j)
	case "limit":
		res, err = runLimit(ctx, j)
	default:
		err = fmt.Errorf("unknown mode %q: use peer or limit", mode)
	}
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(res)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// childCommand is the command that runs this binary in mode with job; extra are added to its
// environment.
func childCommand(ctx context.Context, mode string, j childJob, extra ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	data, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode, jobEnv + "=" + string(data)}, extra...)...)
	return cmd, nil
}
