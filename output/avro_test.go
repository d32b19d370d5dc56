package output

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/linkedin/goavro/v2"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

var avroCodecs = []string{"", "deflate", "snappy"}

// avroNatives compares goavro natives: decimals by value, NaN equal to NaN.
var avroNatives = cmp.Options{
	cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 }),
	cmpopts.EquateNaNs(),
}

func writeAvro(t testing.TB, recs []arrow.Record, o Options) []byte {
	t.Helper()
	return writeText(t, Avro, recs, o)
}

// readAvro reads an object container file with goavro's reader and returns its codec name and
// its rows as goavro natives.
func readAvro(t testing.TB, data []byte) (string, []any) {
	t.Helper()
	r, err := goavro.NewOCFReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var rows []any
	for r.Scan() {
		row, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return r.CompressionName(), rows
}

// avroWant decodes rec's rows, encoded by encode.AvroRows, with goavro's codec for the schema:
// the natives that reading the file must give.
func avroWant(t testing.TB, rec arrow.Record) []any {
	t.Helper()
	bq, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(schema.AvroSchema(bq))
	if err != nil {
		t.Fatal(err)
	}
	buf, err := encode.AvroRows(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []any
	for len(buf) > 0 {
		var row any
		if row, buf, err = codec.NativeFromBinary(buf); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	return rows
}

func TestAvroWriter(t *testing.T) {
	for _, codec := range avroCodecs {
		t.Run(orDefault(codec), func(t *testing.T) {
			mem := checkedMem(t)
			rec := corpus(t, mem)
			name, got := readAvro(t, writeAvro(t, cut(t, rec, 2, 2, 5), Options{Compression: codec}))
			if want := map[string]string{"": "null"}[codec]; name != want && name != codec {
				t.Errorf("codec = %q, want %q", name, codec)
			}
			if diff := cmp.Diff(avroWant(t, rec), got, avroNatives); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			// A few values spelled out, so that the comparison above cannot pass on nothing.
			first := got[0].(map[string]any)
			for column, want := range map[string]any{
				"id": int64(1),
				"s":  map[string]any{"string": "hello"},
				"by": map[string]any{"bytes": []byte{0, 1, 2, 0xff}},
				"dt": map[string]any{"string": "2024-02-29T23:59:59.999999"},
			} {
				if diff := cmp.Diff(want, first[column]); diff != "" {
					t.Errorf("row 1 column %s (-want +got):\n%s", column, diff)
				}
			}
		})
	}
}

// avroBlock is one data block of a container file.
type avroBlock struct {
	Count int64
	Data  []byte // as stored: compressed with the file's codec
}

// avroBlocks returns the header and the blocks of a container file, checking every sync marker.
func avroBlocks(t testing.TB, data []byte) (*avroHeader, []avroBlock) {
	t.Helper()
	p := asParts([][]byte{data})[0]
	h, err := readAvroHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []avroBlock
	r := &countingReader{r: bytes.NewReader(data[h.size:])}
	for int(h.size+r.n) < len(data) {
		count, err := readAvroLong(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readAvroBytes(r, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		sync := make([]byte, 16)
		if _, err := r.Read(sync); err != nil || !bytes.Equal(sync, h.sync[:]) {
			t.Fatalf("block %d: sync marker %x, want %x (%v)", len(blocks), sync, h.sync, err)
		}
		blocks = append(blocks, avroBlock{count, b})
	}
	return h, blocks
}

// TestAvroBlockSize writes many rows: they are split into blocks of about avroBlockBytes.
func TestAvroBlockSize(t *testing.T) {
	mem := checkedMem(t)
	rec := repeat(t, corpus(t, mem), 2000, mem)
	data := writeAvro(t, []arrow.Record{rec}, Options{})
	_, blocks := avroBlocks(t, data)
	var rows int64
	for i, b := range blocks {
		rows += b.Count
		if len(b.Data) > avroBlockBytes+avroBlockBytes/2 {
			t.Errorf("block %d holds %d bytes, want about %d at most", i, len(b.Data), avroBlockBytes)
		}
	}
	if len(blocks) < 2 || rows != rec.NumRows() {
		t.Errorf("%d blocks of %d rows, want several blocks of %d rows", len(blocks), rows, rec.NumRows())
	}
	if _, got := readAvro(t, data); len(got) != int(rec.NumRows()) {
		t.Errorf("goavro reads %d rows, want %d", len(got), rec.NumRows())
	}
}

// avroSchemaOf returns the Avro schema of rec's columns.
func avroSchemaOf(t testing.TB, rec arrow.Record) string {
	t.Helper()
	bq, err := schema.FromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	return schema.AvroSchema(bq)
}

// passthroughFile writes recs' wire payloads (encode.AvroRows) with NewAvroPassthrough.
func passthroughFile(t testing.TB, recs []arrow.Record, o Options) ([]byte, [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewAvroPassthrough(&buf, avroSchemaOf(t, recs[0]), o)
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	for _, rec := range recs {
		payload, err := encode.AvroRows(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRaw(payload, rec.NumRows()); err != nil {
			t.Fatal(err)
		}
		if len(payload) > 0 {
			payloads = append(payloads, payload)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), payloads
}

func TestAvroPassthrough(t *testing.T) {
	for _, codec := range avroCodecs {
		t.Run(orDefault(codec), func(t *testing.T) {
			mem := checkedMem(t)
			rec := corpus(t, mem)
			recs := cut(t, rec, 3, 3, 4)
			data, payloads := passthroughFile(t, recs, Options{Compression: codec})
			if _, got := readAvro(t, data); !cmp.Equal(got, avroWant(t, rec), avroNatives) {
				t.Errorf("rows differ from the corpus:\n%s", cmp.Diff(avroWant(t, rec), got, avroNatives))
			}
			_, blocks := avroBlocks(t, data)
			if got, want := len(blocks), len(payloads); got != want {
				t.Fatalf("%d blocks, want one per non-empty payload: %d", got, want)
			}
			if codec == "" { // one payload, one block, unchanged
				for i, b := range blocks {
					if !bytes.Equal(b.Data, payloads[i]) {
						t.Errorf("block %d differs from its payload", i)
					}
				}
			}
		})
	}
}

func TestAvroPassthroughErrors(t *testing.T) {
	if _, err := NewAvroPassthrough(&bytes.Buffer{}, `{"type": "record"`, Options{}); err == nil {
		t.Error("schema not JSON: no error")
	}
	if _, err := NewAvroPassthrough(&bytes.Buffer{}, `"long"`, Options{Compression: "zstd"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("codec zstd: err = %v, want ErrUnsupported", err)
	}
	w, err := NewAvroPassthrough(&bytes.Buffer{}, `"long"`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw([]byte{2}, 0); err == nil {
		t.Error("bytes of no rows: no error")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw([]byte{2}, 1); err == nil {
		t.Error("WriteRaw after Close: no error")
	}
}

func TestAvroMerge(t *testing.T) {
	for _, codec := range avroCodecs {
		t.Run(orDefault(codec), func(t *testing.T) {
			mem := checkedMem(t)
			rec := corpus(t, mem)
			recs := cut(t, rec, 2, 5)
			viaWire, _ := passthroughFile(t, recs[1:2], Options{Compression: codec})
			empty := writeAvro(t, cut(t, rec, 0)[:1], Options{Compression: codec})
			files := [][]byte{writeAvro(t, recs[:1], Options{Compression: codec}), viaWire, empty, writeAvro(t, recs[2:], Options{Compression: codec})}
			var merged bytes.Buffer
			if err := Merge(&merged, Avro, asParts(files)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mergeFiles(t, Avro, files), merged.Bytes()) {
				t.Error("merging files gives other bytes than merging in memory")
			}
			if _, got := readAvro(t, merged.Bytes()); !cmp.Equal(got, avroWant(t, rec), avroNatives) {
				t.Errorf("merged rows differ from the corpus:\n%s", cmp.Diff(avroWant(t, rec), got, avroNatives))
			}
			// No re-encoding: the merged blocks are the parts' blocks, byte for byte, and the
			// header is the first part's.
			var want []avroBlock
			for _, f := range files {
				_, blocks := avroBlocks(t, f)
				want = append(want, blocks...)
			}
			h, got := avroBlocks(t, merged.Bytes())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("merged blocks differ from the parts' (-want +got):\n%s", diff)
			}
			if !bytes.HasPrefix(merged.Bytes(), files[0][:h.size]) {
				t.Error("merged header is not the first part's")
			}
		})
	}
}

func TestAvroMergeErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := corpus(t, mem)
	good := writeAvro(t, []arrow.Record{rec}, Options{})
	deflate := writeAvro(t, []arrow.Record{rec}, Options{Compression: "deflate"})
	flat := writeAvro(t, []arrow.Record{flatRecord(t, rec)}, Options{})
	h, _ := avroBlocks(t, good)
	badSync := bytes.Clone(good)
	badSync[len(badSync)-1] ^= 0xff
	for _, tc := range []struct {
		name  string
		parts [][]byte
	}{
		{"no parts", nil},
		{"other codec", [][]byte{good, deflate}},
		{"other schema", [][]byte{good, flat}},
		{"not avro", [][]byte{good, []byte("Obj but not really")}},
		{"truncated block", [][]byte{good, good[:len(good)-1]}},
		{"truncated header", [][]byte{good[:h.size-1]}},
		{"bad sync marker", [][]byte{good, badSync}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Merge(&bytes.Buffer{}, Avro, asParts(tc.parts)); err == nil {
				t.Error("no error")
			}
		})
	}
}
