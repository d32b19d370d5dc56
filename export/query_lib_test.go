package export_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
)

// TestQueryLibrary runs a query export and dry runs through the library against the emulator:
// the output holds the rows the query selects (read back by arrow-go's Parquet reader), OnJob
// saw the job run to DONE with the bytes processed the summary records, DryRun writes nothing,
// and a bad query is a *JobError that is a usage error.
func TestQueryLibrary(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: writeClusterTable(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	base := export.Options{Project: "bqread-test", Endpoint: inst.GRPCAddr(), RESTEndpoint: "http://" + inst.HTTPAddr(), Streams: 3}

	var mu sync.Mutex
	var states []string
	var processed int64
	opts := base
	opts.Query = "SELECT * FROM `bqread-test.ds.t` WHERE id >= 5000"
	opts.Out = filepath.Join(dir, "q.parquet")
	opts.OnJob = func(p export.JobProgress) {
		mu.Lock()
		defer mu.Unlock()
		states, processed = append(states, p.State), p.BytesProcessed
	}
	sum, err := export.Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(sourceRows(), func(r string) bool {
		id, _, _ := strings.Cut(r, "|")
		n, _ := strconv.Atoi(id)
		return n < 5000
	})
	if diff := cmp.Diff(want, readRows(t, "parquet", opts.Out)); diff != "" {
		t.Errorf("rows differ from the query's (-want +got):\n%s", diff)
	}
	if len(states) == 0 || states[len(states)-1] != "DONE" || sum.Query == nil || sum.Query.Job == "" ||
		processed <= 0 || sum.Query.BytesProcessed != processed || sum.Rows != int64(len(want)) {
		t.Errorf("job states %v (%d bytes processed), summary query %+v, %d rows: want DONE last, the same bytes in the summary",
			states, processed, sum.Query, sum.Rows)
	}

	dry := base
	dry.Query, dry.Out = opts.Query, ""
	ds, err := export.DryRun(t.Context(), dry)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.DryRun || ds.Query == nil || ds.Query.BytesProcessed != processed || ds.Query.Job != "" {
		t.Errorf("dry run %+v (query %+v): want the job's %d bytes processed and no job", ds, ds.Query, processed)
	}
	// Without --out the format is not known, and a query has no table or session yet: the JSON leaves
	// them out.
	js, err := json.Marshal(ds)
	var top map[string]any
	if err == nil {
		err = json.Unmarshal(js, &top)
	}
	for _, k := range []string{"format", "table", "session"} {
		if _, ok := top[k]; err != nil || ok {
			t.Errorf("dry run summary %s (%v): want no %q", js, err, k)
		}
	}
	dry.Query, dry.Table = "", "bqread-test.ds.t"
	if ds, err = export.DryRun(t.Context(), dry); err != nil || ds.EstimatedRows != clusterRows || ds.Streams != 3 || ds.Rows != 0 {
		t.Errorf("dry run of the table: %+v, %v: want %d estimated rows, 3 streams, nothing read", ds, err, clusterRows)
	}

	bad := base
	bad.Query, bad.Out = "SELECT nope FROM `bqread-test.ds.t`", filepath.Join(dir, "bad.parquet")
	_, err = export.Run(t.Context(), bad)
	var je *export.JobError
	if !errors.As(err, &je) || je.Reason != "invalidQuery" || !errors.Is(err, export.ErrUsage) {
		t.Errorf("bad query: %v; want an invalidQuery *JobError that is a usage error", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries in the output dir, want q.parquet alone", len(entries))
	}
}
