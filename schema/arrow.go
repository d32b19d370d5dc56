package schema

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Field metadata keys and values that the Storage Read API puts on Arrow fields whose BigQuery type
// has no Arrow type of its own.
const (
	ExtensionName     = "ARROW:extension:name"
	ExtensionMetadata = "ARROW:extension:metadata"
	extDateTime       = "google:sqlType:datetime"
	extGeography      = "google:sqlType:geography"
	extJSON           = "google:sqlType:json"
	extRange          = "google:sqlType:range"
	extInterval       = "google:sqlType:interval"
	extTimestamp      = "google:sqlType:timestamp" // a TIMESTAMP(12) served as ISO 8601 text (picos)
	geographyMetadata = `{"encoding": "WKT"}`
)

// Arrow types shared by the mapping and its inverse.
var (
	NumericType    = &arrow.Decimal128Type{Precision: 38, Scale: 9}
	BigNumericType = &arrow.Decimal256Type{Precision: 76, Scale: 38}
	TimestampType  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	// TimestampNanosType is a TIMESTAMP(12) column served as nanoseconds.
	TimestampNanosType = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	DateTimeType       = &arrow.TimestampType{Unit: arrow.Microsecond}
)

// ArrowSchema maps s to the Arrow schema the Storage Read API sends for it: the types of the
// storage-read-api.md table, nullability from the mode, lists for REPEATED (with non-null elements),
// and the google:sqlType extension metadata for DATETIME, GEOGRAPHY, JSON, INTERVAL and RANGE.
// A TIMESTAMP of precision Nanos is a timestamp[ns, UTC]; one of precision Picos is a string (the
// ISO 8601 text the proto documents) marked google:sqlType:timestamp.
func ArrowSchema(s Schema) *arrow.Schema {
	fields := make([]arrow.Field, len(s))
	for i, f := range s {
		fields[i] = ArrowField(f)
	}
	return arrow.NewSchema(fields, nil)
}

// ArrowField maps one column to its Arrow field.
func ArrowField(f *Field) arrow.Field {
	elem := arrow.Field{Name: f.Name, Type: arrowType(f), Nullable: f.Nullable(), Metadata: arrowMetadata(f)}
	if !f.Repeated() {
		return elem
	}
	elem.Name, elem.Nullable = "item", false
	return arrow.Field{Name: f.Name, Type: arrow.ListOfField(elem), Nullable: false}
}

func arrowType(f *Field) arrow.DataType {
	switch f.Type {
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Numeric:
		return NumericType
	case BigNumeric:
		return BigNumericType
	case String, Geography, JSON:
		return arrow.BinaryTypes.String
	case Bytes:
		return arrow.BinaryTypes.Binary
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Time:
		return arrow.FixedWidthTypes.Time64us
	case DateTime:
		return DateTimeType
	case Timestamp:
		switch f.TimestampPrecision {
		case Nanos:
			return TimestampNanosType
		case Picos:
			return arrow.BinaryTypes.String
		}
		return TimestampType
	case Interval:
		return arrow.FixedWidthTypes.MonthDayNanoInterval
	case Range:
		elem := &Field{Type: f.RangeElementType.Type}
		bound, md := arrowType(elem), arrowMetadata(elem)
		return arrow.StructOf(
			arrow.Field{Name: "start", Type: bound, Nullable: true, Metadata: md},
			arrow.Field{Name: "end", Type: bound, Nullable: true, Metadata: md})
	case Struct:
		fields := make([]arrow.Field, len(f.Fields))
		for i, c := range f.Fields {
			fields[i] = ArrowField(c)
		}
		return arrow.StructOf(fields...)
	}
	panic(fmt.Sprintf("schema: no Arrow type for %s", f.Type)) // Parse rejects unknown types
}

func arrowMetadata(f *Field) arrow.Metadata {
	if f.PicosColumn() {
		return arrow.NewMetadata([]string{ExtensionName}, []string{extTimestamp})
	}
	switch f.Type {
	case DateTime:
		return arrow.NewMetadata([]string{ExtensionName}, []string{extDateTime})
	case Geography:
		return arrow.NewMetadata([]string{ExtensionName, ExtensionMetadata}, []string{extGeography, geographyMetadata})
	case JSON:
		return arrow.NewMetadata([]string{ExtensionName}, []string{extJSON})
	case Interval:
		return arrow.NewMetadata([]string{ExtensionName}, []string{extInterval})
	case Range:
		return arrow.NewMetadata([]string{ExtensionName}, []string{extRange})
	}
	return arrow.Metadata{}
}

// FromArrow recovers the BigQuery schema from an Arrow schema sent by the Storage Read API (or
// made by ArrowSchema), using the types and the google:sqlType metadata.
func FromArrow(s *arrow.Schema) (Schema, error) {
	out := make(Schema, s.NumFields())
	for i, f := range s.Fields() {
		bf, err := fromArrowField(f)
		if err != nil {
			return nil, err
		}
		out[i] = bf
	}
	return out, nil
}

func fromArrowField(f arrow.Field) (*Field, error) {
	mode := Required
	if f.Nullable {
		mode = Nullable
	}
	if lt, ok := f.Type.(*arrow.ListType); ok {
		elem, err := fromArrowField(lt.ElemField())
		if err != nil {
			return nil, err
		}
		elem.Name, elem.Mode = f.Name, Repeated
		return elem, nil
	}
	out := &Field{Name: f.Name, Mode: mode}
	ext, _ := f.Metadata.GetValue(ExtensionName)
	t, err := fromArrowType(f.Type, ext)
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", f.Name, err)
	}
	out.Type = t
	if t == Timestamp {
		out.TimestampPrecision = arrowPrecision(f.Type)
	}
	st, _ := f.Type.(*arrow.StructType)
	switch {
	case t == Range:
		bound, _ := st.FieldByName("start")
		bext, _ := bound.Metadata.GetValue(ExtensionName)
		bt, err := fromArrowType(bound.Type, bext)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		out.RangeElementType = &RangeElementType{Type: bt}
	case t == Struct:
		for _, c := range st.Fields() {
			bc, err := fromArrowField(c)
			if err != nil {
				return nil, err
			}
			out.Fields = append(out.Fields, bc)
		}
	}
	return out, nil
}

func fromArrowType(dt arrow.DataType, ext string) (Type, error) {
	switch dt.ID() {
	case arrow.BOOL:
		return Bool, nil
	case arrow.INT64:
		return Int64, nil
	case arrow.FLOAT64:
		return Float64, nil
	case arrow.DECIMAL128:
		return Numeric, nil
	case arrow.DECIMAL256:
		return BigNumeric, nil
	case arrow.STRING, arrow.LARGE_STRING:
		switch ext {
		case extGeography:
			return Geography, nil
		case extJSON:
			return JSON, nil
		case extTimestamp:
			return Timestamp, nil
		}
		return String, nil
	case arrow.BINARY, arrow.LARGE_BINARY:
		return Bytes, nil
	case arrow.DATE32:
		return Date, nil
	case arrow.TIME64:
		return Time, nil
	case arrow.TIMESTAMP:
		if dt.(*arrow.TimestampType).TimeZone == "" || ext == extDateTime {
			return DateTime, nil
		}
		return Timestamp, nil
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return Interval, nil
	case arrow.STRUCT:
		if ext == extRange {
			return Range, nil
		}
		return Struct, nil
	}
	return "", fmt.Errorf("schema: no BigQuery type for Arrow type %s", dt)
}

// arrowPrecision is the precision of a TIMESTAMP served as dt: Picos for text, Nanos for
// nanoseconds, else the default.
func arrowPrecision(dt arrow.DataType) Digits {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return Picos
	case arrow.TIMESTAMP:
		if dt.(*arrow.TimestampType).Unit == arrow.Nanosecond {
			return Nanos
		}
	}
	return 0
}
