package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// complete runs cobra's hidden __complete command, as the shell scripts of `bqread completion` do,
// and returns the values offered (without their descriptions).
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), append([]string{"__complete"}, args...), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("bqread __complete %v: exit %d\n%s", args, code, stderr.String())
	}
	var values []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, ":") { // the directive ends the list
			break
		}
		value, _, _ := strings.Cut(line, "\t")
		values = append(values, value)
	}
	return values
}

func TestCompleteFlagValues(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"export", "t.d.t", "--format", ""}, []string{"parquet", "arrow", "avro", "csv", "ndjson"}},
		{[]string{"plan", "t.d.t", "-f", ""}, []string{"parquet", "arrow", "avro", "csv", "ndjson"}},
		{[]string{"export", "t.d.t", "-f", "parquet", "--compression", ""}, []string{"snappy", "zstd", "gzip", "none"}},
		{[]string{"export", "t.d.t", "-o", "x.avro", "--compression", ""}, []string{"null", "deflate", "snappy"}},
		{[]string{"export", "t.d.t", "-o", "x.csv.gz", "--compression", ""}, []string{"none", "gzip"}},
		{[]string{"export", "t.d.t", "--compression", ""}, []string{"snappy", "zstd", "gzip", "none", "lz4", "null", "deflate"}},
		{[]string{"export", "t.d.t", "--data-format", ""}, []string{"arrow", "avro"}},
		{[]string{"plan", "t.d.t", "--wire-compression", ""}, []string{"none", "lz4", "zstd"}},
		{[]string{"export", "t.d.t", "--response-compression", ""}, []string{"none", "lz4"}},
		{[]string{"export", "t.d.t", "--timestamp-precision", ""}, []string{"micros", "nanos", "picos"}},
		{[]string{"serve", "--stream-allocation", ""}, []string{"fixed", "liquid"}},
		{[]string{"export", "t.d.t", "--progress", ""}, []string{"auto", "bar", "plain", "none"}},
		{[]string{"schema", "t.d.t", "--format", ""}, []string{"bq", "arrow", "avro", "parquet"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, complete(t, tt.args...)); diff != "" {
				t.Errorf("completions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompletionsAreAccepted checks every value completion offers against what the flag accepts,
// so that the lists cannot drift from the code.
func TestCompletionsAreAccepted(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	for _, f := range complete(t, "export", "t.d.t", "--format", "") {
		for _, c := range complete(t, "export", "t.d.t", "--format", f, "--compression", "") {
			w, err := output.NewWriter(io.Discard, output.Format(f), s, output.Options{Compression: c})
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				t.Errorf("--format %s --compression %s: %v", f, c, err)
			}
		}
	}
	for _, df := range complete(t, "export", "t.d.t", "--data-format", "") {
		for _, wc := range complete(t, "export", "t.d.t", "--wire-compression", "") {
			if wc != "none" && df != session.FormatArrow {
				continue // wire compression is Arrow's only
			}
			if _, err := (session.Request{DataFormat: df, Compression: wc}).Proto(); err != nil {
				t.Errorf("--data-format %s --wire-compression %s: %v", df, wc, err)
			}
		}
	}
	for _, p := range complete(t, "export", "t.d.t", "--progress", "") {
		if _, err := (&exportOptions{progress: p, interval: time.Second}).checkLocal(); err != nil {
			t.Errorf("--progress %s: %v", p, err)
		}
	}
}

// TestServeHelpExitCodes checks that serve's help lists serve's exit codes, not export's.
func TestServeHelpExitCodes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"serve", "--help"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("serve --help: exit %d\n%s", code, stderr.String())
	}
	help := stdout.String()
	if !strings.Contains(help, serveExitCodesHelp) {
		t.Errorf("serve --help does not list serve's exit codes:\n%s", help)
	}
	for _, export := range []string{"--resume", "partial", "130"} {
		if strings.Contains(help, export) {
			t.Errorf("serve --help mentions %q, which is export's:\n%s", export, help)
		}
	}
}

// TestStreamsZero checks that --streams 0 means what help says: the default, 2 x --parallelism.
func TestStreamsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"export", "--help"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("export --help: exit %d", code)
	}
	if want := "0 (the default) asks for 2 x --parallelism"; !strings.Contains(stdout.String(), want) {
		t.Errorf("export --help does not say %q:\n%s", want, stdout.String())
	}
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	for _, streams := range [][]string{{"--streams", "0"}, nil, {"--streams", "6"}} {
		args := append([]string{"plan", testTable, "--endpoint", inst.GRPCAddr(), "--work-dir", filepath.Join(t.TempDir(), "w"),
			"-f", "ndjson", "--parallelism", "3", "--json"}, streams...)
		stdout.Reset()
		stderr.Reset()
		if code := run(t.Context(), args, nil, &stdout, &stderr); code != exitOK {
			t.Fatalf("bqread %v: exit %d\n%s", args, code, stderr.String())
		}
		var p planned
		if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if got, want := p.Streams, 6; got != want {
			t.Errorf("--parallelism 3 %v: %d streams, want %d", streams, got, want)
		}
	}
}

// TestSessionHint checks that an InvalidArgument from CreateReadSession points at the flags that
// can fix what the server's message is about, and at no others.
func TestSessionHint(t *testing.T) {
	projectInvalid, err := status.New(codes.InvalidArgument, "Invalid resource field value in the request.").
		WithDetails(&errdetails.ErrorInfo{Reason: "RESOURCE_PROJECT_INVALID", Domain: "googleapis.com"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		err      error
		opts     export.Options
		want     string
		wantNone []string
	}{
		{"emulator: invalid project id", status.Error(codes.InvalidArgument, `project ID "ab": use 6 to 30 lowercase letters, digits and hyphens, starting with a letter`),
			export.Options{Table: "ab.ds.t"}, "check the project in TABLE", []string{"--columns", "--where", "--snapshot-time"}},
		{"bigquery: invalid billing project", projectInvalid.Err(),
			export.Options{Table: "my-project.ds.t", BillingProject: "Not_A_Project"}, "check the project in TABLE and --billing-project", []string{"--columns"}},
		{"unknown column named like a project", status.Error(codes.InvalidArgument, `selected_fields: schema: unknown column: "project_id"`),
			export.Options{Table: "my-project.ds.t", Columns: []string{"project_id"}}, "check --columns", []string{"project", "--where"}},
		{"bad row restriction", status.Error(codes.InvalidArgument, `row_restriction: unknown column "x"`),
			export.Options{Table: "p-123456.ds.t", Where: "x > 1"}, "check --where", []string{"--columns"}},
		{"bigquery: partition filter required", status.Error(codes.InvalidArgument, "request failed: Query error: Cannot query over table 'my-project.ds.t' without a filter over column(s) 'day' that can be used for partition elimination"),
			export.Options{Table: "my-project.ds.t"}, "check --where", []string{"--columns"}},
		{"snapshot before the table", status.Error(codes.InvalidArgument, "snapshot time 2020-01-01T00:00:00Z is before the creation time of table projects/my-project/datasets/ds/tables/t (2024-01-01T00:00:00Z)"),
			export.Options{Table: "my-project.ds.t"}, "check --snapshot-time", []string{"project", "--columns"}},
		{"bad dataset", status.Error(codes.InvalidArgument, `dataset ID "sa-mples": use letters, digits and underscores`),
			export.Options{Table: "my-project.sa-mples.t"}, "check TABLE", []string{"--columns"}},
		{"nothing known: the flags that were set", status.Error(codes.InvalidArgument, "Request contains an invalid argument."),
			export.Options{Table: "my-project.ds.t", Where: "a > 1"}, "check TABLE, --where", []string{"--columns", "--snapshot-time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sessionHint(fmt.Errorf("create read session for %s: %w", tt.opts.Table, tt.err), tt.opts).Error()
			hint := got[strings.LastIndex(got, ": ")+2:]
			if !strings.HasPrefix(hint, tt.want) {
				t.Errorf("hint %q, want %q (error %q)", hint, tt.want, got)
			}
			for _, not := range tt.wantNone {
				if strings.Contains(hint, not) {
					t.Errorf("hint %q names %s", hint, not)
				}
			}
		})
	}
}

// TestHintsEndToEnd checks the hints that export and schema print for bad input the emulator
// refuses.
func TestHintsEndToEnd(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	out := filepath.Join(t.TempDir(), "x.ndjson")
	tests := []struct {
		name     string
		args     []string
		want     []string
		wantNone []string
	}{
		{"invalid project id", []string{"export", "ab.samples.all_types", "-o", out},
			[]string{`project ID "ab"`, "check the project in TABLE"}, []string{"--columns", "--where"}},
		{"unknown column", []string{"export", testTable, "-o", out, "--columns", "nope"},
			[]string{"nope", "check --columns"}, []string{"--where", "--snapshot-time"}},
		{"bad where", []string{"export", testTable, "-o", out, "--where", "nope > 1"},
			[]string{"row_restriction", "check --where"}, []string{"--columns", "--snapshot-time"}},
		{"schema: invalid project id", []string{"schema", "ab.samples.all_types"},
			[]string{`project ID "ab"`, "check the project in TABLE"}, []string{"--columns", "--where"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(tt.args, "--endpoint", inst.GRPCAddr())
			if code := run(t.Context(), args, nil, &stdout, &stderr); code != exitUsage {
				t.Errorf("bqread %v: exit %d, want %d", args, code, exitUsage)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q does not say %q", stderr.String(), want)
				}
			}
			for _, not := range tt.wantNone {
				if strings.Contains(stderr.String(), not) {
					t.Errorf("stderr %q names %s", stderr.String(), not)
				}
			}
		})
	}
}
