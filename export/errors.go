package export

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/bqread/bqread/shard"
)

// Errors callers branch on with errors.Is.
var (
	// ErrUsage: an option, the table or a destination cannot be used as given; nothing was read
	// or written.
	ErrUsage = errors.New("export: bad options")
	// ErrPartial: the export stopped part way; its committed parts are kept (*KeptError) and a
	// resume reads only the rest.
	ErrPartial = errors.New("export: stopped part way")
	// ErrInterrupted: the context was cancelled; committed parts are kept (*KeptError).
	ErrInterrupted = errors.New("export: interrupted")
	// ErrSessionExpired: the read session expired; nothing can continue it, so its parts were
	// removed and a new export must start over.
	ErrSessionExpired = shard.ErrSessionExpired
	// ErrIncomplete: a merge found streams not read to their end (*shard.IncompleteError).
	ErrIncomplete = shard.ErrIncomplete
	// ErrRESTEndpoint: nothing answers at Options.RESTEndpoint.
	ErrRESTEndpoint = errors.New("export: REST endpoint unreachable")
)

// OptionError is an option that cannot be used as given; it wraps ErrUsage. Its message names
// options as {{Name}}, a field of Options, so that a command line can name its flags instead
// (Render); Error names them Options.Name.
type OptionError struct {
	template string
}

// optionNames finds the {{Name}} placeholders of an OptionError.
var optionNames = regexp.MustCompile(`\{\{([A-Za-z]+)\}\}`)

func optionErrorf(format string, args ...any) error {
	return &OptionError{template: fmt.Sprintf(format, args...)}
}

// Render returns the message with each option named by name(field).
func (e *OptionError) Render(name func(field string) string) string {
	return "export: " + optionNames.ReplaceAllStringFunc(e.template, func(m string) string {
		return name(optionNames.FindStringSubmatch(m)[1])
	})
}

func (e *OptionError) Error() string {
	return e.Render(func(field string) string { return "Options." + field })
}

func (e *OptionError) Is(target error) bool { return target == ErrUsage }

// usageError marks err, from a package below, as bad input.
type usageError struct{ err error }

func (e usageError) Error() string   { return e.err.Error() }
func (e usageError) Unwrap() []error { return []error{ErrUsage, e.err} }
func asUsage(err error) error        { return usageError{err} }

// KeptError is an export that stopped with its committed parts kept in WorkDir, so that an
// export with the same options and Resume reads only what is missing. It wraps Kind
// (ErrPartial or ErrInterrupted) and the cause.
type KeptError struct {
	Kind    error
	WorkDir string
	// Temp is set when WorkDir is a temporary directory the options did not name: a resume must
	// name it.
	Temp bool
	Err  error
}

func (e *KeptError) Error() string {
	return fmt.Sprintf("%v; committed parts are kept in %s", e.Err, e.WorkDir)
}

func (e *KeptError) Unwrap() []error { return []error{e.Kind, e.Err} }
