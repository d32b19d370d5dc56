package output

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// body is one body a Layout's writer wrote, with the metadata its Close returned.
type body struct{ data, meta []byte }

// layoutOf is the Layout of records of rec's schema in format f with options o, and a sync
// marker of its own.
func layoutOf(f Format, rec arrow.Record, o Options) *Layout {
	l := &Layout{Format: f, Options: o, Schema: rec.Schema()}
	copy(l.AvroSync[:], "sync marker 0123")
	return l
}

// writeBody writes recs as one body of l.
func writeBody(t testing.TB, l *Layout, recs []arrow.Record) body {
	t.Helper()
	var buf bytes.Buffer
	w, err := l.NewBody(&buf)
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

// writeRawBody writes payloads, of rows rows each, as one raw body of l.
func writeRawBody(t testing.TB, l *Layout, payloads [][]byte, rows []int64) body {
	t.Helper()
	var buf bytes.Buffer
	w, err := l.NewRawBody(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range payloads {
		if err := w.WriteRaw(p, rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return body{buf.Bytes(), meta}
}

func asParts(bodies []body) []Part {
	parts := make([]Part, len(bodies))
	for i, b := range bodies {
		parts[i] = Part{R: bytes.NewReader(b.data), Size: int64(len(b.data)), Meta: b.meta}
	}
	return parts
}

// join merges bodies in memory into one file of l.
func join(t testing.TB, l *Layout, bodies []body) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Merge(&out, l, asParts(bodies)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// mergeReversed merges the bodies last first, each with its place as its Order.
func mergeReversed(t testing.TB, l *Layout, bodies []body) []byte {
	t.Helper()
	var out bytes.Buffer
	m, err := NewMerger(&out, l)
	if err != nil {
		t.Fatal(err)
	}
	parts := asParts(bodies)
	for i := len(parts) - 1; i >= 0; i-- {
		parts[i].Order = []int64{7, int64(i)}
		if err := m.Add(parts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// mergeFiles merges bodies through real files, the path where the kernel copies the bytes.
func mergeFiles(t testing.TB, l *Layout, bodies []body) []byte {
	t.Helper()
	dir := t.TempDir()
	var parts []Part
	for i, b := range bodies {
		path := filepath.Join(dir, fmt.Sprintf("body-%d", i))
		if err := os.WriteFile(path, b.data, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fh.Close() })
		parts = append(parts, Part{R: fh, Size: int64(len(b.data)), Meta: b.meta})
	}
	out, err := os.Create(filepath.Join(dir, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := Merge(out, l, parts); err != nil {
		t.Fatal(err)
	}
	merged, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return merged
}

// TestEmptyLayoutFile: a file of no bodies is the header and the footer, a valid file with the
// schema and no rows, in every format.
func TestEmptyLayoutFile(t *testing.T) {
	mem := checkedMem(t)
	rec := flatRecord(t, corpus(t, mem))
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			data := join(t, layoutOf(f, rec, Options{}), nil)
			var want bytes.Buffer
			w, err := NewWriter(&want, f, rec.Schema(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			switch f {
			case Parquet:
				s, cols, md := readParquet(t, data, mem)
				if md.NumRows != 0 || len(cols) != int(rec.NumCols()) || s.NumFields() != int(rec.NumCols()) {
					t.Errorf("empty parquet: %d rows, %d columns", md.NumRows, len(cols))
				}
			case Arrow:
				s, got := readArrow(t, data, mem)
				if !s.Equal(rec.Schema()) || len(got) != 0 {
					t.Errorf("schema %s with %d batches, want %s with none", s, len(got), rec.Schema())
				}
			case Avro:
				// The header differs from NewWriter's only in its sync marker.
				if len(data) != want.Len() || !bytes.Equal(data[:len(data)-16], want.Bytes()[:want.Len()-16]) {
					t.Errorf("empty avro file differs from the writer's")
				}
			default:
				if !bytes.Equal(data, want.Bytes()) {
					t.Errorf("empty file %q, want the writer's %q", data, want.Bytes())
				}
			}
		})
	}
}

// TestPlaceJoinsAsAdd: a Merger that places the bodies (Place) writes the header before the first
// and the footer at Close such that header + bodies + footer, put together by someone else, is
// byte for byte the file a Merger that copies them (Add) writes, in every format, and Written
// counts the placed bodies; with no body, the header and footer alone are the empty file.
func TestPlaceJoinsAsAdd(t *testing.T) {
	mem := checkedMem(t)
	rec := flatRecord(t, corpus(t, mem))
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			l := layoutOf(f, rec, Options{})
			n := rec.NumRows()
			var some []body
			for _, r := range [][2]int64{{0, n / 3}, {n / 3, n / 2}, {n / 2, n}} {
				slice := rec.NewSlice(r[0], r[1])
				some = append(some, writeBody(t, l, []arrow.Record{slice}))
				slice.Release()
			}
			for _, bodies := range [][]body{nil, some} {
				var head, foot bytes.Buffer
				w := &switchWriter{w: &head}
				m, err := NewMerger(w, l)
				if err != nil {
					t.Fatal(err)
				}
				placed := head.Bytes()
				for i, p := range asParts(bodies) {
					p.R = nil
					if err := m.Place(p); err != nil {
						t.Fatal(err)
					}
					if i == 0 {
						placed = append([]byte(nil), head.Bytes()...)
					}
					placed = append(placed, bodies[i].data...)
				}
				w.w = &foot
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				placed = append(placed, foot.Bytes()...)
				if want := join(t, l, bodies); !bytes.Equal(placed, want) {
					t.Errorf("%d bodies: header + bodies + footer of Place (%d bytes) differ from Add's file (%d bytes)", len(bodies), len(placed), len(want))
				}
				if got := m.Written(); got != int64(len(placed)) {
					t.Errorf("%d bodies: Written = %d, want %d", len(bodies), got, len(placed))
				}
			}
		})
	}
}

// switchWriter writes to w, which the test changes between the header and the footer.
type switchWriter struct{ w *bytes.Buffer }

func (s *switchWriter) Write(b []byte) (int, error) { return s.w.Write(b) }
