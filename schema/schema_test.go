package schema

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/linkedin/goavro/v2"
)

func allTypes(t *testing.T) Schema {
	t.Helper()
	data, err := os.ReadFile("../emulator/samples/bqread-demo/samples/all_types/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stripDescriptions drops what the wire schemas cannot carry.
func stripDescriptions(s Schema) Schema {
	out := make(Schema, len(s))
	for i, f := range s {
		c := *f
		c.Description = ""
		c.Fields = stripDescriptions(f.Fields)
		if len(c.Fields) == 0 {
			c.Fields = nil
		}
		out[i] = &c
	}
	return out
}

func TestArrowRoundTrip(t *testing.T) {
	s := allTypes(t)
	back, err := FromArrow(ArrowSchema(s))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stripDescriptions(s), back); diff != "" {
		t.Errorf("FromArrow(ArrowSchema(s)) mismatch (-want +got):\n%s", diff)
	}
}

func TestAvroRoundTrip(t *testing.T) {
	s := allTypes(t)
	js := AvroSchema(s)
	if _, err := goavro.NewCodec(js); err != nil {
		t.Fatalf("goavro rejects AvroSchema: %v\n%s", err, js)
	}
	back, err := FromAvro(js)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stripDescriptions(s), back); diff != "" {
		t.Errorf("FromAvro(AvroSchema(s)) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not json", `{`},
		{"bad name", `[{"name": "a-b", "type": "INT64"}]`},
		{"duplicate", `[{"name": "a", "type": "INT64"}, {"name": "A", "type": "STRING"}]`},
		{"unknown type", `[{"name": "a", "type": "INT128"}]`},
		{"bad mode", `[{"name": "a", "type": "INT64", "mode": "OPTIONAL"}]`},
		{"empty struct", `[{"name": "a", "type": "RECORD"}]`},
		{"range without element", `[{"name": "a", "type": "RANGE"}]`},
		{"range of int", `[{"name": "a", "type": "RANGE", "rangeElementType": {"type": "INT64"}}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.in)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%s) error = %v, want ErrInvalid", tc.in, err)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	s := allTypes(t)
	got, err := s.Select([]string{"st.arr.inner.z", "i", "ST.b"})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, f := range got {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"i", "st"}, names); diff != "" {
		t.Errorf("table order (-want +got):\n%s", diff)
	}
	st := got[1]
	if len(st.Fields) != 2 || st.Fields[0].Name != "b" || st.Fields[1].Fields[0].Fields[0].Name != "z" {
		t.Errorf("nested projection wrong: %+v", st.Fields)
	}
	if _, err := s.Select([]string{"nope"}); !errors.Is(err, ErrUnknownColumn) {
		t.Errorf("unknown column error = %v", err)
	}
	if _, err := s.Select([]string{"i.x"}); !errors.Is(err, ErrUnknownColumn) {
		t.Errorf("path into scalar error = %v", err)
	}
}

func TestFromAvroSelfReference(t *testing.T) {
	js := `{"type": "record", "name": "__root__", "fields": [{"name": "n", "type":
		{"type": "record", "name": "node", "fields": [{"name": "next", "type": ["null", "node"]}]}}]}`
	if _, err := FromAvro(js); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromAvro(self-referencing record) error = %v, want ErrInvalid", err)
	}
}
