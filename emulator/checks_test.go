package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// withRouting adds the routing header as Google's generated client does: key=URL-escaped value.
func withRouting(ctx context.Context, key, value string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, routingHeader, key+"="+url.QueryEscape(value))
}

// TestRoutingHeader checks that every Storage Read call without the x-goog-request-params header
// gets the service's INVALID_ARGUMENT, and that the same calls with it are served.
func TestRoutingHeader(t *testing.T) {
	env := startEnv(t, Options{})
	table := genTable(t, env, "routing", 100)
	conn, err := grpc.NewClient(env.inst.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	raw := storagepb.NewBigQueryReadClient(conn)
	ctx := t.Context()
	createReq := &storagepb.CreateReadSessionRequest{Parent: billing, MaxStreamCount: 1,
		ReadSession: &storagepb.ReadSession{Table: table, DataFormat: storagepb.DataFormat_ARROW}}
	sess := env.mustSession(t, sessionOpts{table: table, maxStreams: 1})
	stream := sess.GetStreams()[0].GetName()
	readRows := func(ctx context.Context) error {
		rr, err := raw.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: stream})
		if err != nil {
			return err
		}
		for {
			if _, err := rr.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	calls := []struct {
		name, key, value string
		call             func(context.Context) error
	}{
		{"CreateReadSession", "read_session.table", table, func(ctx context.Context) error {
			_, err := raw.CreateReadSession(ctx, createReq)
			return err
		}},
		{"ReadRows", "read_stream", stream, readRows},
		{"SplitReadStream", "name", stream, func(ctx context.Context) error {
			_, err := raw.SplitReadStream(ctx, &storagepb.SplitReadStreamRequest{Name: stream, Fraction: 0.5})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctx)
			if got := status.Convert(err); got.Code() != codes.InvalidArgument || got.Message() != "Request is missing 'x-goog-request-params' header." {
				t.Errorf("without the header: %v, want INVALID_ARGUMENT \"Request is missing 'x-goog-request-params' header.\"", err)
			}
			if err := c.call(withRouting(ctx, c.key, c.value)); err != nil {
				t.Errorf("with the header: %v", err)
			}
		})
	}
}

// holdRead opens a ReadRows call on stream and waits for its first response, so that the call is
// being served until ctx is cancelled.
func holdRead(t *testing.T, ctx context.Context, env *testEnv, stream string) {
	t.Helper()
	rr, err := env.client.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: stream})
	if err == nil {
		_, err = rr.Recv()
	}
	if err != nil {
		t.Fatalf("hold a read of %s: %v", stream, err)
	}
}

// firstResponse reads stream's first response and returns the call's error.
func firstResponse(ctx context.Context, env *testEnv, stream string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rr, err := env.client.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: stream})
	if err == nil {
		_, err = rr.Recv()
	}
	return err
}

func sessionOf(t *testing.T, env *testEnv, parent, table string, streams int32) []string {
	t.Helper()
	rs, err := env.client.CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{Parent: parent, MaxStreamCount: streams,
		ReadSession: &storagepb.ReadSession{Table: table, DataFormat: storagepb.DataFormat_ARROW}})
	if err != nil {
		t.Fatalf("CreateReadSession(%s): %v", parent, err)
	}
	var names []string
	for _, s := range rs.GetStreams() {
		names = append(names, s.GetName())
	}
	if len(names) != int(streams) {
		t.Fatalf("%d streams, want %d", len(names), streams)
	}
	return names
}

// TestConcurrentReadQuotaPerProject checks that MaxConcurrentReads counts the ReadRows calls of
// each billing project apart, as the service's quota does.
func TestConcurrentReadQuotaPerProject(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 4 << 10, Latency: 100 * time.Millisecond, MaxConcurrentReads: 1})
	table := genTable(t, env, "quota_project", 1000)
	a := sessionOf(t, env, "projects/billing-a", table, 2)
	b := sessionOf(t, env, "projects/billing-b", table, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	holdRead(t, ctx, env, a[0])
	if err := firstResponse(t.Context(), env, b[0]); err != nil {
		t.Errorf("a read billed to another project: %v, want it served", err)
	}
	err := firstResponse(t.Context(), env, a[1])
	if status.Code(err) != codes.ResourceExhausted || !hasRetryInfo(err) || !strings.Contains(err.Error(), "Concurrent stream usage exceeded") {
		t.Errorf("a second read of project billing-a over a quota of 1: %v, want RESOURCE_EXHAUSTED with RetryInfo", err)
	}
}

// TestConcurrentReadsPerSession checks that MaxConcurrentReadsPerSession refuses a session's read
// past its parallelism with a retryable RESOURCE_EXHAUSTED, leaves other sessions of the same
// project alone, and is off by default.
func TestConcurrentReadsPerSession(t *testing.T) {
	for _, limit := range []int{0, 2} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			env := startEnv(t, Options{ResponseBytes: 4 << 10, Latency: 100 * time.Millisecond, MaxConcurrentReadsPerSession: limit})
			table := genTable(t, env, "quota_session", 1000)
			a := sessionOf(t, env, billing, table, 3)
			b := sessionOf(t, env, billing, table, 1)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			holdRead(t, ctx, env, a[0])
			holdRead(t, ctx, env, a[1])
			if err := firstResponse(t.Context(), env, b[0]); err != nil {
				t.Errorf("a read of another session: %v, want it served", err)
			}
			err := firstResponse(t.Context(), env, a[2])
			if limit == 0 {
				if err != nil {
					t.Errorf("a third read of one session without a limit: %v", err)
				}
				return
			}
			if status.Code(err) != codes.ResourceExhausted || !hasRetryInfo(err) || !strings.Contains(err.Error(), "parallelism") {
				t.Errorf("a third read of one session over a limit of 2: %v, want RESOURCE_EXHAUSTED with RetryInfo", err)
			}
			cancel()
			deadline := time.Now().Add(5 * time.Second)
			for {
				err := firstResponse(t.Context(), env, a[2])
				if err == nil {
					break
				}
				if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
					t.Fatalf("a read after the session's other calls ended: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
