package shard

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/bqread/bqread/decode"
	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// segment is the open segment file of a worker: a body of the output's layout (output.Layout).
type segment struct {
	lo, rows int64
	wire     int64 // wire payload bytes written into it
	pending  store.Pending
	buf      *bufio.Writer
	sink     sink
}

// sink writes wire payloads into a segment: decoded into a body writer, or copied.
type sink interface {
	// write writes the first keep of a payload's rows rows (keep < rows only when decoded).
	write(payload []byte, rows, keep int64) error
	// close returns the body's metadata, which its commit record keeps.
	close() ([]byte, error)
	// size is about how large the body is so far (output.Body.Size).
	size() int64
}

type decodeSink struct {
	dec decode.Decoder
	w   output.Body
}

func (s decodeSink) write(payload []byte, rows, keep int64) error {
	rec, err := s.dec.Decode(payload, rows)
	if err != nil {
		return err
	}
	defer rec.Release()
	if rec.NumRows() != rows {
		return fmt.Errorf("shard: response says %d rows, payload holds %d", rows, rec.NumRows())
	}
	if keep < rows {
		part := rec.NewSlice(0, keep)
		defer part.Release()
		return s.w.Write(part)
	}
	return s.w.Write(rec)
}

func (s decodeSink) close() ([]byte, error) { return s.w.Close() }
func (s decodeSink) size() int64            { return s.w.Size() }

type rawSink struct{ w output.RawBody }

func (s rawSink) write(payload []byte, rows, keep int64) error {
	if keep < rows {
		return fmt.Errorf("shard: %d of a payload's %d rows cannot be copied without decoding", keep, rows)
	}
	return s.w.WriteRaw(payload, rows)
}

func (s rawSink) close() ([]byte, error) { return s.w.Close() }
func (s rawSink) size() int64            { return s.w.Size() }

// newSink returns the writer of one segment's body.
func (w *worker) newSink(dst io.Writer) (sink, error) {
	if w.dec == nil {
		raw, err := w.layout.NewRawBody(dst)
		return rawSink{raw}, err
	}
	body, err := w.layout.NewBody(dst)
	return decodeSink{dec: w.dec, w: body}, err
}

// newLayout returns the layout of m's output in format f, whose bodies the segments are: bodies
// of wire payloads copied as they are when dec is nil (passthrough), else of the records dec
// decodes.
func newLayout(m *session.Manifest, f output.Format, dec decode.Decoder) (*output.Layout, error) {
	l := &output.Layout{Format: f, Options: writerOptions(m.Output)}
	if f == output.Avro && copy(l.AvroSync[:], m.Output.AvroSync) != len(l.AvroSync) {
		return nil, fmt.Errorf("%w: the manifest has no Avro sync marker of 16 bytes", session.ErrManifest)
	}
	switch {
	case dec != nil:
		l.Schema = dec.Schema()
	case m.DataFormat == session.FormatArrow:
		l.RawArrowSchema = m.ArrowSchema
	default:
		l.RawAvroSchema = m.AvroSchema
	}
	return l, nil
}

// manifestLayout returns the layout of m's output, as its workers write it.
func manifestLayout(m *session.Manifest) (*output.Layout, error) {
	f, err := output.ParseFormat(m.Output.Format)
	if err != nil {
		return nil, err
	}
	var dec decode.Decoder
	if !passthrough(m, f) {
		if dec, err = newDecoder(m); err != nil {
			return nil, err
		}
	}
	return newLayout(m, f, dec)
}

// segmentExt ends the names of the segments of format f: a body alone is not a file of f.
func segmentExt(f output.Format) string { return string(f) + "-body" }

// segmentBuffer is how much a worker gathers before writing to its segment's file. Small writes
// (a message's metadata, text rows) are gathered; a large one (a passthrough payload) goes mostly
// straight to the file, as bufio copies at most a buffer's worth of it: with 1 MiB, copying
// payloads into the buffer took a fifth of a passthrough worker's CPU.
const segmentBuffer = 64 << 10

// open starts a segment at the current offset.
func (w *worker) open(ctx context.Context) error {
	p, err := w.st.Create(ctx, workdir.StreamDir(w.index))
	if err != nil {
		return err
	}
	buf := bufio.NewWriterSize(p, segmentBuffer)
	s, err := w.newSink(buf)
	if err != nil {
		p.Abort()
		return fmt.Errorf("start segment at row %d: %w", w.offset, err)
	}
	w.seg = &segment{lo: w.offset, pending: p, buf: buf, sink: s}
	return nil
}

// commit closes the open segment (if any) and commits it with its commit record in the
// background, so that the worker reads on while the file is made durable (fsync). One segment is
// committed at a time: commit first waits for the one before, so records are made in row order,
// and committed waits for the last.
func (w *worker) commit(ctx context.Context) error {
	s := w.seg
	if s == nil {
		return nil
	}
	w.seg = nil
	meta, err := s.sink.close()
	if err == nil {
		err = s.buf.Flush()
	}
	if err != nil {
		s.pending.Abort()
		w.committed() // the segment before ends its commit first; this error is the one to report
		return diskFull(fmt.Errorf("finish the segment of rows %d to %d: %w", s.lo, w.offset, err))
	}
	if err := w.committed(); err != nil {
		s.pending.Abort()
		return err
	}
	done := event.Event{Kind: event.Segment, Rows: w.offset, Bytes: w.bytes, Progress: w.progress}
	w.commits = make(chan error, 1)
	go func() { w.commits <- w.record(ctx, s.pending, s.lo, done, meta) }()
	return nil
}

// record commits the written segment file p of rows [lo, e.Rows) and reports it with e.
func (w *worker) record(ctx context.Context, p store.Pending, lo int64, e event.Event, meta []byte) error {
	seg, err := w.dir.CommitSegment(ctx, p, w.index, lo, e.Rows, segmentExt(w.format), meta)
	if err != nil {
		return diskFull(err)
	}
	e.Path, e.Lo, e.Hi, e.Size = seg.Name, seg.Lo, seg.Hi, seg.Size
	return w.send(e)
}

// committed waits for the segment being committed in the background, if any, and returns its error.
func (w *worker) committed() error {
	if w.commits == nil {
		return nil
	}
	err := <-w.commits
	w.commits = nil
	return err
}

// abandon discards the open segment: rows not committed are read again by the next run.
func (w *worker) abandon() {
	w.committed() // a commit under way ends; its error is the read's to report
	if w.seg != nil {
		w.seg.sink.close()
		w.seg.pending.Abort()
		w.seg = nil
	}
}
