package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bqread/bqread/shard"
)

// Run plans the export (Plan) and runs it (Export.Run).
func Run(ctx context.Context, opts Options) (*Summary, error) {
	e, err := Plan(ctx, opts)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx)
}

// Run reads every stream in worker processes on this machine (at most Parallelism at once), merges
// their segments into Out (while reading, where the format allows), removes the work dir unless
// KeepParts, writes the summary, and returns it. An export that stops part way keeps its
// committed parts and returns a *KeptError; one whose session expired removes them.
func (e *Export) Run(ctx context.Context) (*Summary, error) {
	defer e.Close()
	sum, err := e.run(ctx)
	return e.p.report(sum, err, e)
}

// run does Run's work; the summary it returns on failure has what the workers did.
func (e *Export) run(ctx context.Context) (*Summary, error) {
	if isPattern(e.p.opts.Out) {
		return e.runParts(ctx)
	}
	if e.inStore() {
		return e.runInStore(ctx)
	}
	out, err := createOutput(ctx, e.p.opts.Out, e.p.outKind, e.p.opts.Overwrite, e.p.opts.KeepParts, e.dir, e.p.opts.Stdout)
	if err != nil {
		return nil, e.failed(ctx, err)
	}
	defer out.discard()
	disk := watchDisk(e.dir)
	defer disk.last()
	mg, err := out.newMerger(ctx, e.dir, e.m)
	if err != nil {
		return nil, e.failed(ctx, err)
	}
	read := time.Now()
	res, err := shard.Run(ctx, e.runConfig(mg))
	if err != nil {
		sum := newSummary(e.m, res, shard.MergeStats{}, e.p.opts.Out)
		sum.PeakDiskBytes = disk.last()
		return sum, e.failed(ctx, err)
	}
	merge := time.Now()
	sum, err := e.finish(ctx, out, mg, res, disk)
	if err != nil {
		return nil, e.failed(ctx, err)
	}
	sum.Phases = Phases{Session: e.planned.Sub(e.start).Seconds(), Read: merge.Sub(read).Seconds(), Merge: sum.Phases.Merge}
	e.complete(sum)
	return sum, nil
}

// runConfig is how the workers run on this machine, their segments told to mg (nil: to none).
func (e *Export) runConfig(mg *shard.Merger) shard.Config {
	return shard.Config{WorkDir: e.dir.Path(), Parallelism: e.p.opts.Parallelism, MaxRestarts: e.p.opts.MaxRestarts,
		OnEvent: e.p.opts.OnEvent, Log: e.p.log(), Launch: shard.LocalLauncher(e.p.opts.WorkerCommand, nil), Merger: mg,
		SplitStragglers: !e.p.opts.NoSplit}
}

// finish merges what is left, puts the output in place and returns the summary, with the peak of
// disk, whose last sample is taken once the merge is written and before the output is renamed.
func (e *Export) finish(ctx context.Context, out *outputFile, mg *shard.Merger, res *shard.Result, disk *diskPeak) (*Summary, error) {
	start := time.Now()
	written, err := mg.Finish(ctx)
	peak := disk.last()
	if err == nil {
		err = out.commit()
	}
	if err != nil {
		return nil, err
	}
	sum := newSummary(e.m, res, written, e.p.opts.Out)
	sum.PeakDiskBytes = peak
	sum.Phases.Merge = time.Since(start).Seconds()
	return sum, nil
}

// complete removes the work dir unless KeepParts.
func (e *Export) complete(sum *Summary) {
	cleanup := time.Now()
	if !e.p.opts.KeepParts {
		e.removeWorkDir()
	}
	sum.Phases.Cleanup = time.Since(cleanup).Seconds()
}

// failed decides what happens to the work dir after err stopped the export, and returns the
// error the caller sees: an interrupted or failed export keeps its committed parts for a resume,
// unless its session is Ephemeral;
// an expired session's parts are removed, since nothing can continue them, and so are those of a
// temp work dir nobody could name in a resume, and those of an export refused for bad input.
func (e *Export) failed(ctx context.Context, err error) error {
	switch {
	case e.p.opts.Ephemeral && ctx.Err() != nil:
		e.removeWorkDir()
		return fmt.Errorf("%w; its session ended with this process, so its parts were removed", ErrInterrupted)
	case e.p.opts.Ephemeral:
		e.removeWorkDir()
		return fmt.Errorf("%w; its session ends with this process, so its parts were removed", err)
	case ctx.Err() != nil:
		return &KeptError{Kind: ErrInterrupted, WorkDir: e.dir.Path(), Temp: e.temp, Err: errors.New("interrupted")}
	case errors.Is(err, ErrSessionExpired):
		e.removeWorkDir()
		return fmt.Errorf("%w; the session's parts were removed", err)
	case e.temp, errors.Is(err, ErrUsage):
		e.removeWorkDir()
		return err
	}
	return &KeptError{Kind: ErrPartial, WorkDir: e.dir.Path(), Err: err}
}

// log returns the logger of the options, or one that discards.
func (p *plan) log() *slog.Logger {
	if p.opts.Log != nil {
		return p.opts.Log
	}
	return slog.New(slog.DiscardHandler)
}
