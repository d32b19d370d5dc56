package workdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/bqread/bqread/internal/store"
)

// ErrDoneMismatch is wrapped by MarkDone errors when two readers of one stream saw it end at
// different rows.
var ErrDoneMismatch = errors.New("workdir: stream read twice with different row counts")

// doneName is the record, in a stream's folder, that the stream was read to its end.
const doneName = "done.json"

// done is the content of a stream's done record.
type done struct {
	Stream int   `json:"stream"`
	Rows   int64 `json:"rows"`
}

// MarkDone records that stream i was read to its end, at rows rows. A second reader of the
// stream (a retried or duplicated task) finds the record and checks that it agrees.
func (d *Dir) MarkDone(ctx context.Context, i int, rows int64) error {
	data, _ := json.Marshal(done{Stream: i, Rows: rows})
	err := d.commitNew(ctx, StreamDir(i), path.Join(StreamDir(i), doneName), data)
	if !errors.Is(err, store.ErrExist) {
		return err
	}
	got, _, err := d.Done(ctx, i)
	if err == nil && got != rows {
		err = fmt.Errorf("%w: stream %d ended at row %d and at row %d", ErrDoneMismatch, i, got, rows)
	}
	return err
}

// Done returns the rows of stream i if a reader recorded reading it to its end.
func (d *Dir) Done(ctx context.Context, i int) (rows int64, ok bool, err error) {
	o, err := d.st.Open(ctx, path.Join(StreamDir(i), doneName))
	if errors.Is(err, store.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer o.Close()
	var rec done
	data, err := io.ReadAll(o)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil || rec.Stream != i {
		return 0, false, fmt.Errorf("workdir: %s of stream %d is not a record bqread wrote", doneName, i)
	}
	return rec.Rows, true, nil
}

// ForgetDone removes the record that stream i was read to its end, so that its reader runs
// again: for a stream whose segments, after a power loss, no longer reach the rows the record
// gives (package shard checks that). The caller makes sure that no writer of the stream runs.
func (d *Dir) ForgetDone(ctx context.Context, i int) error {
	return d.st.Remove(ctx, path.Join(StreamDir(i), doneName))
}
