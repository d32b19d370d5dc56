package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The limits of S3's multipart uploads.
const (
	partMin  = 5 << 20 // the least size of a part, but for the last
	partMax  = 5 << 30 // the most
	partsMax = 10000   // parts in one upload
)

// piece is the n bytes at off of source src.
type piece struct {
	src    int
	off, n int64
}

// s3Part is one part of a multipart upload: one piece copied in the store (UploadPartCopy), or
// small pieces streamed through this process (UploadPart).
type s3Part struct {
	copy   bool
	pieces []piece
}

// planParts lays sources of the given sizes out as the parts of one multipart upload, in order.
// Where a part starts at a piece of at least partMin, that piece is copied in the store, in parts
// of at most partMax. Smaller pieces (a header, a footer, small bodies) are streamed through this
// process into a part that takes the sources after them until it has partMin bytes: from a source
// with at least partMin bytes beyond what the part lacks, only what it lacks, the rest being
// copied; else the whole source. So every part but the last has at least partMin bytes, a
// streamed part less than 2*partMin, and large sources are copied but for what fills the part
// of the small pieces before them.
func planParts(sizes []int64) []s3Part {
	var parts []s3Part
	var cur s3Part
	var curN int64
	for i, size := range sizes {
		for off := int64(0); off < size; {
			rem := size - off
			if curN == 0 && rem >= partMin {
				n := min(rem, partMax)
				parts = append(parts, s3Part{copy: true, pieces: []piece{{i, off, n}}})
				off += n
				continue
			}
			n := rem
			if curN > 0 && rem-(partMin-curN) >= partMin {
				n = partMin - curN
			}
			cur.pieces = append(cur.pieces, piece{i, off, n})
			curN += n
			off += n
			if curN >= partMin {
				parts = append(parts, cur)
				cur, curN = s3Part{}, 0
			}
		}
	}
	if curN > 0 {
		parts = append(parts, cur)
	}
	return parts
}

// multipartCopy writes srcs, in order, as the object key by one S3 multipart upload whose parts
// are copied in the store where they can be (planParts). The copy parts are sent first, so that a
// server without UploadPartCopy is found before any byte is streamed; it makes the error wrap
// ErrNoConcat. Each source is pinned to the ETag whose size was checked. The object appears when
// the upload completes, only if absent unless replace; on any failure the upload is aborted, so
// that none is left.
func (s *Blob) multipartCopy(ctx context.Context, c *s3.Client, key string, replace bool, srcs []Source) (err error) {
	etags, err := s.heads(ctx, c, srcs)
	if err != nil {
		return err
	}
	sizes := make([]int64, len(srcs))
	for i, src := range srcs {
		sizes[i] = src.Size
	}
	parts := planParts(sizes)
	switch {
	case len(srcs) == 0:
		return errNothing
	case len(parts) > partsMax:
		return fmt.Errorf("%w: %d parts, S3 takes at most %d", ErrNoConcat, len(parts), partsMax)
	case !anyCopy(parts):
		return fmt.Errorf("%w: no source has the %d bytes of an S3 part to copy", ErrNoConcat, partMin)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.name, Key: &key})
	if err != nil {
		return fmt.Errorf("start the upload of %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if _, aerr := c.AbortMultipartUpload(cctx, &s3.AbortMultipartUploadInput{Bucket: &s.name, Key: &key, UploadId: up.UploadId}); aerr != nil {
				err = fmt.Errorf("%w; abort the upload %s: %v", err, *up.UploadId, aerr)
			}
		}
	}()
	done := make([]types.CompletedPart, len(parts))
	for _, copying := range []bool{true, false} {
		for k, p := range parts {
			if p.copy != copying {
				continue
			}
			u := partUpload{s: s, c: c, key: key, id: up.UploadId, num: int32(k + 1), srcs: srcs, etags: etags}
			etag, err := u.send(ctx, p)
			if err != nil {
				return err
			}
			done[k] = types.CompletedPart{ETag: etag, PartNumber: aws.Int32(u.num)}
		}
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: &s.name, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
	if !replace {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := c.CompleteMultipartUpload(ctx, in); err != nil {
		if httpStatus(err) == 412 {
			return fmt.Errorf("%s: %w", key, ErrExist)
		}
		return fmt.Errorf("complete the upload of %s: %w", key, err)
	}
	return nil
}

// heads returns the ETags of srcs after checking their sizes. S3 reports no CRC-32C of an object
// uploaded without one, so the checksum is not checked here.
func (s *Blob) heads(ctx context.Context, c *s3.Client, srcs []Source) ([]*string, error) {
	etags := make([]*string, len(srcs))
	for i, src := range srcs {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.name, Key: aws.String(s.Key(src.Name))})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
		if size := aws.ToInt64(h.ContentLength); size != src.Size {
			return nil, changed(src.Name, "size", size, src.Size)
		}
		etags[i] = h.ETag
	}
	return etags, nil
}

func anyCopy(parts []s3Part) bool {
	for _, p := range parts {
		if p.copy {
			return true
		}
	}
	return false
}

// partUpload sends one part of a multipart upload.
type partUpload struct {
	s     *Blob
	c     *s3.Client
	key   string
	id    *string
	num   int32
	srcs  []Source
	etags []*string
}

// send copies or streams part p and returns its ETag.
func (u partUpload) send(ctx context.Context, p s3Part) (*string, error) {
	if p.copy {
		return u.copyPiece(ctx, p.pieces[0])
	}
	var buf bytes.Buffer
	for _, pc := range p.pieces {
		if err := u.read(ctx, pc, &buf); err != nil {
			return nil, err
		}
	}
	out, err := u.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &u.s.name, Key: &u.key, UploadId: u.id, PartNumber: &u.num,
		Body: bytes.NewReader(buf.Bytes()), ContentLength: aws.Int64(int64(buf.Len()))})
	if err != nil {
		return nil, fmt.Errorf("upload part %d of %s: %w", u.num, u.key, err)
	}
	return out.ETag, nil
}

// copyPiece copies pc in the store as the part. A server that takes the request for an upload
// without a body (411) or does not implement it (501) has no UploadPartCopy: ErrNoConcat.
func (u partUpload) copyPiece(ctx context.Context, pc piece) (*string, error) {
	out, err := u.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &u.s.name, Key: &u.key, UploadId: u.id, PartNumber: &u.num,
		CopySource:        aws.String(copySource(u.s.name, u.s.Key(u.srcs[pc.src].Name))),
		CopySourceRange:   aws.String(byteRange(pc)),
		CopySourceIfMatch: u.etags[pc.src]})
	if code := httpStatus(err); code == 411 || code == 501 {
		return nil, fmt.Errorf("%w: the server has no UploadPartCopy (HTTP %d)", ErrNoConcat, code)
	}
	if err != nil {
		return nil, fmt.Errorf("copy part %d of %s: %w", u.num, u.key, err)
	}
	return out.CopyPartResult.ETag, nil
}

// read appends the bytes of pc, from the version of its source that was checked, to buf.
func (u partUpload) read(ctx context.Context, pc piece, buf *bytes.Buffer) error {
	name := u.srcs[pc.src].Name
	out, err := u.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &u.s.name, Key: aws.String(u.s.Key(name)),
		Range: aws.String(byteRange(pc)), IfMatch: u.etags[pc.src]})
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer out.Body.Close()
	if n, err := io.Copy(buf, io.LimitReader(out.Body, pc.n)); err != nil || n != pc.n {
		return fmt.Errorf("read %s: %d of %d bytes at %d (%v)", name, n, pc.n, pc.off, err)
	}
	return nil
}

// byteRange is the HTTP Range of pc.
func byteRange(pc piece) string { return fmt.Sprintf("bytes=%d-%d", pc.off, pc.off+pc.n-1) }

// copySource is the x-amz-copy-source of an object: bucket/key, URL-encoded but for the slashes.
func copySource(bucket, key string) string {
	parts := strings.Split(bucket+"/"+key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
