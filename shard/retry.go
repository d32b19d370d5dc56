package shard

import (
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errStalled is the cause of a ReadRows call cancelled because no response came within the idle
// timeout.
var errStalled = errors.New("shard: no response within the idle timeout")

// transientInternal are the INTERNAL messages of broken connections, retried as the official
// clients do.
var transientInternal = []string{"RST_STREAM", "Received unexpected EOS on DATA frame", "Connection closed with unknown cause"}

// transient reports whether a ReadRows error may go away when the call is repeated at the same
// offset, and the delay the server asked for (0 when it did not say).
func transient(err error) (ok bool, serverDelay time.Duration) {
	if errors.Is(err, errStalled) {
		return true, 0
	}
	st, isStatus := status.FromError(err)
	if !isStatus {
		return false, 0
	}
	switch st.Code() {
	case codes.Unavailable:
		return true, 0
	case codes.Internal:
		for _, m := range transientInternal {
			if strings.Contains(st.Message(), m) {
				return true, 0
			}
		}
	case codes.Unknown:
		return strings.Contains(st.Message(), "No status received"), 0
	case codes.ResourceExhausted:
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				return true, ri.GetRetryDelay().AsDuration()
			}
		}
	}
	return false, 0
}

// ErrSessionExpired is wrapped by worker errors for a read session that expired: no reader can
// continue it.
var ErrSessionExpired = errors.New("shard: the read session expired")

// expired reports whether a ReadRows error says the session expired: FAILED_PRECONDITION naming
// the expiry, as the service and the emulator answer.
func expired(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.FailedPrecondition && strings.Contains(st.Message(), "expired")
}

// RetryPolicy bounds the retries of one worker: exponential backoff with jitter from Initial up to
// Max, given up once the failures since the last received response have taken Budget.
type RetryPolicy struct {
	Initial, Max, Budget time.Duration
}

// DefaultRetryPolicy is the policy of RunWorker.
var DefaultRetryPolicy = RetryPolicy{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Budget: 5 * time.Minute}

// backoff tracks one series of failures with no progress between them.
type backoff struct {
	p     RetryPolicy
	n     int
	first time.Time
}

// reset starts a new series; called when a response arrives.
func (b *backoff) reset() { b.n = 0 }

// next returns how long to wait before retrying after err, or false if err is not transient or the
// budget is spent.
func (b *backoff) next(err error, now time.Time) (time.Duration, bool) {
	ok, serverDelay := transient(err)
	if !ok {
		return 0, false
	}
	if b.n == 0 {
		b.first = now
	}
	d := b.p.Initial << min(b.n, 30)
	if d > b.p.Max || d <= 0 {
		d = b.p.Max
	}
	d = d/2 + rand.N(d/2+1)
	d = max(d, serverDelay)
	b.n++
	if now.Sub(b.first)+d > b.p.Budget {
		return 0, false
	}
	return d, true
}
