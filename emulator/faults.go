package emulator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Fault makes ReadRows fail once per stream, the way the real service fails, after that stream has
// sent at least AfterRows rows (counted across all ReadRows calls on the stream).
type Fault struct {
	Kind      string
	AfterRows int64
}

// The fault kinds, with the error each one produces.
const (
	FaultUnavailable       = "unavailable"        // UNAVAILABLE: retryable
	FaultRSTStream         = "rst_stream"         // INTERNAL "Received RST_STREAM ...": retryable
	FaultEOS               = "eos"                // INTERNAL "Received unexpected EOS on DATA frame ...": retryable
	FaultResourceExhausted = "resource_exhausted" // RESOURCE_EXHAUSTED with google.rpc.RetryInfo: retry after the delay
	FaultStall             = "stall"              // stops sending until the client gives up (its deadline or cancel)
	FaultDeadline          = "deadline"           // DEADLINE_EXCEEDED
	FaultExpired           = "expired"            // FAILED_PRECONDITION "session expired": not retryable
)

// FaultKinds lists the kinds ParseFault accepts.
var FaultKinds = []string{FaultUnavailable, FaultRSTStream, FaultEOS, FaultResourceExhausted, FaultStall, FaultDeadline, FaultExpired}

// retryDelay is the delay a resource_exhausted fault asks for in its RetryInfo.
const retryDelay = 50 * time.Millisecond

// ParseFaults parses each spec with ParseFault.
func ParseFaults(specs []string) ([]Fault, error) {
	var faults []Fault
	for _, spec := range specs {
		f, err := ParseFault(spec)
		if err != nil {
			return nil, err
		}
		faults = append(faults, f)
	}
	return faults, nil
}

// ParseFault parses "KIND@ROWS" (ROWS defaults to 0: the first response fails), for example
// "unavailable@1000".
func ParseFault(spec string) (Fault, error) {
	kind, rows, hasRows := strings.Cut(spec, "@")
	f := Fault{Kind: strings.ToLower(strings.TrimSpace(kind))}
	known := false
	for _, k := range FaultKinds {
		known = known || k == f.Kind
	}
	if !known {
		return Fault{}, fmt.Errorf("fault %q: unknown kind %q; use one of %s", spec, kind, strings.Join(FaultKinds, ", "))
	}
	if hasRows {
		n, err := strconv.ParseInt(rows, 10, 64)
		if err != nil || n < 0 {
			return Fault{}, fmt.Errorf("fault %q: rows %q must be a non-negative integer", spec, rows)
		}
		f.AfterRows = n
	}
	return f, nil
}

// faultState tracks, per stream, the rows sent and which faults have fired. Safe for concurrent use.
type faultState struct {
	faults []Fault
	mu     sync.Mutex
	sent   map[string]int64
	fired  map[string][]bool
}

func newFaultState(faults []Fault) *faultState {
	return &faultState{faults: faults, sent: map[string]int64{}, fired: map[string][]bool{}}
}

// before is called before a response is sent on a stream; it returns the error of a fault that
// fires now, once per fault and stream. A stall blocks until ctx ends.
func (f *faultState) before(ctx context.Context, st *readStream) error {
	if len(f.faults) == 0 {
		return nil
	}
	f.mu.Lock()
	fired := f.fired[st.name]
	if fired == nil {
		fired = make([]bool, len(f.faults))
		f.fired[st.name] = fired
	}
	var fault *Fault
	for i := range f.faults {
		if !fired[i] && f.sent[st.name] >= f.faults[i].AfterRows {
			fired[i], fault = true, &f.faults[i]
			break
		}
	}
	f.mu.Unlock()
	if fault == nil {
		return nil
	}
	return faultError(ctx, *fault, st)
}

// sentRows records rows sent on a stream.
func (f *faultState) sentRows(stream string, n int64) {
	if len(f.faults) == 0 {
		return
	}
	f.mu.Lock()
	f.sent[stream] += n
	f.mu.Unlock()
}

// exhausted is RESOURCE_EXHAUSTED with msg and a RetryInfo of retryDelay, the real service's
// answer over a quota.
func exhausted(msg string) error {
	s, err := status.New(codes.ResourceExhausted, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryDelay)})
	if err != nil {
		return status.Errorf(codes.Internal, "build status: %v", err)
	}
	return s.Err()
}

func faultError(ctx context.Context, f Fault, st *readStream) error {
	switch f.Kind {
	case FaultUnavailable:
		return status.Error(codes.Unavailable, "emulator fault: the service is currently unavailable")
	case FaultRSTStream:
		return status.Error(codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR (emulator fault)")
	case FaultEOS:
		return status.Error(codes.Internal, "Received unexpected EOS on DATA frame from server (emulator fault)")
	case FaultResourceExhausted:
		return exhausted("emulator fault: Concurrent stream usage exceeded")
	case FaultStall:
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	case FaultDeadline:
		return status.Error(codes.DeadlineExceeded, "emulator fault: deadline exceeded")
	case FaultExpired:
		return status.Errorf(codes.FailedPrecondition, "there was an error operating on '%s': session expired at %s (emulator fault)",
			st.name, st.sess.expire.UTC().Format(time.RFC3339))
	}
	return status.Errorf(codes.Internal, "emulator: unknown fault kind %q", f.Kind)
}
