// Package filter parses and evaluates the emulator's read_options.row_restriction: a subset of
// BigQuery Standard SQL predicates over top-level columns (comparisons, AND/OR/NOT, IS [NOT] NULL,
// IS [NOT] TRUE/FALSE, [NOT] IN, [NOT] BETWEEN, [NOT] LIKE, typed literals, CAST of literals, and
// the date and time functions of func.go).
// Anything outside the subset is an error wrapping ErrInvalid, never silently ignored. It does no I/O
// but reading the system's time zone database for a zone a restriction names.
package filter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bqread/bqread/emulator/internal/lex"
)

// ErrInvalid is wrapped by every error for a row restriction outside the supported subset.
var ErrInvalid = errors.New("filter: invalid row restriction")

// maxLen is the Storage Read API's limit on a row restriction.
const maxLen = 1 << 20

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tBytes
	tOp
)

type token struct {
	kind tokKind
	text string // identifier (unquoted), number text, decoded string, or operator
	pos  int
	raw  bool // identifier was backquoted, so never a keyword
}

func (t token) is(kw string) bool { return t.kind == tIdent && !t.raw && strings.EqualFold(t.text, kw) }

func invalid(pos int, format string, args ...any) error {
	return &posError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// tokenize splits a row restriction into tokens (package lex, shared with the query parser), with
// string literals decoded and backquoted names marked raw.
func tokenize(s string) ([]token, error) {
	lexed, err := lex.Lex(s)
	if err != nil {
		var le *lex.Error
		errors.As(err, &le)
		return nil, invalid(le.Pos, "%s", le.Msg)
	}
	toks := make([]token, 0, len(lexed))
	for _, t := range lexed {
		tok := token{text: t.Text, pos: t.Pos}
		switch t.Kind {
		case lex.EOF:
			tok.kind = tEOF
		case lex.Ident:
			tok.kind = tIdent
		case lex.Quoted:
			tok.kind, tok.raw = tIdent, true
		case lex.Number:
			tok.kind = tNumber
		case lex.String:
			if tok, err = stringToken(t); err != nil {
				return nil, err
			}
		default: // operators, and parameters, which no rule takes
			tok.kind = tOp
		}
		toks = append(toks, tok)
	}
	return toks, nil
}

// stringToken decodes a string or bytes literal.
func stringToken(t lex.Token) (token, error) {
	lit := lex.SplitString(t.Text)
	body := lit.Body
	tok := token{kind: tString, text: body, pos: t.Pos}
	if lit.Bytes {
		tok.kind = tBytes
	}
	if lit.Raw {
		return tok, nil
	}
	var b strings.Builder
	for j := 0; j < len(body); j++ {
		c := body[j]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		j++ // the lexer saw to it that a backslash is followed by something
		esc, ok := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '\'': '\'', '"': '"', '0': 0, '%': '%', '_': '_'}[body[j]]
		if !ok {
			return token{}, invalid(t.Pos+lit.Offset+j-1, "unsupported escape \\%c", body[j])
		}
		if esc == '%' || esc == '_' { // kept escaped for LIKE patterns
			b.WriteByte('\\')
		}
		b.WriteByte(esc)
	}
	tok.text = b.String()
	return tok, nil
}
