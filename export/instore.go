package export

import (
	"context"
	"errors"
	"time"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/shard"
)

// inStore reports whether Out may be merged inside its store: it is an object and the work
// dir's store can concatenate objects (a work dir in a bucket). Whether the store can do it for
// this Out is known only when it tries (mergeObject).
func (e *Export) inStore() bool {
	_, ok := e.dir.Store().(store.Concatenator)
	return ok && e.p.outKind == destObject
}

// runInStore reads every stream with no live merge, the segments staying where the store can
// concatenate them, then merges them into Out (mergeObject).
func (e *Export) runInStore(ctx context.Context) (*Summary, error) {
	read := time.Now()
	res, err := shard.Run(ctx, e.runConfig(nil))
	if err != nil {
		return newSummary(e.m, res, shard.MergeStats{}, e.p.opts.Out), e.failed(ctx, err)
	}
	merge := time.Now()
	sum, err := e.mergeObject(ctx, res)
	if err != nil {
		return nil, e.failed(ctx, err)
	}
	sum.Phases = Phases{Session: e.planned.Sub(e.start).Seconds(), Read: merge.Sub(read).Seconds(), Merge: sum.Phases.Merge}
	e.complete(sum)
	return sum, nil
}

// mergeObject merges the read segments into the object Out inside its store
// (shard.MergeInStore), so that no body passes through this process. Where the store cannot (S3
// servers without UploadPartCopy, segments too small for S3's parts, Out in another bucket) it
// says so in one log line and copies the segments through this process into an upload of Out
// (mergeCopy).
func (e *Export) mergeObject(ctx context.Context, res *shard.Result) (*Summary, error) {
	start := time.Now()
	written, err := shard.MergeInStore(ctx, e.dir, e.p.opts.Out, e.p.opts.Overwrite)
	switch {
	case errors.Is(err, store.ErrNoConcat):
		e.p.log().Info("merge copied through bqread", "out", e.p.opts.Out, "reason", err.Error())
		return e.mergeCopy(ctx, res)
	case errors.Is(err, store.ErrExist):
		return nil, appeared(e.p.opts.Out, err)
	case err != nil:
		return nil, err
	}
	sum := newSummary(e.m, res, written, e.p.opts.Out)
	sum.Phases.Merge = time.Since(start).Seconds()
	return sum, nil
}

// mergeCopy merges the read segments into Out by copying them through this process.
func (e *Export) mergeCopy(ctx context.Context, res *shard.Result) (*Summary, error) {
	out, err := createOutput(ctx, e.p.opts.Out, e.p.outKind, e.p.opts.Overwrite, e.p.opts.KeepParts, e.dir, e.p.opts.Stdout)
	if err != nil {
		return nil, err
	}
	defer out.discard()
	disk := watchDisk(e.dir)
	defer disk.last()
	mg, err := out.newMerger(ctx, e.dir, e.m)
	if err != nil {
		return nil, err
	}
	return e.finish(ctx, out, mg, res, disk)
}
