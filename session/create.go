package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bqread/bqread/encode"
)

// The wire formats.
const (
	FormatArrow = "arrow"
	FormatAvro  = "avro"
)

// MaxStreams is the service's system maximum of streams per session.
const MaxStreams = 1000

// defaultTraceID groups bqread's sessions in the service's logs when the request names none.
const defaultTraceID = "bqread"

// ErrRequest is wrapped by errors for a Request that cannot be sent as given.
var ErrRequest = errors.New("session: invalid request")

// Request is what a read session is created for.
type Request struct {
	Table          TableRef
	BillingProject string    // parent project; the table's project when empty
	DataFormat     string    // FormatArrow (default) or FormatAvro
	Columns        []string  // selected_fields; all columns when empty
	Where          string    // row_restriction
	SnapshotTime   time.Time // table_modifiers.snapshot_time; now when zero
	Compression    string    // Arrow buffer compression: a name encode.ParseArrowCompression reads
	MaxStreams     int       // max_stream_count; 0 lets the server decide
	TraceID        string    // trace_id, which groups sessions in the service's logs; "bqread" when empty
	Sample         float64   // sample_percentage, in (0, 100]; 0 reads every row
	// ResponseCompression is the response_compression_codec: "" or "none", or ResponseLZ4 (each
	// payload one raw LZ4 block; not with Arrow buffer compression, as the service refuses both).
	ResponseCompression string
	// TimestampPrecision is the picos_timestamp_precision of TIMESTAMP(12) columns: "" or
	// "micros" (the default), "nanos" or "picos" (ISO 8601 text). Other columns are unaffected.
	TimestampPrecision string
}

// Proto returns the CreateReadSessionRequest for r.
func (r Request) Proto() (*storagepb.CreateReadSessionRequest, error) {
	parent := r.BillingProject
	if parent == "" {
		parent = r.Table.Project
	}
	if r.MaxStreams < 0 || r.MaxStreams > MaxStreams {
		return nil, fmt.Errorf("%w: max streams %d: use 1 to %d", ErrRequest, r.MaxStreams, MaxStreams)
	}
	rs := &storagepb.ReadSession{
		Table:       r.Table.Path(),
		TraceId:     cmp.Or(r.TraceID, defaultTraceID),
		ReadOptions: &storagepb.ReadSession_TableReadOptions{SelectedFields: r.Columns, RowRestriction: r.Where},
	}
	if r.Sample < 0 || r.Sample > 100 {
		return nil, fmt.Errorf("%w: sample percentage %g: use more than 0 and at most 100", ErrRequest, r.Sample)
	}
	if r.Sample > 0 {
		rs.ReadOptions.SamplePercentage = &r.Sample
	}
	if !r.SnapshotTime.IsZero() {
		rs.TableModifiers = &storagepb.ReadSession_TableModifiers{SnapshotTime: timestamppb.New(r.SnapshotTime)}
	}
	if err := setFormat(rs, r.DataFormat, r.Compression); err != nil {
		return nil, err
	}
	if err := setResponseCompression(rs, r.ResponseCompression); err != nil {
		return nil, err
	}
	if err := setTimestampPrecision(rs, r.TimestampPrecision); err != nil {
		return nil, err
	}
	return &storagepb.CreateReadSessionRequest{
		Parent:         "projects/" + parent,
		ReadSession:    rs,
		MaxStreamCount: int32(r.MaxStreams),
	}, nil
}

func setFormat(rs *storagepb.ReadSession, format, compression string) error {
	codec, err := parseCompression(compression)
	if err != nil {
		return err
	}
	switch strings.ToLower(format) {
	case "", FormatArrow:
		rs.DataFormat = storagepb.DataFormat_ARROW
		rs.ReadOptions.OutputFormatSerializationOptions = &storagepb.ReadSession_TableReadOptions_ArrowSerializationOptions{
			ArrowSerializationOptions: &storagepb.ArrowSerializationOptions{BufferCompression: codec},
		}
	case FormatAvro:
		if codec != storagepb.ArrowSerializationOptions_COMPRESSION_UNSPECIFIED {
			return fmt.Errorf("%w: wire compression %s applies to the arrow data format only", ErrRequest, compression)
		}
		rs.DataFormat = storagepb.DataFormat_AVRO
		// Flexible column names (spaces, non-ASCII) are not Avro names: with this the service
		// sends placeholders and each column's own name as a displayName, which schema.FromAvro reads.
		rs.ReadOptions.OutputFormatSerializationOptions = &storagepb.ReadSession_TableReadOptions_AvroSerializationOptions{
			AvroSerializationOptions: &storagepb.AvroSerializationOptions{EnableDisplayNameAttribute: true},
		}
	default:
		return fmt.Errorf("%w: data format %q: use arrow or avro", ErrRequest, format)
	}
	return nil
}

// ResponseLZ4 is the Request.ResponseCompression that asks for LZ4-compressed ReadRows payloads.
const ResponseLZ4 = "lz4"

func setResponseCompression(rs *storagepb.ReadSession, codec string) error {
	switch strings.ToLower(codec) {
	case "", "none":
		return nil
	case ResponseLZ4:
	default:
		return fmt.Errorf("%w: response compression %q: use none or lz4", ErrRequest, codec)
	}
	if rs.GetReadOptions().GetArrowSerializationOptions().GetBufferCompression() != storagepb.ArrowSerializationOptions_COMPRESSION_UNSPECIFIED {
		return fmt.Errorf("%w: response compression %s and wire compression cannot be combined: the service allows at most one", ErrRequest, codec)
	}
	rs.ReadOptions.ResponseCompressionCodec = storagepb.ReadSession_TableReadOptions_RESPONSE_COMPRESSION_CODEC_LZ4.Enum()
	return nil
}

// The Request.TimestampPrecision values.
const (
	PrecisionMicros = "micros"
	PrecisionNanos  = "nanos"
	PrecisionPicos  = "picos"
)

// timestampPrecisions maps them to the enum's number, which the Arrow and Avro options share.
var timestampPrecisions = map[string]int32{
	"":              int32(storagepb.ArrowSerializationOptions_PICOS_TIMESTAMP_PRECISION_UNSPECIFIED),
	PrecisionMicros: int32(storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_MICROS),
	PrecisionNanos:  int32(storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_NANOS),
	PrecisionPicos:  int32(storagepb.ArrowSerializationOptions_TIMESTAMP_PRECISION_PICOS),
}

func setTimestampPrecision(rs *storagepb.ReadSession, precision string) error {
	p, ok := timestampPrecisions[strings.ToLower(precision)]
	if !ok {
		return fmt.Errorf("%w: timestamp precision %q: use micros, nanos or picos", ErrRequest, precision)
	}
	ro := rs.GetReadOptions()
	if o := ro.GetAvroSerializationOptions(); o != nil {
		o.PicosTimestampPrecision = storagepb.AvroSerializationOptions_PicosTimestampPrecision(p)
	} else if o := ro.GetArrowSerializationOptions(); o != nil {
		o.PicosTimestampPrecision = storagepb.ArrowSerializationOptions_PicosTimestampPrecision(p)
	}
	return nil
}

func parseCompression(s string) (storagepb.ArrowSerializationOptions_CompressionCodec, error) {
	c, err := encode.ParseArrowCompression(s)
	if err != nil {
		return 0, fmt.Errorf("%w: wire compression %q: use none, lz4 or zstd", ErrRequest, s)
	}
	switch c {
	case encode.ArrowLZ4:
		return storagepb.ArrowSerializationOptions_LZ4_FRAME, nil
	case encode.ArrowZstd:
		return storagepb.ArrowSerializationOptions_ZSTD, nil
	}
	return storagepb.ArrowSerializationOptions_COMPRESSION_UNSPECIFIED, nil
}

// DefaultConnectTimeout is how long Create keeps retrying CreateReadSession on transient errors
// unless told otherwise (WithConnectTimeout).
const DefaultConnectTimeout = time.Minute

// CreateOption tunes Create.
type CreateOption func(*createConfig)

type createConfig struct {
	budget  time.Duration
	onRetry func(attempt int, err error, delay time.Duration)
}

// WithConnectTimeout bounds the time Create spends retrying (default DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) CreateOption {
	return func(c *createConfig) { c.budget = d }
}

// OnRetry has f called before each retry, with the attempt that failed, its error and the delay.
func OnRetry(f func(attempt int, err error, delay time.Duration)) CreateOption {
	return func(c *createConfig) { c.onRetry = f }
}

// Create calls CreateReadSession for r, retrying UNAVAILABLE, RESOURCE_EXHAUSTED and
// DEADLINE_EXCEEDED with exponential backoff (it turns off the client library's own retries, so
// that each one can be seen) until the connect timeout, and then returns the last error.
func Create(ctx context.Context, c *storage.BigQueryReadClient, r Request, opts ...CreateOption) (*storagepb.ReadSession, error) {
	req, err := r.Proto()
	if err != nil {
		return nil, err
	}
	cfg := createConfig{budget: DefaultConnectTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	deadline := time.Now().Add(cfg.budget)
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithDeadline(ctx, deadline)
		rs, err := c.CreateReadSession(callCtx, req, gax.WithRetry(nil))
		cancel()
		if err == nil {
			return rs, nil
		}
		if !retryCreate(err) || ctx.Err() != nil || time.Now().Add(delay).After(deadline) {
			return nil, fmt.Errorf("create read session for %s (attempt %d): %w", r.Table, attempt, err)
		}
		if cfg.onRetry != nil {
			cfg.onRetry(attempt, err, delay)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// retryCreate reports whether a CreateReadSession error may go away on its own.
func retryCreate(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		return true
	}
	return false
}
