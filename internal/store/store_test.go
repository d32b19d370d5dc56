package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/internal/storetest"
)

// store is one implementation under the conformance suite: a new empty store, and every name
// it holds, uncommitted files included (what a crash or a bad abort would leave).
type impl struct {
	name string
	open func(t *testing.T) Store
	raw  func(t *testing.T, s Store) []string
}

var bucketSeq atomic.Int64

// impls returns Dir, a Blob on fake-gcs-server and a Blob on gofakes3.
func impls(t *testing.T) []impl {
	out := []impl{{name: "dir", open: func(t *testing.T) Store {
		d, err := NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, raw: func(t *testing.T, s Store) []string {
		var names []string
		root := s.(*Dir).Root()
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(root, p)
				names = append(names, filepath.ToSlash(rel))
			}
			return err
		})
		return names
	}}}
	for _, srv := range storetest.Both(t) {
		out = append(out, impl{name: srv.Scheme, open: func(t *testing.T) Store {
			bucket := fmt.Sprintf("bucket-%d", bucketSeq.Add(1))
			srv.CreateBucket(bucket)
			b, err := OpenBlob(context.Background(), srv.URL(bucket, "work/"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		}, raw: func(t *testing.T, s Store) []string {
			all, err := s.(*Blob).ListAll(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range all {
				names = append(names, e.Name)
			}
			return names
		}})
	}
	return out
}

// forEach runs test over every implementation.
func forEach(t *testing.T, test func(t *testing.T, s Store, raw func() []string)) {
	for _, im := range impls(t) {
		t.Run(im.name, func(t *testing.T) {
			s := im.open(t)
			test(t, s, func() []string { return im.raw(t, s) })
		})
	}
}

func write(t *testing.T, s Store, dir, name string, data []byte) Pending {
	t.Helper()
	p, err := s.Create(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(data); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		if err := p.Commit(name); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestCommitListOpenRemove(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, raw func() []string) {
		ctx := context.Background()
		write(t, s, "a", "a/one", []byte("1"))
		write(t, s, "", "a/two", []byte("22"))
		write(t, s, "", "manifest.json", []byte("{}"))
		open := write(t, s, "a", "", []byte("uncommitted"))

		list, err := s.List(ctx, "a/")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Entry{{"a/one", 1}, {"a/two", 2}}, list); diff != "" {
			t.Errorf("List mismatch (-want +got):\n%s", diff)
		}
		o, err := s.Open(ctx, "a/two")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1)
		if _, err := o.ReadAt(buf, 1); err != nil || string(buf) != "2" || o.Size() != 2 {
			t.Errorf("ReadAt = %q, %v; size %d", buf, err, o.Size())
		}
		o.Close()

		if err := open.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := open.Commit("a/late"); err != nil {
			t.Errorf("Commit after Abort = %v, want a no-op", err)
		}
		if _, err := s.Open(ctx, "a/late"); !errors.Is(err, ErrNotExist) {
			t.Errorf("Open of an aborted file = %v, want ErrNotExist", err)
		}
		if err := s.Remove(ctx, "a/one"); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(ctx, "a/one"); err != nil {
			t.Errorf("second Remove = %v, want nil", err)
		}
		if diff := cmp.Diff([]string{"a/two", "manifest.json"}, raw()); diff != "" {
			t.Errorf("names held (-want +got), no temp files expected:\n%s", diff)
		}
	})
}

// TestLargeFile writes files larger than a Blob keeps in memory: committed, one reads back
// whole and by ranges; aborted, or its context cancelled, nothing is left.
func TestLargeFile(t *testing.T) {
	data := make([]byte, inlineMax+3<<20/2)
	rand.Read(data)
	forEach(t, func(t *testing.T, s Store, raw func() []string) {
		ctx := context.Background()
		p := write(t, s, "s", "", data)
		if size, sum := p.Written(); size != int64(len(data)) || sum != crc32.Checksum(data, castagnoli) {
			t.Errorf("Written() = %d, %#x", size, sum)
		}
		if err := p.Commit("s/big"); err != nil {
			t.Fatal(err)
		}
		o, err := s.Open(ctx, "s/big")
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
		}
		part := make([]byte, 10)
		for _, off := range []int64{inlineMax + 5, 7, int64(len(data)) - 10} {
			if _, err := o.ReadAt(part, off); err != nil || !bytes.Equal(part, data[off:off+10]) {
				t.Errorf("ReadAt(%d) = %v", off, err)
			}
		}
		if n, err := o.ReadAt(part, int64(len(data))-4); n != 4 || err != io.EOF {
			t.Errorf("ReadAt past the end = %d, %v; want 4, EOF", n, err)
		}

		write(t, s, "s", "", data).Abort()
		cctx, cancel := context.WithCancel(ctx)
		c, err := s.Create(cctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		c.Write(data)
		cancel()
		c.Abort()
		if diff := cmp.Diff([]string{"s/big"}, raw()); diff != "" {
			t.Errorf("names held after two aborted files (-want +got):\n%s", diff)
		}
	})
}

func TestRejectsEscapingNames(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, raw func() []string) {
		for _, name := range []string{"../x", "/etc/passwd", "a/../../x", ""} {
			if err := write(t, s, "", "", []byte("x")).Commit(name); err == nil {
				t.Errorf("Commit(%q) = nil, want an error", name)
			}
		}
		if names := raw(); len(names) != 0 {
			t.Errorf("refused commits left %v", names)
		}
	})
}

func TestListMissingFolder(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ func() []string) {
		list, err := s.List(context.Background(), "stream-000001/")
		if err != nil || len(list) != 0 {
			t.Errorf("List of a missing folder = %v, %v; want nothing", list, err)
		}
	})
}

func TestPendingWritten(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ func() []string) {
		p, err := s.Create(context.Background(), "s")
		if err != nil {
			t.Fatal(err)
		}
		defer p.Abort()
		for _, part := range []string{"hello, ", "work dir"} {
			if _, err := io.WriteString(p, part); err != nil {
				t.Fatal(err)
			}
		}
		size, sum := p.Written()
		want := crc32.Checksum([]byte("hello, work dir"), crc32.MakeTable(crc32.Castagnoli))
		if size != 15 || sum != want {
			t.Errorf("Written() = %d, %#x; want 15, %#x", size, sum, want)
		}
	})
}

// TestCommitNewOneWins commits one name from several pending files: the first wins, the others
// get ErrExist and leave nothing behind (on the servers: GCS ifGenerationMatch=0, S3
// If-None-Match: *).
func TestCommitNewOneWins(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, raw func() []string) {
		for i, want := range []error{nil, ErrExist, ErrExist} {
			p := write(t, s, "s", "", []byte{byte('a' + i)})
			if err := p.CommitNew("s/x"); !errors.Is(err, want) {
				t.Errorf("writer %d: CommitNew = %v, want %v", i, err, want)
			}
		}
		o, err := s.Open(context.Background(), "s/x")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(o)
		o.Close()
		if names := raw(); string(data) != "a" || len(names) != 1 {
			t.Errorf("s/x = %q with %v held, want the first writer's and nothing else", data, names)
		}
	})
}

// TestOpenBlobErrors: a missing bucket, one the server answers 403 for, and no credentials are
// each told apart.
func TestOpenBlobErrors(t *testing.T) {
	ctx := context.Background()
	for _, srv := range storetest.Both(t) {
		for bucket, want := range map[string]error{"no-such-bucket": ErrNoBucket, storetest.DeniedBucket: ErrDenied} {
			_, err := OpenBlob(ctx, srv.URL(bucket, "p/"))
			if !errors.Is(err, want) || !strings.Contains(err.Error(), bucket) {
				t.Errorf("OpenBlob(%s) = %v, want %v naming the bucket", srv.URL(bucket, "p/"), err, want)
			}
		}
	}
	storetest.NoCredentials(t)
	for _, u := range []string{"gs://b/p", "s3://b/p"} {
		if _, err := OpenBlob(ctx, u); !errors.Is(err, ErrNoCredentials) {
			t.Errorf("OpenBlob(%s) without credentials = %v, want ErrNoCredentials", u, err)
		}
	}
	for _, u := range []string{"gs://", "s3:///p", "gs://b//p", "file:///tmp"} {
		if _, err := OpenBlob(ctx, u); err == nil {
			t.Errorf("OpenBlob(%q) = nil error, want one", u)
		}
	}
}

// TestRemovePlaced: RemovePlaced removes an object a marked upload put in place, and one with its
// mark where the ETag is not known; it leaves one that another writer put at that name since
// (with no mark, or the mark and other bytes), as it leaves a missing one.
func TestRemovePlaced(t *testing.T) {
	ctx := context.Background()
	for _, srv := range storetest.Both(t) {
		t.Run(srv.Scheme, func(t *testing.T) {
			srv.CreateBucket("marked")
			b, err := OpenBlob(ctx, srv.URL("marked", "out/"))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			upload := func(name, mark, data string) Placed {
				u, err := b.UploadMarked(ctx, name, true, mark)
				if err != nil {
					t.Fatal(err)
				}
				u.Write([]byte(data))
				if err := u.Commit(); err != nil {
					t.Fatal(err)
				}
				return u.Placed()
			}
			mine := upload("mine", "m1", "a")
			replaced := upload("replaced", "m1", "b")
			upload("replaced", "", "c") // another writer's object at the name since
			again := upload("again", "m1", "d")
			upload("again", "m1", "e")
			upload("unknown", "m1", "f")
			upload("theirs", "", "g")
			for _, p := range []Placed{mine, replaced, again, {Name: "missing", Mark: "m1"},
				{Name: "unknown", Mark: "m1"}, {Name: "theirs", Mark: "m1"}} { // the last two: uploads whose end is unknown

				if err := b.RemovePlaced(ctx, p); err != nil {
					t.Errorf("RemovePlaced(%s) = %v", p.Name, err)
				}
			}
			all, _ := b.ListAll(ctx, "")
			var names []string
			for _, e := range all {
				names = append(names, e.Name)
			}
			if want := []string{"again", "replaced", "theirs"}; !cmp.Equal(names, want) {
				t.Errorf("left %v, want %v", names, want)
			}
		})
	}
}
