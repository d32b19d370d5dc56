//go:build unix

package emulator

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// TestSpecialTableFiles: a FIFO or a device as a table's data.ndjson or schema.json is refused at
// once with an error for that table only, and meanwhile the sample tables are served over gRPC and
// REST. (A FIFO used to block every CreateReadSession and tables.get of the server.)
func TestSpecialTableFiles(t *testing.T) {
	env := startEnv(t, Options{Logger: discardLogger()})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a safety net, not a speed bound
	defer cancel()
	tests := []struct {
		table, file, want string
		make              func(path string) error
	}{
		{"fifo_data", "data.ndjson", "data.ndjson is a named pipe, not a regular file", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"fifo_schema", "schema.json", "schema.json is a named pipe, not a regular file", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		// /dev/zero's device number: a read of it would never end.
		{"device", "data.ndjson", "data.ndjson is a device, not a regular file", func(p string) error {
			return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			ref := tableRef{"my-project", "ds", tt.table}
			tdir := writeTable(t, env.dir, ref, kvSchema, "data.ndjson", `{"k":1}`)
			p := filepath.Join(tdir, tt.file)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := tt.make(p); err != nil {
				t.Skipf("cannot make %s here: %v", tt.file, err)
			}
			// The special table is asked for first and the sample while it is being loaded.
			done := make(chan error, 1)
			go func() {
				_, err := env.createSession(ctx, sessionOpts{table: ref.String()})
				done <- err
			}()
			env.mustSessionCtx(t, ctx, sessionOpts{table: allTypesTable})
			if code := tablesGetStatus(t, ctx, env, SampleProject, SampleDataset, "all_types"); code != http.StatusOK {
				t.Errorf("tables.get of a sample = %d, want 200", code)
			}
			wantCode(t, <-done, codes.Internal, "load table my-project.ds."+tt.table+": "+tt.want)
			if code := tablesGetStatus(t, ctx, env, ref.Project, ref.Dataset, ref.Table); code != http.StatusInternalServerError {
				t.Errorf("tables.get of %s = %d, want 500", tt.table, code)
			}
		})
	}
}

// mustSessionCtx is mustSession under ctx.
func (e *testEnv) mustSessionCtx(t *testing.T, ctx context.Context, o sessionOpts) {
	t.Helper()
	if _, err := e.createSession(ctx, o); err != nil {
		t.Fatalf("CreateReadSession(%s): %v", o.table, err)
	}
}

// tablesGetStatus returns the HTTP status of tables.get for project.dataset.table.
func tablesGetStatus(t *testing.T, ctx context.Context, env *testEnv, project, dataset, table string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+env.inst.HTTPAddr()+"/bigquery/v2/projects/"+project+"/datasets/"+dataset+"/tables/"+table, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("tables.get %s.%s.%s: %v", project, dataset, table, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
