package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/schema"
)

// manifestVersion changes when a reader of older manifests would misread newer ones. Version 2:
// segments count only with a commit record (package workdir). Version 3: a segment is a body of
// the output's layout (package output), not a whole file, and Avro has one sync marker. Version
// 4: streams split by the coordinator (Splits); a manifest is saved as version 4 only once it
// records a split, so that a bqread that reads version 3 refuses it, and a version 3 manifest is
// read as one without splits.
const (
	manifestVersion = 3
	splitVersion    = 4
)

// ErrManifest is wrapped by errors for a manifest that cannot be read or used.
var ErrManifest = errors.New("session: invalid manifest")

// Manifest is everything a worker needs to read one stream of a session and write its segments,
// and everything the merge needs to check and join them. It holds nothing secret: credentials come
// from each worker's environment.
type Manifest struct {
	Version         int           `json:"version"`
	Session         string        `json:"session"`
	Table           string        `json:"table"`
	Endpoint        string        `json:"endpoint,omitempty"`  // empty = the Google service
	Plaintext       bool          `json:"plaintext,omitempty"` // reach Endpoint without TLS or credentials
	DataFormat      string        `json:"data_format"`         // FormatArrow or FormatAvro
	WireCompression string        `json:"wire_compression,omitempty"`
	ArrowSchema     []byte        `json:"arrow_schema,omitempty"` // serialized IPC Schema message
	AvroSchema      string        `json:"avro_schema,omitempty"`
	Schema          schema.Schema `json:"schema"` // BigQuery schema of the selected columns
	// Streams are the read streams: the session's, then the remainder of each split (Splits).
	Streams []string `json:"streams"`
	// Splits are the streams the coordinator split (SplitReadStream), in the order it did.
	Splits         []Split   `json:"splits,omitempty"`
	EstimatedRows  int64     `json:"estimated_rows"`
	EstimatedBytes int64     `json:"estimated_bytes_scanned"`
	ExpireTime     time.Time `json:"expire_time,omitzero"`
	Columns        []string  `json:"columns,omitempty"`
	Where          string    `json:"where,omitempty"`
	Sample         float64   `json:"sample_percentage,omitempty"`
	SnapshotTime   time.Time `json:"snapshot_time,omitzero"`
	// StallTimeout is how long a worker waits for the next ReadRows response before it treats the
	// stream as stalled and resumes it; 0 means the worker's default.
	StallTimeout time.Duration `json:"stall_timeout,omitempty"`
	// ResponseCompression is the session's Request.ResponseCompression, for the record: workers
	// go by each response's uncompressed_byte_size, which says whether its payload is compressed.
	ResponseCompression string `json:"response_compression,omitempty"`
	// TimestampPrecision is the session's Request.TimestampPrecision, which the wire schema shows.
	TimestampPrecision string `json:"timestamp_precision,omitempty"`
	// Tasks is the number of tasks the workers are planned as: task i reads streams i,
	// i+Tasks, ... (one per stream when it equals the streams).
	Tasks int `json:"tasks"`
	// Limit, when not 0, is the most rows the session's one stream is read for (a preview).
	Limit int64 `json:"limit,omitempty"`
	// Query, for the export of a query, is the finished job whose destination table (Table) the
	// session reads: a resume reads that table again and never runs the query. Older manifests
	// have none; older readers ignore it and see the export of Table.
	Query  *QueryJob `json:"query,omitempty"`
	Output Output    `json:"output"`
}

// QueryJob is a finished query job whose destination table an export reads.
type QueryJob struct {
	SQL string `json:"sql"`
	Job string `json:"job"` // project:location.id
	// DestinationTable is the table asked for, as given; "" for the job's anonymous table.
	DestinationTable string `json:"destination_table,omitempty"`
	BytesProcessed   int64  `json:"total_bytes_processed"`
	BytesBilled      int64  `json:"total_bytes_billed"`
	CacheHit         bool   `json:"cache_hit,omitempty"`
}

// Output says how workers write segments.
type Output struct {
	Format      string `json:"format"` // an output.Format
	Compression string `json:"compression,omitempty"`
	// FieldDelimiter, NoHeader and NullMarker are CSV's output.Options: every segment, and so
	// the merged file, is written with them.
	FieldDelimiter string `json:"field_delimiter,omitempty"`
	NoHeader       bool   `json:"no_header,omitempty"`
	NullMarker     string `json:"null_marker,omitempty"`
	SegmentRows    int64  `json:"segment_rows"`  // a segment is committed at this many rows
	SegmentBytes   int64  `json:"segment_bytes"` // or at this many wire bytes, whichever comes first
	// AvroSync is the sync marker of every Avro segment and of the merged file, chosen once for
	// the export so that segments' blocks join unchanged.
	AvroSync []byte `json:"avro_sync,omitempty"`
	// MaxBytes, when not 0, ends a segment before its body would pass this many bytes, as far as
	// the growth of its last response tells (a many-file output's file size bound, less room
	// for the header and footer).
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

// NewManifest describes the session rs created for r on endpoint, to be written as out.
func NewManifest(rs *storagepb.ReadSession, r Request, endpoint string, out Output) (*Manifest, error) {
	m := &Manifest{
		Version:         manifestVersion,
		Session:         rs.GetName(),
		Table:           r.Table.String(),
		Endpoint:        endpoint,
		WireCompression: r.Compression,
		EstimatedRows:   rs.GetEstimatedRowCount(),
		EstimatedBytes:  rs.GetEstimatedTotalBytesScanned(),
		Columns:         r.Columns,
		Where:           r.Where,
		Sample:          r.Sample,
		SnapshotTime:    r.SnapshotTime,
		Output:          out,
	}
	m.ResponseCompression = r.ResponseCompression
	m.TimestampPrecision = r.TimestampPrecision
	if t := rs.GetExpireTime(); t != nil {
		m.ExpireTime = t.AsTime()
	}
	for _, s := range rs.GetStreams() {
		m.Streams = append(m.Streams, s.GetName())
	}
	var err error
	switch rs.GetDataFormat() {
	case storagepb.DataFormat_ARROW:
		m.DataFormat, m.ArrowSchema = FormatArrow, rs.GetArrowSchema().GetSerializedSchema()
		m.Schema, err = schemaFromArrow(m.ArrowSchema)
	case storagepb.DataFormat_AVRO:
		m.DataFormat, m.AvroSchema = FormatAvro, rs.GetAvroSchema().GetSchema()
		m.Schema, err = schema.FromAvro(m.AvroSchema)
	default:
		err = fmt.Errorf("data format %v", rs.GetDataFormat())
	}
	if err != nil {
		return nil, fmt.Errorf("session %s: read the session schema: %w", rs.GetName(), err)
	}
	return m, nil
}

// ArrowSchemaOf decodes a serialized IPC Schema message.
func ArrowSchemaOf(serialized []byte) (*arrow.Schema, error) {
	r, err := ipc.NewReader(bytes.NewReader(serialized))
	if err != nil {
		return nil, fmt.Errorf("decode arrow schema: %w", err)
	}
	defer r.Release()
	return r.Schema(), nil
}

func schemaFromArrow(serialized []byte) (schema.Schema, error) {
	s, err := ArrowSchemaOf(serialized)
	if err != nil {
		return nil, err
	}
	return schema.FromArrow(s)
}

// Split records one SplitReadStream of stream Parent: Primary names the stream that reads the
// head of Parent's rows, and Streams[Remainder] their tail. Whether the reader of Parent moved on
// to Primary (and so whether the remainder's rows are part of the output) is recorded by that
// reader in the work dir (workdir.Dir.DecideSplit).
type Split struct {
	Parent    int    `json:"parent"`
	Primary   string `json:"primary"`
	Remainder int    `json:"remainder"`
}

// AddSplit records that stream parent was split into primary and remainder, and returns the
// remainder's index.
func (m *Manifest) AddSplit(parent int, primary, remainder string) int {
	m.Streams = append(m.Streams, remainder)
	k := len(m.Streams) - 1
	m.Splits = append(m.Splits, Split{Parent: parent, Primary: primary, Remainder: k})
	return k
}

// SplitsOf returns the splits of stream i, in the order they were made.
func (m *Manifest) SplitsOf(i int) []Split {
	var out []Split
	for _, s := range m.Splits {
		if s.Parent == i {
			out = append(out, s)
		}
	}
	return out
}

// SplitOf returns the split that made stream k, and its rank among its parent's splits (1 for
// the first); ok is false for a stream of the session.
func (m *Manifest) SplitOf(k int) (s Split, rank int, ok bool) {
	ranks := map[int]int{}
	for _, s := range m.Splits {
		ranks[s.Parent]++
		if s.Remainder == k {
			return s, ranks[s.Parent], true
		}
	}
	return Split{}, 0, false
}

// Planned returns how many streams the session was created with (Streams less the remainders).
func (m *Manifest) Planned() int { return len(m.Streams) - len(m.Splits) }

// Save writes m as manifest.json in st, atomically.
func (m *Manifest) Save(ctx context.Context, st store.Store) error {
	if len(m.Splits) > 0 {
		m.Version = splitVersion
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	f, err := st.Create(ctx, "")
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Abort()
		return fmt.Errorf("write manifest: %w", err)
	}
	return f.Commit(workdir.ManifestName)
}

// LoadManifest reads manifest.json from st.
func LoadManifest(ctx context.Context, st store.Store) (*Manifest, error) {
	f, err := st.Open(ctx, workdir.ManifestName)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if m.Version != manifestVersion && m.Version != splitVersion {
		return nil, fmt.Errorf("%w: version %d, this bqread reads versions %d and %d: use the bqread that wrote it", ErrManifest, m.Version, manifestVersion, splitVersion)
	}
	if err := m.checkSplits(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if m.DataFormat != FormatArrow && m.DataFormat != FormatAvro {
		return nil, fmt.Errorf("%w: data format %q", ErrManifest, m.DataFormat)
	}
	return &m, nil
}

// checkSplits checks that each split's remainder is a stream appended after its parent and named
// once, so that the streams form a tree in row order.
func (m *Manifest) checkSplits() error {
	seen := map[int]bool{}
	for _, s := range m.Splits {
		if s.Parent < 0 || s.Remainder <= s.Parent || s.Remainder >= len(m.Streams) || seen[s.Remainder] || s.Remainder < m.Planned() || s.Primary == "" {
			return fmt.Errorf("split %+v of %d streams", s, len(m.Streams))
		}
		seen[s.Remainder] = true
	}
	return nil
}
