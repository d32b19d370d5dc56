package decode

import (
	"encoding/json"
	"fmt"
	"strings"
)

// avroFacts is what the Avro decoder needs from the JSON Avro schema beyond schema.FromAvro: the
// scale of each decimal column, by dotted column path. Walking the schema also rejects what the
// decoder cannot read: unions other than ["null", T], and 4-byte floats.
type avroFacts struct {
	scales  map[string]int32
	records map[string]map[string]any // named records, for references by name
	steps   int                       // types walked, bounded by maxAvroSteps
}

func readAvroFacts(avroJSON string) (*avroFacts, error) {
	var root map[string]any
	if err := json.Unmarshal([]byte(avroJSON), &root); err != nil {
		return nil, fmt.Errorf("decode: Avro schema: %w", err)
	}
	f := &avroFacts{scales: map[string]int32{}, records: map[string]map[string]any{}}
	if err := f.record(root, ""); err != nil {
		return nil, fmt.Errorf("decode: Avro schema: %w", err)
	}
	return f, nil
}

func (f *avroFacts) record(node map[string]any, prefix string) error {
	if name, ok := node["name"].(string); ok {
		f.records[name] = node
		if ns, ok := node["namespace"].(string); ok {
			f.records[ns+"."+name] = node
		}
	}
	fields, _ := node["fields"].([]any)
	for _, raw := range fields {
		field, _ := raw.(map[string]any)
		name, _ := field["name"].(string)
		if err := f.walk(field["type"], prefix+name); err != nil {
			return err
		}
	}
	return nil
}

// maxAvroDepth bounds the nesting of the walk, so that a record that refers to itself ends it,
// and maxAvroSteps its length, so that records referred to many times over cannot blow it up.
const (
	maxAvroDepth = 64
	maxAvroSteps = 1 << 20
)

func (f *avroFacts) walk(t any, path string) error {
	if f.steps++; f.steps > maxAvroSteps || strings.Count(path, ".") > maxAvroDepth {
		return fmt.Errorf("column %q: schema nests too deep or too wide", path)
	}
	switch t := t.(type) {
	case string:
		if t == "float" {
			return fmt.Errorf("column %q: Avro float is not a BigQuery type", path)
		}
		if rec, ok := f.records[t]; ok {
			return f.record(rec, path+".")
		}
		return nil
	case []any:
		if len(t) != 2 || t[0] != "null" {
			return fmt.Errorf("column %q: union %v: only [\"null\", T] unions are supported", path, t)
		}
		return f.walk(t[1], path)
	case map[string]any:
		return f.complex(t, path)
	}
	return fmt.Errorf("column %q: Avro type %v", path, t)
}

func (f *avroFacts) complex(t map[string]any, path string) error {
	switch t["type"] {
	case "array":
		return f.walk(t["items"], path)
	case "record":
		return f.record(t, path+".")
	}
	if t["logicalType"] == "decimal" {
		scale, _ := t["scale"].(float64) // the Avro default scale is 0
		f.scales[path] = int32(scale)
		return nil
	}
	return f.walk(t["type"], path)
}
