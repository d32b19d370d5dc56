package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bqread/bqread/schema"
)

// testEnv is a running emulator and an official Storage Read client connected to it.
type testEnv struct {
	inst   *Instance
	client *storage.BigQueryReadClient
	dir    string
	clock  *testClock
}

// testClock is a settable clock, starting at the real time.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func startEnv(t testing.TB, o Options) *testEnv {
	t.Helper()
	env := &testEnv{dir: t.TempDir(), clock: &testClock{}}
	if o.DataDir == "" {
		o.DataDir = env.dir
	}
	env.dir = o.DataDir
	o.Now = env.clock.now
	ctx := t.Context()
	inst, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	client, err := storage.NewBigQueryReadClient(ctx, option.WithEndpoint(inst.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	env.inst, env.client = inst, client
	return env
}

const (
	billing       = "projects/my-billing"
	allTypesTable = "projects/bqread-demo/datasets/samples/tables/all_types"
)

type sessionOpts struct {
	table       string
	format      storagepb.DataFormat
	compression storagepb.ArrowSerializationOptions_CompressionCodec
	maxStreams  int32
	fields      []string
	filter      string
	snapshot    time.Time
}

func (e *testEnv) createSession(ctx context.Context, o sessionOpts) (*storagepb.ReadSession, error) {
	if o.format == 0 {
		o.format = storagepb.DataFormat_ARROW
	}
	rs := &storagepb.ReadSession{
		Table:       o.table,
		DataFormat:  o.format,
		ReadOptions: &storagepb.ReadSession_TableReadOptions{SelectedFields: o.fields, RowRestriction: o.filter},
	}
	if o.compression != 0 {
		rs.ReadOptions.OutputFormatSerializationOptions = &storagepb.ReadSession_TableReadOptions_ArrowSerializationOptions{
			ArrowSerializationOptions: &storagepb.ArrowSerializationOptions{BufferCompression: o.compression}}
	}
	if !o.snapshot.IsZero() {
		rs.TableModifiers = &storagepb.ReadSession_TableModifiers{SnapshotTime: timestamppb.New(o.snapshot)}
	}
	return e.client.CreateReadSession(ctx, &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: rs, MaxStreamCount: o.maxStreams})
}

func (e *testEnv) mustSession(t *testing.T, o sessionOpts) *storagepb.ReadSession {
	t.Helper()
	s, err := e.createSession(t.Context(), o)
	if err != nil {
		t.Fatalf("CreateReadSession(%s): %v", o.table, err)
	}
	return s
}

// readStream reads one stream from offset to its end and returns every response.
func (e *testEnv) readStream(ctx context.Context, name string, offset int64) ([]*storagepb.ReadRowsResponse, error) {
	rows, err := e.client.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: name, Offset: offset})
	if err != nil {
		return nil, err
	}
	var out []*storagepb.ReadRowsResponse
	for {
		r, err := rows.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

// decodeArrow decodes Arrow responses independently of bqread: schema bytes + batch bytes read as
// one IPC stream by arrow-go's own reader.
func decodeArrow(t *testing.T, schemaMsg []byte, resps []*storagepb.ReadRowsResponse, mem memory.Allocator) []arrow.Record {
	t.Helper()
	var recs []arrow.Record
	for i, r := range resps {
		batch := r.GetArrowRecordBatch().GetSerializedRecordBatch()
		rd, err := ipc.NewReader(io.MultiReader(bytes.NewReader(schemaMsg), bytes.NewReader(batch)), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatalf("response %d: ipc.NewReader: %v", i, err)
		}
		if !rd.Next() {
			t.Fatalf("response %d: no record batch: %v", i, rd.Err())
		}
		rec := rd.Record()
		rec.Retain()
		if got, want := rec.NumRows(), r.GetRowCount(); got != want {
			t.Fatalf("response %d: batch has %d rows, row_count says %d", i, got, want)
		}
		if rd.Next() {
			t.Fatalf("response %d holds more than one batch", i)
		}
		rd.Release()
		recs = append(recs, rec)
	}
	return recs
}

// readAllArrow reads every stream of an Arrow session in order and returns the rows as one record.
func (e *testEnv) readAllArrow(t *testing.T, sess *storagepb.ReadSession, mem memory.Allocator) arrow.Record {
	t.Helper()
	schemaMsg := sess.GetArrowSchema().GetSerializedSchema()
	var all []arrow.Record
	for _, st := range sess.GetStreams() {
		resps, err := e.readStream(t.Context(), st.GetName(), 0)
		if err != nil {
			t.Fatalf("ReadRows(%s): %v", st.GetName(), err)
		}
		checkResponses(t, resps)
		all = append(all, decodeArrow(t, schemaMsg, resps, mem)...)
	}
	if len(all) == 0 {
		rd, err := ipc.NewReader(bytes.NewReader(schemaMsg), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Release()
		b := array.NewRecordBuilder(mem, rd.Schema())
		defer b.Release()
		return b.NewRecord()
	}
	rec, err := concatRecords(all, mem)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// checkResponses checks the per-response fields: schema on the first only, progress, throttle.
func checkResponses(t *testing.T, resps []*storagepb.ReadRowsResponse) {
	t.Helper()
	prev := 0.0
	for i, r := range resps {
		hasSchema := r.GetArrowSchema() != nil || r.GetAvroSchema() != nil
		if hasSchema != (i == 0) {
			t.Fatalf("response %d: schema present = %v", i, hasSchema)
		}
		p := r.GetStats().GetProgress()
		if p.GetAtResponseStart() != prev || p.GetAtResponseEnd() <= p.GetAtResponseStart() || p.GetAtResponseEnd() > 1 {
			t.Fatalf("response %d: progress %v → %v after %v", i, p.GetAtResponseStart(), p.GetAtResponseEnd(), prev)
		}
		if r.GetThrottleState() == nil {
			t.Fatalf("response %d: no throttle_state", i)
		}
		prev = p.GetAtResponseEnd()
	}
	if len(resps) > 0 && prev != 1 {
		t.Fatalf("last response ends at progress %v, want 1", prev)
	}
}

// recordsEqual compares exactly, with NaN equal to NaN.
func recordsEqual(a, b arrow.Record) bool {
	return a.Schema().Equal(b.Schema()) && array.RecordApproxEqual(a, b, array.WithNaNsEqual(true), array.WithAbsTolerance(0))
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), msg) {
		t.Fatalf("err = %v, want %s containing %q", err, code, msg)
	}
}

func TestReadAllTypesArrow(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 2 << 10}) // small responses: several per stream
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, want := loadAllTypes(t, mem)
	defer want.Release()
	codecs := []storagepb.ArrowSerializationOptions_CompressionCodec{
		storagepb.ArrowSerializationOptions_COMPRESSION_UNSPECIFIED,
		storagepb.ArrowSerializationOptions_LZ4_FRAME,
		storagepb.ArrowSerializationOptions_ZSTD,
	}
	for _, codec := range codecs {
		for _, streams := range []int32{1, 3, 100} {
			t.Run(fmt.Sprint(codec, "/", streams), func(t *testing.T) {
				sess := env.mustSession(t, sessionOpts{table: allTypesTable, compression: codec, maxStreams: streams})
				// Seven rows are less than one block: one stream, however many are asked for.
				if got := len(sess.GetStreams()); got != 1 {
					t.Fatalf("streams = %d, want 1", got)
				}
				got := env.readAllArrow(t, sess, mem)
				defer got.Release()
				if !recordsEqual(got, want) {
					t.Fatalf("rows read differ from the loaded table:\ngot  %v\nwant %v", got, want)
				}
				checkAllTypesExact(t, got)
			})
		}
	}
}

func TestSessionFields(t *testing.T) {
	env := startEnv(t, Options{})
	sess := env.mustSession(t, sessionOpts{table: allTypesTable, maxStreams: 2})
	if !strings.HasPrefix(sess.GetName(), "projects/my-billing/locations/") || !strings.Contains(sess.GetName(), "/sessions/") {
		t.Errorf("name = %q", sess.GetName())
	}
	if d := sess.GetExpireTime().AsTime().Sub(time.Now()); d < 5*time.Hour+59*time.Minute || d > 6*time.Hour+time.Minute {
		t.Errorf("expire_time is %v from now, want 6h", d)
	}
	if got, want := sess.GetEstimatedRowCount(), int64(7); got != want {
		t.Errorf("estimated_row_count = %d, want %d", got, want)
	}
	if sess.GetEstimatedTotalBytesScanned() <= 0 {
		t.Errorf("estimated_total_bytes_scanned = %d", sess.GetEstimatedTotalBytesScanned())
	}
	for _, st := range sess.GetStreams() {
		if !strings.HasPrefix(st.GetName(), sess.GetName()+"/streams/") {
			t.Errorf("stream name %q is not under the session", st.GetName())
		}
	}
	rd, err := ipc.NewReader(bytes.NewReader(sess.GetArrowSchema().GetSerializedSchema()))
	if err != nil {
		t.Fatalf("serialized_schema is not one IPC schema message: %v", err)
	}
	defer rd.Release()
	s, err := schema.Parse(mustRead(t, allTypesDir+"schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Schema().Equal(schema.ArrowSchema(s)) {
		t.Errorf("schema = %v, want schema.ArrowSchema", rd.Schema())
	}
	avro := env.mustSession(t, sessionOpts{table: allTypesTable, format: storagepb.DataFormat_AVRO})
	if got, want := avro.GetAvroSchema().GetSchema(), schema.AvroSchema(s); got != want {
		t.Errorf("avro schema = %s, want %s", got, want)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamCounts(t *testing.T) {
	env := startEnv(t, Options{})
	ref := tableRef{"my-project", "ds", "gen"}
	writeTable(t, env.dir, ref, kvSchema, "synthetic.json", `{"rows": 200000, "seed": 3}`)
	small := tableRef{"my-project", "ds", "small"}
	writeTable(t, env.dir, small, kvSchema, "synthetic.json", `{"rows": 300, "seed": 3}`)
	tests := []struct {
		table    tableRef
		max, min int32
		want     int
	}{
		{ref, 0, 0, 1},
		{ref, 0, 8, 8},
		{ref, 5, 0, 5},
		{ref, 5000, 0, 1000}, // clamped to the system maximum
		{ref, 0, 5000, 1000},
		{small, 10, 0, 3}, // 300 rows are three blocks: at most three streams
		{small, 0, 10, 3},
		{small, 2, 0, 2},
	}
	for _, tt := range tests {
		req := &storagepb.CreateReadSessionRequest{Parent: billing, MaxStreamCount: tt.max, PreferredMinStreamCount: tt.min,
			ReadSession: &storagepb.ReadSession{Table: tt.table.String(), DataFormat: storagepb.DataFormat_ARROW}}
		sess, err := env.client.CreateReadSession(t.Context(), req)
		if err != nil {
			t.Fatalf("max %d min %d: %v", tt.max, tt.min, err)
		}
		if got := len(sess.GetStreams()); got != tt.want {
			t.Errorf("max %d min %d: %d streams, want %d", tt.max, tt.min, got, tt.want)
		}
	}
}

// genTable makes a synthetic trips-like table in the data directory and returns its path.
func genTable(t *testing.T, env *testEnv, name string, rows int) string {
	t.Helper()
	ref := tableRef{"my-project", "ds", name}
	writeTable(t, env.dir, ref, string(mustRead(t, "samples/bqread-demo/samples/trips/schema.json")), "synthetic.json",
		`{"rows": `+itoa(rows)+`, "seed": 9}`)
	return ref.String()
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestOffsetsAndResponseSizes(t *testing.T) {
	const target = 16 << 10
	env := startEnv(t, Options{ResponseBytes: target})
	table := genTable(t, env, "trips_small", 5000)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sess := env.mustSession(t, sessionOpts{table: table, maxStreams: 1})
	name := sess.GetStreams()[0].GetName()
	schemaMsg := sess.GetArrowSchema().GetSerializedSchema()
	full, err := env.readStream(t.Context(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) < 3 {
		t.Fatalf("%d responses for 5000 rows at %d bytes each, want several", len(full), target)
	}
	for i, r := range full {
		if n := len(r.GetArrowRecordBatch().GetSerializedRecordBatch()); n > target || (i < len(full)-1 && n < target/4) {
			t.Errorf("response %d: %d payload bytes, want at most %d and not tiny", i, n, target)
		}
	}
	straight := concat(t, decodeArrow(t, schemaMsg, full, mem), mem)
	defer straight.Release()
	for _, off := range []int64{1, 1234, 4999} {
		resps, err := env.readStream(t.Context(), name, off)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		got := concat(t, decodeArrow(t, schemaMsg, resps, mem), mem)
		want := straight.NewSlice(off, 5000)
		if !recordsEqual(got, want) {
			t.Errorf("offset %d: resumed rows differ from the straight read", off)
		}
		got.Release()
		want.Release()
	}
	end, err := env.readStream(t.Context(), name, 5000)
	if err != nil || len(end) != 0 {
		t.Errorf("offset = row count: %d responses, err %v; want a clean end", len(end), err)
	}
	_, err = env.readStream(t.Context(), name, 5001)
	wantCode(t, err, codes.FailedPrecondition, "offset 5001 has not been allocated yet")
	_, err = env.readStream(t.Context(), name, -1)
	wantCode(t, err, codes.InvalidArgument, "offset")
}

func concat(t *testing.T, recs []arrow.Record, mem memory.Allocator) arrow.Record {
	t.Helper()
	rec, err := concatRecords(recs, mem)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestFirstResponseOfBigTable(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 256 << 10})
	sess := env.mustSession(t, sessionOpts{table: "projects/bqread-demo/datasets/samples/tables/trips"})
	if got := len(sess.GetStreams()); got != 8 {
		t.Fatalf("trips: %d streams, want 8 (one per 250,000 rows)", got)
	}
	rows, err := env.client.ReadRows(t.Context(), &storagepb.ReadRowsRequest{ReadStream: sess.GetStreams()[7].GetName()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rows.Recv()
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := decodeArrow(t, sess.GetArrowSchema().GetSerializedSchema(), []*storagepb.ReadRowsResponse{r}, mem)
	defer recs[0].Release()
	ids := recs[0].Column(0).(*array.Int64)
	// 2,000,000 rows are 15,625 blocks: stream 7 of 8 starts at block 15,625*7/8.
	if got, want := ids.Value(0), int64(15_625*7/8*blockRows+1); got != want {
		t.Errorf("first trip_id of stream 7 = %d, want %d", got, want)
	}
	if n := len(r.GetArrowRecordBatch().GetSerializedRecordBatch()); n > 256<<10 || n < 64<<10 {
		t.Errorf("payload %d bytes, want close to 256 KiB", n)
	}
}

func TestSplitReadStream(t *testing.T) {
	env := startEnv(t, Options{ResponseBytes: 8 << 10})
	table := genTable(t, env, "trips_split", 1000)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sess := env.mustSession(t, sessionOpts{table: table, maxStreams: 1})
	orig := sess.GetStreams()[0].GetName()
	schemaMsg := sess.GetArrowSchema().GetSerializedSchema()
	split, err := env.client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: orig, Fraction: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string, off int64) arrow.Record {
		resps, err := env.readStream(t.Context(), name, off)
		if err != nil {
			t.Fatalf("ReadRows(%s, %d): %v", name, off, err)
		}
		return concat(t, decodeArrow(t, schemaMsg, resps, mem), mem)
	}
	whole := read(orig, 0) // the original stays readable
	defer whole.Release()
	primary, remainder := read(split.GetPrimaryStream().GetName(), 0), read(split.GetRemainderStream().GetName(), 0)
	defer primary.Release()
	defer remainder.Release()
	// 1,000 rows are eight blocks (the last one short): a quarter is two blocks.
	if got, want := primary.NumRows(), int64(2*blockRows); got != want {
		t.Fatalf("primary rows = %d, want %d (two blocks)", got, want)
	}
	joined := concat(t, []arrow.Record{primary, remainder}, mem)
	primary.Retain()
	remainder.Retain()
	defer joined.Release()
	if !recordsEqual(joined, whole) {
		t.Fatal("primary + remainder differ from the original stream")
	}
	// A reader already at row 600 of the original is past the split point of the primary.
	_, err = env.readStream(t.Context(), split.GetPrimaryStream().GetName(), 600)
	wantCode(t, err, codes.FailedPrecondition, "offset 600 has not been allocated yet")

	tiny := genTable(t, env, "one_row", 1)
	one := env.mustSession(t, sessionOpts{table: tiny}).GetStreams()[0].GetName()
	none, err := env.client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: one, Fraction: 0.5})
	if err != nil || none.GetPrimaryStream() != nil || none.GetRemainderStream() != nil {
		t.Errorf("splitting a one-row stream = %v, %v; want both streams empty", none, err)
	}
	for _, f := range []float64{0, 1, -0.5, 2} {
		_, err := env.client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: orig, Fraction: f})
		wantCode(t, err, codes.InvalidArgument, "fraction")
	}
}

func TestProjection(t *testing.T) {
	env := startEnv(t, Options{})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sess := env.mustSession(t, sessionOpts{table: allTypesTable, fields: []string{"st.arr.x", "ast.k", "s", "id"}})
	got := env.readAllArrow(t, sess, mem)
	defer got.Release()
	var names []string
	for _, f := range got.Schema().Fields() {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "id,s,st,ast" {
		t.Fatalf("columns = %v, want table order id,s,st,ast", names)
	}
	if got, want := got.Schema().Field(2).Type.String(), "struct<arr: list<item: struct<x: float64 nullable>>>"; got != want {
		t.Errorf("st type = %s, want %s", got, want)
	}
	tests := []struct {
		col  int
		row  int
		want string
	}{
		{2, 0, `{"arr":[{"x":1.5},{"x":null}]}`},
		{2, 1, `(null)`},
		{3, 0, `[{"k":"a"},{"k":"b"}]`},
		{1, 3, "line1\nline2 \"quoted\", comma\ttab"},
	}
	for _, tt := range tests {
		if v := got.Column(tt.col).ValueStr(tt.row); v != tt.want {
			t.Errorf("column %d row %d = %q, want %q", tt.col, tt.row, v, tt.want)
		}
	}
	_, err := env.createSession(t.Context(), sessionOpts{table: allTypesTable, fields: []string{"id", "nope"}})
	wantCode(t, err, codes.InvalidArgument, "nope")
}

func TestSnapshotIsolation(t *testing.T) {
	env := startEnv(t, Options{})
	ref := tableRef{"my-project", "ds", "kv"}
	tdir := writeTable(t, env.dir, ref, kvSchema, "data.ndjson", `{"k":1,"v":"old"}`)
	t0 := time.Now().Add(-time.Hour)
	setTimes(t, tdir, t0)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	old := env.mustSession(t, sessionOpts{table: ref.String()})
	if err := os.WriteFile(filepath.Join(tdir, "data.ndjson"), []byte(`{"k":1,"v":"new"}`+"\n"+`{"k":2,"v":"new"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := func(s *storagepb.ReadSession) string {
		rec := env.readAllArrow(t, s, mem)
		defer rec.Release()
		return rec.Column(1).String()
	}
	fresh := env.mustSession(t, sessionOpts{table: ref.String()})
	past := env.mustSession(t, sessionOpts{table: ref.String(), snapshot: t0.Add(time.Minute)})
	for _, tt := range []struct {
		name string
		sess *storagepb.ReadSession
		want string
	}{
		{"session created before the change", old, `["old"]`},
		{"session created after the change", fresh, `["new" "new"]`},
		{"snapshot before the change", past, `["old"]`},
	} {
		if got := rows(tt.sess); got != tt.want {
			t.Errorf("%s: rows %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err := env.createSession(t.Context(), sessionOpts{table: ref.String(), snapshot: time.Now().Add(time.Hour)})
	wantCode(t, err, codes.InvalidArgument, "in the future")
	_, err = env.createSession(t.Context(), sessionOpts{table: ref.String(), snapshot: t0.Add(-time.Hour)})
	wantCode(t, err, codes.InvalidArgument, "before the creation time")
}

func TestZeroStreams(t *testing.T) {
	env := startEnv(t, Options{})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sess := env.mustSession(t, sessionOpts{table: "projects/bqread-demo/datasets/samples/tables/empty", maxStreams: 4})
	if n := len(sess.GetStreams()); n != 0 {
		t.Fatalf("empty table: %d streams, want 0", n)
	}
	if sess.GetArrowSchema() == nil || sess.GetEstimatedRowCount() != 0 {
		t.Fatalf("empty table session lacks its schema or counts rows: %v", sess)
	}
	rec := env.readAllArrow(t, sess, mem)
	defer rec.Release()
	if rec.NumCols() != 4 || rec.NumRows() != 0 {
		t.Fatalf("empty table read = %d cols, %d rows", rec.NumCols(), rec.NumRows())
	}
}

func TestErrors(t *testing.T) {
	env := startEnv(t, Options{})
	ctx := t.Context()
	long := strings.Repeat("x", 257)
	tests := []struct {
		name string
		req  *storagepb.CreateReadSessionRequest
		code codes.Code
		msg  string
	}{
		{"no parent", &storagepb.CreateReadSessionRequest{ReadSession: &storagepb.ReadSession{Table: allTypesTable, DataFormat: storagepb.DataFormat_ARROW}}, codes.InvalidArgument, "parent"},
		{"bad table path", &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: &storagepb.ReadSession{Table: "bqread-demo.samples.all_types", DataFormat: storagepb.DataFormat_ARROW}}, codes.InvalidArgument, "projects/{project}/datasets/{dataset}/tables/{table}"},
		{"bad dataset id", &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: &storagepb.ReadSession{Table: "projects/bqread-demo/datasets/sa-mples/tables/x", DataFormat: storagepb.DataFormat_ARROW}}, codes.InvalidArgument, "dataset ID"},
		{"unknown table", &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: &storagepb.ReadSession{Table: "projects/bqread-demo/datasets/samples/tables/nope", DataFormat: storagepb.DataFormat_ARROW}}, codes.NotFound, "projects/bqread-demo/datasets/samples/tables/nope"},
		{"unknown project", &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: &storagepb.ReadSession{Table: "projects/other-project/datasets/d/tables/t", DataFormat: storagepb.DataFormat_AVRO}}, codes.NotFound, "projects/other-project/datasets/d/tables/t"},
		{"no format", &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: &storagepb.ReadSession{Table: allTypesTable}}, codes.InvalidArgument, "data_format"},
		{"min above max", &storagepb.CreateReadSessionRequest{Parent: billing, MaxStreamCount: 2, PreferredMinStreamCount: 3, ReadSession: &storagepb.ReadSession{Table: allTypesTable, DataFormat: storagepb.DataFormat_ARROW}}, codes.InvalidArgument, "preferred_min_stream_count must be less than or equal to max_stream_count"},
		{"long trace id", &storagepb.CreateReadSessionRequest{Parent: billing, ReadSession: &storagepb.ReadSession{Table: allTypesTable, DataFormat: storagepb.DataFormat_ARROW, TraceId: long}}, codes.InvalidArgument, "trace_id"},
		{"no read session", &storagepb.CreateReadSessionRequest{Parent: billing}, codes.InvalidArgument, "read_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.client.CreateReadSession(ctx, tt.req)
			wantCode(t, err, tt.code, tt.msg)
		})
	}
	_, err := env.readStream(ctx, "projects/p/locations/us/sessions/x/streams/y", 0)
	wantCode(t, err, codes.NotFound, "not found")
	_, err = env.readStream(ctx, "garbage", 0)
	wantCode(t, err, codes.InvalidArgument, "read stream name")
}

func TestSessionExpiry(t *testing.T) {
	env := startEnv(t, Options{})
	sess := env.mustSession(t, sessionOpts{table: allTypesTable})
	env.clock.advance(6*time.Hour + time.Second)
	_, err := env.readStream(t.Context(), sess.GetStreams()[0].GetName(), 0)
	wantCode(t, err, codes.FailedPrecondition, "session expired at "+sess.GetExpireTime().AsTime().UTC().Format(time.RFC3339))
	_, err = env.client.SplitReadStream(t.Context(), &storagepb.SplitReadStreamRequest{Name: sess.GetStreams()[0].GetName(), Fraction: 0.5})
	wantCode(t, err, codes.FailedPrecondition, "session expired")
}

func TestPanicRecovery(t *testing.T) {
	log := discardLogger()
	unary := recoverUnary(log)
	_, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/Unary"}, func(context.Context, any) (any, error) {
		panic("boom")
	})
	wantCode(t, err, codes.Internal, "boom")
	stream := recoverStream(log)
	err = stream(nil, nil, &grpc.StreamServerInfo{FullMethod: "/x/Stream"}, func(any, grpc.ServerStream) error {
		var m map[string]int
		m["x"]++ // a nil map write panics
		return nil
	})
	wantCode(t, err, codes.Internal, "/x/Stream")
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSamplePercentage(t *testing.T) {
	env := startEnv(t, Options{})
	table := genTable(t, env, "sampled", 100*sampleBlockRows)
	count := func(p float64) int64 {
		pct := p
		sess, err := env.client.CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{Parent: billing,
			ReadSession: &storagepb.ReadSession{Table: table, DataFormat: storagepb.DataFormat_ARROW,
				ReadOptions: &storagepb.ReadSession_TableReadOptions{SamplePercentage: &pct}}})
		if err != nil {
			t.Fatalf("sample %v: %v", p, err)
		}
		var n int64
		for _, st := range sess.GetStreams() {
			resps, err := env.readStream(t.Context(), st.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range resps {
				n += r.GetRowCount()
			}
		}
		if got, want := sess.GetEstimatedRowCount(), int64(p*sampleBlockRows); got != want {
			t.Fatalf("sample %v: estimated_row_count = %d, want %d (that share of the table's rows)", p, got, want)
		}
		return n
	}
	if got := count(100); got != 100*sampleBlockRows {
		t.Errorf("100%%: %d rows, want all", got)
	}
	if got := count(0); got != 0 {
		t.Errorf("0%%: %d rows, want none", got)
	}
	// Whole blocks are kept: 30% of 100 blocks is some tens of blocks.
	if got := count(30); got%sampleBlockRows != 0 || got < 10*sampleBlockRows || got > 50*sampleBlockRows {
		t.Errorf("30%%: %d rows, want whole blocks, about 30 of 100", got)
	}
	bad := 101.0
	_, err := env.client.CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{Parent: billing,
		ReadSession: &storagepb.ReadSession{Table: table, DataFormat: storagepb.DataFormat_ARROW,
			ReadOptions: &storagepb.ReadSession_TableReadOptions{SamplePercentage: &bad}}})
	wantCode(t, err, codes.InvalidArgument, "sample_percentage")
}

// TestSyntheticRowLimit: a synthetic table above MaxSyntheticRows is refused when it is loaded, and
// the server goes on serving; a table at the limit gets a session at once, sampled or not (streams
// own blocks of the table and count their rows as they are read), and its rows can be read.
func TestSyntheticRowLimit(t *testing.T) {
	env := startEnv(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a safety net, not a speed bound
	defer cancel()
	huge := tableRef{"my-project", "ds", "huge"}
	writeTable(t, env.dir, huge, kvSchema, "synthetic.json", `{"rows": 1000000000000000}`)
	_, err := env.createSession(ctx, sessionOpts{table: huge.String()})
	wantCode(t, err, codes.Internal, "at most 1000000000000 rows")
	if strings.Contains(status.Convert(err).Message(), "\n") {
		t.Errorf("error is not one line: %q", status.Convert(err).Message())
	}

	limit := tableRef{"my-project", "ds", "limit"}
	writeTable(t, env.dir, limit, kvSchema, "synthetic.json", `{"rows": 1000000000000}`)
	sess, err := env.createSession(ctx, sessionOpts{table: limit.String()})
	if err != nil {
		t.Fatalf("table at the limit: %v", err)
	}
	if got, want := sess.GetEstimatedRowCount(), int64(MaxSyntheticRows); got != want {
		t.Fatalf("estimated_row_count = %d, want %d", got, want)
	}
	readCtx, stop := context.WithCancel(ctx)
	rows, err := env.client.ReadRows(readCtx, &storagepb.ReadRowsRequest{ReadStream: sess.GetStreams()[len(sess.GetStreams())-1].GetName()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rows.Recv()
	stop()
	if err != nil || r.GetRowCount() == 0 {
		t.Fatalf("first response of the last stream: %d rows, err %v", r.GetRowCount(), err)
	}
	// 400 STRING columns: the table's estimated bytes times a row's estimated bytes overflow an int64.
	wide := tableRef{"my-project", "ds", "wide"}
	cols := `{"name":"k","type":"INT64"}`
	for i := range 400 {
		cols += fmt.Sprintf(`,{"name":"s%d","type":"STRING"}`, i)
	}
	writeTable(t, env.dir, wide, "["+cols+"]", "synthetic.json", `{"rows": 1000000000000}`)
	if sess, err := env.createSession(ctx, sessionOpts{table: wide.String()}); err != nil || sess.GetEstimatedTotalBytesScanned() != MaxSyntheticRows*(8+400*24) {
		t.Errorf("wide table at the limit: estimated_total_bytes_scanned = %d, err %v; want %d", sess.GetEstimatedTotalBytesScanned(), err, MaxSyntheticRows*(8+400*24))
	}
	// A sample of the table at the limit: the session is created without looking at the rows,
	// and its last stream reads whole sampled blocks from its start.
	half := 50.0
	sampled, err := env.client.CreateReadSession(ctx, &storagepb.CreateReadSessionRequest{Parent: billing,
		ReadSession: &storagepb.ReadSession{Table: limit.String(), DataFormat: storagepb.DataFormat_ARROW,
			ReadOptions: &storagepb.ReadSession_TableReadOptions{SamplePercentage: &half}}})
	if err != nil {
		t.Fatalf("sample of the table at the limit: %v", err)
	}
	readCtx, stop = context.WithCancel(ctx)
	rows, err = env.client.ReadRows(readCtx, &storagepb.ReadRowsRequest{ReadStream: sampled.GetStreams()[len(sampled.GetStreams())-1].GetName()})
	if err != nil {
		t.Fatal(err)
	}
	r, err = rows.Recv()
	stop()
	if err != nil || r.GetRowCount() == 0 {
		t.Fatalf("first response of the sampled last stream: %d rows, err %v", r.GetRowCount(), err)
	}
}

// TestInvalidUTF8Refused: a data.ndjson with invalid UTF-8 in a STRING value is refused, as a
// BigQuery load refuses it, with an error naming the line and the column.
func TestInvalidUTF8Refused(t *testing.T) {
	env := startEnv(t, Options{Logger: discardLogger()})
	tests := []struct {
		table, schema, data, want string
	}{
		{"kv", kvSchema, "{\"k\":1,\"v\":\"ok\"}\n{\"k\":2,\"v\":\"caf\xe9\"}\n", "line 2: column v: invalid UTF-8"},
		{"tags", `[{"name":"tags","type":"STRING","mode":"REPEATED"}]`, "{\"tags\":[\"a\",\"\xff\xfe\"]}\n", "line 1: column tags[1]: invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			ref := tableRef{"my-project", "ds", tt.table}
			writeTable(t, env.dir, ref, tt.schema, "data.ndjson", tt.data)
			_, err := env.createSession(t.Context(), sessionOpts{table: ref.String()})
			wantCode(t, err, codes.Internal, "load table my-project.ds."+tt.table+": data.ndjson: ")
			wantCode(t, err, codes.Internal, tt.want)
		})
	}
}
