package sql

import (
	"strings"
	"unicode"

	"github.com/bqread/bqread/emulator/filter"
	"github.com/bqread/bqread/schema"
)

// Plan is a query bound to its table's schema: what Run computes.
type Plan struct {
	schema  schema.Schema // of the result
	outputs []source      // one per result column
	keys    []sortKey
	where   *filter.Filter
	limit   int64 // < 0: none
	offset  int64
	read    map[string]bool // top-level columns the query reads
	table   schema.Schema
}

// source is a column or a STRUCT field of the table, by the indexes of its path.
type source struct {
	path  []int
	field *schema.Field
}

type sortKey struct {
	src        source
	desc       bool
	nullsFirst bool
}

// Bind resolves the query's names against the schema of its table, s: its columns, then the
// pseudo-columns a query may name (_PARTITIONTIME, _PARTITIONDATE), which * leaves out. opts go
// to the WHERE clause's filter (filter.WithNow: the time CURRENT_DATE and its kin return). Errors
// are *Error.
func (q *Query) Bind(s schema.Schema, opts ...filter.Option) (*Plan, error) {
	p := &Plan{table: s, limit: q.limit, offset: q.offset, read: map[string]bool{}}
	var names []name
	for _, it := range q.items {
		srcs, outNames, err := q.bindItem(s, it)
		if err != nil {
			return nil, err
		}
		for i, src := range srcs {
			f := *src.field
			f.Name = outNames[i]
			p.outputs = append(p.outputs, src)
			p.schema = append(p.schema, &f)
			names = append(names, name{outNames[i], it.pos})
			p.read[s[src.path[0]].Name] = true
		}
	}
	if err := q.checkDuplicates(names); err != nil {
		return nil, err
	}
	if q.where != nil {
		f, err := filter.Parse(q.where.text, s, opts...)
		if err != nil {
			return nil, q.filterError(err)
		}
		p.where = f
		for _, c := range f.Columns() {
			p.read[c] = true
		}
	}
	for _, k := range q.order {
		src, err := q.bindKey(s, k, p)
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, sortKey{src: src, desc: k.desc, nullsFirst: k.nulls == 1 || k.nulls == 0 && !k.desc})
		p.read[s[src.path[0]].Name] = true
	}
	return p, nil
}

// Where returns the filter of the WHERE clause, nil without one.
func (p *Plan) Where() *filter.Filter { return p.where }

// Schema returns the schema of the result.
func (p *Plan) Schema() schema.Schema { return p.schema }

// Columns returns the top-level columns of the table the query reads, in table order.
func (p *Plan) Columns() []string {
	var out []string
	for _, f := range p.table {
		if p.read[f.Name] {
			out = append(out, f.Name)
		}
	}
	return out
}

func (q *Query) bindItem(s schema.Schema, it selectItem) ([]source, []string, error) {
	if !it.star {
		src, err := q.resolve(s, it.path, it.pos)
		if err != nil {
			return nil, nil, err
		}
		n := it.alias
		if n == "" {
			n = src.field.Name
		}
		return []source{src}, []string{n}, nil
	}
	fields, base := s, source{}
	if len(it.path) > 0 && !(len(it.path) == 1 && strings.EqualFold(it.path[0], q.alias) && s.Find(it.path[0]) == nil) {
		src, err := q.resolve(s, it.path, it.pos)
		if err != nil {
			return nil, nil, err
		}
		if src.field.Type != schema.Struct || src.field.Repeated() {
			return nil, nil, errorAt(q.src, it.pos, false, "Dot-star is not supported for type %s", typeName(src.field))
		}
		fields, base = src.field.Fields, src
	}
	excluded := map[string]bool{}
	for _, e := range it.except {
		key := strings.ToLower(e.text)
		switch {
		case excluded[key]:
			return nil, nil, errorAt(q.src, e.pos, false, "Column %s in SELECT * EXCEPT list is duplicated", e.text)
		case fields.Find(e.text) == nil:
			return nil, nil, errorAt(q.src, e.pos, false, "Column %s in SELECT * EXCEPT list does not exist", e.text)
		}
		excluded[key] = true
	}
	var srcs []source
	var names []string
	for i, f := range fields {
		if excluded[strings.ToLower(f.Name)] || base.field == nil && pseudoColumn(f.Name) {
			continue
		}
		src := source{path: append(append([]int(nil), base.path...), i), field: f}
		if base.field != nil {
			src.field = nested(base.field, f)
		}
		srcs = append(srcs, src)
		names = append(names, f.Name)
	}
	if len(srcs) == 0 {
		return nil, nil, errorAt(q.src, it.pos, false, "SELECT * expands to zero columns after applying EXCEPT")
	}
	return srcs, names, nil
}

// pseudoColumn reports whether a top-level name is one of BigQuery's partition pseudo-columns.
func pseudoColumn(name string) bool {
	return strings.EqualFold(name, "_PARTITIONTIME") || strings.EqualFold(name, "_PARTITIONDATE")
}

// resolve finds a column or STRUCT field by its path, which may start with the table's alias.
func (q *Query) resolve(s schema.Schema, path []string, pos int) (source, error) {
	if len(path) > 1 && strings.EqualFold(path[0], q.alias) && s.Find(path[0]) == nil {
		path = path[1:]
	}
	if len(path) == 1 && strings.EqualFold(path[0], q.alias) && s.Find(path[0]) == nil {
		return source{}, unsupported(q.src, pos, "the table alias "+path[0]+" as a value")
	}
	var src source
	fields := s
	for depth, part := range path {
		if depth > 0 {
			f := src.field
			if f.Type != schema.Struct || f.Repeated() {
				return source{}, errorAt(q.src, pos, false, "Cannot access field %s on a value with type %s", part, typeName(f))
			}
			fields = f.Fields
		}
		i := index(fields, part)
		if i < 0 {
			if depth == 0 {
				return source{}, errorAt(q.src, pos, false, "Unrecognized name: %s", part)
			}
			return source{}, errorAt(q.src, pos, false, "Field name %s does not exist in %s", part, typeName(src.field))
		}
		child := fields[i]
		if depth > 0 {
			child = nested(src.field, child)
		}
		src = source{path: append(src.path, i), field: child}
	}
	return src, nil
}

// nested returns the field f of the STRUCT parent as a column of its own: NULLABLE when the
// parent may be NULL.
func nested(parent, f *schema.Field) *schema.Field {
	if parent.Nullable() && f.Mode == schema.Required {
		c := *f
		c.Mode = schema.Nullable
		return &c
	}
	return f
}

func index(fields schema.Schema, n string) int {
	for i, f := range fields {
		if strings.EqualFold(f.Name, n) {
			return i
		}
	}
	return -1
}

// typeName writes a type as GoogleSQL does in messages: INT64, ARRAY<STRING>, STRUCT<a INT64>.
func typeName(f *schema.Field) string {
	t := string(f.Type)
	if f.Type == schema.Struct {
		parts := make([]string, len(f.Fields))
		for i, c := range f.Fields {
			parts[i] = c.Name + " " + typeName(c)
		}
		t = "STRUCT<" + strings.Join(parts, ", ") + ">"
	}
	if f.Repeated() {
		return "ARRAY<" + t + ">"
	}
	return t
}

func (q *Query) checkDuplicates(names []name) error {
	seen := map[string]bool{}
	for _, n := range names {
		k := strings.ToLower(n.text)
		if seen[k] {
			return unsupported(q.src, n.pos, "duplicate column names in the result ("+n.text+"); give one an alias")
		}
		seen[k] = true
	}
	return nil
}

// bindKey resolves an ORDER BY key: a select-list position, a select-list alias, or a column path.
func (q *Query) bindKey(s schema.Schema, k orderKey, p *Plan) (source, error) {
	var src source
	switch {
	case k.ordinal > 0:
		if k.ordinal > len(p.outputs) {
			return source{}, errorAt(q.src, k.pos, false, "ORDER BY column number exceeds number of SELECT columns: %d", k.ordinal)
		}
		src = p.outputs[k.ordinal-1]
	default:
		found := false
		if len(k.path) == 1 {
			for i, f := range p.schema {
				if strings.EqualFold(f.Name, k.path[0]) {
					src, found = p.outputs[i], true
					break
				}
			}
		}
		if !found {
			var err error
			if src, err = q.resolve(s, k.path, k.pos); err != nil {
				return source{}, err
			}
		}
	}
	f := src.field
	switch {
	case f.Repeated(), f.Type == schema.Struct, f.Type == schema.Geography, f.Type == schema.JSON:
		return source{}, errorAt(q.src, k.pos, false, "ORDER BY does not support expressions of type %s", typeName(f))
	case f.Type == schema.Interval, f.Type == schema.Range:
		return source{}, unsupported(q.src, k.pos, "ORDER BY of a "+string(f.Type)+" value")
	}
	return src, nil
}

// filterError turns an error of the filter package into one of the query, at its place in the
// query. Only what is certainly wrong in any GoogleSQL is reported as the query's error; the rest is
// what the emulator does not run.
func (q *Query) filterError(err error) error {
	msg, off, ok := filter.Position(err)
	if !ok {
		return errorAt(q.src, q.where.pos, true, "%s%v", UnsupportedPrefix, err)
	}
	pos := q.where.pos + off
	for _, userError := range []string{"unrecognized name", "no matching signature", "could not cast literal"} {
		if strings.HasPrefix(msg, userError) {
			return errorAt(q.src, pos, false, "%s", capitalize(msg))
		}
	}
	return errorAt(q.src, pos, true, "%s%s in WHERE", UnsupportedPrefix, msg)
}

func capitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}
