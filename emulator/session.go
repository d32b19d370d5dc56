package emulator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/emulator/filter"
	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

// sessionTTL is how long a read session lives, as on the real service.
const sessionTTL = 6 * time.Hour

// filterChunk is how many unfiltered rows are read at a time to find a response's selected rows.
const filterChunk = 64 << 10

// span is a run of consecutive rows [lo, hi) of a table version.
type span struct{ lo, hi int64 }

// session is one read session: a pinned table version, the row restriction and sample, the selected
// columns, the format. It is immutable after creation except for the measured rows per response;
// which rows each stream holds is the streams' business (alloc.go).
type session struct {
	name        string
	version     *tableVersion
	selected    schema.Schema
	arrow       *arrow.Schema // of the selected columns, as the table holds them
	wire        *arrow.Schema // of the selected columns, as the session serves them (setWireSchemas)
	precision   schema.Digits // TIMESTAMP(12) columns are served in this precision
	format      storagepb.DataFormat
	compression string // "", "lz4" or "zstd"
	lz4         bool   // each payload is sent as one raw LZ4 block (response_compression_codec)
	arrowSchema []byte // serialized schema message (Arrow)
	avroSchema  string // (Avro)
	filter      *filter.Filter
	keep        sampler
	pool        *blockPool // the blocks not handed out yet, for liquid streams; nil for fixed ones
	scanned     int64      // rows of the partitions the row restriction does not prune
	expire      time.Time
	cacheKey    string        // identifies everything that determines payload bytes except the row range
	cache       *payloadCache // the server's: payloads, and the counts of filtered blocks (count)

	sizing      sync.Once
	perResponse int64 // rows per response, measured on the first read
	sizingErr   error
}

// sampleBlockRows is the size of the "data blocks" that sample_percentage keeps or drops whole.
const sampleBlockRows = 1024

// sampler decides, deterministically per table version, which blocks a sample_percentage keeps.
// A nil sampler keeps every row.
type sampler func(row int64) bool

func newSampler(v *tableVersion, percent *float64) sampler {
	if percent == nil {
		return nil
	}
	seed, threshold := nameHash(v.key), uint64(*percent*10_000)
	return func(row int64) bool { return mix(seed, uint64(row/sampleBlockRows))%1_000_000 < threshold }
}

// appendRows adds rows [lo, hi) to spans, merging with the last span when they touch.
func appendRows(spans []span, lo, hi int64) []span {
	if k := len(spans) - 1; k >= 0 && spans[k].hi == lo {
		spans[k].hi = hi
		return spans
	}
	return append(spans, span{lo, hi})
}

// selective reports whether the session reads only some rows (a row restriction or a sample).
func (s *session) selective() bool { return s.filter != nil || s.keep != nil }

// selectIn returns the rows of rec, the unfiltered rows from lo, that the session reads: those in
// blocks the sampler keeps that match the row restriction (a nil sampler and filter keep all).
func (s *session) selectIn(rec arrow.Record, lo int64) []span {
	hi := lo + rec.NumRows()
	var mask []bool
	if s.filter != nil {
		mask = s.filter.Eval(rec)
	}
	var spans []span
	for row := lo; row < hi; {
		// Rows are taken a sampling block (or the rest of the record) at a time.
		blockEnd := min((row/sampleBlockRows+1)*sampleBlockRows, hi)
		if s.keep != nil && !s.keep(row) {
			row = blockEnd
			continue
		}
		if mask == nil {
			spans, row = appendRows(spans, row, blockEnd), blockEnd
			continue
		}
		for ; row < blockEnd; row++ {
			if mask[row-lo] {
				spans = appendRows(spans, row, row+1)
			}
		}
	}
	return spans
}

// blockCountFits fails to compile unless a block's count of rows fits in count's cached byte.
const blockCountFits uint8 = blockRows

// count returns the unfiltered rows [lo, hi), which start at a block boundary, as pieces of one block
// each with the number of rows the session reads in it; without a row restriction or sample, as one
// piece. Only a row restriction needs the rows read.
func (s *session) count(lo, hi int64) ([]piece, error) {
	if !s.selective() {
		return []piece{{lo, hi, hi - lo}}, nil
	}
	var ps []piece
	for b := lo; b < hi; b += blockRows {
		ps = append(ps, piece{lo: b, hi: min(b+blockRows, hi)})
	}
	if s.filter == nil {
		for i, p := range ps { // a block lies within one sampling block
			if s.keep(p.lo) {
				ps[i].n = p.hi - p.lo
			}
		}
		return ps, nil
	}
	// The counts are cached as the payloads are, one byte a block (blockCountFits), so that the
	// sessions of a benchmark's repeated runs do not read and filter the rows again.
	key := fmt.Sprintf("%s|count|%d|%d", s.cacheKey, lo, hi)
	if counts, _, _, ok := s.cache.get(key); ok && len(counts) == len(ps) {
		for i, n := range counts {
			ps[i].n = int64(n)
		}
		return ps, nil
	}
	rec, err := s.version.rows.read(lo, hi, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	for _, sp := range s.selectIn(rec, lo) {
		for row := sp.lo; row < sp.hi; {
			i := (row - lo) / blockRows
			end := min(ps[i].hi, sp.hi)
			ps[i].n += end - row
			row = end
		}
	}
	counts := make([]byte, len(ps))
	for i, p := range ps {
		counts[i] = byte(p.n)
	}
	s.cache.put(key, counts, 0, hi)
	return ps, nil
}

// read returns n of the session's rows, with the selected columns, from the pieces ps (as a stream's
// window gives them), skipping the first skip rows the session reads in them, and the unfiltered row
// after the last one returned. Pieces that touch are read as one range. The caller releases the record.
func (s *session) read(ps []piece, skip, n int64) (arrow.Record, int64, error) {
	var parts []arrow.Record
	release := func() {
		for _, p := range parts {
			p.Release()
		}
	}
	var end int64
	for len(ps) > 0 && n > 0 {
		k, inRun := 1, ps[0].n
		for ; k < len(ps) && ps[k].lo == ps[k-1].hi; k++ {
			inRun += ps[k].n
		}
		lo, hi := ps[0].lo, ps[k-1].hi
		ps = ps[k:]
		if skip >= inRun {
			skip -= inRun
			continue
		}
		take := min(inRun-skip, n)
		recs, last, err := s.readRun(lo, hi, skip, take)
		parts = append(parts, recs...)
		if err != nil {
			release()
			return nil, 0, err
		}
		end, n, skip = last, n-take, 0
	}
	if len(parts) == 0 {
		return nil, 0, fmt.Errorf("emulator: no rows to read")
	}
	full, err := concatRecords(parts, memory.DefaultAllocator)
	if err != nil {
		return nil, 0, err
	}
	defer full.Release()
	rec, err := encode.Project(full, s.arrow, memory.DefaultAllocator)
	return rec, end, err
}

// readRun returns take of the rows the session reads among the unfiltered rows [lo, hi), after the
// first skip of them, as records of the table's columns, and the unfiltered row after the last one.
// A filtered run is read filterChunk rows at a time.
func (s *session) readRun(lo, hi, skip, take int64) ([]arrow.Record, int64, error) {
	if !s.selective() {
		rec, err := s.version.rows.read(lo+skip, lo+skip+take, memory.DefaultAllocator)
		if err != nil {
			return nil, 0, err
		}
		return []arrow.Record{rec}, lo + skip + take, nil
	}
	var out []arrow.Record
	end := lo
	for from := lo; from < hi && take > 0; from += filterChunk {
		chunk, err := s.version.rows.read(from, min(from+filterChunk, hi), memory.DefaultAllocator)
		if err != nil {
			return out, 0, err
		}
		for _, sp := range s.selectIn(chunk, from) {
			if n := sp.hi - sp.lo; skip >= n {
				skip -= n
				continue
			}
			a := sp.lo + skip
			b := min(sp.hi, a+take)
			out = append(out, chunk.NewSlice(a-from, b-from))
			skip, take, end = 0, take-(b-a), b
			if take == 0 {
				break
			}
		}
		chunk.Release()
	}
	return out, end, nil
}

// encode turns a record of the session's columns into one payload of the session's format.
func (s *session) encode(rec arrow.Record) ([]byte, error) {
	rec, err := encode.Project(rec, s.wire, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	if s.format == storagepb.DataFormat_AVRO {
		return encode.AvroRows(rec, nil)
	}
	enc, err := encode.NewArrowEncoder(s.wire, s.compression, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	return enc.RecordBatch(rec)
}

// sizeProbeRows is how many rows are encoded to measure a session's bytes per row.
const sizeProbeRows = 1024

// rowsPerResponse measures, once, how many rows fit in target bytes of encoded payload, on the
// table's first rows whether the session reads them or not.
func (s *session) rowsPerResponse(target int) (int64, error) {
	s.sizing.Do(func() {
		n := min(int64(sizeProbeRows), s.version.rows.numRows())
		rec, err := s.version.rows.read(0, n, memory.DefaultAllocator)
		if err != nil {
			s.sizingErr = err
			return
		}
		defer rec.Release()
		projected, err := encode.Project(rec, s.arrow, memory.DefaultAllocator)
		if err != nil {
			s.sizingErr = err
			return
		}
		defer projected.Release()
		payload, err := s.encode(projected)
		if err != nil {
			s.sizingErr = err
			return
		}
		perRow := max(float64(len(payload))/float64(max(n, 1)), 1)
		s.perResponse = max(int64(float64(target)*0.9/perRow), 1)
	})
	return s.perResponse, s.sizingErr
}

// payload returns the encoded rows [pos, pos+n) of a stream, fewer when they do not fit in target
// bytes or the stream has fewer (then it returns how many rows it holds; none at the stream's end),
// and the unfiltered row after the last one. Payloads are cached under the rows they hold, so that
// any stream (or session) that reads the same rows finds them.
func (s *session) payload(ctx context.Context, cache *payloadCache, st *readStream, pos, n int64, target int) ([]byte, int64, int64, error) {
	for {
		ps, skip, got, err := st.window(ctx, pos, n)
		if err != nil || got == 0 {
			return nil, 0, 0, err
		}
		key := payloadKey(s.cacheKey, ps, skip, got, !s.selective())
		if p, rows, end, ok := cache.get(key); ok {
			return p, rows, end, nil
		}
		rec, end, err := s.read(ps, skip, got)
		if err != nil {
			return nil, 0, 0, err
		}
		p, err := s.encode(rec)
		rec.Release()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("encode rows [%d, %d): %w", pos, pos+got, err)
		}
		if len(p) > target && got > 1 {
			n = got / 2
			continue
		}
		cache.put(key, p, got, end)
		return p, got, end, nil
	}
}

// payloadKey names a payload by the runs of unfiltered rows it was read from, the rows skipped in
// them and its row count; without a row restriction or sample (exact), by its first row instead of
// the skip, so that streams that read the same rows from different pieces share it.
func payloadKey(cacheKey string, ps []piece, skip, n int64, exact bool) string {
	first := ps[0].lo
	if exact {
		first, skip = first+skip, 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%d", cacheKey, first)
	for i := 1; i < len(ps); i++ {
		if ps[i].lo != ps[i-1].hi {
			fmt.Fprintf(&b, "-%d,%d", ps[i-1].hi, ps[i].lo)
		}
	}
	fmt.Fprintf(&b, "|%d|%d", skip, n)
	return b.String()
}

// cacheKeyFor names everything that determines a session's payload bytes besides the row range.
func cacheKeyFor(v *tableVersion, o *storagepb.ReadSession_TableReadOptions, format storagepb.DataFormat, compression string) string {
	sample := "all"
	if p := samplePercentage(o); p != nil {
		sample = strconv.FormatFloat(*p, 'g', -1, 64)
	}
	return strings.Join([]string{v.key, strings.Join(o.GetSelectedFields(), ","), o.GetRowRestriction(), sample, format.String(), compression,
		o.GetArrowSerializationOptions().GetPicosTimestampPrecision().String(), o.GetAvroSerializationOptions().GetPicosTimestampPrecision().String()}, "|")
}
