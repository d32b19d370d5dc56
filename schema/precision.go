package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Digits is a TIMESTAMP column's timestampPrecision: the digits of the second's fraction its
// values carry. A table's column has 0 (unset) or 6, microseconds, or 12, picoseconds (BigQuery's
// TIMESTAMP(12)). A read session serves a column of 12 as micros (the default), nanos (9) or
// picos; the schema of what it serves (FromArrow, FromAvro, Served) has 6, 9 or 12.
//
// In JSON it is read as a number or a string and written as a string, as the REST API's int64
// fields are.
type Digits int64

// The precisions of TIMESTAMP values.
const (
	Micros Digits = 6
	Nanos  Digits = 9
	Picos  Digits = 12
)

// UnmarshalJSON reads 12 or "12".
func (d *Digits) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("timestampPrecision %s is not a whole number", b)
	}
	*d = Digits(n)
	return nil
}

// MarshalJSON writes "12".
func (d Digits) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(d), 10) + `"`), nil
}

// PicosColumn reports whether f is a TIMESTAMP column of picosecond precision, the only kind of
// column a read session's picos_timestamp_precision applies to.
func (f *Field) PicosColumn() bool { return f.Type == Timestamp && f.TimestampPrecision == Picos }

// Served returns s as a read session serves it with TIMESTAMP(12) columns in precision p (Micros,
// Nanos or Picos): those columns, at any depth, get p (Micros is written as unset); other columns
// are unchanged. s itself is not modified.
func Served(s Schema, p Digits) Schema {
	out := make(Schema, len(s))
	for i, f := range s {
		c := *f
		switch {
		case c.PicosColumn() && p == Micros:
			c.TimestampPrecision = 0
		case c.PicosColumn():
			c.TimestampPrecision = p
		case c.Type == Struct:
			c.Fields = Served(c.Fields, p)
		}
		out[i] = &c
	}
	return out
}

// HasPicos reports whether s has a TIMESTAMP(12) column at any depth.
func HasPicos(s Schema) bool {
	for _, f := range s {
		if f.PicosColumn() || HasPicos(f.Fields) {
			return true
		}
	}
	return false
}

func checkPrecision(f *Field, path string) error {
	switch {
	case f.TimestampPrecision == 0:
		return nil
	case f.Type != Timestamp:
		return fmt.Errorf("%w: column %q of type %s cannot have a timestampPrecision", ErrInvalid, path, f.Type)
	case f.TimestampPrecision != Micros && f.TimestampPrecision != Picos:
		return fmt.Errorf("%w: column %q has timestampPrecision %d: use 6 or 12", ErrInvalid, path, f.TimestampPrecision)
	}
	if f.TimestampPrecision == Micros {
		f.TimestampPrecision = 0 // the default
	}
	return nil
}
