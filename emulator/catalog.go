package emulator

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/schema"
)

//go:embed samples
var samplesFS embed.FS

// The built-in sample tables live in this project and dataset.
const (
	SampleProject = "bqread-demo"
	SampleDataset = "samples"
)

// samplesCreated is the creation time the built-in samples report (they never change).
var samplesCreated = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// maxVersions bounds how many versions of one data-directory table are kept for snapshot reads.
const maxVersions = 8

// Errors of table resolution; the server maps them to gRPC and HTTP status codes.
var (
	errInvalidName = errors.New("emulator: invalid name")
	errNotFound    = errors.New("emulator: not found")
	errSnapshot    = errors.New("emulator: invalid snapshot time")
	// errLoad wraps the errors of tables that exist but cannot be loaded. Their text names the table
	// (project.dataset.table) and its files relative to the table's directory, never a server path.
	errLoad = errors.New("emulator: table load")
)

var (
	projectRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	idRE      = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// maxIDLen is the longest dataset or table ID BigQuery accepts.
const maxIDLen = 1024

func validID(id string) bool { return len(id) <= maxIDLen && idRE.MatchString(id) }

// timeZero asks for a table's current version.
var timeZero time.Time

// tableRef names a table.
type tableRef struct{ Project, Dataset, Table string }

// String returns the resource path projects/{p}/datasets/{d}/tables/{t}.
func (r tableRef) String() string {
	return "projects/" + r.Project + "/datasets/" + r.Dataset + "/tables/" + r.Table
}

// dotted returns the table's name as project.dataset.table.
func (r tableRef) dotted() string { return r.Project + "." + r.Dataset + "." + r.Table }

// validate checks the IDs against BigQuery's naming rules before anything touches the filesystem.
func (r tableRef) validate() error {
	switch {
	case !projectRE.MatchString(r.Project):
		return fmt.Errorf("%w: project ID %q: use 6 to 30 lowercase letters, digits and hyphens, starting with a letter", errInvalidName, r.Project)
	case !validID(r.Dataset):
		return fmt.Errorf("%w: dataset ID %q: use letters, digits and underscores", errInvalidName, r.Dataset)
	case r.Table != "" && !validID(r.Table):
		return fmt.Errorf("%w: table ID %q: use letters, digits and underscores, at most 1024 characters", errInvalidName, r.Table)
	}
	return nil
}

// rowSource produces a table version's rows.
type rowSource interface {
	numRows() int64
	// read returns rows [lo, hi) with the full table schema. The caller releases the record.
	read(lo, hi int64, mem memory.Allocator) (arrow.Record, error)
}

// tableVersion is one immutable state of a table. Sessions pin a version.
type tableVersion struct {
	ref     tableRef
	key     string // unique per table state; part of the payload cache key
	schema  schema.Schema
	arrow   *arrow.Schema
	since   time.Time // when this state began (the data file's modification time)
	created time.Time // when the table was first seen
	bytes   int64     // estimated logical size
	rows    rowSource
	kind    string    // BigQuery's table type: TABLE, VIEW, MATERIALIZED_VIEW or EXTERNAL (from table.json)
	query   string    // the query of a VIEW or MATERIALIZED_VIEW
	expires time.Time // when a query's result table goes away; zero: never
	// partitioning is the table's partitioning and clustering (table.json); nil for neither.
	partitioning *partitioning
	// readSchema is schema followed by the pseudo-columns of an ingestion-time partitioned table:
	// the columns a session may select and filter on, and those of the records rows.read returns.
	// Nil means schema (see columns).
	readSchema schema.Schema
}

// Table types (BigQuery's Table.type). The Storage Read API reads only TABLE.
const (
	kindTable            = "TABLE"
	kindView             = "VIEW"
	kindMaterializedView = "MATERIALIZED_VIEW"
	kindExternal         = "EXTERNAL"
)

// readable reports whether the Storage Read API reads the table: views, materialized views and
// external tables it refuses.
func (v *tableVersion) readable() bool { return v.kind == kindTable }

// tableLoadTimeout bounds the loading of one data-directory table.
const tableLoadTimeout = time.Minute

// history is one data-directory table: the versions seen so far, oldest first. Its lock is held
// while the table's files are looked at and loaded, so that a slow load holds up only the requests
// for that table.
type history struct {
	lock     chan struct{} // a one-token semaphore, so that waiters can give up
	created  time.Time
	versions []*tableVersion // nil until the first load
	stamp    string          // file stamp of the newest version
}

// catalog finds tables: the built-in samples, then the data directory. It is safe for concurrent use.
type catalog struct {
	root        *os.Root // nil without a data directory; opened by its absolute path
	now         func() time.Time
	log         *slog.Logger
	loadTimeout time.Duration // bounds one table's load

	mu      sync.Mutex // guards the maps, not the histories in them
	tables  map[tableRef]*history
	samples map[string]*tableVersion
	results map[tableRef]*tableVersion // tables that query jobs wrote (results.go)
}

// newCatalog returns a catalog of the samples and the tables under dataDir (none if it is ""). It logs
// the tables that cannot be loaded to log, with their directories.
func newCatalog(dataDir string, now func() time.Time, log *slog.Logger) (*catalog, error) {
	c := &catalog{now: now, log: log, loadTimeout: tableLoadTimeout,
		tables: map[tableRef]*history{}, samples: map[string]*tableVersion{}, results: map[tableRef]*tableVersion{}}
	if dataDir == "" {
		return c, nil
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	c.root = root
	return c, nil
}

func (c *catalog) close() error {
	if c.root == nil {
		return nil
	}
	return c.root.Close()
}

func isSample(r tableRef) bool { return r.Project == SampleProject && r.Dataset == SampleDataset }

// datasetExists reports whether project.dataset exists.
func (c *catalog) datasetExists(r tableRef) (bool, error) {
	if err := r.validate(); err != nil {
		return false, err
	}
	if isSample(r) || c.resultDataset(r) {
		return true, nil
	}
	if c.root == nil {
		return false, nil
	}
	fi, err := c.root.Stat(path.Join(r.Project, r.Dataset))
	return err == nil && fi.IsDir(), nil
}

// resolve returns the version of the table current at snapshot (the zero time means now). Loading
// a data-directory table is bounded by c.loadTimeout and by ctx.
func (c *catalog) resolve(ctx context.Context, r tableRef, snapshot time.Time) (*tableVersion, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if v := c.result(r); v != nil {
		return pick(r, []*tableVersion{v}, snapshot, c.now())
	}
	v, err := c.sample(r)
	if err != nil {
		return nil, err
	}
	versions := []*tableVersion{v}
	if v == nil {
		if versions, err = c.refresh(ctx, r); err != nil {
			return nil, err
		}
	}
	return pick(r, versions, snapshot, c.now())
}

func pick(r tableRef, versions []*tableVersion, snapshot, now time.Time) (*tableVersion, error) {
	latest := versions[len(versions)-1]
	if snapshot.IsZero() {
		return latest, nil
	}
	if snapshot.After(now) {
		return nil, fmt.Errorf("%w: snapshot time %s is in the future", errSnapshot, snapshot.UTC().Format(time.RFC3339Nano))
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if !snapshot.Before(versions[i].since) {
			return versions[i], nil
		}
	}
	return nil, fmt.Errorf("%w: snapshot time %s is before the creation time of table %s (%s)", errSnapshot,
		snapshot.UTC().Format(time.RFC3339Nano), r, versions[0].created.UTC().Format(time.RFC3339Nano))
}

// sample returns a built-in sample table, loading it on first use; nil if r is not one.
func (c *catalog) sample(r tableRef) (*tableVersion, error) {
	if !isSample(r) {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.samples[r.Table]; v != nil {
		return v, nil
	}
	sub, err := fs.Sub(samplesFS, path.Join("samples", r.Project, r.Dataset, r.Table))
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat(sub, "schema.json"); err != nil {
		return nil, nil // not a sample: the data directory may still have it
	}
	v, err := loadVersion(r, sub, samplesCreated)
	if err != nil {
		return nil, fmt.Errorf("%w: load sample %s: %v", errLoad, r.dotted(), err)
	}
	v.key, v.created = "sample/"+r.Table, samplesCreated
	c.samples[r.Table] = v
	return v, nil
}

// refresh returns the versions of a data-directory table, loading a new version when its files
// changed since the last look. It waits for a load of the same table by another request, until ctx
// is done; other tables' loads do not hold it up.
func (c *catalog) refresh(ctx context.Context, r tableRef) ([]*tableVersion, error) {
	notFound := fmt.Errorf("%w: Not found: Table %s:%s.%s (%s)", errNotFound, r.Project, r.Dataset, r.Table, r)
	if c.root == nil {
		return nil, notFound
	}
	dir := path.Join(r.Project, r.Dataset, r.Table)
	if _, _, err := c.stamp(dir); err != nil {
		// Missing files, and paths that would leave the data directory (symlinks), are both "not found".
		return nil, notFound
	}
	h := c.history(r)
	select {
	case h.lock <- struct{}{}:
		defer func() { <-h.lock }()
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for table %s to load: %w", r.dotted(), ctx.Err())
	}
	stamp, since, err := c.stamp(dir) // again, now that no other load of the table runs
	if err != nil {
		return nil, notFound
	}
	if h.versions != nil && h.stamp == stamp {
		return h.versions, nil
	}
	v, err := c.load(ctx, r, dir, since)
	if err != nil {
		return nil, err
	}
	v.key = r.String() + "@" + stamp
	if h.versions == nil {
		h.created = since
	}
	v.created = h.created
	h.stamp = stamp
	h.versions = append(h.versions, v)
	if len(h.versions) > maxVersions {
		h.versions = h.versions[len(h.versions)-maxVersions:]
	}
	return h.versions, nil
}

// history returns the history of a data-directory table, empty the first time.
func (c *catalog) history(r tableRef) *history {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.tables[r]
	if h == nil {
		h = &history{lock: make(chan struct{}, 1)}
		c.tables[r] = h
	}
	return h
}

// load reads a version of the table in dir, within c.loadTimeout. A table that cannot be loaded is
// logged with its directory and reported as errLoad; when ctx is done first, the error wraps ctx's.
func (c *catalog) load(ctx context.Context, r tableRef, dir string, since time.Time) (*tableVersion, error) {
	loadCtx, cancel := context.WithTimeout(ctx, c.loadTimeout)
	defer cancel()
	v, err := loadVersion(r, tableFS{loadCtx, c.root, dir}, since)
	switch {
	case err == nil:
		return v, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("load table %s: %w", r.dotted(), ctx.Err())
	case loadCtx.Err() != nil:
		err = fmt.Errorf("loading took longer than %s: make data.ndjson smaller, or use synthetic.json", c.loadTimeout)
	}
	c.log.Error("emulator: table load failed", "table", r.dotted(),
		"dir", filepath.Join(c.root.Name(), filepath.FromSlash(dir)), "err", err)
	return nil, fmt.Errorf("%w: load table %s: %v", errLoad, r.dotted(), err)
}

// stamp identifies the state of a table directory's files, and returns when that state began. A
// table has schema.json and data.ndjson, synthetic.json or table.json (a view needs no data).
func (c *catalog) stamp(dir string) (string, time.Time, error) {
	var stamp string
	var since time.Time
	found := 0
	for _, name := range []string{"schema.json", "data.ndjson", "synthetic.json", "table.json"} {
		fi, err := c.root.Stat(path.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) && name != "schema.json" {
			continue
		}
		if err != nil {
			return "", time.Time{}, err
		}
		found++
		stamp += fmt.Sprintf("%s:%d:%d;", name, fi.ModTime().UnixNano(), fi.Size())
		if fi.ModTime().After(since) {
			since = fi.ModTime()
		}
	}
	if found < 2 {
		return "", time.Time{}, fmt.Errorf("%s has no data.ndjson, synthetic.json or table.json: %w", dir, fs.ErrNotExist)
	}
	return stamp, since, nil
}

// tableMeta is the content of table.json: the part of BigQuery's Table resource that the emulator
// uses. Other fields are ignored, so that `bq show --format=json` output can be used as it is.
type tableMeta struct {
	Type                   string                `json:"type"`
	View                   *queryMeta            `json:"view"`
	MaterializedView       *queryMeta            `json:"materializedView"`
	TimePartitioning       *timePartitioningMeta `json:"timePartitioning"`
	RequirePartitionFilter bool                  `json:"requirePartitionFilter"`
	Clustering             *clusteringMeta       `json:"clustering"`
}

type queryMeta struct {
	Query string `json:"query"`
}

// loadMeta reads the optional table.json of a table directory and checks the table's type.
// Without table.json the table is a TABLE.
func loadMeta(dir fs.FS) (tableMeta, error) {
	raw, err := fs.ReadFile(dir, "table.json")
	if errors.Is(err, fs.ErrNotExist) {
		return tableMeta{Type: kindTable}, nil
	}
	if err != nil {
		return tableMeta{}, err
	}
	var m tableMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return tableMeta{}, fmt.Errorf("table.json: want {\"type\": \"VIEW\", \"view\": {\"query\": \"...\"}}: %w", err)
	}
	switch {
	case m.Type != kindTable && m.Type != kindView && m.Type != kindMaterializedView && m.Type != kindExternal:
		return tableMeta{}, fmt.Errorf("table.json: type %q: use TABLE, VIEW, MATERIALIZED_VIEW or EXTERNAL", m.Type)
	case m.View != nil && m.Type != kindView:
		return tableMeta{}, fmt.Errorf("table.json: \"view\" is for type VIEW, not %s", m.Type)
	case m.MaterializedView != nil && m.Type != kindMaterializedView:
		return tableMeta{}, fmt.Errorf("table.json: \"materializedView\" is for type MATERIALIZED_VIEW, not %s", m.Type)
	}
	return m, nil
}

// query returns the query of a view or materialized view.
func (m tableMeta) query() string {
	switch {
	case m.View != nil:
		return m.View.Query
	case m.MaterializedView != nil:
		return m.MaterializedView.Query
	}
	return ""
}

// loadVersion reads schema.json, table.json if there is one, and data.ndjson or synthetic.json from
// a table directory. A table that is not a TABLE (a view) needs no data: it has no rows then.
func loadVersion(r tableRef, dir fs.FS, since time.Time) (*tableVersion, error) {
	meta, err := loadMeta(dir)
	if err != nil {
		return nil, err
	}
	raw, err := fs.ReadFile(dir, "schema.json")
	if err != nil {
		return nil, err
	}
	s, err := schema.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("schema.json: %w", err)
	}
	if err := checkReservedNames(s); err != nil {
		return nil, err
	}
	part, err := partitioningOf(meta, s)
	if err != nil {
		return nil, err
	}
	v := &tableVersion{ref: r, schema: s, arrow: schema.ArrowSchema(s), since: since, kind: meta.Type, query: meta.query(),
		partitioning: part, readSchema: append(s[:len(s):len(s)], part.pseudo()...)}
	if !hasData(dir) {
		if v.kind == kindTable {
			return nil, errors.New("table.json says TABLE, but there is no data.ndjson or synthetic.json: add one, or make the type VIEW")
		}
		v.rows = &syntheticSource{schema: s, arrow: v.arrow} // no rows
		return v, nil
	}
	data, err := fs.ReadFile(dir, "synthetic.json")
	switch {
	case err == nil && part.ingestion():
		return nil, errors.New("synthetic.json: an ingestion-time partitioned table needs data.ndjson, whose rows give their _PARTITIONTIME; partition a synthetic table by a column (timePartitioning.field)")
	case err == nil:
		src, err := newSynthetic(s, data)
		if err != nil {
			return nil, fmt.Errorf("synthetic.json: %w", err)
		}
		v.rows, v.bytes = src, src.rows*estimateRowBytes(s)
		return v, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if v.rows, v.bytes, err = loadData(dir, s, part); err != nil {
		return nil, err
	}
	return v, nil
}

// hasData reports whether a table directory has data.ndjson or synthetic.json (of any kind: loading
// it says what is wrong with it).
func hasData(dir fs.FS) bool {
	for _, name := range []string{"data.ndjson", "synthetic.json"} {
		if _, err := fs.Stat(dir, name); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

// loadData loads data.ndjson, streaming it from the file, and returns its rows and size. The rows
// of an ingestion-time partitioned table may give their _PARTITIONTIME (none is NULL, as for rows
// still in the streaming buffer).
func loadData(dir fs.FS, s schema.Schema, part *partitioning) (rowSource, int64, error) {
	f, err := dir.Open("data.ndjson")
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if part.ingestion() {
		s = append(s[:len(s):len(s)], part.pseudo()[0])
	}
	rec, err := LoadNDJSON(s, f, memory.DefaultAllocator)
	if err == nil && part.ingestion() {
		rec, err = withPseudo(rec, part, memory.DefaultAllocator)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("data.ndjson: %w", err)
	}
	return recordSource{rec}, fi.Size(), nil
}

// recordSource serves rows held in memory. Its record lives as long as the version.
type recordSource struct{ rec arrow.Record }

func (s recordSource) numRows() int64 { return s.rec.NumRows() }

func (s recordSource) read(lo, hi int64, _ memory.Allocator) (arrow.Record, error) {
	return s.rec.NewSlice(lo, hi), nil
}

// syntheticSpec is the content of synthetic.json.
type syntheticSpec struct {
	Rows int64  `json:"rows"`
	Seed uint64 `json:"seed"`
}

func newSynthetic(s schema.Schema, data []byte) (*syntheticSource, error) {
	var spec syntheticSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("want {\"rows\": N, \"seed\": S}: %w", err)
	}
	if spec.Rows < 0 {
		return nil, fmt.Errorf("rows = %d: must not be negative", spec.Rows)
	}
	if spec.Rows > MaxSyntheticRows {
		return nil, fmt.Errorf("rows = %d: the emulator serves at most %d rows per synthetic table; lower \"rows\"", spec.Rows, int64(MaxSyntheticRows))
	}
	return &syntheticSource{schema: s, arrow: schema.ArrowSchema(s), rows: spec.Rows, seed: spec.Seed}, nil
}

// estimateRowBytes is a rough logical size of one row, for estimated_total_bytes_scanned.
func estimateRowBytes(s schema.Schema) int64 {
	var n int64
	for _, f := range s {
		switch f.Type {
		case schema.Bool:
			n++
		case schema.Numeric, schema.Interval:
			n += 16
		case schema.BigNumeric:
			n += 32
		case schema.Struct:
			n += estimateRowBytes(f.Fields)
		case schema.String, schema.Bytes, schema.Geography, schema.JSON:
			n += 24
		default:
			n += 8
		}
	}
	return n
}

// concatRecords joins records of one schema into one; it releases its inputs.
func concatRecords(recs []arrow.Record, mem memory.Allocator) (arrow.Record, error) {
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	s := recs[0].Schema()
	cols := make([]arrow.Array, s.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i := range cols {
		parts := make([]arrow.Array, len(recs))
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		col, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, c := range cols[:i] {
				c.Release()
			}
			return nil, fmt.Errorf("concatenate column %s: %w", s.Field(i).Name, err)
		}
		cols[i] = col
	}
	rec := array.NewRecord(s, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}
