package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bqread/bqread/emulator"
)

// The straggler phase: 4 workers read a table whose rows a filter leaves 90% in one stream (the
// emulator assigns rows to streams before the filter, as the service does), with and without
// straggler splitting, and a balanced table of the same rows.
const (
	phaseStraggle    = "straggle"
	straggleStreams  = 4
	straggleTarget   = 1.3 // lopsided with splitting over balanced, at most
	targetStraggle   = "90% of rows in one stream, 4 workers, splitting: ≤ 1.3× a balanced table's time"
	caseBalanced     = "balanced"
	caseLopsided     = "lopsided"
	caseLopsidedSolo = "lopsided, no split"
)

// straggleTables returns the filter and the balanced table of the phase on the table of rows rows
// (trip_id 1 to rows): with 4 streams of a quarter each, trip_id <= rows/4 + rows/36 keeps
// stream 0 whole and a ninth as many of stream 1's rows, 90% of the rows kept in one stream.
func straggleTables(dataDir string, rows int64) (where string, balanced table, err error) {
	keep := rows/4 + rows/36
	balanced, err = writeTable(dataDir, keep)
	return fmt.Sprintf("trip_id <= %d", keep), balanced, err
}

// straggle measures bqread Arrow → Parquet with 4 streams and 4 workers: the balanced table, then
// the lopsided filter of the main table with splitting and without. Each case is run once first,
// unmeasured, so that the emulator's payload cache serves the measured run.
func (b *bench) straggle(ctx context.Context, inst *emulator.Instance, main, balanced table, where string) ([]result, error) {
	lopsided := main
	lopsided.rows = balanced.rows
	cases := []struct {
		name  string
		t     table
		extra []string
	}{
		{caseBalanced, balanced, nil},
		{caseLopsided, lopsided, []string{"--where", where}},
		{caseLopsidedSolo, lopsided, []string{"--where", where, "--split-stragglers=false"}},
	}
	var out []result
	for _, c := range cases {
		if _, err := b.straggleRun(ctx, inst, c.t, c.name, c.extra); err != nil {
			return out, fmt.Errorf("warm-up of %s: %w", c.name, err)
		}
		r, err := b.fastest(ctx, func() (result, error) { return b.straggleRun(ctx, inst, c.t, c.name, c.extra) })
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// straggleRun runs one export of the phase and returns its result, with the largest stream's
// share of the rows.
func (b *bench) straggleRun(ctx context.Context, inst *emulator.Instance, t table, name string, extra []string) (result, error) {
	out := filepath.Join(b.dir, "straggle.parquet")
	sumPath := filepath.Join(b.dir, "summary.json")
	defer os.Remove(out)
	args := append([]string{"export", t.id(), "--endpoint", inst.GRPCAddr(), "-o", out, "-f", "parquet",
		"--streams", fmt.Sprint(straggleStreams), "--parallelism", fmt.Sprint(straggleStreams), "--data-format", "arrow",
		"--summary", sumPath, "--progress", "none", "--overwrite"}, extra...)
	st, err := measure(ctx, exec.CommandContext(ctx, b.bin, args...))
	if err != nil {
		return result{}, err
	}
	sum, err := readSummary(sumPath)
	if err != nil {
		return result{}, err
	}
	r := newResult(phaseStraggle, clientBqread, "arrow", "parquet", t, straggleStreams, sum.Streams, sum.Rows, sum.BytesReceived, st)
	r.Case, r.RSS, r.Splits = name, st.peak, len(sum.PerStream)-sum.Streams
	var largest int64
	for _, ps := range sum.PerStream {
		largest = max(largest, ps.Rows)
	}
	if sum.Rows > 0 && r.Splits == 0 {
		r.LargestShare = float64(largest) / float64(sum.Rows)
	}
	return r, r.verify(t)
}

// straggleCheck compares the lopsided table's time with splitting to the balanced table's, and
// gives the ratio without splitting.
func straggleCheck(rs []result) check {
	var balanced, split, solo *result
	for i := range rs {
		switch r := &rs[i]; {
		case r.Phase != phaseStraggle:
		case r.Case == caseBalanced:
			balanced = r
		case r.Case == caseLopsided:
			split = r
		case r.Case == caseLopsidedSolo:
			solo = r
		}
	}
	if balanced == nil || split == nil || solo == nil {
		return check{Target: targetStraggle, Status: statusSkip, Detail: skipNoResults + " (needs --straggle-bandwidth)"}
	}
	v := split.Seconds / balanced.Seconds
	detail := fmt.Sprintf("%.2fs / %.2fs = %.2f× with %d splits; without splitting %.2fs = %.2f× (largest stream %.0f%% of the rows)",
		split.Seconds, balanced.Seconds, v, split.Splits, solo.Seconds, solo.Seconds/balanced.Seconds, 100*solo.LargestShare)
	return check{Target: targetStraggle, Status: status(v <= straggleTarget), Detail: detail}
}
