package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/shard"
)

// indexEnv are the variables orchestrators set to an array task's index, read when --stream-index
// is not given: Kubernetes Indexed Jobs, Cloud Run jobs, Slurm job arrays.
var indexEnv = []string{"JOB_COMPLETION_INDEX", "CLOUD_RUN_TASK_INDEX", "SLURM_ARRAY_TASK_ID"}

type workerOptions struct {
	manifest    string
	streamIndex int // -1 when not given
	out         io.Writer
}

func newWorkerCmd(s streams) *cobra.Command {
	opts := &workerOptions{out: s.out}
	cmd := &cobra.Command{
		Use:    "worker --manifest PATH [--stream-index I]",
		Short:  "Read one stream of a planned session into segment files (started by export)",
		Hidden: true,
		Long: `worker reads one stream of the read session described by a manifest, from the end of its last
committed segment to the end of the stream, and commits segment files next to the manifest. It
reports JSON lines (progress, committed segments, done, error) on stdout and logs on stderr.

export starts one worker per stream. An orchestrator may run workers itself: without
--stream-index the index comes from ` + fmt.Sprint(indexEnv) + `.`,
		Example: `  bqread export bqread-demo.samples.trips --emulator -o trips.parquet --keep-parts
  bqread worker --manifest trips.parquet.bqread/manifest.json --stream-index 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.manifest, "manifest", "", "path of the session's manifest.json")
	cmd.Flags().IntVar(&opts.streamIndex, "stream-index", -1, "stream to read (default from "+indexEnv[0]+", "+indexEnv[1]+" or "+indexEnv[2]+")")
	return cmd
}

func runWorker(ctx context.Context, opts *workerOptions) error {
	if opts.manifest == "" {
		return usageErrorf("worker: --manifest is required")
	}
	i, err := workerIndex(opts.streamIndex)
	if err != nil {
		return err
	}
	err = shard.RunWorker(ctx, opts.manifest, i, opts.out)
	if errors.Is(err, shard.ErrUsage) {
		return withCode(exitUsage, err)
	}
	return err
}

// workerIndex returns the stream index from the flag, or else from the orchestrator's environment.
func workerIndex(flag int) (int, error) {
	if flag >= 0 {
		return flag, nil
	}
	for _, name := range indexEnv {
		v, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return 0, usageErrorf("worker: %s=%q is not a stream index", name, v)
		}
		return i, nil
	}
	return 0, usageErrorf("worker: pass --stream-index or set one of %v", indexEnv)
}
