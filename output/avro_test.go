package output

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
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

// avroBlocks returns the sync marker and the blocks of a container file this package wrote,
// checking every sync marker.
func avroBlocks(t testing.TB, data []byte) ([16]byte, []avroBlock) {
	t.Helper()
	r := bytes.NewReader(data)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, avroMagic) {
		t.Fatalf("no Avro magic: %q", magic)
	}
	readLong := func() int64 {
		u, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatal(err)
		}
		return int64(u>>1) ^ -int64(u&1)
	}
	readBytes := func() []byte {
		b := make([]byte, readLong())
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for n := readLong(); n != 0; n = readLong() {
		for range n * 2 {
			readBytes()
		}
	}
	var sync [16]byte
	if _, err := io.ReadFull(r, sync[:]); err != nil {
		t.Fatal(err)
	}
	var blocks []avroBlock
	for r.Len() > 0 {
		count := readLong()
		b := readBytes()
		var marker [16]byte
		if _, err := io.ReadFull(r, marker[:]); err != nil || marker != sync {
			t.Fatalf("block %d: sync marker %x, want %x (%v)", len(blocks), marker, sync, err)
		}
		blocks = append(blocks, avroBlock{count, b})
	}
	return sync, blocks
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

// avroSchemaJSON returns the Avro schema of rec's columns.
func avroSchemaJSON(t testing.TB, rec arrow.Record) string {
	t.Helper()
	s, err := avroSchemaOf(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawLayout is the Layout of Avro bodies copied from the wire payloads of rec's schema.
func rawLayout(t testing.TB, rec arrow.Record, o Options) *Layout {
	l := layoutOf(Avro, rec, o)
	l.Schema, l.RawAvroSchema = nil, avroSchemaJSON(t, rec)
	return l
}

// avroPayloads returns recs' wire payloads (encode.AvroRows) and rows.
func avroPayloads(t testing.TB, recs []arrow.Record) ([][]byte, []int64) {
	t.Helper()
	var payloads [][]byte
	var rows []int64
	for _, rec := range recs {
		payload, err := encode.AvroRows(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		payloads, rows = append(payloads, payload), append(rows, rec.NumRows())
	}
	return payloads, rows
}

// passthroughFile writes recs' wire payloads as one raw body of a file, and returns the file and
// the non-empty payloads.
func passthroughFile(t testing.TB, recs []arrow.Record, o Options) ([]byte, [][]byte) {
	t.Helper()
	l := rawLayout(t, recs[0], o)
	payloads, rows := avroPayloads(t, recs)
	data := join(t, l, []body{writeRawBody(t, l, payloads, rows)})
	var nonEmpty [][]byte
	for _, p := range payloads {
		if len(p) > 0 {
			nonEmpty = append(nonEmpty, p)
		}
	}
	return data, nonEmpty
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
	l := &Layout{Format: Avro, RawAvroSchema: `{"type": "record"`}
	if _, err := l.NewRawBody(&bytes.Buffer{}); err == nil {
		t.Error("schema not JSON: no error")
	}
	l = &Layout{Format: Avro, RawAvroSchema: `"long"`, Options: Options{Compression: "zstd"}}
	if _, err := l.NewRawBody(&bytes.Buffer{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("codec zstd: err = %v, want ErrUnsupported", err)
	}
	l.Options = Options{}
	w, err := l.NewRawBody(&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw([]byte{2}, 0); err == nil {
		t.Error("bytes of no rows: no error")
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw([]byte{2}, 1); err == nil {
		t.Error("WriteRaw after Close: no error")
	}
}

// TestAvroMerge joins bodies written from records and from wire payloads, one of no rows: the
// file holds the header of the layout and every body's blocks byte for byte, and goavro reads the
// corpus back.
func TestAvroMerge(t *testing.T) {
	for _, codec := range avroCodecs {
		t.Run(orDefault(codec), func(t *testing.T) {
			mem := checkedMem(t)
			rec := corpus(t, mem)
			recs := cut(t, rec, 2, 5)
			o := Options{Compression: codec}
			l, raw := layoutOf(Avro, rec, o), rawLayout(t, rec, o)
			payloads, rows := avroPayloads(t, recs[1:2])
			bodies := []body{writeBody(t, l, recs[:1]), writeRawBody(t, raw, payloads, rows),
				writeBody(t, l, cut(t, rec, 0)[:1]), writeBody(t, l, recs[2:])}
			merged := join(t, l, bodies)
			if !bytes.Equal(mergeFiles(t, l, bodies), merged) {
				t.Error("merging files gives other bytes than merging in memory")
			}
			if _, got := readAvro(t, merged); !cmp.Equal(got, avroWant(t, rec), avroNatives) {
				t.Errorf("merged rows differ from the corpus:\n%s", cmp.Diff(avroWant(t, rec), got, avroNatives))
			}
			sync, got := avroBlocks(t, merged)
			if sync != l.AvroSync {
				t.Errorf("sync marker %x, want the layout's %x", sync, l.AvroSync)
			}
			var header bytes.Buffer
			if err := writeAvroHeader(l, &header); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(merged, header.Bytes()) {
				t.Error("merged file does not start with the layout's header")
			}
			var want []avroBlock
			for _, b := range bodies {
				_, blocks := avroBlocks(t, append(bytes.Clone(header.Bytes()), b.data...))
				want = append(want, blocks...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("merged blocks differ from the bodies' (-want +got):\n%s", diff)
			}
		})
	}
}
