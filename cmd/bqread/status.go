package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/export"
)

type statusOptions struct {
	workDir string
	json    bool
	stdout  io.Writer
}

func newStatusCmd(s streams) *cobra.Command {
	o := &statusOptions{stdout: s.out}
	cmd := &cobra.Command{
		Use:   "status --work-dir DIR [--json]",
		Short: "Show how far the workers of a planned export have got",
		Long: `status reads the work dir of a planned export and prints, from what the workers committed, the rows
committed per stream, which streams and tasks are done, and the time left before the read session
expires. With --json it prints the same as one JSON object. It changes nothing.`,
		Example: `  bqread status --work-dir /tmp/trips
  bqread status --work-dir /tmp/trips --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.workDir, "work-dir", "", "the planned export's work dir")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the status as JSON")
	return cmd
}

func runStatus(ctx context.Context, o *statusOptions) error {
	if o.workDir == "" {
		return usageErrorf("status: --work-dir is required")
	}
	s, err := export.ReadStatus(ctx, o.workDir)
	if err != nil {
		return explain(err, export.Options{})
	}
	if o.json {
		return json.NewEncoder(o.stdout).Encode(s)
	}
	left := "unknown"
	if !s.ExpireTime.IsZero() {
		left = time.Duration(s.SecondsLeft * float64(time.Second)).String()
	}
	fmt.Fprintf(o.stdout, "%s: %s, %d of %d tasks done, %d rows committed, session expires in %s\n",
		s.WorkDir, s.Table, s.TasksDone, s.Tasks, s.RowsCommitted, left)
	tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "stream\ttask\trows committed\tdone")
	for _, st := range s.Streams {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%v\n", st.Index, st.Task, st.RowsCommitted, st.Done)
	}
	return tw.Flush()
}
