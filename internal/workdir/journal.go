package workdir

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/bqread/bqread/internal/store"
)

// tailBytes is how many bytes before the durable length of the temp output a journal line
// checksums, so that a resume knows the file it truncates is the one the journal describes.
const tailBytes = 64 << 10

// Merged is a segment whose body the temp output holds, durably, at Offset.
type Merged struct {
	Name   string `json:"name"` // the segment's file, as its commit record names it
	Stream int    `json:"stream"`
	Lo     int64  `json:"lo"`
	Hi     int64  `json:"hi"`
	Offset int64  `json:"offset"`
}

// journalLine is one line of the journal. The first line names the temp output it describes
// (its device and inode); each later one says that the temp output's first Length bytes, whose
// last tailBytes have the CRC-32C Tail, are durable and hold the bodies of Merged.
type journalLine struct {
	Dev    uint64   `json:"dev,omitempty"`
	Ino    uint64   `json:"ino,omitempty"`
	Merged []Merged `json:"merged,omitempty"`
	Length int64    `json:"length"`
	Tail   uint32   `json:"tail_crc32c"`
}

// OutputTemp is the temp output of an export that writes each byte once: as the merge copies
// segments into File and makes them durable (Commit), the journal in the work dir records the
// file's durable length and where each segment's body is, and the segments' files are removed.
// A resumed export (OpenOutputTemp) truncates the file to its durable length and goes on.
type OutputTemp struct {
	File   *os.File
	d      *Dir
	j      *os.File // the journal, written by appending
	length int64    // durable length
	merged []Merged // every segment the file holds durably
}

// Length returns the temp output's durable length: where a resumed merge writes next.
func (t *OutputTemp) Length() int64 { return t.length }

// Merged returns the segments the temp output holds durably, in the order they were copied.
func (t *OutputTemp) Merged() []Merged { return t.merged }

// OpenOutputTemp returns the temp output of the export into out: the one an earlier run left, if
// its journal records any durable segment (resumeOutputTemp), else a new one (CreateOutputTemp),
// with a journal when journal is set and the work dir is local. Without a journal, Journaled is
// false and the segments are kept.
func (d *Dir) OpenOutputTemp(out string, journal bool) (*OutputTemp, error) {
	if d.bucket == nil {
		t, err := d.resumeOutputTemp()
		if t != nil || err != nil {
			return t, err
		}
	}
	f, err := d.CreateOutputTemp(out)
	if err != nil {
		return nil, err
	}
	t := &OutputTemp{File: f, d: d}
	if !journal || d.bucket != nil {
		return t, nil
	}
	if err := t.startJournal(); err != nil {
		f.Close()
		d.RemoveOutputTemp()
		return nil, fmt.Errorf("start the merge journal: %w", err)
	}
	return t, nil
}

// Journaled reports whether the temp output has a journal: Commit may be called.
func (t *OutputTemp) Journaled() bool { return t.j != nil }

// startJournal starts a new journal for the new temp output t, recording its identity first.
func (t *OutputTemp) startJournal() error {
	d := t.d
	dev, ino, err := fileID(t.File)
	if err != nil {
		return err
	}
	d.journal.mu.Lock()
	d.journal.off, d.journal.merged = 0, nil
	d.journal.mu.Unlock()
	if t.j, err = os.OpenFile(filepath.Join(d.path, journalName), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o666); err != nil {
		return err
	}
	if err := t.append(journalLine{Dev: dev, Ino: ino}); err != nil {
		t.Close()
		return err
	}
	return store.SyncDir(d.path)
}

// resumeOutputTemp opens the temp output an earlier run of the export left, if its journal
// records any durable segment: it checks that the file is the one the journal describes (device,
// inode, the checksum of the bytes before its durable length), truncates it to that length and
// returns it positioned there. Without such a journal it returns nil and no error; with one
// whose file is missing or changed it returns an error, since the segments it holds were removed.
func (d *Dir) resumeOutputTemp() (*OutputTemp, error) {
	first, lines, valid, err := d.readJournal()
	if err != nil || len(lines) == 0 {
		return nil, err
	}
	last := lines[len(lines)-1]
	path, err := d.outputTempPath()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, journalError(path, err)
	}
	t := &OutputTemp{File: f, d: d, length: last.Length}
	for _, l := range lines {
		t.merged = append(t.merged, l.Merged...)
	}
	if err := t.check(first, last); err != nil {
		f.Close()
		return nil, journalError(path, err)
	}
	err = f.Truncate(last.Length)
	if err == nil {
		_, err = f.Seek(last.Length, io.SeekStart)
	}
	if err == nil {
		t.j, err = os.OpenFile(filepath.Join(d.path, journalName), os.O_WRONLY|os.O_APPEND, 0)
	}
	if err == nil {
		err = t.j.Truncate(valid) // a line cut short by the crash
	}
	if err != nil {
		t.Close()
		f.Close()
		return nil, fmt.Errorf("resume the temp output %s: %w", path, err)
	}
	for _, s := range t.merged { // a crash between a Commit's journal line and its removals
		if err := d.st.Remove(context.Background(), s.Name); err != nil {
			t.Close()
			f.Close()
			return nil, err
		}
	}
	return t, nil
}

// journalError says that the temp output a journal describes cannot be resumed.
func journalError(path string, err error) error {
	return fmt.Errorf("%w: the temp output %s, which holds the segments merged before, is missing or changed (%v): remove the work dir and export again", ErrChanged, path, err)
}

// check checks that t.File is the file the journal's first line names and that its bytes
// before the durable length are those the last line checksummed.
func (t *OutputTemp) check(first, last journalLine) error {
	info, err := t.File.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	dev, ino, err := fileID(t.File)
	if err != nil {
		return err
	}
	if dev != first.Dev || ino != first.Ino {
		return errors.New("another file than the one the merge journal recorded")
	}
	if info.Size() < last.Length {
		return fmt.Errorf("%d bytes, the merge journal recorded %d durable", info.Size(), last.Length)
	}
	if sum, err := tailSum(t.File, last.Length); err != nil || sum != last.Tail {
		return fmt.Errorf("its bytes before offset %d are not those the merge journal recorded", last.Length)
	}
	return nil
}

// readJournal returns the journal's first line and the lines after it, up to the first line
// that is cut short or damaged (a crash while it was appended), and the bytes those lines take.
// A work dir without a journal gives no lines.
func (d *Dir) readJournal() (first journalLine, lines []journalLine, valid int64, err error) {
	f, err := os.Open(filepath.Join(d.path, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		return first, nil, 0, nil
	}
	if err != nil {
		return first, nil, 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for n := 0; ; n++ {
		raw, err := r.ReadBytes('\n')
		l, ok := parseJournalLine(raw)
		if err != nil || !ok {
			return first, lines, valid, nil
		}
		valid += int64(len(raw))
		if n == 0 {
			first = l
		} else {
			lines = append(lines, l)
		}
	}
}

// parseJournalLine parses one line "CRC JSON\n" of the journal; ok is false unless its CRC-32C
// matches.
func parseJournalLine(raw []byte) (l journalLine, ok bool) {
	sum, body, found := bytes.Cut(bytes.TrimSuffix(raw, []byte("\n")), []byte(" "))
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if !found || err != nil || crc32.Checksum(body, castagnoli) != uint32(want) {
		return l, false
	}
	return l, json.Unmarshal(body, &l) == nil
}

// append writes l to the journal and makes it durable.
func (t *OutputTemp) append(l journalLine) error {
	body, _ := json.Marshal(l)
	line := fmt.Appendf(nil, "%08x %s\n", crc32.Checksum(body, castagnoli), body)
	if _, err := t.j.Write(line); err != nil {
		return err
	}
	return t.j.Sync()
}

// Commit makes the temp output durable up to length bytes, which hold the bodies of segs (Name,
// rows and Offset), records that in the journal, and then removes the segments' files: their
// bytes are in the temp output, which a resume keeps. The file's bytes after length are not
// durable and a resume drops them.
func (t *OutputTemp) Commit(length int64, segs []Merged) error {
	if err := t.File.Sync(); err != nil {
		return fmt.Errorf("sync the temp output: %w", err)
	}
	tail, err := tailSum(t.File, length)
	if err == nil {
		err = t.append(journalLine{Merged: segs, Length: length, Tail: tail})
	}
	if err != nil {
		return fmt.Errorf("record the merge journal: %w", err)
	}
	t.length = length
	t.merged = append(t.merged, segs...)
	for _, s := range segs {
		if err := t.d.st.Remove(context.Background(), s.Name); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the journal (not File, which the caller commits or removes).
func (t *OutputTemp) Close() error {
	if t.j == nil {
		return nil
	}
	err := t.j.Close()
	t.j = nil
	return err
}

// Holds reports whether the temp output holds segments whose files were removed: it must then
// be kept when the export stops, for a resume.
func (t *OutputTemp) Holds() bool { return len(t.merged) > 0 }

// tailSum returns the CRC-32C of the up to tailBytes bytes of f before offset end.
func tailSum(f *os.File, end int64) (uint32, error) {
	start := max(0, end-tailBytes)
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(f, start, end-start)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// journalCache is what a Dir has read of the journal: the bytes of its lines before off, and
// their merged segments by stream and file name. A process reads only what was appended since
// its last look.
type journalCache struct {
	mu     sync.Mutex
	off    int64
	merged map[int]map[string]Merged
}

// mergedOf returns the segments of stream i that the journal records as merged, by file name.
func (d *Dir) mergedOf(i int) (map[string]Merged, error) {
	if d.bucket != nil {
		return nil, nil
	}
	c := &d.journal
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.read(filepath.Join(d.path, journalName)); err != nil {
		return nil, err
	}
	return maps.Clone(c.merged[i]), nil
}

// read reads the lines appended to the journal at path since the last read.
func (c *journalCache) read(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		c.off, c.merged = 0, nil // none, or removed with the temp output it described
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.Size() < c.off {
		c.off, c.merged = 0, nil // a new journal
	}
	r := bufio.NewReader(io.NewSectionReader(f, c.off, 1<<62))
	for {
		raw, err := r.ReadBytes('\n')
		l, ok := parseJournalLine(raw)
		if err != nil || !ok {
			return nil
		}
		c.off += int64(len(raw))
		for _, s := range l.Merged {
			if c.merged == nil {
				c.merged = map[int]map[string]Merged{}
			}
			if c.merged[s.Stream] == nil {
				c.merged[s.Stream] = map[string]Merged{}
			}
			c.merged[s.Stream][s.Name] = s
		}
	}
}
