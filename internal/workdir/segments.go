package workdir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"sync"

	"github.com/bqread/bqread/internal/store"
)

// ErrChanged is wrapped by errors for a committed segment whose file no longer matches its
// commit record.
var ErrChanged = errors.New("workdir: segment changed since its commit")

// recordSuffix ends the name of a segment's commit record.
const recordSuffix = ".commit"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Segment is one committed segment: rows [Lo, Hi) of stream Stream, in the file Name of Size
// bytes whose CRC-32C is CRC32C, and the metadata Meta its writer returned (for the footer of
// the output, package output). It is what the commit record of the segment holds.
type Segment struct {
	Name   string `json:"name"`
	Stream int    `json:"stream"`
	Lo     int64  `json:"lo"`
	Hi     int64  `json:"hi"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
	Meta   []byte `json:"meta,omitempty"`
	// Merged is set when the merge journal records the segment's body in the temp output, at
	// Offset, and its file was (or is about to be) removed (OutputTemp.Commit).
	Merged bool  `json:"-"`
	Offset int64 `json:"-"`
}

// StreamDir returns the folder of stream i's segments.
func StreamDir(i int) string { return fmt.Sprintf("stream-%06d", i) }

// rangeName is the common start of the names of stream i's rows [lo, hi): the record adds
// recordSuffix, each file written for the range a writer's tag and the format's extension.
func rangeName(i int, lo, hi int64) string {
	return fmt.Sprintf("%s/seg-%012d-%012d", StreamDir(i), lo, hi)
}

// RecordName returns the name of the commit record of stream i's rows [lo, hi).
func RecordName(i int, lo, hi int64) string { return rangeName(i, lo, hi) + recordSuffix }

// CommitSegment commits the written file p as the segment of stream i holding rows [lo, hi), its
// name ending in ext, with its writer's metadata meta: first the file, under a name of its own,
// then the commit record (stream, rows, size, checksum, meta), which only one writer of a range
// can create. If another
// writer (a second copy of the same task) recorded the range first, p's file is removed and that
// writer's segment returned: the rows are the same. A crash between the two leaves a file without
// a record, which Segments never counts and Remove deletes.
func (d *Dir) CommitSegment(ctx context.Context, p store.Pending, i int, lo, hi int64, ext string, meta []byte) (Segment, error) {
	size, sum := p.Written()
	s := Segment{Name: rangeName(i, lo, hi) + "-" + tag() + "." + ext, Stream: i, Lo: lo, Hi: hi, Size: size, CRC32C: sum, Meta: meta}
	if err := p.Commit(s.Name); err != nil {
		return Segment{}, err
	}
	data, _ := json.Marshal(s)
	err := d.commitNew(ctx, StreamDir(i), RecordName(i, lo, hi), data)
	if errors.Is(err, store.ErrExist) {
		d.st.Remove(ctx, s.Name)
		return d.Segment(ctx, i, lo, hi)
	}
	if err != nil {
		d.st.Remove(ctx, s.Name)
		return Segment{}, fmt.Errorf("record segment %s: %w", s.Name, err)
	}
	return s, nil
}

// tag returns a random name part, so that two writers of one range never write one file.
func tag() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// commitNew writes data as name in folder dir unless name exists (store.ErrExist).
func (d *Dir) commitNew(ctx context.Context, dir, name string, data []byte) error {
	p, err := d.st.Create(ctx, dir)
	if err != nil {
		return err
	}
	if _, err := p.Write(data); err != nil {
		p.Abort()
		return err
	}
	return p.CommitNew(name)
}

// Segments returns the recorded segments of stream i, in no particular order: those whose commit record
// names a file of the range that exists with the recorded size, or that the merge journal records
// as merged into the temp output (Merged; its file is then removed). Files without such a record (a
// stray or planted file, a crash between file and record) are not segments. The checksum is
// checked by OpenSegment, when the segment is read. Segments may overlap when two copies of a
// task cut the stream differently; package shard picks the ones that tile it.
func (d *Dir) Segments(ctx context.Context, i int) ([]Segment, error) {
	var segs []Segment
	err := d.records(ctx, i, func(s Segment, _ string, backed bool) error {
		if backed {
			segs = append(segs, s)
		}
		return nil
	})
	return segs, err
}

// DropLost removes the commit records of stream i whose segment is neither merged nor in a file
// of the recorded size, and such a file: what a power loss or a kernel crash leaves of a segment
// committed without fsync (store.Dir.Volatile), whose rows are then read again. It returns the
// segments it dropped. The caller makes sure that no writer of the stream runs: a record is
// written only after its file is whole, so a live writer never leaves one of these.
func (d *Dir) DropLost(ctx context.Context, i int) ([]Segment, error) {
	var lost []Segment
	err := d.records(ctx, i, func(s Segment, record string, backed bool) error {
		if backed {
			return nil
		}
		if err := d.st.Remove(ctx, record); err != nil {
			return err
		}
		if err := d.st.Remove(ctx, s.Name); err != nil {
			return err
		}
		lost = append(lost, s)
		return nil
	})
	return lost, err
}

// records calls f with each commit record of stream i that bqread wrote for its range, the
// record's name, and whether the segment is backed: merged (the journal holds it; Merged and
// Offset are set) or in a file of the recorded size.
func (d *Dir) records(ctx context.Context, i int, f func(s Segment, record string, backed bool) error) error {
	entries, err := d.st.List(ctx, StreamDir(i)+"/")
	if err != nil {
		return err
	}
	sizes := make(map[string]int64, len(entries))
	for _, e := range entries {
		sizes[e.Name] = e.Size
	}
	journal, err := d.mergedOf(i)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name, recordSuffix) {
			continue
		}
		s, ok, err := d.readRecord(ctx, e.Name)
		if err != nil {
			return err
		}
		if !ok || s.Stream != i {
			continue
		}
		m, merged := journal[s.Name]
		if merged {
			s.Merged, s.Offset = true, m.Offset
		}
		size, found := sizes[s.Name]
		if err := f(s, e.Name, merged || found && size == s.Size); err != nil {
			return err
		}
	}
	return nil
}

// readRecord reads the commit record name; ok is false for a missing file or one that is not a
// record bqread wrote for its range.
func (d *Dir) readRecord(ctx context.Context, name string) (s Segment, ok bool, err error) {
	o, err := d.st.Open(ctx, name)
	if errors.Is(err, store.ErrNotExist) {
		return Segment{}, false, nil
	}
	if err != nil {
		return Segment{}, false, err
	}
	defer o.Close()
	if err := json.NewDecoder(o).Decode(&s); err != nil {
		return Segment{}, false, nil
	}
	return s, name == RecordName(s.Stream, s.Lo, s.Hi) && validSegment(s), nil
}

// validSegment reports whether s's file name is one CommitSegment gives its stream and rows.
func validSegment(s Segment) bool {
	prefix := rangeName(s.Stream, s.Lo, s.Hi) + "-"
	return s.Lo >= 0 && s.Hi > s.Lo && s.Stream >= 0 && isSegmentFile(s.Name) && strings.HasPrefix(s.Name, prefix)
}

// isSegmentFile reports whether name has the shape of a segment file CommitSegment names:
// stream-NNNNNN/seg-LO-HI-TAG.EXT.
func isSegmentFile(name string) bool {
	var i int
	var lo, hi int64
	var rest string
	n, _ := fmt.Sscanf(name, "stream-%06d/seg-%012d-%012d-%s", &i, &lo, &hi, &rest)
	tagPart, ext, found := strings.Cut(rest, ".")
	return n == 4 && found && len(tagPart) == 12 && ext != "" && !strings.ContainsAny(ext, "/.")
}

// Segment returns the segment recorded for stream i's rows [lo, hi), from its commit record;
// OpenSegment checks its file.
func (d *Dir) Segment(ctx context.Context, i int, lo, hi int64) (Segment, error) {
	name := RecordName(i, lo, hi)
	s, ok, err := d.readRecord(ctx, name)
	if err != nil {
		return Segment{}, err
	}
	if !ok {
		return Segment{}, fmt.Errorf("%w: no commit record bqread wrote at %s", ErrChanged, name)
	}
	return s, nil
}

// ReadSegment opens segment s to be read once, from its start to its end, checking its size and
// checksum as it is read: the read that ends it returns an error wrapping ErrChanged instead of
// io.EOF when the file no longer matches its commit record. It reads each byte once where
// OpenSegment, which checks the whole file before the first read, reads it twice; it is for a
// destination that can disown what it got before the check failed (a temp output, whose journal
// records only segments copied whole, or an upload not completed yet). The caller closes it.
func (d *Dir) ReadSegment(ctx context.Context, s Segment) (*SegmentReader, error) {
	if s.Merged {
		return nil, fmt.Errorf("%w: %s was merged into the temp output and removed", ErrChanged, s.Name)
	}
	o, err := d.st.Open(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	return &SegmentReader{o: o, s: s, h: crc32.New(castagnoli)}, nil
}

// SegmentReader is a segment read once, in order (ReadSegment).
type SegmentReader struct {
	o store.Object
	s Segment
	h hash.Hash32
	n int64 // bytes read
}

// Read reads the next bytes of the segment, and one byte past its recorded size, which a file
// that grew has.
func (r *SegmentReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	p = p[:min(int64(len(p)), r.s.Size+1-r.n)]
	k, err := r.o.ReadAt(p, r.n)
	r.h.Write(p[:k])
	r.n += int64(k)
	switch {
	case err != nil && err != io.EOF:
		return k, err
	case err == io.EOF || r.n > r.s.Size:
		return k, r.check()
	}
	return k, nil
}

// check returns io.EOF when the bytes read are the segment's recorded size and checksum, else an
// error wrapping ErrChanged.
func (r *SegmentReader) check() error {
	if r.n != r.s.Size || r.h.Sum32() != r.s.CRC32C {
		return fmt.Errorf("%w: %s has %d bytes with CRC-32C %#08x, its record says %d bytes with %#08x", ErrChanged, r.s.Name, r.n, r.h.Sum32(), r.s.Size, r.s.CRC32C)
	}
	return io.EOF
}

// copyChunk is how much SegmentReader.WriteTo reads at a time: small enough to be in the CPU's
// cache still when it is checksummed and written.
const copyChunk = 256 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyChunk]byte) }}

// WriteTo writes the rest of the segment to w, checking it (Read), through a buffer that is
// reused from one segment to the next.
func (r *SegmentReader) WriteTo(w io.Writer) (int64, error) {
	buf := copyBuffers.Get().(*[copyChunk]byte)
	defer copyBuffers.Put(buf)
	var total int64
	for {
		k, err := r.Read(buf[:])
		if k > 0 {
			n, werr := w.Write(buf[:k])
			total += int64(n)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close closes the segment's file.
func (r *SegmentReader) Close() error { return r.o.Close() }

// OpenSegment opens segment s for reading after checking that its file still has the recorded
// size and checksum. The caller closes it.
func (d *Dir) OpenSegment(ctx context.Context, s Segment) (store.Object, error) {
	if s.Merged {
		return nil, fmt.Errorf("%w: %s was merged into the temp output and removed", ErrChanged, s.Name)
	}
	o, err := d.st.Open(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, io.NewSectionReader(o, 0, o.Size()+1))
	if err == nil && (n != s.Size || h.Sum32() != s.CRC32C) {
		err = fmt.Errorf("%w: %s has %d bytes with CRC-32C %#08x, its record says %d bytes with %#08x", ErrChanged, s.Name, n, h.Sum32(), s.Size, s.CRC32C)
	}
	if err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}
