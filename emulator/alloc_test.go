package emulator

import (
	"context"
	"slices"
	"sync"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

// These tests read through Google's official Storage Read client (testEnv.client). The trips-like
// synthetic tables of genTable number their rows by trip_id = row + 1.

// streamIDs reads a stream of a trip_id session from offset off to its end and returns the ids.
func (e *testEnv) streamIDs(t *testing.T, sess *storagepb.ReadSession, name string, off int64) []int64 {
	t.Helper()
	resps, err := e.readStream(t.Context(), name, off)
	if err != nil {
		t.Fatalf("ReadRows(%s, %d): %v", name, off, err)
	}
	if off == 0 {
		checkResponses(t, resps)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ids := []int64{}
	for _, rec := range decodeArrow(t, sess.GetArrowSchema().GetSerializedSchema(), resps, mem) {
		ids = append(ids, rec.Column(0).(*array.Int64).Int64Values()...)
		rec.Release()
	}
	return ids
}

// firstResponse reads one response of a stream and hangs up, as a reader that is slow to come back.
func (e *testEnv) firstResponse(t *testing.T, name string) int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rows, err := e.client.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: name})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rows.Recv()
	if err != nil {
		t.Fatalf("first response of %s: %v", name, err)
	}
	return r.GetRowCount()
}

func idRange(lo, hi int64) []int64 {
	var ids []int64
	for id := lo; id <= hi; id++ {
		ids = append(ids, id)
	}
	return ids
}

// TestAllocationBeforeFilter: streams own blocks of the unfiltered table, so a filter that keeps only
// the rows of one stream's blocks leaves the others empty; each stream's offsets count its own kept
// rows, and an offset past them is not allocated.
func TestAllocationBeforeFilter(t *testing.T) {
	env := startEnv(t, Options{})
	table := genTable(t, env, "lopsided", 4000) // 32 blocks: streams of 8 blocks, rows 1-1024, 1025-2048, ...
	sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, maxStreams: 4,
		filter: "trip_id > 2048 AND trip_id <= 3072"})
	if got := sess.GetEstimatedRowCount(); got != 4000 {
		t.Errorf("estimated_row_count = %d, want the table's 4000 rows (an estimate)", got)
	}
	streams := sess.GetStreams()
	if len(streams) != 4 {
		t.Fatalf("%d streams, want 4", len(streams))
	}
	for i, st := range streams {
		got := env.streamIDs(t, sess, st.GetName(), 0)
		want := []int64{}
		if i == 2 {
			want = idRange(2049, 3072)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stream %d (-want +got):\n%s", i, diff)
		}
	}
	lopsided := streams[2].GetName()
	if diff := cmp.Diff(idRange(2149, 3072), env.streamIDs(t, sess, lopsided, 100)); diff != "" {
		t.Errorf("stream 2 from offset 100 (-want +got):\n%s", diff)
	}
	if got := env.streamIDs(t, sess, lopsided, 1024); len(got) != 0 {
		t.Errorf("stream 2 at offset 1024 (its row count): %d rows, want a clean end", len(got))
	}
	_, err := env.readStream(t.Context(), lopsided, 1025)
	wantCode(t, err, codes.FailedPrecondition, "offset 1025 has not been allocated yet")
	_, err = env.readStream(t.Context(), streams[0].GetName(), 1)
	wantCode(t, err, codes.FailedPrecondition, "offset 1 has not been allocated yet")
}

// TestFilteredOffsetsExact: with a filter that keeps scattered rows, every stream resumed at any
// offset gives exactly the tail of its straight read, and the streams in order give the filtered
// table in order.
func TestFilteredOffsetsExact(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 1 << 10})
	table := genTable(t, env, "scattered_offsets", 3000)
	var want []int64
	all := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id", "passenger_count"}, maxStreams: 1})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := env.readAllArrow(t, all, mem)
	ids, counts := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int64)
	for i := range ids.Len() {
		if counts.IsValid(i) && counts.Value(i) == 2 {
			want = append(want, ids.Value(i))
		}
	}
	rec.Release()
	sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, filter: "passenger_count = 2", maxStreams: 3})
	var got []int64
	for i, st := range sess.GetStreams() {
		straight := env.streamIDs(t, sess, st.GetName(), 0)
		got = append(got, straight...)
		n := int64(len(straight))
		for _, off := range []int64{1, n / 3, n - 1, n} {
			if diff := cmp.Diff(straight[off:], env.streamIDs(t, sess, st.GetName(), off)); diff != "" {
				t.Errorf("stream %d from offset %d (-want +got):\n%s", i, off, diff)
			}
		}
		_, err := env.readStream(t.Context(), st.GetName(), n+1)
		wantCode(t, err, codes.FailedPrecondition, "has not been allocated yet")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("the streams' rows in order (-want +got):\n%s", diff)
	}
}

// TestLiquidStreams: a liquid session hands the next block to whichever stream asks first, so a
// stream read to its end while the others wait takes all the blocks they did not take; every row is
// in exactly one stream; a stream read again, from its start or from an offset, gives the same rows.
func TestLiquidStreams(t *testing.T) {
	env := startEnv(t, Options{StreamAllocation: AllocationLiquid, ResponseBytes: 1 << 10})
	table := genTable(t, env, "liquid", 3000)
	for _, filter := range []string{"", "passenger_count = 2"} {
		t.Run(filter, func(t *testing.T) {
			whole := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, filter: filter, maxStreams: 1})
			want := env.streamIDs(t, whole, whole.GetStreams()[0].GetName(), 0) // one stream takes every block, in order
			sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, filter: filter, maxStreams: 3})
			streams := sess.GetStreams()
			if len(streams) != 3 {
				t.Fatalf("%d streams, want 3", len(streams))
			}
			if n := env.firstResponse(t, streams[1].GetName()); n == 0 || n >= int64(len(want)) {
				t.Fatalf("first response of stream 1: %d rows, want some of the %d", n, len(want))
			}
			s0 := env.streamIDs(t, sess, streams[0].GetName(), 0)
			s2 := env.streamIDs(t, sess, streams[2].GetName(), 0)
			s1 := env.streamIDs(t, sess, streams[1].GetName(), 0)
			// Stream 1 asked first, so it holds the first blocks; how many depends on how far the
			// server ran ahead of its one read response into gRPC's flow-control window (all of
			// them, on a quiet machine), and it may still be taking blocks while stream 0 reads, so
			// the two can alternate. Stream 0, read to its end, takes every block left, and stream
			// 2 gets none. Each stream's rows are in table order and every row is in one stream.
			if len(s1) == 0 || s1[0] != want[0] || len(s2) != 0 {
				t.Fatalf("rows per stream %d, %d, %d, stream 1 from %v: want stream 1 to start at row %d and stream 0 to take all blocks stream 1 had not taken",
					len(s0), len(s1), len(s2), s1[:min(1, len(s1))], want[0])
			}
			if !slices.IsSorted(s0) || !slices.IsSorted(s1) {
				t.Errorf("rows out of table order within a stream")
			}
			union := slices.Concat(s1, s0, s2)
			slices.Sort(union)
			if diff := cmp.Diff(want, union); diff != "" {
				t.Fatalf("rows of all streams (-want +got):\n%s", diff)
			}
			for i, rows := range [][]int64{s0, s1} {
				for _, off := range []int64{0, 1, int64(len(rows)) / 2} {
					if off > int64(len(rows)) {
						continue
					}
					if diff := cmp.Diff(rows[off:], env.streamIDs(t, sess, streams[i].GetName(), off)); diff != "" {
						t.Errorf("stream %d read again from %d (-want +got):\n%s", i, off, diff)
					}
				}
			}
			_, err := env.readStream(t.Context(), streams[2].GetName(), 1)
			wantCode(t, err, codes.FailedPrecondition, "offset 1 has not been allocated yet")
		})
	}
}

// TestLiquidStreamsConcurrently reads the streams of a liquid session at once: every block goes to
// one stream, so together they hold each row exactly once, each stream's rows in table order.
func TestLiquidStreamsConcurrently(t *testing.T) {
	env := startEnv(t, Options{StreamAllocation: AllocationLiquid, ResponseBytes: 1 << 10})
	table := genTable(t, env, "liquid_concurrent", 5000)
	sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, maxStreams: 4})
	n := len(sess.GetStreams())
	resps, errs := make([][]*storagepb.ReadRowsResponse, n), make([]error, n)
	var wg sync.WaitGroup
	for i, st := range sess.GetStreams() {
		wg.Go(func() { resps[i], errs[i] = env.readStream(t.Context(), st.GetName(), 0) })
	}
	wg.Wait()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var all []int64
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("stream %d: %v", i, errs[i])
		}
		var ids []int64
		for _, rec := range decodeArrow(t, sess.GetArrowSchema().GetSerializedSchema(), resps[i], mem) {
			ids = append(ids, rec.Column(0).(*array.Int64).Int64Values()...)
			rec.Release()
		}
		if !slices.IsSorted(ids) {
			t.Errorf("stream %d: rows out of table order", i)
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	if diff := cmp.Diff(idRange(1, 5000), all); diff != "" {
		t.Errorf("rows of all streams, sorted (-want +got):\n%s", diff)
	}
}

// TestSplitAtBlockBoundaries: SplitReadStream cuts a fixed stream at a block of the unfiltered rows,
// a filter or not: the primary holds the blocks before the cut, the remainder the rest, and together
// they are the original; a one-block stream cannot be split. A liquid stream's primary keeps the
// blocks it took, and its remainder takes blocks from the pool like any stream of the session; one
// that took no block cannot be split.
func TestSplitAtBlockBoundaries(t *testing.T) {
	split := func(t *testing.T, env *testEnv, name string, f float64) (string, string) {
		t.Helper()
		resp, err := env.client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: name, Fraction: f})
		if err != nil {
			t.Fatalf("SplitReadStream(%s, %v): %v", name, f, err)
		}
		return resp.GetPrimaryStream().GetName(), resp.GetRemainderStream().GetName()
	}
	t.Run("fixed", func(t *testing.T) {
		env := startEnv(t, Options{ResponseBytes: 1 << 10})
		table := genTable(t, env, "split_fixed", 1000) // 8 blocks, the last one short
		sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, filter: "passenger_count = 2", maxStreams: 1})
		orig := sess.GetStreams()[0].GetName()
		whole := env.streamIDs(t, sess, orig, 0)
		primary, remainder := split(t, env, orig, 0.4) // 3.2 blocks: cut after block 3
		p, r := env.streamIDs(t, sess, primary, 0), env.streamIDs(t, sess, remainder, 0)
		if len(p) == 0 || p[len(p)-1] > 3*blockRows || len(r) == 0 || r[0] <= 3*blockRows {
			t.Errorf("primary ends at trip_id %v, remainder starts at %v: want the cut after row %d", p[len(p)-1:], r[:1], 3*blockRows)
		}
		if diff := cmp.Diff(whole, slices.Concat(p, r)); diff != "" {
			t.Errorf("primary + remainder (-original +split):\n%s", diff)
		}
		one, _ := split(t, env, primary, 0.3) // 3 blocks: one and two
		if tiny, none := split(t, env, one, 0.5); tiny != "" || none != "" {
			t.Errorf("splitting a one-block stream gave %q and %q, want both empty", tiny, none)
		}
	})
	t.Run("liquid", func(t *testing.T) {
		env := startEnv(t, Options{StreamAllocation: AllocationLiquid, ResponseBytes: 1 << 10})
		// Enough blocks that the server side of stream 0's cancelled read, which goes on taking
		// blocks until it sees the cancel, cannot empty the pool first (it did with 24 blocks,
		// which fit in the connection's flow-control window): the split would then be refused.
		const rows = 300_000
		table := genTable(t, env, "split_liquid", rows)
		sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, maxStreams: 2})
		streams := sess.GetStreams()
		read := env.firstResponse(t, streams[0].GetName())
		if a, b := split(t, env, streams[1].GetName(), 0.5); a != "" || b != "" {
			t.Errorf("splitting a liquid stream that took no block gave %q and %q, want both empty", a, b)
		}
		primary, remainder := split(t, env, streams[0].GetName(), 0.5)
		p := env.streamIDs(t, sess, primary, 0)
		if int64(len(p)) < read || len(p)%blockRows != 0 || p[0] != 1 {
			t.Errorf("primary holds %d rows from %v, want the whole blocks stream 0 took (it read %d rows)", len(p), p[:1], read)
		}
		r := env.streamIDs(t, sess, remainder, 0)
		s1 := env.streamIDs(t, sess, streams[1].GetName(), 0)
		if len(r) == 0 || len(s1) != 0 {
			t.Errorf("remainder %d rows, stream 1 %d rows: want the remainder, read first, to take all the blocks left", len(r), len(s1))
		}
		if diff := cmp.Diff(idRange(1, rows), slices.Concat(p, r, s1)); diff != "" {
			t.Errorf("primary + remainder + stream 1 (-want +got):\n%s", diff)
		}
		if a, b := split(t, env, remainder, 0.5); a != "" || b != "" {
			t.Errorf("splitting a liquid stream once no block is left gave %q and %q, want both empty", a, b)
		}
	})
}
