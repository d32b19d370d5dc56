package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// result is one measurement.
type result struct {
	Phase      string  `json:"phase"`  // base, shaped or memory
	Client     string  `json:"client"` // bqread, peer or limit
	Wire       string  `json:"wire"`   // arrow or avro
	Output     string  `json:"output,omitempty"`
	TableRows  int64   `json:"table_rows"`
	Streams    int     `json:"streams"`         // streams asked for
	Granted    int     `json:"granted_streams"` // streams the session had
	Rows       int64   `json:"rows"`
	WireBytes  int64   `json:"wire_bytes"` // payload bytes received
	Seconds    float64 `json:"seconds"`    // wall time of the process, start to exit
	RowsPerSec float64 `json:"rows_per_sec"`
	MBPerSec   float64 `json:"wire_mb_per_sec"` // 1 MB = 10^6 bytes
	VsPeer     float64 `json:"vs_peer,omitempty"`
	VsLimit    float64 `json:"vs_limit,omitempty"`
	// CPU is the CPU time of the client's processes and of the emulator over the wall time, as a
	// fraction of all cores.
	CPU float64 `json:"cpu"`
	// MachineCPU is the busy time of all cores over the wall time, every process on the machine
	// counted: above CPU, other work shared the machine with the measurement.
	MachineCPU float64 `json:"machine_cpu"`
	// RSS is the peak resident set of the process started: bqread's coordinator, the peer or the
	// limit (VmHWM, sampled).
	RSS int64 `json:"rss_bytes"`
	// WorkerRSS is each stream's worker peak RSS (sampled; 0 if a worker ended before a sample).
	WorkerRSS []int64 `json:"worker_rss_bytes,omitempty"`
	// DiskVsOutput is bqread's peak disk (the summary's peak_disk_bytes) over the output's size.
	DiskVsOutput float64 `json:"peak_disk_vs_output,omitempty"`
	// Case names a straggler phase's table (balanced, lopsided, lopsided without splitting);
	// Splits is how many streams the coordinator split, LargestShare the largest stream's share
	// of the rows when none was.
	Case         string  `json:"case,omitempty"`
	Splits       int     `json:"splits,omitempty"`
	LargestShare float64 `json:"largest_stream_share,omitempty"`
}

// caseName is "arrow→parquet" for bqread and the peer, "arrow" for the limit.
func (r result) caseName() string {
	if r.Output == "" {
		return r.Wire
	}
	if r.Case != "" {
		return r.Wire + "→" + r.Output + " " + r.Case
	}
	return r.Wire + "→" + r.Output
}

// workerMax is the largest worker peak RSS.
func (r result) workerMax() int64 {
	var m int64
	for _, v := range r.WorkerRSS {
		m = max(m, v)
	}
	return m
}

// verify checks that the whole table was read.
func (r result) verify(t table) error {
	if r.Rows != t.rows {
		return fmt.Errorf("%s %s streams %d read %d rows of %d", r.Client, r.caseName(), r.Streams, r.Rows, t.rows)
	}
	return nil
}

// exportSummary is the part of `bqread export --summary` the bench reads.
type exportSummary struct {
	Streams       int   `json:"streams"`
	Rows          int64 `json:"rows"`
	BytesReceived int64 `json:"bytes_received"`
	BytesWritten  int64 `json:"bytes_written"`
	PeakDisk      int64 `json:"peak_disk_bytes"`
	PerStream     []struct {
		Index int   `json:"index"`
		Pids  []int `json:"pids"`
		Rows  int64 `json:"rows"`
	} `json:"per_stream"`
}

func readSummary(path string) (*exportSummary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the export summary: %w", err)
	}
	var s exportSummary
	if err := decodeJSON(data, &s); err != nil {
		return nil, fmt.Errorf("export summary %s: %w", path, err)
	}
	return &s, os.Remove(path)
}

func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("no JSON output")
	}
	return json.Unmarshal(data, v)
}
