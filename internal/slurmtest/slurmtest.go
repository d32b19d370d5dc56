// Package slurmtest lets tests run work on a real Slurm cluster: the one-node cluster that
// scripts/slurm-cluster starts on this machine.
//
// Require skips a test when Slurm is not installed or no node is up, and fails it instead when
// CI=true (.ci/run starts the cluster, so there its absence is a bug). Submit runs sbatch, States
// reads the state of each task of a job, Wait polls until every task has ended, and Cancel cancels
// one array task. Every function fails the test on error.
//
// Job ids are array job ids, as sbatch --parsable prints them; one task is JOBID_TASK. Slurm 22.05
// ignores scancel of an array task's own job id (squeue's %A): it exits 0 and the task runs on.
package slurmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeWait is how long Require waits for a node that is still completing an earlier test's jobs
// (sinfo "comp"), as the race run after the plain one finds it.
const nodeWait = 60 * time.Second

// Require skips (or under CI=true fails) t unless sbatch is on PATH and sinfo shows a node that
// can run jobs, waiting up to nodeWait for one that is completing earlier jobs.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	if _, err := exec.LookPath("sbatch"); err != nil {
		why = "sbatch is not on PATH"
	} else {
		why = waitNode()
	}
	if why == "" {
		return
	}
	why += "; start one with scripts/slurm-cluster start"
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true, where the cluster is required)")
	}
	t.Skip(why)
}

// waitNode returns "" once sinfo shows a node that can run jobs, or why there is none.
func waitNode() string {
	deadline := time.Now().Add(nodeWait)
	for {
		out, err := run("sinfo", "-h", "-o", "%t")
		switch {
		case err != nil:
			return "sinfo failed: " + err.Error()
		case strings.Contains(out, "idle") || strings.Contains(out, "mix") || strings.Contains(out, "alloc"):
			return ""
		case !strings.Contains(out, "comp") || time.Now().After(deadline):
			return fmt.Sprintf("no Slurm node is up (sinfo: %q)", strings.TrimSpace(out))
		}
		time.Sleep(time.Second)
	}
}

// Submit runs sbatch --parsable with args in a temporary directory (the job's working directory
// and where its slurm-*.out files go unless args say otherwise) and returns the job id.
func Submit(t testing.TB, args ...string) (jobID string) {
	t.Helper()
	cmd := exec.Command("sbatch", append([]string{"--parsable"}, args...)...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sbatch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	jobID, _, _ = strings.Cut(strings.TrimSpace(string(out)), ";") // "ID" or "ID;CLUSTER"
	if _, err := strconv.Atoi(jobID); err != nil {
		t.Fatalf("sbatch printed %q, not a job id", out)
	}
	return jobID
}

// States returns the state squeue shows for each task of the job (PENDING, RUNNING, COMPLETED,
// FAILED, CANCELLED, ...), by array task index; a job that is no array is task 0. Tasks still
// pending are listed one by one.
func States(t testing.TB, jobID string) map[int]string {
	t.Helper()
	out, err := run("squeue", "-h", "-r", "-t", "all", "-j", jobID, "-o", "%K %T")
	if err != nil {
		t.Fatalf("squeue of job %s: %v", jobID, err)
	}
	states := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		task, state, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(task)
		if err != nil && task != "N/A" {
			t.Fatalf("squeue printed %q", line)
		}
		states[i] = state
	}
	return states
}

// ended holds the states a task does not leave.
var ended = map[string]bool{"COMPLETED": true, "FAILED": true, "CANCELLED": true, "TIMEOUT": true,
	"NODE_FAIL": true, "OUT_OF_MEMORY": true, "PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true}

// Wait polls States until every task of the job has ended and returns their final states. It fails
// t, with scontrol's account of the job, when that takes longer than timeout.
func Wait(t testing.TB, jobID string, timeout time.Duration) map[int]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		states := States(t, jobID)
		done := len(states) > 0
		for _, s := range states {
			done = done && ended[s]
		}
		if done {
			return states
		}
		if time.Now().After(deadline) {
			show, _ := run("scontrol", "show", "job", jobID)
			t.Fatalf("job %s not done after %v: %v\n%s", jobID, timeout, states, show)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Cancel cancels one task of an array job, pending or running.
func Cancel(t testing.TB, jobID string, task int) {
	t.Helper()
	if out, err := run("scancel", fmt.Sprintf("%s_%d", jobID, task)); err != nil {
		t.Fatalf("scancel %s_%d: %v\n%s", jobID, task, err, out)
	}
}

// run runs a Slurm client, which retries for a while when the controller is down: bounded here.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return string(out), fmt.Errorf("%v: %s", err, lines[len(lines)-1])
	}
	return string(out), nil
}
