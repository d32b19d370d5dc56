package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
)

// nonTableAdvice is what bqread says to do about a view, a materialized view or an external table.
const nonTableAdvice = "is not a table but a view, a materialized view or an external table, which the Storage Read API cannot read: " +
	"write it to a table first (bq query --destination_table PROJECT:DATASET.TABLE --use_legacy_sql=false"

// TestExportViewRefused exports a view, a materialized view and an external table from the
// emulator (which refuses them as the real service does): exit 2, and one line saying what the table
// is and what to do, without the server's raw message.
func TestExportViewRefused(t *testing.T) {
	data := t.TempDir()
	tables := map[string]string{
		"v":   `{"type": "VIEW", "view": {"query": "SELECT * FROM ds.items"}}`,
		"mv":  `{"type": "MATERIALIZED_VIEW", "materializedView": {"query": "SELECT id FROM ds.items"}}`,
		"ext": `{"type": "EXTERNAL"}`,
	}
	for name, meta := range tables {
		tdir := filepath.Join(data, "bqread-test", "ds", name)
		if err := os.MkdirAll(tdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tdir, "schema.json"), []byte(testSchema), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tdir, "table.json"), []byte(meta), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	dir := t.TempDir()
	for _, name := range []string{"v", "mv", "ext"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".parquet")
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"export", "bqread-test.ds." + name, "--endpoint", inst.GRPCAddr(),
				"--progress", "none", "-o", out}, nil, &stdout, &stderr)
			msg := stderr.String()
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s", code, exitUsage, msg)
			}
			want := "bqread-test.ds." + name + " " + nonTableAdvice
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, want) || !strings.HasSuffix(msg, "and export that\n") {
				t.Errorf("stderr should be one line containing %q:\n%s", want, msg)
			}
			if strings.Contains(msg, "rpc error") || strings.Contains(msg, "non-table entities") {
				t.Errorf("stderr holds the server's raw message:\n%s", msg)
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after the error", out)
			}
			if _, err := os.Lstat(out + ".bqread"); !os.IsNotExist(err) {
				t.Errorf("work dir left after the error")
			}
		})
	}
}

// TestNonTableHint: the error for a non-table entity names the table as project.dataset.table (with
// the project of --project for dataset.table), and still wraps what it replaces, so that callers and
// the exit code see the server's status and export.ErrUsage.
func TestNonTableHint(t *testing.T) {
	srv := status.Error(codes.InvalidArgument, "request failed: non-table entities cannot be read with the storage API")
	orig := fmt.Errorf("%w: create read session: %w", export.ErrUsage, srv)
	tests := []struct {
		name, table, project, want string
	}{
		{"dotted", "my-proj.ds.v", "", "my-proj.ds.v "},
		{"colon", "my-proj:ds.v", "", "my-proj.ds.v "},
		{"project from --project", "ds.v", "other-proj", "other-proj.ds.v "},
		{"no project", "ds.v", "", "ds.v "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := explain(orig, export.Options{Table: tt.table, Project: tt.project})
			if msg := err.Error(); !strings.HasPrefix(msg, tt.want+nonTableAdvice) || strings.Contains(msg, "rpc error") || strings.Contains(msg, "\n") {
				t.Errorf("error = %q, want one line starting %q", msg, tt.want+nonTableAdvice)
			}
			if !errors.Is(err, orig) || !errors.Is(err, export.ErrUsage) || status.Code(errors.Unwrap(err)) != codes.InvalidArgument {
				t.Errorf("error %v does not wrap the server's error", err)
			}
			if got := exitCode(t.Context(), err); got != exitUsage {
				t.Errorf("exit code = %d, want %d", got, exitUsage)
			}
		})
	}
}
