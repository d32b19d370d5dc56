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

// segment is the open segment file of a worker.
type segment struct {
	lo, rows int64
	wire     int64 // wire payload bytes written into it
	pending  store.Pending
	buf      *bufio.Writer
	sink     sink
}

// sink writes wire payloads into a segment: decoded into a format writer, or copied.
type sink interface {
	// write writes the first keep of a payload's rows rows (keep < rows only when decoded).
	write(payload []byte, rows, keep int64) error
	close() error
}

type decodeSink struct {
	dec decode.Decoder
	w   output.Writer
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

func (s decodeSink) close() error { return s.w.Close() }

type rawSink struct{ w output.RawWriter }

func (s rawSink) write(payload []byte, rows, keep int64) error {
	if keep < rows {
		return fmt.Errorf("shard: %d of a payload's %d rows cannot be copied without decoding", keep, rows)
	}
	return s.w.WriteRaw(payload, rows)
}

func (s rawSink) close() error { return s.w.Close() }

// newSink returns the writer of one segment file.
func (w *worker) newSink(dst io.Writer) (sink, error) {
	m := w.m
	switch {
	case w.passthrough() && m.DataFormat == session.FormatArrow:
		raw, err := output.NewArrowPassthrough(dst, m.ArrowSchema)
		return rawSink{raw}, err
	case w.passthrough():
		raw, err := output.NewAvroPassthrough(dst, m.AvroSchema, w.opts)
		return rawSink{raw}, err
	}
	fw, err := output.NewWriter(dst, w.format, w.dec.Schema(), w.opts)
	return decodeSink{dec: w.dec, w: fw}, err
}

// open starts a segment at the current offset.
func (w *worker) open(ctx context.Context) error {
	p, err := w.st.Create(ctx, workdir.StreamDir(w.index))
	if err != nil {
		return err
	}
	buf := bufio.NewWriterSize(p, 1<<20)
	s, err := w.newSink(buf)
	if err != nil {
		p.Abort()
		return fmt.Errorf("start segment at row %d: %w", w.offset, err)
	}
	w.seg = &segment{lo: w.offset, pending: p, buf: buf, sink: s}
	return nil
}

// commit closes the open segment (if any), commits it with its commit record and reports it.
func (w *worker) commit(ctx context.Context) error {
	s := w.seg
	if s == nil {
		return nil
	}
	w.seg = nil
	err := s.sink.close()
	if err == nil {
		err = s.buf.Flush()
	}
	if err != nil {
		s.pending.Abort()
		return diskFull(fmt.Errorf("finish the segment of rows %d to %d: %w", s.lo, w.offset, err))
	}
	seg, err := w.dir.CommitSegment(ctx, s.pending, w.index, s.lo, w.offset, string(w.format))
	if err != nil {
		return diskFull(err)
	}
	return w.send(event.Event{Kind: event.Segment, Path: seg.Name, Lo: seg.Lo, Hi: seg.Hi, Size: seg.Size,
		Rows: w.offset, Bytes: w.bytes, Progress: w.progress})
}

// abandon discards the open segment: rows not committed are read again by the next run.
func (w *worker) abandon() {
	if w.seg != nil {
		w.seg.sink.close()
		w.seg.pending.Abort()
		w.seg = nil
	}
}
