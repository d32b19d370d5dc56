package schema

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
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
		{"bad name", `[{"name": "a.b", "type": "INT64"}]`},
		{"name with a slash", `[{"name": "a/b", "type": "INT64"}]`},
		{"precision on a non-timestamp", `[{"name": "a", "type": "INT64", "timestampPrecision": 12}]`},
		{"precision 9", `[{"name": "a", "type": "TIMESTAMP", "timestampPrecision": "9"}]`},
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

func TestFromAvroDecimals(t *testing.T) {
	js := `{"type": "record", "name": "__root__", "fields": [
		{"name": "n", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}]},
		{"name": "bn", "type": {"type": "bytes", "logicalType": "decimal", "precision": 77, "scale": 38}},
		{"name": "st", "type": {"type": "array", "items": {"type": "record", "name": "st", "fields": [
			{"name": "p", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38}}]}}},
		{"name": "again", "type": "st"}]}`
	_, scales, err := FromAvroDecimals(js)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int32{"n": 2, "bn": 38, "st.p": 0, "again.p": 0}
	if diff := cmp.Diff(want, scales); diff != "" {
		t.Errorf("scales (-want +got):\n%s", diff)
	}
	_, scales, err = FromAvroDecimals(AvroSchema(allTypes(t)))
	if err != nil {
		t.Fatal(err)
	}
	for path, scale := range scales {
		if scale != 9 && scale != 38 {
			t.Errorf("AvroSchema states scale %d for %q, want BigQuery's 9 or 38", scale, path)
		}
	}
}

// TestFromAvroRefuses checks what FromAvro takes only as BigQuery writes it, and its bounds.
func TestFromAvroRefuses(t *testing.T) {
	record := func(fieldType string) string {
		return `{"type": "record", "name": "__root__", "fields": [{"name": "c", "type": ` + fieldType + `}]}`
	}
	deep := `"long"`
	for i := range 70 {
		deep = fmt.Sprintf(`{"type": "record", "name": "r%d", "fields": [{"name": "c", "type": %s}]}`, i, deep)
	}
	// Each record refers to the one before twice: 2^40 fields if walked without a bound.
	wide := `{"type": "record", "name": "w0", "fields": [{"name": "c", "type": "long"}]}`
	for i := 1; i <= 40; i++ {
		wide = fmt.Sprintf(`{"type": "record", "name": "w%d", "fields": [{"name": "a", "type": %s}, {"name": "b", "type": "w%d"}]}`, i, wide, i-1)
	}
	for name, js := range map[string]string{
		"float":          record(`"float"`),
		"null last":      record(`["long", "null"]`),
		"three branches": record(`["null", "long", "string"]`),
		"null twice":     record(`["null", "null"]`),
		"map":            record(`{"type": "map", "values": "long"}`),
		"bad scale":      record(`{"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 2.5}`),
		"too deep":       record(deep),
		"too wide":       record(wide),
	} {
		if _, err := FromAvro(js); !errors.Is(err, ErrInvalid) {
			t.Errorf("FromAvro(%s) error = %v, want ErrInvalid", name, err)
		}
	}
}

func picosSample(t *testing.T) Schema {
	t.Helper()
	data, err := os.ReadFile("../emulator/samples/bqread-demo/samples/picos/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServedRoundTrip: the picos sample (flexible names, TIMESTAMP(12) at the top, in an array and
// in a record) served in each precision comes back from its Arrow and Avro schemas as served, and
// goavro accepts the Avro schema, whose fields carry the column names as displayName.
func TestServedRoundTrip(t *testing.T) {
	for _, p := range []Digits{Micros, Nanos, Picos} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			want := stripDescriptions(Served(picosSample(t), p))
			back, err := FromArrow(ArrowSchema(want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("Arrow round trip (-want +got):\n%s", diff)
			}
			for _, js := range []string{AvroSchema(want), AvroSchemaDisplayNames(want)} {
				if _, err := goavro.NewCodec(js); err != nil {
					t.Fatalf("goavro rejects %s: %v", js, err)
				}
				back, err := FromAvro(js)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, back); diff != "" {
					t.Errorf("Avro round trip (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestAvroName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"id", "id", true},
		{"_x9", "_x9", true},
		{"2nd", "_326e64", false},
		{"a b", "_612062", false},
		{"é", "_c3a9", false},
	} {
		if got, ok := AvroName(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("AvroName(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestValidName checks validName against the regular expression of BigQuery's column names
// (flexible names included) that it replaced, on names of every kind of character BigQuery allows
// or refuses, at the length limit, and on invalid UTF-8.
func TestValidName(t *testing.T) {
	re := regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}&%=+:'<>#|]{1,300}$`)
	names := []string{"", "a", "_x9", "名前", "é", "e\u0301", "a-b", "a b", "a\u00a0b", "a\tb", "a.b", "a/b",
		"&%=+:'<>#|", "a!", "a$", "a\"b", "a\\b", "a\x00", "\xff", "a\xc3", "👍", "a,b", "a(b)", "٣", "ⅷ",
		strings.Repeat("a", 300), strings.Repeat("a", 301), strings.Repeat("é", 300), strings.Repeat("é", 301)}
	for r := rune(0); r < 0x3000; r += 7 {
		names = append(names, "x"+string(r))
	}
	for _, n := range names {
		if got, want := validName(n), re.MatchString(n); got != want {
			t.Errorf("validName(%q) = %v, the regular expression says %v", n, got, want)
		}
	}
}
