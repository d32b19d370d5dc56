package encode_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/encode"
)

// TestProject: Project picks columns and STRUCT fields by name, in target's order, and serves a
// TIMESTAMP(12) text as timestamp[ns] (truncated toward the past) inside a LIST of STRUCTs, with
// the rest of the values unchanged and no memory left.
func TestProject(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ev := arrow.StructOf(
		arrow.Field{Name: "at", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	)
	src := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "evs", Type: arrow.ListOf(ev)},
	}, nil)
	rows := `[{"id": 1, "s": "a", "evs": [{"at": "1969-12-31T23:59:59.999999999999Z", "n": 7}, {"at": null, "n": 8}]},
		{"id": 2, "s": null, "evs": []}]`
	rec, _, err := array.RecordFromJSON(mem, src, strings.NewReader(rows))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()

	nanos := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	target := arrow.NewSchema([]arrow.Field{
		{Name: "evs", Type: arrow.ListOf(arrow.StructOf(arrow.Field{Name: "at", Type: nanos, Nullable: true}))},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	got, err := encode.Project(rec, target, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if !got.Schema().Equal(target) {
		t.Fatalf("schema %s, want %s", got.Schema(), target)
	}
	js, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var gotRows []map[string]any
	if err := json.Unmarshal(js, &gotRows); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"id": float64(1), "evs": []any{map[string]any{"at": "1969-12-31T23:59:59.999999999Z"}, map[string]any{"at": nil}}},
		{"id": float64(2), "evs": []any{}},
	}
	if diff := cmp.Diff(want, gotRows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	for _, bad := range []*arrow.Schema{
		arrow.NewSchema([]arrow.Field{{Name: "nope", Type: arrow.PrimitiveTypes.Int64}}, nil),
		arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.PrimitiveTypes.Int64}}, nil),
		arrow.NewSchema([]arrow.Field{{Name: "evs", Type: arrow.ListOf(arrow.StructOf(arrow.Field{Name: "x", Type: nanos}))}}, nil),
	} {
		if r, err := encode.Project(rec, bad, mem); !errors.Is(err, encode.ErrSchemaMismatch) {
			if r != nil {
				r.Release()
			}
			t.Errorf("Project onto %s: error %v, want ErrSchemaMismatch", bad, err)
		}
	}
}
