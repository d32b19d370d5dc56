package shard

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"

	storagepb "cloud.google.com/go/bigquery/storage/apiv1/storagepb"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/storetest"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/schema"
	"github.com/bqread/bqread/session"
)

// lineBytes is the size of each NDJSON row bucketSegments writes.
const lineBytes = 24

// bucketSegments makes the work dir of an NDJSON export to gs://bench/out.ndjson on srv, with
// streams streams of perStream segments of segBytes bytes each (a multiple of lineBytes), every
// stream done, and returns it with its manifest. The bodies are written a MiB at a time, so that
// memory stays small whatever their size.
func bucketSegments(tb testing.TB, srv *storetest.Server, streams, perStream int, segBytes int64) (*workdir.Dir, *session.Manifest) {
	tb.Helper()
	ctx := context.Background()
	srv.CreateBucket("bench")
	d, err := workdir.Create(srv.URL("bench", "out.ndjson.bqread/"), false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Unlock() })
	s := schema.Schema{{Name: "x", Type: schema.Int64}}
	rs := &storagepb.ReadSession{Name: "sessions/bench", DataFormat: storagepb.DataFormat_AVRO,
		Schema: &storagepb.ReadSession_AvroSchema{AvroSchema: &storagepb.AvroSchema{Schema: schema.AvroSchema(s)}}}
	for i := range streams {
		rs.Streams = append(rs.Streams, &storagepb.ReadStream{Name: "sessions/bench/streams/" + strconv.Itoa(i)})
	}
	m, err := session.NewManifest(rs, session.Request{DataFormat: session.FormatAvro}, "", session.Output{Format: "ndjson"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Save(ctx, d.Store()); err != nil {
		tb.Fatal(err)
	}
	rows := segBytes / lineBytes
	chunk := make([]byte, 0, 1<<20)
	for i := range streams {
		for k := range int64(perStream) {
			p, err := d.Store().Create(ctx, workdir.StreamDir(i))
			if err != nil {
				tb.Fatal(err)
			}
			for r := range rows {
				chunk = fmt.Appendf(chunk, "{\"x\":\"%015d\"}\n", int64(i)<<40+k*rows+r)
				if len(chunk) > cap(chunk)-lineBytes || r == rows-1 {
					if _, err := p.Write(chunk); err != nil {
						tb.Fatal(err)
					}
					chunk = chunk[:0]
				}
			}
			if _, err := d.CommitSegment(ctx, p, i, k*rows, (k+1)*rows, segmentExt("ndjson"), nil); err != nil {
				tb.Fatal(err)
			}
		}
		if err := d.MarkDone(ctx, i, int64(perStream)*rows); err != nil {
			tb.Fatal(err)
		}
	}
	return d, m
}

// copyMerge merges the segments of d into the object dst by downloading and uploading them, as
// the merge of a store that cannot concatenate does (shard.Merger into a store.Upload).
func copyMerge(ctx context.Context, d *workdir.Dir, m *session.Manifest, dstDir, dstName string) (MergeStats, error) {
	b, err := store.OpenBlob(ctx, dstDir)
	if err != nil {
		return MergeStats{}, err
	}
	defer b.Close()
	up, err := b.Upload(ctx, dstName, true)
	if err != nil {
		return MergeStats{}, err
	}
	defer up.Abort()
	mg, err := NewMerger(d, m, up)
	if err != nil {
		return MergeStats{}, err
	}
	st, err := mg.Finish(ctx)
	if err != nil {
		return st, err
	}
	return st, up.Commit()
}

// TestMergeInStoreMatchesCopy: on fake-gcs-server, the object MergeInStore composes from 40
// segments (a tree of composes) is byte for byte the one the copying merge uploads, and the
// stats agree.
func TestMergeInStoreMatchesCopy(t *testing.T) {
	srv := storetest.GCSOnDisk(t, t.TempDir())
	d, m := bucketSegments(t, srv, 4, 10, 100*lineBytes)
	ctx := context.Background()
	got, err := MergeInStore(ctx, d, srv.URL("bench", "composed.ndjson"), false)
	if err != nil {
		t.Fatal(err)
	}
	want, err := copyMerge(ctx, d, m, srv.URL("bench", ""), "copied.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("MergeInStore stats %+v, the copy's %+v", got, want)
	}
	b, err := store.OpenBlob(ctx, srv.URL("bench", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	composed, err := b.Bucket().ReadAll(ctx, "composed.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := b.Bucket().ReadAll(ctx, "copied.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(copied)) != 40*100*lineBytes || !bytes.Equal(composed, copied) {
		t.Errorf("composed %d bytes, copied %d: they differ", len(composed), len(copied))
	}
}

// BenchmarkMergeInStore merges 1 GiB of segments (4 streams of 16 segments of 16 MiB, NDJSON)
// into one object on fake-gcs-server (objects in files) by compose (MergeInStore) and by
// download and upload (the copying merge), and reports the bytes that went between this process
// and the store during the merge (wire-bytes/op, headers included; the segments' upload before
// is not counted) beside the payload (SetBytes: 1 GiB an op).
//
//	go test ./shard -run '^$' -bench MergeInStore -benchtime 1x
func BenchmarkMergeInStore(b *testing.B) {
	const segBytes = (16 << 20) / lineBytes * lineBytes
	srv := storetest.GCSOnDisk(b, b.TempDir())
	d, m := bucketSegments(b, srv, 4, 16, segBytes)
	total := int64(4*16) * segBytes
	ctx := context.Background()
	merges := []struct {
		name  string
		merge func() (MergeStats, error)
	}{
		{"compose", func() (MergeStats, error) { return MergeInStore(ctx, d, srv.URL("bench", "composed.ndjson"), true) }},
		{"download-upload", func() (MergeStats, error) { return copyMerge(ctx, d, m, srv.URL("bench", ""), "copied.ndjson") }},
	}
	for _, mg := range merges {
		b.Run(mg.name, func(b *testing.B) {
			b.SetBytes(total)
			in0, out0 := srv.Traffic()
			for b.Loop() {
				st, err := mg.merge()
				if err != nil {
					b.Fatal(err)
				}
				if st.Bytes != total {
					b.Fatalf("merged %d bytes, want %d", st.Bytes, total)
				}
			}
			in, out := srv.Traffic()
			b.ReportMetric(float64(in-in0+out-out0)/float64(b.N), "wire-bytes/op")
		})
	}
}
