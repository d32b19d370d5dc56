package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/linkedin/goavro/v2"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
)

// partsExport exports the cluster table in format f to the pattern dir/part-*.EXT in segments of
// about 200 rows (responses of 4 KiB), over 3 streams (with Avro on the wire for avro, so that
// payloads are copied).
func partsExport(t *testing.T, f string, dir string, mod func(*export.Options)) (*export.Summary, error) {
	t.Helper()
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t), ResponseBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	o := export.Options{Table: "bqread-test.ds.t", Out: filepath.Join(dir, "part-*."+f), Endpoint: inst.GRPCAddr(),
		Streams: 3, SegmentRows: 200}
	if f == "avro" {
		o.DataFormat = "avro"
	}
	if mod != nil {
		mod(&o)
	}
	return export.Run(t.Context(), o)
}

// TestManyFiles exports to a many-file output in every format: one file per segment, each a
// complete file that a reader other than bqread's writer reads alone, the manifest listing every
// file with its rows and bytes, and all the files together holding the table's rows once.
func TestManyFiles(t *testing.T) {
	for _, f := range []string{"parquet", "arrow", "avro", "csv", "ndjson"} {
		t.Run(f, func(t *testing.T) {
			dir := t.TempDir()
			sum, err := partsExport(t, f, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "part-manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var pm export.PartManifest
			if err := json.Unmarshal(data, &pm); err != nil {
				t.Fatal(err)
			}
			if len(pm.Files) < 10 || pm.Rows != clusterRows || pm.Format != f {
				t.Fatalf("manifest: %d files, %d rows, format %s; want at least 10 files of %d rows in %s", len(pm.Files), pm.Rows, pm.Format, clusterRows, f)
			}
			var all []string
			for k, pf := range pm.Files {
				path := filepath.Join(dir, pf.Name)
				if want := fmt.Sprintf("part-%06d.%s", k, f); pf.Name != want {
					t.Errorf("file %d is %s, want %s", k, pf.Name, want)
				}
				if info, err := os.Stat(path); err != nil || info.Size() != pf.Bytes {
					t.Fatalf("%s: %v, size %v, the manifest says %d bytes", path, err, info, pf.Bytes)
				}
				rows := independentRows(t, f, path)
				if int64(len(rows)) != pf.Rows || pf.Rows == 0 {
					t.Errorf("%s holds %d rows, the manifest says %d", pf.Name, len(rows), pf.Rows)
				}
				all = append(all, rows...)
			}
			slices.Sort(all)
			if !slices.Equal(all, sourceRows()) {
				t.Errorf("the files hold %d rows, not the table's %d", len(all), clusterRows)
			}
			if got, want := len(sum.OutputFiles), len(pm.Files)+1; got != want {
				t.Errorf("summary lists %d output files, want %d", got, want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != len(pm.Files)+1 {
				t.Errorf("%d entries in the output directory, want the %d files and the manifest (no work dir, no temp file)", len(entries), len(pm.Files))
			}
		})
	}
}

// independentRows reads one file as "id|name|score" rows with a reader that is not bqread's:
// arrow-go's Parquet and IPC file readers, goavro, encoding/csv, encoding/json.
func independentRows(t *testing.T, f, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	switch f {
	case "parquet":
		return parquetRows(t, path)
	case "ndjson":
		return readRows(t, f, path)
	case "arrow":
		r, err := ipc.NewFileReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := range r.NumRecords() {
			rec, err := r.Record(i)
			if err != nil {
				t.Fatal(err)
			}
			ids, names, scores := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String), rec.Column(2).(*array.Float64)
			for k := range int(rec.NumRows()) {
				out = append(out, fmt.Sprintf("%d|%s|%g", ids.Value(k), names.Value(k), scores.Value(k)))
			}
		}
	case "avro":
		r, err := goavro.NewOCFReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for r.Scan() {
			v, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			row := v.(map[string]any)
			out = append(out, fmt.Sprintf("%d|%s|%g", row["id"], row["name"].(map[string]any)["string"], row["score"].(map[string]any)["double"]))
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
	case "csv":
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || !slices.Equal(recs[0], []string{"id", "name", "score"}) {
			t.Fatalf("%s: no header row: %q", path, recs)
		}
		for _, r := range recs[1:] {
			out = append(out, strings.Join(r, "|"))
		}
	}
	return out
}

// TestManyFilesRefusesExisting: without Overwrite a file of the pattern or its manifest already
// there refuses the export before anything is read, and is left alone; with Overwrite it is
// replaced.
func TestManyFilesRefusesExisting(t *testing.T) {
	for _, name := range []string{"part-000003.ndjson", "part-manifest.json"} {
		dir := t.TempDir()
		mine := filepath.Join(dir, name)
		os.WriteFile(mine, []byte("mine"), 0o644)
		if _, err := partsExport(t, "ndjson", dir, nil); !errors.Is(err, export.ErrUsage) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s there: err = %v, want a usage error naming it", name, err)
		}
		if data, _ := os.ReadFile(mine); string(data) != "mine" {
			t.Errorf("%s was replaced", name)
		}
		if _, err := partsExport(t, "ndjson", dir, func(o *export.Options) { o.Overwrite = true }); err != nil {
			t.Errorf("with Overwrite: %v", err)
		}
		if data, _ := os.ReadFile(mine); string(data) == "mine" {
			t.Errorf("%s was not replaced with Overwrite", name)
		}
	}
}

// TestManyFilesFailureLeavesNothing: a directory that appears at the name of the third file
// while the export runs stops it before its manifest: the files it had put in place and its temp
// files are removed, and its parts are kept for a resume.
func TestManyFilesFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "part-000002.csv")
	_, err := partsExport(t, "csv", dir, func(o *export.Options) {
		o.OnEvent = func(export.Event) { os.Mkdir(blocker, 0o755) }
	})
	var ke *export.KeptError
	if !errors.As(err, &ke) {
		t.Fatalf("export = %v, want its parts kept", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"part-.csv.bqread", "part-000002.csv"}; !slices.Equal(names, want) {
		t.Errorf("output directory holds %q, want only %q (the work dir and the directory in the way)", names, want)
	}
}

// TestMaxFileSize bounds the files of a many-file output: every file is within the bound, and the
// files together still hold every row once.
func TestMaxFileSize(t *testing.T) {
	const max = 16 << 10
	for _, f := range []string{"parquet", "arrow", "avro", "csv", "ndjson"} {
		t.Run(f, func(t *testing.T) {
			dir := t.TempDir()
			sum, err := partsExport(t, f, dir, func(o *export.Options) { o.SegmentRows, o.MaxFileSize = 0, max })
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, path := range sum.OutputFiles[:len(sum.OutputFiles)-1] {
				if info, err := os.Stat(path); err != nil || info.Size() > max {
					t.Errorf("%s: %d bytes (%v), want at most %d", filepath.Base(path), info.Size(), err, max)
				}
				all = append(all, independentRows(t, f, path)...)
			}
			slices.Sort(all)
			if !slices.Equal(all, sourceRows()) {
				t.Errorf("%d files hold %d rows, not the table's %d", len(sum.OutputFiles)-1, len(all), clusterRows)
			}
		})
	}
	if _, err := export.Plan(t.Context(), export.Options{Table: "bqread-demo.samples.all_types", Out: filepath.Join(t.TempDir(), "one.csv"),
		Endpoint: "127.0.0.1:1", MaxFileSize: max}); !errors.Is(err, export.ErrUsage) {
		t.Errorf("MaxFileSize with one output file: err = %v, want a usage error", err)
	}
}

// TestManyFilesResumeReplacesOwnFiles: files of the pattern that an earlier run of the export put
// in place, as a run killed between two files leaves them (here: a run that kept its work dir,
// then its manifest and last file taken away), are the export's own: a resume without Overwrite
// writes them again and completes the set. A file put in place of one of them is not: the resume
// is refused, naming it, and leaves it.
func TestManyFilesResumeReplacesOwnFiles(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t), ResponseBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, replaced := range []bool{false, true} {
		dir := t.TempDir()
		o := export.Options{Table: "bqread-test.ds.t", Out: filepath.Join(dir, "part-*.ndjson"), Endpoint: inst.GRPCAddr(),
			Streams: 3, SegmentRows: 200, KeepParts: true}
		if _, err := export.Run(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "part-0*.ndjson"))
		if len(files) < 3 {
			t.Fatalf("%d files", len(files))
		}
		for _, f := range []string{filepath.Join(dir, "part-manifest.json"), files[len(files)-1]} {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		if replaced {
			os.Remove(files[1])
			os.WriteFile(files[1], []byte("mine\n"), 0o644)
		}
		o.KeepParts, o.Resume = false, true
		_, err := export.Run(t.Context(), o)
		if replaced {
			if !errors.Is(err, export.ErrUsage) || !strings.Contains(err.Error(), filepath.Base(files[1])) {
				t.Errorf("resume with %s replaced: %v, want a usage error naming it", files[1], err)
			}
			if data, _ := os.ReadFile(files[1]); string(data) != "mine\n" {
				t.Errorf("the file put in place of one of the export's was changed: %q", data)
			}
			continue
		}
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		var all []string
		files, _ = filepath.Glob(filepath.Join(dir, "part-0*.ndjson"))
		for _, f := range files {
			all = append(all, independentRows(t, "ndjson", f)...)
		}
		slices.Sort(all)
		if !slices.Equal(all, sourceRows()) {
			t.Errorf("after the resume the files hold %d rows, not the table's %d once each", len(all), clusterRows)
		}
		if _, err := os.Stat(filepath.Join(dir, "part-manifest.json")); err != nil {
			t.Errorf("no manifest after the resume: %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != len(files)+1 {
			t.Errorf("%d entries in the output directory, want the %d files and the manifest", len(entries), len(files))
		}
	}
}
