package emulator

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	bq "google.golang.org/api/bigquery/v2"

	"github.com/bqread/bqread/emulator/filter"
	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
)

// This file models partitioned and clustered tables: table.json's timePartitioning, clustering and
// requirePartitionFilter, the _PARTITIONTIME and _PARTITIONDATE pseudo-columns of ingestion-time
// partitioned tables, and the partitions a row restriction lets the service skip.

// The pseudo-columns of an ingestion-time partitioned table (reserved names in every table).
const (
	partitionTime = "_PARTITIONTIME"
	partitionDate = "_PARTITIONDATE"
)

// timePartitioningMeta is table.json's timePartitioning, as tables.get returns it (expirationMs a
// string or a number).
type timePartitioningMeta struct {
	Type                   string      `json:"type"`
	Field                  string      `json:"field"`
	ExpirationMs           json.Number `json:"expirationMs"`
	RequirePartitionFilter bool        `json:"requirePartitionFilter"` // its older place
}

type clusteringMeta struct {
	Fields []string `json:"fields"`
}

// partitioning is how a table is partitioned and clustered.
type partitioning struct {
	unit          string // DAY, HOUR, MONTH or YEAR; "" when not time-partitioned
	field         string // the partitioning column; "" for ingestion time (_PARTITIONTIME)
	expirationMs  int64
	requireFilter bool
	clustering    []string
}

// ingestion reports whether the table is partitioned by ingestion time.
func (p *partitioning) ingestion() bool { return p != nil && p.unit != "" && p.field == "" }

// pseudo returns the pseudo-columns of an ingestion-time partitioned table: _PARTITIONTIME, and
// _PARTITIONDATE when partitions are days.
func (p *partitioning) pseudo() schema.Schema {
	if !p.ingestion() {
		return nil
	}
	s := schema.Schema{{Name: partitionTime, Type: schema.Timestamp, Mode: schema.Nullable}}
	if p.unit == "DAY" {
		s = append(s, &schema.Field{Name: partitionDate, Type: schema.Date, Mode: schema.Nullable})
	}
	return s
}

// columns returns the columns that say which partition a row is in.
func (p *partitioning) columns() []string {
	if p.ingestion() {
		var names []string
		for _, f := range p.pseudo() {
			names = append(names, f.Name)
		}
		return names
	}
	return []string{p.field}
}

// partitioningOf checks table.json's partitioning and clustering against the table schema s.
func partitioningOf(m tableMeta, s schema.Schema) (*partitioning, error) {
	if m.TimePartitioning == nil && m.Clustering == nil && !m.RequirePartitionFilter {
		return nil, nil
	}
	if m.Type != kindTable {
		return nil, fmt.Errorf("table.json: timePartitioning, clustering and requirePartitionFilter are for type TABLE, not %s", m.Type)
	}
	p := &partitioning{requireFilter: m.RequirePartitionFilter}
	if tp := m.TimePartitioning; tp != nil {
		if err := p.setTime(tp, s); err != nil {
			return nil, fmt.Errorf("table.json: timePartitioning: %w", err)
		}
	}
	if p.requireFilter && p.unit == "" {
		return nil, fmt.Errorf("table.json: requirePartitionFilter needs timePartitioning")
	}
	if c := m.Clustering; c != nil {
		if err := p.setClustering(c.Fields, s); err != nil {
			return nil, fmt.Errorf("table.json: clustering: %w", err)
		}
	}
	return p, nil
}

func (p *partitioning) setTime(tp *timePartitioningMeta, s schema.Schema) error {
	switch p.unit = strings.ToUpper(tp.Type); p.unit {
	case "DAY", "HOUR", "MONTH", "YEAR":
	default:
		return fmt.Errorf("type %q: use DAY, HOUR, MONTH or YEAR", tp.Type)
	}
	p.requireFilter = p.requireFilter || tp.RequirePartitionFilter
	if tp.ExpirationMs != "" {
		ms, err := tp.ExpirationMs.Int64()
		if err != nil || ms <= 0 {
			return fmt.Errorf("expirationMs %q: use a positive number of milliseconds", tp.ExpirationMs)
		}
		p.expirationMs = ms
	}
	if tp.Field == "" {
		return nil
	}
	f := s.Find(tp.Field)
	switch {
	case f == nil:
		return fmt.Errorf("field %q is not a column of schema.json", tp.Field)
	case f.Repeated() || f.Type != schema.Date && f.Type != schema.Timestamp && f.Type != schema.DateTime || f.PicosColumn():
		return fmt.Errorf("field %q: partition by a DATE, TIMESTAMP or DATETIME column, not %s %s", f.Name, f.Mode, f.Type)
	case f.Type == schema.Date && p.unit == "HOUR":
		return fmt.Errorf("field %q: a DATE column is partitioned by DAY, MONTH or YEAR, not HOUR", f.Name)
	}
	p.field = f.Name
	return nil
}

// clusterable are the types BigQuery clusters by.
var clusterable = map[schema.Type]bool{
	schema.BigNumeric: true, schema.Bool: true, schema.Date: true, schema.DateTime: true, schema.Geography: true,
	schema.Int64: true, schema.Numeric: true, schema.Range: true, schema.String: true, schema.Timestamp: true,
}

func (p *partitioning) setClustering(fields []string, s schema.Schema) error {
	if len(fields) == 0 || len(fields) > 4 {
		return fmt.Errorf("fields: name 1 to 4 columns, not %d", len(fields))
	}
	for _, name := range fields {
		f := s.Find(name)
		if f == nil || f.Repeated() || !clusterable[f.Type] {
			return fmt.Errorf("field %q: cluster by top-level, non-repeated columns of type STRING, INT64, NUMERIC, BIGNUMERIC, BOOL, DATE, DATETIME, TIMESTAMP, GEOGRAPHY or RANGE", name)
		}
		p.clustering = append(p.clustering, f.Name)
	}
	return nil
}

// checkReservedNames refuses columns named as the partition pseudo-columns, as BigQuery does.
func checkReservedNames(s schema.Schema) error {
	for _, f := range s {
		if strings.EqualFold(f.Name, partitionTime) || strings.EqualFold(f.Name, partitionDate) {
			return fmt.Errorf("schema.json: column %s: the name is reserved for a partition pseudo-column; rename the column", f.Name)
		}
	}
	return nil
}

// withPseudo completes rows loaded with the column _PARTITIONTIME (last): each value must be the
// start of a partition, and a table of days gets _PARTITIONDATE. It releases rec.
func withPseudo(rec arrow.Record, p *partitioning, mem memory.Allocator) (arrow.Record, error) {
	defer rec.Release()
	times := rec.Column(int(rec.NumCols()) - 1).(*array.Timestamp)
	for i := range times.Len() {
		us := int64(times.Value(i))
		if times.IsValid(i) && civil.TruncMicros(us, p.unit, 0) != us {
			start, _ := civil.AppendDateTime(nil, civil.TruncMicros(us, p.unit, 0), ' ')
			return nil, fmt.Errorf("row %d: _PARTITIONTIME must be the start of a %s partition (%s UTC), as BigQuery requires", i+1, p.unit, start)
		}
	}
	cols := rec.Columns()
	fields := rec.Schema().Fields()
	if p.unit == "DAY" {
		b := array.NewDate32Builder(mem)
		defer b.Release()
		for i := range times.Len() {
			if times.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(arrow.Date32(int64(times.Value(i)) / microsPerDay))
		}
		dates := b.NewArray()
		defer dates.Release()
		cols = append(cols[:len(cols):len(cols)], dates)
		fields = append(fields, schema.ArrowField(p.pseudo()[1]))
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, rec.NumRows()), nil
}

// selectColumns projects the table onto read_options.selected_fields: all its columns when none
// are named; the pseudo-columns of an ingestion-time partitioned table only when named.
func (v *tableVersion) selectColumns(paths []string) (schema.Schema, error) {
	if len(paths) == 0 {
		return v.schema, nil
	}
	return v.columns().Select(paths)
}

// columns returns the columns a session may select and filter on: the table's, then the
// pseudo-columns of an ingestion-time partitioned table.
func (v *tableVersion) columns() schema.Schema {
	if v.readSchema == nil {
		return v.schema
	}
	return v.readSchema
}

// checkPartitionFilter refuses, as the service does, a session on a table that requires a
// partition filter without a row restriction that can prune partitions.
func (v *tableVersion) checkPartitionFilter(f *filter.Filter) error {
	p := v.partitioning
	if p == nil || !p.requireFilter || f != nil && f.Restricts(p.columns()) {
		return nil
	}
	cols := slices.Sorted(slices.Values(p.columns()))
	return fmt.Errorf("request failed: Query error: Cannot query over table '%s' without a filter over column(s) '%s' that can be used for partition elimination",
		v.ref.dotted(), strings.Join(cols, "', '"))
}

// scannedRows returns how many rows the service scans for filter f: the rows of the partitions f
// does not prune, those holding a row whose partitioning value f can match. (The service prunes by
// a partition's bounds, so it may read a partition none of whose values match: the estimate of a
// column-partitioned table can be lower than the service's; by ingestion time it is the same.) It
// knows the partitions of tables held in memory (data.ndjson); for the others (synthetic.json) it
// returns all rows.
func (v *tableVersion) scannedRows(f *filter.Filter) int64 {
	p, src := v.partitioning, v.rows
	mem, ok := src.(recordSource)
	if f == nil || p == nil || p.unit == "" || !ok {
		return src.numRows()
	}
	rec := mem.rec
	may := f.CanMatch(rec, p.columns())
	key := partitionKeys(rec, v.columns(), p)
	kept := map[int64]bool{}
	for i, m := range may {
		kept[key[i]] = kept[key[i]] || m
	}
	var n int64
	for i := range may {
		if kept[key[i]] {
			n++
		}
	}
	return n
}

// nullPartition is the key of the partition of rows whose partitioning value is NULL.
const nullPartition = int64(-1) << 63

// partitionKeys returns the start of each row's partition in micros, or nullPartition.
func partitionKeys(rec arrow.Record, s schema.Schema, p *partitioning) []int64 {
	name := p.field
	if p.ingestion() {
		name = partitionTime
	}
	col := rec.Column(fieldIndex(s, name))
	keys := make([]int64, rec.NumRows())
	for i := range keys {
		var us int64
		switch a := col.(type) {
		case *array.Date32:
			us = int64(a.Value(i)) * microsPerDay
		case *array.Timestamp:
			us = int64(a.Value(i))
		}
		keys[i] = civil.TruncMicros(us, p.unit, 0)
		if col.IsNull(i) {
			keys[i] = nullPartition
		}
	}
	return keys
}

func fieldIndex(s schema.Schema, name string) int {
	for i, f := range s {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// prune scales an estimate of bytes for all rows to the scanned ones.
func prune(bytes, scanned, total int64) int64 {
	if total <= 0 || scanned >= total {
		return bytes
	}
	hi, lo := bits.Mul64(uint64(bytes), uint64(scanned))
	q, _ := bits.Div64(hi, lo, uint64(total)) // scanned < total: the quotient fits
	return int64(q)
}

// restPartitioning adds the partitioning and clustering to a tables.get answer.
func restPartitioning(t *bq.Table, p *partitioning) {
	if p == nil {
		return
	}
	if p.unit != "" {
		t.TimePartitioning = &bq.TimePartitioning{Type: p.unit, Field: p.field, ExpirationMs: p.expirationMs}
	}
	t.RequirePartitionFilter = p.requireFilter
	if len(p.clustering) > 0 {
		t.Clustering = &bq.Clustering{Fields: p.clustering}
	}
}
