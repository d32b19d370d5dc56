package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/schema"
)

// sampleSchema returns the schema.json the emulator serves for a sample table, as the Storage Read
// API gives it: without descriptions, which a read session does not carry.
func sampleSchema(t *testing.T, table string) schema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "emulator", "samples", "bqread-demo", "samples", table, "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var strip func([]*schema.Field)
	strip = func(fields []*schema.Field) {
		for _, f := range fields {
			f.Description = ""
			strip(f.Fields)
		}
	}
	strip(s)
	return s
}

// schemaCmd runs bqread schema and returns its exit code, stdout and stderr.
func schemaCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append([]string{"schema"}, args...), nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestSchemaSamples prints the schema of each sample table in every form, and compares it with the
// schema.json the emulator serves, mapped as export maps it.
func TestSchemaSamples(t *testing.T) {
	for _, table := range []string{"all_types", "trips", "empty"} {
		t.Run(table, func(t *testing.T) {
			want := sampleSchema(t, table)
			ref := "bqread-demo.samples." + table

			code, stdout, stderr := schemaCmd(t, ref, "--emulator")
			if code != exitOK {
				t.Fatalf("bqread schema %s: exit %d\n%s", ref, code, stderr)
			}
			var got schema.Schema
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("bq form is not a JSON schema: %v\n%s", err, stdout)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("bq form (-schema.json +printed):\n%s", diff)
			}
			if _, err := schema.Parse([]byte(stdout)); err != nil {
				t.Errorf("bq form does not parse back as a schema.json: %v", err)
			}

			if got, want := mustSchema(t, ref, "--format", "arrow"), schema.ArrowSchema(want).String()+"\n"; got != want {
				t.Errorf("arrow form:\n%s\nwant\n%s", got, want)
			}

			var gotAvro, wantAvro any
			if err := json.Unmarshal([]byte(mustSchema(t, ref, "--format", "avro")), &gotAvro); err != nil {
				t.Fatalf("avro form: %v", err)
			}
			if err := json.Unmarshal([]byte(schema.AvroSchema(want)), &wantAvro); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantAvro, gotAvro); diff != "" {
				t.Errorf("avro form (-want +got):\n%s", diff)
			}

			pq := mustSchema(t, ref, "--format", "parquet")
			for _, f := range want {
				if !strings.Contains(pq, " "+f.Name+" ") && !strings.Contains(pq, " "+f.Name+";") {
					t.Errorf("parquet form has no column %s:\n%s", f.Name, pq)
				}
			}
		})
	}
}

// TestSchemaParquetIsTheWritersMapping checks that the Parquet form is what export writes, with
// its own mappings (INTERVAL as a string), not arrow-go's default.
func TestSchemaParquetIsTheWritersMapping(t *testing.T) {
	pq := mustSchema(t, "bqread-demo.samples.all_types", "--format", "parquet")
	for _, want := range []string{
		"required int64 field_id=-1 id (Int(bitWidth=64, isSigned=true));",
		"optional byte_array field_id=-1 iv (String);",
		"optional fixed_len_byte_array field_id=-1 bn (Decimal(precision=76, scale=38));",
	} {
		if !strings.Contains(pq, want) {
			t.Errorf("parquet form has no line %q:\n%s", want, pq)
		}
	}
}

func mustSchema(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := schemaCmd(t, append(args, "--emulator")...)
	if code != exitOK {
		t.Fatalf("bqread schema %v: exit %d\n%s", args, code, stderr)
	}
	return stdout
}

// TestSchemaColumnsAndEndpoint checks --columns, and that BQREAD_ENDPOINT and --endpoint name the
// server as they do for export.
func TestSchemaColumnsAndEndpoint(t *testing.T) {
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: testData})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	want := `[
  {
    "name": "id",
    "type": "INT64",
    "mode": "REQUIRED"
  },
  {
    "name": "tags",
    "type": "STRING",
    "mode": "REPEATED"
  }
]
`
	t.Setenv("BQREAD_ENDPOINT", inst.GRPCAddr())
	for _, args := range [][]string{
		{testTable, "--columns", "tags,id"},
		{testTable, "--columns", "tags,id", "--endpoint", inst.GRPCAddr()},
	} {
		code, stdout, stderr := schemaCmd(t, args...)
		if code != exitOK {
			t.Fatalf("bqread schema %v: exit %d\n%s", args, code, stderr)
		}
		if diff := cmp.Diff(want, stdout); diff != "" {
			t.Errorf("bqread schema %v (-want +got):\n%s", args, diff)
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  []string
		wantNot  string
	}{
		{"unknown table", []string{"bqread-demo.samples.nope", "--emulator"}, exitUsage, []string{"Not found: Table bqread-demo:samples.nope", "check the project, dataset and table"}, "run with --emulator"},
		{"unknown column", []string{"bqread-demo.samples.trips", "--emulator", "--columns", "nope"}, exitUsage, []string{"nope", "--columns"}, ""},
		{"bad table reference", []string{"nope", "--emulator"}, exitUsage, []string{"use project.dataset.table"}, ""},
		{"bad format", []string{"bqread-demo.samples.trips", "--emulator", "--format", "xml"}, exitUsage, []string{"use bq, arrow, avro or parquet"}, ""},
		{"two servers", []string{"bqread-demo.samples.trips", "--emulator", "--endpoint", "127.0.0.1:1"}, exitUsage, []string{"use one"}, ""},
		{"nothing listens", []string{"bqread-demo.samples.trips", "--endpoint", closedPort(t)}, exitError, []string{"--endpoint"}, ""},
		{"no table", nil, exitUsage, []string{"bqread schema --help"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := schemaCmd(t, tt.args...)
			if code != tt.wantCode || stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, stdout, tt.wantCode)
			}
			if strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line:\n%s", stderr)
			}
			if tt.wantNot != "" && strings.Contains(stderr, tt.wantNot) {
				t.Errorf("stderr %q says %q", stderr, tt.wantNot)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not say %q", stderr, want)
				}
			}
		})
	}
}
