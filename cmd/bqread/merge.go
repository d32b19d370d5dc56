package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/export"
)

type mergeOptions struct {
	opts     export.MergeOptions
	progress string
	stderr   io.Writer
	log      *logConfig
}

func newMergeCmd(s streams) *cobra.Command {
	o := &mergeOptions{opts: export.MergeOptions{Stdout: s.out}, stderr: s.err, log: s.log}
	cmd := &cobra.Command{
		Use:   "merge --work-dir DIR -o OUT [flags]",
		Short: "Merge the segments of a planned export, once its workers are done, into one file",
		Long: `merge checks that every stream of the export planned in the work dir was read to its end by the
workers and that the committed segments tile each stream's rows exactly, then merges them into one
file at --out without re-encoding, removes the work dir (unless --keep-parts) and writes the
summary. The output format is the one planned; --out's extension, if it names a format, must agree.

If a stream is not finished, merge writes nothing, lists the streams, and exits with code 3: run
the workers of their tasks again (bqread status shows which), then merge again.

` + exitCodesHelp,
		Example: `  bqread merge --work-dir /tmp/trips -o trips.parquet
  bqread merge --work-dir /tmp/trips -o - --summary merge.json > trips.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMerge(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.opts.WorkDir, "work-dir", "", "the planned export's work dir")
	f.StringVarP(&o.opts.Out, "out", "o", "", "output file, or object (gs://BUCKET/PATH, s3://BUCKET/PATH); - for stdout; a * in the file name writes one file per segment and a manifest")
	f.BoolVar(&o.opts.Overwrite, "overwrite", false, "replace an existing --out or --summary file")
	f.BoolVar(&o.opts.KeepParts, "keep-parts", false, "keep the work dir after the merge")
	f.StringVar(&o.opts.Summary, "summary", "", "write a JSON summary to this file or object (gs://, s3://); - for stdout")
	f.StringVar(&o.progress, "progress", "auto", "last line: auto, bar, plain, none")
	return cmd
}

func runMerge(ctx context.Context, o *mergeOptions) error {
	if o.opts.WorkDir == "" || o.opts.Out == "" {
		return usageErrorf("merge: --work-dir and --out are required")
	}
	log := o.log.logger(o.stderr)
	o.opts.Log = log
	o.opts.ExitCode = func(err error) int { return exitCode(ctx, err) }
	sum, err := export.Merge(ctx, o.opts)
	if errors.Is(err, export.ErrIncomplete) {
		return fmt.Errorf("merge: %w: run the workers of their tasks (bqread status --work-dir %s), then merge again", err, o.opts.WorkDir)
	}
	if err != nil {
		return explain(err, export.Options{})
	}
	reportDone(o.log.progressMode(o.progress), o.stderr, log, sum)
	return nil
}
