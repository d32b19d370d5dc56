package schema

import (
	"encoding/json"
	"fmt"
	"strings"
)

// avroRoot is the name BigQuery gives the top-level Avro record.
const avroRoot = "__root__"

// AvroSchema maps s to the JSON Avro schema the Storage Read API sends for it: a top-level record
// named __root__, ["null", T] unions for NULLABLE columns, arrays for REPEATED ones, BigQuery's logical
// types and sqlType annotations. Nested records are named by their column path joined with "__";
// a RANGE record type is defined once as google.sqlType.RANGE_<T> and referenced by name after that.
func AvroSchema(s Schema) string {
	defined := map[string]bool{}
	root := map[string]any{"type": "record", "name": avroRoot, "fields": avroFields(s, "", defined)}
	b, _ := json.Marshal(root)
	return string(b)
}

func avroFields(fields []*Field, prefix string, defined map[string]bool) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		t := avroType(f, prefix+f.Name, defined)
		if f.Repeated() {
			t = map[string]any{"type": "array", "items": t}
		} else if f.Nullable() {
			t = []any{"null", t}
		}
		out[i] = map[string]any{"name": f.Name, "type": t}
	}
	return out
}

func avroType(f *Field, path string, defined map[string]bool) any {
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
		return map[string]any{"type": "long", "logicalType": "timestamp-micros"}
	case Geography, JSON, Interval:
		return map[string]any{"type": "string", "sqlType": string(f.Type)}
	case Range:
		name := "google.sqlType.RANGE_" + string(f.RangeElementType.Type)
		if defined[name] {
			return name
		}
		defined[name] = true
		bound := []any{"null", avroType(&Field{Type: f.RangeElementType.Type}, "", defined)}
		return map[string]any{"type": "record", "name": name, "fields": []any{
			map[string]any{"name": "start", "type": bound},
			map[string]any{"name": "end", "type": bound},
		}}
	case Struct:
		return map[string]any{"type": "record", "name": strings.ReplaceAll(path, ".", "__"),
			"fields": avroFields(f.Fields, path+".", defined)}
	}
	panic(fmt.Sprintf("schema: no Avro type for %s", f.Type)) // Parse rejects unknown types
}

// FromAvro recovers the BigQuery schema from the JSON Avro schema of a read session (or one made by
// AvroSchema), using the logical types and sqlType annotations. A string without an annotation is
// STRING.
func FromAvro(avroJSON string) (Schema, error) {
	var root struct {
		Type   string            `json:"type"`
		Fields []json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal([]byte(avroJSON), &root); err != nil || root.Type != "record" {
		return nil, fmt.Errorf("%w: Avro schema is not a JSON record schema", ErrInvalid)
	}
	named := map[string]avroNode{}
	return fromAvroFields(root.Fields, named)
}

// avroNode is the part of an Avro type that the inverse mapping reads.
type avroNode struct {
	Type        json.RawMessage   `json:"type"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	LogicalType string            `json:"logicalType"`
	SQLType     string            `json:"sqlType"`
	Precision   int               `json:"precision"`
	Items       json.RawMessage   `json:"items"`
	Fields      []json.RawMessage `json:"fields"`
}

func fromAvroFields(raw []json.RawMessage, named map[string]avroNode) (Schema, error) {
	out := make(Schema, 0, len(raw))
	for _, r := range raw {
		var fn struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		}
		if err := json.Unmarshal(r, &fn); err != nil {
			return nil, fmt.Errorf("%w: Avro field: %v", ErrInvalid, err)
		}
		f := &Field{Name: fn.Name, Mode: Required}
		if err := fromAvroType(f, fn.Type, named); err != nil {
			return nil, fmt.Errorf("column %q: %w", fn.Name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// fromAvroType fills f's type and mode from one Avro type: a name, a union with null, or an object.
func fromAvroType(f *Field, raw json.RawMessage, named map[string]avroNode) error {
	var union []json.RawMessage
	if json.Unmarshal(raw, &union) == nil {
		var nonNull []json.RawMessage
		for _, u := range union {
			if string(u) != `"null"` {
				nonNull = append(nonNull, u)
			}
		}
		if len(nonNull) != 1 {
			return fmt.Errorf("%w: unsupported Avro union %s", ErrInvalid, raw)
		}
		f.Mode = Nullable
		return fromAvroType(f, nonNull[0], named)
	}
	var node avroNode
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if n, ok := named[name]; ok {
			node = n
		} else {
			node.Type = raw
		}
	} else if err := json.Unmarshal(raw, &node); err != nil {
		return fmt.Errorf("%w: Avro type %s", ErrInvalid, raw)
	}
	return fromAvroNode(f, node, named)
}

func fromAvroNode(f *Field, n avroNode, named map[string]avroNode) error {
	var base string
	if json.Unmarshal(n.Type, &base) != nil {
		return fromAvroType(f, n.Type, named) // {"type": {...}} wraps another type
	}
	switch {
	case base == "array":
		f.Mode = Repeated
		return fromAvroType(f, n.Items, named)
	case base == "record":
		return fromAvroRecord(f, n, named)
	case n.LogicalType == "decimal" && n.Precision > 38:
		f.Type = BigNumeric
	case n.LogicalType == "decimal":
		f.Type = Numeric
	case n.LogicalType == "date":
		f.Type = Date
	case n.LogicalType == "time-micros":
		f.Type = Time
	case n.LogicalType == "timestamp-micros":
		f.Type = Timestamp
	case n.LogicalType == "datetime" || strings.EqualFold(n.SQLType, "DATETIME"):
		f.Type = DateTime
	case n.SQLType != "":
		f.Type = canonical(Type(n.SQLType))
	default:
		t, ok := map[string]Type{"boolean": Bool, "long": Int64, "int": Int64, "double": Float64,
			"float": Float64, "string": String, "bytes": Bytes}[base]
		if !ok {
			return fmt.Errorf("%w: unsupported Avro type %q", ErrInvalid, base)
		}
		f.Type = t
	}
	return nil
}

func fromAvroRecord(f *Field, n avroNode, named map[string]avroNode) error {
	full := n.Name
	if n.Namespace != "" && !strings.Contains(full, ".") {
		full = n.Namespace + "." + full
	}
	if short := full[strings.LastIndex(full, ".")+1:]; strings.HasPrefix(short, "RANGE_") {
		named[full] = n
		f.Type = Range
		f.RangeElementType = &RangeElementType{Type: canonical(Type(strings.TrimPrefix(short, "RANGE_")))}
		return nil
	}
	// The name is known only after the fields, so a record that contains itself (which no BigQuery
	// schema does) is an unknown type rather than an endless recursion.
	fields, err := fromAvroFields(n.Fields, named)
	if err != nil {
		return err
	}
	named[full] = n
	f.Type, f.Fields = Struct, fields
	return nil
}
