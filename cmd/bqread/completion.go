package main

import (
	"github.com/spf13/cobra"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/session"
)

// formatHelp describes each output format in shell completion.
var formatHelp = map[output.Format]string{
	output.Parquet: "Parquet file",
	output.Arrow:   "Arrow IPC file",
	output.Avro:    "Avro object container file",
	output.CSV:     "CSV; flat columns only",
	output.NDJSON:  "newline-delimited JSON",
}

// compressions are the --compression values of each output format, its default first.
var compressions = map[output.Format][]string{
	output.Parquet: {"snappy", "zstd", "gzip", "none"},
	output.Arrow:   {"none", "lz4", "zstd"},
	output.Avro:    {"null", "deflate", "snappy"},
	output.CSV:     {"none", "gzip"},
	output.NDJSON:  {"none", "gzip"},
}

// registerCompletions makes the shell complete the values of the flags of cmd that take one of a
// few words: --format, --compression (those of the format that --format or the --out extension
// names, else every format's), --data-format, --wire-compression, --response-compression,
// --stream-allocation and --progress. Flags that cmd
// does not have are skipped.
func registerCompletions(cmd *cobra.Command) {
	var formats []cobra.Completion
	for _, f := range output.Formats {
		formats = append(formats, cobra.CompletionWithDesc(string(f), formatHelp[f]))
	}
	for name, complete := range map[string]cobra.CompletionFunc{
		"format":      fixed(formats...),
		"compression": completeCompression,
		"data-format": fixed(cobra.CompletionWithDesc(session.FormatArrow, "Arrow record batches (default)"),
			cobra.CompletionWithDesc(session.FormatAvro, "Avro rows")),
		"wire-compression": fixed(cobra.CompletionWithDesc("none", "default"),
			cobra.CompletionWithDesc("lz4", "LZ4 frame, Arrow only"), cobra.CompletionWithDesc("zstd", "Zstandard, Arrow only")),
		"response-compression": fixed(cobra.CompletionWithDesc("none", "default"),
			cobra.CompletionWithDesc("lz4", "each payload one LZ4 block, not with --wire-compression")),
		"timestamp-precision": fixed(cobra.CompletionWithDesc("micros", "default, truncated"),
			cobra.CompletionWithDesc("nanos", "truncated"), cobra.CompletionWithDesc("picos", "ISO 8601 text, lossless")),
		"stream-allocation": fixed(cobra.CompletionWithDesc(emulator.AllocationFixed, "blocks assigned when the session is created, as the service does (default)"),
			cobra.CompletionWithDesc(emulator.AllocationLiquid, "the next block to whichever stream asks first")),
		"progress": fixed(cobra.CompletionWithDesc("auto", "bars on a terminal, log lines otherwise (default)"),
			cobra.CompletionWithDesc("bar", "progress bars"), cobra.CompletionWithDesc("plain", "periodic log lines"),
			cobra.CompletionWithDesc("none", "nothing but errors")),
	} {
		if cmd.Flags().Lookup(name) != nil {
			cmd.RegisterFlagCompletionFunc(name, complete)
		}
	}
}

func fixed(choices ...cobra.Completion) cobra.CompletionFunc {
	return cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp)
}

// completeCompression offers the compressions of the output format the command line names so
// far, or, when it names none, every format's, each with the formats it applies to.
func completeCompression(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	format, _ := cmd.Flags().GetString("format")
	f, err := output.ParseFormat(format)
	if format == "" {
		out, _ := cmd.Flags().GetString("out")
		f, _, err = output.FormatFromPath(out)
	}
	if err == nil {
		var choices []cobra.Completion
		for i, c := range compressions[f] {
			if i == 0 {
				c = cobra.CompletionWithDesc(c, "default")
			}
			choices = append(choices, c)
		}
		return choices, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	usedBy := map[string]string{}
	for _, f := range output.Formats {
		for _, c := range compressions[f] {
			if usedBy[c] == "" {
				names = append(names, c)
			} else {
				usedBy[c] += ", "
			}
			usedBy[c] += string(f)
		}
	}
	var choices []cobra.Completion
	for _, c := range names {
		choices = append(choices, cobra.CompletionWithDesc(c, usedBy[c]))
	}
	return choices, cobra.ShellCompDirectiveNoFileComp
}
