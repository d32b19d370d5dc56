package main

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
)

// explain turns an error of package export into what the command prints: options named by their
// flags, and a hint that says which flag or command fixes it. The exit code follows from the
// error (exitCode).
func explain(err error, opts export.Options) error {
	var oe *export.OptionError
	var ke *export.KeptError
	var we *workdir.Error
	switch {
	case errors.As(err, &oe):
		return usageErrorf("%s", oe.Render(flagName))
	case errors.As(err, &ke):
		return keptError(ke)
	case errors.Is(err, export.ErrSessionExpired):
		return withHint(err, "run the same command without --resume to export again")
	case errors.As(err, &we):
		return withHint(err, workDirHint(we))
	case errors.Is(err, session.ErrEndpoint):
		return withHint(err, "--endpoint (or BQREAD_ENDPOINT) must name a Storage Read server such as `bqread serve`'s gRPC port")
	}
	return sessionHint(err, opts.Endpoint)
}

// withHint appends what to do to err, keeping what err wraps.
func withHint(err error, hint string) error { return fmt.Errorf("%w: %s", err, hint) }

// keptError says how to continue an export whose parts were kept.
func keptError(ke *export.KeptError) error {
	resume := "run the same command with --resume"
	if ke.Temp {
		resume += " --work-dir " + ke.WorkDir
	}
	if errors.Is(ke, export.ErrInterrupted) {
		return fmt.Errorf("interrupted; committed parts are kept in %s: %s to continue: %w", ke.WorkDir, resume, export.ErrInterrupted)
	}
	return withHint(ke, "fix the cause and "+resume)
}

// workDirHint says what to do about a work dir that cannot be used.
func workDirHint(we *workdir.Error) string {
	switch we.Reason {
	case workdir.ErrEarlier:
		return "pass --resume to continue it, or --overwrite to start over"
	case workdir.ErrUnsafe:
		return "use a directory of yours that no other user can write (chmod go-w), or name another --work-dir"
	case workdir.ErrNoParent:
		return "create its parent directory first, or name another --work-dir"
	case workdir.ErrMissing:
		return "there is nothing to resume: run without --resume"
	case workdir.ErrLocked:
		return "wait for it to end, or name another --work-dir (or --out)"
	}
	return "name another --work-dir"
}

// sessionHint says what to do about a failure to create the read session.
func sessionHint(err error, endpoint string) error {
	var se interface{ GRPCStatus() *status.Status }
	code := codes.OK
	if errors.As(err, &se) {
		code = se.GRPCStatus().Code()
	}
	switch code {
	case codes.InvalidArgument:
		return withHint(err, "check --columns, --where and --snapshot-time")
	case codes.NotFound:
		hint := "check the project, dataset and table"
		if endpoint == "" {
			hint += ", or run with --emulator to use the sample tables"
		}
		return withHint(err, hint)
	case codes.PermissionDenied, codes.Unauthenticated:
		return withHint(err, "check the credentials (gcloud auth application-default login) and --billing-project")
	}
	var ce *session.ClientError
	if errors.As(err, &ce) && endpoint == "" {
		return fmt.Errorf("%w; or use --emulator for the sample tables", err)
	}
	return err
}
