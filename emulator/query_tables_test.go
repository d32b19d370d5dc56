package emulator

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	gcmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/iterator"
)

// TestQueryAllTypes: a query's result holds every type, and the official client reads the same
// values from it through the Storage Read API (Arrow) and through jobs.getQueryResults and
// tabledata.list (the REST rows): the two decoders of the client agree on the emulator's two forms.
// INTERVAL is left out: the client's Arrow decoder does not take month_day_nano, which the real
// service sends too.
func TestQueryAllTypes(t *testing.T) {
	env := newQueryEnv(t, Options{}, 1)
	ctx := t.Context()
	const sql = "SELECT * EXCEPT (b, iv), b AS b2 FROM `bqread-demo.samples.all_types` ORDER BY id DESC"
	q := env.storage.Query(sql)
	q.JobID = "all_types_storage"
	it, err := q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	viaArrow := readAll(t, it)
	if !it.IsAccelerated() || len(viaArrow) < 3 {
		t.Fatalf("storage read: accelerated %v, %d rows", it.IsAccelerated(), len(viaArrow))
	}
	// The client's REST decoder makes an empty ARRAY nil, its Arrow decoder an empty slice.
	opts := gcmp.Options{cmpopts.EquateNaNs(), cmpopts.EquateEmpty(), gcmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 })}
	rest, err := env.plain.Query(sql).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	viaREST := readAll(t, rest)
	if diff := gcmp.Diff(viaArrow, viaREST, opts); diff != "" {
		t.Errorf("jobs.query rows differ from the Storage Read rows (-arrow +rest):\n%s", diff)
	}
	job, err := env.plain.JobFromID(ctx, "all_types_storage")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := job.Config()
	if err != nil {
		t.Fatal(err)
	}
	dst := cfg.(*bigquery.QueryConfig).Dst
	rit := env.plain.DatasetInProject(dst.ProjectID, dst.DatasetID).Table(dst.TableID).Read(ctx)
	rit.PageInfo().MaxSize = 2
	if diff := gcmp.Diff(viaArrow, readAll(t, rit), opts); diff != "" {
		t.Errorf("tabledata.list rows differ from the Storage Read rows (-arrow +rest):\n%s", diff)
	}
	checkIntervals(t, env)
	for i := 1; i < len(viaArrow); i++ {
		if viaArrow[i-1][0].(int64) <= viaArrow[i][0].(int64) {
			t.Fatalf("rows not in ORDER BY id DESC: %v before %v", viaArrow[i-1][0], viaArrow[i][0])
		}
	}
}

// TestQueryDestinationTables: a job writes the destination table it names (and refuses to write
// over a table, unless WRITE_TRUNCATE replaces an earlier result); tables.list, datasets.list and
// tabledata.list page through what there is; an anonymous result table is gone 24 hours later.
func TestQueryDestinationTables(t *testing.T) {
	env := newQueryEnv(t, Options{}, 30)
	ctx := t.Context()
	ds := env.plain.Dataset("ds")
	run := func(sql string, dst *bigquery.Table, disposition bigquery.TableWriteDisposition) error {
		q := env.plain.Query(sql)
		q.Dst, q.WriteDisposition = dst, disposition
		job, err := q.Run(ctx)
		if err != nil {
			return err
		}
		st, err := job.Wait(ctx)
		if err != nil {
			return err
		}
		return st.Err()
	}
	if err := run("SELECT id, name FROM ds.people WHERE id <= 10", ds.Table("kept"), ""); err != nil {
		t.Fatal(err)
	}
	var want [][]bigquery.Value
	for _, p := range env.rows[:10] {
		want = append(want, []bigquery.Value{p.ID, value(p.Name)})
	}
	it := ds.Table("kept").Read(ctx)
	it.PageInfo().MaxSize = 3
	checkRows(t, readAll(t, it), want, false)
	if err := run("SELECT id FROM ds.people", ds.Table("kept"), ""); err == nil || !strings.Contains(err.Error(), "Already Exists: Table my-project:ds.kept") {
		t.Errorf("writing over a result table: %v", err)
	}
	if err := run("SELECT id FROM ds.people", ds.Table("people"), bigquery.WriteTruncate); err == nil || !strings.Contains(err.Error(), "Already Exists: Table my-project:ds.people") {
		t.Errorf("writing over a data-directory table: %v", err)
	}
	if err := run("SELECT id FROM ds.people WHERE id = 3", ds.Table("kept"), bigquery.WriteTruncate); err != nil {
		t.Fatal(err)
	}
	checkRows(t, readAll(t, ds.Table("kept").Read(ctx)), [][]bigquery.Value{{int64(3)}}, true)

	writeTable(t, env.dir, tableRef{"my-project", "ds", "view"}, kvSchema, "table.json", `{"type": "VIEW", "view": {"query": "SELECT 1"}}`)
	tit := ds.Tables(ctx)
	tit.PageInfo().MaxSize = 1
	var names []string
	for {
		tb, err := tit.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tb.TableID)
	}
	if diff := gcmp.Diff([]string{"kept", "people", "view"}, names); diff != "" {
		t.Errorf("tables.list (-want +got):\n%s", diff)
	}

	writeTable(t, env.dir, tableRef{"my-project", "other", "t"}, kvSchema, "data.ndjson", `{"k": 1}`)
	dit := env.plain.Datasets(ctx)
	dit.PageInfo().MaxSize = 1
	names = nil
	for {
		d, err := dit.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, d.DatasetID)
	}
	if diff := gcmp.Diff([]string{"ds", "other"}, names); diff != "" {
		t.Errorf("datasets.list (-want +got):\n%s", diff)
	}

	it, err := env.plain.Query("SELECT id FROM ds.people WHERE id = 7").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, it)
	job, err := env.plain.JobFromID(ctx, it.SourceJob().ID())
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := job.Config()
	anon := cfg.(*bigquery.QueryConfig).Dst
	if anon == nil || anon.DatasetID[0] != '_' {
		t.Fatalf("anonymous destination: %+v", anon)
	}
	md, err := anon.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.NumRows != 1 || md.ExpirationTime.Sub(md.CreationTime) != 24*time.Hour {
		t.Errorf("anonymous table: %d rows, created %v, expires %v", md.NumRows, md.CreationTime, md.ExpirationTime)
	}
	env.clock.advance(24 * time.Hour)
	if _, err := anon.Metadata(ctx); err == nil {
		t.Error("the anonymous table is still there 24 hours later")
	}
}

// checkIntervals reads the INTERVAL column through jobs.query and compares each value with the
// official client's parse of the sample's data.ndjson text.
func checkIntervals(t *testing.T, env *queryEnv) {
	t.Helper()
	raw, err := samplesFS.ReadFile("samples/bqread-demo/samples/all_types/data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]bigquery.Value{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var row struct {
			ID int64 `json:",string"`
			IV *string
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		want[row.ID] = nil
		if row.IV != nil {
			iv, err := bigquery.ParseInterval(*row.IV)
			if err != nil {
				t.Fatal(err)
			}
			want[row.ID] = iv
		}
	}
	it, err := env.plain.Query("SELECT id, iv FROM `bqread-demo.samples.all_types`").Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bigquery.Value{}
	for _, row := range readAll(t, it) {
		got[row[0].(int64)] = row[1]
	}
	// The emulator keeps an INTERVAL as Arrow's month_day_nano, moving whole days out of hours
	// that overflow it; BigQuery compares intervals with 1 day = 24 hours, and so does this test.
	sameInterval := gcmp.Comparer(func(a, b *bigquery.IntervalValue) bool {
		secs := func(iv *bigquery.IntervalValue) int64 {
			return ((int64(iv.Days)*24+int64(iv.Hours))*60+int64(iv.Minutes))*60 + int64(iv.Seconds)
		}
		return a.Years*12+a.Months == b.Years*12+b.Months && secs(a) == secs(b) && a.SubSecondNanos == b.SubSecondNanos
	})
	if diff := gcmp.Diff(want, got, sameInterval); diff != "" {
		t.Errorf("INTERVAL values (-data.ndjson +jobs.query):\n%s", diff)
	}
}
