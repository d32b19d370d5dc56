package emulator

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

// TestRowRestriction runs filters through the server: they see every column, even unselected ones;
// estimated_row_count is the table's rows, as the rows a filter keeps are only known once read; and
// a filter that keeps nothing gives streams that hold no rows.
func TestRowRestriction(t *testing.T) {
	env := startEnv(t, Options{})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tests := []struct {
		filter  string
		fields  []string
		streams int32
		want    string // the first column, as arrow prints it
	}{
		{"id > 5", nil, 3, "[6 7]"},
		{"s = 'hello'", []string{"id"}, 1, "[1]"},
		{"id > 5", []string{"s"}, 2, `["plain" "7"]`},
		{"i IS NULL OR b = false", []string{"id"}, 4, "[2 3 5]"}, // id 7 has b NULL: not kept
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			sess := env.mustSession(t, sessionOpts{table: allTypesTable, filter: tt.filter, fields: tt.fields, maxStreams: tt.streams})
			rec := env.readAllArrow(t, sess, mem)
			defer rec.Release()
			if got := rec.Column(0).String(); got != tt.want {
				t.Errorf("rows = %s, want %s", got, tt.want)
			}
			if got := sess.GetEstimatedRowCount(); got != 7 {
				t.Errorf("estimated_row_count = %d, want the table's 7 rows", got)
			}
		})
	}
	none := env.mustSession(t, sessionOpts{table: allTypesTable, filter: "id < 0", maxStreams: 4})
	if n := len(none.GetStreams()); n != 1 {
		t.Errorf("filter keeping no rows: %d streams, want the one stream of the table's one block", n)
	}
	empty := env.readAllArrow(t, none, mem)
	defer empty.Release()
	if empty.NumRows() != 0 {
		t.Errorf("filter keeping no rows: read %d rows", empty.NumRows())
	}
	_, err := env.createSession(t.Context(), sessionOpts{table: allTypesTable, filter: "id >>> ((("})
	wantCode(t, err, codes.InvalidArgument, "row_restriction")
	_, err = env.createSession(t.Context(), sessionOpts{table: allTypesTable, filter: "no_such_column = 1"})
	wantCode(t, err, codes.InvalidArgument, "row_restriction")
}

// TestRowRestrictionScattered filters a synthetic table so that the kept rows are scattered, reads
// them in small responses and from an offset, and compares with the unfiltered rows filtered here.
func TestRowRestrictionScattered(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 2 << 10})
	table := genTable(t, env, "scattered", 3000)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	all := env.readAllArrow(t, env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id", "passenger_count"}}), mem)
	defer all.Release()
	ids, counts := all.Column(0).(*array.Int64), all.Column(1).(*array.Int64)
	var want []int64
	for i := range ids.Len() {
		if counts.IsValid(i) && counts.Value(i) == 2 {
			want = append(want, ids.Value(i))
		}
	}
	sess := env.mustSession(t, sessionOpts{table: table, fields: []string{"trip_id"}, filter: "passenger_count = 2", maxStreams: 3})
	got := env.readAllArrow(t, sess, mem)
	defer got.Release()
	if diff := cmp.Diff(want, got.Column(0).(*array.Int64).Int64Values()); diff != "" {
		t.Fatalf("filtered trip_ids (-want +got):\n%s", diff)
	}
	// Resume the first stream in the middle: the tail equals the straight read's tail.
	name, schemaMsg := sess.GetStreams()[0].GetName(), sess.GetArrowSchema().GetSerializedSchema()
	resps, err := env.readStream(t.Context(), name, 17)
	if err != nil {
		t.Fatal(err)
	}
	tail := concat(t, decodeArrow(t, schemaMsg, resps, mem), mem)
	defer tail.Release()
	if diff := cmp.Diff(want[17:17+tail.NumRows()], tail.Column(0).(*array.Int64).Int64Values()); diff != "" {
		t.Fatalf("resumed filtered rows (-want +got):\n%s", diff)
	}
}
