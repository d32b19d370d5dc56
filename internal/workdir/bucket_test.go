package workdir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/storetest"
)

var bucketSeq atomic.Int64

// eachBucket runs test on a fresh bucket of fake-gcs-server and of gofakes3, with the URL of a
// work dir in it and a store on the whole bucket, to plant and list objects as a user would.
func eachBucket(t *testing.T, test func(t *testing.T, url string, raw *store.Blob)) {
	for _, srv := range storetest.Both(t) {
		t.Run(srv.Scheme, func(t *testing.T) {
			bucket := fmt.Sprintf("work-%d", bucketSeq.Add(1))
			srv.CreateBucket(bucket)
			raw, err := store.OpenBlob(context.Background(), srv.URL(bucket, ""))
			if err != nil {
				t.Fatal(err)
			}
			test(t, srv.URL(bucket, "exports/t.parquet.bqread/"), raw)
		})
	}
}

// names lists every object of the bucket.
func names(t *testing.T, raw *store.Blob) []string {
	t.Helper()
	all, err := raw.ListAll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range all {
		out = append(out, e.Name)
	}
	return out
}

func plant(t *testing.T, raw *store.Blob, name string) {
	t.Helper()
	p, err := raw.Create(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("mine"))
	if err := p.Commit(name); err != nil {
		t.Fatal(err)
	}
}

// TestBucketCreateAndRemove: a work dir on an empty prefix gets the marker first and the lock;
// an export's files are found again by Open; Remove leaves no object, merge pieces included.
func TestBucketCreateAndRemove(t *testing.T) {
	eachBucket(t, func(t *testing.T, url string, raw *store.Blob) {
		d, err := Create(url, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(t, raw); !slices.Equal(got, []string{"exports/t.parquet.bqread/" + MarkerName, "exports/t.parquet.bqread/" + lockName}) {
			t.Errorf("a new work dir holds %v, want the marker and the lock", got)
		}
		fill(t, d)
		o, err := Open(url)
		if err != nil {
			t.Fatal(err)
		}
		segs, err := o.Segments(context.Background(), 0)
		if err != nil || len(segs) != 2 {
			t.Errorf("Segments(0) of the reopened work dir = %v, %v; want the 2 recorded ones", segs, err)
		}
		if rows, ok, err := o.Done(context.Background(), 3); rows != 5 || !ok || err != nil {
			t.Errorf("Done(3) = %d, %v, %v", rows, ok, err)
		}
		// A merge in the store killed part way leaves its header and footer pieces.
		for _, piece := range []string{MergeHeaderName, MergeFooterName} {
			if _, err := d.WriteMergePiece(piece, []byte("PAR1")); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Remove(); err != nil {
			t.Fatal(err)
		}
		if got := names(t, raw); len(got) != 0 {
			t.Errorf("Remove left %v", got)
		}
	})
}

// TestBucketForeignObjects: a prefix holding objects without bqread's marker is refused; objects
// bqread did not make inside its work dir are kept and named by Remove, with the marker.
func TestBucketForeignObjects(t *testing.T) {
	eachBucket(t, func(t *testing.T, url string, raw *store.Blob) {
		prefix := strings.TrimPrefix(url, raw.URL())
		plant(t, raw, prefix+"report.csv")
		if _, err := Create(url, true); !errors.Is(err, ErrForeign) {
			t.Fatalf("Create on a prefix with another's object = %v, want ErrForeign", err)
		}
		raw.Remove(context.Background(), prefix+"report.csv")

		d, err := Create(url, false)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, d)
		foreign := []string{"notes.txt", "stream-000000/seg-000000000020-000000000030.csv", "docs/thesis.tex"}
		for _, f := range foreign {
			plant(t, raw, prefix+f)
		}
		err = d.Remove()
		if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "docs/thesis.tex, notes.txt, stream-000000/seg-000000000020-000000000030.csv), so") {
			t.Fatalf("Remove = %v, want an *Error naming the objects left", err)
		}
		d.Unlock()
		want := []string{prefix + MarkerName, prefix + "docs/thesis.tex", prefix + "notes.txt", prefix + "stream-000000/seg-000000000020-000000000030.csv"}
		if got := names(t, raw); !slices.Equal(got, want) {
			t.Errorf("left %v, want %v", got, want)
		}
	})
}

// TestBucketLock: a second user of a locked work dir is refused with the holder and the lock
// object named; after Unlock (or Close, which also closes the bucket's client) it may take it.
// An earlier export is kept unless replaced.
func TestBucketLock(t *testing.T) {
	eachBucket(t, func(t *testing.T, url string, raw *store.Blob) {
		d, err := Create(url, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.writeFile(ManifestName, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		_, err = Create(url, true)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "remove "+url+lockName) || !strings.Contains(err.Error(), "pid ") {
			t.Fatalf("Create of a locked work dir = %v, want ErrLocked naming the holder and the lock object", err)
		}
		o, err := Open(url)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Lock(); !errors.Is(err, ErrLocked) {
			t.Errorf("Lock of a locked work dir = %v, want ErrLocked", err)
		}
		d.Unlock()
		if _, err := Create(url, false); !errors.Is(err, ErrEarlier) {
			t.Errorf("Create over an earlier export = %v, want ErrEarlier", err)
		}
		r, err := Create(url, true)
		if err != nil {
			t.Fatal(err)
		}
		if r.has(ManifestName) {
			t.Error("Create with replace kept the earlier manifest")
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.readFile(MarkerName); err == nil {
			t.Error("the store of a closed work dir still reads")
		}
		if err := o.Lock(); err != nil {
			t.Errorf("Lock after the holder closed its work dir = %v", err)
		}
	})
}

// TestBucketMissing: a missing bucket is an *Error (ErrBucket) that wraps the store's reason.
func TestBucketMissing(t *testing.T) {
	storetest.GCS(t)
	for _, open := range []func(string) (*Dir, error){Open, func(u string) (*Dir, error) { return Create(u, false) }} {
		_, err := open("gs://no-such-bucket/w/")
		if !errors.Is(err, ErrBucket) || !errors.Is(err, store.ErrNoBucket) {
			t.Errorf("= %v, want ErrBucket wrapping store.ErrNoBucket", err)
		}
	}
}
