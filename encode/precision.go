package encode

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/internal/civil"
)

// ErrTimestampRange is wrapped when a picosecond TIMESTAMP cannot be served as nanoseconds: it is
// before 1677-09-21 or after 2262-04-11, outside int64 nanoseconds.
var ErrTimestampRange = errors.New("encode: TIMESTAMP outside the range of int64 nanoseconds")

// ServeTimestamps returns rec with the schema target, a read session's schema of rec's columns
// (schema.ArrowSchema(schema.Served(...))): columns whose type is already the target's are shared;
// a TIMESTAMP(12) held as ISO 8601 text (schema.ArrowSchema of the table) that target has as a
// timestamp[us] or timestamp[ns], at any depth, is parsed and truncated toward the past to that
// unit, as picos_timestamp_precision MICROS and NANOS do. The caller releases the result.
func ServeTimestamps(rec arrow.Record, target *arrow.Schema, mem memory.Allocator) (arrow.Record, error) {
	cols := make([]arrow.Array, target.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range target.Fields() {
		d, err := serveData(rec.Column(i).Data(), f.Type, mem)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	return array.NewRecord(target, cols, rec.NumRows()), nil
}

// serveData returns d with the type target; the caller releases it.
func serveData(d arrow.ArrayData, target arrow.DataType, mem memory.Allocator) (arrow.ArrayData, error) {
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
	var targets []arrow.DataType
	switch tt := target.(type) {
	case *arrow.TimestampType:
		return picosToUnit(d, tt, mem)
	case *arrow.ListType:
		targets = []arrow.DataType{tt.Elem()}
	case *arrow.StructType:
		for _, f := range tt.Fields() {
			targets = append(targets, f.Type)
		}
	}
	if len(targets) != len(d.Children()) {
		return nil, fmt.Errorf("%w: cannot serve %s as %s", ErrSchemaMismatch, d.DataType(), target)
	}
	for k, child := range d.Children() {
		c, err := serveData(child, targets[k], mem)
		if err != nil {
			return nil, err
		}
		children = append(children, c)
	}
	return array.NewData(target, d.Len(), d.Buffers(), children, d.NullN(), d.Offset()), nil
}

// picosToUnit parses ISO 8601 picosecond text into timestamps of unit's unit.
func picosToUnit(d arrow.ArrayData, unit *arrow.TimestampType, mem memory.Allocator) (arrow.ArrayData, error) {
	if d.DataType().ID() != arrow.STRING || (unit.Unit != arrow.Microsecond && unit.Unit != arrow.Nanosecond) {
		return nil, fmt.Errorf("%w: cannot serve %s as %s", ErrSchemaMismatch, d.DataType(), unit)
	}
	text := array.NewStringData(d)
	defer text.Release()
	b := array.NewTimestampBuilder(mem, unit)
	defer b.Release()
	b.Reserve(text.Len())
	for i := range text.Len() {
		if text.IsNull(i) {
			b.AppendNull()
			continue
		}
		p, err := civil.ParseISOPicos(text.Value(i))
		if err != nil {
			return nil, fmt.Errorf("%w: TIMESTAMP text %q", ErrSchemaMismatch, text.Value(i))
		}
		v, ok := p.Micros(), true
		if unit.Unit == arrow.Nanosecond {
			v, ok = p.Nanos()
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrTimestampRange, text.Value(i))
		}
		b.Append(arrow.Timestamp(v))
	}
	arr := b.NewArray()
	defer arr.Release()
	d = arr.Data()
	d.Retain()
	return d, nil
}
