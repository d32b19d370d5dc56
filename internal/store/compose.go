package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/storage"
)

// composeMax is the most sources one GCS compose request takes.
const composeMax = 32

// compose writes srcs, in order, as the object key of bucket b by GCS compose: at most
// composeMax sources a request, so more are composed in a tree whose inner nodes are temp
// objects of this store (pendingName, which a work dir's clearing recognises as bqread's after a
// crash), each deleted at the end by the generation its compose returned, so that only the object
// this call made is ever deleted. Each source is pinned to the generation whose size and CRC-32C
// were checked, and the destination is written last, by one request, only if absent unless
// replace.
func (s *Blob) compose(ctx context.Context, b *storage.BucketHandle, key string, replace bool, srcs []Source) error {
	objs, err := s.pinned(ctx, b, srcs)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return errNothing
	}
	var made []*storage.ObjectHandle
	defer func() {
		// A temp object that cannot be deleted now is a pending file of the work dir, which
		// its removal deletes; it does not undo a compose that wrote the object.
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		for _, o := range made {
			o.Delete(cctx)
		}
	}()
	for len(objs) > composeMax {
		var next []*storage.ObjectHandle
		for len(objs) > 0 {
			group := objs[:min(composeMax, len(objs))]
			objs = objs[len(group):]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			tmp := b.Object(s.Key(pendingName("")))
			attrs, err := tmp.If(storage.Conditions{DoesNotExist: true}).ComposerFrom(group...).Run(ctx)
			if err != nil {
				return fmt.Errorf("compose %s: %w", tmp.ObjectName(), err)
			}
			tmp = tmp.Generation(attrs.Generation)
			made = append(made, tmp)
			next = append(next, tmp)
		}
		objs = next
	}
	dst := b.Object(key)
	if !replace {
		dst = dst.If(storage.Conditions{DoesNotExist: true})
	}
	if _, err := dst.ComposerFrom(objs...).Run(ctx); err != nil {
		if isPrecondition(err) {
			return fmt.Errorf("%s: %w", key, ErrExist)
		}
		return fmt.Errorf("compose %s: %w", key, err)
	}
	return nil
}

// pinned returns the objects of srcs at the generations whose size and CRC-32C match what srcs
// say. Empty sources are left out, but for one when all are empty.
func (s *Blob) pinned(ctx context.Context, b *storage.BucketHandle, srcs []Source) ([]*storage.ObjectHandle, error) {
	var objs []*storage.ObjectHandle
	var last *storage.ObjectHandle
	for _, src := range srcs {
		o := b.Object(s.Key(src.Name))
		a, err := o.Attrs(ctx)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		case a.Size != src.Size:
			return nil, changed(src.Name, "size", a.Size, src.Size)
		case a.CRC32C != src.CRC32C:
			return nil, changed(src.Name, "CRC-32C", fmt.Sprintf("%#08x", a.CRC32C), fmt.Sprintf("%#08x", src.CRC32C))
		}
		last = o.Generation(a.Generation)
		if a.Size > 0 {
			objs = append(objs, last)
		}
	}
	if len(objs) == 0 && last != nil {
		objs = append(objs, last)
	}
	return objs, nil
}

// isPrecondition reports whether err is GCS's answer to a failed precondition (412).
func isPrecondition(err error) bool {
	return httpStatus(err) == 412
}
