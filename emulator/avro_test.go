package emulator

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"
)

// TestReadAllTypesAvro reads all_types as Avro and decodes it with goavro, independently of bqread,
// comparing every row of the scalar columns with the loaded table, and nested values with literals.
func TestReadAllTypesAvro(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 1 << 10})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, want := loadAllTypes(t, mem)
	defer want.Release()
	for _, streams := range []int32{1, 4} {
		t.Run(fmt.Sprint(streams, "streams"), func(t *testing.T) {
			sess := env.mustSession(t, sessionOpts{table: allTypesTable, format: storagepb.DataFormat_AVRO, maxStreams: streams})
			codec, err := goavro.NewCodec(sess.GetAvroSchema().GetSchema())
			if err != nil {
				t.Fatalf("goavro rejects the session's schema: %v", err)
			}
			var rows []map[string]any
			for _, st := range sess.GetStreams() {
				resps, err := env.readStream(t.Context(), st.GetName(), 0)
				if err != nil {
					t.Fatal(err)
				}
				checkResponses(t, resps)
				for _, r := range resps {
					got := decodeAvroRows(t, codec, r.GetAvroRows().GetSerializedBinaryRows())
					if int64(len(got)) != r.GetRowCount() {
						t.Fatalf("response decodes to %d rows, row_count says %d", len(got), r.GetRowCount())
					}
					rows = append(rows, got...)
				}
			}
			if len(rows) != int(want.NumRows()) {
				t.Fatalf("rows = %d, want %d", len(rows), want.NumRows())
			}
			for i, row := range rows {
				compareAvroRow(t, i, row, want)
			}
			checkAvroLiterals(t, rows)
		})
	}
}

func decodeAvroRows(t *testing.T, codec *goavro.Codec, buf []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for len(buf) > 0 {
		native, rest, err := codec.NativeFromBinary(buf)
		if err != nil {
			t.Fatalf("row %d: %v", len(out), err)
		}
		out = append(out, native.(map[string]any))
		buf = rest
	}
	return out
}

// unwrap returns the value inside a ["null", T] union as goavro decodes it.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, x := range m {
			return x
		}
	}
	return v
}

// avroExpected converts row i of a scalar Arrow column to goavro's native form.
func avroExpected(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return a.Value(i)
	case *array.Decimal128:
		return new(big.Rat).SetFrac(a.Value(i).BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(9), nil))
	case *array.Decimal256:
		return new(big.Rat).SetFrac(a.Value(i).BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil))
	case *array.Date32:
		return time.UnixMilli(0).UTC().AddDate(0, 0, int(a.Value(i)))
	case *array.Time64:
		return time.Duration(a.Value(i)) * time.Microsecond
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC()
	}
	panic(fmt.Sprintf("no Avro expectation for %T", arr))
}

func compareAvroRow(t *testing.T, i int, row map[string]any, want arrow.Record) {
	t.Helper()
	for _, col := range []string{"id", "b", "i", "f", "n", "bn", "s", "by", "d", "t", "ts", "g", "j"} {
		exp := avroExpected(want.Column(want.Schema().FieldIndices(col)[0]), i)
		got := unwrap(row[col])
		if !avroEqual(got, exp) {
			t.Errorf("row %d column %s = %#v, want %#v", i, col, got, exp)
		}
	}
}

func avroEqual(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && (g == w && math.Signbit(g) == math.Signbit(w) || math.IsNaN(g) && math.IsNaN(w))
	case *big.Rat:
		g, ok := got.(*big.Rat)
		return ok && g.Cmp(w) == 0
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w)
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	}
	return got == want
}

func checkAvroLiterals(t *testing.T, rows []map[string]any) {
	t.Helper()
	checks := []struct {
		row  int
		col  string
		want string
	}{
		{0, "dt", "2024-02-29T23:59:59.999999"},
		{0, "ai", "[1 2 3]"},
		{1, "ai", "[]"},
		{0, "rd", "map[end:map[int.date:2024-02-01 00:00:00 +0000 UTC] start:map[int.date:2024-01-01 00:00:00 +0000 UTC]]"},
		{6, "ast", "[]"},
	}
	// INTERVAL comes as its canonical string; compare the parsed value, not the digits of the fraction.
	ivText, _ := unwrap(rows[5]["iv"]).(string)
	iv, err := parseInterval(ivText)
	if want := (interval{months: -14, days: -3, nanos: -((4*3600+5*60+6)*1e9 + 1000)}); err != nil || iv != want {
		t.Errorf("row 5 iv = %q (%+v, %v), want -1-2 -3 -4:05:06.000001", ivText, iv, err)
	}
	for _, c := range checks {
		if got := fmt.Sprint(unwrap(rows[c.row][c.col])); got != c.want {
			t.Errorf("row %d %s = %s, want %s", c.row, c.col, got, c.want)
		}
	}
}
