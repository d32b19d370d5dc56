package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bqread/bqread/emulator/filter"
	"github.com/bqread/bqread/schema"
)

// Limits of the real service.
const (
	maxStreams          = 1000
	maxTraceID          = 256
	maxRowRestriction   = 1 << 20
	rowsPerServerStream = 250_000 // how many rows the server puts in a stream when it decides
	location            = "us"
)

// readServer implements storagepb.BigQueryReadServer over a catalog.
type readServer struct {
	storagepb.UnimplementedBigQueryReadServer
	catalog       *catalog
	cache         *payloadCache
	responseBytes int
	now           func() time.Time
	faults        *faultState
	shaper        *shaper
	quota         *readQuota // ReadRows calls being served, per project and per session
	allocation    string     // AllocationFixed or AllocationLiquid

	mu      sync.Mutex
	streams map[string]*readStream
	added   int
}

func (s *readServer) CreateReadSession(ctx context.Context, req *storagepb.CreateReadSessionRequest) (*storagepb.ReadSession, error) {
	billing, ok := strings.CutPrefix(req.GetParent(), "projects/")
	if !ok || billing == "" || strings.Contains(billing, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "parent %q must be of the form projects/{project_id}", req.GetParent())
	}
	rs := req.GetReadSession()
	if rs == nil {
		return nil, status.Error(codes.InvalidArgument, "read_session is required")
	}
	ref, err := parseTablePath(rs.GetTable())
	if err != nil {
		return nil, err
	}
	if err := checkSessionRequest(req); err != nil {
		return nil, err
	}
	var snapshot time.Time
	if ts := rs.GetTableModifiers().GetSnapshotTime(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "invalid snapshot_time: %v", err)
		}
		snapshot = ts.AsTime()
	}
	v, err := s.catalog.resolve(ctx, ref, snapshot)
	if err != nil {
		return nil, tableError(err)
	}
	if !v.readable() {
		// The real service's words, which clients (and bqread's hints) recognise.
		return nil, status.Error(codes.InvalidArgument, "request failed: non-table entities cannot be read with the storage API")
	}
	sess, err := s.newSession(billing, v, rs)
	if err != nil {
		return nil, err
	}
	total := v.rows.numRows()
	n := streamCount(total, req.GetMaxStreamCount(), req.GetPreferredMinStreamCount())
	out := &storagepb.ReadSession{
		Name:                       sess.name,
		ExpireTime:                 timestamppb.New(sess.expire),
		DataFormat:                 sess.format,
		Table:                      rs.GetTable(),
		TableModifiers:             rs.GetTableModifiers(),
		ReadOptions:                rs.GetReadOptions(),
		EstimatedRowCount:          estimateRows(sess.scanned, rs.GetReadOptions()),
		EstimatedTotalBytesScanned: estimateBytes(v, sess),
		TraceId:                    rs.GetTraceId(),
	}
	if sess.format == storagepb.DataFormat_ARROW {
		out.Schema = &storagepb.ReadSession_ArrowSchema{ArrowSchema: &storagepb.ArrowSchema{SerializedSchema: sess.arrowSchema}}
	} else {
		out.Schema = &storagepb.ReadSession_AvroSchema{AvroSchema: &storagepb.AvroSchema{Schema: sess.avroSchema}}
	}
	for _, st := range s.allocate(sess, total, n) {
		out.Streams = append(out.Streams, &storagepb.ReadStream{Name: st.name})
	}
	return out, nil
}

// checkSessionRequest validates the request fields that need no table.
func checkSessionRequest(req *storagepb.CreateReadSessionRequest) error {
	rs := req.GetReadSession()
	switch rs.GetDataFormat() {
	case storagepb.DataFormat_ARROW, storagepb.DataFormat_AVRO:
	default:
		return status.Errorf(codes.InvalidArgument, "data_format must be AVRO or ARROW, got %s", rs.GetDataFormat())
	}
	maxN, minN := req.GetMaxStreamCount(), req.GetPreferredMinStreamCount()
	switch {
	case maxN < 0:
		return status.Errorf(codes.InvalidArgument, "max_stream_count must not be negative, got %d", maxN)
	case minN < 0:
		return status.Errorf(codes.InvalidArgument, "preferred_min_stream_count must not be negative, got %d", minN)
	case maxN > 0 && minN > maxN:
		return status.Errorf(codes.InvalidArgument, "preferred_min_stream_count must be less than or equal to max_stream_count (%d > %d)", minN, maxN)
	case len(rs.GetTraceId()) > maxTraceID:
		return status.Errorf(codes.InvalidArgument, "trace_id is %d bytes; at most %d are allowed", len(rs.GetTraceId()), maxTraceID)
	case len(rs.GetReadOptions().GetRowRestriction()) > maxRowRestriction:
		return status.Errorf(codes.InvalidArgument, "row_restriction is %d bytes; at most 1 MB is allowed", len(rs.GetReadOptions().GetRowRestriction()))
	}
	if p := samplePercentage(rs.GetReadOptions()); p != nil && !(*p >= 0 && *p <= 100) {
		return status.Errorf(codes.InvalidArgument, "sample_percentage must be between 0 and 100, got %v", *p)
	}
	if rs.GetDataFormat() == storagepb.DataFormat_AVRO && rs.GetReadOptions().GetArrowSerializationOptions() != nil {
		return status.Error(codes.InvalidArgument, "arrow_serialization_options require data_format ARROW")
	}
	return nil
}

// samplePercentage returns read_options.sample_percentage, nil when unset.
func samplePercentage(o *storagepb.ReadSession_TableReadOptions) *float64 {
	if o == nil || o.SamplePercentage == nil {
		return nil
	}
	return o.SamplePercentage
}

// parseTablePath parses projects/{p}/datasets/{d}/tables/{t}.
func parseTablePath(p string) (tableRef, error) {
	parts := strings.Split(p, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "datasets" || parts[4] != "tables" {
		return tableRef{}, status.Errorf(codes.InvalidArgument, "read_session.table %q must be of the form projects/{project}/datasets/{dataset}/tables/{table}", p)
	}
	ref := tableRef{Project: parts[1], Dataset: parts[3], Table: parts[5]}
	if err := ref.validate(); err != nil {
		return tableRef{}, status.Error(codes.InvalidArgument, userMessage(err))
	}
	return ref, nil
}

// userMessage is an error's text without the emulator's sentinel prefix.
func userMessage(err error) string {
	for _, sentinel := range []error{errNotFound, errInvalidName, errSnapshot, errLoad} {
		if errors.Is(err, sentinel) {
			return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
		}
	}
	return err.Error()
}

// tableError maps catalog errors to gRPC status errors.
func tableError(err error) error {
	switch {
	case errors.Is(err, errNotFound):
		return status.Error(codes.NotFound, userMessage(err))
	case errors.Is(err, errInvalidName), errors.Is(err, errSnapshot):
		return status.Error(codes.InvalidArgument, userMessage(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, userMessage(err))
}

func (s *readServer) newSession(billing string, v *tableVersion, rs *storagepb.ReadSession) (*session, error) {
	opts := rs.GetReadOptions()
	selected, err := v.selectColumns(opts.GetSelectedFields())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "selected_fields: %v", err)
	}
	now := s.now()
	var f *filter.Filter
	if expr := opts.GetRowRestriction(); strings.TrimSpace(expr) != "" {
		if f, err = filter.Parse(expr, v.columns(), filter.WithNow(now)); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "row_restriction: %v", err)
		}
	}
	if err := v.checkPartitionFilter(f); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	compression, err := arrowCompression(opts.GetArrowSerializationOptions())
	if err != nil {
		return nil, err
	}
	lz4Responses, err := responseLZ4(opts)
	if err != nil {
		return nil, err
	}
	sess := &session{
		name:        fmt.Sprintf("projects/%s/locations/%s/sessions/%s", billing, location, newID()),
		version:     v,
		selected:    selected,
		arrow:       schema.ArrowSchema(selected),
		format:      rs.GetDataFormat(),
		compression: compression,
		lz4:         lz4Responses,
		filter:      f,
		keep:        newSampler(v, samplePercentage(opts)),
		expire:      now.Add(sessionTTL),
		cacheKey:    cacheKeyFor(v, opts, rs.GetDataFormat(), compression) + clockKey(f, now),
		cache:       s.cache,
		scanned:     v.scannedRows(f),
	}
	if err := setWireSchemas(sess, opts); err != nil {
		return nil, err
	}
	return sess, nil
}

// clockKey adds to a session's cache key the time its filter was parsed with, when the rows it
// keeps depend on it (CURRENT_DATE and the like).
func clockKey(f *filter.Filter, now time.Time) string {
	if f == nil || !f.ReadsClock() {
		return ""
	}
	return "|now=" + strconv.FormatInt(now.UnixMicro(), 10)
}

func arrowCompression(o *storagepb.ArrowSerializationOptions) (string, error) {
	switch c := o.GetBufferCompression(); c {
	case storagepb.ArrowSerializationOptions_COMPRESSION_UNSPECIFIED:
		return "", nil
	case storagepb.ArrowSerializationOptions_LZ4_FRAME:
		return "lz4", nil
	case storagepb.ArrowSerializationOptions_ZSTD:
		return "zstd", nil
	default:
		return "", status.Errorf(codes.InvalidArgument, "unknown buffer_compression %d", c)
	}
}

// streamCount decides how many streams a table of rows gets: what the client asked for (at most
// 1,000) or, when it left it to the server, one stream per 250,000 rows raised to its preferred
// minimum; never more streams than blocks (a stream owns at least one block of blockRows rows, so a
// small table gets fewer streams than asked for), and none at all for no rows.
func streamCount(rows int64, maxN, minN int32) int {
	n := int64(maxN)
	if n == 0 {
		n = max((rows+rowsPerServerStream-1)/rowsPerServerStream, int64(minN))
	}
	return int(min(n, maxStreams, (rows+blockRows-1)/blockRows))
}

// estimateRows is estimated_row_count from the rows of the partitions the row restriction does not
// prune (all of the table's without a restriction, when it is exact): all of them, as the rows a
// restriction keeps are only known once they are read; with a sample, its share of them.
func estimateRows(rows int64, o *storagepb.ReadSession_TableReadOptions) int64 {
	if p := samplePercentage(o); p != nil {
		return int64(float64(rows) * *p / 100)
	}
	return rows
}

// allocate makes the n streams of a session over a table of rows: fixed streams own consecutive
// ranges of whole blocks, as even as blocks allow; liquid ones share one pool of the table's blocks.
func (s *readServer) allocate(sess *session, rows int64, n int) []*readStream {
	if s.allocation == AllocationLiquid {
		sess.pool = &blockPool{total: rows}
	}
	blocks := (rows + blockRows - 1) / blockRows
	out := make([]*readStream, n)
	for i := range out {
		name := sess.name + "/streams/" + newID()
		if sess.pool != nil {
			out[i] = newLiquidStream(name, sess)
		} else {
			lo, hi := blocks*int64(i)/int64(n)*blockRows, min(blocks*int64(i+1)/int64(n)*blockRows, rows)
			out[i] = newFixedStream(name, sess, lo, hi)
		}
		s.addStream(out[i])
	}
	return out
}

// estimateBytes is the table's estimated bytes scaled to the session's columns and to the rows of
// the partitions it scans, computed in 128 bits so that a large table does not overflow.
func estimateBytes(v *tableVersion, sess *session) int64 {
	all, sel := estimateRowBytes(v.schema), estimateRowBytes(sess.selected)
	if v.rows.numRows() == 0 || all <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(v.bytes), uint64(min(sel, all)))
	q, _ := bits.Div64(hi, lo, uint64(all)) // q <= v.bytes: the quotient fits
	return prune(int64(q), sess.scanned, v.rows.numRows())
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return "CAIS" + hex.EncodeToString(b[:])
}

// forgetAfter is how long after its session expired a stream is still known (and answers "session
// expired" rather than NOT_FOUND).
const forgetAfter = 24 * time.Hour

// addStream registers a stream. Every 1,024 additions it forgets streams whose session expired long
// ago, so the registry stays bounded.
func (s *readServer) addStream(st *readStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[st.name] = st
	if s.added++; s.added%1024 == 0 {
		cutoff := s.now().Add(-forgetAfter)
		for name, old := range s.streams {
			if old.sess.expire.Before(cutoff) {
				delete(s.streams, name)
			}
		}
	}
}

// lookupStream finds a live stream by name.
func (s *readServer) lookupStream(name string) (*readStream, error) {
	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		if !strings.Contains(name, "/sessions/") || !strings.Contains(name, "/streams/") {
			return nil, status.Errorf(codes.InvalidArgument, "read stream name %q must be of the form projects/{p}/locations/{l}/sessions/{s}/streams/{id}", name)
		}
		return nil, status.Errorf(codes.NotFound, "read stream %s not found: create a new read session", name)
	}
	if now := s.now(); !now.Before(st.sess.expire) {
		return nil, status.Errorf(codes.FailedPrecondition, "there was an error operating on '%s': session expired at %s",
			name, st.sess.expire.UTC().Format(time.RFC3339))
	}
	return st, nil
}

func (s *readServer) SplitReadStream(_ context.Context, req *storagepb.SplitReadStreamRequest) (*storagepb.SplitReadStreamResponse, error) {
	f := req.GetFraction()
	if !(f > 0 && f < 1) {
		return nil, status.Errorf(codes.InvalidArgument, "fraction must be in (0, 1), got %v", f)
	}
	st, err := s.lookupStream(req.GetName())
	if err != nil {
		return nil, err
	}
	prefix := st.sess.name + "/streams/"
	primary, remainder, ok := st.split(f, prefix+newID(), prefix+newID())
	if !ok {
		return &storagepb.SplitReadStreamResponse{}, nil
	}
	s.addStream(primary)
	s.addStream(remainder)
	return &storagepb.SplitReadStreamResponse{
		PrimaryStream:   &storagepb.ReadStream{Name: primary.name},
		RemainderStream: &storagepb.ReadStream{Name: remainder.name},
	}, nil
}

func (s *readServer) ReadRows(req *storagepb.ReadRowsRequest, srv storagepb.BigQueryRead_ReadRowsServer) error {
	st, err := s.lookupStream(req.GetReadStream())
	if err != nil {
		return err
	}
	release, err := s.quota.acquire(st.sess.name, st.name)
	if err != nil {
		return err
	}
	defer release()
	off := req.GetOffset()
	if off < 0 {
		return status.Errorf(codes.InvalidArgument, "offset must not be negative, got %d", off)
	}
	ctx := srv.Context()
	if err := st.seek(ctx, off); err != nil {
		return readError(err, off)
	}
	sess := st.sess
	per, err := sess.rowsPerResponse(s.responseBytes)
	if err != nil {
		return status.Errorf(codes.Internal, "read rows: %v", err)
	}
	first, start := true, 0.0
	for pos := off; ; {
		// Responses follow a grid of per rows from the stream's start, so that resumed reads hit
		// the cache too.
		payload, n, end, err := sess.payload(ctx, s.cache, st, pos, (pos/per+1)*per-pos, s.responseBytes)
		if err != nil {
			return readError(err, pos)
		}
		if n == 0 {
			return nil
		}
		if err := s.faults.before(ctx, st); err != nil {
			return err
		}
		uncompressed := int64(0) // not set without a response_compression_codec
		if sess.lz4 {
			payload, uncompressed = compressPayload(payload)
		}
		throttle, err := s.shaper.wait(ctx, st.name, len(payload))
		if err != nil {
			return status.FromContextError(err).Err()
		}
		if first && pos > 0 {
			start = st.progress(st.rowAt(pos))
		}
		stop, err := st.progressAfter(ctx, pos+n, end)
		if err != nil {
			return readError(err, pos+n)
		}
		resp := s.response(st, n, payload, start, stop, throttle, first)
		if sess.lz4 {
			resp.UncompressedByteSize = &uncompressed
		}
		if err := srv.Send(resp); err != nil {
			return err
		}
		s.faults.sentRows(st.name, n)
		first, start = false, stop
		pos += n
	}
}

// readError maps an error of reading a stream at offset off to a gRPC status error.
func readError(err error, off int64) error {
	switch {
	case errors.Is(err, errNotAllocated):
		return status.Errorf(codes.FailedPrecondition, "offset %d has not been allocated yet", off)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Internal, "read rows at offset %d: %v", off, err)
}

// response builds one ReadRowsResponse of n rows, with the stream's progress before and after it.
func (s *readServer) response(st *readStream, n int64, payload []byte, start, stop float64, throttle int32, first bool) *storagepb.ReadRowsResponse {
	resp := &storagepb.ReadRowsResponse{
		RowCount:      n,
		Stats:         &storagepb.StreamStats{Progress: &storagepb.StreamStats_Progress{AtResponseStart: start, AtResponseEnd: stop}},
		ThrottleState: &storagepb.ThrottleState{ThrottlePercent: throttle},
	}
	sess := st.sess
	if sess.format == storagepb.DataFormat_ARROW {
		resp.Rows = &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: payload, RowCount: n}}
		if first {
			resp.Schema = &storagepb.ReadRowsResponse_ArrowSchema{ArrowSchema: &storagepb.ArrowSchema{SerializedSchema: sess.arrowSchema}}
		}
	} else {
		resp.Rows = &storagepb.ReadRowsResponse_AvroRows{AvroRows: &storagepb.AvroRows{SerializedBinaryRows: payload, RowCount: n}}
		if first {
			resp.Schema = &storagepb.ReadRowsResponse_AvroSchema{AvroSchema: &storagepb.AvroSchema{Schema: sess.avroSchema}}
		}
	}
	return resp
}
