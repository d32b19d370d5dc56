package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bqread/bqread/export"
)

// Exit codes, documented in the root command's help and the README.
const (
	exitOK          = 0   // success
	exitError       = 1   // the export or server failed; the message says why
	exitUsage       = 2   // bad flags, arguments or input; nothing was written
	exitPartial     = 3   // stopped part way; committed parts are kept for --resume
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM; committed parts are kept for --resume
	exitBrokenPipe  = 141 // the reader of the output closed the pipe (head does); as SIGPIPE would
)

const exitCodesHelp = `Exit codes:
  0    success
  1    error (the message says what failed and what to do)
  2    usage error: bad flag, argument or input; nothing was written
  3    partial: the export stopped part way; committed parts are kept for --resume
  130  interrupted by SIGINT or SIGTERM; committed parts are kept for --resume
  141  the reader of the output (-o -, a FIFO) closed it, as head does; nothing is printed and
       a temporary work dir is removed`

// serveExitCodesHelp are the exit codes of serve, which runs until it is stopped.
const serveExitCodesHelp = `Exit codes:
  0    stopped by SIGINT or SIGTERM
  1    error: the server could not start (an address in use, a --data directory that cannot be opened)
  2    usage error: bad flag or argument; nothing was started`

// errUsage marks errors caused by bad input (exit code 2).
var errUsage = errors.New("usage")

// errQuiet marks an ending that needs no message: a worker its coordinator stopped.
var errQuiet = errors.New("stopped")

// usageErrorf returns a bad-input error that exits with code 2.
func usageErrorf(format string, args ...any) error {
	return &codeError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// codeError carries the exit code an error should end the process with.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }
func (e *codeError) Is(target error) bool {
	return target == errUsage && e.code == exitUsage
}

// withCode wraps err so that the process exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codeError{code: code, err: err}
}

// streams are the process's standard streams, passed down instead of using os.Std* directly.
type streams struct {
	in       io.Reader
	out, err io.Writer
	log      *logConfig // the root's logging flags, parsed before any command runs
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "bqread",
		Short:         "Export BigQuery tables in parallel through the Storage Read API",
		Long:          "bqread exports BigQuery tables fast and safely through the BigQuery Storage Read API,\none worker process per read stream, merged into one file.\n\n" + exitCodesHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionText(),
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return s.log.check()
		},
	}
	s.log.addFlags(root.PersistentFlags())
	// --version without cobra's -v shorthand, printing what `bqread version` prints.
	root.Flags().Bool("version", false, "print the version and the build info")
	root.SetVersionTemplate("{{.Version}}")
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &codeError{code: exitUsage, err: err}
	})
	root.AddCommand(newCommands(s)...)
	root.Args = cobra.ArbitraryArgs
	root.SuggestionsMinimumDistance = 2
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommand(cmd, args[0])
	}
	for _, c := range root.Commands() {
		if c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
	}
	return root
}

// unknownCommand is the usage error for `bqread NAME` with no command NAME.
func unknownCommand(root *cobra.Command, name string) error {
	hint := "run bqread --help for the commands"
	if s := root.SuggestionsFor(name); len(s) > 0 {
		hint = "did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErrorf("unknown command %q: %s", name, hint)
}

// usageArgs makes the errors of a positional-argument check usage errors (exit code 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageErrorf("%s: %v: run %s --help", cmd.Name(), err, cmd.CommandPath())
		}
		return nil
	}
}

// run executes the command line args and returns the process exit code. Errors are printed once,
// here, as one line on stderr.
func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCmd(streams{in: in, out: out, err: errOut, log: &logConfig{}})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, errQuiet) { // EPIPE: nobody is left to read why
		fmt.Fprintf(errOut, "bqread: %v\n", err)
	}
	return exitCode(ctx, err)
}

func exitCode(ctx context.Context, err error) int {
	var ce *codeError
	switch {
	case errors.Is(err, syscall.EPIPE):
		return exitBrokenPipe
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, export.ErrUsage):
		return exitUsage
	case errors.Is(err, export.ErrInterrupted), ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, export.ErrPartial), errors.Is(err, export.ErrIncomplete):
		return exitPartial
	}
	return exitError
}
