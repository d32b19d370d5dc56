package export

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/shard"
)

// A many-file output is an Out whose last path element holds one "*" (isPattern), in a local
// directory or in a bucket (gs://, s3://): every segment becomes one complete file, named by the
// pattern with the "*" replaced by the file's number in (stream, offset) order (partName), and
// then a manifest listing every file with its rows and bytes is written beside them
// (partManifestName). Once every stream is read, each file is written and put in place whole (a
// local temp file renamed, an object whose upload completes) before the next, and the manifest
// last: a reader that sees the manifest knows the set is complete. An export that fails on the
// way removes the files it put in place while they are still the ones it put (partDest); one
// killed between two files leaves a set without its manifest, which is therefore incomplete.

// minFileSize is the least MaxFileSize: room for a header, a footer and some rows.
const minFileSize = 16 << 10

// bodyLimit is the most bytes of a segment's body under MaxFileSize max: 1/16 is left for the
// header and the footer.
func bodyLimit(max int64) int64 { return max - max/16 }

// isPattern reports whether out names a many-file output.
func isPattern(out string) bool { return strings.Contains(filepath.Base(out), "*") }

// splitPattern splits a pattern into its folder (a local directory with its trailing separator,
// or "" for the current one; scheme://bucket/prefix/ in a bucket) and its last element.
func splitPattern(pattern string) (dir, base string) {
	if store.IsURL(pattern) {
		return splitObject(pattern)
	}
	return filepath.Split(pattern)
}

// partName is the name of file k of the pattern in its folder.
func partName(pattern string, k int) string {
	_, base := splitPattern(pattern)
	return strings.Replace(base, "*", fmt.Sprintf("%06d", k), 1)
}

// partManifestName is the name of the manifest of the files of pattern, in their folder: what
// comes before the "*" and "manifest.json" (part-*.parquet: part-manifest.json).
func partManifestName(pattern string) string {
	_, base := splitPattern(pattern)
	before, _, _ := strings.Cut(base, "*")
	return before + "manifest.json"
}

// inPatternDir is the path or URL of the file name in the folder of pattern.
func inPatternDir(pattern, name string) string {
	dir, _ := splitPattern(pattern)
	return dir + name
}

// partWorkDir is the default work dir of a many-file output: the pattern without its "*", and
// .bqread.
func partWorkDir(pattern string) string { return strings.Replace(pattern, "*", "", 1) + ".bqread" }

// checkPattern checks a many-file Out: one "*", in the last path element; a directory that
// exists and takes new files, or a bucket that exists and can be used; and, without Overwrite,
// no file of the pattern nor its manifest there already, but those that an earlier run of the
// export in workDir put there (in a bucket, objects that carry its mark; in a directory, files
// its work dir recorded), which writeParts replaces.
func checkPattern(pattern string, overwrite bool, workDir string) error {
	if strings.Count(pattern, "*") != 1 {
		return optionErrorf("{{Out}} %s: a many-file output has one * in its file name, where each file's number goes", pattern)
	}
	var existing []string
	var err error
	if store.IsURL(pattern) {
		existing, err = existingObjects(pattern, workDir)
	} else {
		existing, err = existingFiles(pattern, workDir)
	}
	switch {
	case err != nil:
		return err
	case len(existing) > 0 && !overwrite:
		return optionErrorf("{{Out}} %s: %s exists: use {{Overwrite}} to replace the files", pattern, existing[0])
	}
	return nil
}

// existingFiles checks the directory of a local pattern and returns its files of the pattern and
// its manifest, but those that an earlier run of the export in workDir put there (Placed).
func existingFiles(pattern, workDir string) ([]string, error) {
	if err := checkParent("Out", pattern); err != nil {
		return nil, err
	}
	d, err := workdir.Open(workDir)
	if err != nil {
		d = nil // no earlier run: no file of the pattern is this export's
	} else {
		defer d.Close()
	}
	var existing []string
	for _, f := range patternFiles(pattern) {
		ours := false
		if d != nil {
			if ours, err = d.Placed(f); err != nil {
				return nil, err
			}
		}
		if !ours {
			existing = append(existing, f)
		}
	}
	return existing, nil
}

// patternFiles returns the absolute paths of the files of a local pattern and of its manifest
// that exist.
func patternFiles(pattern string) []string {
	abs, err := filepath.Abs(pattern)
	if err != nil {
		return nil
	}
	files, _ := filepath.Glob(strings.ReplaceAll(abs, "*", "[0-9]*"))
	m := inPatternDir(abs, partManifestName(abs))
	if _, err := os.Lstat(m); err == nil {
		files = append(files, m)
	}
	return files
}

// existingObjects checks the bucket of a pattern in a bucket and returns its objects of the
// pattern and its manifest, but those that carry the mark of the export in workDir.
func existingObjects(pattern, workDir string) ([]string, error) {
	dir, base := splitPattern(pattern)
	b, err := store.OpenBlob(context.Background(), dir)
	if err != nil {
		return nil, bucketError("Out", pattern, err)
	}
	defer b.Close()
	before, _, _ := strings.Cut(base, "*")
	objects, err := b.List(context.Background(), before)
	if err != nil {
		return nil, bucketError("Out", pattern, err)
	}
	var existing []string
	own := ""
	for _, o := range objectsOf(pattern, objects) {
		if own == "" {
			own = workDirMark(workDir)
		}
		mine, err := b.Marked(context.Background(), o, own)
		if err != nil {
			return nil, bucketError("Out", pattern, err)
		}
		if !mine {
			existing = append(existing, dir+o)
		}
	}
	return existing, nil
}

// objectsOf returns the names among objects (of the pattern's folder) that are files of the
// pattern or its manifest.
func objectsOf(pattern string, objects []store.Entry) []string {
	_, base := splitPattern(pattern)
	glob := strings.ReplaceAll(base, "*", "[0-9]*")
	var names []string
	for _, o := range objects {
		if ok, _ := path.Match(glob, o.Name); ok || o.Name == partManifestName(pattern) {
			names = append(names, o.Name)
		}
	}
	return names
}

// workDirMark is the mark of the export in the work dir at path, what its files in a bucket
// carry; "-" where there is no such work dir (no object carries it).
func workDirMark(path string) string {
	d, err := workdir.Open(path)
	if err != nil {
		return "-"
	}
	defer d.Close()
	return cmp.Or(d.ID(), "-")
}

// PartManifest is the manifest of a many-file output: its files in row order, each with its
// rows and bytes.
type PartManifest struct {
	Table  string     `json:"table"`
	Format string     `json:"format"`
	Rows   int64      `json:"rows"`
	Files  []PartFile `json:"files"`
}

// PartFile is one file of a many-file output; Name is its name in the manifest's directory.
type PartFile struct {
	Name  string `json:"name"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// runParts is Export.run for a many-file output: the workers read every stream, then every
// segment is written as a file of its own, with no merge.
func (e *Export) runParts(ctx context.Context) (*Summary, error) {
	read := time.Now()
	res, err := shard.Run(ctx, e.runConfig(nil))
	if err != nil {
		return newSummary(e.m, res, shard.MergeStats{}, e.p.opts.Out), e.failed(ctx, err)
	}
	write := time.Now()
	sum, err := e.finishParts(ctx, res)
	if err != nil {
		return nil, e.failed(ctx, err)
	}
	sum.Phases = Phases{Session: e.planned.Sub(e.start).Seconds(), Read: write.Sub(read).Seconds(), Merge: sum.Phases.Merge}
	e.complete(sum)
	return sum, nil
}

// finishParts writes the files of a many-file output and returns the summary, which lists them
// and their manifest.
func (e *Export) finishParts(ctx context.Context, res *shard.Result) (*Summary, error) {
	start := time.Now()
	pm, err := e.writeParts(ctx)
	if err != nil {
		return nil, err
	}
	pattern := e.p.opts.Out
	sum := newSummary(e.m, res, shard.MergeStats{Segments: len(pm.Files), Rows: pm.Rows}, pattern)
	sum.OutputFiles = sum.OutputFiles[:0]
	for _, f := range pm.Files {
		sum.OutputFiles = append(sum.OutputFiles, inPatternDir(pattern, f.Name))
		sum.BytesWritten += f.Bytes
	}
	sum.OutputFiles = append(sum.OutputFiles, inPatternDir(pattern, partManifestName(pattern)))
	sum.Phases.Merge = time.Since(start).Seconds()
	return sum, nil
}

// writeParts writes the files, each put in place once whole, and then their manifest; on an
// error it removes what it put in place.
func (e *Export) writeParts(ctx context.Context) (*PartManifest, error) {
	pattern := e.p.opts.Out
	dest, err := openPartDest(ctx, pattern, e.p.opts.Overwrite, e.dir)
	if err != nil {
		return nil, err
	}
	defer dest.close()
	complete := false
	defer func() {
		if !complete {
			dest.undo(ctx)
		}
	}()
	stats, err := shard.WriteFiles(ctx, e.dir, func(k int) (io.WriteCloser, error) {
		return dest.create(ctx, partName(pattern, k))
	})
	if err != nil {
		return nil, err
	}
	pm := &PartManifest{Table: e.m.Table, Format: e.m.Output.Format}
	for k, s := range stats {
		pm.Files = append(pm.Files, PartFile{Name: partName(pattern, k), Rows: s.Rows, Bytes: s.Bytes})
		pm.Rows += s.Rows
	}
	data, err := json.MarshalIndent(pm, "", "  ")
	if err != nil {
		return nil, err
	}
	w, err := dest.create(ctx, partManifestName(pattern))
	if err == nil {
		_, err = w.Write(append(data, '\n'))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("write the manifest of %s: %w", pattern, err)
	}
	complete = true
	return pm, nil
}
