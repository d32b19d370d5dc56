package workdir

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bqread/bqread/internal/store"
)

// Remove deletes what bqread created in the work dir: the manifest, each stream folder's
// segments, commit records and unfinished files, the temp output, then the marker, and the
// directory itself if bqread made it (a work dir in a bucket is a prefix, gone with its last
// object). Anything else is left in place with every folder that holds it, and the returned
// *Error (ErrForeign) names it; nothing is ever removed by a recursive delete.
func (d *Dir) Remove() error {
	left, err := d.clear()
	if err != nil || len(left) > 0 {
		return removeError(d.path, left, err)
	}
	if d.bucket != nil {
		err := d.st.Remove(context.Background(), MarkerName)
		d.Unlock()
		return removeError(d.path, nil, err)
	}
	d.Unlock()
	if err := os.Remove(filepath.Join(d.path, MarkerName)); err != nil {
		return removeError(d.path, nil, err)
	}
	if !d.mark.CreatedDir {
		return nil
	}
	return removeError(d.path, nil, os.Remove(d.path))
}

// entry is a name in a work dir, and whether it is a regular file (every object of a bucket is).
type entry struct {
	name    string
	regular bool
}

// clear removes every file bqread created in the work dir but the marker (and a bucket's lock,
// which Unlock removes), and returns the names of the entries it left because bqread did not
// create them. Emptied stream folders of a local work dir are removed.
func (d *Dir) clear() ([]string, error) {
	ctx := context.Background()
	if err := d.RemoveOutputTemp(); err != nil {
		return nil, err
	}
	entries, folders, err := d.entries(ctx)
	if err != nil {
		return nil, err
	}
	var left []string
	kept := map[string]bool{}
	for _, e := range entries {
		switch {
		case e.name == MarkerName, e.name == lockName && d.bucket != nil:
		case e.regular && ours(e.name):
			if err := d.st.Remove(ctx, e.name); err != nil {
				return left, err
			}
		default:
			left = append(left, e.name)
			kept[path.Dir(e.name)] = true
		}
	}
	for _, f := range folders {
		if !kept[f] {
			if err := os.Remove(filepath.Join(d.path, f)); err != nil {
				return left, err
			}
		}
	}
	return left, nil
}

// entries lists the work dir: the entries of its top level, with those of its stream folders in
// place of the folders, which folders lists.
func (d *Dir) entries(ctx context.Context) (all []entry, folders []string, err error) {
	if d.bucket != nil {
		objects, err := d.bucket.ListAll(ctx, "")
		for _, o := range objects {
			all = append(all, entry{o.Name, true})
		}
		return all, nil, err
	}
	top, err := os.ReadDir(d.path)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range top {
		if !e.IsDir() || !isStreamDir(e.Name()) {
			all = append(all, entry{e.Name(), e.Type().IsRegular()})
			continue
		}
		sub, err := os.ReadDir(filepath.Join(d.path, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		for _, s := range sub {
			all = append(all, entry{e.Name() + "/" + s.Name(), s.Type().IsRegular()})
		}
		folders = append(folders, e.Name())
	}
	return all, folders, nil
}

// ours reports whether a file of the work dir is of one of bqread's kinds: the manifest, the
// lock, the merge journal, an unfinished file, a merge piece, a placed file's record, or in a stream folder a segment file, a commit, done or split record
// or an unfinished file. Only a work dir with bqread's marker is cleared, so a name says what a
// file is.
func ours(name string) bool {
	dir, base := path.Split(name)
	switch {
	case dir == "":
		return base == ManifestName || base == lockName || base == journalName || base == MergeHeaderName || base == MergeFooterName || store.IsPendingName(base) || isPlacedRecord(base)
	case isStreamDir(strings.TrimSuffix(dir, "/")):
		return store.IsPendingName(base) || base == doneName || isSegmentFile(name) || isRecord(name) || isSplitRecord(name)
	}
	return false
}

// isRecord reports whether name has the shape of a commit record: stream-NNNNNN/seg-LO-HI.commit.
func isRecord(name string) bool {
	var i int
	var lo, hi int64
	n, _ := fmt.Sscanf(name, "stream-%06d/seg-%012d-%012d.commit", &i, &lo, &hi)
	return n == 3 && name == RecordName(i, lo, hi)
}

// isStreamDir reports whether name is a StreamDir name.
func isStreamDir(name string) bool {
	var i int
	_, err := fmt.Sscanf(name, "stream-%06d", &i)
	return err == nil && StreamDir(i) == name
}

// removeError reports what Remove could not do.
func removeError(path string, left []string, err error) error {
	if err != nil {
		return fmt.Errorf("remove work dir %s: %w", path, err)
	}
	if len(left) == 0 {
		return nil
	}
	shown := left[:min(len(left), 3)]
	more := ""
	if len(left) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(left)-len(shown))
	}
	return &Error{Path: path, Reason: ErrForeign,
		Detail: fmt.Sprintf("holds files bqread did not create (%s%s), so they and the directory were left in place", strings.Join(shown, ", "), more)}
}
