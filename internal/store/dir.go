package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// tmpSuffix marks files that are being written; List skips them.
const tmpSuffix = ".tmp"

// castagnoli is the CRC-32C table of commit records.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32Update(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// Dir is a Store on a local directory. Commits are tmp file → fsync → rename → fsync of the
// directory, so a committed file survives a crash and a half-written one never carries its final
// name. Folders it creates are private to the user (0700).
type Dir struct {
	root     string
	volatile bool // Commit renames without fsync (Volatile)
}

// NewDir returns a Store rooted at the existing directory root. It creates nothing: package
// workdir decides whether a directory may be used and creates it.
func NewDir(root string) (*Dir, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("open work dir: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("open work dir: %s is not a directory", root)
	}
	return &Dir{root: root}, nil
}

// Root returns the directory the store is rooted at.
func (d *Dir) Root() string { return d.root }

// Volatile returns the store of d's directory whose Commit does not make files durable: no
// writeback is started and nothing is fsynced, so a file removed soon after it is committed may
// never reach the disk. A committed file survives the end of any process (the page cache keeps it)
// but maybe not a power loss or a kernel crash, after which it can be missing or shorter. The
// files of a Volatile store need a reader that checks them against a durable record (as package
// workdir's segments have) and makes them durable itself if it keeps them. CommitNew stays durable.
func (d *Dir) Volatile() *Dir { return &Dir{root: d.root, volatile: true} }

// Path returns the local path of name.
func (d *Dir) Path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }

// checkName refuses a name that is not a clean relative slash path.
func checkName(name string) error {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
		return fmt.Errorf("store: invalid name %q", name)
	}
	return nil
}

// PendingPrefix starts the name of every file a Dir is writing; List skips them, and package
// workdir removes them from a work dir it owns.
const PendingPrefix = ".pending-"

// Create implements Store.
func (d *Dir) Create(_ context.Context, dir string) (Pending, error) {
	if dir != "" {
		if err := checkName(dir); err != nil {
			return nil, err
		}
	}
	folder := d.Path(dir)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return nil, fmt.Errorf("create file in %s: %w", folder, err)
	}
	f, err := os.CreateTemp(folder, PendingPrefix+"*"+tmpSuffix)
	if err != nil {
		return nil, fmt.Errorf("create file in %s: %w", folder, err)
	}
	p := &pendingFile{d: d, f: f, w: f}
	if !d.volatile {
		p.w = NewWritebackFile(f)
	}
	return p, nil
}

type pendingFile struct {
	checksum
	d    *Dir
	f    *os.File
	w    io.Writer // f, through a WritebackFile unless d is volatile
	done bool
}

func (p *pendingFile) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.add(b[:n])
	return n, err
}

func (p *pendingFile) Commit(name string) error {
	if p.done {
		return nil
	}
	if err := checkName(name); err != nil {
		p.Abort()
		return err
	}
	p.done = true
	final := p.d.Path(name)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		RemoveTemp(p.f)
		return fmt.Errorf("commit %s: %w", name, err)
	}
	if p.d.volatile {
		return renameFile(p.f, final)
	}
	return CommitFile(p.f, final)
}

func (p *pendingFile) CommitNew(name string) error {
	if p.done {
		return nil
	}
	if err := checkName(name); err != nil {
		p.Abort()
		return err
	}
	final := p.d.Path(name)
	err := p.f.Sync()
	if err == nil {
		err = os.MkdirAll(filepath.Dir(final), 0o700)
	}
	if err == nil {
		err = os.Link(p.f.Name(), final) // fails if final exists: the first writer wins
	}
	p.Abort()
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("commit %s: %w", name, ErrExist)
	case err != nil:
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return SyncDir(filepath.Dir(final))
}

func (p *pendingFile) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	if err := RemoveTemp(p.f); err != nil {
		return fmt.Errorf("abort %s: %w", p.f.Name(), err)
	}
	return nil
}

// List implements Store.
func (d *Dir) List(_ context.Context, prefix string) ([]Entry, error) {
	var out []Entry
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		start = d.Path(prefix[:i])
	}
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == start {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() || strings.HasSuffix(p, tmpSuffix) {
			return nil // folders, links and devices are not committed files
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the folder was read: no longer a file of the store
		}
		if err != nil {
			return err
		}
		out = append(out, Entry{Name: name, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Open implements Store.
func (d *Dir) Open(_ context.Context, name string) (Object, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(d.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", name, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return &fileObject{File: f, size: info.Size()}, nil
}

type fileObject struct {
	*os.File
	size int64
}

func (o *fileObject) Size() int64 { return o.size }

// Remove implements Store.
func (d *Dir) Remove(_ context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.Remove(d.Path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// File returns the *os.File behind an Object opened from a Dir, so that copies between local files
// can use copy_file_range; ok is false for other Objects.
func File(o Object) (f *os.File, ok bool) {
	fo, ok := o.(*fileObject)
	if !ok {
		return nil, false
	}
	return fo.File, true
}
