package export

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/shard"
)

// A many-file output is an Out whose last path element holds one "*" (isPattern): every segment
// becomes one complete file, named by the pattern with the "*" replaced by the file's number in
// (stream, offset) order (partPath), and then a manifest listing every file with its rows and
// bytes is written beside them (partManifestPath). The files are written as hidden temp files
// beside their names once every stream is read, renamed into place once all are written, and the
// manifest last: a reader that sees the manifest knows the set is complete. An export that fails
// on the way removes the files it wrote; one killed between two renames leaves a set without its
// manifest, which is therefore incomplete.

// minFileSize is the least MaxFileSize: room for a header, a footer and some rows.
const minFileSize = 16 << 10

// bodyLimit is the most bytes of a segment's body under MaxFileSize max: 1/16 is left for the
// header and the footer.
func bodyLimit(max int64) int64 { return max - max/16 }

// isPattern reports whether out names a many-file output.
func isPattern(out string) bool { return strings.Contains(filepath.Base(out), "*") }

// partPath is the name of file k of the pattern.
func partPath(pattern string, k int) string {
	return filepath.Join(filepath.Dir(pattern), strings.Replace(filepath.Base(pattern), "*", fmt.Sprintf("%06d", k), 1))
}

// partManifestPath is the manifest of the files of pattern: beside them, named by what comes
// before the "*" and "manifest.json" (part-*.parquet: part-manifest.json).
func partManifestPath(pattern string) string {
	before, _, _ := strings.Cut(filepath.Base(pattern), "*")
	return filepath.Join(filepath.Dir(pattern), before+"manifest.json")
}

// partWorkDir is the default work dir of a many-file output: the pattern without its "*", and
// .bqread.
func partWorkDir(pattern string) string { return strings.Replace(pattern, "*", "", 1) + ".bqread" }

// checkPattern checks a many-file Out: one "*", in the last path element; a directory that
// exists and takes new files; and, without Overwrite, no file of the pattern nor its manifest
// there already.
func checkPattern(pattern string, overwrite bool) error {
	if store.IsURL(pattern) {
		return optionErrorf("{{Out}} %s: many-file outputs are written to local directories only, for now: export to one object, or to a local directory", pattern)
	}
	if strings.Count(pattern, "*") != 1 {
		return optionErrorf("{{Out}} %s: a many-file output has one * in its file name, where each file's number goes", pattern)
	}
	if err := checkParent("Out", pattern); err != nil {
		return err
	}
	if overwrite {
		return nil
	}
	existing, _ := filepath.Glob(strings.ReplaceAll(pattern, "*", "[0-9]*"))
	if _, err := os.Lstat(partManifestPath(pattern)); err == nil {
		existing = append(existing, partManifestPath(pattern))
	}
	if len(existing) > 0 {
		return optionErrorf("{{Out}} %s: %s exists: use {{Overwrite}} to replace the files", pattern, existing[0])
	}
	return nil
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
	sum := newSummary(e.m, res, shard.MergeStats{Segments: len(pm.Files), Rows: pm.Rows}, e.p.opts.Out)
	sum.OutputFiles = sum.OutputFiles[:0]
	for _, f := range pm.Files {
		sum.OutputFiles = append(sum.OutputFiles, filepath.Join(filepath.Dir(e.p.opts.Out), f.Name))
		sum.BytesWritten += f.Bytes
	}
	sum.OutputFiles = append(sum.OutputFiles, partManifestPath(e.p.opts.Out))
	sum.Phases.Merge = time.Since(start).Seconds()
	return sum, nil
}

// placedFile is a file writeParts put in place: a failure removes it only while it is still that
// file.
type placedFile struct {
	path string
	info os.FileInfo
}

// writeParts writes the files and then their manifest; on an error it removes what it wrote.
func (e *Export) writeParts(ctx context.Context) (*PartManifest, error) {
	pattern := e.p.opts.Out
	var temps []*os.File
	var placed []placedFile
	defer func() { // after a failure: what is still a temp file, and what was put in place
		for _, f := range temps {
			f.Close()
			os.Remove(f.Name())
		}
		for _, p := range placed {
			if info, err := os.Lstat(p.path); err == nil && os.SameFile(info, p.info) {
				os.Remove(p.path) // still the file this export put there
			}
		}
	}()
	stats, err := shard.WriteFiles(ctx, e.dir, func(k int) (io.Writer, error) {
		f, err := createBeside(partPath(pattern, k))
		if err != nil {
			return nil, fmt.Errorf("create file %d of %s: %w", k, pattern, err)
		}
		temps = append(temps, f)
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	pm := &PartManifest{Table: e.m.Table, Format: e.m.Output.Format}
	for k, s := range stats {
		pm.Files = append(pm.Files, PartFile{Name: filepath.Base(partPath(pattern, k)), Rows: s.Rows, Bytes: s.Bytes})
		pm.Rows += s.Rows
	}
	data, err := json.MarshalIndent(pm, "", "  ")
	if err != nil {
		return nil, err
	}
	f, err := createBeside(partManifestPath(pattern))
	if err != nil {
		return nil, fmt.Errorf("create the manifest of %s: %w", pattern, err)
	}
	temps = append(temps, f)
	if _, err := f.Write(append(data, '\n')); err != nil {
		return nil, fmt.Errorf("write the manifest of %s: %w", pattern, err)
	}
	for len(temps) > 0 {
		final := partPath(pattern, len(placed))
		if len(temps) == 1 {
			final = partManifestPath(pattern) // last
		}
		if _, err := checkDest("Out", final, e.p.opts.Overwrite); err != nil {
			return nil, fmt.Errorf("%s changed while the export ran, so the files were not put there (%v)", final, err)
		}
		f := temps[0]
		temps = temps[1:]
		info, err := f.Stat()
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("write %s: %w", final, err)
		}
		if err := store.CommitFile(f, final); err != nil {
			return nil, fmt.Errorf("write %s: %w", final, err)
		}
		placed = append(placed, placedFile{final, info})
	}
	placed = nil // complete: nothing to remove
	return pm, nil
}
