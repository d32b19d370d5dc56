package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/bqread/bqread/decode"
	"github.com/bqread/bqread/output"
	"github.com/google/go-cmp/cmp"
	"github.com/linkedin/goavro/v2"
)

// TestExportEveryTypeEveryWireEveryFormat runs the all_types fixture corpus (every BigQuery type,
// nulls, edges, nesting; repeated so that it spans several streams, allTypesTable) through every
// (wire format × output format) pair with several streams,
// reads each output back with a reader independent of our writers (pqarrow's file reader, arrow's
// IPC file reader, goavro's OCF reader), and checks the values against the reviewed golden NDJSON
// of the corpus. The NDJSON writer only renders what the independent reader returned.
func TestExportEveryTypeEveryWireEveryFormat(t *testing.T) {
	golden := allTypesGolden(t)
	wires := map[string][]string{
		"arrow":      {"--data-format", "arrow"},
		"arrow+lz4":  {"--data-format", "arrow", "--wire-compression", "lz4"},
		"arrow+zstd": {"--data-format", "arrow", "--wire-compression", "zstd"},
		"avro":       {"--data-format", "avro"},
	}
	for wire, wireArgs := range wires {
		for _, format := range []string{"parquet", "arrow", "avro", "ndjson"} {
			t.Run(wire+"→"+format, func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(t.TempDir(), "all_types."+format)
				s := mustExport(t, append([]string{allTypesTable, "-o", out, "--streams", "3"}, wireArgs...)...)
				if s.Streams < 2 {
					t.Errorf("streams = %d, want several", s.Streams)
				}
				got := readBackAsNDJSON(t, format, out)
				if diff := cmp.Diff(strings.Split(golden, "\n"), strings.Split(string(got), "\n")); diff != "" {
					t.Errorf("values read back differ from the corpus (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// readBackAsNDJSON reads an output file with an independent reader and renders its records as NDJSON.
func readBackAsNDJSON(t *testing.T, format, path string) []byte {
	t.Helper()
	switch format {
	case "ndjson":
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	case "parquet", "arrow":
		tbl := readTable(t, format, path)
		tr := array.NewTableReader(tbl, -1)
		defer tr.Release()
		return renderNDJSON(t, tbl.Schema(), func(yield func(arrow.Record)) {
			for tr.Next() {
				yield(tr.Record())
			}
		})
	}
	return avroAsNDJSON(t, path)
}

// openOCF opens the Avro container file path with goavro's reader.
func openOCF(t *testing.T, path string) *goavro.OCFReader {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ocf, err := goavro.NewOCFReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return ocf
}

// avroAsNDJSON reads an Avro container file with goavro (blocks, codec, sync markers), turns each
// native row back into Avro binary with goavro, and decodes those rows for rendering.
func avroAsNDJSON(t *testing.T, path string) []byte {
	ocf := openOCF(t, path)
	codec := ocf.Codec()
	var rows []byte
	var n int64
	for ocf.Scan() {
		native, err := ocf.Read()
		if err != nil {
			t.Fatal(err)
		}
		if rows, err = codec.BinaryFromNative(rows, native); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := ocf.Err(); err != nil {
		t.Fatal(err)
	}
	dec, err := decode.NewAvro(codec.Schema(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dec.Decode(rows, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	return renderNDJSON(t, rec.Schema(), func(yield func(arrow.Record)) { yield(rec) })
}

func renderNDJSON(t *testing.T, s *arrow.Schema, records func(func(arrow.Record))) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := output.NewWriter(&buf, output.NDJSON, s, output.Options{})
	if err != nil {
		t.Fatal(err)
	}
	records(func(rec arrow.Record) {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
