package workdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/bqread/bqread/internal/store"
)

// ErrChanged is wrapped by errors for a committed segment whose file no longer matches its
// commit record.
var ErrChanged = errors.New("workdir: segment changed since its commit")

// recordSuffix ends the name of a segment's commit record: the segment's name plus this.
const recordSuffix = ".commit"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Segment is one committed segment: rows [Lo, Hi) of stream Stream, in the file Name of Size
// bytes whose CRC-32C is CRC32C. It is what the commit record of the segment holds.
type Segment struct {
	Name   string `json:"name"`
	Stream int    `json:"stream"`
	Lo     int64  `json:"lo"`
	Hi     int64  `json:"hi"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// StreamDir returns the folder of stream i's segments.
func StreamDir(i int) string { return fmt.Sprintf("stream-%06d", i) }

// SegmentName returns the name of the segment of stream i holding rows [lo, hi).
func SegmentName(i int, lo, hi int64, ext string) string {
	return fmt.Sprintf("%s/seg-%012d-%012d.%s", StreamDir(i), lo, hi, ext)
}

// CommitSegment commits the written file p as the segment of stream i holding rows [lo, hi):
// first its commit record (name, rows, size, checksum), then the file. A segment counts only
// once both are committed and agree, so a crash between the two leaves a record that Segments
// ignores, never a file it trusts unrecorded.
func (d *Dir) CommitSegment(ctx context.Context, p store.Pending, i int, lo, hi int64, ext string) (Segment, error) {
	size, sum := p.Written()
	s := Segment{Name: SegmentName(i, lo, hi, ext), Stream: i, Lo: lo, Hi: hi, Size: size, CRC32C: sum}
	data, _ := json.Marshal(s)
	rec, err := d.st.Create(ctx, StreamDir(i))
	if err == nil {
		_, err = rec.Write(data)
	}
	if err == nil {
		err = rec.Commit(s.Name + recordSuffix)
	}
	if err != nil {
		if rec != nil {
			rec.Abort()
		}
		p.Abort()
		return Segment{}, fmt.Errorf("record segment %s: %w", s.Name, err)
	}
	if err := p.Commit(s.Name); err != nil {
		return Segment{}, err
	}
	return s, nil
}

// Segments returns the committed segments of stream i, in row order: those whose commit record
// names a file of stream i that exists with the recorded size. Files without such a record (a
// stray or planted file, a crash between record and file) are not segments. The checksum is
// checked by OpenSegment, when the segment is read.
func (d *Dir) Segments(ctx context.Context, i int) ([]Segment, error) {
	entries, err := d.st.List(ctx, StreamDir(i)+"/")
	if err != nil {
		return nil, err
	}
	sizes := make(map[string]int64, len(entries))
	for _, e := range entries {
		sizes[e.Name] = e.Size
	}
	var segs []Segment
	for _, e := range entries {
		if !strings.HasSuffix(e.Name, recordSuffix) {
			continue
		}
		s, ok, err := d.readRecord(ctx, e.Name)
		if err != nil {
			return nil, err
		}
		if size, found := sizes[s.Name]; ok && found && size == s.Size && s.Stream == i {
			segs = append(segs, s)
		}
	}
	sort.Slice(segs, func(a, b int) bool { return segs[a].Lo < segs[b].Lo })
	return segs, nil
}

// readRecord reads the commit record name; ok is false for a file that is not one bqread wrote.
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
	return s, s.Name+recordSuffix == name && validSegment(s), nil
}

// validSegment reports whether s's name is the one SegmentName gives its stream and rows.
func validSegment(s Segment) bool {
	ext := strings.TrimPrefix(path.Ext(s.Name), ".")
	return s.Lo >= 0 && s.Hi >= s.Lo && s.Stream >= 0 && s.Name == SegmentName(s.Stream, s.Lo, s.Hi, ext)
}

// OpenSegment opens segment s for reading after checking that its file still has the recorded
// size and checksum. The caller closes it.
func (d *Dir) OpenSegment(ctx context.Context, s Segment) (store.Object, error) {
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

// Segment returns the committed segment called name, from its commit record, after checking that
// the record is bqread's and the file has the recorded size.
func (d *Dir) Segment(ctx context.Context, name string) (Segment, error) {
	s, ok, err := d.readRecord(ctx, name+recordSuffix)
	if err != nil {
		return Segment{}, err
	}
	if !ok {
		return Segment{}, fmt.Errorf("%w: %s has no commit record bqread wrote", ErrChanged, name)
	}
	o, err := d.st.Open(ctx, name)
	if err != nil {
		return Segment{}, err
	}
	defer o.Close()
	if o.Size() != s.Size {
		return Segment{}, fmt.Errorf("%w: %s has %d bytes, its record says %d", ErrChanged, name, o.Size(), s.Size)
	}
	return s, nil
}
