package decode_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/decode"
)

var compressions = []string{"", "lz4", "zstd"}

func TestArrowRoundTrip(t *testing.T) {
	for _, compression := range compressions {
		t.Run("compression="+compression, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			recs := fixtures(t, mem)
			defer releaseAll(recs)
			for name, rec := range recs {
				schemaMsg, batch := arrowPayloads(t, rec, compression)
				dec, err := decode.NewArrow(schemaMsg, mem)
				if err != nil {
					t.Fatal(err)
				}
				if !dec.Schema().Equal(rec.Schema()) {
					t.Fatalf("%s: schema = %v, want %v", name, dec.Schema(), rec.Schema())
				}
				// The same decoder reads several batches, slices included.
				tail := rec.NewSlice(1, rec.NumRows())
				defer tail.Release()
				for _, want := range []arrow.Record{rec, tail, rec} {
					_, batch = arrowPayloads(t, want, compression)
					checkDecode(t, name, dec, batch, want)
				}
			}
		})
	}
}

func TestArrowRowCount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	rec := recs["records.json"]
	schemaMsg, batch := arrowPayloads(t, rec, "")
	dec, err := decode.NewArrow(schemaMsg, mem)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range []int64{rec.NumRows() - 1, rec.NumRows() + 1, 0, -1} {
		if got, err := dec.Decode(batch, rows); !errors.Is(err, decode.ErrCorrupt) {
			if got != nil {
				got.Release()
			}
			t.Errorf("Decode with row count %d of a %d-row batch: err = %v, want ErrCorrupt", rows, rec.NumRows(), err)
		}
	}
}

func TestArrowCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	rec := recs["records.json"]
	for _, compression := range compressions {
		schemaMsg, batch := arrowPayloads(t, rec, compression)
		dec, err := decode.NewArrow(schemaMsg, mem)
		if err != nil {
			t.Fatal(err)
		}
		cases := map[string][]byte{
			"empty":        nil,
			"schema":       schemaMsg,
			"batch twice":  append(append([]byte(nil), batch...), batch...),
			"trailing":     append(append([]byte(nil), batch...), 0),
			"garbage":      []byte("this is not an Arrow IPC message at all"),
			"huge length":  append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, batch[8:]...),
			"negative len": append([]byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80}, batch[8:]...),
			"eos":          {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		}
		for n := 0; n < len(batch); n += 1 + n/8 {
			cases["truncated"+string(rune('0'+n%10))] = batch[:n]
			if got, err := dec.Decode(batch[:n], rec.NumRows()); !errors.Is(err, decode.ErrCorrupt) {
				if got != nil {
					got.Release()
				}
				t.Errorf("%s: Decode of the first %d of %d bytes: err = %v, want ErrCorrupt", compression, n, len(batch), err)
			}
		}
		for name, payload := range cases {
			if got, err := dec.Decode(payload, rec.NumRows()); !errors.Is(err, decode.ErrCorrupt) {
				if got != nil {
					got.Release()
				}
				t.Errorf("%s %s: err = %v, want ErrCorrupt", compression, name, err)
			}
		}
		// The decoder still works after errors.
		checkDecode(t, compression+": after errors", dec, batch, rec)
	}
}

func TestNewArrowErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	schemaMsg, batch := arrowPayloads(t, recs["records.json"], "")
	for name, payload := range map[string][]byte{
		"empty":     nil,
		"batch":     batch,
		"truncated": schemaMsg[:len(schemaMsg)/2],
		"trailing":  append(append([]byte(nil), schemaMsg...), batch...),
	} {
		if _, err := decode.NewArrow(payload, mem); !errors.Is(err, decode.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestArrowBogusUncompressedLength sets the uncompressed length that precedes each compressed
// buffer to 2^50 bytes: Decode must refuse it instead of allocating it.
func TestArrowBogusUncompressedLength(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtures(t, mem)
	defer releaseAll(recs)
	rec := recs["records.json"]
	magic := map[string][]byte{"lz4": {0x04, 0x22, 0x4d, 0x18}, "zstd": {0x28, 0xb5, 0x2f, 0xfd}}
	for c, m := range magic {
		schemaMsg, batch := arrowPayloads(t, rec, c)
		dec, err := decode.NewArrow(schemaMsg, mem)
		if err != nil {
			t.Fatal(err)
		}
		frames := 0
		for i := 8; i+4 <= len(batch); i++ {
			if !bytes.Equal(batch[i:i+4], m) {
				continue
			}
			frames++
			bad := append([]byte(nil), batch...)
			binary.LittleEndian.PutUint64(bad[i-8:], 1<<50)
			if got, err := dec.Decode(bad, rec.NumRows()); !errors.Is(err, decode.ErrCorrupt) {
				if got != nil {
					got.Release()
				}
				t.Errorf("%s frame at byte %d: err = %v, want ErrCorrupt", c, i, err)
			}
		}
		if frames == 0 {
			t.Fatalf("%s: no compressed buffer found in the batch", c)
		}
	}
}
