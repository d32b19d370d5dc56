package filter

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/bqread/bqread/schema"
)

// BenchmarkEval evaluates restrictions over 64Ki rows: comparisons, and a partition-style date
// function of a TIMESTAMP column.
func BenchmarkEval(b *testing.B) {
	s, err := schema.Parse([]byte(`[{"name":"i","type":"INT64"},{"name":"ts","type":"TIMESTAMP"}]`))
	if err != nil {
		b.Fatal(err)
	}
	const rows = 64 << 10
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema.ArrowSchema(s))
	defer rb.Release()
	for r := range int64(rows) {
		rb.Field(0).(*array.Int64Builder).Append(r % 1000)
		rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r * 3_600_000_000))
	}
	rec := rb.NewRecord()
	defer rec.Release()
	for _, expr := range []string{
		"i > 500 AND i < 900",
		"DATE(ts) BETWEEN '1970-01-05' AND DATE_ADD(DATE '1970-01-05', INTERVAL 1 MONTH)",
	} {
		f, err := Parse(expr, s)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(expr, func(b *testing.B) {
			b.SetBytes(rows)
			for b.Loop() {
				f.Eval(rec)
			}
		})
	}
}
