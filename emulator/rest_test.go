package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// restClient returns Google's BigQuery client for the emulator's REST API, closed when the test
// ends.
func restClient(t testing.TB, env *testEnv) *bigquery.Client {
	t.Helper()
	client, err := bigquery.NewClient(t.Context(), "my-project",
		option.WithEndpoint("http://"+env.inst.HTTPAddr()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// TestOfficialClientReadsTable reads a table with cloud.google.com/go/bigquery the way users do:
// tables.get over REST, then the Storage Read API over gRPC.
func TestOfficialClientReadsTable(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 32 << 10})
	const rows = 3000
	genTable(t, env, "trips", rows)
	ctx := t.Context()
	client := restClient(t, env)
	if err := client.EnableStorageReadClient(ctx, option.WithEndpoint(env.inst.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))); err != nil {
		t.Fatal(err)
	}
	table := client.Dataset("ds").Table("trips")
	md, err := table.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.NumRows != rows || len(md.Schema) != 15 || md.Schema[0].Type != bigquery.IntegerFieldType || !md.Schema[0].Required {
		t.Fatalf("metadata: %d rows, schema %v", md.NumRows, md.Schema)
	}
	it := table.Read(ctx)
	if !it.IsAccelerated() {
		t.Fatal("Table.Read did not use the Storage Read API")
	}
	seen := map[int64]bool{}
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", len(seen), err)
		}
		id := row[0].(int64)
		if seen[id] || id < 1 || id > rows {
			t.Fatalf("trip_id %d repeated or out of range", id)
		}
		seen[id] = true
	}
	if len(seen) != rows {
		t.Fatalf("read %d rows, want %d", len(seen), rows)
	}
	_, err = client.Dataset("ds").Table("nope").Metadata(ctx)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Fatalf("missing table: err = %v, want a googleapi 404", err)
	}
	if _, err := client.Dataset("ds").Metadata(ctx); err != nil {
		t.Fatalf("dataset metadata: %v", err)
	}
	_, err = client.Dataset("nods").Metadata(ctx)
	if !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Fatalf("missing dataset: err = %v, want a googleapi 404", err)
	}
}

func TestRESTErrorShape(t *testing.T) {
	env := startEnv(t, Options{})
	resp, err := http.Get("http://" + env.inst.HTTPAddr() + "/bigquery/v2/projects/bqread-demo/datasets/samples/tables/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct {
			Code    int
			Message string
			Status  string
			Errors  []struct{ Reason string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	e := body.Error
	if resp.StatusCode != 404 || e.Code != 404 || e.Status != "NOT_FOUND" || len(e.Errors) != 1 || e.Errors[0].Reason != "notFound" ||
		e.Message != "Not found: Table bqread-demo:samples.nope (projects/bqread-demo/datasets/samples/tables/nope)" {
		t.Fatalf("error = %d %+v", resp.StatusCode, e)
	}
}

// lockedBuffer is a bytes.Buffer for a logger that several goroutines write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLoadErrorHidesServerPaths: a table that cannot be loaded answers REST 500 and gRPC INTERNAL
// with a message that names the table (project.dataset.table) and its file, never a path on the
// server; the server's log has the table's directory.
func TestLoadErrorHidesServerPaths(t *testing.T) {
	var log lockedBuffer
	env := startEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	for _, file := range []string{"data.ndjson", "schema.json"} {
		t.Run(file+" is a directory", func(t *testing.T) {
			ref := tableRef{"my-project", "ds", strings.TrimSuffix(file, filepath.Ext(file)) + "_dir"}
			tdir := writeTable(t, env.dir, ref, kvSchema, "data.ndjson", `{"k":1}`)
			if err := os.Remove(filepath.Join(tdir, file)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(tdir, file), 0o755); err != nil {
				t.Fatal(err)
			}
			dotted := ref.Project + "." + ref.Dataset + "." + ref.Table
			resp, err := http.Get("http://" + env.inst.HTTPAddr() + "/bigquery/v2/projects/my-project/datasets/ds/tables/" + ref.Table)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), dotted+": ") ||
				!strings.Contains(string(body), file) || strings.Contains(string(body), env.dir) {
				t.Errorf("tables.get = %d %s; want 500 naming %s and %s, not %s", resp.StatusCode, body, dotted, file, env.dir)
			}
			_, err = env.createSession(t.Context(), sessionOpts{table: ref.String()})
			wantCode(t, err, codes.Internal, dotted+": ")
			if msg := status.Convert(err).Message(); strings.Contains(msg, env.dir) || !strings.Contains(msg, file) {
				t.Errorf("CreateReadSession error %q: want %s named, not %s", msg, file, env.dir)
			}
			if !strings.Contains(log.String(), tdir) {
				t.Errorf("server log does not name the table's directory %s:\n%s", tdir, log.String())
			}
		})
	}
}
