package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// Reasons a bucket cannot be used, wrapped by OpenBlob's errors.
var (
	ErrNoBucket      = errors.New("store: bucket does not exist")
	ErrDenied        = errors.New("store: access denied")
	ErrNoCredentials = errors.New("store: no credentials")
)

// inlineMax is how many bytes a Pending of a Blob keeps in memory; a file that stays smaller is
// uploaded in one request at its commit, under its final name, and one that grows larger is
// streamed into a temp object as it is written.
const inlineMax = 4 << 20

// IsURL reports whether s names a place in an object store (gs://bucket/..., s3://bucket/...)
// rather than a local path.
func IsURL(s string) bool { return strings.HasPrefix(s, "gs://") || strings.HasPrefix(s, "s3://") }

// Blob is a Store on the objects of a bucket whose keys start with a prefix, through
// gocloud.dev/blob. A file is committed by uploading it: an object appears only once its upload
// completes, and an upload whose context is cancelled, or that is aborted, leaves no object. A
// file larger than 4 MiB is streamed into a temp object (named with PendingPrefix, which List
// skips) and copied to its name in the store at its commit.
type Blob struct {
	url    string // scheme://bucket/prefix, as opened
	name   string // the bucket's name
	bucket *blob.Bucket
	prefix string // "" or ends with "/"
}

// OpenBlob opens the bucket of rawurl (gs://bucket/prefix or s3://bucket/prefix), with the
// standard credentials of its service, and checks that the bucket exists and can be listed:
// errors wrap ErrNoCredentials, ErrNoBucket or ErrDenied. The store's names are the keys under
// prefix, taken as a folder ("p" and "p/" are the same).
func OpenBlob(ctx context.Context, rawurl string) (*Blob, error) {
	scheme, bucketName, prefix, err := splitURL(rawurl)
	if err != nil {
		return nil, err
	}
	b, err := openBucket(ctx, scheme, bucketName)
	if err != nil {
		return nil, fmt.Errorf("open %s://%s: %w", scheme, bucketName, err)
	}
	if _, _, err := b.ListPage(ctx, blob.FirstPageToken, 1, nil); err != nil {
		b.Close()
		return nil, fmt.Errorf("%s://%s: %w", scheme, bucketName, classify(err))
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Blob{url: scheme + "://" + bucketName + "/" + prefix, name: bucketName, bucket: b, prefix: prefix}, nil
}

// splitURL splits gs://bucket/prefix into its scheme, bucket and prefix.
func splitURL(rawurl string) (scheme, bucket, prefix string, err error) {
	scheme, rest, _ := strings.Cut(rawurl, "://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !IsURL(rawurl) || bucket == "" || strings.Contains(prefix, "//") || path.IsAbs(prefix) {
		return "", "", "", fmt.Errorf("store: %q is not a gs://BUCKET/PATH or s3://BUCKET/PATH URL", rawurl)
	}
	return scheme, bucket, prefix, nil
}

// classify wraps err, from a request to a bucket, in ErrNoBucket or ErrDenied where it is one.
func classify(err error) error {
	var ge *googleapi.Error
	switch {
	case errors.As(err, &ge) && (ge.Code == 401 || ge.Code == 403):
		// gcsblob reports a 403 as NotFound: the server's answer says which it was.
		return fmt.Errorf("%w (%s)", ErrDenied, ge.Message)
	case gcerrors.Code(err) == gcerrors.PermissionDenied:
		return fmt.Errorf("%w (%v)", ErrDenied, err)
	case gcerrors.Code(err) == gcerrors.NotFound:
		return ErrNoBucket
	}
	return err
}

// URL returns the store's root: scheme://bucket/prefix/.
func (s *Blob) URL() string { return s.url }

// Bucket returns the bucket, and Key the key of a name, for operations of a service beyond the
// Store interface (compose, copy).
func (s *Blob) Bucket() *blob.Bucket { return s.bucket }

// Key returns the object key of name.
func (s *Blob) Key(name string) string { return s.prefix + name }

// Close releases the bucket's client.
func (s *Blob) Close() error { return s.bucket.Close() }

// Create implements Store.
func (s *Blob) Create(ctx context.Context, dir string) (Pending, error) {
	if dir != "" {
		if err := checkName(dir); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	return &blobPending{s: s, ctx: ctx, cancel: cancel, dir: dir}, nil
}

// blobPending is a file being written to a Blob: in memory while it is small, else streamed to
// a temp object.
type blobPending struct {
	checksum
	s      *Blob
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	buf    bytes.Buffer
	w      *blob.Writer // the temp object's upload, once the file outgrew inlineMax
	tmp    string       // the temp object's key
	done   bool
}

func (p *blobPending) Write(b []byte) (int, error) {
	if p.done {
		return 0, errors.New("store: write after commit or abort")
	}
	if p.w == nil && p.buf.Len()+len(b) > inlineMax {
		if err := p.spill(); err != nil {
			return 0, err
		}
	}
	var n int
	var err error
	if p.w != nil {
		n, err = p.w.Write(b)
	} else {
		n, err = p.buf.Write(b)
	}
	p.add(b[:n])
	return n, err
}

// spill starts the temp object's upload with what was buffered.
func (p *blobPending) spill() error {
	p.tmp = p.s.Key(pendingName(p.dir))
	w, err := p.s.bucket.NewWriter(p.ctx, p.tmp, nil)
	if err != nil {
		return fmt.Errorf("write %s: %w", p.tmp, err)
	}
	p.w = w
	if _, err := p.buf.WriteTo(w); err != nil {
		return fmt.Errorf("write %s: %w", p.tmp, err)
	}
	return nil
}

// pendingName returns a new name in the folder dir for a temp object: PendingPrefix, a random
// part and tmpSuffix, which List skips and a work dir's clearing recognises as bqread's.
func pendingName(dir string) string {
	id := make([]byte, 8)
	rand.Read(id)
	return path.Join(dir, PendingPrefix+hex.EncodeToString(id)+tmpSuffix)
}

func (p *blobPending) Commit(name string) error { return p.commit(name, false) }

func (p *blobPending) CommitNew(name string) error { return p.commit(name, true) }

func (p *blobPending) commit(name string, onlyNew bool) error {
	if p.done {
		return nil
	}
	if err := checkName(name); err != nil {
		p.Abort()
		return err
	}
	if p.w != nil && onlyNew {
		p.Abort()
		return fmt.Errorf("commit %s: store: a file of more than %d bytes cannot be committed only-if-new in an object store", name, inlineMax)
	}
	defer p.finish()
	if p.w == nil {
		return put(p.ctx, p.s, name, p.buf.Bytes(), onlyNew)
	}
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", name, err)
	}
	err := p.s.bucket.Copy(p.ctx, p.s.Key(name), p.tmp, nil)
	if derr := p.s.bucket.Delete(p.ctx, p.tmp); err == nil && derr != nil && gcerrors.Code(derr) != gcerrors.NotFound {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return nil
}

// put uploads data as name in one request; onlyNew makes it fail with ErrExist where name exists
// (GCS ifGenerationMatch=0, S3 If-None-Match: *).
func put(ctx context.Context, s *Blob, name string, data []byte, onlyNew bool) error {
	err := s.bucket.WriteAll(ctx, s.Key(name), data, &blob.WriterOptions{IfNotExist: onlyNew, DisableContentTypeDetection: true})
	switch {
	case onlyNew && gcerrors.Code(err) == gcerrors.FailedPrecondition:
		return fmt.Errorf("commit %s: %w", name, ErrExist)
	case err != nil:
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return nil
}

// finish ends the pending file: the temp upload, if any, is cancelled (an upload cancelled
// before it completed leaves no object).
func (p *blobPending) finish() {
	p.done = true
	p.cancel()
	if p.w != nil {
		p.w.Close()
	}
	p.buf = bytes.Buffer{}
}

func (p *blobPending) Abort() error {
	if !p.done {
		p.finish()
	}
	return nil
}

// List implements Store.
func (s *Blob) List(ctx context.Context, prefix string) ([]Entry, error) {
	all, err := s.ListAll(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if !IsPendingName(path.Base(e.Name)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ListAll is List with the temp objects of pending files too (PendingPrefix), which a crash
// between a temp object's upload and its commit leaves behind.
func (s *Blob) ListAll(ctx context.Context, prefix string) ([]Entry, error) {
	var out []Entry
	it := s.bucket.List(&blob.ListOptions{Prefix: s.Key(prefix)})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s%s: %w", s.url, prefix, classify(err))
		}
		out = append(out, Entry{Name: strings.TrimPrefix(o.Key, s.prefix), Size: o.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// IsPendingName reports whether the base name of a file is one a store gives a file it is
// writing.
func IsPendingName(base string) bool {
	return strings.HasPrefix(base, PendingPrefix) && strings.HasSuffix(base, tmpSuffix)
}

// Open implements Store.
func (s *Blob) Open(ctx context.Context, name string) (Object, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	a, err := s.bucket.Attributes(ctx, s.Key(name))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("open %s: %w", name, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return &blobObject{ctx: ctx, bucket: s.bucket, key: s.Key(name), size: a.Size}, nil
}

// blobObject reads an object by ranges. Reads that follow one another continue one ranged
// request, so that reading an object in order (io.Copy through an io.SectionReader) costs one
// request, not one a buffer.
type blobObject struct {
	ctx    context.Context
	bucket *blob.Bucket
	key    string
	size   int64

	mu  sync.Mutex
	r   *blob.Reader // open from offset at
	at  int64
	pos int64 // of Read
}

func (o *blobObject) Size() int64 { return o.size }

func (o *blobObject) ReadAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if off >= o.size {
		return 0, io.EOF
	}
	if o.r == nil || o.at != off {
		o.closeReader()
		r, err := o.bucket.NewRangeReader(o.ctx, o.key, off, -1, nil)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", o.key, err)
		}
		o.r, o.at = r, off
	}
	n, err := io.ReadFull(o.r, p[:min(int64(len(p)), o.size-off)])
	o.at += int64(n)
	if err != nil {
		o.closeReader()
		return n, fmt.Errorf("read %s: %w", o.key, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *blobObject) Read(p []byte) (int, error) {
	n, err := o.ReadAt(p, o.pos)
	o.pos += int64(n)
	return n, err
}

func (o *blobObject) closeReader() {
	if o.r != nil {
		o.r.Close()
		o.r = nil
	}
}

func (o *blobObject) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closeReader()
	return nil
}

// Remove implements Store.
func (s *Blob) Remove(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := s.bucket.Delete(ctx, s.Key(name))
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Placed is an object a marked Upload put in place: its name, its mark and the ETag the store
// gave it. An upload stopped before its end is known (cancelled once its bytes were sent) may
// have put its object in place too: its Placed has no ETag.
type Placed struct {
	Name, Mark, ETag string
}

// RemovePlaced removes the object p while it is still that object: the one at its name
// carries its mark and, where p has one, its ETag. An object another writer put there since is
// left (a mark alone would not tell it on servers that keep an object's metadata when it is
// replaced, as gofakes3 does), and a missing one is not an error.
func (s *Blob) RemovePlaced(ctx context.Context, p Placed) error {
	a, err := s.bucket.Attributes(ctx, s.Key(p.Name))
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		return nil
	case err != nil:
		return fmt.Errorf("remove %s%s: %w", s.url, p.Name, err)
	case p.Mark == "" || a.Metadata[markKey] != p.Mark || (p.ETag != "" && a.ETag != p.ETag):
		return nil
	}
	return s.Remove(ctx, p.Name)
}

// Marked reports whether the object name exists and carries mark (UploadMarked).
func (s *Blob) Marked(ctx context.Context, name, mark string) (bool, error) {
	a, err := s.bucket.Attributes(ctx, s.Key(name))
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s%s: %w", s.url, name, classify(err))
	}
	return mark != "" && a.Metadata[markKey] == mark, nil
}

// Exists reports whether name is a committed file.
func (s *Blob) Exists(ctx context.Context, name string) (bool, error) {
	ok, err := s.bucket.Exists(ctx, s.Key(name))
	if err != nil {
		return false, fmt.Errorf("%s%s: %w", s.url, name, classify(err))
	}
	return ok, nil
}

// Upload is a new object written straight to its name: it appears there only when Commit
// completes the upload, and an aborted upload leaves nothing.
type Upload struct {
	checksum
	s      *Blob
	name   string
	w      *blob.Writer
	ctx    context.Context
	cancel context.CancelFunc
	done   bool
	placed Placed // of a marked upload, once committed
}

// markKey is the metadata key of the mark an Upload may carry (UploadMarked).
const markKey = "bqread-mark"

// Upload starts writing name. Unless replace is set, Commit fails with ErrExist where name
// exists by then.
func (s *Blob) Upload(ctx context.Context, name string, replace bool) (*Upload, error) {
	return s.UploadMarked(ctx, name, replace, "")
}

// UploadMarked is Upload of an object that carries mark in its metadata, so that once Commit
// put it in place, RemovePlaced of its Placed removes it only while it is still that object.
func (s *Blob) UploadMarked(ctx context.Context, name string, replace bool, mark string) (*Upload, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	opts := &blob.WriterOptions{IfNotExist: !replace, DisableContentTypeDetection: true}
	if mark != "" {
		opts.Metadata = map[string]string{markKey: mark}
	}
	ctx, cancel := context.WithCancel(ctx)
	w, err := s.bucket.NewWriter(ctx, s.Key(name), opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("write %s%s: %w", s.url, name, err)
	}
	return &Upload{s: s, name: name, w: w, ctx: ctx, cancel: cancel, placed: Placed{Name: name, Mark: mark}}, nil
}

func (u *Upload) Write(b []byte) (int, error) {
	n, err := u.w.Write(b)
	u.add(b[:n])
	return n, err
}

// Commit completes the upload.
func (u *Upload) Commit() error {
	if u.done {
		return nil
	}
	u.done = true
	defer u.cancel()
	err := u.w.Close()
	switch {
	case gcerrors.Code(err) == gcerrors.FailedPrecondition:
		return fmt.Errorf("write %s%s: %w", u.s.url, u.name, ErrExist)
	case err != nil:
		return fmt.Errorf("write %s%s: %w", u.s.url, u.name, classify(err))
	case u.placed.Mark == "":
		return nil
	}
	a, err := u.s.bucket.Attributes(u.ctx, u.s.Key(u.name))
	if err != nil {
		return fmt.Errorf("write %s%s: %w", u.s.url, u.name, err)
	}
	u.placed.ETag = a.ETag
	return nil
}

// Placed returns the object a marked upload put in place, for RemovePlaced; its ETag is empty
// before Commit succeeded.
func (u *Upload) Placed() Placed { return u.placed }

// Abort cancels the upload; no object is written.
func (u *Upload) Abort() {
	if !u.done {
		u.done = true
		u.cancel()
		u.w.Close()
	}
}

// checksum counts the bytes written and their CRC-32C.
type checksum struct {
	size int64
	crc  uint32
}

func (c *checksum) add(b []byte) {
	c.size += int64(len(b))
	c.crc = crc32Update(c.crc, b)
}

// Written returns the bytes written so far and their CRC-32C.
func (c *checksum) Written() (int64, uint32) { return c.size, c.crc }
