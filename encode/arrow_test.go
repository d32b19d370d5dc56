package encode_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/encode"
	"github.com/bqread/bqread/schema"
)

const allTypes = "../emulator/samples/bqread-demo/samples/all_types/"

// testRecord returns the three rows of testdata/records.json (every type, nulls, extremes) with
// the Arrow schema of the all_types fixture.
func testRecord(t *testing.T, mem memory.Allocator) arrow.Record {
	t.Helper()
	raw, err := os.ReadFile(allTypes + "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/records.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, _, err := array.RecordFromJSON(mem, schema.ArrowSchema(s), f)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// messages splits data into its encapsulated IPC messages.
func messages(t *testing.T, data []byte) []ipc.MessageType {
	t.Helper()
	mr := ipc.NewMessageReader(bytes.NewReader(data))
	defer mr.Release()
	var types []ipc.MessageType
	for {
		msg, err := mr.Message()
		if errors.Is(err, io.EOF) {
			return types
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(types), err)
		}
		types = append(types, msg.Type())
	}
}

func TestArrowRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for name, rec := range map[string]arrow.Record{"records.json": testRecord(t, mem), "all_types": fixtureRecord(t, mem)} {
		t.Run(name, func(t *testing.T) {
			defer rec.Release()
			testArrowRoundTrip(t, rec, mem)
		})
	}
}

func testArrowRoundTrip(t *testing.T, rec arrow.Record, mem memory.Allocator) {
	schemaMsg, err := encode.ArrowSchemaMessage(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if got := messages(t, schemaMsg); len(got) != 1 || got[0] != ipc.MessageSchema {
		t.Fatalf("schema payload holds messages %v, want one Schema", got)
	}
	for _, compression := range []string{"", "lz4", "zstd"} {
		t.Run("compression="+compression, func(t *testing.T) {
			enc, err := encode.NewArrowEncoder(rec.Schema(), compression, mem)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := enc.RecordBatch(rec)
			if err != nil {
				t.Fatal(err)
			}
			if got := messages(t, batch); len(got) != 1 || got[0] != ipc.MessageRecordBatch {
				t.Fatalf("batch payload holds messages %v, want one RecordBatch", got)
			}
			if got := binary.LittleEndian.Uint32(batch); got != 0xFFFFFFFF {
				t.Fatalf("batch starts with %#x, want the continuation marker", got)
			}
			// Read the way the official Go client does: schema bytes then batch bytes as one stream.
			r, err := ipc.NewReader(io.MultiReader(bytes.NewReader(schemaMsg), bytes.NewReader(batch)), ipc.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			if !r.Next() {
				t.Fatalf("no record: %v", r.Err())
			}
			if got := r.RecordBatch(); !array.RecordApproxEqual(got, rec, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Fatalf("record read back differs:\ngot  %v\nwant %v", got, rec)
			}
			if r.Next() {
				t.Fatal("second record in a one-batch payload")
			}
		})
	}
}

func TestArrowBodyCompressed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := 0; i < 10000; i++ {
		b.Append(int64(i % 3))
	}
	col := b.NewArray()
	defer col.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := array.NewRecord(s, []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()

	sizes := map[string]int{}
	for _, c := range []string{"", "lz4", "zstd"} {
		enc, err := encode.NewArrowEncoder(s, c, mem)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := enc.RecordBatch(rec)
		if err != nil {
			t.Fatal(err)
		}
		sizes[c] = len(batch)
	}
	for _, c := range []string{"lz4", "zstd"} {
		if sizes[c]*10 > sizes[""] {
			t.Errorf("%s batch is %d bytes, uncompressed %d: body not compressed", c, sizes[c], sizes[""])
		}
	}
}

func TestArrowEncoderErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	if _, err := encode.NewArrowEncoder(rec.Schema(), "snappy", mem); err == nil {
		t.Error("NewArrowEncoder accepted compression snappy")
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	enc, err := encode.NewArrowEncoder(other, "", mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.RecordBatch(rec); !errors.Is(err, encode.ErrSchemaMismatch) {
		t.Errorf("RecordBatch of another schema: err = %v, want ErrSchemaMismatch", err)
	}
}
