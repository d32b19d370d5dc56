// Package output writes Arrow records to the export formats (parquet, arrow, avro, csv, ndjson),
// copies wire payloads straight into bodies where the wire format is the output format
// (passthrough), and lays files out as a header, bodies and a footer so that bodies written apart
// join into one file without re-encoding rows (Layout). It works on
// io.Writer and io.ReaderAt only: where files live is the caller's business.
package output

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Format is an output file format.
type Format string

// The output formats.
const (
	Parquet Format = "parquet"
	Arrow   Format = "arrow"
	Avro    Format = "avro"
	CSV     Format = "csv"
	NDJSON  Format = "ndjson"
)

// Formats lists every output format, in the order help texts show them.
var Formats = []Format{Parquet, Arrow, Avro, CSV, NDJSON}

// ErrUnsupported is wrapped by errors for a format, compression or column the writer cannot handle.
var ErrUnsupported = errors.New("output: unsupported")

// Options tune a writer. The zero value gives each format's default.
type Options struct {
	// Compression is format specific: parquet snappy (default), zstd, gzip, none; avro deflate,
	// snappy, null (default); csv and ndjson gzip or none (default).
	Compression string
	// FieldDelimiter, NoHeader and NullMarker shape CSV files as bq extract's options do: the one
	// character between fields (default ","), no header row of column names (default: one), and
	// the text of NULL (default: an empty field). The other formats refuse them.
	FieldDelimiter string
	NoHeader       bool
	NullMarker     string
}

// csvOnly reports whether o sets an option that only CSV has.
func (o Options) csvOnly() bool {
	return (o.FieldDelimiter != "" && o.FieldDelimiter != ",") || o.NoHeader || o.NullMarker != ""
}

// Writer writes records to one file of one format. Write does not take ownership of rec. Close
// writes whatever ends the file (footer, trailer) and flushes, but does not close the underlying
// io.Writer. A Writer is not safe for concurrent use.
type Writer interface {
	Write(rec arrow.Record) error
	Close() error
}

// Part is one body to merge (see Layout).
type Part struct {
	R    io.ReaderAt
	Size int64
	// Meta is what the body's writer returned at Close.
	Meta []byte
	// Order is the part's place in the merged file, compared element by element (a segment's
	// stream and first row, say); nil places it after the parts added before it.
	Order []int64
}

// ParseFormat returns the Format named by s ("parquet", "arrow", "feather", "avro", "csv", "ndjson",
// "jsonl", "json"), case-insensitively.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "parquet", "pq":
		return Parquet, nil
	case "arrow", "feather", "ipc":
		return Arrow, nil
	case "avro":
		return Avro, nil
	case "csv":
		return CSV, nil
	case "ndjson", "jsonl", "json":
		return NDJSON, nil
	}
	return "", fmt.Errorf("%w: format %q: use one of parquet, arrow, avro, csv, ndjson", ErrUnsupported, s)
}

// FormatFromPath infers the format from a file name's extension, and gzip compression from a
// trailing ".gz" (csv and ndjson only).
func FormatFromPath(path string) (f Format, compression string, err error) {
	base := strings.ToLower(filepath.Base(path))
	if strings.HasSuffix(base, ".gz") {
		base, compression = strings.TrimSuffix(base, ".gz"), "gzip"
	}
	ext := strings.TrimPrefix(filepath.Ext(base), ".")
	if ext == "" {
		return "", "", fmt.Errorf("%w: %q has no extension to infer the format from: add one or pass --format", ErrUnsupported, path)
	}
	if f, err = ParseFormat(ext); err != nil {
		return "", "", fmt.Errorf("%w: cannot infer the format from extension %q: pass --format", ErrUnsupported, "."+ext)
	}
	if compression == "gzip" && f != CSV && f != NDJSON {
		return "", "", fmt.Errorf("%w: .gz applies to csv and ndjson only; %s has its own compression option", ErrUnsupported, f)
	}
	return f, compression, nil
}
