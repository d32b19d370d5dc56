package shard

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestTransient(t *testing.T) {
	exhaustedWithInfo, err := status.New(codes.ResourceExhausted, "try later").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		err   error
		want  bool
		delay time.Duration
	}{
		{"unavailable", status.Error(codes.Unavailable, "connection refused"), true, 0},
		{"wrapped unavailable", fmt.Errorf("read: %w", status.Error(codes.Unavailable, "x")), true, 0},
		{"rst stream", status.Error(codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR"), true, 0},
		{"eos", status.Error(codes.Internal, "Received unexpected EOS on DATA frame from server"), true, 0},
		{"conn closed", status.Error(codes.Internal, "Connection closed with unknown cause"), true, 0},
		{"other internal", status.Error(codes.Internal, "decoder bug"), false, 0},
		{"no status", status.Error(codes.Unknown, "No status received"), true, 0},
		{"other unknown", status.Error(codes.Unknown, "boom"), false, 0},
		{"exhausted with retry info", exhaustedWithInfo.Err(), true, 3 * time.Second},
		{"exhausted without", status.Error(codes.ResourceExhausted, "Concurrent stream usage exceeded"), false, 0},
		{"stalled", fmt.Errorf("%w (x)", errStalled), true, 0},
		{"failed precondition", status.Error(codes.FailedPrecondition, "session expired"), false, 0},
		{"not found", status.Error(codes.NotFound, "x"), false, 0},
		{"permission", status.Error(codes.PermissionDenied, "x"), false, 0},
		{"invalid", status.Error(codes.InvalidArgument, "x"), false, 0},
		{"unauthenticated", status.Error(codes.Unauthenticated, "x"), false, 0},
		{"plain", errors.New("disk full"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, delay := transient(tt.err)
			if ok != tt.want || delay != tt.delay {
				t.Errorf("transient = %v, %v; want %v, %v", ok, delay, tt.want, tt.delay)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{p: RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Budget: 3 * time.Second}}
	unavailable := status.Error(codes.Unavailable, "x")
	now := time.Unix(0, 0)
	var total time.Duration
	for n := 0; ; n++ {
		d, ok := b.next(unavailable, now.Add(total))
		if !ok {
			break
		}
		if ceil := min(100*time.Millisecond<<n, time.Second); d < ceil/2 || d > ceil {
			t.Errorf("retry %d: delay %v outside [%v, %v]", n, d, ceil/2, ceil)
		}
		total += d
		if n > 100 {
			t.Fatal("the budget never ran out")
		}
	}
	if total > 3*time.Second {
		t.Errorf("waited %v in total, budget 3s", total)
	}
	b.reset()
	if _, ok := b.next(unavailable, now.Add(time.Hour)); !ok {
		t.Error("after reset, a new failure series is not retried")
	}
	if _, ok := b.next(status.Error(codes.PermissionDenied, "x"), now); ok {
		t.Error("PERMISSION_DENIED was retried")
	}
}
