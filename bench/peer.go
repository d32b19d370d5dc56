package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The peer writes Parquet as bqread's writer does (output/parquet.go): Snappy, v1 data pages,
// dictionaries and statistics on, no page index, row groups of at most peerRowGroupRows rows or peerRowGroupBytes
// of Arrow data, the Arrow schema stored.
const (
	peerRowGroupRows  = 1 << 20
	peerRowGroupBytes = 64 << 20
)

// runPeer reads the table with the official client (cloud.google.com/go/bigquery with its Storage
// Read client and Arrow iterator) and writes it to j.Out as Parquet with arrow-go, as a user of
// that client would. The client has no stream-count option: it asks for GOMAXPROCS streams and
// reads GOMAXPROCS at once, so the parent sets GOMAXPROCS to j.Streams.
func runPeer(ctx context.Context, j childJob) (childResult, error) {
	var granted atomic.Int64
	client, err := bigquery.NewClient(ctx, j.Project,
		option.WithEndpoint("http://"+j.HTTPAddr+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		return childResult{}, fmt.Errorf("peer client: %w", err)
	}
	defer client.Close()
	err = client.EnableStorageReadClient(ctx, option.WithEndpoint(j.GRPCAddr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithGRPCDialOption(grpc.WithUnaryInterceptor(countStreams(&granted))))
	if err != nil {
		return childResult{}, fmt.Errorf("peer storage client: %w", err)
	}
	it := client.DatasetInProject(j.Project, j.Dataset).Table(j.Table).Read(ctx)
	if !it.IsAccelerated() {
		return childResult{}, errors.New("peer: the client fell back to tabledata.list: the Storage Read session could not be created")
	}
	ai, err := it.ArrowIterator()
	if err != nil {
		return childResult{}, fmt.Errorf("peer arrow iterator: %w", err)
	}
	counted := &countingIterator{ArrowIterator: ai}
	rows, err := writePeerParquet(j.Out, counted)
	if err != nil {
		return childResult{}, err
	}
	return childResult{Rows: rows, Bytes: counted.bytes, Streams: int(granted.Load())}, nil
}

// writePeerParquet writes the iterator's batches to path and returns the rows written.
func writePeerParquet(path string, it bigquery.ArrowIterator) (int64, error) {
	rdr, err := ipc.NewReader(bigquery.NewArrowIteratorReader(it), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return 0, fmt.Errorf("peer ipc reader: %w", err)
	}
	defer rdr.Release()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDataPageVersion(parquet.DataPageV1), parquet.WithMaxRowGroupLength(peerRowGroupRows),
		parquet.WithDictionaryDefault(true), parquet.WithStats(true), parquet.WithPageIndexEnabled(false))
	fw, err := pqarrow.NewFileWriter(rdr.Schema(), bw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, fmt.Errorf("peer parquet writer: %w", err)
	}
	var rows, rgBytes int64
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if rgBytes >= peerRowGroupBytes {
			fw.NewBufferedRowGroup()
			rgBytes = 0
		}
		if err := fw.WriteBuffered(rec); err != nil {
			return 0, fmt.Errorf("peer parquet write: %w", err)
		}
		rows += rec.NumRows()
		rgBytes += recordBytes(rec)
	}
	if err := rdr.Err(); err != nil {
		return 0, fmt.Errorf("peer read: %w", err)
	}
	if err := fw.Close(); err != nil {
		return 0, fmt.Errorf("peer parquet close: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return rows, f.Close()
}

// countingIterator counts the serialized record batch bytes that pass through it.
type countingIterator struct {
	bigquery.ArrowIterator
	bytes int64
}

func (c *countingIterator) Next() (*bigquery.ArrowRecordBatch, error) {
	b, err := c.ArrowIterator.Next()
	if b != nil {
		c.bytes += int64(len(b.Data))
	}
	return b, err
}

// countStreams records how many streams CreateReadSession granted.
func countStreams(n *atomic.Int64) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if rs, ok := reply.(*storagepb.ReadSession); ok && err == nil {
			n.Store(int64(len(rs.GetStreams())))
		}
		return err
	}
}

// recordBytes is the size of rec's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
