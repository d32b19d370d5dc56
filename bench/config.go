package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/bytesize"
)

// config is what one bench run does.
type config struct {
	rows         int64    // rows of the main table
	scale        int      // the memory check reads a table scale times larger; < 2 skips it
	scaleStreams int      // stream count of the memory check
	streams      []int    // stream counts of the matrix
	formats      []string // bqread output formats
	wires        []string // wire formats
	repeat       int      // runs per measurement; the fastest counts
	bandwidth    int64    // bytes/s per stream in the shaped phase; 0 skips the phase
	straggleBW   int64    // bytes/s per stream in the straggler phase; 0 skips the phase
	latency      time.Duration
	cacheBytes   int64   // the emulator's payload cache
	saturation   float64 // machine CPU use (fraction of all cores) at which the scaling check stops
	json         bool
	args         []string // the command line, for the report
	keep         bool     // keep the temp dir
	log          io.Writer
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg                                                   = &config{log: stderr, args: args}
		streams, formats, wires, bw, latency, cache, straggle string
		quick                                                 bool
	)
	fs.Int64Var(&cfg.rows, "rows", 1_000_000, "rows of the synthetic table (trips schema)")
	fs.IntVar(&cfg.scale, "scale", 10, "the memory check reads a table this many times larger (< 2: skip it)")
	fs.IntVar(&cfg.scaleStreams, "scale-streams", 2, "streams of the memory check's exports")
	fs.StringVar(&streams, "streams-list", "1,2,4,8", "stream counts, comma separated")
	fs.StringVar(&formats, "formats", "parquet,arrow,ndjson", "bqread output formats, comma separated")
	fs.StringVar(&wires, "wire", "arrow,avro", "wire formats, comma separated")
	fs.IntVar(&cfg.repeat, "repeat", 1, "runs of each measurement; the fastest counts")
	fs.StringVar(&bw, "stream-bandwidth", "25MiB/s", "per-stream bandwidth of the shaped phase (0: skip the phase)")
	fs.StringVar(&latency, "latency", "5ms", "emulator latency in the shaped phase")
	fs.StringVar(&straggle, "straggle-bandwidth", "4MiB/s", "per-stream bandwidth of the straggler phase: 90% of the rows in one of 4 streams, with and without splitting, against a balanced table (0: skip the phase)")
	fs.StringVar(&cache, "emulator-cache", "4GiB", "the emulator's cache of encoded payloads; the table in every measured stream layout should fit")
	fs.Float64Var(&cfg.saturation, "cpu-saturation", 0.85, "machine CPU use, as a fraction of all cores, where the scaling check stops")
	fs.BoolVar(&cfg.json, "json", false, "print the results as JSON")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temp dir (tables, outputs, summaries)")
	fs.BoolVar(&quick, "quick", false, "a smaller run: 100,000 rows, streams 1,2,4 (explicit flags win)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: bench takes flags only", fs.Args())
	}
	if quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rows"] {
			cfg.rows = 100_000
		}
		if !set["streams-list"] {
			streams = "1,2,4"
		}
	}
	var err error
	if cfg.streams, err = parseInts(streams); err != nil {
		return nil, fmt.Errorf("--streams-list: %w", err)
	}
	cfg.formats, cfg.wires = splitList(formats), splitList(wires)
	if cfg.cacheBytes, err = parseSize(cache); err != nil || cfg.cacheBytes < 1 {
		return nil, fmt.Errorf("--emulator-cache %q: use a size like 4GiB", cache)
	}
	if cfg.bandwidth, err = parseSize(bw); err != nil {
		return nil, fmt.Errorf("--stream-bandwidth: %w", err)
	}
	if cfg.straggleBW, err = parseSize(straggle); err != nil {
		return nil, fmt.Errorf("--straggle-bandwidth: %w", err)
	}
	if cfg.latency, err = time.ParseDuration(latency); err != nil {
		return nil, fmt.Errorf("--latency: %w", err)
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	switch {
	case c.rows < 1:
		return errors.New("--rows: use 1 or more")
	case c.repeat < 1:
		return errors.New("--repeat: use 1 or more")
	case c.scaleStreams < 1:
		return errors.New("--scale-streams: use 1 or more")
	case len(c.formats) == 0 || len(c.wires) == 0:
		return errors.New("--formats and --wire need at least one value each")
	}
	for _, w := range c.wires {
		if w != "arrow" && w != "avro" {
			return fmt.Errorf("--wire %q: use arrow or avro", w)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, v := range splitList(s) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("%q: use stream counts from 1 to 1000", v)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("give at least one stream count")
	}
	return out, nil
}

// parseSize reads a size or a rate: "4GiB", "4G", "25MiB/s", "10MB/s", "1048576" (bytes) or "0".
func parseSize(s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("%q: use a size like 25MiB or 4G (or rate, 25MiB/s), or 0 for none", s)
	}
	return n, nil
}
