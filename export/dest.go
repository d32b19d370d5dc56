package export

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/store"
)

// destKind is what a path named as a destination (Out, Summary) is.
type destKind int

const (
	destFile   destKind = iota // a new file, or a regular file Overwrite replaces: written tmp → rename
	destStream                 // Stdout, a character device, FIFO or socket: written to directly, never renamed over
	destObject                 // an object in a bucket (gs://, s3://): uploaded, appearing only when complete
)

// checkDestinations checks Out and Summary, and that neither they nor the work dir would destroy
// one another.
func checkDestinations(p *plan, _ time.Time) error {
	o := &p.opts
	if o.Out == "-" && o.Summary == "-" {
		return optionErrorf("{{Out}} and {{Summary}} are both -, standard output: write the summary to a file")
	}
	var err error
	if isPattern(o.Out) {
		if err = checkPattern(o.Out, o.Overwrite, p.workDirPath()); err != nil {
			return err
		}
	} else if o.Out != "" {
		if p.outKind, err = checkDest("Out", o.Out, o.Overwrite); err != nil {
			return err
		}
	}
	if o.Summary != "" {
		if _, err = checkDest("Summary", o.Summary, o.Overwrite); err != nil {
			return err
		}
	}
	return checkApart(o.Out, o.Summary, p.workDirPath())
}

// checkDest says how the destination path of the option field may be written, or why it may
// not: a directory, a link to a regular file, an existing file without Overwrite, and a missing
// or read-only parent directory are refused before any work is done.
func checkDest(field, path string, overwrite bool) (destKind, error) {
	switch {
	case path == "-":
		return destStream, nil
	case store.IsURL(path):
		return destObject, checkObject(field, path, overwrite)
	}
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return destFile, checkParent(field, path)
	case err != nil:
		return 0, optionErrorf("{{%s}} %s: %v", field, path, err)
	case info.Mode()&fs.ModeSymlink != 0:
		return checkLink(field, path)
	case info.IsDir():
		return 0, optionErrorf("{{%s}} %s is a directory: name a file", field, path)
	case isStreamMode(info.Mode()):
		return destStream, nil
	case !info.Mode().IsRegular():
		return 0, optionErrorf("{{%s}} %s is not a regular file: name a file, a FIFO or a character device", field, path)
	case !overwrite:
		return 0, optionErrorf("{{%s}} %s exists: use {{Overwrite}} to replace it", field, path)
	}
	return destFile, checkParent(field, path)
}

// checkObject checks, before any work is done, that the bucket of the object url exists and
// can be listed with the credentials found, and that the object does not exist unless overwrite.
func checkObject(field, url string, overwrite bool) error {
	dir, name := splitObject(url)
	if name == "" {
		return optionErrorf("{{%s}} %s names a folder: name an object, such as %st.parquet", field, url, url)
	}
	b, err := store.OpenBlob(context.Background(), dir)
	if err != nil {
		return bucketError(field, url, err)
	}
	defer b.Close()
	exists, err := b.Exists(context.Background(), name)
	switch {
	case err != nil:
		return bucketError(field, url, err)
	case exists && !overwrite:
		return optionErrorf("{{%s}} %s exists: use {{Overwrite}} to replace it", field, url)
	}
	return nil
}

// splitObject splits an object's URL into its folder (scheme://bucket/prefix/) and name.
func splitObject(url string) (dir, name string) {
	i := strings.LastIndex(url, "/")
	return url[:i+1], url[i+1:]
}

// bucketError says in one line what to do about a bucket that cannot be used for the option
// field's url.
func bucketError(field, url string, err error) error {
	switch {
	case errors.Is(err, store.ErrNoCredentials):
		return optionErrorf("{{%s}} %s: %v: set up credentials (gcloud auth application-default login for gs://; aws configure or AWS_ACCESS_KEY_ID for s3://)", field, url, err)
	case errors.Is(err, store.ErrNoBucket):
		return optionErrorf("{{%s}} %s: the bucket does not exist: create it or name another", field, url)
	case errors.Is(err, store.ErrDenied):
		return optionErrorf("{{%s}} %s: %v: grant the credentials' account read and write access to the bucket, or name another", field, url, err)
	}
	return optionErrorf("{{%s}} %s: %v", field, url, err)
}

// checkLink accepts a symbolic link to a stream (/dev/stdout) and refuses any other: renaming
// over the link would replace the link, not the file it names.
func checkLink(field, path string) (destKind, error) {
	info, err := os.Stat(path)
	if err == nil && isStreamMode(info.Mode()) {
		return destStream, nil
	}
	return 0, optionErrorf("{{%s}} %s is a symbolic link: name the file it points to", field, path)
}

func isStreamMode(m fs.FileMode) bool {
	return m&(fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0
}

// checkParent checks that the directory of path exists and takes new files.
func checkParent(field, path string) error {
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return optionErrorf("directory of {{%s}} %s does not exist: create it first", field, path)
	}
	if err := checkWritable(dir); err != nil {
		return optionErrorf("cannot write in the directory of {{%s}} %s (%v): choose another path or make the directory writable", field, path, err)
	}
	return nil
}

// checkWritable creates and removes a file in dir: permissions, read-only mounts and ACLs all
// show, before any work is done.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".bqread-probe-*")
	if err != nil {
		return errors.Unwrap(err) // the *PathError's cause: its path is a random name
	}
	return store.RemoveTemp(f)
}

// checkApart refuses destinations that would destroy each other: the summary written over the
// output, or either of them inside the work dir, which is removed after the export. Local paths
// are compared by their real paths, URLs as written; a URL never names a local path.
func checkApart(out, summary, workDir string) error {
	named := func(p string) bool { return p != "" && p != "-" }
	o, s, w := destPath(out), destPath(summary), destPath(workDir)
	switch {
	case named(out) && named(summary) && o == s:
		return optionErrorf("{{Summary}} and {{Out}} name the same file %s: give the summary its own file", summary)
	case workDir == "":
		return nil
	case named(out) && within(o, w):
		return optionErrorf("{{Out}} %s is inside the work dir %s, which is removed after the export: put the output outside it", out, workDir)
	case named(summary) && within(s, w):
		return optionErrorf("{{Summary}} %s is inside the work dir %s, which is removed after the export: put the summary outside it", summary, workDir)
	}
	return nil
}

// destPath is realPath of a local path, and a URL as it is.
func destPath(p string) string {
	if store.IsURL(p) {
		return p
	}
	return realPath(p)
}

// realPath returns path made absolute, with the links of its existing part resolved, so that
// two names of one file compare equal.
func realPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		return p
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
