// Package schema is the BigQuery table schema model: the JSON schema files of `bq show --schema`,
// column projection, and the mappings to the Arrow and Avro schemas that the Storage Read API sends
// (and back). It does no I/O and knows nothing of gRPC.
package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Type is a BigQuery standard SQL type name.
type Type string

// The BigQuery types. Legacy aliases (INTEGER, FLOAT, BOOLEAN, RECORD, DECIMAL, BIGDECIMAL) are
// normalized to these by Parse.
const (
	Bool       Type = "BOOL"
	Int64      Type = "INT64"
	Float64    Type = "FLOAT64"
	Numeric    Type = "NUMERIC"
	BigNumeric Type = "BIGNUMERIC"
	String     Type = "STRING"
	Bytes      Type = "BYTES"
	Date       Type = "DATE"
	Time       Type = "TIME"
	DateTime   Type = "DATETIME"
	Timestamp  Type = "TIMESTAMP"
	Geography  Type = "GEOGRAPHY"
	JSON       Type = "JSON"
	Interval   Type = "INTERVAL"
	Range      Type = "RANGE"
	Struct     Type = "STRUCT"
)

var aliases = map[string]Type{
	"INTEGER": Int64, "FLOAT": Float64, "BOOLEAN": Bool, "RECORD": Struct,
	"DECIMAL": Numeric, "BIGDECIMAL": BigNumeric,
}

var known = map[Type]bool{
	Bool: true, Int64: true, Float64: true, Numeric: true, BigNumeric: true, String: true,
	Bytes: true, Date: true, Time: true, DateTime: true, Timestamp: true, Geography: true,
	JSON: true, Interval: true, Range: true, Struct: true,
}

// Mode is a column's mode. The empty mode means NULLABLE.
type Mode string

// The column modes.
const (
	Nullable Mode = "NULLABLE"
	Required Mode = "REQUIRED"
	Repeated Mode = "REPEATED"
)

// Field is one column, in the form of BigQuery's JSON schema (TableFieldSchema).
type Field struct {
	Name             string            `json:"name"`
	Type             Type              `json:"type"`
	Mode             Mode              `json:"mode,omitempty"`
	Fields           []*Field          `json:"fields,omitempty"`
	RangeElementType *RangeElementType `json:"rangeElementType,omitempty"`
	Description      string            `json:"description,omitempty"`
	// TimestampPrecision is a TIMESTAMP column's precision (see Digits); 0 is the default, 6.
	TimestampPrecision Digits `json:"timestampPrecision,omitempty"`
}

// RangeElementType is the element type of a RANGE column: DATE, DATETIME or TIMESTAMP.
type RangeElementType struct {
	Type Type `json:"type"`
}

// Schema is a table's top-level columns, in table order.
type Schema []*Field

// ErrInvalid is wrapped by every error Parse returns for a malformed schema.
var ErrInvalid = errors.New("schema: invalid")

// ErrUnknownColumn is wrapped by Select when a requested column does not exist.
var ErrUnknownColumn = errors.New("schema: unknown column")

// maxDepth is BigQuery's limit on STRUCT nesting.
const maxDepth = 15

// nameRunes are the classes of the characters a column name may hold besides nameSymbols:
// letters, marks, digits, connector punctuation (such as _), dashes and spaces.
var nameRunes = []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.Pc, unicode.Pd, unicode.Zs}

const nameSymbols = "&%=+:'<>#|"

// validName reports whether name is a column name BigQuery accepts, flexible column names
// included: 1 to 300 characters of nameRunes and nameSymbols. (A regular expression of the same
// took 46 ms to compile when every process started, workers included.)
func validName(name string) bool {
	n := 0
	for _, r := range name { // invalid UTF-8 reads as U+FFFD, a symbol: refused
		if n++; n > 300 || !unicode.IsOneOf(nameRunes, r) && !strings.ContainsRune(nameSymbols, r) {
			return false
		}
	}
	return n > 0
}

// Parse reads a schema in the `bq show --schema` form (a JSON list of fields) or the tables.get form
// (an object with a "fields" list), normalizes type aliases and empty modes, and validates it.
func Parse(data []byte) (Schema, error) {
	var s Schema
	if err := json.Unmarshal(data, &s); err != nil {
		var obj struct {
			Fields Schema `json:"fields"`
		}
		if err2 := json.Unmarshal(data, &obj); err2 != nil || obj.Fields == nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		s = obj.Fields
	}
	if err := normalize(s, "", 1); err != nil {
		return nil, err
	}
	return s, nil
}

func normalize(fields []*Field, prefix string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: %s nests deeper than %d levels", ErrInvalid, prefix, maxDepth)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if f == nil {
			return fmt.Errorf("%w: null field in %q", ErrInvalid, prefix)
		}
		path := prefix + f.Name
		if !validName(f.Name) {
			return fmt.Errorf("%w: column name %q: use up to 300 letters, digits, underscores, dashes, spaces or & %% = + : ' < > # |", ErrInvalid, path)
		}
		if seen[strings.ToLower(f.Name)] {
			return fmt.Errorf("%w: duplicate column %q", ErrInvalid, path)
		}
		seen[strings.ToLower(f.Name)] = true
		if err := normalizeField(f, path, depth); err != nil {
			return err
		}
	}
	return nil
}

func normalizeField(f *Field, path string, depth int) error {
	f.Type = canonical(f.Type)
	if !known[f.Type] {
		return fmt.Errorf("%w: column %q has unknown type %q", ErrInvalid, path, f.Type)
	}
	if err := checkPrecision(f, path); err != nil {
		return err
	}
	switch Mode(strings.ToUpper(string(f.Mode))) {
	case "", Nullable:
		f.Mode = Nullable
	case Required:
		f.Mode = Required
	case Repeated:
		f.Mode = Repeated
	default:
		return fmt.Errorf("%w: column %q has unknown mode %q", ErrInvalid, path, f.Mode)
	}
	switch f.Type {
	case Struct:
		if len(f.Fields) == 0 {
			return fmt.Errorf("%w: STRUCT column %q has no fields", ErrInvalid, path)
		}
		return normalize(f.Fields, path+".", depth+1)
	case Range:
		if f.RangeElementType == nil {
			return fmt.Errorf("%w: RANGE column %q has no rangeElementType", ErrInvalid, path)
		}
		f.RangeElementType.Type = canonical(f.RangeElementType.Type)
		switch f.RangeElementType.Type {
		case Date, DateTime, Timestamp:
		default:
			return fmt.Errorf("%w: RANGE column %q: element type must be DATE, DATETIME or TIMESTAMP", ErrInvalid, path)
		}
	}
	if len(f.Fields) > 0 {
		return fmt.Errorf("%w: column %q of type %s cannot have fields", ErrInvalid, path, f.Type)
	}
	return nil
}

func canonical(t Type) Type {
	u := Type(strings.ToUpper(string(t)))
	if a, ok := aliases[string(u)]; ok {
		return a
	}
	return u
}

// Repeated reports whether f is an ARRAY column.
func (f *Field) Repeated() bool { return f.Mode == Repeated }

// Nullable reports whether f may hold NULL (repeated fields hold empty arrays instead).
func (f *Field) Nullable() bool { return f.Mode != Required && f.Mode != Repeated }

// Nested reports whether f is a STRUCT or an ARRAY, which flat formats such as CSV cannot hold.
func (f *Field) Nested() bool { return f.Type == Struct || f.Repeated() }

// Find returns the top-level field with the given name (case-insensitive, as in BigQuery), or nil.
func (s Schema) Find(name string) *Field {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// Select projects s onto the given column paths, as read_options.selected_fields does: a path is a
// top-level name or a dotted path into STRUCT columns ("s.a"); the result keeps the table's column
// order whatever the order of paths. An empty paths list selects everything. Unknown paths give an
// error wrapping ErrUnknownColumn.
func (s Schema) Select(paths []string) (Schema, error) {
	if len(paths) == 0 {
		return s, nil
	}
	tree := map[string]any{}
	for _, p := range paths {
		if err := addPath(tree, strings.Split(p, "."), s, p); err != nil {
			return nil, err
		}
	}
	return project(s, tree), nil
}

// addPath records one dotted path in tree (name → subtree, or nil for "whole field").
func addPath(tree map[string]any, parts []string, fields []*Field, full string) error {
	var f *Field
	for _, c := range fields {
		if strings.EqualFold(c.Name, parts[0]) {
			f = c
		}
	}
	if f == nil || (len(parts) > 1 && f.Type != Struct) {
		return fmt.Errorf("%w: %q", ErrUnknownColumn, full)
	}
	key := strings.ToLower(f.Name)
	if len(parts) == 1 {
		tree[key] = nil
		return nil
	}
	sub, ok := tree[key].(map[string]any)
	if !ok {
		if _, whole := tree[key]; whole {
			return nil
		}
		sub = map[string]any{}
		tree[key] = sub
	}
	return addPath(sub, parts[1:], f.Fields, full)
}

func project(fields []*Field, tree map[string]any) Schema {
	var out Schema
	for _, f := range fields {
		sub, ok := tree[strings.ToLower(f.Name)]
		if !ok {
			continue
		}
		if m, partial := sub.(map[string]any); partial {
			c := *f
			c.Fields = project(f.Fields, m)
			out = append(out, &c)
			continue
		}
		out = append(out, f)
	}
	return out
}
