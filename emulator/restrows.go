package emulator

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	bq "google.golang.org/api/bigquery/v2"

	"github.com/bqread/bqread/internal/civil"
	"github.com/bqread/bqread/schema"
)

// This file writes rows in the REST API's tabledata form (tabledata.list, jobs.getQueryResults,
// jobs.query): a row is {"f": [cells]}, a cell {"v": value}; a STRUCT's value is a row, an ARRAY's
// a list of cells, NULL is null and every other value a string: TIMESTAMP as microseconds since
// the epoch when formatOptions.useInt64Timestamp is set (as the official clients ask), else as
// seconds in floating point; FLOAT64 NaN and infinities as NaN, Infinity, -Infinity; BYTES in
// base64; RANGE as [start, end) with UNBOUNDED for a missing bound.

// restRows converts rows of rec, which has the Arrow schema of s, to the tabledata form.
func restRows(s schema.Schema, rec arrow.Record, int64Timestamps bool) ([]*bq.TableRow, error) {
	rows := make([]*bq.TableRow, rec.NumRows())
	for i := range rows {
		cells, err := restCells(s, rec.Columns(), i, int64Timestamps)
		if err != nil {
			return nil, err
		}
		rows[i] = &bq.TableRow{F: cells}
	}
	return rows, nil
}

func restCells(fields schema.Schema, cols []arrow.Array, i int, int64Timestamps bool) ([]*bq.TableCell, error) {
	cells := make([]*bq.TableCell, len(fields))
	for j, f := range fields {
		v, err := restValue(f, cols[j], i, int64Timestamps)
		if err != nil {
			return nil, err
		}
		cells[j] = restCell(v)
	}
	return cells, nil
}

// restCell wraps a value; NULL is sent as "v": null, as BigQuery does.
func restCell(v any) *bq.TableCell {
	if v == nil {
		return &bq.TableCell{NullFields: []string{"V"}}
	}
	return &bq.TableCell{V: v, ForceSendFields: []string{"V"}} // an empty ARRAY is "v": [], not left out
}

func restValue(f *schema.Field, col arrow.Array, i int, int64Timestamps bool) (any, error) {
	if col.IsNull(i) {
		return nil, nil
	}
	if f.Repeated() {
		list := col.(*array.List)
		lo, hi := list.ValueOffsets(i)
		elem := *f
		elem.Mode = schema.Required
		out := make([]*bq.TableCell, 0, hi-lo)
		for k := lo; k < hi; k++ {
			v, err := restValue(&elem, list.ListValues(), int(k), int64Timestamps)
			if err != nil {
				return nil, err
			}
			out = append(out, restCell(v))
		}
		return out, nil
	}
	if f.Type == schema.Struct {
		st := col.(*array.Struct)
		cols := make([]arrow.Array, st.NumField())
		for k := range cols {
			cols[k] = st.Field(k)
		}
		cells, err := restCells(f.Fields, cols, i, int64Timestamps)
		return &bq.TableRow{F: cells}, err
	}
	return restScalar(f, col, i, int64Timestamps)
}

func restScalar(f *schema.Field, col arrow.Array, i int, int64Timestamps bool) (any, error) {
	switch c := col.(type) {
	case *array.Boolean:
		return strconv.FormatBool(c.Value(i)), nil
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10), nil
	case *array.Float64:
		return restFloat(c.Value(i)), nil
	case *array.Decimal128:
		return decimalText(c.Value(i).BigInt(), schema.NumericType.Scale), nil
	case *array.Decimal256:
		return decimalText(c.Value(i).BigInt(), schema.BigNumericType.Scale), nil
	case *array.String:
		return c.Value(i), nil
	case *array.Binary:
		return base64.StdEncoding.EncodeToString(c.Value(i)), nil
	case *array.Date32:
		return civilText(civil.AppendDate(nil, int64(c.Value(i))))
	case *array.Time64:
		return string(civil.AppendClock(nil, int64(c.Value(i)))), nil
	case *array.Timestamp:
		us := int64(c.Value(i))
		switch {
		case f.Type == schema.DateTime:
			return civilText(civil.AppendDateTime(nil, us, 'T'))
		case int64Timestamps:
			return strconv.FormatInt(us, 10), nil
		}
		return strconv.FormatFloat(float64(us)/1e6, 'E', -1, 64), nil
	case *array.MonthDayNanoInterval:
		return restInterval(c.Value(i)), nil
	case *array.Struct: // RANGE
		return rangeText(f, c, i, int64Timestamps)
	}
	return nil, fmt.Errorf("column %s: no REST form for an Arrow %s", f.Name, col.DataType())
}

func civilText(b []byte, ok bool) (any, error) {
	if !ok {
		return nil, fmt.Errorf("date out of range 0001-01-01 to 9999-12-31")
	}
	return string(b), nil
}

func restFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// decimalText writes unscaled × 10^-scale exactly, without trailing fraction zeros.
func decimalText(unscaled *big.Int, scale int32) string {
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	for len(digits) <= int(scale) {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-int(scale)], digits[len(digits)-int(scale):]
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	s := whole
	if frac != "" {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

// restInterval writes an INTERVAL in BigQuery's canonical form Y-M D H:M:S[.F].
func restInterval(v arrow.MonthDayNanoInterval) string {
	sign := func(neg bool) string {
		if neg {
			return "-"
		}
		return ""
	}
	months, nanos := int64(v.Months), v.Nanoseconds
	am, an := months, nanos
	if am < 0 {
		am = -am
	}
	if an < 0 {
		an = -an
	}
	us := an / 1000
	secs := us / 1e6
	s := fmt.Sprintf("%s%d-%d %d %s%d:%d:%d", sign(months < 0), am/12, am%12, v.Days, sign(nanos < 0), secs/3600, secs/60%60, secs%60)
	if frac := us % 1e6; frac != 0 {
		f := fmt.Sprintf("%06d", frac)
		for f[len(f)-1] == '0' {
			f = f[:len(f)-1]
		}
		s += "." + f
	}
	return s
}

func rangeText(f *schema.Field, c *array.Struct, i int, int64Timestamps bool) (any, error) {
	bound := &schema.Field{Name: f.Name, Type: f.RangeElementType.Type, Mode: schema.Nullable}
	text := make([]string, 2)
	for k := range text {
		v, err := restValue(bound, c.Field(k), i, int64Timestamps)
		if err != nil {
			return nil, err
		}
		text[k] = "UNBOUNDED"
		if v != nil {
			text[k] = v.(string)
		}
	}
	return "[" + text[0] + ", " + text[1] + ")", nil
}
