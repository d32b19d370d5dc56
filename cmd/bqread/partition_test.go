package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sampleRows reads a built-in sample's data.ndjson as JSON objects, the rows as they went in.
func sampleRows(t *testing.T, table string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "emulator", "samples", "bqread-demo", "samples", table, "data.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []map[string]any
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	return rows
}

func mustDate(t *testing.T, s any) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s.(string))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestExportPartitionFilter exports the partitioned samples with restrictions on the partition
// pseudo-columns and on a partitioning column, and compares the output with the rows of
// data.ndjson picked here with time.Time: the pseudo-columns stay out of the rows unless --columns
// names them, and then they hold each row's partition.
func TestExportPartitionFilter(t *testing.T) {
	events, orders := sampleRows(t, "events"), sampleRows(t, "orders")
	tests := []struct {
		name, table, where, columns string
		want                        func() []string
	}{
		{"by _PARTITIONDATE", "events", `_PARTITIONDATE = "2026-01-02"`, "", func() []string {
			var want []string
			for _, r := range events {
				if pt, ok := r["_PARTITIONTIME"]; ok && mustDate(t, pt).Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
					row := maps.Clone(r)
					delete(row, "_PARTITIONTIME")
					want = append(want, canonical(t, row))
				}
			}
			return want
		}},
		{"selecting _PARTITIONTIME", "events", `_PARTITIONTIME >= TIMESTAMP_SUB(TIMESTAMP "2026-01-04", INTERVAL 1 DAY)`, "event_id,_PARTITIONTIME", func() []string {
			var want []string
			for _, r := range events {
				if pt, ok := r["_PARTITIONTIME"]; ok && !mustDate(t, pt).Before(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)) {
					want = append(want, canonical(t, map[string]any{"event_id": r["event_id"],
						"_PARTITIONTIME": mustDate(t, pt).Format("2006-01-02 15:04:05 UTC")}))
				}
			}
			return want
		}},
		{"by partitioning column", "orders", `order_date >= DATE_SUB(DATE "2026-01-15", INTERVAL 1 MONTH)`, "", func() []string {
			var want []string
			for _, r := range orders {
				if d, ok := r["order_date"].(string); ok && !mustDate(t, d).Before(time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC)) {
					want = append(want, canonical(t, r))
				}
			}
			return want
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rows.ndjson")
			args := []string{"bqread-demo.samples." + tt.table, "-o", out, "--where", tt.where, "--streams", "2"}
			if tt.columns != "" {
				args = append(args, "--columns", tt.columns)
			}
			mustExport(t, args...)
			want := tt.want()
			slices.Sort(want)
			if len(want) == 0 {
				t.Fatal("the restriction keeps no row of the sample: the test proves nothing")
			}
			if diff := cmp.Diff(want, readNDJSON(t, out)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}
