package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/export"
)

type planOptions struct {
	export exportOptions
	json   bool
	stdout io.Writer
}

// planned is what plan prints with --json.
type planned struct {
	WorkDir       string    `json:"work_dir"`
	Table         string    `json:"table"`
	Streams       int       `json:"streams"`
	Tasks         int       `json:"tasks"`
	ExpireTime    time.Time `json:"expire_time,omitzero"`
	WorkerCommand []string  `json:"worker_command"`
	MergeCommand  []string  `json:"merge_command"`
	IndexEnv      []string  `json:"index_env"`
}

func newPlanCmd(s streams) *cobra.Command {
	o := &planOptions{export: exportOptions{stderr: s.err, stdin: s.in, log: s.log, query: queryFlags{command: "plan"}}, stdout: s.out}
	cmd := &cobra.Command{
		Use:   "plan (TABLE | --query SQL) --work-dir DIR (-f FORMAT | -o OUT) [flags]",
		Short: "Create a read session in a shared work dir for workers that a scheduler runs",
		Long: `plan creates the read session of TABLE and a work dir holding its manifest, for an export whose
workers run as the tasks of a scheduler you already have (Kubernetes Indexed Jobs, Cloud Run jobs,
Slurm job arrays, AWS Batch array jobs) on machines that share the work dir. It prints the number of
tasks and the exact worker and merge commands to run: each task runs bqread worker (its index
from the scheduler's environment), then bqread merge writes the output once.

The read flags are those of export. The output format comes from --format, or from the extension of
--out (which merge still takes). --tasks sets the number of tasks (default one per stream): task I
reads streams I, I+T, I+2T, ... A work dir that holds a plan is refused without --overwrite. The
session expires (BigQuery: 6 hours) and the workers must finish before it does.

--query SQL (or --query-file PATH, - for stdin) plans the result of a GoogleSQL query instead: plan
runs the query as a BigQuery job once, as export does (--location, --labels,
--maximum-bytes-billed, --destination-table; its state is logged while it runs, Ctrl-C cancels it),
and plans the read of the job's destination table; the workers and the merge read that table and
never run the query. A query whose top level has ORDER BY is read with one stream.

` + exitCodesHelp,
		Example: `  bqread serve &
  bqread plan bqread-demo.samples.trips --endpoint 127.0.0.1:9060 --work-dir /tmp/trips -f parquet --tasks 2
  bqread plan bqread-demo.samples.trips --endpoint 127.0.0.1:9060 --work-dir /tmp/trips -o trips.csv --overwrite --json
  bqread plan --endpoint 127.0.0.1:9060 --rest-endpoint http://127.0.0.1:9050 --project bqread-demo --work-dir /tmp/fares -f parquet \
      --query 'SELECT trip_id, fare_amount FROM samples.trips WHERE fare_amount > 50'`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.export.envDefaults(cmd.Flags())
			if err := o.export.query.apply(cmd.Flags(), &o.export.opts, args, o.export.stdin); err != nil {
				return err
			}
			return runPlan(cmd.Context(), o)
		},
	}
	o.export.addFlags(cmd.Flags(), false)
	o.export.query.addFlags(cmd.Flags(), &o.export.opts)
	cmd.Flags().IntVar(&o.export.opts.Tasks, "tasks", 0, "tasks the workers run as (default one per stream)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the plan as JSON")
	cmd.Flags().Lookup("out").Usage = "the output merge will write (here only for its format's extension)"
	registerCompletions(cmd)
	return cmd
}

func runPlan(ctx context.Context, o *planOptions) error {
	if o.export.opts.WorkDir == "" {
		return usageErrorf("plan: --work-dir is required: a directory every worker and the merge can reach")
	}
	if o.export.opts.Out == "" && o.export.format == "" {
		return usageErrorf("plan: give --format, or --out for its extension")
	}
	opts, err := o.export.options()
	if err != nil {
		return err
	}
	out := cmp.Or(opts.Out, "OUT")
	log := o.export.log.logger(o.export.stderr)
	opts.Log = log
	job := newJobDisplay(o.export.log.progressMode("auto"), o.export.stderr, log, 5*time.Second)
	opts.OnJob = job.event
	e, err := export.Plan(ctx, opts)
	job.end()
	if err != nil {
		return explain(err, opts)
	}
	defer e.Close() // the workers and the merge take the work dir from here
	p := planned{WorkDir: e.WorkDir(), Table: cmp.Or(opts.Table, e.Table()), Streams: e.Streams(), Tasks: e.Tasks(), ExpireTime: e.ExpireTime(),
		WorkerCommand: []string{"bqread", "worker", "--work-dir", e.WorkDir()},
		MergeCommand:  []string{"bqread", "merge", "--work-dir", e.WorkDir(), "-o", out}, IndexEnv: export.IndexEnv}
	if o.json {
		return json.NewEncoder(o.stdout).Encode(p)
	}
	fmt.Fprintf(o.stdout, "planned %d streams of %s in %s as %d tasks; the session expires at %s\n",
		p.Streams, p.Table, p.WorkDir, p.Tasks, p.ExpireTime.UTC().Format(time.RFC3339))
	fmt.Fprintf(o.stdout, "run each task, index 0 to %d (from %s):\n  %s\n", p.Tasks-1, strings.Join(p.IndexEnv, ", "), strings.Join(p.WorkerCommand, " "))
	fmt.Fprintf(o.stdout, "then, once every task succeeded:\n  %s\n", strings.Join(p.MergeCommand, " "))
	return nil
}
