package schema

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// avroRoot is the name BigQuery gives the top-level Avro record.
const avroRoot = "__root__"

// AvroSchema maps s to the JSON Avro schema the Storage Read API sends for it: a top-level record
// named __root__, ["null", T] unions for NULLABLE columns, arrays for REPEATED ones, BigQuery's logical
// types and sqlType annotations. Nested records are named by their column path joined with "__";
// a RANGE record type is defined once as google.sqlType.RANGE_<T> and referenced by name after that.
// A column whose name Avro does not allow (a flexible column name) gets the name AvroName gives it
// and a "displayName" attribute with its own name.
func AvroSchema(s Schema) string { return avroSchema(s, false) }

// AvroSchemaDisplayNames is AvroSchema with a "displayName" attribute on every field, as a read
// session with enable_display_name_attribute sends it.
func AvroSchemaDisplayNames(s Schema) string { return avroSchema(s, true) }

func avroSchema(s Schema, displayAll bool) string {
	w := avroWriter{defined: map[string]bool{}, displayAll: displayAll}
	root := map[string]any{"type": "record", "name": avroRoot, "fields": w.fields(s, "")}
	b, _ := json.Marshal(root)
	return string(b)
}

// AvroName returns name if Avro allows it as a field name ([A-Za-z_][A-Za-z0-9_]*), else a
// placeholder that it allows: "_" and the hexadecimal of name's UTF-8 bytes. ok reports whether
// name was allowed.
func AvroName(name string) (avroName string, ok bool) {
	if avroNameRE.MatchString(name) {
		return name, true
	}
	return "_" + hex.EncodeToString([]byte(name)), false
}

var avroNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// AvroNamesValid reports whether every column name of s, at any depth, is an Avro name, which a
// read session in Avro without enable_display_name_attribute requires.
func AvroNamesValid(s Schema) bool {
	for _, f := range s {
		if _, ok := AvroName(f.Name); !ok || !AvroNamesValid(f.Fields) {
			return false
		}
	}
	return true
}

// avroWriter maps a schema to Avro: defined holds the RANGE record types defined so far.
type avroWriter struct {
	defined    map[string]bool
	displayAll bool
}

func (w avroWriter) fields(fields []*Field, prefix string) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		name, ok := AvroName(f.Name)
		t := w.typ(f, prefix+name)
		if f.Repeated() {
			t = map[string]any{"type": "array", "items": t}
		} else if f.Nullable() {
			t = []any{"null", t}
		}
		field := map[string]any{"name": name, "type": t}
		if !ok || w.displayAll {
			field["displayName"] = f.Name
		}
		out[i] = field
	}
	return out
}

func (w avroWriter) typ(f *Field, path string) any {
	switch f.Type {
	case Bool:
		return "boolean"
	case Int64:
		return "long"
	case Float64:
		return "double"
	case Numeric:
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 9}
	case BigNumeric:
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": 77, "scale": 38}
	case String:
		return "string"
	case Bytes:
		return "bytes"
	case Date:
		return map[string]any{"type": "int", "logicalType": "date"}
	case Time:
		return map[string]any{"type": "long", "logicalType": "time-micros"}
	case DateTime:
		return map[string]any{"type": "string", "logicalType": "datetime"}
	case Timestamp:
		switch f.TimestampPrecision {
		case Nanos:
			return map[string]any{"type": "long", "logicalType": "timestamp-nanos"}
		case Picos:
			return map[string]any{"type": "string", "sqlType": string(Timestamp)}
		}
		return map[string]any{"type": "long", "logicalType": "timestamp-micros"}
	case Geography, JSON, Interval:
		return map[string]any{"type": "string", "sqlType": string(f.Type)}
	case Range:
		name := "google.sqlType.RANGE_" + string(f.RangeElementType.Type)
		if w.defined[name] {
			return name
		}
		w.defined[name] = true
		bound := []any{"null", w.typ(&Field{Type: f.RangeElementType.Type}, "")}
		return map[string]any{"type": "record", "name": name, "fields": []any{
			map[string]any{"name": "start", "type": bound},
			map[string]any{"name": "end", "type": bound},
		}}
	case Struct:
		return map[string]any{"type": "record", "name": strings.ReplaceAll(path, ".", "__"),
			"fields": w.fields(f.Fields, path+".")}
	}
	panic(fmt.Sprintf("schema: no Avro type for %s", f.Type)) // Parse rejects unknown types
}

// FromAvro recovers the BigQuery schema from the JSON Avro schema of a read session (or one made by
// AvroSchema), using the logical types and sqlType annotations. A string without an annotation is
// STRING. It takes the Avro that BigQuery writes: a NULLABLE column is a ["null", T] union, null
// first, and a FLOAT64 a double (an Avro float is refused); records nest at most 64 deep.
func FromAvro(avroJSON string) (Schema, error) {
	s, _, err := FromAvroDecimals(avroJSON)
	return s, err
}

// FromAvroDecimals is FromAvro that also returns the scale the Avro schema states for each decimal
// column, by dotted column path ("st.price"; an array's items have the array's path). BigQuery's
// NUMERIC and BIGNUMERIC state 9 and 38; a parameterized NUMERIC(10, 2) may state 2. A decoder of
// the rows needs the scale, which the BigQuery schema does not hold.
func FromAvroDecimals(avroJSON string) (Schema, map[string]int32, error) {
	var root map[string]any
	if err := json.Unmarshal([]byte(avroJSON), &root); err != nil || root["type"] != "record" {
		return nil, nil, fmt.Errorf("%w: Avro schema is not a JSON record schema", ErrInvalid)
	}
	w := avroWalk{named: map[string]map[string]any{}, scales: map[string]int32{}}
	s, err := w.fields(root["fields"], "", 0)
	if err != nil {
		return nil, nil, err
	}
	return s, w.scales, nil
}

// Bounds on the walk of an Avro schema: maxAvroDepth on the nesting of records, and maxAvroSteps
// on the types walked, so that records referred to by name many times over cannot blow it up.
// BigQuery's limits (15 levels, 10,000 columns, a few types each) are far below both.
const (
	maxAvroDepth = 64
	maxAvroSteps = 1 << 18
)

// avroWalk is one walk of a parsed JSON Avro schema: it builds the BigQuery schema and notes the
// decimal scales.
type avroWalk struct {
	named  map[string]map[string]any // records defined so far, by full name, for references
	scales map[string]int32          // decimal scales by dotted column path
	steps  int
}

// fields maps a record's fields; prefix is the record's dotted path and a dot, or "" at the top.
func (w *avroWalk) fields(v any, prefix string, depth int) (Schema, error) {
	if depth > maxAvroDepth {
		return nil, fmt.Errorf("%w: Avro records nest deeper than %d at %q", ErrInvalid, maxAvroDepth, prefix)
	}
	list, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("%w: Avro record fields %v", ErrInvalid, v)
	}
	out := make(Schema, 0, len(list))
	for _, item := range list {
		field, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: Avro field %v", ErrInvalid, item)
		}
		name, _ := field["name"].(string)
		if display, ok := field["displayName"].(string); ok {
			name = display
		}
		f := &Field{Name: name, Mode: Required}
		if err := w.typ(f, field["type"], prefix+name, depth); err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// typ fills f's type and mode from one Avro type: a name, a union with null, or an object.
func (w *avroWalk) typ(f *Field, t any, path string, depth int) error {
	if w.steps++; w.steps > maxAvroSteps {
		return fmt.Errorf("%w: Avro schema has more than %d types", ErrInvalid, maxAvroSteps)
	}
	switch t := t.(type) {
	case []any:
		if len(t) != 2 || t[0] != "null" || t[1] == "null" {
			return fmt.Errorf("%w: Avro union %v: only [\"null\", T] unions are supported", ErrInvalid, t)
		}
		f.Mode = Nullable
		return w.typ(f, t[1], path, depth)
	case string:
		if n, ok := w.named[t]; ok {
			return w.node(f, n, path, depth)
		}
		return w.base(f, t, nil, path, depth)
	case map[string]any:
		return w.node(f, t, path, depth)
	}
	return fmt.Errorf("%w: Avro type %v", ErrInvalid, t)
}

func (w *avroWalk) node(f *Field, n map[string]any, path string, depth int) error {
	base, ok := n["type"].(string)
	if !ok {
		return w.typ(f, n["type"], path, depth) // {"type": {...}} wraps another type
	}
	return w.base(f, base, n, path, depth)
}

// base maps an Avro type named base, with the attributes n (nil for a bare name).
func (w *avroWalk) base(f *Field, base string, n map[string]any, path string, depth int) error {
	logical, _ := n["logicalType"].(string)
	sqlType, _ := n["sqlType"].(string)
	switch {
	case base == "array":
		f.Mode = Repeated
		return w.typ(f, n["items"], path, depth)
	case base == "record":
		return w.record(f, n, path, depth)
	case base == "float":
		return fmt.Errorf("%w: Avro float is not a BigQuery type (FLOAT64 is an Avro double)", ErrInvalid)
	case logical == "decimal":
		return w.decimal(f, n, path)
	case logical == "date":
		f.Type = Date
	case logical == "time-micros":
		f.Type = Time
	case logical == "timestamp-micros":
		f.Type = Timestamp
	case logical == "timestamp-nanos":
		f.Type, f.TimestampPrecision = Timestamp, Nanos
	case strings.EqualFold(sqlType, string(Timestamp)) && base == "string":
		f.Type, f.TimestampPrecision = Timestamp, Picos
	case logical == "datetime" || strings.EqualFold(sqlType, "DATETIME"):
		f.Type = DateTime
	case sqlType != "":
		f.Type = canonical(Type(sqlType))
	default:
		t, ok := map[string]Type{"boolean": Bool, "long": Int64, "int": Int64, "double": Float64,
			"string": String, "bytes": Bytes}[base]
		if !ok {
			return fmt.Errorf("%w: unsupported Avro type %q", ErrInvalid, base)
		}
		f.Type = t
	}
	return nil
}

// decimal maps a decimal by its precision, BIGNUMERIC above 38 digits, and notes its scale.
func (w *avroWalk) decimal(f *Field, n map[string]any, path string) error {
	precision, ok1 := wholeNumber(n["precision"], 0)
	scale, ok2 := wholeNumber(n["scale"], 0) // Avro's default scale is 0
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: Avro decimal precision %v, scale %v", ErrInvalid, n["precision"], n["scale"])
	}
	f.Type = Numeric
	if precision > 38 {
		f.Type = BigNumeric
	}
	w.scales[path] = scale
	return nil
}

// wholeNumber returns v, a JSON number, as an int32: def when v is absent, ok false when v is not
// a whole number in int32's range.
func wholeNumber(v any, def int32) (n int32, ok bool) {
	if v == nil {
		return def, true
	}
	x, ok := v.(float64)
	if !ok || x != math.Trunc(x) || x < math.MinInt32 || x > math.MaxInt32 {
		return 0, false
	}
	return int32(x), true
}

func (w *avroWalk) record(f *Field, n map[string]any, path string, depth int) error {
	full, _ := n["name"].(string)
	if ns, _ := n["namespace"].(string); ns != "" && !strings.Contains(full, ".") {
		full = ns + "." + full
	}
	if short := full[strings.LastIndex(full, ".")+1:]; strings.HasPrefix(short, "RANGE_") {
		// The element type is in the name; the start and end fields are walked only to be checked.
		if _, err := w.fields(n["fields"], path+".", depth+1); err != nil {
			return err
		}
		w.named[full] = n
		f.Type = Range
		f.RangeElementType = &RangeElementType{Type: canonical(Type(strings.TrimPrefix(short, "RANGE_")))}
		return nil
	}
	// The name is known only after the fields, so a record that contains itself (which no BigQuery
	// schema does) is an unknown type rather than an endless recursion.
	fields, err := w.fields(n["fields"], path+".", depth+1)
	if err != nil {
		return err
	}
	w.named[full] = n
	f.Type, f.Fields = Struct, fields
	return nil
}
