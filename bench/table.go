package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// tripsSchema is the schema of the sample table bqread-demo.samples.trips
// (emulator/samples/bqread-demo/samples/trips/schema.json).
const tripsSchema = `[
  {"name": "trip_id", "type": "INT64", "mode": "REQUIRED"},
  {"name": "vendor_id", "type": "STRING"},
  {"name": "pickup_time", "type": "TIMESTAMP"},
  {"name": "dropoff_time", "type": "TIMESTAMP"},
  {"name": "pickup_date", "type": "DATE"},
  {"name": "passenger_count", "type": "INT64"},
  {"name": "trip_distance_km", "type": "FLOAT64"},
  {"name": "pickup_zone", "type": "STRING"},
  {"name": "dropoff_zone", "type": "STRING"},
  {"name": "pickup_point", "type": "GEOGRAPHY"},
  {"name": "payment_type", "type": "STRING"},
  {"name": "fare_amount", "type": "NUMERIC"},
  {"name": "tip_amount", "type": "NUMERIC"},
  {"name": "total_amount", "type": "NUMERIC"},
  {"name": "store_and_forward", "type": "BOOL"}
]
`

// Where the bench tables live in the emulator's data dir.
const (
	benchProject = "bqread-bench"
	benchDataset = "bench"
)

// table names one synthetic table of the emulator.
type table struct {
	project, dataset, name string
	rows                   int64
}

// id is the table as bqread's TABLE argument.
func (t table) id() string { return t.project + "." + t.dataset + "." + t.name }

// path is the table as the Storage Read API names it.
func (t table) path() string {
	return fmt.Sprintf("projects/%s/datasets/%s/tables/%s", t.project, t.dataset, t.name)
}

// writeTable adds a synthetic trips table of rows rows (seed 1) to the emulator data dir.
func writeTable(dataDir string, rows int64) (table, error) {
	t := table{project: benchProject, dataset: benchDataset, name: fmt.Sprintf("trips_%d", rows), rows: rows}
	dir := filepath.Join(dataDir, t.project, t.dataset, t.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, fmt.Errorf("create table dir: %w", err)
	}
	syn, err := json.Marshal(map[string]int64{"rows": rows, "seed": 1})
	if err != nil {
		return t, err
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.json"), []byte(tripsSchema), 0o644); err != nil {
		return t, fmt.Errorf("write table schema: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "synthetic.json"), syn, 0o644); err != nil {
		return t, fmt.Errorf("write table spec: %w", err)
	}
	return t, nil
}
