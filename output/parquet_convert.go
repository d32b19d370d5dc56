package output

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

// columnPlan says how one column, or one child of a nested column, is converted before Parquet
// gets it. Only INTERVAL values change (to their canonical strings); nested columns are rebuilt
// around converted children, sharing every other buffer.
type columnPlan struct {
	interval bool
	children []columnPlan // struct fields, or the one list element; nil when nothing below changes
}

func (c columnPlan) changes() bool { return c.interval || c.children != nil }

// planColumns returns the plan for each column of s (whose BigQuery schema is bq) and the Arrow
// schema of the converted records, with s's metadata.
func planColumns(s *arrow.Schema, bq schema.Schema) ([]columnPlan, *arrow.Schema) {
	plans := make([]columnPlan, s.NumFields())
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		plans[i], f.Type = planType(f.Type, bq[i])
		fields[i] = f
	}
	md := s.Metadata()
	return plans, arrow.NewSchema(fields, &md)
}

// planType plans the conversion of one Arrow type, which holds column bf (or, for a list, its
// elements), and returns the converted type.
func planType(dt arrow.DataType, bf *schema.Field) (columnPlan, arrow.DataType) {
	switch t := dt.(type) {
	case *arrow.ListType:
		elem := t.ElemField()
		plan, et := planType(elem.Type, bf)
		if !plan.changes() {
			return columnPlan{}, dt
		}
		elem.Type = et
		return columnPlan{children: []columnPlan{plan}}, arrow.ListOfField(elem)
	case *arrow.StructType:
		if bf.Type != schema.Struct {
			return columnPlan{}, dt // RANGE bounds are dates and timestamps: nothing to convert
		}
		plans := make([]columnPlan, t.NumFields())
		fields := t.Fields()
		changed := false
		for i := range fields {
			plans[i], fields[i].Type = planType(fields[i].Type, bf.Fields[i])
			changed = changed || plans[i].changes()
		}
		if !changed {
			return columnPlan{}, dt
		}
		return columnPlan{children: plans}, arrow.StructOf(fields...)
	}
	if bf.Type == schema.Interval {
		return columnPlan{interval: true}, arrow.BinaryTypes.String
	}
	return columnPlan{}, dt
}

// convertRecord returns rec converted by plans to schema s. Unchanged columns are shared with rec.
// The caller releases the result.
func convertRecord(rec arrow.Record, s *arrow.Schema, plans []columnPlan, mem memory.Allocator) (arrow.Record, error) {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		data, err := convertData(c.Data(), s.Field(i).Type, plans[i], mem)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", s.Field(i).Name, err)
		}
		cols[i] = array.MakeFromData(data)
		data.Release()
	}
	return array.NewRecordBatch(s, cols, rec.NumRows()), nil
}

// convertData converts one array's data to type dt. The caller releases the result.
func convertData(d arrow.ArrayData, dt arrow.DataType, plan columnPlan, mem memory.Allocator) (arrow.ArrayData, error) {
	if !plan.changes() {
		d.Retain()
		return d, nil
	}
	if plan.interval {
		return intervalStrings(d, mem)
	}
	var childTypes []arrow.DataType
	switch t := dt.(type) {
	case *arrow.ListType:
		childTypes = []arrow.DataType{t.Elem()}
	case *arrow.StructType:
		for _, f := range t.Fields() {
			childTypes = append(childTypes, f.Type)
		}
	default:
		return nil, fmt.Errorf("%w: no conversion of nested type %s", ErrUnsupported, dt)
	}
	children := make([]arrow.ArrayData, len(childTypes))
	defer func() {
		for _, c := range children {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range d.Children() {
		var err error
		if children[i], err = convertData(c, childTypes[i], plan.children[i], mem); err != nil {
			return nil, err
		}
	}
	return array.NewData(dt, d.Len(), d.Buffers(), children, d.NullN(), d.Offset()), nil
}

// intervalStrings turns month_day_nano interval data into BigQuery's canonical INTERVAL strings.
func intervalStrings(d arrow.ArrayData, mem memory.Allocator) (arrow.ArrayData, error) {
	in, ok := array.MakeFromData(d).(*array.MonthDayNanoInterval)
	if !ok {
		return nil, fmt.Errorf("%w: INTERVAL column of Arrow type %s", ErrUnsupported, d.DataType())
	}
	defer in.Release()
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(in.Len())
	var buf []byte
	for i := 0; i < in.Len(); i++ {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		var err error
		if buf, err = encode.AppendInterval(buf[:0], in.Value(i)); err != nil {
			return nil, err
		}
		b.BinaryBuilder.Append(buf)
	}
	out := b.NewStringArray()
	defer out.Release()
	data := out.Data()
	data.Retain()
	return data, nil
}
