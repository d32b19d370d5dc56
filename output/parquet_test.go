package output

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/internal/jsread"
	"github.com/bqread/bqread/schema"
)

// checkedMem returns an allocator that fails the test if anything allocated from it is still
// held when the test's other cleanups have run.
func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

const allTypesDir = "../emulator/samples/bqread-demo/samples/all_types"

func allTypesSchema(t testing.TB) schema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(allTypesDir, "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// corpus returns the fixture corpus (every type, nulls, extremes, nesting), loaded by the
// emulator's loader, released at the end of the test.
func corpus(t testing.TB, mem memory.Allocator) arrow.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(allTypesDir, "data.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := emulator.LoadNDJSON(allTypesSchema(t), f, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Release)
	return rec
}

// cut returns rec's rows split at the given offsets, released at the end of the test.
func cut(t testing.TB, rec arrow.Record, at ...int64) []arrow.Record {
	var out []arrow.Record
	start := int64(0)
	for _, end := range append(at, rec.NumRows()) {
		s := rec.NewSlice(start, end)
		t.Cleanup(s.Release)
		out = append(out, s)
		start = end
	}
	return out
}

// repeat returns n copies of rec's rows as one record, released at the end of the test.
func repeat(t testing.TB, rec arrow.Record, n int, mem memory.Allocator) arrow.Record {
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		parts := make([]arrow.Array, n)
		for j := range parts {
			parts[j] = c
		}
		var err error
		if cols[i], err = array.Concatenate(parts, mem); err != nil {
			t.Fatal(err)
		}
		defer cols[i].Release()
	}
	out := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()*int64(n))
	t.Cleanup(out.Release)
	return out
}

func writeParquet(t testing.TB, recs []arrow.Record, o Options, mem memory.Allocator, maxBytes int64) []byte {
	return writeWith(t, recs, func(w io.Writer) (Writer, error) { return newParquetWriter(w, recs[0].Schema(), o, mem, maxBytes) })
}

// readParquet reads a Parquet file with arrow-go's file and pqarrow readers and returns its Arrow
// schema, its columns (one array each, released at the end of the test) and its footer.
func readParquet(t testing.TB, data []byte, mem memory.Allocator) (*arrow.Schema, []arrow.Array, *metadata.FileMetaData) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data), file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		chunks := tbl.Column(i).Data().Chunks()
		if len(chunks) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, tbl.Column(i).DataType(), 0)
		} else if cols[i], err = array.Concatenate(chunks, mem); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cols[i].Release)
	}
	return tbl.Schema(), cols, rdr.MetaData()
}

// parquetWant is what reading rec back from Parquet gives: rec with INTERVAL columns as strings.
func parquetWant(t testing.TB, rec arrow.Record, mem memory.Allocator) arrow.Record {
	t.Helper()
	bq, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	plan, s := planColumns(rec.Schema(), bq)
	want, err := convertRecord(rec, s, plan, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(want.Release)
	return want
}

// sameValues fails the test unless cols hold want's values (NaN equal to NaN).
func sameValues(t testing.TB, want arrow.Record, cols []arrow.Array) {
	t.Helper()
	if got, wantN := len(cols), int(want.NumCols()); got != wantN {
		t.Fatalf("columns = %d, want %d", got, wantN)
	}
	for i, c := range want.Columns() {
		if !array.ApproxEqual(c, cols[i], array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
			t.Errorf("column %q:\n got %v\nwant %v", want.ColumnName(i), cols[i], c)
		}
	}
}

// fieldMetadata collects the metadata of every field, nested ones by dotted path, without the
// PARQUET:field_id key that pqarrow adds on read.
func fieldMetadata(fields []arrow.Field, prefix string, out map[string]map[string]string) map[string]map[string]string {
	for _, f := range fields {
		md := map[string]string{}
		for i, k := range f.Metadata.Keys() {
			if k != "PARQUET:field_id" {
				md[k] = f.Metadata.Values()[i]
			}
		}
		path := prefix + f.Name
		if len(md) > 0 {
			out[path] = md
		}
		switch t := f.Type.(type) {
		case *arrow.StructType:
			fieldMetadata(t.Fields(), path+".", out)
		case *arrow.ListType:
			elem := t.ElemField()
			elem.Name = "[]" // pqarrow names list elements "element", the Storage API "item"
			fieldMetadata([]arrow.Field{elem}, path+".", out)
		}
	}
	return out
}

func TestParquetRoundTrip(t *testing.T) {
	for _, compression := range []string{"", "snappy", "zstd", "gzip", "none"} {
		for _, rowGroups := range []struct {
			name     string
			cuts     []int64
			maxBytes int64
		}{
			{"one write", nil, parquetRowGroupBytes},
			{"row group per write", []int64{1, 2, 3}, 1},
		} {
			t.Run(orDefault(compression)+"/"+rowGroups.name, func(t *testing.T) {
				mem := checkedMem(t)
				rec := corpus(t, mem)
				data := writeParquet(t, cut(t, rec, rowGroups.cuts...), Options{Compression: compression}, mem, rowGroups.maxBytes)
				s, cols, md := readParquet(t, data, mem)
				sameValues(t, parquetWant(t, rec, mem), cols)
				if got, want := md.NumRowGroups(), len(rowGroups.cuts)+1; got != want {
					t.Errorf("row groups = %d, want %d", got, want)
				}
				if got, want := md.NumRows, rec.NumRows(); got != want {
					t.Errorf("rows = %d, want %d", got, want)
				}
				if diff := cmp.Diff(fieldMetadata(rec.Schema().Fields(), "", map[string]map[string]string{}),
					fieldMetadata(s.Fields(), "", map[string]map[string]string{})); diff != "" {
					t.Errorf("field metadata (-wrote +read):\n%s", diff)
				}
				checkCodec(t, md, compression)
			})
		}
	}
}

func checkCodec(t *testing.T, md *metadata.FileMetaData, compression string) {
	t.Helper()
	want, err := parquetCodec(compression)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < md.NumRowGroups(); r++ {
		for c := 0; c < md.NumColumns(); c++ {
			cc, err := md.RowGroup(r).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != want {
				t.Fatalf("row group %d column %d codec = %v, want %v", r, c, cc.Compression(), want)
			}
		}
	}
}

// TestParquetBigQueryTypes checks that the Arrow schema read back maps to the table's BigQuery
// schema, INTERVAL aside (it is stored as its canonical string).
func TestParquetBigQueryTypes(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	s, _, _ := readParquet(t, writeParquet(t, []arrow.Record{rec}, Options{}, mem, parquetRowGroupBytes), mem)
	got, err := schema.FromArrow(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range want {
		if f.Type == schema.Interval {
			f.Type = schema.String
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BigQuery schema read back (-want +got):\n%s", diff)
	}
}

// TestParquetColumnTypes checks the physical and logical type of every leaf column.
func TestParquetColumnTypes(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	_, _, md := readParquet(t, writeParquet(t, []arrow.Record{rec}, Options{}, mem, parquetRowGroupBytes), mem)
	type leaf struct {
		Physical   string
		Logical    string
		Length     int
		Repetition string
	}
	var (
		date   = leaf{"INT32", "Date", 0, "OPTIONAL"}
		tsNTZ  = leaf{"INT64", "Timestamp(isAdjustedToUTC=false, timeUnit=microseconds, is_from_converted_type=false, force_set_converted_type=false)", 0, "OPTIONAL"}
		tsUTC  = leaf{"INT64", "Timestamp(isAdjustedToUTC=true, timeUnit=microseconds, is_from_converted_type=false, force_set_converted_type=false)", 0, "OPTIONAL"}
		str    = leaf{"BYTE_ARRAY", "String", 0, "OPTIONAL"}
		i64    = leaf{"INT64", "Int(bitWidth=64, isSigned=true)", 0, "OPTIONAL"}
		numLog = "Decimal(precision=38, scale=9)"
	)
	want := map[string]leaf{
		"id":                              {"INT64", "Int(bitWidth=64, isSigned=true)", 0, "REQUIRED"},
		"b":                               {"BOOLEAN", "None", 0, "OPTIONAL"},
		"i":                               i64,
		"f":                               {"DOUBLE", "None", 0, "OPTIONAL"},
		"n":                               {"FIXED_LEN_BYTE_ARRAY", numLog, 16, "OPTIONAL"},
		"bn":                              {"FIXED_LEN_BYTE_ARRAY", "Decimal(precision=76, scale=38)", 32, "OPTIONAL"},
		"s":                               str,
		"by":                              {"BYTE_ARRAY", "None", 0, "OPTIONAL"},
		"d":                               date,
		"t":                               {"INT64", "Time(isAdjustedToUTC=false, timeUnit=microseconds)", 0, "OPTIONAL"},
		"dt":                              tsNTZ,
		"ts":                              tsUTC,
		"g":                               str,
		"j":                               str,
		"iv":                              str,
		"rd.start":                        date,
		"rd.end":                          date,
		"rdt.start":                       tsNTZ,
		"rdt.end":                         tsNTZ,
		"rts.start":                       tsUTC,
		"rts.end":                         tsUTC,
		"ai.list.element":                 {"INT64", "Int(bitWidth=64, isSigned=true)", 0, "REQUIRED"},
		"as.list.element":                 {"BYTE_ARRAY", "String", 0, "REQUIRED"},
		"st.a":                            i64,
		"st.b":                            str,
		"st.arr.list.element.x":           {"DOUBLE", "None", 0, "OPTIONAL"},
		"st.arr.list.element.ts":          tsUTC,
		"st.arr.list.element.inner.y":     {"FIXED_LEN_BYTE_ARRAY", numLog, 16, "OPTIONAL"},
		"st.arr.list.element.inner.z":     date,
		"ast.list.element.k":              {"BYTE_ARRAY", "String", 0, "REQUIRED"},
		"ast.list.element.v.list.element": {"INT64", "Int(bitWidth=64, isSigned=true)", 0, "REQUIRED"},
	}
	got := map[string]leaf{}
	for i := 0; i < md.Schema.NumColumns(); i++ {
		c := md.Schema.Column(i)
		got[c.Path()] = leaf{c.PhysicalType().String(), c.LogicalType().String(), c.TypeLength(), strings.ToUpper(c.SchemaNode().RepetitionType().String())}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parquet columns (-want +got):\n%s", diff)
	}
	// Lists are 3-level LIST groups; structs and ranges are plain groups.
	for _, name := range []string{"ai", "as", "ast", "st"} {
		n := md.Schema.Root().Field(md.Schema.Root().FieldIndexByName(name))
		wantList := name != "st"
		if got := n.LogicalType().Equals(pqschema.NewListLogicalType()); got != wantList {
			t.Errorf("%s: LIST logical type = %v, want %v", name, got, wantList)
		}
	}
}

// TestParquetNestedInterval writes INTERVAL values inside a list inside a struct, which the
// conversion rebuilds around the converted leaf.
func TestParquetNestedInterval(t *testing.T) {
	mem := checkedMem(t)
	s := schema.ArrowSchema(schema.Schema{
		{Name: "id", Type: schema.Int64},
		{Name: "st", Type: schema.Struct, Fields: []*schema.Field{
			{Name: "ivs", Type: schema.Interval, Mode: schema.Repeated},
			{Name: "s", Type: schema.String},
		}},
	})
	rec, _, err := array.RecordFromJSON(mem, s, bytes.NewReader([]byte(`[
		{"id": 1, "st": {"ivs": [{"months": 13, "days": 1, "nanoseconds": 1000}, {"months": 0, "days": 0, "nanoseconds": 0}], "s": "a"}},
		{"id": 2, "st": null},
		{"id": 3, "st": {"ivs": [], "s": null}}]`)))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	stType := arrow.StructOf(
		arrow.Field{Name: "ivs", Type: arrow.ListOfField(arrow.Field{Name: "item", Type: arrow.BinaryTypes.String}), Metadata: s.Field(1).Type.(*arrow.StructType).Field(0).Metadata},
		arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true})
	want, _, err := array.FromJSON(mem, stType, bytes.NewReader([]byte(`[
		{"ivs": ["1-1 1 0:00:00.000001", "0-0 0 0:00:00"], "s": "a"}, null, {"ivs": [], "s": null}]`)))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	for _, recs := range [][]arrow.Record{{rec}, cut(t, rec, 1)} {
		_, cols, _ := readParquet(t, writeParquet(t, recs, Options{}, mem, 1), mem)
		if !array.ApproxEqual(want, cols[1]) {
			t.Errorf("st = %v %v, want %v %v", cols[1].DataType(), cols[1], want.DataType(), want)
		}
	}
}

func TestParquetWriterErrors(t *testing.T) {
	s := schema.ArrowSchema(schema.Schema{{Name: "a", Type: schema.Int64}})
	if _, err := NewWriter(&bytes.Buffer{}, Parquet, s, Options{Compression: "lzo"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("compression lzo: err = %v, want ErrUnsupported", err)
	}
	w, err := NewWriter(&bytes.Buffer{}, Parquet, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema.ArrowSchema(schema.Schema{{Name: "b", Type: schema.Int64}}), strings.NewReader(`[{"b": 1}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	if err := w.Write(other); err == nil {
		t.Error("record of another schema: no error")
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "u", Type: arrow.PrimitiveTypes.Uint8}}, nil)
	if _, err := NewWriter(&bytes.Buffer{}, Parquet, bad, Options{}); err == nil {
		t.Error("uint8 column: no error, want one (not a BigQuery type)")
	}
}

// TestParquetEmpty writes no rows: the file is valid and has the schema.
func TestParquetEmpty(t *testing.T) {
	mem := checkedMem(t)
	s := schema.ArrowSchema(allTypesSchema(t))
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Parquet, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, cols, md := readParquet(t, buf.Bytes(), mem)
	if md.NumRows != 0 || len(cols) != s.NumFields() || got.NumFields() != s.NumFields() {
		t.Errorf("rows = %d, columns = %d, fields = %d; want 0, %d, %d", md.NumRows, len(cols), got.NumFields(), s.NumFields(), s.NumFields())
	}
}

// parquetParts writes the corpus as three bodies: two row groups of zstd, one row group of snappy,
// and no rows at all.
func parquetParts(t testing.TB, rec arrow.Record, mem memory.Allocator) []body {
	recs := cut(t, rec, 0, 1, 2)
	return []body{
		writeParquetBody(t, recs[1:3], Options{Compression: "zstd"}, 1),
		writeParquetBody(t, recs[3:], Options{}, parquetRowGroupBytes),
		writeParquetBody(t, recs[:1], Options{}, parquetRowGroupBytes),
	}
}

// writeParquetBody writes recs as one Parquet body, row groups ending after maxBytes.
func writeParquetBody(t testing.TB, recs []arrow.Record, o Options, maxBytes int64) body {
	t.Helper()
	var buf bytes.Buffer
	w, err := newParquetBodySized(layoutOf(Parquet, recs[0], o), &buf, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return body{buf.Bytes(), meta}
}

// chunkBytes returns the bytes of every column chunk of a Parquet file, row group by row group.
func chunkBytes(t testing.TB, data []byte) [][]byte {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	md := rdr.MetaData()
	var out [][]byte
	for r := 0; r < md.NumRowGroups(); r++ {
		for c := 0; c < md.NumColumns(); c++ {
			cc, err := md.RowGroup(r).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			start := cc.DataPageOffset()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
				start = min(start, cc.DictionaryPageOffset())
			}
			out = append(out, data[start:start+cc.TotalCompressedSize()])
		}
	}
	return out
}

func TestParquetMerge(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	bodies := parquetParts(t, rec, mem)
	merged := join(t, layoutOf(Parquet, rec, Options{}), bodies)
	s, cols, md := readParquet(t, merged, mem)
	sameValues(t, parquetWant(t, rec, mem), cols)
	if got, want := md.NumRows, rec.NumRows(); got != want {
		t.Errorf("rows = %d, want %d", got, want)
	}
	if got, want := md.NumRowGroups(), 3; got != want {
		t.Errorf("row groups = %d, want %d", got, want)
	}
	_, _, whole := readParquet(t, writeParquet(t, []arrow.Record{rec}, Options{}, mem, parquetRowGroupBytes), mem)
	if got, want := s.String(), mustArrowSchema(t, whole).String(); got != want {
		t.Errorf("merged Arrow schema\n%s\nwant a whole file's\n%s", got, want)
	}
	// No re-encoding: the merged file's column chunks are the bodies' bytes, in order.
	var want []byte
	for _, b := range bodies {
		want = append(want, b.data...)
	}
	if got := bytes.Join(chunkBytes(t, merged), nil); !bytes.Equal(got, want) {
		t.Errorf("merged column chunks (%d bytes) differ from the bodies' (%d bytes)", len(got), len(want))
	}
}

func mustArrowSchema(t testing.TB, md *metadata.FileMetaData) *arrow.Schema {
	t.Helper()
	s, err := pqarrow.FromParquet(md.Schema, nil, md.KeyValueMetadata())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestParquetMergeOne checks that a file of one body is the magic, the body and a footer.
func TestParquetMergeOne(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	b := parquetParts(t, rec, mem)[0]
	merged := join(t, layoutOf(Parquet, rec, Options{}), []body{b})
	if !bytes.Equal(bytes.Join(chunkBytes(t, merged), nil), b.data) {
		t.Error("merged column chunks differ from the body")
	}
	if !bytes.Equal(merged[4:4+len(b.data)], b.data) {
		t.Error("the body does not follow the magic")
	}
}

// TestParquetMergeErrors: a footer is made only of bodies whose metadata is a Parquet footer whose
// chunks lie within the body, all of one schema.
func TestParquetMergeErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	good := writeParquetBody(t, []arrow.Record{rec}, Options{}, parquetRowGroupBytes)
	other := writeParquetBody(t, []arrow.Record{flatRecord(t, rec)}, Options{}, parquetRowGroupBytes)
	for _, tc := range []struct {
		name   string
		bodies []body
	}{
		{"metadata not a footer", []body{good, {good.data, []byte("not thrift")}}},
		{"body shorter than its chunks", []body{{good.data[:len(good.data)-1], good.meta}}},
		{"other schema", []body{good, other}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Merge(&bytes.Buffer{}, layoutOf(Parquet, rec, Options{}), asParts(tc.bodies)); err == nil {
				t.Error("no error")
			}
		})
	}
}

func writeParquetSchema(t testing.TB, s schema.Schema) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Parquet, schema.ArrowSchema(s), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jsValue is value i of arr as the JavaScript readers of testdata/js print it: 64-bit integers,
// times and timestamps as decimal strings, dates as days, bytes as base64, non-finite floats as
// strings, decimals as (approximate) numbers.
func jsValue(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float64:
		v := a.Value(i)
		switch {
		case math.IsNaN(v):
			return "NaN"
		case math.IsInf(v, 1):
			return "Infinity"
		case math.IsInf(v, -1):
			return "-Infinity"
		}
		return v
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return base64.StdEncoding.EncodeToString(a.Value(i))
	case *array.Date32:
		return float64(a.Value(i))
	case *array.Time64:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Timestamp:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Decimal128:
		f, _ := strconv.ParseFloat(a.ValueStr(i), 64)
		return f
	case *array.Decimal256:
		f, _ := strconv.ParseFloat(a.ValueStr(i), 64)
		return f
	case *array.Struct:
		m := map[string]any{}
		st := a.DataType().(*arrow.StructType)
		for f := 0; f < a.NumField(); f++ {
			m[st.Field(f).Name] = jsValue(a.Field(f), i)
		}
		return m
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := []any{}
		for j := start; j < end; j++ {
			out = append(out, jsValue(a.ListValues(), int(j)))
		}
		return out
	}
	return fmt.Sprintf("unexpected %s", arr.DataType())
}

func jsRows(rec arrow.Record) []map[string]any {
	rows := make([]map[string]any, rec.NumRows())
	for r := range rows {
		rows[r] = map[string]any{}
		for c, col := range rec.Columns() {
			rows[r][rec.ColumnName(c)] = jsValue(col, r)
		}
	}
	return rows
}

// TestParquetHyparquet reads a merged file with hyparquet, a Parquet implementation independent of
// arrow-go: its own footer and page decoding must see the schema and the rows, in footer order
// (the parts were copied last first).
func TestParquetHyparquet(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	merged := mergeReversed(t, layoutOf(Parquet, rec, Options{}), parquetParts(t, rec, mem))
	path := filepath.Join(t.TempDir(), "merged.parquet")
	if err := os.WriteFile(path, merged, 0o644); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Schema []struct {
			Name, Type     string
			TypeLength     int            `json:"type_length"`
			RepetitionType string         `json:"repetition_type"`
			LogicalType    map[string]any `json:"logical_type"`
		}
		NumRows int64 `json:"num_rows"`
		Rows    []map[string]any
	}
	jsread.Run(t, "readparquet.mjs", &got, path)
	if got.NumRows != rec.NumRows() {
		t.Errorf("num_rows = %d, want %d", got.NumRows, rec.NumRows())
	}
	logical := map[string]map[string]any{}
	for _, e := range got.Schema {
		if e.LogicalType != nil {
			logical[e.Name] = e.LogicalType
		}
	}
	for name, want := range map[string]map[string]any{
		"n":  {"type": "DECIMAL", "precision": 38.0, "scale": 9.0},
		"bn": {"type": "DECIMAL", "precision": 76.0, "scale": 38.0},
		"d":  {"type": "DATE"},
		"t":  {"type": "TIME", "isAdjustedToUTC": false, "unit": "MICROS"},
		"dt": {"type": "TIMESTAMP", "isAdjustedToUTC": false, "unit": "MICROS"},
		"ts": {"type": "TIMESTAMP", "isAdjustedToUTC": true, "unit": "MICROS"},
		"j":  {"type": "STRING"},
		"iv": {"type": "STRING"},
		"ai": {"type": "LIST"},
	} {
		if diff := cmp.Diff(want, logical[name]); diff != "" {
			t.Errorf("column %s logical type (-want +got):\n%s", name, diff)
		}
	}
	approx := cmp.Comparer(func(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b)) })
	if diff := cmp.Diff(jsRows(parquetWant(t, rec, mem)), got.Rows, approx); diff != "" {
		t.Errorf("rows read by hyparquet (-want +got):\n%s", diff)
	}
}

func TestParquetMergeOSFiles(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	l := layoutOf(Parquet, rec, Options{})
	bodies := parquetParts(t, rec, mem)
	if !bytes.Equal(mergeFiles(t, l, bodies), join(t, l, bodies)) {
		t.Error("merging files gives other bytes than merging in memory")
	}
}

// TestParquetDictionaryChoice: columns whose first values are nearly all distinct are written
// without a dictionary, the others with one, and every value reads back either way.
func TestParquetDictionaryChoice(t *testing.T) {
	mem := checkedMem(t)
	s := schema.ArrowSchema(schema.Schema{
		{Name: "id", Type: schema.Int64},                           // unique: plain
		{Name: "ts", Type: schema.Timestamp},                       // unique: plain
		{Name: "point", Type: schema.Geography},                    // unique strings: plain
		{Name: "zone", Type: schema.String},                        // 10 values: dictionary
		{Name: "fare", Type: schema.Numeric},                       // 100 values: dictionary
		{Name: "tags", Type: schema.String, Mode: schema.Repeated}, // nested: dictionary
	})
	var rows strings.Builder
	rows.WriteString("[")
	const n = 5000
	for i := range n {
		if i > 0 {
			rows.WriteString(",")
		}
		fmt.Fprintf(&rows, `{"id": %d, "ts": %d, "point": "POINT(%d 1)", "zone": "z%d", "fare": "%d.50", "tags": ["t%d"]}`,
			i, 1_700_000_000_000_000+int64(i)*7, i, i%10, i%100, i)
	}
	rows.WriteString("]")
	rec, _, err := array.RecordFromJSON(mem, s, strings.NewReader(rows.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	data := writeParquet(t, []arrow.Record{rec}, Options{}, mem, parquetRowGroupBytes)

	_, cols, md := readParquet(t, data, mem)
	wantDict := map[string]bool{"id": false, "ts": false, "point": false, "zone": true, "fare": true, "tags.list.element": true}
	rg := md.RowGroup(0)
	for i := range rg.NumColumns() {
		cc, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		path := cc.PathInSchema().String()
		if got := cc.HasDictionaryPage(); got != wantDict[path] {
			t.Errorf("column %s: dictionary page %v, want %v (encodings %v)", path, got, wantDict[path], cc.Encodings())
		}
	}
	for i, c := range cols {
		if c.Len() != n || c.NullN() != 0 {
			t.Errorf("column %d: %d values, %d nulls; want %d, none", i, c.Len(), c.NullN(), n)
		}
	}
	if got := cols[0].(*array.Int64).Value(n - 1); got != n-1 {
		t.Errorf("last id = %d, want %d", got, n-1)
	}
	if got := cols[3].(*array.String).Value(n - 1); got != "z9" {
		t.Errorf("last zone = %q, want z9", got)
	}
}
