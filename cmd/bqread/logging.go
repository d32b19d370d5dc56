package main

import (
	"io"
	"log/slog"

	"github.com/spf13/pflag"
)

// logConfig is how every command logs: the root's persistent flags --log-format, -q and -v.
type logConfig struct {
	format  string
	quiet   bool
	verbose bool
}

func (c *logConfig) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.format, "log-format", "text", "log records on stderr: text or json")
	f.BoolVarP(&c.quiet, "quiet", "q", false, "log only warnings and errors, and no progress")
	f.BoolVarP(&c.verbose, "verbose", "v", false, "log debug records too")
}

// check refuses a bad --log-format or -q with -v.
func (c *logConfig) check() error {
	switch {
	case c.format != "text" && c.format != "json":
		return usageErrorf("--log-format %q: use text or json", c.format)
	case c.quiet && c.verbose:
		return usageErrorf("-q and -v ask for less and more: give one")
	}
	return nil
}

// logger returns the logger of the flags, writing to w.
func (c *logConfig) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level()}
	if c.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (c *logConfig) level() slog.Level {
	switch {
	case c.quiet:
		return slog.LevelWarn
	case c.verbose:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// progressMode is the progress display to use: none when quiet.
func (c *logConfig) progressMode(mode string) string {
	if c.quiet {
		return "none"
	}
	return mode
}
