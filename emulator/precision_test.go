package emulator

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/linkedin/goavro/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const picosTable = "projects/bqread-demo/datasets/samples/tables/picos"

// picosWant is the "event time" column of the picos sample as each precision serves it, written
// out independently of the emulator: the ISO text, and time.Time's own nanoseconds and
// microseconds (truncated toward the past); ok false for NULL.
var picosWant = []struct {
	iso    string
	nanos  int64
	micros int64
	ok     bool
}{
	{"2024-02-29T23:59:59.123456789012Z", utc(2024, 2, 29, 23, 59, 59, 123456789).UnixNano(), utc(2024, 2, 29, 23, 59, 59, 123456000).UnixMicro(), true},
	{"1969-12-31T23:59:59.999999999999Z", -1, -1, true},
	{"2001-09-08T23:46:40.000001000001Z", utc(2001, 9, 8, 23, 46, 40, 1000).UnixNano(), utc(2001, 9, 8, 23, 46, 40, 1000).UnixMicro(), true},
	{"", 0, 0, false},
	{"2024-06-01T12:00:00.500000000000Z", utc(2024, 6, 1, 12, 0, 0, 5e8).UnixNano(), utc(2024, 6, 1, 12, 0, 0, 5e8).UnixMicro(), true},
}

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func picosSession(t *testing.T, env *testEnv, format storagepb.DataFormat, p int32, displayNames bool) (*storagepb.ReadSession, error) {
	t.Helper()
	ro := &storagepb.ReadSession_TableReadOptions{}
	if format == storagepb.DataFormat_ARROW {
		ro.OutputFormatSerializationOptions = &storagepb.ReadSession_TableReadOptions_ArrowSerializationOptions{
			ArrowSerializationOptions: &storagepb.ArrowSerializationOptions{PicosTimestampPrecision: storagepb.ArrowSerializationOptions_PicosTimestampPrecision(p)}}
	} else {
		ro.OutputFormatSerializationOptions = &storagepb.ReadSession_TableReadOptions_AvroSerializationOptions{
			AvroSerializationOptions: &storagepb.AvroSerializationOptions{PicosTimestampPrecision: storagepb.AvroSerializationOptions_PicosTimestampPrecision(p),
				EnableDisplayNameAttribute: displayNames}}
	}
	return env.client.CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{
		Parent:         billing,
		ReadSession:    &storagepb.ReadSession{Table: picosTable, DataFormat: format, ReadOptions: ro},
		MaxStreamCount: 1,
	})
}

// TestPicosArrow reads the picos sample with Google's Storage Read client in Arrow at each
// picos_timestamp_precision and decodes it with arrow-go's own IPC reader: micros and nanos as
// timestamps of that unit, truncated; picos as the ISO 8601 text; the micros TIMESTAMP column
// unchanged; flexible column names as they are.
func TestPicosArrow(t *testing.T) {
	env := startEnv(t, Options{})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, tc := range []struct {
		name string
		p    storagepb.ArrowSerializationOptions_PicosTimestampPrecision
	}{
		{"unspecified", storagepb.ArrowSerializationOptions_PICOS_TIMESTAMP_PRECISION_UNSPECIFIED},
		{"micros", storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_MICROS},
		{"nanos", storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_NANOS},
		{"picos", storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_PICOS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess, err := picosSession(t, env, storagepb.DataFormat_ARROW, int32(tc.p), false)
			if err != nil {
				t.Fatal(err)
			}
			rec := env.readAllArrow(t, sess, mem)
			defer rec.Release()
			var names []string
			for _, f := range rec.Schema().Fields() {
				names = append(names, f.Name)
			}
			if diff := cmp.Diff([]string{"id", "event time", "plain_ts", "größe-ñ", "名前", "a&b=c+d:e'f<g>h#i|j", "2nd col", "laps", "inner rec"}, names); diff != "" {
				t.Errorf("column names (-want +got):\n%s", diff)
			}
			if got := rec.Column(2).DataType(); !arrow.TypeEqual(got, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}) {
				t.Errorf("plain_ts is %s, want timestamp[us, UTC] whatever the precision asked", got)
			}
			col := rec.Column(1)
			for i, w := range picosWant {
				if col.IsNull(i) == w.ok {
					t.Fatalf("row %d: null = %v, want %v", i, col.IsNull(i), !w.ok)
				}
				if !w.ok {
					continue
				}
				var got, want any
				switch tc.p {
				case storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_PICOS:
					got, want = col.(*array.String).Value(i), w.iso
				case storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_NANOS:
					got, want = int64(col.(*array.Timestamp).Value(i)), w.nanos
				default:
					got, want = int64(col.(*array.Timestamp).Value(i)), w.micros
				}
				if got != want {
					t.Errorf("row %d: event time = %v, want %v", i, got, want)
				}
			}
			if tc.p == storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_NANOS {
				laps := rec.Column(7).(*array.List).ListValues().(*array.Timestamp)
				// The third row's lap (value 2) is the last nanosecond of int64 (its picoseconds truncated), the fourth's (value 3) the first.
				if got := []int64{int64(laps.Value(2)), int64(laps.Value(3))}; got[0] != math.MaxInt64 || got[1] != math.MinInt64 {
					t.Errorf("laps at the int64 limits = %v", got)
				}
				inner := rec.Column(8).(*array.Struct).Field(0)
				if !arrow.TypeEqual(inner.DataType(), &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}) {
					t.Errorf("inner rec.at ps is %s, want timestamp[ns, UTC]", inner.DataType())
				}
			}
		})
	}
}

// TestPicosAvroDisplayNames reads the picos sample with Google's Storage Read client in Avro:
// without enable_display_name_attribute the flexible names make the session INVALID_ARGUMENT, as
// the proto says; with it, goavro accepts the schema, every field has its column name as
// displayName, and the TIMESTAMP(12) column is a timestamp-nanos long or the ISO text.
func TestPicosAvroDisplayNames(t *testing.T) {
	env := startEnv(t, Options{})
	_, err := picosSession(t, env, storagepb.DataFormat_AVRO, 0, false)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Avro session without display names: %v, want INVALID_ARGUMENT", err)
	}
	for _, p := range []storagepb.AvroSerializationOptions_PicosTimestampPrecision{
		storagepb.AvroSerializationOptions_TIMESTAMP_PRECISION_NANOS, storagepb.AvroSerializationOptions_TIMESTAMP_PRECISION_PICOS,
	} {
		t.Run(p.String(), func(t *testing.T) {
			sess, err := picosSession(t, env, storagepb.DataFormat_AVRO, int32(p), true)
			if err != nil {
				t.Fatal(err)
			}
			js := sess.GetAvroSchema().GetSchema()
			codec, err := goavro.NewCodec(js)
			if err != nil {
				t.Fatalf("goavro rejects %s: %v", js, err)
			}
			display := map[string]string{}
			var root struct {
				Fields []struct{ Name, DisplayName string }
			}
			if err := json.Unmarshal([]byte(js), &root); err != nil {
				t.Fatal(err)
			}
			for _, f := range root.Fields {
				display[f.DisplayName] = f.Name
			}
			for _, name := range []string{"id", "event time", "größe-ñ", "名前", "a&b=c+d:e'f<g>h#i|j", "2nd col", "inner rec"} {
				if _, ok := display[name]; !ok {
					t.Errorf("no field has displayName %q in %s", name, js)
				}
			}
			if display["id"] != "id" {
				t.Errorf("id's Avro name = %q, want id", display["id"])
			}
			resps, err := env.readStream(t.Context(), sess.GetStreams()[0].GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			var rows []map[string]any
			for _, r := range resps {
				rows = append(rows, decodeAvroRows(t, codec, r.GetAvroRows().GetSerializedBinaryRows())...)
			}
			for i, w := range picosWant {
				v := unwrap(rows[i][display["event time"]])
				if !w.ok {
					if v != nil {
						t.Errorf("row %d: %v, want null", i, v)
					}
					continue
				}
				var want any = w.iso
				if p == storagepb.AvroSerializationOptions_TIMESTAMP_PRECISION_NANOS {
					want = w.nanos
				}
				if v != want {
					t.Errorf("row %d: event time = %v (%T), want %v", i, v, v, want)
				}
			}
		})
	}
}

// TestPicosTablesGet reads the picos sample's metadata with cloud.google.com/go/bigquery: the
// TIMESTAMP(12) columns report timestampPrecision 12, the others none.
func TestPicosTablesGet(t *testing.T) {
	env := startEnv(t, Options{})
	client := restClient(t, env)
	md, err := client.DatasetInProject(SampleProject, SampleDataset).Table("picos").Metadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, f := range md.Schema {
		got[f.Name] = f.TimestampPrecision
	}
	got["inner rec.at ps"] = md.Schema[8].Schema[0].TimestampPrecision
	if got["event time"] != 12 || got["laps"] != 12 || got["inner rec.at ps"] != 12 || got["plain_ts"] != 0 {
		t.Errorf("timestampPrecision = %v", got)
	}
}
