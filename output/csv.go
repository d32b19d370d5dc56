package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/bqread/bqread/schema"
)

// CSV files (RFC 4180, lines ended by '\n') start with a header row of the column names, unless
// Options.NoHeader. Fields are separated by Options.FieldDelimiter (default ','). Values have the
// text forms of values.go; NULL is Options.NullMarker (default: an empty field). A field is quoted
// when its text is the null marker or holds the delimiter, a quote or a line break, so NULL and
// a value stay apart: with the default marker, an empty value (STRING, BYTES) is "".
// Nested and repeated columns have no CSV form (as in BigQuery's CSV export); RANGE columns are
// written as their "[start, end)" strings.
//
// With gzip, the header row is a gzip member of its own and the rows follow in a second member: in
// a Layout the header row is the header, and each body a gzip member of rows.

func init() {
	register(CSV, formatImpl{newWriter: newCSVWriter, newBody: newCSVBody, header: writeCSVHeader})
}

type csvWriter struct {
	arrowSchema *arrow.Schema
	bq          schema.Schema
	sink        *textSink
	field       *csvField
	closed      bool
}

func newCSVWriter(w io.Writer, s *arrow.Schema, o Options) (Writer, error) {
	c, err := newCSVRows(w, s, o)
	if err != nil || o.NoHeader {
		return c, err
	}
	c.sink.buf = c.headerRow(c.sink.buf)
	if err := c.sink.endMember(); err != nil {
		return nil, fmt.Errorf("csv writer: header: %w", err)
	}
	return c, nil
}

// newCSVRows returns a writer of rows only, with no header row.
func newCSVRows(w io.Writer, s *arrow.Schema, o Options) (*csvWriter, error) {
	bq, err := schema.FromArrow(s)
	if err != nil {
		return nil, fmt.Errorf("csv writer: %w", err)
	}
	var nested []string
	for _, f := range bq {
		if f.Nested() {
			nested = append(nested, f.Name)
		}
	}
	if len(nested) > 0 {
		return nil, fmt.Errorf("%w: CSV cannot hold nested or repeated columns (%s): use --format ndjson, or leave them out with --columns",
			ErrUnsupported, strings.Join(nested, ", "))
	}
	field, err := newCSVField(o)
	if err != nil {
		return nil, err
	}
	sink, err := newTextSink(w, CSV, o.Compression)
	if err != nil {
		return nil, err
	}
	return &csvWriter{arrowSchema: s, bq: bq, sink: sink, field: field}, nil
}

// headerRow appends the row of column names.
func (c *csvWriter) headerRow(dst []byte) []byte {
	for i, f := range c.bq {
		if i > 0 {
			dst = append(dst, c.field.delim...)
		}
		dst = c.field.appendString(dst, f.Name)
	}
	return append(dst, '\n')
}

// newCSVBody writes the rows of a body: no header row.
func newCSVBody(l *Layout, w io.Writer) (Body, error) {
	c, err := newCSVRows(w, l.Schema, l.Options)
	if err != nil {
		return nil, err
	}
	return noMeta{c}, nil
}

// writeCSVHeader writes the header of a Layout's files: the header row (a gzip member with gzip),
// or nothing with NoHeader.
func writeCSVHeader(l *Layout, w io.Writer) error {
	if l.Options.NoHeader {
		return nil
	}
	c, err := newCSVRows(w, l.Schema, l.Options)
	if err != nil {
		return err
	}
	c.sink.buf = c.headerRow(c.sink.buf)
	return c.Close()
}

// Write appends one line per row of rec.
func (c *csvWriter) Write(rec arrow.Record) error {
	if c.closed {
		return errors.New("csv writer: Write after Close")
	}
	if !rec.Schema().Equal(c.arrowSchema) {
		return fmt.Errorf("csv writer: record schema differs from the writer's:\n%s\nwant\n%s", rec.Schema(), c.arrowSchema)
	}
	cols := make([]appendFunc, len(c.bq))
	for k, f := range c.bq {
		var err error
		if cols[k], err = c.field.column(f, rec.Column(k)); err != nil {
			return fmt.Errorf("csv writer: %w", err)
		}
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		for k, col := range cols {
			if k > 0 {
				c.sink.buf = append(c.sink.buf, c.field.delim...)
			}
			var err error
			if c.sink.buf, err = col(c.sink.buf, i); err != nil {
				return fmt.Errorf("csv writer: row %d: %w", i, err)
			}
		}
		c.sink.buf = append(c.sink.buf, '\n')
		if err := c.sink.flushIfFull(); err != nil {
			return fmt.Errorf("csv writer: %w", err)
		}
	}
	return nil
}

func (c *csvWriter) size() int64 { return c.sink.size() }

// Close writes what is buffered and ends the gzip stream.
func (c *csvWriter) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.sink.close(); err != nil {
		return fmt.Errorf("csv writer: close: %w", err)
	}
	return nil
}

// csvField appends CSV fields for one delimiter and null marker. It is not safe for concurrent
// use.
type csvField struct {
	delim   string // one character
	null    string // the text of NULL
	special string // delim, a quote and the line breaks: a field holding one is quoted
	scratch []byte
}

func newCSVField(o Options) (*csvField, error) {
	c := &csvField{delim: o.FieldDelimiter, null: o.NullMarker}
	if c.delim == "" {
		c.delim = ","
	}
	if r, n := utf8.DecodeRuneInString(c.delim); n != len(c.delim) || r == utf8.RuneError || strings.ContainsAny(c.delim, "\"\r\n") {
		return nil, fmt.Errorf("%w: csv field delimiter %q: use one character other than a quote or a line break, such as \",\", \";\", \"|\" or a tab",
			ErrUnsupported, o.FieldDelimiter)
	}
	c.special = c.delim + "\"\r\n"
	if strings.ContainsAny(c.null, c.special) {
		return nil, fmt.Errorf("%w: csv null marker %q holds the field delimiter %q, a quote or a line break, which a reader would take for the end of the field",
			ErrUnsupported, c.null, c.delim)
	}
	return c, nil
}

// column returns the function appending the CSV field of row i of column f (not nested), held
// in arr: the null marker for NULL.
func (c *csvField) column(f *schema.Field, arr arrow.Array) (appendFunc, error) {
	var value appendFunc
	switch f.Type {
	case schema.String, schema.Geography, schema.JSON:
		a, err := columnArray[*array.String](f, arr)
		if err != nil {
			return nil, err
		}
		value = func(dst []byte, i int) ([]byte, error) { return c.appendString(dst, a.Value(i)), nil }
	default:
		text, err := textFunc(f, arr)
		if err != nil {
			return nil, err
		}
		// The text of the other types holds no quote or line break, and only RANGE's "[start,
		// end)" a comma; any character may be another delimiter. Only BYTES has an empty text.
		scan := f.Type == schema.Range || c.delim != ","
		if !scan && c.null == "" && f.Type != schema.Bytes {
			value = text
			break
		}
		value = func(dst []byte, i int) ([]byte, error) {
			n := len(dst)
			dst, err := text(dst, i)
			if v := dst[n:]; string(v) == c.null || (scan && bytes.ContainsAny(v, c.special)) {
				c.scratch = append(c.scratch[:0], v...)
				dst = appendQuoted(dst[:n], unsafeString(c.scratch))
			}
			return dst, err
		}
	}
	return func(dst []byte, i int) ([]byte, error) {
		if arr.IsNull(i) {
			return append(dst, c.null...), nil
		}
		return value(dst, i)
	}, nil
}

// appendString appends s as one CSV field, quoted when it must be.
func (c *csvField) appendString(dst []byte, s string) []byte {
	if s != c.null && !strings.ContainsAny(s, c.special) {
		return append(dst, s...)
	}
	return appendQuoted(dst, s)
}

// appendQuoted appends s in quotes, its quotes doubled.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for {
		q := strings.IndexByte(s, '"')
		if q < 0 {
			break
		}
		dst = append(append(dst, s[:q+1]...), '"')
		s = s[q+1:]
	}
	return append(append(dst, s...), '"')
}
