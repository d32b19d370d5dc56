package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/bqread/bqread/emulator"
)

// Phases of a run.
const (
	phaseBase   = "base"   // unshaped emulator: every case, the peer and the limit
	phaseShaped = "shaped" // per-stream bandwidth and latency: the limit, Arrow → Parquet and Arrow → arrow
	phaseMemory = "memory" // Arrow → Parquet on the table and on the scale× table
	// phaseStraggle (straggle.go): a lopsided filter, with and without splitting, and a balanced table
)

// Clients measured.
const (
	clientBqread  = "bqread"
	clientPeer    = "peer"
	clientLimit   = "limit"
	clientWrite   = "limit+write"       // the limit writing the payloads once (runLimit with an Out)
	clientDurable = "limit+write+fsync" // limit+write fsyncing each file once at the end: the durable floor
)

// bench holds what the measurements share.
type bench struct {
	cfg *config
	dir string // temp dir: data dir, binary, outputs
	bin string // the bqread binary
}

// run does a whole bench run: tables, binary, emulators, measurements, checks.
func run(ctx context.Context, cfg *config) (*report, error) {
	start, load := time.Now(), loadAverage()
	dir, err := os.MkdirTemp("", "bqread-bench-*")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	if cfg.keep {
		fmt.Fprintln(cfg.log, "bench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{cfg: cfg, dir: dir}
	dataDir := filepath.Join(dir, "data")
	small, err := writeTable(dataDir, cfg.rows)
	if err != nil {
		return nil, err
	}
	var big table
	if cfg.scale > 1 {
		if big, err = writeTable(dataDir, cfg.rows*int64(cfg.scale)); err != nil {
			return nil, err
		}
	}
	var where string
	var balanced table
	if cfg.straggleBW > 0 {
		if where, balanced, err = straggleTables(dataDir, cfg.rows); err != nil {
			return nil, err
		}
	}
	if b.bin, err = buildBqread(ctx, dir); err != nil {
		return nil, err
	}
	var results []result
	add := func(rs []result, err error) error {
		results = append(results, rs...)
		return err
	}
	if err := add(b.withEmulator(ctx, emulator.Options{DataDir: dataDir, CacheBytes: cfg.cacheBytes}, func(inst *emulator.Instance) ([]result, error) {
		rs, err := b.base(ctx, inst, small)
		if err != nil || big.rows == 0 {
			return rs, err
		}
		mem, err := b.memory(ctx, inst, small, big)
		return append(rs, mem...), err
	})); err != nil {
		return nil, err
	}
	if cfg.bandwidth > 0 {
		shaped := emulator.Options{DataDir: dataDir, CacheBytes: cfg.cacheBytes, StreamBandwidth: cfg.bandwidth, Latency: cfg.latency}
		if err := add(b.withEmulator(ctx, shaped, func(inst *emulator.Instance) ([]result, error) {
			return b.shaped(ctx, inst, small)
		})); err != nil {
			return nil, err
		}
	}
	if cfg.straggleBW > 0 {
		o := emulator.Options{DataDir: dataDir, CacheBytes: cfg.cacheBytes, StreamBandwidth: cfg.straggleBW}
		if err := add(b.withEmulator(ctx, o, func(inst *emulator.Instance) ([]result, error) {
			return b.straggle(ctx, inst, small, balanced, where)
		})); err != nil {
			return nil, err
		}
	}
	return newReport(cfg, load, results, time.Since(start)), nil
}

// withEmulator runs f against an emulator started with o.
func (b *bench) withEmulator(ctx context.Context, o emulator.Options, f func(*emulator.Instance) ([]result, error)) ([]result, error) {
	inst, err := emulator.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	defer inst.Close()
	return f(inst)
}

// buildBqread builds the bqread binary into dir, static (CGO_ENABLED=0) as the README and
// examples/Dockerfile build it.
func buildBqread(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bqread")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bqread")
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/bqread: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the bqread module (go.mod).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find the bqread module (run the bench from inside the repository): %v", err)
	}
	return filepath.Dir(gomod), nil
}

// base measures, for each stream count, the limit for each wire format, the peer, and bqread
// for each wire and output format.
func (b *bench) base(ctx context.Context, inst *emulator.Instance, t table) ([]result, error) {
	withPeer := slices.Contains(b.cfg.wires, "arrow") && slices.Contains(b.cfg.formats, "parquet")
	var out []result
	for _, s := range b.cfg.streams {
		if err := b.warm(ctx, inst, t, b.cfg.wires, s, withPeer); err != nil {
			return out, err
		}
		for _, w := range b.cfg.wires {
			r, err := b.limit(ctx, inst, t, phaseBase, w, s)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		if slices.Contains(b.cfg.wires, "arrow") && slices.Contains(b.cfg.formats, "arrow") {
			for _, fsync := range []bool{false, true} {
				r, err := b.writeLimit(ctx, inst, t, s, fsync)
				if err != nil {
					return out, err
				}
				out = append(out, r)
			}
		}
		if withPeer {
			r, err := b.peer(ctx, inst, t, phaseBase, s)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		for _, w := range b.cfg.wires {
			for _, f := range b.cfg.formats {
				r, err := b.bqread(ctx, inst, t, phaseBase, w, f, s)
				if err != nil {
					return out, err
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// warm reads the table once, unmeasured, in each wire format with the stream layout that the
// measurements at streams will get (and the peer's, if asked), so that they are served from the
// emulator's payload cache and measure the clients, not the emulator's first encoding.
func (b *bench) warm(ctx context.Context, inst *emulator.Instance, t table, wires []string, streams int, peer bool) error {
	var jobs []childJob
	for _, w := range wires {
		jobs = append(jobs, b.job(inst, t, w, streams))
	}
	if peer {
		j := b.job(inst, t, "arrow", streams)
		j.AsPeer = true
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		cmd, err := childCommand(ctx, clientLimit, j)
		if err != nil {
			return err
		}
		if _, err := measure(ctx, cmd); err != nil {
			return fmt.Errorf("warm-up read: %w", err)
		}
	}
	return nil
}

// shaped measures the limit, bqread Arrow → Parquet and (if arrow is among the formats) Arrow →
// arrow for each stream count against an emulator that limits each stream's bandwidth.
func (b *bench) shaped(ctx context.Context, inst *emulator.Instance, t table) ([]result, error) {
	var out []result
	for _, s := range b.cfg.streams {
		if err := b.warm(ctx, inst, t, []string{"arrow"}, s, false); err != nil {
			return out, err
		}
		l, err := b.limit(ctx, inst, t, phaseShaped, "arrow", s)
		if err != nil {
			return out, err
		}
		out = append(out, l)
		for _, f := range []string{"parquet", "arrow"} {
			if f == "arrow" && !slices.Contains(b.cfg.formats, "arrow") {
				continue
			}
			r, err := b.bqread(ctx, inst, t, phaseShaped, "arrow", f, s)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// memory measures bqread Arrow → Parquet on the table and on the scale× table, same streams.
func (b *bench) memory(ctx context.Context, inst *emulator.Instance, small, big table) ([]result, error) {
	var out []result
	for _, t := range []table{small, big} {
		r, err := b.bqread(ctx, inst, t, phaseMemory, "arrow", "parquet", b.cfg.scaleStreams)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// fastest runs f cfg.repeat times and keeps the fastest result.
func (b *bench) fastest(ctx context.Context, f func() (result, error)) (result, error) {
	var best result
	for i := range b.cfg.repeat {
		if err := ctx.Err(); err != nil {
			return best, err
		}
		r, err := f()
		if err != nil {
			return best, err
		}
		if i == 0 || r.Seconds < best.Seconds {
			best = r
		}
	}
	b.logResult(best)
	return best, nil
}

func (b *bench) logResult(r result) {
	fmt.Fprintf(b.cfg.log, "bench: %-6s %-11s %-14s streams %2d (granted %2d)  %8.0f rows/s  %7.1f MB/s  %5.2fs\n",
		r.Phase, r.Client, r.caseName(), r.Streams, r.Granted, r.RowsPerSec, r.MBPerSec, r.Seconds)
}

// bqread measures one `bqread export`.
func (b *bench) bqread(ctx context.Context, inst *emulator.Instance, t table, phase, wire, format string, streams int) (result, error) {
	return b.fastest(ctx, func() (result, error) {
		out := filepath.Join(b.dir, "out."+format)
		sumPath := filepath.Join(b.dir, "summary.json")
		defer os.Remove(out)
		cmd := exec.CommandContext(ctx, b.bin, "export", t.id(), "--endpoint", inst.GRPCAddr(),
			"-o", out, "-f", format, "--streams", fmt.Sprint(streams), "--parallelism", fmt.Sprint(streams),
			"--data-format", wire, "--summary", sumPath, "--progress", "none", "--overwrite")
		st, err := measure(ctx, cmd)
		if err != nil {
			return result{}, err
		}
		sum, err := readSummary(sumPath)
		if err != nil {
			return result{}, err
		}
		r := newResult(phase, clientBqread, wire, format, t, streams, sum.Streams, sum.Rows, sum.BytesReceived, st)
		r.RSS = st.peak
		if sum.BytesWritten > 0 {
			r.DiskVsOutput = float64(sum.PeakDisk) / float64(sum.BytesWritten)
		}
		for _, ps := range sum.PerStream {
			var peak int64
			for _, pid := range ps.Pids {
				peak = max(peak, st.children[pid])
			}
			r.WorkerRSS = append(r.WorkerRSS, peak)
		}
		return r, r.verify(t)
	})
}

// peer measures the official client reading the table and writing Parquet.
func (b *bench) peer(ctx context.Context, inst *emulator.Instance, t table, phase string, streams int) (result, error) {
	return b.fastest(ctx, func() (result, error) {
		out := filepath.Join(b.dir, "peer.parquet")
		defer os.Remove(out)
		j := b.job(inst, t, "arrow", streams)
		j.Out = out
		return b.child(ctx, clientPeer, j, phase, "parquet", t, fmt.Sprintf("GOMAXPROCS=%d", streams))
	})
}

// limit measures the receive-only client.
func (b *bench) limit(ctx context.Context, inst *emulator.Instance, t table, phase, wire string, streams int) (result, error) {
	return b.fastest(ctx, func() (result, error) {
		return b.child(ctx, clientLimit, b.job(inst, t, wire, streams), phase, "", t)
	})
}

// writeLimit measures the limit that also writes the Arrow payloads once, one file per stream,
// and with fsync syncs each file once at the end (the durable floor).
func (b *bench) writeLimit(ctx context.Context, inst *emulator.Instance, t table, streams int, fsync bool) (result, error) {
	return b.fastest(ctx, func() (result, error) {
		j := b.job(inst, t, "arrow", streams)
		j.Out, j.Fsync = filepath.Join(b.dir, "limit-out"), fsync
		defer func() {
			for i := range streams {
				os.Remove(fmt.Sprintf("%s.%d", j.Out, i))
			}
		}()
		r, err := b.child(ctx, clientLimit, j, phaseBase, "", t)
		r.Client = clientWrite
		if fsync {
			r.Client = clientDurable
		}
		return r, err
	})
}

func (b *bench) job(inst *emulator.Instance, t table, wire string, streams int) childJob {
	return childJob{GRPCAddr: inst.GRPCAddr(), HTTPAddr: inst.HTTPAddr(), Project: t.project,
		Dataset: t.dataset, Table: t.name, Streams: streams, Wire: wire}
}

// child runs a peer or limit child process and turns its output into a result.
func (b *bench) child(ctx context.Context, mode string, j childJob, phase, format string, t table, env ...string) (result, error) {
	cmd, err := childCommand(ctx, mode, j, env...)
	if err != nil {
		return result{}, err
	}
	st, err := measure(ctx, cmd)
	if err != nil {
		return result{}, err
	}
	var cr childResult
	if err := decodeJSON(st.stdout, &cr); err != nil {
		return result{}, fmt.Errorf("%s output: %w", mode, err)
	}
	r := newResult(phase, mode, j.Wire, format, t, j.Streams, cr.Streams, cr.Rows, cr.Bytes, st)
	r.RSS = st.peak
	return r, r.verify(t)
}

// newResult computes the rates of one measurement.
func newResult(phase, client, wire, format string, t table, streams, granted int, rows, wireBytes int64, st *procStats) result {
	secs := st.wall.Seconds()
	return result{Phase: phase, Client: client, Wire: wire, Output: format, TableRows: t.rows,
		Streams: streams, Granted: granted, Rows: rows, WireBytes: wireBytes, Seconds: secs,
		RowsPerSec: float64(rows) / secs, MBPerSec: float64(wireBytes) / 1e6 / secs,
		CPU: (st.cpu + st.selfCPU).Seconds() / secs / float64(runtime.NumCPU()), MachineCPU: st.machineCPU}
}
