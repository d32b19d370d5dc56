package sql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // a backquoted identifier or path
	tString
	tNumber
	tOp
	tParam // @name or ?
)

type token struct {
	kind tokKind
	text string // identifier or path (unquoted), number or operator text; a string's source text
	pos  int    // byte offset in the query
	end  int    // byte offset after the token
}

// kw reports whether t is the unquoted keyword k.
func (t token) kw(k string) bool { return t.kind == tIdent && strings.EqualFold(t.text, k) }

func (t token) op(o string) bool { return t.kind == tOp && t.text == o }

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

// lex splits a query into tokens, skipping spaces and comments. Strings are kept as source text:
// the WHERE clause is handed to the filter package as text, which decodes its literals itself.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '#' || strings.HasPrefix(src[i:], "--"):
			n := strings.IndexByte(src[i:], '\n')
			if n < 0 {
				n = len(src) - i
			}
			i += n
		case strings.HasPrefix(src[i:], "/*"):
			n := strings.Index(src[i+2:], "*/")
			if n < 0 {
				return nil, errorAt(src, i, false, "Syntax error: Unclosed comment")
			}
			i += n + 4
		case c == '`':
			n, err := quotedEnd(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tQuoted, text: src[i+1 : n-1], pos: i, end: n})
			i = n
		case stringStart(src[i:]) >= 0:
			n, err := stringEnd(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: src[i:n], pos: i, end: n})
			i = n
		case isDigit(c) && dashedPart(toks, i):
			n := i
			for n < len(src) && isIdentByte(src[n], true) {
				n++
			}
			toks = append(toks, token{kind: tIdent, text: src[i:n], pos: i, end: n})
			i = n
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			n := i + numberLen(src[i:])
			toks = append(toks, token{kind: tNumber, text: src[i:n], pos: i, end: n})
			i = n
		case isIdentByte(c, false):
			n := i
			for n < len(src) && isIdentByte(src[n], true) {
				n++
			}
			toks = append(toks, token{kind: tIdent, text: src[i:n], pos: i, end: n})
			i = n
		case c == '@' || c == '?':
			n := i + 1
			for n < len(src) && (src[n] == '@' || isIdentByte(src[n], true)) {
				n++
			}
			toks = append(toks, token{kind: tParam, text: src[i:n], pos: i, end: n})
			i = n
		default:
			op := lexOp(src[i:])
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, errorAt(src, i, false, "Syntax error: Illegal input character %q", r)
			}
			toks = append(toks, token{kind: tOp, text: op, pos: i, end: i + len(op)})
			i += len(op)
		}
	}
	return append(toks, token{kind: tEOF, pos: len(src), end: len(src)}), nil
}

// dashedPart reports whether offset i follows an identifier and a hyphen with no space between
// them: the digits there continue a project name such as my-project-2.
func dashedPart(toks []token, i int) bool {
	n := len(toks)
	return n >= 2 && toks[n-1].op("-") && toks[n-1].end == i && toks[n-2].kind == tIdent && toks[n-2].end == toks[n-1].pos
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentByte(c byte, notFirst bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || notFirst && isDigit(c)
}

func lexOp(s string) string {
	for _, op := range []string{"<=", ">=", "!=", "<>", "||", "<<", ">>", "=>"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	if strings.IndexByte("*,.()=<>+-/;[]{}:|&^~%!", s[0]) >= 0 {
		return s[:1]
	}
	return ""
}

func numberLen(s string) int {
	n := 0
	for n < len(s) {
		switch c := s[n]; {
		case isDigit(c) || c == '.' || isIdentByte(c, true):
			// letters take in exponents and hexadecimal digits; a bad number fails where it is used
		case (c == '+' || c == '-') && (s[n-1] == 'e' || s[n-1] == 'E'):
		default:
			return n
		}
		n++
	}
	return n
}

// quotedEnd returns the offset after the backquoted identifier starting at src[i].
func quotedEnd(src string, i int) (int, error) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '`':
			if j == i+1 {
				return 0, errorAt(src, i, false, "Syntax error: Invalid empty identifier")
			}
			return j + 1, nil
		}
	}
	return 0, errorAt(src, i, false, "Syntax error: Unclosed identifier literal")
}

// stringStart returns the length of a string literal's prefix (r, b, rb, br in any case) when s
// starts a string literal, else -1.
func stringStart(s string) int {
	for n := 0; n < len(s) && n <= 2; n++ {
		switch s[n] {
		case '\'', '"':
			return n
		case 'r', 'R', 'b', 'B':
		default:
			return -1
		}
	}
	return -1
}

// stringEnd returns the offset after the string literal (with its prefix) starting at src[i].
func stringEnd(src string, i int) (int, error) {
	p := stringStart(src[i:])
	raw := strings.ContainsAny(src[i:i+p], "rR")
	j := i + p
	quote := src[j : j+1]
	if strings.HasPrefix(src[j:], strings.Repeat(quote, 3)) {
		quote = strings.Repeat(quote, 3)
	}
	for k := j + len(quote); k < len(src); k++ {
		switch {
		case src[k] == '\\' && !raw:
			k++
		case src[k] == '\\' && raw && k+1 < len(src) && src[k+1] == quote[0]:
			k++
		case strings.HasPrefix(src[k:], quote):
			return k + len(quote), nil
		case src[k] == '\n' && len(quote) == 1:
			return 0, errorAt(src, i, false, "Syntax error: Unclosed string literal")
		}
	}
	return 0, errorAt(src, i, false, "Syntax error: Unclosed string literal")
}
