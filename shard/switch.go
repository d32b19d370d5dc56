package shard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/session"
)

// ControlEnv is set to 1 in the environment of the workers the coordinator starts: they then read
// commands (event.Command) on stdin, which is the coordinator's pipe.
const ControlEnv = "BQREAD_WORKER_CONTROL"

// errSwitch ends a ReadRows call so that the next one reads another stream name at once: the
// primary of a split to decide, or the stream read before when the split was refused.
var errSwitch = errors.New("shard: switching stream name")

// WithControl makes the worker take split commands from r, one JSON line each (event.Command),
// until r ends. Without it, a worker still follows the splits its manifest records when it starts.
func WithControl(r io.Reader) WorkerOption {
	ch := make(chan event.Command, 16)
	note := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if c, err := event.ParseCommand(sc.Bytes()); err == nil {
				ch <- c
				select {
				case note <- struct{}{}:
				default:
				}
			}
		}
	}()
	return func(w *worker) { w.control, w.commanded = ch, note }
}

// interruptOnCommand ends the ReadRows call of callCtx with errSwitch when a command comes while
// it runs, so that a split is decided at once rather than after the call's next response, which
// may be a second away on a slow stream. The command itself is taken by command, on the worker's
// goroutine; a call ended for a command that turns out not to concern it is made again at the
// same offset.
func (w *worker) interruptOnCommand(callCtx context.Context, cancel context.CancelCauseFunc) {
	if w.commanded == nil {
		return
	}
	go func() {
		select {
		case <-w.commanded:
			cancel(errSwitch)
		case <-callCtx.Done():
		}
	}()
}

// resolveName sets the stream name the worker reads, following the splits of its stream that
// its readers accepted; a split not decided yet becomes pending, decided by the first read.
func (w *worker) resolveName(ctx context.Context) error {
	var err error
	w.name, w.pending, err = readName(ctx, w.dir, w.m, w.index)
	return err
}

// readName is the stream name the next ReadRows call reads: a pending split's primary, which
// decides it, else the name resolved.
func (w *worker) readName() string {
	if w.pending != nil {
		return w.pending.Primary
	}
	return w.name
}

// command returns errSwitch when the coordinator has split the stream the worker reads since the
// last look: the next call reads the split's primary, at the current offset, and so decides it.
func (w *worker) command() error {
	select {
	case <-w.commanded: // the commands it notes are taken here
	default:
	}
	for {
		select {
		case c := <-w.control:
			if c.Stream != w.index || w.pending != nil || w.decided[c.Remainder] {
				continue
			}
			w.pending = &session.Split{Parent: c.Stream, Primary: c.Primary, Remainder: c.Remainder}
			return errSwitch
		default:
			return nil
		}
	}
}

// decide decides the pending split from the first answer of a ReadRows call of its primary at the
// worker's offset, recvErr: rows or the stream's end accept it (the offset is not past the split
// point, and the primary's rows up to it are those read so far); FAILED_PRECONDITION refuses it
// (the offset is past the split point, so the worker reads on where it was, and the remainder is
// never read). The decision is recorded before any row of the primary is kept, and the first
// recorded holds. It returns nil to go on with the call, errSwitch to read the name resolved,
// and recvErr itself when it decides nothing (a transient failure: the next call tries again).
func (w *worker) decide(ctx context.Context, recvErr error) error {
	s := w.pending
	accepted := recvErr == nil || recvErr == io.EOF
	if !accepted && status.Code(recvErr) != codes.FailedPrecondition {
		return recvErr
	}
	got, err := w.dir.DecideSplit(ctx, w.index, s.Remainder, accepted)
	if err != nil {
		return err
	}
	if got && !accepted {
		return fmt.Errorf("stream %d: the split into stream %d was accepted by another reader, but offset %d is past its split point: %w", w.index, s.Remainder, w.offset, recvErr)
	}
	w.pending = nil
	if w.decided == nil {
		w.decided = map[int]bool{}
	}
	w.decided[s.Remainder] = true
	if err := w.send(event.Event{Kind: event.Split, Offset: w.offset, Remainder: s.Remainder, Accepted: got}); err != nil {
		return err
	}
	if !got {
		return errSwitch
	}
	w.name = s.Primary
	return nil
}
