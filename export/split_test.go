package export_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// slowEmulator serves the cluster table in small responses at a bandwidth per stream that makes
// one stream take about ten seconds: a stream read alone is a straggler worth splitting.
func slowEmulator(t *testing.T) *emulator.Instance {
	t.Helper()
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t), ResponseBytes: 2 << 10,
		StreamBandwidth: 24 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst
}

// splitOptions export the cluster table with one stream and three workers: two are free from the
// start, so the one stream is split.
func splitOptions(inst *emulator.Instance, out string) export.Options {
	return export.Options{Table: "bqread-test.ds.t", Out: out, Endpoint: inst.GRPCAddr(), Streams: 1, Parallelism: 3,
		SegmentRows: 200, KeepParts: true}
}

// rowIDs reads an NDJSON or Parquet output's id column in file order; readRows checks the rows.
func rowIDs(t *testing.T, format, path string) []int {
	t.Helper()
	var rows []string
	if format == "parquet" {
		rows = parquetRows(t, path)
	} else {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			id, _, _ := strings.Cut(strings.TrimPrefix(line, `{"id":"`), `"`)
			rows = append(rows, id)
		}
	}
	ids := make([]int, len(rows))
	for i, r := range rows {
		id, _, _ := strings.Cut(r, "|")
		ids[i], _ = strconv.Atoi(id)
	}
	return ids
}

// inOrder checks that an output holds every source row once, in the table's order.
func inOrder(t *testing.T, format, path string) {
	t.Helper()
	if got := readRows(t, format, path); !slices.Equal(got, sourceRows()) {
		t.Fatalf("%s: %d rows differ from the %d source rows", path, len(got), clusterRows)
	}
	for i, id := range rowIDs(t, format, path) {
		if id != i {
			t.Fatalf("%s: row %d has id %d: the rows are out of the table's order", path, i, id)
		}
	}
}

// loadManifest reads the manifest of the work dir.
func loadManifest(t *testing.T, workDir string) (*workdir.Dir, *session.Manifest) {
	t.Helper()
	d, err := workdir.Open(workDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.LoadManifest(t.Context(), d.Store())
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

// decisions returns, for each split of the manifest, whether its parent's reader accepted it.
func decisions(t *testing.T, d *workdir.Dir, m *session.Manifest) []bool {
	t.Helper()
	var out []bool
	for _, s := range m.Splits {
		accepted, decided, err := d.SplitDecided(t.Context(), s.Parent, s.Remainder)
		if err != nil || !decided {
			t.Fatalf("split %+v: decided %v, %v", s, decided, err)
		}
		out = append(out, accepted)
	}
	return out
}

// TestRunSplitsStraggler exports one slow stream with three workers into NDJSON (rows in order)
// and Parquet (row groups listed in order): the coordinator splits the stream into a piece for
// each free worker, records each split in the manifest with its decision, reads the accepted
// remainders in workers of their own, and the output holds every source row once in the table's
// order. The merge's tiling check then refuses the work dir once a remainder's done record or one
// of its segments is gone.
func TestRunSplitsStraggler(t *testing.T) {
	inst := slowEmulator(t)
	for _, format := range []string{"ndjson", "parquet"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "t."+format)
			sum, err := export.Run(t.Context(), splitOptions(inst, out))
			if err != nil {
				t.Fatal(err)
			}
			inOrder(t, format, out)
			d, m := loadManifest(t, out+".bqread")
			accepted := decisions(t, d, m)
			if !slices.Contains(accepted, true) || len(m.Streams) != 1+len(m.Splits) {
				t.Fatalf("streams %d, splits %+v decided %v: want an accepted split", len(m.Streams), m.Splits, accepted)
			}
			// Two slots were free: the first split made two remainders, the second by splitting
			// the first, which no worker had read, at once (its split accepted when made).
			if len(m.Splits) < 2 || m.Splits[0].Parent != 0 || m.Splits[1].Parent != m.Splits[0].Remainder || !accepted[1] {
				t.Errorf("splits %+v decided %v: want stream 0 split into three pieces at once", m.Splits, accepted)
			}
			if len(sum.PerStream) != len(m.Streams) {
				t.Errorf("the summary has %d streams, the manifest %d", len(sum.PerStream), len(m.Streams))
			}
			d.Remove()
		})
	}
	t.Run("tiling", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "t.ndjson")
		if _, err := export.Run(t.Context(), splitOptions(inst, out)); err != nil {
			t.Fatal(err)
		}
		workDir := out + ".bqread"
		d, m := loadManifest(t, workDir)
		k := -1
		for i, ok := range decisions(t, d, m) {
			if ok {
				k = m.Splits[i].Remainder
			}
		}
		if k < 0 {
			t.Fatalf("no accepted split: %+v", m.Splits)
		}
		merge := func() error {
			_, err := export.Merge(t.Context(), export.MergeOptions{WorkDir: workDir, Out: filepath.Join(t.TempDir(), "m.ndjson"), KeepParts: true})
			return err
		}
		if err := merge(); err != nil {
			t.Fatalf("merge of the kept parts: %v", err)
		}
		segs, _, err := shard.StreamSegments(t.Context(), d, k)
		if err != nil || len(segs) < 2 {
			t.Fatalf("remainder %d: %d segments, %v", k, len(segs), err)
		}
		if err := os.Remove(filepath.Join(workDir, segs[1].Name)); err != nil {
			t.Fatal(err)
		}
		if err := merge(); !errors.Is(err, shard.ErrTiling) {
			t.Errorf("merge without a segment of remainder %d: %v, want %v", k, err, shard.ErrTiling)
		}
		if err := os.Remove(filepath.Join(workDir, workdir.StreamDir(k), "done.json")); err != nil {
			t.Fatal(err)
		}
		var ie *shard.IncompleteError
		if err := merge(); !errors.As(err, &ie) || !slices.ContainsFunc(ie.Streams, func(s shard.StreamRows) bool { return s.Index == k }) {
			t.Errorf("merge without remainder %d's done record: %v, want it named incomplete", k, err)
		}
	})
}

// splitRecorded plays a coordinator that called SplitReadStream on stream 0 of the export in
// workDir at fraction and saved the split in its manifest, then was killed before its worker was
// told. It returns the remainder's index.
func splitRecorded(t *testing.T, inst *emulator.Instance, workDir string, fraction float64) int {
	t.Helper()
	d, m := loadManifest(t, workDir)
	client, err := session.NewClient(t.Context(), inst.GRPCAddr(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resp, err := client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: m.Streams[0], Fraction: fraction})
	if err != nil || resp.GetRemainderStream().GetName() == "" {
		t.Fatalf("SplitReadStream: %v %v", resp, err)
	}
	k := m.AddSplit(0, resp.GetPrimaryStream().GetName(), resp.GetRemainderStream().GetName())
	if err := m.Save(t.Context(), d.Store()); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestResumeAfterSplitRecorded covers the coordinator killed between steps of a split, and the
// resume that follows (without splitting, to keep to the split made):
//   - after the SplitReadStream call, before the manifest save: the split is lost, and the
//     original stream, which still reads every row, is read to its end;
//   - after the save, before the worker moved on: the resumed worker, at an offset before the
//     split point, accepts it and the remainder is read by a worker of its own;
//   - after the save, the worker having committed rows past the split point: the primary refuses
//     the worker's offset, the split is recorded refused, and the remainder is never read.
//
// Each output holds every source row once, in order.
func TestResumeAfterSplitRecorded(t *testing.T) {
	inst := slowEmulator(t)
	tests := []struct {
		name     string
		fraction float64 // of the split; 0: the split is lost
		read     bool    // the first run committed rows (past 1,000) before it stopped
		accepted bool
	}{
		{"lost split", 0, false, false},
		{"recorded split", 0.5, false, true},
		{"split behind the reader", 0.05, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "t.ndjson")
			opts := splitOptions(inst, out)
			opts.NoSplit, opts.KeepParts = true, false
			e, err := export.Plan(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.read {
				readUntil(t, e, out+".bqread", 1000)
			} else {
				e.Close()
			}
			if tt.fraction == 0 {
				client, err := session.NewClient(t.Context(), inst.GRPCAddr(), true)
				if err != nil {
					t.Fatal(err)
				}
				_, m := loadManifest(t, out+".bqread")
				_, err = client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: m.Streams[0], Fraction: 0.5})
				client.Close()
				if err != nil {
					t.Fatal(err)
				}
			} else {
				splitRecorded(t, inst, out+".bqread", tt.fraction)
			}
			opts.Resume, opts.KeepParts = true, true
			if _, err := export.Run(t.Context(), opts); err != nil {
				t.Fatal(err)
			}
			inOrder(t, "ndjson", out)
			d, m := loadManifest(t, out+".bqread")
			if tt.fraction != 0 {
				if got := decisions(t, d, m); !slices.Equal(got, []bool{tt.accepted}) {
					t.Errorf("decisions %v, want [%v]", got, tt.accepted)
				}
			}
			if segs, _, _ := shard.StreamSegments(t.Context(), d, len(m.Streams)-1); tt.fraction != 0 && !tt.accepted && len(segs) > 0 {
				t.Errorf("the refused remainder has %d segments", len(segs))
			}
			d.Remove()
		})
	}
}

// readUntil runs the planned export e until its stream has rows rows committed, then stops it.
func readUntil(t *testing.T, e *export.Export, workDir string, rows int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := e.Run(ctx); done <- err }()
	d, err := workdir.Open(workDir)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, end, _ := shard.StreamSegments(t.Context(), d, 0); end >= rows {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reach %d committed rows", rows)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, export.ErrInterrupted) {
		t.Fatalf("stopped export: %v", err)
	}
}
