package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bqread/bqread/internal/storetest"
)

var _ Concatenator = (*Blob)(nil)

// concatFixture is a bucket with a work-dir store under work/ holding sources, and the bytes
// their concatenation must give.
type concatFixture struct {
	srv    *storetest.Server
	bucket string
	work   *Blob
	srcs   []Source
	want   []byte
}

// newConcatFixture writes one source of each size under work/ in a new bucket of srv, each of
// bytes of its own, and records its size and CRC-32C as a commit would.
func newConcatFixture(t *testing.T, srv *storetest.Server, sizes []int64) *concatFixture {
	t.Helper()
	f := &concatFixture{srv: srv, bucket: fmt.Sprintf("concat-%d", bucketSeq.Add(1))}
	srv.CreateBucket(f.bucket)
	b, err := OpenBlob(context.Background(), srv.URL(f.bucket, "work/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	f.work = b
	rng := rand.New(rand.NewPCG(uint64(len(sizes)), 7))
	for i, size := range sizes {
		data := make([]byte, size)
		for k := range data {
			data[k] = byte(rng.Uint32())
		}
		name := fmt.Sprintf("stream-%06d/seg-%d", i%3, i)
		if err := put(context.Background(), b, name, data, false); err != nil {
			t.Fatal(err)
		}
		f.srcs = append(f.srcs, Source{Name: name, Size: size, CRC32C: crc32.Checksum(data, castagnoli)})
		f.want = append(f.want, data...)
	}
	return f
}

// sourceKeys is what the bucket held before Concat: the sources' keys.
func (f *concatFixture) sourceKeys() []string {
	var keys []string
	for _, s := range f.srcs {
		keys = append(keys, "work/"+s.Name)
	}
	slices.Sort(keys)
	return keys
}

// read returns the object key of the fixture's bucket.
func (f *concatFixture) read(t *testing.T, key string) []byte {
	t.Helper()
	data, err := f.work.Bucket().ReadAll(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestComposeTree concatenates 70 sources of many sizes, some empty, into an object outside the
// store's prefix on fake-gcs-server: more than 32, so composes of composes, whose temp objects
// must be gone afterwards. The object holds the sources' bytes in order, and the bucket holds
// the sources and it, nothing else.
func TestComposeTree(t *testing.T) {
	srv := storetest.GCS(t)
	var sizes []int64
	for i := range 70 {
		sizes = append(sizes, int64(i*i%997))
	}
	f := newConcatFixture(t, srv, sizes)
	dst := srv.URL(f.bucket, "out/t.parquet")
	if err := f.work.Concat(context.Background(), dst, false, f.srcs); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, "out/t.parquet"); !bytes.Equal(got, f.want) {
		t.Errorf("the object has %d bytes, not the %d bytes of the sources in order", len(got), len(f.want))
	}
	if got, want := f.srv.Objects(t, f.bucket), append([]string{"out/t.parquet"}, f.sourceKeys()...); !slices.Equal(got, want) {
		t.Errorf("the bucket holds %v, want %v (no temp object)", got, want)
	}
}

// TestComposeFailure: a compose refused part way through the tree (the first, a middle and the
// last, which writes the object) fails Concat, leaves nothing at the destination, and the temp
// objects the composes before it made are deleted. A source whose size or checksum is not the
// recorded one fails Concat before any compose.
func TestComposeFailure(t *testing.T) {
	srv := storetest.GCS(t)
	sizes := make([]int64, 70)
	for i := range sizes {
		sizes[i] = 100
	}
	for _, fail := range []int{1, 2, 4} { // 70 sources: 3 composes of 32, 32 and 6, then the last
		t.Run(fmt.Sprintf("compose%d", fail), func(t *testing.T) {
			f := newConcatFixture(t, srv, sizes)
			storetest.WatchCompose(srv, fail)
			err := f.work.Concat(context.Background(), srv.URL(f.bucket, "t.avro"), false, f.srcs)
			if err == nil || !strings.Contains(err.Error(), "refused by the test") {
				t.Fatalf("Concat = %v, want the injected refusal", err)
			}
			if errors.Is(err, ErrNoConcat) {
				t.Errorf("Concat = %v: a failure is not a store that cannot concatenate", err)
			}
			if got, want := f.srv.Objects(t, f.bucket), f.sourceKeys(); !slices.Equal(got, want) {
				t.Errorf("the bucket holds %v, want only the sources", got)
			}
		})
	}
	for _, c := range []struct {
		name string
		edit func(*Source)
		want string
	}{
		{"size", func(s *Source) { s.Size++ }, "has size 100, its record says 101"},
		{"checksum", func(s *Source) { s.CRC32C ^= 1 }, "has CRC-32C"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newConcatFixture(t, srv, sizes)
			composes := storetest.WatchCompose(srv, 0)
			c.edit(&f.srcs[40])
			err := f.work.Concat(context.Background(), srv.URL(f.bucket, "t.avro"), false, f.srcs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Concat = %v, want %q", err, c.want)
			}
			if n := composes.Count(); n != 0 {
				t.Errorf("%d compose requests, want none", n)
			}
			if got, want := f.srv.Objects(t, f.bucket), f.sourceKeys(); !slices.Equal(got, want) {
				t.Errorf("the bucket holds %v, want only the sources", got)
			}
		})
	}
}

// TestConcatElsewhere: a destination in another bucket is ErrNoConcat, as the services compose
// only within a bucket.
func TestConcatElsewhere(t *testing.T) {
	srv := storetest.GCS(t)
	f := newConcatFixture(t, srv, []int64{10})
	if err := f.work.Concat(context.Background(), srv.URL("other", "t.csv"), false, f.srcs); !errors.Is(err, ErrNoConcat) {
		t.Errorf("Concat into another bucket = %v, want ErrNoConcat", err)
	}
}

// TestS3Concat runs Concat on gofakes3, which has no UploadPartCopy (an UploadPart with
// x-amz-copy-source and no body gets 411): with a source large enough to copy, Concat reports
// ErrNoConcat, aborts its multipart upload (none is listed afterwards) and writes nothing; with
// only small sources it reports ErrNoConcat before it starts one, as nothing could be copied.
func TestS3Concat(t *testing.T) {
	srv := storetest.S3(t)
	for _, sizes := range [][]int64{{4, partMin + 10, 20}, {4, 5, 6}} {
		t.Run(fmt.Sprint(len(sizes), sizes[1]), func(t *testing.T) {
			f := newConcatFixture(t, srv, sizes)
			var c *s3.Client
			if !f.work.Bucket().As(&c) {
				t.Fatal("no S3 client")
			}
			// An upload of another key, open throughout, shows that the listing lists uploads.
			other := "other"
			if _, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: &f.bucket, Key: &other}); err != nil {
				t.Fatal(err)
			}
			err := f.work.Concat(context.Background(), srv.URL(f.bucket, "t.ndjson"), false, f.srcs)
			if !errors.Is(err, ErrNoConcat) {
				t.Fatalf("Concat = %v, want ErrNoConcat", err)
			}
			if got, want := f.srv.Objects(t, f.bucket), f.sourceKeys(); !slices.Equal(got, want) {
				t.Errorf("the bucket holds %v, want only the sources", got)
			}
			ups, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &f.bucket})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, u := range ups.Uploads {
				keys = append(keys, *u.Key)
			}
			if !slices.Equal(keys, []string{other}) {
				t.Errorf("multipart uploads of %v left, want only the other one", keys)
			}
		})
	}
}

// TestPlanParts checks the parts of S3 uploads of many layouts: the pieces tile the sources in
// order, every part but the last has at least partMin bytes and none more than partMax, a copied
// part is one piece, a streamed one less than 2*partMin bytes (it is held in memory), and the
// bytes streamed are less than 2*partMin for each source smaller than partMin, plus one part:
// large sources are copied, not streamed.
func TestPlanParts(t *testing.T) {
	const M = 1 << 20
	cases := [][]int64{
		{},
		{0},
		{3},
		{partMin},
		{partMin - 1, 1},
		{10, 64 * M, 64 * M, 3},
		{10, 7 * M, 6 * M, 5 * M, 200},
		{1 * M, 2 * M, 3 * M, 4 * M, 100 * M, 1},
		{partMax + 3*M, 12 * M},
		{2*partMax + 1, 0, 5},
		{10, 7 * M, 1, 9 * M, 4 * M, 6 * M},
	}
	for _, sizes := range cases {
		parts := planParts(sizes)
		var src int
		var off, streamed int64
		small := 0
		for _, s := range sizes {
			if s < partMin {
				small++
			}
		}
		for k, p := range parts {
			var n int64
			for _, pc := range p.pieces {
				for src < len(sizes) && off == sizes[src] {
					src, off = src+1, 0
				}
				if pc.src != src || pc.off != off || pc.n <= 0 {
					t.Fatalf("%v: part %d piece %+v, want one at source %d offset %d", sizes, k, pc, src, off)
				}
				off += pc.n
				n += pc.n
			}
			if p.copy && len(p.pieces) != 1 {
				t.Errorf("%v: copied part %d has %d pieces", sizes, k, len(p.pieces))
			}
			if !p.copy {
				streamed += n
			}
			if n > partMax || n < partMin && k != len(parts)-1 || !p.copy && n >= 2*partMin {
				t.Errorf("%v: part %d has %d bytes", sizes, k, n)
			}
		}
		for src < len(sizes) && off == sizes[src] {
			src, off = src+1, 0
		}
		if src != len(sizes) {
			t.Errorf("%v: the parts end at source %d offset %d", sizes, src, off)
		}
		if limit := int64(small+1) * 2 * partMin; streamed > limit {
			t.Errorf("%v: %d bytes streamed, more than %d", sizes, streamed, limit)
		}
	}
}

// TestComposeEdges: sources that are all empty (an NDJSON export of no rows: no header, no body,
// no footer) compose into an empty object; 32 sources, as many as one request takes, need one
// compose and no temp object, and empty sources are left out of the count.
func TestComposeEdges(t *testing.T) {
	srv := storetest.GCS(t)
	for _, c := range []struct {
		name     string
		sizes    []int64
		composes int64
	}{
		{"all empty", []int64{0, 0, 0}, 1},
		{"32", slices.Repeat([]int64{5}, 32), 1},
		{"32 and empty ones", append(slices.Repeat([]int64{5}, 32), 0, 0), 1},
		{"33", slices.Repeat([]int64{5}, 33), 2}, // 32 into a temp object, then it and the 33rd
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newConcatFixture(t, srv, c.sizes)
			composes := storetest.WatchCompose(srv, 0)
			if err := f.work.Concat(context.Background(), srv.URL(f.bucket, "t.ndjson"), false, f.srcs); err != nil {
				t.Fatal(err)
			}
			if got := f.read(t, "t.ndjson"); !bytes.Equal(got, f.want) {
				t.Errorf("the object has %d bytes, want the %d of the sources", len(got), len(f.want))
			}
			if n := composes.Count(); n != c.composes {
				t.Errorf("%d compose requests, want %d", n, c.composes)
			}
		})
	}
}
