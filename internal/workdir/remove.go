package workdir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bqread/bqread/internal/store"
)

// Remove deletes what bqread created in the work dir: the manifest, each stream folder's
// segments, commit records and unfinished files, the temp output, then the marker, and the
// directory itself if bqread made it. Anything else is left in place with every folder that holds
// it, and the returned *Error (ErrForeign) names it; nothing is ever removed by a recursive
// delete.
func (d *Dir) Remove() error {
	left, err := d.clear()
	if err != nil || len(left) > 0 {
		return removeError(d.path, left, err)
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

// clear removes every file bqread created in the work dir but the marker, and returns the names
// of the entries it left because bqread did not create them.
func (d *Dir) clear() ([]string, error) {
	if err := d.RemoveOutputTemp(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == MarkerName:
		case (name == ManifestName || name == lockName) && e.Type().IsRegular():
			err = removeFile(d.path, name)
		case e.IsDir() && isStreamDir(name):
			var l []string
			l, err = d.clearStream(name)
			left = append(left, l...)
		case isPending(e):
			err = removeFile(d.path, name)
		default:
			left = append(left, name)
		}
		if err != nil {
			return left, err
		}
	}
	return left, nil
}

// clearStream removes a stream folder's files of bqread's own kinds (segment files, commit, done
// and split records, unfinished files), then the folder if nothing else is in it.
func (d *Dir) clearStream(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.path, dir))
	if err != nil {
		return nil, err
	}
	var left []string
	for _, e := range entries {
		name := dir + "/" + e.Name()
		if !e.Type().IsRegular() || !(isPending(e) || e.Name() == doneName || isSegmentFile(name) || isRecord(name) || isSplitRecord(name)) {
			left = append(left, name)
			continue
		}
		if err := removeFile(d.path, name); err != nil {
			return left, err
		}
	}
	if len(left) > 0 {
		return left, nil
	}
	return nil, os.Remove(filepath.Join(d.path, dir))
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

// isPending reports whether e is a file the store left unfinished.
func isPending(e os.DirEntry) bool {
	return e.Type().IsRegular() && strings.HasPrefix(e.Name(), store.PendingPrefix) && strings.HasSuffix(e.Name(), ".tmp")
}

func removeFile(root, name string) error {
	err := os.Remove(filepath.Join(root, filepath.FromSlash(name)))
	if os.IsNotExist(err) {
		return nil
	}
	return err
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
