package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/schema"
)

func TestParseTable(t *testing.T) {
	want := TableRef{Project: "bqread-demo", Dataset: "samples", Table: "trips"}
	tests := []struct {
		in   string
		want TableRef
	}{
		{"bqread-demo.samples.trips", want},
		{"bqread-demo:samples.trips", want},
		{"projects/bqread-demo/datasets/samples/tables/trips", want},
		{"example.com:my-project.ds.t", TableRef{"example.com:my-project", "ds", "t"}},
		{"example.com:my-project:ds.t", TableRef{"example.com:my-project", "ds", "t"}},
		{"my-project.ds.table with space-1", TableRef{"my-project", "ds", "table with space-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTable(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseTable(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
	if got, want := want.Path(), "projects/bqread-demo/datasets/samples/tables/trips"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
}

func TestParseTableErrors(t *testing.T) {
	for _, in := range []string{
		"", "trips", "samples.trips", "Bad_Project.samples.trips", "bqread-demo.sam-ples.trips",
		"bqread-demo.samples.", "bqread-demo.samples.trips@123", "projects/p/datasets/d",
		"projects/bqread-demo/tables/samples/datasets/trips", "bqread-demo..trips",
	} {
		if _, err := ParseTable(in); !errors.Is(err, ErrTableRef) {
			t.Errorf("ParseTable(%q) = %v, want ErrTableRef", in, err)
		}
	}
}

func TestRequestProto(t *testing.T) {
	snap := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	r := Request{
		Table:          TableRef{"p-roject", "d", "t"},
		BillingProject: "billing-1",
		Columns:        []string{"a", "s.b"},
		Where:          "a > 5",
		SnapshotTime:   snap,
		Compression:    "zstd",
		MaxStreams:     7,
	}
	got, err := r.Proto()
	if err != nil {
		t.Fatal(err)
	}
	want := &storagepb.CreateReadSessionRequest{
		Parent:         "projects/billing-1",
		MaxStreamCount: 7,
		ReadSession: &storagepb.ReadSession{
			Table:          "projects/p-roject/datasets/d/tables/t",
			DataFormat:     storagepb.DataFormat_ARROW,
			TraceId:        "bqread",
			TableModifiers: &storagepb.ReadSession_TableModifiers{SnapshotTime: timestamppb.New(snap)},
			ReadOptions: &storagepb.ReadSession_TableReadOptions{
				SelectedFields: []string{"a", "s.b"},
				RowRestriction: "a > 5",
				OutputFormatSerializationOptions: &storagepb.ReadSession_TableReadOptions_ArrowSerializationOptions{
					ArrowSerializationOptions: &storagepb.ArrowSerializationOptions{BufferCompression: storagepb.ArrowSerializationOptions_ZSTD},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Proto() mismatch (-want +got):\n%s", diff)
	}

	r = Request{Table: TableRef{"p-roject", "d", "t"}, DataFormat: "avro"}
	got, err = r.Proto()
	if err != nil {
		t.Fatal(err)
	}
	if got.Parent != "projects/p-roject" || got.ReadSession.DataFormat != storagepb.DataFormat_AVRO {
		t.Errorf("avro request: parent %q, format %v", got.Parent, got.ReadSession.DataFormat)
	}
}

func TestRequestProtoErrors(t *testing.T) {
	table := TableRef{"p-roject", "d", "t"}
	for name, r := range map[string]Request{
		"format":        {Table: table, DataFormat: "csv"},
		"compression":   {Table: table, Compression: "gzip"},
		"avro with lz4": {Table: table, DataFormat: "avro", Compression: "lz4"},
		"streams":       {Table: table, MaxStreams: 1001},
	} {
		if _, err := r.Proto(); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: Proto() = %v, want ErrRequest", name, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for ep, want := range map[string]bool{
		"127.0.0.1:9060": true, "localhost:1": true, "[::1]:9060": true,
		"10.0.0.1:443": false, "bigquerystorage.googleapis.com:443": false,
	} {
		if got, err := IsLoopback(ep); err != nil || got != want {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v", ep, got, err, want)
		}
	}
	if _, err := IsLoopback("no-port"); err == nil {
		t.Error("IsLoopback(no-port) = nil error")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	s := schema.Schema{
		{Name: "id", Type: schema.Int64, Mode: schema.Required},
		{Name: "tags", Type: schema.String, Mode: schema.Repeated},
	}
	rs := &storagepb.ReadSession{
		Name:              "projects/p/locations/us/sessions/s1",
		DataFormat:        storagepb.DataFormat_AVRO,
		Schema:            &storagepb.ReadSession_AvroSchema{AvroSchema: &storagepb.AvroSchema{Schema: schema.AvroSchema(s)}},
		Streams:           []*storagepb.ReadStream{{Name: "s1/streams/0"}, {Name: "s1/streams/1"}},
		EstimatedRowCount: 42,
	}
	r := Request{Table: TableRef{"p-roject", "d", "t"}, DataFormat: FormatAvro, Where: "id > 1"}
	m, err := NewManifest(rs, r, "127.0.0.1:1", Output{Format: "ndjson", SegmentRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, m.Schema); diff != "" {
		t.Errorf("manifest schema mismatch (-want +got):\n%s", diff)
	}
	ctx := context.Background()
	st, err := store.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadManifest(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("manifest round trip mismatch (-want +got):\n%s", diff)
	}
}

// TestGcloudProject reads core/project of gcloud's active configuration.
func TestGcloudProject(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CLOUDSDK_CONFIG", dir)
	if got := gcloudProject(); got != "" {
		t.Errorf("no configuration: %q, want none", got)
	}
	os.MkdirAll(filepath.Join(dir, "configurations"), 0o755)
	os.WriteFile(filepath.Join(dir, "active_config"), []byte("work\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "configurations", "config_work"), []byte("[compute]\nproject = no\n[core]\naccount = a@b.c\nproject = my-project\n"), 0o644)
	if got := gcloudProject(); got != "my-project" {
		t.Errorf("gcloudProject = %q, want my-project", got)
	}
}

// TestTraceID checks the trace_id a request sends: the one given, else bqread's.
func TestTraceID(t *testing.T) {
	r := Request{Table: TableRef{Project: "bqread-test", Dataset: "d", Table: "t"}}
	for given, want := range map[string]string{"": "bqread", "bqread/v1.2.3": "bqread/v1.2.3"} {
		r.TraceID = given
		p, err := r.Proto()
		if err != nil || p.GetReadSession().GetTraceId() != want {
			t.Errorf("TraceID %q: trace_id %q, %v; want %q", given, p.GetReadSession().GetTraceId(), err, want)
		}
	}
}
