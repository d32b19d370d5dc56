package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
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

// traceID groups bqread's sessions in the service's logs.
const traceID = "bqread"

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
		TraceId:     traceID,
		ReadOptions: &storagepb.ReadSession_TableReadOptions{SelectedFields: r.Columns, RowRestriction: r.Where},
	}
	if !r.SnapshotTime.IsZero() {
		rs.TableModifiers = &storagepb.ReadSession_TableModifiers{SnapshotTime: timestamppb.New(r.SnapshotTime)}
	}
	if err := setFormat(rs, r.DataFormat, r.Compression); err != nil {
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
	default:
		return fmt.Errorf("%w: data format %q: use arrow or avro", ErrRequest, format)
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

// Create calls CreateReadSession for r.
func Create(ctx context.Context, c *storage.BigQueryReadClient, r Request) (*storagepb.ReadSession, error) {
	req, err := r.Proto()
	if err != nil {
		return nil, err
	}
	rs, err := c.CreateReadSession(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("create read session for %s: %w", r.Table, err)
	}
	return rs, nil
}
