// Package jsread runs, for tests, the independent JavaScript readers of output/testdata/js
// (hyparquet, apache-arrow, DuckDB) on what bqread wrote, so that a test reads a file back with a
// reader other than bqread's own. It is imported by tests only.
package jsread

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// dir returns output/testdata/js of this checkout, whatever package's test asks.
func dir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("jsread: cannot locate its source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "output", "testdata", "js")
}

// Run runs the reader script (readparquet.mjs, readarrow.mjs, arrowcolumn.mjs, duckdb.mjs) with
// args and decodes its JSON output into v. It skips the test when node or the readers' packages
// are not installed (.ci/run installs them with npm ci --prefix output/testdata/js).
func Run(t testing.TB, script string, v any, args ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	d := dir(t)
	if _, err := os.Stat(filepath.Join(d, "node_modules")); err != nil {
		t.Skip("JavaScript readers not installed: run npm ci --prefix output/testdata/js")
	}
	out, err := exec.Command(node, append([]string{filepath.Join(d, script)}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s: %v\n%s", script, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s output: %v", script, err)
	}
}
