package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bqread/bqread/internal/store"
	"github.com/bqread/bqread/session"
	"github.com/bqread/bqread/shard"
)

// Summary is what an export did; it is also the JSON written to Options.Summary.
type Summary struct {
	Table         string               `json:"table"`
	Session       string               `json:"session"`
	Streams       int                  `json:"streams"`
	Rows          int64                `json:"rows"`
	BytesReceived int64                `json:"bytes_received"`
	BytesWritten  int64                `json:"bytes_written"`
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
		BytesWritten: written.Bytes, OutputFiles: []string{out}, PerStream: []shard.StreamResult{}}
	if res != nil {
		s.BytesReceived, s.Retries, s.PerStream = res.Bytes, res.Retries, res.Streams
	}
	return s
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
	if err := writeDest(p.opts.Summary, p.summaryKind, append(data, '\n'), p.opts.Stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// writeDest writes data to a destination checked by checkDest: a file appears whole (tmp →
// rename), a stream is written to.
func writeDest(path string, kind destKind, data []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	if kind == destStream {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Close())
	}
	f, err := createBeside(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return store.CommitFile(f, path)
}
