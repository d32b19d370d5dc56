package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
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
	var je *export.JobError
	switch {
	case errors.As(err, &je):
		return withHint(err, jobHint(je))
	case errors.Is(err, export.ErrRESTEndpoint):
		return withHint(err, "--rest-endpoint (or BQREAD_REST_ENDPOINT) must name BigQuery's REST API, such as `bqread serve`'s http address")
	case errors.As(err, &oe):
		return usageErrorf("%s", oe.Render(flagName))
	case errors.As(err, &ke):
		return keptError(ke)
	case opts.Ephemeral && errors.Is(err, export.ErrInterrupted):
		return withHint(err, "run the same command again")
	case errors.Is(err, export.ErrSessionExpired):
		return withHint(err, "run the same command without --resume to export again")
	case errors.As(err, &we):
		return withHint(err, workDirHint(we))
	case errors.Is(err, session.ErrEndpoint) && opts.Endpoint == "":
		return withHint(err, "no route to BigQuery from here: check DNS, the firewall and HTTPS_PROXY, or run with --emulator for the sample tables")
	case errors.Is(err, session.ErrEndpoint):
		return withHint(err, "--endpoint (or BQREAD_ENDPOINT) must name a Storage Read server such as `bqread serve`'s gRPC port")
	}
	return sessionHint(err, opts)
}

// jobHint says what to do about a query job that failed, by BigQuery's reason.
func jobHint(je *export.JobError) string {
	switch je.Reason {
	case "invalidQuery", "invalid":
		return "fix the query"
	case "notFound":
		return "check the tables the query names, and --project"
	case "bytesBilledLimitExceeded":
		return "raise --maximum-bytes-billed, or make the query read less"
	case "duplicate":
		return "pass --overwrite to replace --destination-table, or name another"
	case "accessDenied":
		return "check the credentials (gcloud auth application-default login) and --project"
	case "quotaExceeded", "rateLimitExceeded":
		return "wait for the quota, then run again"
	}
	return "run again; if it fails again, see the job in the BigQuery console"
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

// sessionHint says what to do about a failure to create the read session, naming only the flags
// that can fix it.
func sessionHint(err error, opts export.Options) error {
	var se interface{ GRPCStatus() *status.Status }
	st := status.New(codes.OK, "")
	if errors.As(err, &se) {
		st = se.GRPCStatus()
	}
	switch st.Code() {
	case codes.InvalidArgument:
		if strings.Contains(strings.ToLower(st.Message()), "non-table entities") {
			return &nonTableError{table: nonTableName(opts), err: err}
		}
		return withHint(err, invalidArgumentHint(st, opts))
	case codes.NotFound:
		hint := "check the project, dataset and table"
		if opts.Endpoint == "" {
			hint += ", or run with --emulator to use the sample tables"
		}
		return withHint(err, hint)
	case codes.PermissionDenied, codes.Unauthenticated:
		return withHint(err, "check the credentials (gcloud auth application-default login) and --billing-project")
	}
	var ce *session.ClientError
	if errors.As(err, &ce) && opts.Endpoint == "" {
		return fmt.Errorf("%w; or use --emulator for the sample tables", err)
	}
	return err
}

// nonTableError is the refusal of a view, a materialized view or an external table, which the
// Storage Read API does not read. Its message is one line of its own, what the table is and what to
// do, in place of the server's; it wraps the server's error.
type nonTableError struct {
	table string // project.dataset.table, or the name as given
	err   error
}

func (e *nonTableError) Error() string {
	return e.table + " is not a table but a view, a materialized view or an external table, which the Storage Read API cannot read: " +
		"write it to a table first (bq query --destination_table PROJECT:DATASET.TABLE --use_legacy_sql=false 'SELECT * FROM `" + e.table + "`') and export that"
}

func (e *nonTableError) Unwrap() error { return e.err }

// nonTableName is the table of opts as project.dataset.table, or as given if it does not parse.
func nonTableName(opts export.Options) string {
	if t, err := session.ParseTableIn(opts.Table, opts.Project); err == nil {
		return t.String()
	}
	return opts.Table
}

// argumentTopics are what an InvalidArgument from CreateReadSession can be about, each told by
// words of the server's message or of its error details (reasons, fields), with the flags that fix
// it. The first topic found wins, so the more specific come first: BigQuery's "Invalid resource
// field value in the request." (reason RESOURCE_PROJECT_INVALID) is about a project, not a column.
var argumentTopics = []struct {
	words []string
	hint  func(export.Options) string
}{
	{[]string{"project", "parent", "resource field value"}, func(o export.Options) string {
		if o.BillingProject != "" {
			return "check the project in TABLE and --billing-project"
		}
		return "check the project in TABLE"
	}},
	{[]string{"row_restriction", "row restriction", "row filter", "query error", "syntax error", "unrecognized name", "partition elimination"},
		func(export.Options) string { return "check --where" }},
	{[]string{"snapshot", "time travel"}, func(export.Options) string { return "check --snapshot-time" }},
	{[]string{"selected_fields", "selected field", "column", "field"}, func(export.Options) string { return "check --columns" }},
	{[]string{"dataset", "table"}, func(export.Options) string { return "check TABLE (project.dataset.table)" }},
}

// invalidArgumentHint names the flags that can fix the InvalidArgument st. The names the user gave
// (table, columns, the --where text) are taken out of the message first, so that a column named
// project_id or a project named my-project does not decide the topic. A message about nothing
// known points at TABLE and the read flags that were set.
func invalidArgumentHint(st *status.Status, opts export.Options) string {
	text := st.Message()
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			text += " " + d.GetReason()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				text += " " + v.GetField() + " " + v.GetDescription()
			}
		}
	}
	var given []string // longest forms first: a table's path before its parts
	if t, err := session.ParseTable(opts.Table); err == nil {
		given = append(given, t.Path(), t.String(), t.Project+":"+t.Dataset+"."+t.Table, t.Project, t.Dataset, t.Table)
	}
	for _, name := range append(append(given, opts.BillingProject, opts.Where), opts.Columns...) {
		if name != "" {
			text = regexp.MustCompile(`(?i)(^|[^\w-])`+regexp.QuoteMeta(name)+`($|[^\w-])`).ReplaceAllString(text, "$1 $2")
		}
	}
	text = strings.ToLower(text)
	for _, topic := range argumentTopics {
		for _, w := range topic.words {
			if strings.Contains(text, w) {
				return topic.hint(opts)
			}
		}
	}
	check := []string{"TABLE"}
	for _, f := range []struct {
		flag string
		set  bool
	}{{"--columns", len(opts.Columns) > 0}, {"--where", opts.Where != ""}, {"--snapshot-time", !opts.SnapshotTime.IsZero()},
		{"--billing-project", opts.BillingProject != ""}} {
		if f.set {
			check = append(check, f.flag)
		}
	}
	return "check " + strings.Join(check, ", ")
}
