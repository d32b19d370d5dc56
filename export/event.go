package export

import "github.com/bqread/bqread/internal/event"

// Event is one report of a worker: the export passes every one to Options.OnEvent, one call at a
// time. Kind says which fields are set.
type Event = event.Event

// The kinds of Event, in the order a stream's worker reports them.
const (
	EventStart    = event.Start    // a worker opened its stream at Offset
	EventProgress = event.Progress // Rows and Bytes received so far, Progress the server's fraction
	EventSegment  = event.Segment  // rows [Lo, Hi) of the stream were committed
	EventRetry    = event.Retry    // a transient error; the worker resumes at Offset
	EventDone     = event.Done     // the stream was read to its end: Rows in all
	EventError    = event.Error    // the worker gave up: Class, Code and Message say why
)
