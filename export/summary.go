package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/schema"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// Summary is what an export did; it is also the JSON written to Options.Summary, on every exit
// once the options are valid.
type Summary struct {
	// Status is ok, partial (parts kept for a resume), interrupted or failed; ExitCode is what
	// Options.ExitCode made of the error (0 without it), Error the error.
	Status    string    `json:"status"`
	ExitCode  int       `json:"exit_code"`
	Error     string    `json:"error,omitempty"`
	Version   string    `json:"bqread_version"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	// WorkDir is where the committed parts are kept, for a resume; empty once removed.
	WorkDir string `json:"work_dir,omitempty"`
	// SnapshotTime is the instant asked for; without one the session reads the table as of its
	// creation, at StartTime.
	SnapshotTime          time.Time     `json:"snapshot_time,omitzero"`
	Format                string        `json:"format,omitempty"`
	Compression           string        `json:"compression,omitempty"`
	Schema                schema.Schema `json:"schema,omitempty"`
	EstimatedBytesScanned int64         `json:"estimated_bytes_scanned"`
	EstimatedRows         int64         `json:"estimated_rows,omitempty"`
	Table                 string        `json:"table,omitempty"`
	// Query is the job of a Query export; DryRun says nothing was read or written, only
	// estimated (the summary of DryRun).
	Query         *session.QueryJob `json:"query,omitempty"`
	DryRun        bool              `json:"dry_run,omitempty"`
	Session       string            `json:"session,omitempty"`
	Streams       int               `json:"streams"`
	Rows          int64             `json:"rows"`
	BytesReceived int64             `json:"bytes_received"`
	BytesWritten  int64             `json:"bytes_written"`
	// PeakDiskBytes is the most local disk the export held: its work dir plus the temp output,
	// sampled while it ran and once after the merge (see diskPeak). It is 0 for a many-file output.
	PeakDiskBytes int64                `json:"peak_disk_bytes,omitempty"`
	OutputFiles   []string             `json:"output_files"`
	WallSeconds   float64              `json:"wall_seconds"`
	Phases        Phases               `json:"phase_seconds"`
	Retries       int                  `json:"retries"`
	PerStream     []shard.StreamResult `json:"per_stream"`
}

// Phases is where the wall time went: creating the session and work dir (or opening them for a
// resume), the workers reading the streams, merging into Out (fsync and rename included), and
// removing the work dir.
type Phases struct {
	Session float64 `json:"session"`
	Read    float64 `json:"read"`
	Merge   float64 `json:"merge"`
	Cleanup float64 `json:"cleanup"`
}

func newSummary(m *session.Manifest, res *shard.Result, written shard.MergeStats, out string) *Summary {
	s := &Summary{Table: m.Table, Session: m.Session, Streams: len(m.Streams), Rows: written.Rows,
		BytesWritten: written.Bytes, OutputFiles: []string{out}, PerStream: []shard.StreamResult{},
		SnapshotTime: m.SnapshotTime, Format: m.Output.Format, Compression: m.Output.Compression, Schema: m.Schema,
		EstimatedBytesScanned: m.EstimatedBytes, EstimatedRows: m.EstimatedRows, Query: m.Query}
	if res != nil {
		s.BytesReceived, s.Retries, s.PerStream = res.Bytes, res.Retries, res.Streams
	}
	return s
}

// report completes the summary of an export that ended with err (e is nil when it ended before
// its work dir was made), writes it to the Summary destination, and returns it with err, or with
// the error of writing it.
func (p *plan) report(sum *Summary, err error, e *Export) (*Summary, error) {
	if sum == nil && e != nil && e.m != nil {
		sum = newSummary(e.m, nil, shard.MergeStats{}, p.opts.Out)
	}
	if sum == nil {
		sum = &Summary{Table: p.opts.Table, Format: string(p.opts.Format), OutputFiles: []string{p.opts.Out}, PerStream: []shard.StreamResult{}}
		if p.opts.Query != "" {
			sum.Query = &session.QueryJob{SQL: p.opts.Query, DestinationTable: p.opts.DestinationTable}
			if je := (*JobError)(nil); errors.As(err, &je) {
				sum.Query.Job = je.Job
			}
		}
	}
	start := time.Now()
	if e != nil {
		start = e.start
	}
	sum.Status, sum.Version, sum.StartTime, sum.EndTime = outcome(err), Version(), start, time.Now()
	sum.WallSeconds = sum.EndTime.Sub(start).Seconds()
	var ke *KeptError
	if errors.As(err, &ke) {
		sum.WorkDir = ke.WorkDir
	}
	if err != nil {
		sum.Error = err.Error()
		if p.opts.ExitCode != nil {
			sum.ExitCode = p.opts.ExitCode(err)
		}
	}
	if werr := p.writeSummary(sum); err == nil {
		err = werr
	}
	return sum, err
}

// outcome names how an export that ended with err ended.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrInterrupted):
		return "interrupted"
	case errors.Is(err, ErrPartial), errors.Is(err, ErrIncomplete):
		return "partial"
	}
	return "failed"
}

// Version returns the version of the bqread module in this program's build info: a release
// version when built by go install, "(devel)" otherwise.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
			if m.Path == "github.com/bqread/bqread" && m.Version != "" {
				return m.Version
			}
		}
	}
	return "(devel)"
}

// writeSummary writes s to the Summary destination, if one is set.
func (p *plan) writeSummary(s *Summary) error {
	if p.opts.Summary == "" {
		return nil
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeDest(p.opts.Summary, p.opts.Overwrite, append(data, '\n'), p.opts.Stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// writeDest writes data to path after checking it again (checkDest), since it was checked
// before the export: a file appears whole (tmp → rename), as an object does (its upload
// completes), and a stream is written to.
func writeDest(path string, overwrite bool, data []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	kind, err := checkDest("Summary", path, overwrite)
	if err != nil {
		return err
	}
	if kind == destObject {
		return putObject(path, overwrite, data)
	}
	if kind == destStream {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Close())
	}
	f, err := store.CreateBeside(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		store.RemoveTemp(f)
		return err
	}
	return store.CommitFile(f, path)
}

// putObject uploads data as the object url, where no object is unless overwrite. It runs when
// the export ends, interrupted or not, so no cancellation of the export stops it.
func putObject(url string, overwrite bool, data []byte) error {
	o, err := createObject(context.Background(), "Summary", url, overwrite)
	if err != nil {
		return err
	}
	defer o.discard()
	if _, err := o.w.Write(data); err != nil {
		return err
	}
	return o.commit()
}
