package output

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// Layout says how the files of one export are laid out, so that files are assembled from pieces
// written apart without re-encoding a row: a file is the header, then bodies, then the footer.
// Workers write bodies (NewBody, NewRawBody), each holding a run of rows; a body's writer returns
// at Close a little metadata (Meta) that the footer needs; the merge writes the header, copies the
// bodies byte for byte and writes the footer from the bodies' metadata and places (Merger). A body
// alone is not a readable file, except for NDJSON.
//
//   - Parquet: header the magic "PAR1"; body the column chunks of its row groups; Meta the body's
//     FileMetaData (Thrift), offsets counted as if the body followed the magic; footer one
//     FileMetaData listing every body's row groups, offsets shifted to where the body is.
//   - Arrow IPC file: header the magic and the schema message; body record-batch messages; Meta
//     their blocks; footer the end-of-stream marker and the file footer listing every block.
//   - Avro: header the magic, the metadata (schema, codec) and AvroSync; body data blocks, each
//     ending in AvroSync; no Meta, no footer.
//   - CSV: header the header row (with gzip a gzip member of its own; none with NoHeader); body
//     the rows (with gzip one gzip member); no footer.
//   - NDJSON: body the rows; no header, no footer.
//
// Bodies from Layouts with the same fields join into one file; the Layout is the same for every
// worker and the merge of one export because it is made from the export's manifest.
type Layout struct {
	Format  Format
	Options Options
	// Schema is the schema of the records bodies of NewBody take (the Storage API Arrow schema).
	Schema *arrow.Schema
	// RawArrowSchema, set when Arrow bodies are written from Arrow payloads copied as they are
	// (NewRawBody), is the session's serialized IPC schema message; the header holds it.
	RawArrowSchema []byte
	// RawAvroSchema, set when Avro bodies are written from Avro payloads copied as they are, is
	// the session's Avro schema; the header holds it.
	RawAvroSchema string
	// AvroSync is the sync marker of every Avro file and body of the export.
	AvroSync [16]byte
}

// Body writes the records of one body. Close flushes (it does not close the underlying writer)
// and returns the body's metadata, which the footer of a file holding the body needs. Size is
// about how large the body is so far: the bytes written, plus those it holds (Parquet: the Arrow
// bytes of the open row group; text with gzip: before compression), so that a writer can end a
// body before it passes a size.
type Body interface {
	Write(rec arrow.Record) error
	Close() (meta []byte, err error)
	Size() int64
}

// RawBody writes wire payloads that are already in the output's row encoding (Arrow IPC
// record-batch messages, Avro binary rows) into one body without decoding them. Close is as for
// Body.
type RawBody interface {
	WriteRaw(payload []byte, rows int64) error
	Close() (meta []byte, err error)
	Size() int64
}

// BodyRef is where a footer finds one body: at Offset in the file, Size bytes, with the metadata
// its writer returned.
type BodyRef struct {
	Offset, Size int64
	Meta         []byte
}

func (l *Layout) impl() (formatImpl, error) {
	impl, err := lookup(l.Format)
	if err != nil {
		return formatImpl{}, err
	}
	if l.Format != CSV && l.Options.csvOnly() {
		return formatImpl{}, fmt.Errorf("%w: the field delimiter, header and null marker options are for csv, not %s", ErrUnsupported, l.Format)
	}
	return impl, nil
}

// NewBody returns a Body of l writing records of l.Schema to w.
func (l *Layout) NewBody(w io.Writer) (Body, error) {
	impl, err := l.impl()
	if err != nil {
		return nil, err
	}
	return impl.newBody(l, w)
}

// noMeta is the Body of a writer with no metadata (Avro, CSV, NDJSON).
type noMeta struct {
	w interface {
		Writer
		size() int64
	}
}

func (b noMeta) Write(rec arrow.Record) error { return b.w.Write(rec) }
func (b noMeta) Close() ([]byte, error)       { return nil, b.w.Close() }
func (b noMeta) Size() int64                  { return b.w.size() }

// NewRawBody returns a RawBody of l writing wire payloads to w: Arrow record-batch messages of
// l.RawArrowSchema, or Avro binary rows of l.RawAvroSchema, compressed with the codec of
// l.Options.Compression.
func (l *Layout) NewRawBody(w io.Writer) (RawBody, error) {
	switch l.Format {
	case Arrow:
		return newArrowRawBody(w), nil
	case Avro:
		return newAvroRawBody(w, l)
	}
	return nil, fmt.Errorf("%w: %s bodies are written from records, not copied", ErrUnsupported, l.Format)
}
