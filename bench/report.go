package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is a whole run's results and checks.
type report struct {
	Command string   `json:"command"`
	Cores   int      `json:"cores"`
	Go      string   `json:"go"`
	Rows    int64    `json:"rows"`
	Load    string   `json:"load_average"` // /proc/loadavg at the start: 1, 5, 15 minutes
	Seconds float64  `json:"seconds"`
	Results []result `json:"results"`
	Checks  []check  `json:"checks"`
}

// check is one target of issue #6 and whether this run met it.
type check struct {
	Target string `json:"target"`
	Status string `json:"status"` // PASS, FAIL or SKIP
	Detail string `json:"detail"`
}

const (
	statusPass = "PASS"
	statusFail = "FAIL"
	statusSkip = "SKIP"
)

// newReport fills in the ratios and the checks.
func newReport(cfg *config, load string, results []result, elapsed time.Duration) *report {
	for i := range results {
		r := &results[i]
		if p := find(results, r.Phase, clientPeer, "arrow", "parquet", r.Streams); p != nil && r.Client == clientBqread && r.Output == "parquet" {
			r.VsPeer = r.RowsPerSec / p.RowsPerSec
		}
		if l := find(results, r.Phase, clientLimit, r.Wire, "", r.Streams); l != nil && r.Client != clientLimit {
			r.VsLimit = r.RowsPerSec / l.RowsPerSec
		}
	}
	rep := &report{Command: cfg.command(), Cores: runtime.NumCPU(), Go: runtime.Version(), Rows: cfg.rows,
		Load: load, Seconds: elapsed.Seconds(), Results: results}
	rep.Checks = []check{peerCheck(results), limitCheck(results, cfg.streams),
		scalingCheck(results, cfg.streams, cfg.saturation), avroCheck(results, cfg.streams), memoryCheck(results, cfg.scale), straggleCheck(results)}
	return rep
}

// find returns the result of client in phase for wire, output and streams, or nil.
func find(rs []result, phase, client, wire, output string, streams int) *result {
	for i := range rs {
		r := &rs[i]
		if r.Phase == phase && r.Client == client && r.Wire == wire && r.Output == output && r.Streams == streams {
			return r
		}
	}
	return nil
}

func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// print writes the results table and the check lines.
func (rep *report) print(w io.Writer) error {
	fmt.Fprintf(w, "%s\n%d rows (trips schema), %d cores, %s, %.0fs, load average at start %s\n\n",
		rep.Command, rep.Rows, rep.Cores, rep.Go, rep.Seconds, rep.Load)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tclient\tcase\tstreams\trows/s\tMB/s\t×peer\t×limit\tCPU ours/all\tRSS\tworker RSS max\tdisk/out\t")
	for _, r := range rep.Results {
		streams := fmt.Sprint(r.Streams)
		if r.Granted != r.Streams {
			streams += fmt.Sprintf(" (got %d)", r.Granted)
		}
		if r.Phase == phaseMemory {
			streams += fmt.Sprintf(" [%s rows]", human(float64(r.TableRows)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%.0f%%/%.0f%%\t%s\t%s\t%s\t\n", r.Phase, r.Client, r.caseName(), streams,
			human(r.RowsPerSec), r.MBPerSec, ratio(r.VsPeer), ratio(r.VsLimit), 100*r.CPU, 100*r.MachineCPU, mib(r.RSS), workerRSS(r), ratio(r.DiskVsOutput))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nMB/s: wire payload. RSS: peak of bqread's coordinator, the peer or the limit process; worker RSS: the largest\n"+
		"worker's peak (both sampled from /proc every 20 ms). CPU: % of all cores used by the client and the emulator /\n"+
		"by every process on the machine (ours/all; all well above ours means other work disturbed the run).\n"+
		"limit+write: the limit appending each stream's payloads to a file of its own, no fsync: the least that\n"+
		"any client writing what it reads must do. limit+write+fsync: the same, each file fsynced once at the end:\n"+
		"the durable floor, the least any client promising durability must do. disk/out: bqread's peak disk\n"+
		"(work dir plus temp output, the summary's peak_disk_bytes) over the output's size.")
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "%s  %s: %s\n", c.Status, c.Target, c.Detail)
	}
	return nil
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

func workerRSS(r result) string {
	if r.Client != clientBqread {
		return "-"
	}
	return mib(r.workerMax())
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// human writes 1234567 as 1.23M.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// command is the command line that reproduces the run.
func (c *config) command() string {
	return strings.TrimSpace("go run ./bench " + strings.Join(c.args, " "))
}
