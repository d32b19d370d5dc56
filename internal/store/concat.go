package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"google.golang.org/api/googleapi"
)

// ErrNoConcat is wrapped by Concat errors that mean the store cannot concatenate these files
// itself, so the caller must copy the bytes: nothing was written at the destination and nothing
// Concat made is left.
var ErrNoConcat = errors.New("store: cannot concatenate in the store")

// Concatenator is a Store that can write the concatenation of some of its files as one new object
// of its bucket without their bytes passing through this process: GCS compose, S3 multipart
// uploads of UploadPartCopy parts. A Store that does not implement it (a local Dir) cannot.
type Concatenator interface {
	// Concat writes the files srcs, in order, as the object at the URL dst, in the same bucket.
	// The object appears only whole, by the last request Concat makes, and only if no object is
	// there unless replace; on any failure nothing is at dst and every object Concat made in
	// between is deleted. Each source must have its Size (and, where the service reports one,
	// its CRC32C) or Concat fails before it writes anything. An error wrapping ErrNoConcat
	// means the store cannot do it here; the caller then copies the bytes.
	Concat(ctx context.Context, dst string, replace bool, srcs []Source) error
}

// Source is a file Concat reads, with what its commit recorded of it.
type Source struct {
	Name   string
	Size   int64
	CRC32C uint32
}

// Concat implements Concatenator through the service's own client, reached from gocloud's
// bucket with As: compose on GCS, UploadPartCopy on S3.
func (s *Blob) Concat(ctx context.Context, dst string, replace bool, srcs []Source) error {
	scheme, bucket, key, err := splitURL(dst)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(s.url, scheme+"://"+bucket+"/") {
		return fmt.Errorf("%w: %s is not in the bucket of %s", ErrNoConcat, dst, s.url)
	}
	for _, src := range srcs {
		if err := checkName(src.Name); err != nil {
			return err
		}
	}
	var gcs *storage.Client
	var s3c *s3.Client
	switch {
	case s.bucket.As(&gcs):
		err = s.compose(ctx, gcs.Bucket(s.name), key, replace, srcs)
	case s.bucket.As(&s3c):
		err = s.multipartCopy(ctx, s3c, key, replace, srcs)
	default:
		return fmt.Errorf("%w: the service of %s has no concatenation", ErrNoConcat, s.url)
	}
	if err != nil {
		return fmt.Errorf("concatenate %d objects into %s: %w", len(srcs), dst, err)
	}
	return nil
}

// errNothing is Concat's error for no sources: an object needs at least one.
var errNothing = errors.New("store: nothing to concatenate")

// httpStatus returns the HTTP status of a service's error answer, or 0.
func httpStatus(err error) int {
	var ge *googleapi.Error
	var re *smithyhttp.ResponseError
	switch {
	case errors.As(err, &ge):
		return ge.Code
	case errors.As(err, &re):
		return re.HTTPStatusCode()
	}
	return 0
}

// cleanupTimeout bounds the requests that undo a failed Concat, which run even when its context
// was cancelled.
const cleanupTimeout = 30 * time.Second

// cleanupContext is ctx without its cancellation, bounded by cleanupTimeout.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// changed is the error for a source that is not what its record says.
func changed(name string, what string, got, want any) error {
	return fmt.Errorf("store: %s has %s %v, its record says %v", name, what, got, want)
}
