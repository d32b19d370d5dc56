package export

import (
	"context"
	"time"

	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// Status is how far the workers of a planned export have got.
type Status struct {
	WorkDir   string         `json:"work_dir"`
	Table     string         `json:"table"`
	Session   string         `json:"session"`
	Streams   []StreamStatus `json:"streams"`
	Tasks     int            `json:"tasks"`
	TasksDone int            `json:"tasks_done"`
	// RowsCommitted is the rows of all streams committed so far; Done is set once every stream
	// was read to its end, and Merge can run.
	RowsCommitted int64     `json:"rows_committed"`
	Done          bool      `json:"done"`
	ExpireTime    time.Time `json:"expire_time,omitzero"`
	// SecondsLeft is the time left before the session expires (negative once it has).
	SecondsLeft float64 `json:"seconds_left,omitempty"`
}

// StreamStatus is one stream's progress.
type StreamStatus struct {
	Index         int   `json:"index"`
	Task          int   `json:"task"`
	RowsCommitted int64 `json:"rows_committed"`
	Done          bool  `json:"done"`
	// SplitFrom is the stream this one was split from (its remainder), nil for the session's.
	SplitFrom *int `json:"split_from,omitempty"`
}

// root returns the stream of the session that stream i was split from, i itself if it is one.
func root(m *session.Manifest, i int) int {
	for {
		s, _, ok := m.SplitOf(i)
		if !ok {
			return i
		}
		i = s.Parent
	}
}

// ReadStatus reports the progress of the planned export in workDir from what its workers
// committed.
func ReadStatus(ctx context.Context, workDir string) (*Status, error) {
	d, err := workdir.Open(workDir)
	if err != nil {
		return nil, workDirError(err)
	}
	defer d.Close()
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		return nil, asUsage(err)
	}
	s := &Status{WorkDir: workDir, Table: m.Table, Session: m.Session, Tasks: max(m.Tasks, 1), ExpireTime: m.ExpireTime, Done: true}
	if !m.ExpireTime.IsZero() {
		s.SecondsLeft = time.Until(m.ExpireTime).Round(time.Second).Seconds()
	}
	taskDone := make([]bool, s.Tasks)
	for i := range taskDone {
		taskDone[i] = true
	}
	order, err := shard.StreamOrder(ctx, d, m)
	if err != nil {
		return nil, err
	}
	for _, i := range order {
		_, end, err := shard.StreamSegments(ctx, d, i)
		if err != nil {
			return nil, err
		}
		_, done, err := d.Done(ctx, i)
		if err != nil {
			return nil, err
		}
		st := StreamStatus{Index: i, Task: root(m, i) % s.Tasks, RowsCommitted: end, Done: done}
		if sp, _, ok := m.SplitOf(i); ok {
			st.SplitFrom = &sp.Parent
		}
		s.Streams = append(s.Streams, st)
		s.RowsCommitted += end
		s.Done = s.Done && done
		taskDone[st.Task] = taskDone[st.Task] && done
	}
	for _, done := range taskDone {
		if done {
			s.TasksDone++
		}
	}
	return s, nil
}
