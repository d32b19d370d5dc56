package export

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// MergeOptions say where Merge writes a planned export whose workers have run.
type MergeOptions struct {
	WorkDir string
	// Out, Overwrite, KeepParts, Summary and Stdout are as in Options.
	Out       string
	Overwrite bool
	KeepParts bool
	Summary   string
	Stdout    io.Writer
	Log       *slog.Logger
	ExitCode  func(error) int
}

// Merge checks that every stream of the planned export in WorkDir was read to its end and that
// its committed segments tile its rows, merges them into Out (or, for a many-file Out, writes
// each as a file and then their manifest), removes the work dir unless KeepParts, and writes the
// summary. Streams not read to their end give a
// *shard.IncompleteError (ErrIncomplete) listing them; nothing is written then, and the work dir
// is kept for the workers still to run.
func Merge(ctx context.Context, o MergeOptions) (*Summary, error) {
	e, err := openPlanned(ctx, o)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var sum *Summary
	if isPattern(o.Out) {
		sum, err = e.finishParts(ctx, nil)
	} else {
		sum, err = e.mergeOne(ctx)
	}
	if err == nil {
		sum.Phases.Session = e.planned.Sub(e.start).Seconds()
		e.complete(sum)
	}
	return e.p.report(sum, err, e)
}

// mergeOne merges the segments into one file at Out: inside the store where it can.
func (e *Export) mergeOne(ctx context.Context) (*Summary, error) {
	if e.inStore() {
		return e.mergeObject(ctx, nil)
	}
	return e.mergeCopy(ctx, nil)
}

// openPlanned opens the work dir of a planned export for a merge into o.Out, after checking the
// destinations and that Out's extension, if it names a format, names the planned one.
func openPlanned(ctx context.Context, o MergeOptions) (*Export, error) {
	start := time.Now()
	if o.Out == "" {
		return nil, optionErrorf("{{Out}} is required: a file path, or - for standard output")
	}
	d, err := openLocked(o.WorkDir)
	if err != nil {
		return nil, err
	}
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		d.Unlock()
		return nil, asUsage(err)
	}
	p := &plan{opts: Options{Out: o.Out, Format: output.Format(m.Output.Format), Overwrite: o.Overwrite, KeepParts: o.KeepParts,
		Summary: o.Summary, Stdout: o.Stdout, Log: o.Log, WorkDir: o.WorkDir, ExitCode: o.ExitCode}}
	if f, _, err := output.FormatFromPath(o.Out); err == nil && f != p.opts.Format {
		d.Unlock()
		return nil, optionErrorf("{{Out}} %s names the %s format, but the export was planned as %s: name a .%s file", o.Out, f, m.Output.Format, m.Output.Format)
	}
	if err := checkDestinations(p, start); err != nil {
		d.Unlock()
		return nil, err
	}
	return &Export{p: p, dir: d, m: m, start: start, planned: time.Now()}, nil
}
