package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// runLimit is the receive limit: it creates a session of j.Streams streams in j.Wire format and
// reads every stream at once, one goroutine and one connection each, discarding the payloads. With
// j.Out set it is the write limit: each stream's payloads are appended to the file j.Out.I as
// they come (no file format), the least any client that writes what it reads must do; with j.Fsync
// too it is the durable floor: each file is fsynced once, after its stream's last payload, the
// least any client that promises durability must do.
func runLimit(ctx context.Context, j childJob) (childResult, error) {
	format := storagepb.DataFormat_ARROW
	if j.Wire == "avro" {
		format = storagepb.DataFormat_AVRO
	}
	client, err := storage.NewBigQueryReadClient(ctx, option.WithEndpoint(j.GRPCAddr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithGRPCDialOption(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(129<<20))),
		option.WithGRPCConnectionPool(j.Streams))
	if err != nil {
		return childResult{}, fmt.Errorf("limit client: %w", err)
	}
	defer client.Close()
	req := &storagepb.CreateReadSessionRequest{
		Parent:         "projects/" + j.Project,
		ReadSession:    &storagepb.ReadSession{Table: fmt.Sprintf("projects/%s/datasets/%s/tables/%s", j.Project, j.Dataset, j.Table), DataFormat: format},
		MaxStreamCount: int32(j.Streams),
	}
	if j.AsPeer {
		req.MaxStreamCount, req.PreferredMinStreamCount = 0, int32(j.Streams)
	}
	rs, err := client.CreateReadSession(ctx, req)
	if err != nil {
		return childResult{}, fmt.Errorf("limit session: %w", err)
	}
	var rows, bytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range rs.GetStreams() {
		g.Go(func() error {
			r, b, err := drainTo(gctx, client, s.GetName(), j, i)
			rows.Add(r)
			bytes.Add(b)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return childResult{}, err
	}
	return childResult{Rows: rows.Load(), Bytes: bytes.Load(), Streams: len(rs.GetStreams())}, nil
}

// drainTo drains stream i of j into io.Discard, or into the file j.Out.i, fsynced at the end if
// j.Fsync.
func drainTo(ctx context.Context, client *storage.BigQueryReadClient, stream string, j childJob, i int) (rows, bytes int64, err error) {
	if j.Out == "" {
		return drain(ctx, client, stream, io.Discard)
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", j.Out, i))
	if err != nil {
		return 0, 0, fmt.Errorf("limit: %w", err)
	}
	defer f.Close()
	if rows, bytes, err = drain(ctx, client, stream, f); err != nil || !j.Fsync {
		return rows, bytes, err
	}
	if err := f.Sync(); err != nil {
		return rows, bytes, fmt.Errorf("limit fsync: %w", err)
	}
	return rows, bytes, nil
}

// drain reads one stream to its end, writes the payloads to w and counts rows and payload bytes.
func drain(ctx context.Context, client *storage.BigQueryReadClient, stream string, w io.Writer) (rows, bytes int64, err error) {
	rr, err := client.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: stream})
	if err != nil {
		return 0, 0, fmt.Errorf("limit read %s: %w", stream, err)
	}
	for {
		resp, err := rr.Recv()
		if errors.Is(err, io.EOF) {
			return rows, bytes, nil
		}
		if err != nil {
			return rows, bytes, fmt.Errorf("limit read %s at row %d: %w", stream, rows, err)
		}
		rows += resp.GetRowCount()
		for _, p := range [][]byte{resp.GetArrowRecordBatch().GetSerializedRecordBatch(), resp.GetAvroRows().GetSerializedBinaryRows()} {
			if _, err := w.Write(p); err != nil {
				return rows, bytes, fmt.Errorf("limit write: %w", err)
			}
			bytes += int64(len(p))
		}
	}
}
