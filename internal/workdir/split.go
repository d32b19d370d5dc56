package workdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bqread/bqread/internal/store"
)

// splitRecordName is the record, in the parent's folder, of what the reader of stream parent did
// with the split that made stream remainder.
func splitRecordName(parent, remainder int) string {
	return fmt.Sprintf("%s/split-%06d.json", StreamDir(parent), remainder)
}

// splitDecision is the content of a split record.
type splitDecision struct {
	Parent    int  `json:"parent"`
	Remainder int  `json:"remainder"`
	Accepted  bool `json:"accepted"`
}

// DecideSplit records whether the reader of stream parent moved on to the primary of the split
// that made stream remainder (accepted: the remainder's rows are the parent's tail and must be
// read) or kept reading past the split point (the remainder is never read). The first record
// holds: DecideSplit returns the decision recorded, which a second reader of the stream (a
// restarted worker) must follow.
func (d *Dir) DecideSplit(ctx context.Context, parent, remainder int, accepted bool) (bool, error) {
	data, _ := json.Marshal(splitDecision{Parent: parent, Remainder: remainder, Accepted: accepted})
	err := d.commitNew(ctx, StreamDir(parent), splitRecordName(parent, remainder), data)
	if !errors.Is(err, store.ErrExist) {
		return accepted, err
	}
	got, ok, err := d.SplitDecided(ctx, parent, remainder)
	if err == nil && !ok {
		err = fmt.Errorf("workdir: %s vanished", splitRecordName(parent, remainder))
	}
	return got, err
}

// SplitDecided returns the decision recorded for the split of stream parent that made stream
// remainder; decided is false while there is none.
func (d *Dir) SplitDecided(ctx context.Context, parent, remainder int) (accepted, decided bool, err error) {
	name := splitRecordName(parent, remainder)
	o, err := d.st.Open(ctx, name)
	if errors.Is(err, store.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	defer o.Close()
	var rec splitDecision
	data, err := io.ReadAll(o)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil || rec.Parent != parent || rec.Remainder != remainder {
		return false, false, fmt.Errorf("workdir: %s is not a record bqread wrote", name)
	}
	return rec.Accepted, true, nil
}

// isSplitRecord reports whether name has the shape of a split record:
// stream-NNNNNN/split-NNNNNN.json.
func isSplitRecord(name string) bool {
	var parent, remainder int
	n, _ := fmt.Sscanf(name, "stream-%06d/split-%06d.json", &parent, &remainder)
	return n == 2 && name == splitRecordName(parent, remainder)
}
