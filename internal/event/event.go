// Package event is the protocol between a `bqread worker` process and its coordinator: one JSON
// object per line on the worker's stdout. It does no I/O beyond the writer it is given.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Kind names what an event reports.
type Kind string

// The event kinds, in the order a worker sends them.
const (
	// Start: the worker opened its stream at Offset (rows already committed by earlier runs).
	Start Kind = "start"
	// Progress: rows and bytes received so far by this process, and the server's progress fraction.
	Progress Kind = "progress"
	// Segment: a segment file holding rows [Lo, Hi) of the stream was committed at Path.
	Segment Kind = "segment"
	// Retry: a transient error; the worker resumes reading at Offset after a backoff.
	Retry Kind = "retry"
	// Split: at Offset, the worker decided the split of its stream that made stream Remainder:
	// Accepted, it reads the split's primary from then on and the remainder holds the rest;
	// otherwise it was past the split point and reads on, and the remainder is never read.
	Split Kind = "split"
	// Done: the stream was read to its end; Rows is the stream's total row count.
	Done Kind = "done"
	// Error: the worker gives up; Class says whether running it again may help.
	Error Kind = "error"
)

// Class classifies a worker error for the coordinator.
type Class string

// The error classes.
const (
	Retryable Class = "retryable" // transient (budget exhausted, stall, crash): restarting the worker may succeed
	Fatal     Class = "fatal"     // restarting cannot help (permission, expired session, bad data)
	Usage     Class = "usage"     // bad worker input (manifest, stream index)
	Expired   Class = "expired"   // the read session expired: nothing can continue it
)

// Event is one line of the protocol. Fields that do not apply to a Kind are zero.
type Event struct {
	Kind     Kind    `json:"kind"`
	Stream   int     `json:"stream"`
	Pid      int     `json:"pid,omitempty"`
	Offset   int64   `json:"offset,omitempty"`
	Rows     int64   `json:"rows,omitempty"`
	Bytes    int64   `json:"bytes,omitempty"`    // wire bytes received by this process
	Progress float64 `json:"progress,omitempty"` // stats.progress.at_response_end of the last response
	Path     string  `json:"path,omitempty"`     // segment name in the work dir
	Lo       int64   `json:"lo,omitempty"`
	Hi       int64   `json:"hi,omitempty"`
	Size     int64   `json:"size,omitempty"` // segment file bytes
	Attempts int     `json:"attempts,omitempty"`
	Retries  int     `json:"retries,omitempty"`
	Class    Class   `json:"class,omitempty"`
	Code     string  `json:"code,omitempty"` // the gRPC code of an Error, when it came from a call
	Message  string  `json:"message,omitempty"`
	// Remainder and Accepted are a Split's.
	Remainder int  `json:"remainder,omitempty"`
	Accepted  bool `json:"accepted,omitempty"`
}

// ErrMalformed is wrapped by Parse errors.
var ErrMalformed = errors.New("event: malformed line")

// Parse decodes one protocol line.
func Parse(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch e.Kind {
	case Start, Progress, Segment, Retry, Split, Done, Error:
		return e, nil
	}
	return Event{}, fmt.Errorf("%w: unknown kind %q", ErrMalformed, e.Kind)
}

// Writer writes events as JSON lines. It is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{enc: json.NewEncoder(w)} }

// Send writes e as one line.
func (w *Writer) Send(e Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(e); err != nil {
		return fmt.Errorf("send %s event: %w", e.Kind, err)
	}
	return nil
}

// Command is a line the coordinator writes on a worker's stdin (ControlEnv): the manifest now
// records that the stream the worker reads was split into Primary and stream Remainder, and the
// worker is to move on to Primary if it has not read past the split point.
type Command struct {
	Stream    int    `json:"stream"`
	Primary   string `json:"primary"`
	Remainder int    `json:"remainder"`
}

// ParseCommand decodes one command line.
func ParseCommand(line []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(line, &c); err != nil || c.Primary == "" {
		return Command{}, fmt.Errorf("%w: command %q", ErrMalformed, line)
	}
	return c, nil
}

// SendCommand writes c as one line on w.
func SendCommand(w io.Writer, c Command) error {
	data, _ := json.Marshal(c)
	_, err := w.Write(append(data, '\n'))
	return err
}
