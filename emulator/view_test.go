package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// nonTableMessage is the real service's answer to CreateReadSession on a view, a materialized view
// or an external table.
const nonTableMessage = "non-table entities cannot be read with the storage API"

// restTableResource is the part of a tables.get answer that the view tests check.
type restTableResource struct {
	Type    string `json:"type"`
	NumRows string `json:"numRows"`
	Schema  struct {
		Fields []struct{ Name string }
	} `json:"schema"`
	View             *struct{ Query string } `json:"view"`
	MaterializedView *struct{ Query string } `json:"materializedView"`
}

// tablesGet answers tables.get for project.dataset.table: the HTTP status and the resource.
func tablesGet(t *testing.T, env *testEnv, ref tableRef) (int, restTableResource, string) {
	t.Helper()
	resp, err := http.Get("http://" + env.inst.HTTPAddr() + "/bigquery/v2/projects/" + ref.Project + "/datasets/" + ref.Dataset + "/tables/" + ref.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var res restTableResource
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("tables.get body %s: %v", body, err)
		}
	}
	return resp.StatusCode, res, string(body)
}

// TestNonTableEntities: a table directory whose table.json says VIEW, MATERIALIZED_VIEW or
// EXTERNAL is refused by CreateReadSession with the real service's INVALID_ARGUMENT, with or
// without data, while tables.get describes it with its type and query; an ordinary table is a TABLE.
func TestNonTableEntities(t *testing.T) {
	env := startEnv(t, Options{Logger: discardLogger()})
	tests := []struct {
		table, meta, data   string // data: "" for none
		wantType, wantQuery string
		wantRows            string
	}{
		{"a_view", `{"type": "VIEW", "view": {"query": "SELECT k, v FROM ds.kv"}}`, "", "VIEW", "SELECT k, v FROM ds.kv", ""},
		{"a_materialized_view", `{"type": "MATERIALIZED_VIEW", "materializedView": {"query": "SELECT k FROM ds.kv"}}`,
			`{"k":1}` + "\n" + `{"k":2}`, "MATERIALIZED_VIEW", "SELECT k FROM ds.kv", "2"},
		{"an_external_table", `{"type": "EXTERNAL", "externalDataConfiguration": {"sourceFormat": "CSV"}}`, "", "EXTERNAL", "", ""},
		{"a_table", `{"type": "TABLE"}`, `{"k":1}`, "TABLE", "", "1"},
		{"no_table_json", "", `{"k":1}`, "TABLE", "", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			ref := tableRef{"my-project", "ds", tt.table}
			tdir := filepath.Join(env.dir, ref.Project, ref.Dataset, ref.Table)
			if err := os.MkdirAll(tdir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, content := range map[string]string{"schema.json": kvSchema, "table.json": tt.meta, "data.ndjson": tt.data} {
				if content == "" {
					continue
				}
				if err := os.WriteFile(filepath.Join(tdir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := env.createSession(t.Context(), sessionOpts{table: ref.String()})
			if tt.wantType == "TABLE" {
				if err != nil {
					t.Fatalf("CreateReadSession on a TABLE: %v", err)
				}
			} else {
				wantCode(t, err, codes.InvalidArgument, "request failed: "+nonTableMessage)
			}
			code, res, body := tablesGet(t, env, ref)
			if code != http.StatusOK {
				t.Fatalf("tables.get = %d %s, want 200", code, body)
			}
			query := ""
			switch {
			case res.View != nil:
				query = res.View.Query
			case res.MaterializedView != nil:
				query = res.MaterializedView.Query
			}
			if res.Type != tt.wantType || query != tt.wantQuery || res.NumRows != tt.wantRows || len(res.Schema.Fields) != 2 {
				t.Errorf("tables.get = %s\nwant type %s, query %q, numRows %q and the schema's 2 fields", body, tt.wantType, tt.wantQuery, tt.wantRows)
			}
			if (res.View != nil) != (tt.wantType == "VIEW") || (res.MaterializedView != nil) != (tt.wantType == "MATERIALIZED_VIEW") {
				t.Errorf("tables.get = %s: view or materializedView on a %s", body, tt.wantType)
			}
		})
	}
}

// TestBadTableJSON: a table.json that cannot be used fails that table's load (INTERNAL, REST 500)
// with a message naming table.json and saying what to write.
func TestBadTableJSON(t *testing.T) {
	env := startEnv(t, Options{Logger: discardLogger()})
	tests := []struct {
		table, meta, data, want string
	}{
		{"not_json", `{"type": `, "", "table.json: want {"},
		{"no_type", `{"view": {"query": "SELECT 1"}}`, "", `table.json: type "": use TABLE, VIEW, MATERIALIZED_VIEW or EXTERNAL`},
		{"unknown_type", `{"type": "SNAPSHOT"}`, "", `table.json: type "SNAPSHOT": use TABLE`},
		{"view_on_table", `{"type": "TABLE", "view": {"query": "SELECT 1"}}`, `{"k":1}`, `table.json: "view" is for type VIEW, not TABLE`},
		{"table_without_data", `{"type": "TABLE"}`, "", "table.json says TABLE, but there is no data.ndjson or synthetic.json"},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			ref := tableRef{"my-project", "ds", tt.table}
			tdir := writeTable(t, env.dir, ref, kvSchema, "table.json", tt.meta)
			if tt.data != "" {
				if err := os.WriteFile(filepath.Join(tdir, "data.ndjson"), []byte(tt.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := env.createSession(t.Context(), sessionOpts{table: ref.String()})
			wantCode(t, err, codes.Internal, "load table my-project.ds."+tt.table+": "+tt.want)
			if code, _, body := tablesGet(t, env, ref); code != http.StatusInternalServerError || !strings.Contains(body, "table.json") {
				t.Errorf("tables.get = %d %s, want 500 naming table.json", code, body)
			}
		})
	}
}

// TestViewBecomesTable: table.json is part of a table's state, so a view whose table.json is
// changed into a TABLE (with data) is read as one at once.
func TestViewBecomesTable(t *testing.T) {
	env := startEnv(t, Options{Logger: discardLogger()})
	ref := tableRef{"my-project", "ds", "changing"}
	tdir := writeTable(t, env.dir, ref, kvSchema, "table.json", `{"type": "VIEW", "view": {"query": "SELECT 1 AS k"}}`)
	if err := os.WriteFile(filepath.Join(tdir, "data.ndjson"), []byte(`{"k":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	setTimes(t, tdir, time.Now().Add(-time.Hour))
	_, err := env.createSession(t.Context(), sessionOpts{table: ref.String()})
	wantCode(t, err, codes.InvalidArgument, nonTableMessage)
	if err := os.WriteFile(filepath.Join(tdir, "table.json"), []byte(`{"type": "TABLE"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := env.mustSession(t, sessionOpts{table: ref.String()}); s.GetEstimatedRowCount() != 1 {
		t.Errorf("estimated rows = %d, want 1", s.GetEstimatedRowCount())
	}
}
