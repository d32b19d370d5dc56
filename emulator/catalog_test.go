package emulator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeTable creates <dir>/<p>/<d>/<t>/ with a schema and data.ndjson or synthetic.json.
func writeTable(t *testing.T, dir string, ref tableRef, schemaJSON, file, content string) string {
	t.Helper()
	tdir := filepath.Join(dir, ref.Project, ref.Dataset, ref.Table)
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, "schema.json"), []byte(schemaJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return tdir
}

const kvSchema = `[{"name":"k","type":"INT64","mode":"REQUIRED"},{"name":"v","type":"STRING"}]`

func TestSyntheticRangesAreIndependent(t *testing.T) {
	c, err := newCatalog("", time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.resolve(t.Context(), tableRef{SampleProject, SampleDataset, "trips"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.rows.numRows(), int64(2_000_000); got != want {
		t.Fatalf("trips rows = %d, want %d", got, want)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	whole, err := v.rows.read(1_999_000, 2_000_000, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Release()
	part, err := v.rows.read(1_999_500, 1_999_600, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer part.Release()
	slice := whole.NewSlice(500, 600)
	defer slice.Release()
	if !array.RecordEqual(part, slice) {
		t.Fatalf("rows [1999500, 1999600) differ when generated alone")
	}
	// Realistic shapes: ids are row numbers, dropoff after pickup, total = fare + tip in cents.
	col := func(name string) arrow.Array { return part.Column(part.Schema().FieldIndices(name)[0]) }
	if got, want := col("trip_id").(*array.Int64).Value(0), int64(1_999_501); got != want {
		t.Errorf("trip_id = %d, want %d", got, want)
	}
	pickup, dropoff := col("pickup_time").(*array.Timestamp), col("dropoff_time").(*array.Timestamp)
	fare, tip, total := col("fare_amount").(*array.Decimal128), col("tip_amount").(*array.Decimal128), col("total_amount").(*array.Decimal128)
	for row := range int(part.NumRows()) {
		if dropoff.Value(row) <= pickup.Value(row) {
			t.Fatalf("row %d: dropoff %d not after pickup %d", row, dropoff.Value(row), pickup.Value(row))
		}
		if got := fare.Value(row).Add(tip.Value(row)); got != total.Value(row) {
			t.Fatalf("row %d: fare + tip = %v, total %v", row, got, total.Value(row))
		}
		if fare.Value(row).BigInt().Int64()%10_000_000 != 0 {
			t.Fatalf("row %d: fare %v has more than 2 decimals", row, fare.ValueStr(row))
		}
		if p := col("pickup_point").ValueStr(row); !strings.HasPrefix(p, "POINT(-7") {
			t.Fatalf("row %d: pickup_point %q", row, p)
		}
	}
}

func TestSyntheticEveryType(t *testing.T) {
	raw, err := os.ReadFile(allTypesDir + "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ref := tableRef{"my-project", "ds", "gen"}
	writeTable(t, dir, ref, string(raw), "synthetic.json", `{"rows": 1000, "seed": 42}`)
	c, err := newCatalog(dir, time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	v, err := c.resolve(t.Context(), ref, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a, err := v.rows.read(0, 1000, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	b, err := v.rows.read(990, 1000, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	tail := a.NewSlice(990, 1000)
	defer tail.Release()
	if !array.RecordEqual(tail, b) {
		t.Fatal("synthetic rows depend on the range they are generated in")
	}
	if err := array.ValidateRecordFull(a); err != nil {
		t.Fatalf("generated record is invalid: %v", err)
	}
	for i, f := range a.Schema().Fields() {
		if f.Nullable && a.Column(i).NullN() == 0 {
			t.Errorf("column %s has no NULLs in 1000 rows", f.Name)
		}
		if a.Column(i).NullN() == 1000 {
			t.Errorf("column %s is all NULL", f.Name)
		}
	}
}

func TestCatalogNames(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	writeTable(t, outside, tableRef{"my-project", "ds", "secret"}, kvSchema, "data.ndjson", `{"k":1}`)
	if err := os.MkdirAll(filepath.Join(dir, "my-project", "ds"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink out of the data directory must not be followed.
	if err := os.Symlink(filepath.Join(outside, "my-project", "ds", "secret"), filepath.Join(dir, "my-project", "ds", "escape")); err != nil {
		t.Fatal(err)
	}
	writeTable(t, dir, tableRef{"my-project", "ds", "kv"}, kvSchema, "data.ndjson", `{"k":1,"v":"a"}`)
	c, err := newCatalog(dir, time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	tests := []struct {
		ref     tableRef
		wantErr error
	}{
		{tableRef{"my-project", "ds", "kv"}, nil},
		{tableRef{SampleProject, SampleDataset, "all_types"}, nil},
		{tableRef{SampleProject, SampleDataset, "empty"}, nil},
		{tableRef{"my-project", "ds", "nope"}, errNotFound},
		{tableRef{"my-project", "ds", "escape"}, errNotFound},
		{tableRef{"my-project", "..", "kv"}, errInvalidName},
		{tableRef{"my-project", "ds", "../kv"}, errInvalidName},
		{tableRef{"My-Project", "ds", "kv"}, errInvalidName},
		{tableRef{"short", "ds", "kv"}, errInvalidName},
		{tableRef{"my-project", "ds", strings.Repeat("t", 1025)}, errInvalidName},
	}
	for _, tt := range tests {
		_, err := c.resolve(t.Context(), tt.ref, time.Time{})
		if !errors.Is(err, tt.wantErr) && !(tt.wantErr == nil && err == nil) {
			t.Errorf("resolve(%s) = %v, want %v", tt.ref, err, tt.wantErr)
		}
	}
}

func TestCatalogSnapshotVersions(t *testing.T) {
	dir := t.TempDir()
	ref := tableRef{"my-project", "ds", "kv"}
	tdir := writeTable(t, dir, ref, kvSchema, "data.ndjson", `{"k":1}`)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	setTimes(t, tdir, t0)
	c, err := newCatalog(dir, time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	v1, err := c.resolve(t.Context(), ref, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, "data.ndjson"), []byte("{\"k\":1}\n{\"k\":2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(tdir, "data.ndjson"), t0.Add(30*time.Minute), t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		snapshot time.Time
		rows     int64
		wantErr  error
	}{
		{"now", time.Time{}, 2, nil},
		{"after change", t0.Add(40 * time.Minute), 2, nil},
		{"before change", t0.Add(10 * time.Minute), 1, nil},
		{"at creation", t0, 1, nil},
		{"before creation", t0.Add(-time.Second), 0, errSnapshot},
		{"future", time.Now().Add(time.Hour), 0, errSnapshot},
	}
	for _, tt := range tests {
		v, err := c.resolve(t.Context(), ref, tt.snapshot)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := v.rows.numRows(); got != tt.rows {
			t.Errorf("%s: rows = %d, want %d", tt.name, got, tt.rows)
		}
	}
	if got := v1.rows.numRows(); got != 1 {
		t.Errorf("pinned version changed: rows = %d, want 1", got)
	}
}

func setTimes(t *testing.T, dir string, at time.Time) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTableLoadsAreIndependent: while a table is being loaded, other tables and the samples resolve,
// and a request for the table being loaded gives up when its context is done; a load that takes
// longer than the catalog's bound is refused, and the next one within the bound succeeds.
func TestTableLoadsAreIndependent(t *testing.T) {
	dir := t.TempDir()
	slow, other := tableRef{"my-project", "ds", "slow"}, tableRef{"my-project", "ds", "other"}
	writeTable(t, dir, slow, kvSchema, "data.ndjson", `{"k":1}`)
	writeTable(t, dir, other, kvSchema, "data.ndjson", `{"k":2}`)
	c, err := newCatalog(dir, time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	h := c.history(slow)
	h.lock <- struct{}{} // as a load of slow in progress holds it
	for _, ref := range []tableRef{other, {SampleProject, SampleDataset, "all_types"}} {
		if _, err := c.resolve(t.Context(), ref, time.Time{}); err != nil {
			t.Fatalf("resolve(%s) while another table loads: %v", ref, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.resolve(ctx, slow, time.Time{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("resolve(%s) while it loads elsewhere: err = %v, want the context's deadline", slow, err)
	}
	<-h.lock

	c.loadTimeout = time.Nanosecond
	if _, err := c.resolve(t.Context(), slow, time.Time{}); !errors.Is(err, errLoad) || !strings.Contains(err.Error(), "took longer than 1ns") {
		t.Fatalf("load past the bound: err = %v, want errLoad saying it took longer than 1ns", err)
	}
	c.loadTimeout = tableLoadTimeout
	if v, err := c.resolve(t.Context(), slow, time.Time{}); err != nil || v.rows.numRows() != 1 {
		t.Fatalf("load within the bound: %v", err)
	}
}
