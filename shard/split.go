package shard

import (
	"context"
	"slices"

	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
)

// streamState says whether a stream's rows are part of the output.
type streamState int

const (
	streamLive    streamState = iota // a stream of the session, or the remainder of an accepted split
	streamWaiting                    // the remainder of a split its parent's reader has not decided yet
	streamVoid                       // the remainder of a refused split: its rows are its parent's
)

// splitState returns stream k's state. A split is decided by its parent's reader
// (workdir.Dir.DecideSplit) before that reader keeps any row of the split's primary; so a parent
// read to its end with no decision recorded never moved to the primary, and read the remainder's
// rows itself: the split counts as refused.
func splitState(ctx context.Context, d *workdir.Dir, m *session.Manifest, k int) (streamState, error) {
	s, _, ok := m.SplitOf(k)
	if !ok {
		return streamLive, nil
	}
	if st, err := splitState(ctx, d, m, s.Parent); err != nil || st != streamLive {
		return st, err
	}
	accepted, decided, err := d.SplitDecided(ctx, s.Parent, k)
	switch {
	case err != nil:
		return 0, err
	case decided && accepted:
		return streamLive, nil
	case decided:
		return streamVoid, nil
	}
	if _, done, err := d.Done(ctx, s.Parent); err != nil || done {
		return streamVoid, err
	}
	return streamWaiting, nil
}

// StreamOrder returns the streams of m in the work dir d whose rows are or may be part of the
// output (not the remainders of refused splits), in row order: each stream of the session followed by the remainders of its splits,
// the last split's first (it split the head the earlier ones left), each followed by its own.
func StreamOrder(ctx context.Context, d *workdir.Dir, m *session.Manifest) ([]int, error) {
	var out []int
	var visit func(i int) error
	visit = func(i int) error {
		out = append(out, i)
		splits := m.SplitsOf(i)
		for _, s := range slices.Backward(splits) {
			st, err := splitState(ctx, d, m, s.Remainder)
			if err != nil {
				return err
			}
			if st != streamVoid {
				if err := visit(s.Remainder); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i := range m.Planned() {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// orderKey is where stream k's rows go in the output, compared element by element: a stream of
// the session is [k]; the remainder of the n-th split of stream p is p's key then [1, -n], after
// p's own rows (p's key then [0, row]) and before the remainders of p's earlier splits.
func orderKey(m *session.Manifest, k int) []int64 {
	s, rank, ok := m.SplitOf(k)
	if !ok {
		return []int64{int64(k)}
	}
	return append(orderKey(m, s.Parent), 1, -int64(rank))
}

// segmentOrder is the Part.Order of stream k's segment starting at row lo.
func segmentOrder(m *session.Manifest, k int, lo int64) []int64 {
	return append(orderKey(m, k), 0, lo)
}

// readName returns the stream name a reader of stream i reads: the stream's own, or the primary
// of the last of its splits that was accepted; pending is its split not decided yet, if any,
// which the reader decides by reading pending's primary.
func readName(ctx context.Context, d *workdir.Dir, m *session.Manifest, i int) (name string, pending *session.Split, err error) {
	name = m.Streams[i]
	for _, s := range m.SplitsOf(i) {
		accepted, decided, err := d.SplitDecided(ctx, i, s.Remainder)
		switch {
		case err != nil:
			return "", nil, err
		case !decided:
			return name, &s, nil
		case accepted:
			name = s.Primary
		}
	}
	return name, nil, nil
}

// nextStream returns the stream after stream i in row order (StreamOrder), -1 after the last. It is asked once i was read to its end, when i's splits are all decided.
func nextStream(ctx context.Context, d *workdir.Dir, m *session.Manifest, i int) (int, error) {
	order, err := StreamOrder(ctx, d, m)
	if err != nil {
		return 0, err
	}
	if at := slices.Index(order, i); at >= 0 && at+1 < len(order) {
		return order[at+1], nil
	}
	return -1, nil
}
