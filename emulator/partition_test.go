package emulator

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

const (
	eventsTable = "projects/bqread-demo/datasets/samples/tables/events"
	ordersTable = "projects/bqread-demo/datasets/samples/tables/orders"
)

// TestPartitionedTablesGet reads the partitioned samples' metadata with cloud.google.com/go/bigquery:
// timePartitioning and clustering as table.json gives them, and no pseudo-column in the schema.
func TestPartitionedTablesGet(t *testing.T) {
	env := startEnv(t, Options{})
	client := restClient(t, env)
	for _, tt := range []struct {
		table      string
		want       *bigquery.TimePartitioning
		clustering []string
	}{
		{"events", &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Expiration: 90 * 24 * time.Hour}, []string{"event_type", "user_id"}},
		{"orders", &bigquery.TimePartitioning{Type: bigquery.MonthPartitioningType, Field: "order_date"}, []string{"country", "customer"}},
	} {
		md, err := client.DatasetInProject(SampleProject, SampleDataset).Table(tt.table).Metadata(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, md.TimePartitioning); diff != "" {
			t.Errorf("%s: TimePartitioning (-want +got):\n%s", tt.table, diff)
		}
		if md.Clustering == nil || !slices.Equal(md.Clustering.Fields, tt.clustering) {
			t.Errorf("%s: Clustering = %+v, want fields %v", tt.table, md.Clustering, tt.clustering)
		}
		if md.RequirePartitionFilter || len(md.Schema) != 5 {
			t.Errorf("%s: RequirePartitionFilter = %v, %d columns, want false and 5", tt.table, md.RequirePartitionFilter, len(md.Schema))
		}
	}
	md, err := client.DatasetInProject(SampleProject, SampleDataset).Table("all_types").Metadata(t.Context())
	if err != nil || md.TimePartitioning != nil || md.Clustering != nil {
		t.Errorf("all_types: TimePartitioning %v, Clustering %v, err %v; want neither", md.TimePartitioning, md.Clustering, err)
	}
}

// eventRow is a row of the events sample's data.ndjson, read here with encoding/json and time.
type eventRow struct {
	id            int64
	eventTime     time.Time
	partitionTime *time.Time
}

func readEvents(t *testing.T) []eventRow {
	t.Helper()
	f, err := os.Open(filepath.Join("samples", SampleProject, SampleDataset, "events", "data.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []eventRow
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var raw struct {
			ID            int64   `json:"event_id,string"`
			EventTime     string  `json:"event_time"`
			PartitionTime *string `json:"_PARTITIONTIME"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		r := eventRow{id: raw.ID}
		if r.eventTime, err = time.Parse("2006-01-02 15:04:05 MST", raw.EventTime); err != nil {
			t.Fatal(err)
		}
		if raw.PartitionTime != nil {
			pt, err := time.Parse("2006-01-02", *raw.PartitionTime)
			if err != nil {
				t.Fatal(err)
			}
			r.partitionTime = &pt
		}
		rows = append(rows, r)
	}
	return rows
}

// partition names the row's partition as its date, or NULL.
func (r eventRow) partition() string {
	if r.partitionTime == nil {
		return "NULL"
	}
	return r.partitionTime.Format(time.DateOnly)
}

// nullPseudo names NULL pseudo-columns: both, or which one alone (a mismatch).
func nullPseudo(timeNull, dateNull bool) string {
	if timeNull && dateNull {
		return "NULL"
	}
	return "only one pseudo-column NULL"
}

func dayOf(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestPseudoColumns reads the events sample through Google's Storage Read client with restrictions
// on _PARTITIONTIME and _PARTITIONDATE, selecting them too, and compares with the rows picked from
// data.ndjson here with time.Time. The session's bytes estimate shrinks to the partitions kept.
func TestPseudoColumns(t *testing.T) {
	env := startEnv(t, Options{})
	now := time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC)
	env.clock.advance(time.Until(now))
	events := readEvents(t)
	inDay := func(d string) func(r eventRow) bool {
		return func(r eventRow) bool { return r.partitionTime != nil && r.partitionTime.Equal(dayOf(d)) }
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fields := []string{"event_id", "_PARTITIONTIME", "_PARTITIONDATE"}
	all := env.mustSession(t, sessionOpts{table: eventsTable, fields: fields})
	for _, tt := range []struct {
		filter string
		keep   func(eventRow) bool
		pruned bool // the estimate is that of the kept partitions' rows
	}{
		{`_PARTITIONDATE = "2026-01-02"`, inDay("2026-01-02"), true},
		{`_PARTITIONTIME >= TIMESTAMP_SUB(TIMESTAMP "2026-01-04", INTERVAL 1 DAY)`, func(r eventRow) bool {
			return r.partitionTime != nil && !r.partitionTime.Before(dayOf("2026-01-03"))
		}, true},
		{`_PARTITIONDATE > DATE_SUB(CURRENT_DATE(), INTERVAL 2 DAY)`, func(r eventRow) bool {
			return r.partitionTime != nil && r.partitionTime.After(dayOf("2026-01-02"))
		}, true},
		{`_PARTITIONTIME IS NULL`, func(r eventRow) bool { return r.partitionTime == nil }, true},
		{`DATE(event_time) <> _PARTITIONDATE`, func(r eventRow) bool {
			return r.partitionTime != nil && !r.eventTime.Truncate(24*time.Hour).Equal(*r.partitionTime)
		}, false},
		{`_PARTITIONDATE IN ("2026-01-01", "2026-01-04") AND event_id > 2`, func(r eventRow) bool {
			return (inDay("2026-01-01")(r) || inDay("2026-01-04")(r)) && r.id > 2
		}, true},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			var wantIDs []int64
			var wantTimes []string
			kept := map[string]bool{} // the partitions with a row kept
			for _, r := range events {
				if tt.keep(r) {
					wantIDs = append(wantIDs, r.id)
					wantTimes = append(wantTimes, r.partition())
					kept[r.partition()] = true
				}
			}
			sess := env.mustSession(t, sessionOpts{table: eventsTable, fields: fields, filter: tt.filter})
			rec := env.readAllArrow(t, sess, mem)
			defer rec.Release()
			var gotIDs []int64
			var gotTimes []string
			times, dates := rec.Column(1).(*array.Timestamp), rec.Column(2).(*array.Date32)
			for i := range int(rec.NumRows()) {
				gotIDs = append(gotIDs, rec.Column(0).(*array.Int64).Value(i))
				if times.IsNull(i) || dates.IsNull(i) {
					gotTimes = append(gotTimes, nullPseudo(times.IsNull(i), dates.IsNull(i)))
					continue
				}
				ts := times.Value(i).ToTime(arrow.Microsecond)
				gotTimes = append(gotTimes, ts.Format(time.DateOnly))
				if d := dates.Value(i).ToTime(); !d.Equal(ts) {
					t.Errorf("row %d: _PARTITIONDATE %s, _PARTITIONTIME %s", i, d, ts)
				}
			}
			if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
				t.Errorf("event_id (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantTimes, gotTimes); diff != "" {
				t.Errorf("_PARTITIONTIME (-want +got):\n%s", diff)
			}
			scanned := int64(len(events))
			if tt.pruned {
				scanned = 0
				for _, r := range events {
					if kept[r.partition()] {
						scanned++
					}
				}
			}
			if got, want := sess.GetEstimatedTotalBytesScanned(), all.GetEstimatedTotalBytesScanned()*scanned/int64(len(events)); got != want {
				t.Errorf("estimated_total_bytes_scanned = %d, want %d (%d of %d rows' partitions)", got, want, scanned, len(events))
			}
		})
	}
}

// TestPartitionErrors: pseudo-columns exist only on ingestion-time partitioned tables (and
// _PARTITIONDATE only with days), and a table that requires a partition filter refuses a session
// without one in the service's words.
func TestPartitionErrors(t *testing.T) {
	env := startEnv(t, Options{})
	hourly := tableRef{"my-project", "ds", "hourly"}
	writeTable(t, env.dir, hourly, kvSchema, "data.ndjson", `{"k": 1, "_PARTITIONTIME": "2026-01-02 05:00:00"}`+"\n"+`{"k": 2}`)
	if err := os.WriteFile(filepath.Join(env.dir, "my-project", "ds", "hourly", "table.json"),
		[]byte(`{"type": "TABLE", "timePartitioning": {"type": "HOUR"}, "requirePartitionFilter": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		table, filter string
		fields        []string
		want          string
	}{
		{ordersTable, "", []string{"order_id", "_PARTITIONTIME"}, "selected_fields"},
		{ordersTable, `_PARTITIONDATE = "2026-01-01"`, nil, "unrecognized name: _PARTITIONDATE"},
		{hourly.String(), `_PARTITIONDATE = "2026-01-02"`, nil, "unrecognized name: _PARTITIONDATE"},
		{hourly.String(), "", nil, "request failed: Query error: Cannot query over table 'my-project.ds.hourly' without a filter over column(s) '_PARTITIONTIME' that can be used for partition elimination"},
		{hourly.String(), "k = 1", nil, "Cannot query over table"},
		{hourly.String(), "k = 1 OR _PARTITIONTIME IS NULL", nil, "Cannot query over table"},
	} {
		_, err := env.createSession(t.Context(), sessionOpts{table: tt.table, filter: tt.filter, fields: tt.fields})
		wantCode(t, err, codes.InvalidArgument, tt.want)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sess := env.mustSession(t, sessionOpts{table: hourly.String(), filter: `_PARTITIONTIME = "2026-01-02 05:00:00" AND k > 0`, fields: []string{"k"}})
	rec := env.readAllArrow(t, sess, mem)
	defer rec.Release()
	if got := rec.Column(0).String(); got != "[1]" {
		t.Errorf("k = %s, want [1]", got)
	}
}

// TestBadPartitioning: a table.json or data.ndjson that cannot be partitioned as written fails
// that table's load with a message saying what to write.
func TestBadPartitioning(t *testing.T) {
	env := startEnv(t, Options{Logger: discardLogger()})
	const tsSchema = `[{"name":"k","type":"INT64"},{"name":"d","type":"DATE"},{"name":"ts","type":"TIMESTAMP"},{"name":"a","type":"INT64","mode":"REPEATED"}]`
	for _, tt := range []struct {
		name, schema, meta, file, data, want string
	}{
		{"bad_type", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "WEEK"}}`, "data.ndjson", "", `timePartitioning: type "WEEK": use DAY, HOUR, MONTH or YEAR`},
		{"no_field", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "DAY", "field": "nope"}}`, "data.ndjson", "", `field "nope" is not a column`},
		{"int_field", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "DAY", "field": "k"}}`, "data.ndjson", "", "partition by a DATE, TIMESTAMP or DATETIME column"},
		{"hour_date", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "HOUR", "field": "d"}}`, "data.ndjson", "", "a DATE column is partitioned by DAY, MONTH or YEAR"},
		{"expiration", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "DAY", "expirationMs": "-5"}}`, "data.ndjson", "", "expirationMs"},
		{"cluster_many", tsSchema, `{"type": "TABLE", "clustering": {"fields": ["k", "d", "ts", "k", "d"]}}`, "data.ndjson", "", "name 1 to 4 columns"},
		{"cluster_array", tsSchema, `{"type": "TABLE", "clustering": {"fields": ["a"]}}`, "data.ndjson", "", `field "a": cluster by top-level`},
		{"require_alone", tsSchema, `{"type": "TABLE", "requirePartitionFilter": true}`, "data.ndjson", "", "requirePartitionFilter needs timePartitioning"},
		{"view", tsSchema, `{"type": "VIEW", "view": {"query": "SELECT 1"}, "timePartitioning": {"type": "DAY"}}`, "", "", "are for type TABLE, not VIEW"},
		{"unaligned", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "DAY"}}`, "data.ndjson", `{"k": 1, "_PARTITIONTIME": "2026-01-02 05:00:00"}`,
			"row 1: _PARTITIONTIME must be the start of a DAY partition (2026-01-02 00:00:00 UTC)"},
		{"synthetic", tsSchema, `{"type": "TABLE", "timePartitioning": {"type": "DAY"}}`, "synthetic.json", `{"rows": 5, "seed": 1}`, "an ingestion-time partitioned table needs data.ndjson"},
		{"reserved", `[{"name":"_PartitionTime","type":"TIMESTAMP"}]`, "", "data.ndjson", "", "column _PartitionTime: the name is reserved"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref := tableRef{"my-project", "ds", tt.name}
			tdir := writeTable(t, env.dir, ref, tt.schema, "table.json", tt.meta)
			if tt.meta == "" {
				os.Remove(filepath.Join(tdir, "table.json"))
			}
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(tdir, tt.file), []byte(tt.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := env.createSession(t.Context(), sessionOpts{table: ref.String()})
			wantCode(t, err, codes.Internal, tt.want)
		})
	}
}

// TestColumnPartitionPruning: on a table partitioned by the month of order_date, the estimate
// counts the rows of the months a restriction cannot exclude (worked out here from data.ndjson's
// dates: three rows in 2025-11, three in 2025-12, two in 2026-01, one NULL).
func TestColumnPartitionPruning(t *testing.T) {
	env := startEnv(t, Options{})
	all := env.mustSession(t, sessionOpts{table: ordersTable}).GetEstimatedTotalBytesScanned()
	for _, tt := range []struct {
		filter  string
		scanned int64
	}{
		{`order_date >= "2025-12-15"`, 5},                             // 2025-12 and 2026-01, though 2025-12-01 is not kept
		{`order_date IS NULL`, 1},                                     // the NULL partition
		{`order_date < "2025-01-01" OR order_date > "2027-01-01"`, 0}, // none
		{`amount > 100`, 9},                                           // not on the partitioning column
		{`country = "FR" AND order_date BETWEEN "2025-11-01" AND "2025-11-30"`, 3},
	} {
		sess := env.mustSession(t, sessionOpts{table: ordersTable, filter: tt.filter})
		if got, want := sess.GetEstimatedTotalBytesScanned(), all*tt.scanned/9; got != want {
			t.Errorf("%s: estimated_total_bytes_scanned = %d, want %d (%d of 9 rows)", tt.filter, got, want, tt.scanned)
		}
	}
}

// TestQueryPseudoColumns: a query job over the ingestion-time partitioned events sample may name
// _PARTITIONTIME and _PARTITIONDATE in WHERE and in the select list, and * leaves them out, as in
// BigQuery; rows are compared with those picked from data.ndjson here. A filter on them prunes the
// dry run's bytes processed, and a table that requires a partition filter refuses a query without
// one (Google's client throughout).
func TestQueryPseudoColumns(t *testing.T) {
	env := startEnv(t, Options{JobRunTime: -1})
	client := restClient(t, env)
	const events = "`bqread-demo.samples.events`"
	day := dayOf("2026-01-02")
	var want [][]bigquery.Value
	for _, r := range readEvents(t) {
		if r.partitionTime != nil && r.partitionTime.Equal(day) {
			want = append(want, []bigquery.Value{r.id, civil.DateOf(day)})
		}
	}
	if len(want) == 0 {
		t.Fatal("no event of 2026-01-02 in the sample")
	}
	it, err := client.Query("SELECT event_id, _PARTITIONDATE AS d FROM " + events +
		" WHERE _PARTITIONTIME = TIMESTAMP '2026-01-02' ORDER BY event_id").Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, readAll(t, it)); diff != "" {
		t.Errorf("rows of 2026-01-02 (-want +got):\n%s", diff)
	}

	it, err = client.Query("SELECT * FROM " + events + " WHERE _PARTITIONDATE = '2026-01-02'").Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, it)
	var names []string
	for _, f := range it.Schema {
		names = append(names, f.Name)
	}
	if len(rows) != len(want) || slices.Contains(names, "_PARTITIONTIME") || slices.Contains(names, "_PARTITIONDATE") {
		t.Errorf("SELECT *: %d rows, columns %v; want %d rows and no pseudo-column", len(rows), names, len(want))
	}

	dryBytes := func(sql string) int64 {
		t.Helper()
		q := client.Query(sql)
		q.DryRun = true
		job, err := q.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return job.LastStatus().Statistics.TotalBytesProcessed
	}
	all := dryBytes("SELECT event_id FROM " + events)
	if day := dryBytes("SELECT event_id FROM " + events + " WHERE _PARTITIONDATE = '2026-01-02'"); all <= 0 || day*int64(12) != all*int64(len(want)) {
		t.Errorf("bytes processed: %d for one day, %d for all 12 rows; want %d/12 of it", day, all, len(want))
	}

	hourly := tableRef{"my-project", "ds", "hourly"}
	writeTable(t, env.dir, hourly, kvSchema, "data.ndjson", `{"k": 1, "_PARTITIONTIME": "2026-01-02 05:00:00"}`+"\n")
	if err := os.WriteFile(filepath.Join(env.dir, "my-project", "ds", "hourly", "table.json"),
		[]byte(`{"type": "TABLE", "timePartitioning": {"type": "HOUR"}, "requirePartitionFilter": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Query("SELECT k FROM ds.hourly WHERE k = 1").Read(t.Context()); err == nil ||
		!strings.Contains(err.Error(), "Cannot query over table 'my-project.ds.hourly' without a filter over column(s) '_PARTITIONTIME'") {
		t.Errorf("query without a partition filter: %v", err)
	}
	it, err = client.Query("SELECT k FROM ds.hourly WHERE _PARTITIONTIME = TIMESTAMP '2026-01-02 05:00:00'").Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, it); !cmp.Equal(got, [][]bigquery.Value{{int64(1)}}) {
		t.Errorf("hourly rows %v, want [[1]]", got)
	}
}
