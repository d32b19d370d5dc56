package export

import (
	"os"
	"testing"
	"time"
)

// TestProjectResolution checks which project bills the read and holds a table named without one.
func TestProjectResolution(t *testing.T) {
	tests := []struct {
		name, table, project, billing, env string
		wantTable, wantBilling             string
	}{
		{"table's own", "proj-a.ds.t", "", "", "", "proj-a.ds.t", ""},
		{"--project bills", "proj-a.ds.t", "proj-b", "", "", "proj-a.ds.t", "proj-b"},
		{"--project holds dataset.table", "ds.t", "proj-b", "", "", "proj-b.ds.t", "proj-b"},
		{"GOOGLE_CLOUD_PROJECT", "ds.t", "", "", "proj-c", "proj-c.ds.t", "proj-c"},
		{"--project before the environment", "ds.t", "proj-b", "", "proj-c", "proj-b.ds.t", "proj-b"},
		{"--billing-project bills", "ds.t", "proj-b", "proj-d", "", "proj-b.ds.t", "proj-d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOOGLE_CLOUD_PROJECT", tt.env)
			if tt.env == "" {
				os.Unsetenv("GOOGLE_CLOUD_PROJECT")
			}
			p, err := Options{Table: tt.table, Project: tt.project, BillingProject: tt.billing, Endpoint: "127.0.0.1:1",
				Format: "ndjson"}.check(t.Context(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if p.req.TraceID != "bqread/"+Version() {
				t.Errorf("trace_id %q, want bqread/ and the version", p.req.TraceID)
			}
			if got := p.req.Table.String(); got != tt.wantTable || p.req.BillingProject != tt.wantBilling {
				t.Errorf("table %s billed to %q, want %s billed to %q", got, p.req.BillingProject, tt.wantTable, tt.wantBilling)
			}
		})
	}
	os.Unsetenv("GOOGLE_CLOUD_PROJECT")
	if _, err := (Options{Table: "ds.t", Endpoint: "127.0.0.1:1", Format: "ndjson"}).check(t.Context(), time.Now()); err == nil {
		t.Error("dataset.table without any project was accepted")
	}
}
