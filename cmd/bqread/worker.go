package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/export"
)

// exitExpired is the exit code of a worker whose read session expired: plan again.
const exitExpired = 4

type workerOptions struct {
	opts export.WorkerOptions
}

func newWorkerCmd(s streams) *cobra.Command {
	o := &workerOptions{opts: export.WorkerOptions{Events: s.out}}
	cmd := &cobra.Command{
		Use:   "worker --work-dir DIR [--task-index I] [--task-count T]",
		Short: "Read one task's streams of a planned export (run by a scheduler, or by export)",
		Long: `worker reads the streams of one task of an export planned with bqread plan: with T tasks, task I
reads streams I, I+T, I+2T, ..., each from the end of its committed segments to its end, and commits
segments into the shared work dir. It reports JSON lines (start, progress, segment, retry, done,
error) on stdout, and logs on stderr.

Without --task-index, the index comes from the scheduler: ` + fmt.Sprint(export.IndexEnv) + `
as it is (number arrays from 0: sbatch --array=0-3; a rerun of --array=1 runs task 1). Without --task-count, the number planned is
used. A task the scheduler runs again resumes from what was committed, and two copies of one task
running at once commit each row range once; run bqread merge once every task has succeeded.

Exit codes:
  0    every stream of the task was read to its end
  1    error (the message says what failed); running the task again resumes it
  2    usage error: bad work dir or task index
  4    the read session expired: plan the export again
  130  interrupted by SIGINT or SIGTERM; running the task again resumes it`,
		Example: `  bqread serve &
  bqread plan bqread-demo.samples.trips --endpoint 127.0.0.1:9060 --work-dir /tmp/trips -f parquet --tasks 2
  bqread worker --work-dir /tmp/trips --task-index 0
  SLURM_ARRAY_TASK_ID=1 bqread worker --work-dir /tmp/trips
  bqread merge --work-dir /tmp/trips -o trips.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.opts.WorkDir, "work-dir", "", "the planned export's work dir (shared by every task)")
	f.IntVar(&o.opts.TaskIndex, "task-index", -1, "this task's index, from 0 (default from the scheduler's environment)")
	f.IntVar(&o.opts.TaskCount, "task-count", 0, "the number of tasks (default the number planned)")
	return cmd
}

func runWorker(ctx context.Context, o *workerOptions) error {
	if o.opts.WorkDir == "" {
		return usageErrorf("worker: --work-dir is required: the work dir bqread plan made")
	}
	err := export.RunWorker(ctx, o.opts)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil: // stopped by SIGTERM or SIGINT; what was committed stays
		return withCode(exitInterrupted, errQuiet)
	case errors.Is(err, export.ErrSessionExpired):
		return withCode(exitExpired, fmt.Errorf("%w: run bqread plan again (with --overwrite) and the workers on the new plan", err))
	case errors.Is(err, export.ErrUsage):
		return usageErrorf("%s", explainTask(err))
	}
	return err
}

// explainTask names the worker's flags in an option error.
func explainTask(err error) string {
	var oe *export.OptionError
	if errors.As(err, &oe) {
		return oe.Render(flagName)
	}
	return err.Error()
}
