package export

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"

	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// IndexEnv are the variables schedulers set to an array task's index, read when
// WorkerOptions.TaskIndex is not given: Kubernetes Indexed Jobs, Cloud Run jobs, Slurm job
// arrays and AWS Batch array jobs. The index is taken as it is: arrays are numbered from 0
// (sbatch --array=0-3), so that a rerun of some indexes (--array=1) runs the same tasks.
var IndexEnv = []string{"JOB_COMPLETION_INDEX", "CLOUD_RUN_TASK_INDEX", "SLURM_ARRAY_TASK_ID", "AWS_BATCH_JOB_ARRAY_INDEX"}

// WorkerOptions say which part of a planned export one worker reads.
type WorkerOptions struct {
	// WorkDir is the planned export's work dir (Plan), shared with every worker and the merge.
	WorkDir string
	// TaskIndex is this worker's task; -1 takes it from the scheduler's environment (IndexEnv).
	TaskIndex int
	// TaskCount is the number of tasks; 0 takes the number planned (Options.Tasks). With T tasks,
	// task i reads streams i, i+T, i+2T, ...
	TaskCount int
	// Events receives the worker's event JSON lines (default: discarded).
	Events io.Writer
}

// RunWorker reads the streams of one task of a planned export, one after another, each from the
// end of its committed segments, and commits segments into the work dir. A task that the
// scheduler runs again resumes from what was committed; two copies of one task running at once
// commit each row range once (the first wins). Errors wrap ErrUsage for a bad work dir or task,
// and ErrSessionExpired once the session has expired.
func RunWorker(ctx context.Context, o WorkerOptions) error {
	task, err := taskIndex(o.TaskIndex)
	if err != nil {
		return err
	}
	tasks := o.TaskCount
	if tasks == 0 {
		if tasks, err = plannedTasks(ctx, o.WorkDir); err != nil {
			return err
		}
	}
	if tasks == 0 {
		return nil // a session of no streams: nothing to read
	}
	if tasks < 0 || task >= tasks {
		return optionErrorf("task %d of %d: use a task index from 0 to %d", task, tasks, tasks-1)
	}
	events := o.Events
	if events == nil {
		events = io.Discard
	}
	var opts []shard.WorkerOption
	if os.Getenv(shard.ControlEnv) == "1" { // started by Run's coordinator, which splits stragglers
		opts = append(opts, shard.WithControl(os.Stdin))
	}
	err = shard.RunTask(ctx, o.WorkDir, task, tasks, events, opts...)
	if errors.Is(err, shard.ErrUsage) {
		return asUsage(err)
	}
	return err
}

// plannedTasks returns the tasks planned for the work dir.
func plannedTasks(ctx context.Context, path string) (int, error) {
	d, err := workdir.Open(path)
	if err != nil {
		return 0, workDirError(err)
	}
	defer d.Close()
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		return 0, asUsage(err)
	}
	if m.Tasks > 0 {
		return m.Tasks, nil
	}
	return len(m.Streams), nil
}

// taskIndex returns the task index given, or else the one the scheduler's environment sets.
func taskIndex(given int) (int, error) {
	if given >= 0 {
		return given, nil
	}
	for _, name := range IndexEnv {
		v, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return 0, optionErrorf("%s=%q is not a task index", name, v)
		}
		return i, nil
	}
	return 0, optionErrorf("no task index: give one, or set one of %v", IndexEnv)
}

// RunWorkerIfChild runs the worker and exits when this process is a worker started by Run, which
// re-executes this program with shard.WorkerEnv set; otherwise it returns at once. A program that
// calls Run without Options.WorkerCommand calls it first thing in main (and a test binary in
// TestMain).
func RunWorkerIfChild() {
	if os.Getenv(shard.WorkerEnv) != "1" {
		return
	}
	o, err := parseWorkerArgs(os.Args[1:])
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = RunWorker(ctx, o)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// parseWorkerArgs reads the worker arguments shard.WorkerArgs makes.
func parseWorkerArgs(args []string) (WorkerOptions, error) {
	at := slices.Index(args, "worker")
	if at < 0 {
		return WorkerOptions{}, fmt.Errorf("export: worker arguments %q: no worker command", args)
	}
	o := WorkerOptions{Events: os.Stdout}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.StringVar(&o.WorkDir, "work-dir", "", "")
	fs.IntVar(&o.TaskIndex, "task-index", -1, "")
	fs.IntVar(&o.TaskCount, "task-count", 0, "")
	return o, fs.Parse(args[at+1:])
}
