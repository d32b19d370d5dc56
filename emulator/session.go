package emulator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/bqread/bqread/emulator/filter"
	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

// sessionTTL is how long a read session lives, as on the real service.
const sessionTTL = 6 * time.Hour

// filterChunk is how many rows a filter is evaluated on at a time.
const filterChunk = 64 << 10

// span is a run of consecutive rows [lo, hi) of a table version.
type span struct{ lo, hi int64 }

// session is one read session: a pinned table version, the selected rows and columns, the format.
// It is immutable after creation except for the measured rows per response.
type session struct {
	name        string
	version     *tableVersion
	selected    schema.Schema
	arrow       *arrow.Schema // of the selected columns, as the table holds them
	wire        *arrow.Schema // of the selected columns, as the session serves them (setWireSchemas)
	precision   schema.Digits // TIMESTAMP(12) columns are served in this precision
	format      storagepb.DataFormat
	compression string  // "", "lz4" or "zstd"
	lz4         bool    // each payload is sent as one raw LZ4 block (response_compression_codec)
	arrowSchema []byte  // serialized schema message (Arrow)
	avroSchema  string  // (Avro)
	spans       []span  // the rows the session reads, in order (all rows when there is no filter)
	starts      []int64 // starts[i] is the position of spans[i]'s first row among the session's rows
	rows        int64   // total of spans
	scanned     int64   // rows of the partitions the row restriction does not prune
	expire      time.Time
	cacheKey    string // identifies everything that determines payload bytes except the row range

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

// maxSelectedRuns bounds the runs of consecutive rows that one session's row selection holds, and so
// its memory: a row_restriction or sample_percentage that scatters the kept rows over more runs is
// refused rather than held.
const maxSelectedRuns = 1 << 22

// errScattered is a row selection of more than maxSelectedRuns runs.
var errScattered = errors.New("emulator: row selection too scattered")

// selectBatchChunks is how many chunks of filterChunk rows are selected in parallel before their
// spans are merged, as a multiple of GOMAXPROCS.
const selectBatchChunks = 4

// selectRows returns the rows of a table version that the session reads, as spans: the rows in the
// blocks the sampler keeps that match the row restriction (nil sampler and nil filter keep all). Its
// memory is bounded by the spans it returns, at most maxSelectedRuns of them, never by the table:
// chunks of rows are generated and filtered in parallel a batch at a time, and their spans merged
// before the next batch. It stops when ctx is done.
func selectRows(ctx context.Context, v *tableVersion, f *filter.Filter, keep sampler) ([]span, int64, error) {
	total := v.rows.numRows()
	if f == nil && keep == nil {
		if total == 0 {
			return nil, 0, nil
		}
		return []span{{0, total}}, total, nil
	}
	batch := make([][]span, selectBatchChunks*runtime.GOMAXPROCS(0))
	var spans []span
	var n int64
	for lo := int64(0); lo < total; lo += int64(len(batch)) * filterChunk {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if err := selectBatch(v, f, keep, lo, total, batch); err != nil {
			return nil, 0, err
		}
		for _, chunk := range batch {
			for _, sp := range chunk {
				spans = appendRows(spans, sp.lo, sp.hi)
				n += sp.hi - sp.lo
			}
		}
		if len(spans) > maxSelectedRuns {
			return nil, 0, fmt.Errorf("%w: the kept rows of %s fall in more than %d separate runs", errScattered, v.ref, maxSelectedRuns)
		}
	}
	return spans, n, nil
}

// selectBatch selects among the len(out) chunks of rows that start at row lo, in parallel: out[i]
// gets the spans of chunk i, nil past the table's total rows.
func selectBatch(v *tableVersion, f *filter.Filter, keep sampler, lo, total int64, out [][]span) error {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range out {
		from := lo + int64(i)*filterChunk
		out[i] = nil
		if from >= total {
			continue
		}
		g.Go(func() error {
			var err error
			out[i], err = selectChunk(v, f, keep, from, min(from+filterChunk, total))
			return err
		})
	}
	return g.Wait()
}

// selectChunk selects among rows [lo, hi).
func selectChunk(v *tableVersion, f *filter.Filter, keep sampler, lo, hi int64) ([]span, error) {
	var mask []bool
	if f != nil {
		rec, err := v.rows.read(lo, hi, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		mask = f.Eval(rec)
		rec.Release()
	}
	var spans []span
	for row := lo; row < hi; {
		// Rows are taken a sampling block (or the rest of the chunk) at a time.
		blockEnd := min((row/sampleBlockRows+1)*sampleBlockRows, hi)
		if keep != nil && !keep(row) {
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
	return spans, nil
}

// read returns the session's rows [lo, hi) (positions among the selected rows) with the selected
// columns. The underlying rows are read once, as the one range that covers them, and the selected
// runs are sliced out of it. The caller releases the record.
func (s *session) read(lo, hi int64) (arrow.Record, error) {
	runs := s.runs(lo, hi)
	if len(runs) == 0 {
		return nil, fmt.Errorf("emulator: rows [%d, %d) outside the session's %d rows", lo, hi, s.rows)
	}
	base := runs[0].lo
	covering, err := s.version.rows.read(base, runs[len(runs)-1].hi, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	full := covering
	if len(runs) > 1 {
		parts := make([]arrow.Record, len(runs))
		for i, r := range runs {
			parts[i] = covering.NewSlice(r.lo-base, r.hi-base)
		}
		covering.Release()
		if full, err = concatRecords(parts, memory.DefaultAllocator); err != nil {
			return nil, err
		}
	}
	defer full.Release()
	return projectRecord(full, s.arrow)
}

// runs returns the underlying row ranges that hold the session's rows [lo, hi), in order.
func (s *session) runs(lo, hi int64) []span {
	// Find the first span holding position lo; spans are few without a filter, and in order.
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] > lo }) - 1
	var out []span
	for ; i >= 0 && i < len(s.spans) && s.starts[i] < hi; i++ {
		sp, pos := s.spans[i], s.starts[i]
		from := sp.lo + max(lo-pos, 0)
		to := sp.lo + min(hi-pos, sp.hi-sp.lo)
		out = append(out, span{from, to})
	}
	return out
}

// projectRecord keeps the columns (and nested fields) of target, which must be a projection of the
// record's schema made by schema.Select. The caller releases the result.
func projectRecord(rec arrow.Record, target *arrow.Schema) (arrow.Record, error) {
	cols := make([]arrow.Array, target.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range target.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("emulator: projected column %q not in the table", f.Name)
		}
		d, err := projectData(rec.Column(idx[0]).Data(), f.Type)
		if err != nil {
			return nil, fmt.Errorf("project column %q: %w", f.Name, err)
		}
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	return array.NewRecord(target, cols, rec.NumRows()), nil
}

// projectData rebuilds d with the type target, which may keep fewer fields of its structs. The
// buffers are shared, not copied. The caller releases the result.
func projectData(d arrow.ArrayData, target arrow.DataType) (arrow.ArrayData, error) {
	if arrow.TypeEqual(d.DataType(), target) {
		d.Retain()
		return d, nil
	}
	var children []arrow.ArrayData
	defer func() {
		for _, c := range children {
			c.Release()
		}
	}()
	switch tt := target.(type) {
	case *arrow.ListType:
		child, err := projectData(d.Children()[0], tt.Elem())
		if err != nil {
			return nil, err
		}
		children = append(children, child)
	case *arrow.StructType:
		src, ok := d.DataType().(*arrow.StructType)
		if !ok {
			return nil, fmt.Errorf("want a struct, have %s", d.DataType())
		}
		for _, f := range tt.Fields() {
			idx, ok := src.FieldIdx(f.Name)
			if !ok {
				return nil, fmt.Errorf("no field %q", f.Name)
			}
			child, err := projectData(d.Children()[idx], f.Type)
			if err != nil {
				return nil, err
			}
			children = append(children, child)
		}
	default:
		return nil, fmt.Errorf("cannot project %s onto %s", d.DataType(), target)
	}
	return array.NewData(target, d.Len(), d.Buffers(), children, d.NullN(), d.Offset()), nil
}

// encode turns a record of the session's columns into one payload of the session's format.
func (s *session) encode(rec arrow.Record) ([]byte, error) {
	rec, err := encode.ServeTimestamps(rec, s.wire, memory.DefaultAllocator)
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

// rowsPerResponse measures, once, how many rows fit in target bytes of encoded payload.
func (s *session) rowsPerResponse(target int) (int64, error) {
	s.sizing.Do(func() {
		n := min(int64(sizeProbeRows), s.rows)
		rec, err := s.read(0, n)
		if err != nil {
			s.sizingErr = err
			return
		}
		defer rec.Release()
		payload, err := s.encode(rec)
		if err != nil {
			s.sizingErr = err
			return
		}
		perRow := max(float64(len(payload))/float64(n), 1)
		s.perResponse = max(int64(float64(target)*0.9/perRow), 1)
	})
	return s.perResponse, s.sizingErr
}

// payload returns the encoded rows [lo, hi) of the session, fewer when they do not fit in target
// bytes (then it returns how many rows it holds). Payloads are cached.
func (s *session) payload(cache *payloadCache, lo, hi int64, target int) ([]byte, int64, error) {
	for {
		key := fmt.Sprintf("%s|%d-%d", s.cacheKey, lo, hi)
		if p, n, ok := cache.get(key); ok {
			return p, n, nil
		}
		rec, err := s.read(lo, hi)
		if err != nil {
			return nil, 0, err
		}
		p, err := s.encode(rec)
		rec.Release()
		if err != nil {
			return nil, 0, fmt.Errorf("encode rows [%d, %d): %w", lo, hi, err)
		}
		if len(p) > target && hi-lo > 1 {
			hi = lo + (hi-lo)/2
			continue
		}
		cache.put(key, p, hi-lo)
		return p, hi - lo, nil
	}
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

// spanStarts returns the position of each span's first row among all the spans' rows.
func spanStarts(spans []span) []int64 {
	starts := make([]int64, len(spans))
	var pos int64
	for i, sp := range spans {
		starts[i] = pos
		pos += sp.hi - sp.lo
	}
	return starts
}
