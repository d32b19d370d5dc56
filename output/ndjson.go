package output

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/klauspost/compress/gzip"

	"github.com/bqread/bqread/schema"
)

// NDJSON files hold one JSON object per row, keys in schema order, each line ended by '\n', values
// in BigQuery's JSON export form (values.go). Options.Compression gzip writes one gzip member;
// a body is a whole file, and files joined from bodies are several members back to back, which
// gzip readers read as one stream.

func init() {
	register(NDJSON, formatImpl{newWriter: newNDJSONWriter, newBody: newNDJSONBody})
}

// textBufferBytes is how much text CSV and NDJSON writers gather before writing it on.
const textBufferBytes = 1 << 20

// textSink gathers text in buf and writes it to w, through gzip when asked. Both text formats
// write through one.
type textSink struct {
	buf []byte
	out io.Writer     // where buf goes: w, or gz
	gz  *gzip.Writer  // nil without compression
	bw  *bufio.Writer // batches gz's small writes to w
	n   int64         // text flushed, before compression
}

// size is the text taken so far, before compression.
func (s *textSink) size() int64 { return s.n + int64(len(s.buf)) }

func newTextSink(w io.Writer, f Format, compression string) (*textSink, error) {
	s := &textSink{buf: make([]byte, 0, textBufferBytes+textBufferBytes/4), out: w}
	switch strings.ToLower(compression) {
	case "", "none", "uncompressed":
	case "gzip", "gz":
		s.bw = bufio.NewWriterSize(w, textBufferBytes)
		s.gz = gzip.NewWriter(s.bw)
		s.out = s.gz
	default:
		return nil, fmt.Errorf("%w: %s compression %q: use gzip or none", ErrUnsupported, f, compression)
	}
	return s, nil
}

// flushIfFull writes the gathered text on once there is enough of it.
func (s *textSink) flushIfFull() error {
	if len(s.buf) < textBufferBytes {
		return nil
	}
	return s.flush()
}

func (s *textSink) flush() error {
	s.n += int64(len(s.buf))
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.out.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// endMember writes the gathered text and, with gzip, ends the gzip member and starts another.
func (s *textSink) endMember() error {
	if err := s.flush(); err != nil || s.gz == nil {
		return err
	}
	if err := s.gz.Close(); err != nil {
		return err
	}
	s.gz.Reset(s.bw)
	return nil
}

// close writes everything gathered and ends the gzip stream. It does not close w.
func (s *textSink) close() error {
	if err := s.flush(); err != nil || s.gz == nil {
		return err
	}
	if err := s.gz.Close(); err != nil {
		return err
	}
	return s.bw.Flush()
}

type ndjsonWriter struct {
	arrowSchema *arrow.Schema
	bq          schema.Schema
	sink        *textSink
	closed      bool
}

func newNDJSONWriter(w io.Writer, s *arrow.Schema, o Options) (Writer, error) {
	return newNDJSON(w, s, o)
}

// newNDJSONBody writes a body: the whole file, which has no header.
func newNDJSONBody(l *Layout, w io.Writer) (Body, error) {
	n, err := newNDJSON(w, l.Schema, l.Options)
	if err != nil {
		return nil, err
	}
	return noMeta{n}, nil
}

func newNDJSON(w io.Writer, s *arrow.Schema, o Options) (*ndjsonWriter, error) {
	bq, err := schema.FromArrow(s)
	if err != nil {
		return nil, fmt.Errorf("ndjson writer: %w", err)
	}
	sink, err := newTextSink(w, NDJSON, o.Compression)
	if err != nil {
		return nil, err
	}
	return &ndjsonWriter{arrowSchema: s, bq: bq, sink: sink}, nil
}

// Write appends one line per row of rec.
func (n *ndjsonWriter) Write(rec arrow.Record) error {
	if n.closed {
		return errors.New("ndjson writer: Write after Close")
	}
	if !rec.Schema().Equal(n.arrowSchema) {
		return fmt.Errorf("ndjson writer: record schema differs from the writer's:\n%s\nwant\n%s", rec.Schema(), n.arrowSchema)
	}
	row, err := jsonObject(n.bq, rec.Columns())
	if err != nil {
		return fmt.Errorf("ndjson writer: %w", err)
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		if n.sink.buf, err = row(n.sink.buf, i); err != nil {
			return fmt.Errorf("ndjson writer: row %d: %w", i, err)
		}
		n.sink.buf = append(n.sink.buf, '\n')
		if err := n.sink.flushIfFull(); err != nil {
			return fmt.Errorf("ndjson writer: %w", err)
		}
	}
	return nil
}

func (n *ndjsonWriter) size() int64 { return n.sink.size() }

// Close writes what is buffered and ends the gzip stream.
func (n *ndjsonWriter) Close() error {
	if n.closed {
		return nil
	}
	n.closed = true
	if err := n.sink.close(); err != nil {
		return fmt.Errorf("ndjson writer: close: %w", err)
	}
	return nil
}
