package sql

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bqread/bqread/emulator/internal/lex"
)

type token = lex.Token

// Error is an error in a query, at a line and column (1-based, in characters) of its text.
type Error struct {
	Line, Column int
	// Message says what is wrong, in BigQuery's words, without the position.
	Message string
	// Unsupported is true when the query may be valid GoogleSQL but the emulator does not run it.
	Unsupported bool
}

// Error returns the message with the position, as BigQuery words it: "... at [1:8]".
func (e *Error) Error() string { return fmt.Sprintf("%s at [%d:%d]", e.Message, e.Line, e.Column) }

// errorAt makes an Error at a byte offset of src.
func errorAt(src string, pos int, unsupported bool, format string, args ...any) *Error {
	pos = min(max(pos, 0), len(src))
	before := src[:pos]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return &Error{Line: line, Column: col, Message: fmt.Sprintf(format, args...), Unsupported: unsupported}
}

// UnsupportedPrefix starts the message of every query the emulator refuses to run.
const UnsupportedPrefix = "not supported by the emulator: "

func unsupported(src string, pos int, construct string) *Error {
	return errorAt(src, pos, true, "%s%s", UnsupportedPrefix, construct)
}

// tokenize splits a query into tokens (package lex, shared with the filter package). Strings are
// kept as source text: the WHERE clause is handed to the filter package as text, which decodes
// its literals itself.
func tokenize(src string) ([]token, error) {
	toks, err := lex.Lex(src)
	var le *lex.Error
	if errors.As(err, &le) {
		return nil, errorAt(src, le.Pos, false, "Syntax error: %s", capitalize(le.Msg))
	}
	return toks, err
}
