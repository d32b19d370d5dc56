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

// Project returns the columns of rec that target names, with target's types: target is a read
// session's schema (schema.ArrowSchema of schema.Served or schema.Select of rec's columns). A
// column, or a field of a STRUCT, is found by its name and may keep fewer fields of its STRUCTs; a
// TIMESTAMP(12) held as ISO 8601 text (schema.ArrowSchema of the table) that target has as a
// timestamp[us] or timestamp[ns], at any depth, is parsed and truncated toward the past to that
// unit, as picos_timestamp_precision MICROS and NANOS do. Everything else shares rec's buffers.
// The caller releases the result.
func Project(rec arrow.Record, target *arrow.Schema, mem memory.Allocator) (arrow.Record, error) {
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
			return nil, fmt.Errorf("%w: no column %q", ErrSchemaMismatch, f.Name)
		}
		d, err := projectData(rec.Column(idx[0]).Data(), f.Type, mem)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	return array.NewRecord(target, cols, rec.NumRows()), nil
}

// projectData returns d with the type target; the caller releases it.
func projectData(d arrow.ArrayData, target arrow.DataType, mem memory.Allocator) (arrow.ArrayData, error) {
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
	case *arrow.TimestampType:
		return picosToUnit(d, tt, mem)
	case *arrow.ListType:
		if d.DataType().ID() != arrow.LIST {
			return nil, mismatch(d, target)
		}
		child, err := projectData(d.Children()[0], tt.Elem(), mem)
		if err != nil {
			return nil, err
		}
		children = append(children, child)
	case *arrow.StructType:
		src, ok := d.DataType().(*arrow.StructType)
		if !ok {
			return nil, mismatch(d, target)
		}
		for _, f := range tt.Fields() {
			idx, ok := src.FieldIdx(f.Name)
			if !ok {
				return nil, fmt.Errorf("%w: no field %q", ErrSchemaMismatch, f.Name)
			}
			child, err := projectData(d.Children()[idx], f.Type, mem)
			if err != nil {
				return nil, err
			}
			children = append(children, child)
		}
	default:
		return nil, mismatch(d, target)
	}
	return array.NewData(target, d.Len(), d.Buffers(), children, d.NullN(), d.Offset()), nil
}

func mismatch(d arrow.ArrayData, target arrow.DataType) error {
	return fmt.Errorf("%w: cannot serve %s as %s", ErrSchemaMismatch, d.DataType(), target)
}

// picosToUnit parses ISO 8601 picosecond text into timestamps of unit's unit.
func picosToUnit(d arrow.ArrayData, unit *arrow.TimestampType, mem memory.Allocator) (arrow.ArrayData, error) {
	if d.DataType().ID() != arrow.STRING || (unit.Unit != arrow.Microsecond && unit.Unit != arrow.Nanosecond) {
		return nil, mismatch(d, unit)
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
