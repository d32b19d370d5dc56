package emulator

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
)

// TestQueryClock checks that CURRENT_DATE() in a query's WHERE is the emulator's clock
// (Options.Now), as it is in a row restriction, not the machine's: the same query run at two
// emulator dates keeps the events of each date, picked from data.ndjson with time.Time.
func TestQueryClock(t *testing.T) {
	env := newQueryEnv(t, Options{}, 1)
	events := sampleEvents(t)
	q := "SELECT event_id FROM `bqread-demo.samples.events` WHERE DATE(event_time) = CURRENT_DATE()"
	for _, day := range []string{"2026-01-02", "2026-01-04"} {
		noon, err := time.Parse(time.DateOnly, day)
		if err != nil {
			t.Fatal(err)
		}
		env.clock.advance(noon.Add(12 * time.Hour).Sub(env.clock.now()))
		var want [][]bigquery.Value
		for _, e := range events {
			if e.time.UTC().Format(time.DateOnly) == day {
				want = append(want, []bigquery.Value{e.id})
			}
		}
		if len(want) == 0 {
			t.Fatalf("no event on %s in the sample: the test picks the wrong days", day)
		}
		it, err := env.plain.Query(q).Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, readAll(t, it), want, false)
	}
}

type sampleEvent struct {
	id   int64
	time time.Time
}

// sampleEvents reads the events sample's ids and times from its data.ndjson.
func sampleEvents(t *testing.T) []sampleEvent {
	t.Helper()
	f, err := os.Open("samples/bqread-demo/samples/events/data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sampleEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row struct {
			ID   json.Number `json:"event_id"`
			Time string      `json:"event_time"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		id, err := row.ID.Int64()
		if err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse("2006-01-02 15:04:05 MST", row.Time)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sampleEvent{id, ts})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clip(out)
}
