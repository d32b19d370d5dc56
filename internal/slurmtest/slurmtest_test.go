package slurmtest

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSubmitArray runs a 3-task array whose task 1 fails, then cancels one task of a sleeping array.
func TestSubmitArray(t *testing.T) {
	Require(t)
	job := Submit(t, "--array=0-2", "--output=/dev/null",
		"--wrap", `if [ "$SLURM_ARRAY_TASK_ID" = 1 ]; then false; else true; fi`)
	got := Wait(t, job, 60*time.Second)
	if want := map[int]string{0: "COMPLETED", 1: "FAILED", 2: "COMPLETED"}; !maps.Equal(got, want) {
		t.Errorf("job %s: states %v, want %v", job, got, want)
	}

	// Task 1 is cancelled once it runs (its marker file exists), task 0 in whatever state it is.
	dir := t.TempDir()
	job = Submit(t, "--array=0-1", "--output=/dev/null",
		"--wrap", "touch "+dir+"/started.$SLURM_ARRAY_TASK_ID; sleep 300")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started.1")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task 1 of job %s not started after 30s: %v", job, States(t, job))
		}
		time.Sleep(100 * time.Millisecond)
	}
	Cancel(t, job, 1)
	Cancel(t, job, 0)
	got = Wait(t, job, 30*time.Second)
	if want := map[int]string{0: "CANCELLED", 1: "CANCELLED"}; !maps.Equal(got, want) {
		t.Errorf("job %s: states %v, want %v", job, got, want)
	}
}
