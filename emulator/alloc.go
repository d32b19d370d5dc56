package emulator

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
)

// Stream allocations: how a session's rows are handed to its streams (Options.StreamAllocation).
const (
	// AllocationFixed gives each stream fixed ranges of whole blocks of the unfiltered table when
	// the session is created, as the service does: a row restriction or sample is applied as the
	// rows are read, so it leaves streams lopsided, some of them empty.
	AllocationFixed = "fixed"
	// AllocationLiquid hands the next block of the unfiltered table to whichever stream asks
	// first ("liquid sharding"): a stream ends when no block is left.
	AllocationLiquid = "liquid"
)

// StreamAllocations lists the allocations Options.StreamAllocation accepts.
var StreamAllocations = []string{AllocationFixed, AllocationLiquid}

// blockRows is the unit in which rows are handed to streams: a stream owns whole blocks of the
// unfiltered table, and a table gets at most one stream per block (the service's blocks are storage
// files of megabytes; the emulator's are small so that test tables of a few thousand rows get several
// streams). It divides sampleBlockRows, so that a block sample_percentage keeps or drops is a whole
// number of these.
const blockRows = 128

// countBatchBlocks is how many blocks are read at once when a filtered stream counts its rows.
const countBatchBlocks = 64

// piece is a run of consecutive unfiltered rows [lo, hi) of a stream with n of them selected (kept
// by the row restriction and sample). A stream's pieces are its rows in order.
type piece struct{ lo, hi, n int64 }

// blockPool hands out the blocks of a liquid session in table order, each to one stream. It is safe
// for concurrent use.
type blockPool struct {
	mu          sync.Mutex
	next, total int64 // the first unfiltered row not handed out yet, and the table's rows
}

// take hands out the next block, false when none is left.
func (p *blockPool) take() (piece, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.total {
		return piece{}, false
	}
	lo := p.next
	p.next = min(lo+blockRows, p.total)
	return piece{lo: lo, hi: p.next}, true
}

// left returns how many unfiltered rows are not handed out yet.
func (p *blockPool) left() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total - p.next
}

// readStream is one stream of a session. A fixed stream owns the unfiltered rows [lo, hi), whole
// blocks; a liquid one (pool set) owns the blocks it took from the session's pool. Its rows are
// counted lazily: pieces grows, under mu, as reads need rows further on, so that a read at offset N
// finds its place by a binary search over the counts of the blocks before it, which are evaluated
// once per stream (the cost of the first read that reaches them) and then kept (32 bytes per block of
// a filtered stream, one piece for the whole of an unfiltered fixed stream).
type readStream struct {
	name   string
	sess   *session
	lo, hi int64      // fixed: the unfiltered rows the stream owns
	pool   *blockPool // liquid: the session's pool; nil for a fixed stream

	mu     sync.Mutex
	pieces []piece // counted so far, in order; appended to, never changed
	starts []int64 // starts[i]: the position of pieces[i]'s first selected row in the stream
	next   int64   // fixed: the first unfiltered row not in pieces yet
	sealed bool    // liquid: split, so it takes no more blocks
}

func newFixedStream(name string, sess *session, lo, hi int64) *readStream {
	return &readStream{name: name, sess: sess, lo: lo, hi: hi, next: lo}
}

func newLiquidStream(name string, sess *session) *readStream {
	return &readStream{name: name, sess: sess, pool: sess.pool}
}

// counted returns how many of the stream's rows are counted; the caller holds mu.
func (st *readStream) counted() int64 {
	if k := len(st.pieces) - 1; k >= 0 {
		return st.starts[k] + st.pieces[k].n
	}
	return 0
}

// add appends pieces; the caller holds mu. Unfiltered pieces that touch the last one are merged
// with it, so that an unfiltered stream is a few pieces however far it is read.
func (st *readStream) add(ps ...piece) {
	for _, p := range ps {
		if k := len(st.pieces) - 1; k >= 0 && !st.sess.selective() && st.pieces[k].hi == p.lo {
			st.pieces[k].hi, st.pieces[k].n = p.hi, st.pieces[k].n+p.n
			continue
		}
		st.starts = append(st.starts, st.counted())
		st.pieces = append(st.pieces, p)
	}
}

// grow counts more of the stream's rows: a fixed stream's next blocks (all of them at once without a
// filter or sample), or one more block from a liquid stream's pool. It returns false when the stream
// has no more rows to count. The caller holds mu.
func (st *readStream) grow(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if st.pool != nil {
		p, ok := piece{}, false
		if !st.sealed {
			p, ok = st.pool.take()
		}
		if !ok {
			return false, nil
		}
		ps, err := st.sess.count(p.lo, p.hi)
		st.add(ps...)
		return true, err
	}
	if st.next >= st.hi {
		return false, nil
	}
	hi := st.hi
	if st.sess.selective() {
		// Batches follow a grid of the table's rows, so that the streams of a split count the
		// batches the stream split counted, whose counts are cached (session.count).
		const batch = countBatchBlocks * blockRows
		hi = min((st.next/batch+1)*batch, st.hi)
	}
	ps, err := st.sess.count(st.next, hi)
	if err != nil {
		return false, err
	}
	st.add(ps...)
	st.next = hi
	return true, nil
}

// reach counts the stream's rows until at least want of them are counted or the stream has no more,
// and returns how many are counted. A liquid stream takes blocks from the pool only when grow is
// true. The caller holds mu.
func (st *readStream) reach(ctx context.Context, want int64, grow bool) (int64, error) {
	for st.counted() < want && grow {
		more, err := st.grow(ctx)
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
	}
	return st.counted(), nil
}

// errNotAllocated is a ReadRows offset past the stream's rows.
var errNotAllocated = errors.New("emulator: offset not allocated")

// seek prepares a read at offset off: it counts the stream's rows up to the offset (a fixed stream
// counts on; a liquid one only takes new blocks when off is where its counted rows end, so that a
// stream's rows are what it was first given). It returns errNotAllocated past the stream's rows.
func (st *readStream) seek(ctx context.Context, off int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	n, err := st.reach(ctx, off, st.pool == nil)
	if err != nil {
		return err
	}
	if n < off {
		return errNotAllocated
	}
	return nil
}

// window returns the pieces that hold the stream's rows [pos, pos+n), counting more of them as
// needed, and the offset of pos within the first piece's selected rows. It returns fewer rows than n
// (none at the end) when the stream has no more.
func (st *readStream) window(ctx context.Context, pos, n int64) (ps []piece, skip, got int64, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	counted, err := st.reach(ctx, pos+n, true)
	if err != nil {
		return nil, 0, 0, err
	}
	got = max(min(counted, pos+n)-pos, 0)
	if got == 0 {
		return nil, 0, 0, nil
	}
	// The first piece holding a row at or after pos: empty pieces before it are skipped.
	i := sort.Search(len(st.pieces), func(i int) bool { return st.starts[i]+st.pieces[i].n > pos })
	j := sort.Search(len(st.pieces), func(j int) bool { return st.starts[j] >= pos+got })
	// A copy: the last piece of an unfiltered liquid stream grows in place as the stream takes blocks.
	return slices.Clone(st.pieces[i:j]), pos - st.starts[i], got, nil
}

// progress returns the fraction of the stream's unfiltered rows scanned up to row (exclusive): of
// [lo, hi) for a fixed stream; for a liquid one, of the rows it took up to there plus those still in
// the pool.
func (st *readStream) progress(row int64) float64 {
	if st.pool == nil {
		if st.hi == st.lo {
			return 1
		}
		return float64(row-st.lo) / float64(st.hi-st.lo)
	}
	st.mu.Lock()
	var done, taken int64
	for _, p := range st.pieces {
		taken += p.hi - p.lo
		if p.lo < row {
			done += min(p.hi, row) - p.lo
		}
	}
	st.mu.Unlock()
	left := st.pool.left()
	if st.sealed {
		left = 0
	}
	if taken+left == 0 {
		return 1
	}
	return float64(done) / float64(taken+left)
}

// split divides a stream for SplitReadStream, at a block boundary of its unfiltered rows. A fixed
// stream's primary keeps the blocks before about fraction of its rows and the remainder the rest; a
// liquid stream's primary keeps the blocks it took so far and the remainder takes its blocks from the
// pool, as the stream would have. It returns false when the stream cannot be split: a fixed stream
// of one block, a liquid one that took no block yet (its primary would hold no row) or whose pool
// is empty.
func (st *readStream) split(fraction float64, primaryName, remainderName string) (primary, remainder *readStream, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pool != nil {
		if st.sealed || len(st.pieces) == 0 || st.pool.left() == 0 {
			return nil, nil, false
		}
		primary = &readStream{name: primaryName, sess: st.sess, pool: st.pool, sealed: true}
		primary.add(st.pieces...)
		return primary, newLiquidStream(remainderName, st.sess), true
	}
	blocks := (st.hi - st.lo + blockRows - 1) / blockRows
	cut := st.lo + int64(float64(blocks)*fraction+0.5)*blockRows
	if cut <= st.lo || cut >= st.hi {
		return nil, nil, false
	}
	primary, remainder = newFixedStream(primaryName, st.sess, st.lo, cut), newFixedStream(remainderName, st.sess, cut, st.hi)
	// The primary keeps what the stream counted before the cut, so a reader that moves to it at
	// its offset does not count those rows again.
	for _, p := range st.pieces {
		if p.hi > cut || !st.sess.selective() {
			break
		}
		primary.add(p)
		primary.next = p.hi
	}
	return primary, remainder, true
}

// progressAfter returns the progress after a response that ends at the stream's position pos and
// the unfiltered row end: 1 when the stream has no rows after it, which it counts on to know (a
// liquid stream takes the block it reads next).
func (st *readStream) progressAfter(ctx context.Context, pos, end int64) (float64, error) {
	st.mu.Lock()
	n, err := st.reach(ctx, pos+1, true)
	st.mu.Unlock()
	if err != nil || n <= pos {
		return 1, err
	}
	return st.progress(end), nil
}

// rowAt returns the unfiltered row of the stream's row at position pos, which must be counted: exact
// without a row restriction or sample, else the first row of its block.
func (st *readStream) rowAt(pos int64) int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := sort.Search(len(st.pieces), func(i int) bool { return st.starts[i]+st.pieces[i].n > pos })
	if i == len(st.pieces) {
		return st.hi
	}
	if !st.sess.selective() {
		return st.pieces[i].lo + pos - st.starts[i]
	}
	return st.pieces[i].lo
}
