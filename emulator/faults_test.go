package emulator

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec    string
		want    Fault
		wantErr bool
	}{
		{"unavailable@1000", Fault{FaultUnavailable, 1000}, false},
		{"RST_STREAM@5", Fault{FaultRSTStream, 5}, false},
		{"stall", Fault{FaultStall, 0}, false},
		{"nope@1", Fault{}, true},
		{"eos@-1", Fault{}, true},
		{"eos@x", Fault{}, true},
	}
	for _, tt := range tests {
		got, err := ParseFault(tt.spec)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v, error %v", tt.spec, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestFaults reads a stream through every fault kind: the call fails with the real service's code
// once the stream has sent AfterRows rows, and a resume at the received offset completes the rows.
func TestFaults(t *testing.T) {
	tests := []struct {
		kind string
		code codes.Code
	}{
		{FaultUnavailable, codes.Unavailable},
		{FaultRSTStream, codes.Internal},
		{FaultEOS, codes.Internal},
		{FaultResourceExhausted, codes.ResourceExhausted},
		{FaultStall, codes.DeadlineExceeded},
		{FaultDeadline, codes.DeadlineExceeded},
		{FaultExpired, codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			env := startEnv(t, Options{ResponseBytes: 4 << 10, Faults: []Fault{{Kind: tt.kind, AfterRows: 300}}})
			table := genTable(t, env, "faulty", 1000)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			sess := env.mustSession(t, sessionOpts{table: table, maxStreams: 1})
			name, schemaMsg := sess.GetStreams()[0].GetName(), sess.GetArrowSchema().GetSerializedSchema()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			first, err := env.readStream(ctx, name, 0)
			if status.Code(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			var got int64
			for _, r := range first {
				got += r.GetRowCount()
			}
			if got < 300 || got >= 1000 {
				t.Fatalf("failed after %d rows, want at least 300 and before the end", got)
			}
			if tt.kind == FaultResourceExhausted && !hasRetryInfo(err) {
				t.Fatalf("RESOURCE_EXHAUSTED without google.rpc.RetryInfo: %v", err)
			}
			rest, err := env.readStream(t.Context(), name, got)
			if err != nil {
				t.Fatalf("resume at %d: %v", got, err)
			}
			all := concat(t, decodeArrow(t, schemaMsg, append(first, rest...), mem), mem)
			defer all.Release()
			straight, err := env.readStream(t.Context(), name, 0)
			if err != nil {
				t.Fatalf("a fault fired twice on one stream: %v", err)
			}
			want := concat(t, decodeArrow(t, schemaMsg, straight, mem), mem)
			defer want.Release()
			if !recordsEqual(all, want) {
				t.Fatal("rows read across the fault differ from a straight read")
			}
		})
	}
}

func hasRetryInfo(err error) bool {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			return true
		}
	}
	return false
}

func TestShaper(t *testing.T) {
	clock := time.Unix(0, 0)
	var slept []time.Duration
	s := newShaper(1000, 5*time.Millisecond)
	s.now = func() time.Time { return clock }
	s.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		clock = clock.Add(d)
		return nil
	}
	var throttles []int32
	for range 3 {
		p, err := s.wait(t.Context(), "a", 500) // 0.5 s of link time each
		if err != nil {
			t.Fatal(err)
		}
		throttles = append(throttles, p)
	}
	want := []time.Duration{5 * time.Millisecond, 495*time.Millisecond + 5*time.Millisecond, 495*time.Millisecond + 5*time.Millisecond}
	for i := range want {
		if slept[i] != want[i] {
			t.Fatalf("sleeps = %v, want %v", slept, want)
		}
	}
	if throttles[0] != 0 || throttles[1] == 0 {
		t.Errorf("throttle percents = %v, want 0 first, then positive", throttles)
	}
	// Another stream has its own link.
	if _, err := s.wait(t.Context(), "b", 500); err != nil || slept[3] != 5*time.Millisecond {
		t.Errorf("stream b slept %v, want only the latency", slept[3])
	}
}

func TestStreamBandwidthThrottles(t *testing.T) {
	// 4 KiB responses at 64 KiB/s: each response waits about 60 ms for the previous one's link
	// time, far longer than it takes to encode, so waiting shows even on a loaded machine.
	env := startEnv(t, Options{ResponseBytes: 4 << 10, StreamBandwidth: 64 << 10})
	table := genTable(t, env, "slow", 200)
	sess := env.mustSession(t, sessionOpts{table: table, maxStreams: 1})
	resps, err := env.readStream(t.Context(), sess.GetStreams()[0].GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var throttled bool
	for _, r := range resps[1:] {
		throttled = throttled || r.GetThrottleState().GetThrottlePercent() > 0
	}
	if !throttled {
		t.Error("no response reports throttling under a bandwidth limit")
	}
}

// TestConcurrentReadQuota checks that ReadRows calls over MaxConcurrentReads fail with
// RESOURCE_EXHAUSTED and a RetryInfo, and that a call's slot is free again once it ends.
func TestConcurrentReadQuota(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 4 << 10, Latency: 100 * time.Millisecond, MaxConcurrentReads: 1})
	table := genTable(t, env, "quota", 1000)
	sess := env.mustSession(t, sessionOpts{table: table, maxStreams: 2})
	if len(sess.GetStreams()) != 2 {
		t.Fatalf("%d streams, want 2", len(sess.GetStreams()))
	}
	ctx, cancel := context.WithCancel(t.Context())
	first, err := env.client.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: sess.GetStreams()[0].GetName()})
	if err == nil {
		_, err = first.Recv() // the call is being served: one response out, more to come
	}
	if err != nil {
		t.Fatal(err)
	}
	second := sess.GetStreams()[1].GetName()
	_, err = env.readStream(t.Context(), second, 0)
	if status.Code(err) != codes.ResourceExhausted || !hasRetryInfo(err) || !strings.Contains(err.Error(), "Concurrent stream usage exceeded") {
		t.Fatalf("second ReadRows over a quota of 1: %v, want RESOURCE_EXHAUSTED with RetryInfo", err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rr, err := env.client.ReadRows(t.Context(), &storagepb.ReadRowsRequest{ReadStream: second})
		if err == nil {
			_, err = rr.Recv()
		}
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("ReadRows after the first call ended: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
