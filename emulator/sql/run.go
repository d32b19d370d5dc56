package sql

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/schema"
)

// Reader returns rows [lo, hi) of the table with the Arrow schema of the schema the plan was bound
// to (schema.ArrowSchema). The caller releases the record.
type Reader func(lo, hi int64) (arrow.Record, error)

// chunkRows is how many rows of the table Run reads at a time.
const chunkRows = 64 << 10

// Run computes the query over the numRows rows of the table that read returns. It reads the
// table a chunk at a time, keeping only the rows that pass WHERE and the columns the result and
// ORDER BY need; without ORDER BY it stops reading once LIMIT and OFFSET are met. The result has
// the Arrow schema of Schema() and its rows in the query's order. The caller releases it.
func (p *Plan) Run(ctx context.Context, numRows int64, read Reader, mem memory.Allocator) (arrow.Record, error) {
	ectx := compute.WithAllocator(ctx, mem)
	want := int64(-1)
	if len(p.keys) == 0 && p.limit >= 0 {
		want = p.offset + p.limit
	}
	var parts [][]arrow.Array
	defer func() {
		for _, cols := range parts {
			releaseAll(cols)
		}
	}()
	var got int64
	for lo := int64(0); lo == 0 || lo < numRows && (want < 0 || got < want); lo += chunkRows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := read(lo, min(lo+chunkRows, numRows))
		if err != nil {
			return nil, err
		}
		cols, err := p.stage(ectx, rec, mem)
		rec.Release()
		if err != nil {
			return nil, err
		}
		parts = append(parts, cols)
		got += int64(cols[0].Len())
	}
	staged, err := concat(parts, mem)
	if err != nil {
		return nil, err
	}
	defer releaseAll(staged)
	indices := p.order(staged, mem)
	defer indices.Release()
	return p.take(ectx, staged[:len(p.outputs)], indices)
}

// staged returns the sources of the result and of the sort keys, in that order.
func (p *Plan) staged() []source {
	srcs := append([]source(nil), p.outputs...)
	for _, k := range p.keys {
		srcs = append(srcs, k.src)
	}
	return srcs
}

// stage returns, of the rows of rec that pass WHERE, the columns the result and the sort keys use.
func (p *Plan) stage(ctx context.Context, rec arrow.Record, mem memory.Allocator) ([]arrow.Array, error) {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	var keep []bool
	if p.where != nil {
		keep = p.where.Eval(rec)
	}
	for i := range int(rec.NumRows()) {
		if keep == nil || keep[i] {
			b.Append(int64(i))
		}
	}
	indices := b.NewArray()
	defer indices.Release()
	var cols []arrow.Array
	for _, src := range p.staged() {
		col := column(rec, src.path, mem)
		taken, err := takeArray(ctx, col, indices)
		col.Release()
		if err != nil {
			releaseAll(cols)
			return nil, fmt.Errorf("column %s: %w", src.field.Name, err)
		}
		cols = append(cols, taken)
	}
	return cols, nil
}

func concat(parts [][]arrow.Array, mem memory.Allocator) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(parts[0]))
	for i := range out {
		if len(parts) == 1 {
			parts[0][i].Retain()
			out[i] = parts[0][i]
			continue
		}
		col := make([]arrow.Array, len(parts))
		for j, cols := range parts {
			col[j] = cols[i]
		}
		c, err := array.Concatenate(col, mem)
		if err != nil {
			releaseAll(out[:i])
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func releaseAll(cols []arrow.Array) {
	for _, c := range cols {
		c.Release()
	}
}

// order returns the indexes of the staged rows that make the result, in order, within LIMIT and
// OFFSET.
func (p *Plan) order(staged []arrow.Array, mem memory.Allocator) arrow.Array {
	rows := make([]int, staged[0].Len())
	for i := range rows {
		rows[i] = i
	}
	if len(p.keys) > 0 {
		cmps := make([]func(a, b int) int, len(p.keys))
		for i, k := range p.keys {
			cmps[i] = k.compare(staged[len(p.outputs)+i])
		}
		slices.SortStableFunc(rows, func(a, b int) int {
			for _, c := range cmps {
				if r := c(a, b); r != 0 {
					return r
				}
			}
			return 0
		})
	}
	lo := min(int64(len(rows)), p.offset)
	hi := int64(len(rows))
	if p.limit >= 0 {
		hi = min(hi, lo+p.limit)
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for _, r := range rows[lo:hi] {
		b.Append(int64(r))
	}
	return b.NewArray()
}

// take makes the result record of the rows of cols at indices.
func (p *Plan) take(ctx context.Context, cols []arrow.Array, indices arrow.Array) (arrow.Record, error) {
	out := make([]arrow.Array, 0, len(cols))
	defer func() { releaseAll(out) }()
	for i, c := range cols {
		taken, err := takeArray(ctx, c, indices)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", p.schema[i].Name, err)
		}
		out = append(out, taken)
	}
	return array.NewRecord(schema.ArrowSchema(p.schema), out, int64(indices.Len())), nil
}

// takeArray returns the values of arr at indices (an Int64 array). Arrow's Take kernel does not
// handle every type (not INTERVAL's month_day_nano, nor lists or structs holding one); those are
// put together from slices of arr, one per run of consecutive indices.
func takeArray(ctx context.Context, arr arrow.Array, indices arrow.Array) (arrow.Array, error) {
	if taken, err := compute.TakeArray(ctx, arr, indices); err == nil {
		return taken, nil
	}
	idx := indices.(*array.Int64).Int64Values()
	var slices []arrow.Array
	defer func() { releaseAll(slices) }()
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && idx[j] == idx[j-1]+1 {
			j++
		}
		slices = append(slices, array.NewSlice(arr, idx[i], idx[j-1]+1))
		i = j
	}
	if len(slices) == 0 {
		slices = append(slices, array.NewSlice(arr, 0, 0))
	}
	return array.Concatenate(slices, compute.GetAllocator(ctx))
}

// column returns the array of a column or STRUCT field of rec. A field of a STRUCT is NULL where
// the STRUCT is, whatever its child array holds there. The caller releases the array.
func column(rec arrow.Record, path []int, mem memory.Allocator) arrow.Array {
	arr := rec.Column(path[0])
	arr.Retain()
	for _, i := range path[1:] {
		st := arr.(*array.Struct)
		child := st.Field(i)
		next := child
		if st.NullN() > 0 {
			next = withParentNulls(st, child, mem)
		} else {
			child.Retain()
		}
		arr.Release()
		arr = next
	}
	return arr
}

// withParentNulls returns child with the NULLs of its STRUCT parent added to its own.
func withParentNulls(parent *array.Struct, child arrow.Array, mem memory.Allocator) arrow.Array {
	d := child.Data()
	off, n := d.Offset(), d.Len()
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(off + n))))
	bits := buf.Bytes()
	clear(bits)
	nulls := 0
	for i := range n {
		if parent.IsValid(i) && child.IsValid(i) {
			bitutil.SetBit(bits, off+i)
		} else {
			nulls++
		}
	}
	bufs := append([]*memory.Buffer{buf}, d.Buffers()[1:]...)
	nd := array.NewData(d.DataType(), n, bufs, d.Children(), nulls, off)
	buf.Release()
	defer nd.Release()
	return array.MakeFromData(nd)
}

// compare returns a comparison of two rows of col in the key's order. NULLs come first ascending
// and last descending unless NULLS FIRST or LAST says otherwise; NaN comes right after NULL
// ascending, as in BigQuery.
func (k sortKey) compare(col arrow.Array) func(a, b int) int {
	values := valueCompare(col)
	return func(a, b int) int {
		na, nb := col.IsNull(a), col.IsNull(b)
		switch {
		case na && nb:
			return 0
		case na || nb:
			if na == k.nullsFirst {
				return -1
			}
			return 1
		}
		c := values(a, b)
		if k.desc {
			return -c
		}
		return c
	}
}

// valueCompare compares two non-null values of col. Bind admits only the types handled here.
func valueCompare(col arrow.Array) func(a, b int) int {
	switch c := col.(type) {
	case *array.Int64:
		return func(a, b int) int { return cmp.Compare(c.Value(a), c.Value(b)) }
	case *array.Float64:
		return func(a, b int) int { return compareFloat(c.Value(a), c.Value(b)) }
	case *array.Boolean:
		return func(a, b int) int { return cmp.Compare(boolInt(c.Value(a)), boolInt(c.Value(b))) }
	case *array.String:
		return func(a, b int) int { return cmp.Compare(c.Value(a), c.Value(b)) }
	case *array.Binary:
		return func(a, b int) int { return cmp.Compare(string(c.Value(a)), string(c.Value(b))) }
	case *array.Date32:
		return func(a, b int) int { return cmp.Compare(c.Value(a), c.Value(b)) }
	case *array.Time64:
		return func(a, b int) int { return cmp.Compare(c.Value(a), c.Value(b)) }
	case *array.Timestamp:
		return func(a, b int) int { return cmp.Compare(c.Value(a), c.Value(b)) }
	case *array.Decimal128:
		return func(a, b int) int { return c.Value(a).Cmp(c.Value(b)) }
	case *array.Decimal256:
		return func(a, b int) int { return c.Value(a).Cmp(c.Value(b)) }
	}
	panic(fmt.Sprintf("sql: ORDER BY of an Arrow %s", col.DataType()))
}

// compareFloat orders NaN before every number, as BigQuery does.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return cmp.Compare(a, b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
