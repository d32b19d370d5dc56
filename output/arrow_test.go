package output

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/internal/jsread"
	"github.com/bqread/bqread/schema"
)

// arrowCompressions are the Storage Read API's Arrow body compressions, as package encode names them.
var arrowCompressions = []string{"", "lz4", "zstd"}

func writeArrow(t testing.TB, recs []arrow.Record, o Options, mem memory.Allocator) []byte {
	return writeWith(t, recs, func(w io.Writer) (Writer, error) { return newArrowWriter(w, recs[0].Schema(), o, mem) })
}

// readArrow reads an Arrow IPC file with arrow-go's file reader; the records are released at the
// end of the test.
func readArrow(t testing.TB, data []byte, mem memory.Allocator) (*arrow.Schema, []arrow.Record) {
	t.Helper()
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.Record
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rec.Release)
		recs = append(recs, rec)
	}
	return r.Schema(), recs
}

// sameRecords fails the test unless got holds want's rows, batch by batch, with want's schema
// and field metadata.
func sameRecords(t testing.TB, want []arrow.Record, s *arrow.Schema, got []arrow.Record) {
	t.Helper()
	if !s.Equal(want[0].Schema()) {
		t.Errorf("schema\n%s\nwant\n%s", s, want[0].Schema())
	}
	if diff := cmp.Diff(fieldMetadata(want[0].Schema().Fields(), "", map[string]map[string]string{}),
		fieldMetadata(s.Fields(), "", map[string]map[string]string{})); diff != "" {
		t.Errorf("field metadata (-wrote +read):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Fatalf("record batches = %d, want %d", len(got), len(want))
	}
	for i := range want {
		if !array.RecordApproxEqual(want[i], got[i], array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
			t.Errorf("record batch %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestArrowRoundTrip(t *testing.T) {
	for _, compression := range []string{"", "none", "lz4", "zstd"} {
		t.Run(orDefault(compression), func(t *testing.T) {
			mem := checkedMem(t)
			recs := cut(t, corpus(t, mem), 1, 3)
			s, got := readArrow(t, writeArrow(t, recs, Options{Compression: compression}, mem), mem)
			sameRecords(t, recs, s, got)
		})
	}
}

func TestArrowWriterErrors(t *testing.T) {
	s := schema.ArrowSchema(schema.Schema{{Name: "a", Type: schema.Int64}})
	if _, err := NewWriter(&bytes.Buffer{}, Arrow, s, Options{Compression: "gzip"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("compression gzip: err = %v, want ErrUnsupported", err)
	}
}

// bareMessages encodes recs as the Storage Read API sends them, with package encode (the payloads
// the emulator serves): one encapsulated Schema message and one encapsulated RecordBatch message
// per record, bodies compressed as compression ("", "lz4", "zstd") asks.
func bareMessages(t testing.TB, recs []arrow.Record, mem memory.Allocator, compression string) ([]byte, [][]byte) {
	t.Helper()
	schemaMsg, err := encode.ArrowSchemaMessage(recs[0].Schema())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encode.NewArrowEncoder(recs[0].Schema(), compression, mem)
	if err != nil {
		t.Fatal(err)
	}
	batches := make([][]byte, len(recs))
	for i, rec := range recs {
		if batches[i], err = enc.RecordBatch(rec); err != nil {
			t.Fatal(err)
		}
	}
	return schemaMsg, batches
}

// writePassthrough writes a file of one raw body of the payloads batches of recs.
func writePassthrough(t testing.TB, schemaMsg []byte, batches [][]byte, recs []arrow.Record) []byte {
	t.Helper()
	l := &Layout{Format: Arrow, RawArrowSchema: schemaMsg}
	return join(t, l, []body{rawArrowBody(t, schemaMsg, batches, recs)})
}

// rawArrowBody writes the payloads batches of recs as one raw body.
func rawArrowBody(t testing.TB, schemaMsg []byte, batches [][]byte, recs []arrow.Record) body {
	t.Helper()
	rows := make([]int64, len(recs))
	for i, r := range recs {
		rows[i] = r.NumRows()
	}
	return writeRawBody(t, &Layout{Format: Arrow, RawArrowSchema: schemaMsg}, batches, rows)
}

// batchBytes returns the bytes of each record batch message that a file's footer lists.
func batchBytes(t testing.TB, data []byte) [][]byte {
	t.Helper()
	f, err := readArrowFooter(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, b := range f.batches {
		out = append(out, data[b.offset:b.offset+int64(b.metaLen)+b.bodyLen])
	}
	return out
}

func TestArrowPassthrough(t *testing.T) {
	for _, c := range arrowCompressions {
		t.Run(orDefault(c), func(t *testing.T) {
			mem := checkedMem(t)
			recs := cut(t, corpus(t, mem), 0, 1, 3)
			schemaMsg, batches := bareMessages(t, recs, mem, c)
			data := writePassthrough(t, schemaMsg, batches, recs)
			s, got := readArrow(t, data, mem)
			sameRecords(t, recs, s, got)
			// The payloads are in the file as they came.
			if !cmp.Equal(batchBytes(t, data), batches) {
				t.Error("record batch messages in the file differ from the payloads")
			}
		})
	}
}

// TestArrowPassthroughEmpty writes a file with the schema and no batches (a table with no rows).
func TestArrowPassthroughEmpty(t *testing.T) {
	mem := checkedMem(t)
	recs := cut(t, corpus(t, mem))
	schemaMsg, _ := bareMessages(t, recs, mem, "")
	s, got := readArrow(t, writePassthrough(t, schemaMsg, nil, nil), mem)
	if !s.Equal(recs[0].Schema()) || len(got) != 0 {
		t.Errorf("schema %s with %d batches, want %s with none", s, len(got), recs[0].Schema())
	}
}

func TestArrowPassthroughErrors(t *testing.T) {
	mem := checkedMem(t)
	recs := cut(t, corpus(t, mem), 2)
	schemaMsg, batches := bareMessages(t, recs, mem, "")
	for _, tc := range []struct {
		name    string
		schema  []byte
		payload []byte
		rows    int64
	}{
		{"schema is a batch", batches[0], nil, 0},
		{"schema is garbage", []byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 1, 2, 3}, nil, 0},
		{"payload is the schema", schemaMsg, schemaMsg, 0},
		{"wrong row count", schemaMsg, batches[0], 3},
		{"truncated payload", schemaMsg, batches[0][:len(batches[0])-8], 2},
		{"payload is garbage", schemaMsg, []byte("not an arrow message at all"), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Layout{Format: Arrow, RawArrowSchema: tc.schema}
			var err error
			if tc.payload == nil {
				err = Merge(&bytes.Buffer{}, l, nil)
			} else {
				var w RawBody
				if w, err = l.NewRawBody(&bytes.Buffer{}); err == nil {
					err = w.WriteRaw(tc.payload, tc.rows)
				}
			}
			if err == nil {
				t.Error("no error")
			}
		})
	}
}

// arrowParts writes the corpus as three bodies: from records (LZ4 bodies), from wire payloads
// (ZSTD bodies), and one with no batches.
func arrowParts(t testing.TB, recs []arrow.Record, mem memory.Allocator) []body {
	schemaMsg, batches := bareMessages(t, recs[1:], mem, "zstd")
	return []body{
		writeBody(t, layoutOf(Arrow, recs[0], Options{Compression: "lz4"}), recs[:1]),
		rawArrowBody(t, schemaMsg, batches, recs[1:]),
		rawArrowBody(t, schemaMsg, nil, nil),
	}
}

func TestArrowMerge(t *testing.T) {
	mem := checkedMem(t)
	recs := cut(t, corpus(t, mem), 1, 3)
	bodies := arrowParts(t, recs, mem)
	merged := join(t, layoutOf(Arrow, recs[0], Options{}), bodies)
	s, got := readArrow(t, merged, mem)
	sameRecords(t, recs, s, got)
	// No re-encoding: the record batch messages are the bodies' bytes, in order.
	var want []byte
	for _, b := range bodies {
		want = append(want, b.data...)
	}
	if !bytes.Equal(bytes.Join(batchBytes(t, merged), nil), want) {
		t.Error("record batch messages in the merged file differ from the bodies'")
	}
}

// TestArrowMergeErrors: a footer lists only blocks that lie within their body.
func TestArrowMergeErrors(t *testing.T) {
	mem := checkedMem(t)
	recs := cut(t, corpus(t, mem))
	l := layoutOf(Arrow, recs[0], Options{})
	good := writeBody(t, l, recs)
	for _, tc := range []struct {
		name   string
		bodies []body
	}{
		{"block list cut", []body{{good.data, good.meta[:len(good.meta)-1]}}},
		{"no block list", []body{{good.data, nil}}},
		{"body shorter than its blocks", []body{{good.data[:len(good.data)-1], good.meta}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Merge(&bytes.Buffer{}, l, asParts(tc.bodies)); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestArrowJS reads a merged file with the Apache Arrow JavaScript library, an implementation
// independent of arrow-go: it must find our footer, the schema with its metadata, and the rows.
func TestArrowJS(t *testing.T) {
	mem := checkedMem(t)
	recs := cut(t, corpus(t, mem), 1, 3)
	schemaMsg, batches := bareMessages(t, recs[1:], mem, "")
	bodies := []body{writeBody(t, layoutOf(Arrow, recs[0], Options{}), recs[:1]), rawArrowBody(t, schemaMsg, batches, recs[1:])}
	merged := mergeReversed(t, &Layout{Format: Arrow, RawArrowSchema: schemaMsg}, bodies) // the batches in footer order differ from file order
	path := filepath.Join(t.TempDir(), "merged.arrow")
	if err := os.WriteFile(path, merged, 0o644); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Fields []struct {
			Name     string
			Metadata map[string]string
		}
		NumBatches int `json:"num_batches"`
		Rows       []map[string]any
	}
	jsread.Run(t, "readarrow.mjs", &got, path)
	if got.NumBatches != len(recs) {
		t.Errorf("batches = %d, want %d", got.NumBatches, len(recs))
	}
	wantMD := map[string]map[string]string{}
	for _, f := range recs[0].Schema().Fields() {
		if f.Metadata.Len() > 0 {
			wantMD[f.Name] = f.Metadata.ToMap()
		}
	}
	gotMD := map[string]map[string]string{}
	for _, f := range got.Fields {
		if len(f.Metadata) > 0 {
			gotMD[f.Name] = f.Metadata
		}
	}
	if diff := cmp.Diff(wantMD, gotMD); diff != "" {
		t.Errorf("field metadata (-want +got):\n%s", diff)
	}
	// Compare the columns whose JavaScript values are exact and unambiguous.
	columns := []string{"id", "b", "i", "f", "s", "by", "g", "j", "ai", "as"}
	var want []map[string]any
	for _, rec := range recs {
		want = append(want, jsRows(rec)...)
	}
	if diff := cmp.Diff(project(want, columns), project(got.Rows, columns)); diff != "" {
		t.Errorf("rows read by Arrow JS (-want +got):\n%s", diff)
	}
}

func project(rows []map[string]any, columns []string) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = map[string]any{}
		for _, c := range columns {
			out[i][c] = r[c]
		}
	}
	return out
}

// orDefault names the default compression in subtest names.
func orDefault(compression string) string {
	if compression == "" {
		return "default"
	}
	return compression
}

func TestArrowMergeOSFiles(t *testing.T) {
	mem := checkedMem(t)
	recs := cut(t, corpus(t, mem), 1, 3)
	l := layoutOf(Arrow, recs[0], Options{})
	bodies := arrowParts(t, recs, mem)
	if !bytes.Equal(mergeFiles(t, l, bodies), join(t, l, bodies)) {
		t.Error("merging files gives other bytes than merging in memory")
	}
}

// FuzzArrowWriteRaw feeds arbitrary payloads to the passthrough writer: a malformed message is an
// error, never a panic, and an accepted one is readable.
func FuzzArrowWriteRaw(f *testing.F) {
	mem := memory.NewGoAllocator()
	recs := cut(f, corpus(f, mem), 2)
	schemaMsg, batches := bareMessages(f, recs, mem, "lz4")
	for i, b := range batches {
		f.Add(b, recs[i].NumRows())
	}
	f.Add(schemaMsg, int64(0))
	f.Fuzz(func(t *testing.T, payload []byte, rows int64) {
		l := &Layout{Format: Arrow, RawArrowSchema: schemaMsg}
		var body bytes.Buffer
		w, err := l.NewRawBody(&body)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRaw(payload, rows); err != nil {
			return
		}
		meta, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Merge(&buf, l, []Part{{R: bytes.NewReader(body.Bytes()), Size: int64(body.Len()), Meta: meta}}); err != nil {
			t.Fatal(err)
		}
		if _, err := readArrowFooter(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			t.Fatalf("accepted payload gave an unreadable footer: %v", err)
		}
	})
}
