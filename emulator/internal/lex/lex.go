// Package lex splits GoogleSQL text into tokens for the emulator's two parsers: the row
// restrictions of package filter and the queries of package sql. It skips spaces and comments and
// keeps each token's source text and place; it decodes nothing (Unquote decodes a string literal)
// and does no I/O.
package lex

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind is what a token is.
type Kind int

// The kinds of token.
const (
	EOF    Kind = iota
	Ident       // an unquoted identifier or keyword
	Quoted      // a backquoted identifier or path; Text is without the backquotes
	String      // a string or bytes literal; Text is its source, prefix and quotes included
	Number      // a numeric literal's source
	Op          // an operator or punctuation
	Param       // a query parameter, @name or ?
)

// Token is one token of a text.
type Token struct {
	Kind Kind
	Text string
	Pos  int // byte offset of the token in the text
	End  int // byte offset after it
}

// Keyword reports whether t is the unquoted keyword k, in any case.
func (t Token) Keyword(k string) bool { return t.Kind == Ident && strings.EqualFold(t.Text, k) }

// IsOp reports whether t is the operator o.
func (t Token) IsOp(o string) bool { return t.Kind == Op && t.Text == o }

// Error is a text that is not GoogleSQL's tokens, at a byte offset of it.
type Error struct {
	Pos int
	Msg string // BigQuery's words, lower case, without the position: "unclosed string literal"
}

func (e *Error) Error() string { return fmt.Sprintf("%s at offset %d", e.Msg, e.Pos) }

func errorAt(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Lex splits src into tokens, ending with one of kind EOF at len(src). Its errors are *Error.
func Lex(src string) ([]Token, error) {
	var toks []Token
	add := func(k Kind, text string, pos, end int) int {
		toks = append(toks, Token{Kind: k, Text: text, Pos: pos, End: end})
		return end
	}
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
				return nil, errorAt(i, "unclosed comment")
			}
			i += n + 4
		case c == '`':
			n, err := quotedEnd(src, i)
			if err != nil {
				return nil, err
			}
			i = add(Quoted, src[i+1:n-1], i, n)
		case stringStart(src[i:]) >= 0:
			n, err := stringEnd(src, i)
			if err != nil {
				return nil, err
			}
			i = add(String, src[i:n], i, n)
		case isDigit(c) && dashedPart(toks, i):
			n := identEnd(src, i)
			i = add(Ident, src[i:n], i, n)
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			n := i + numberLen(src[i:])
			i = add(Number, src[i:n], i, n)
		case isIdentByte(c, false):
			n := identEnd(src, i)
			i = add(Ident, src[i:n], i, n)
		case c == '@' || c == '?':
			n := i + 1
			for n < len(src) && (src[n] == '@' || isIdentByte(src[n], true)) {
				n++
			}
			i = add(Param, src[i:n], i, n)
		default:
			op := lexOp(src[i:])
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, errorAt(i, "illegal input character %q", r)
			}
			i = add(Op, op, i, i+len(op))
		}
	}
	add(EOF, "", len(src), len(src))
	return toks, nil
}

// dashedPart reports whether offset i follows an identifier and a hyphen with no space between
// them: the digits there continue a hyphenated name such as the project my-project-2.
func dashedPart(toks []Token, i int) bool {
	n := len(toks)
	return n >= 2 && toks[n-1].IsOp("-") && toks[n-1].End == i && toks[n-2].Kind == Ident && toks[n-2].End == toks[n-1].Pos
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIdentByte reports whether c may be part of an unquoted identifier (ASCII only, as BigQuery).
func isIdentByte(c byte, notFirst bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || notFirst && isDigit(c)
}

func identEnd(src string, i int) int {
	for i < len(src) && isIdentByte(src[i], true) {
		i++
	}
	return i
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
				return 0, errorAt(i, "invalid empty identifier")
			}
			return j + 1, nil
		}
	}
	return 0, errorAt(i, "unclosed identifier literal")
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
	quote := literalQuote(src[j:])
	for k := j + len(quote); k < len(src); k++ {
		switch {
		case src[k] == '\\' && !raw:
			k++
		case src[k] == '\\' && raw && k+1 < len(src) && src[k+1] == quote[0]:
			k++
		case strings.HasPrefix(src[k:], quote):
			return k + len(quote), nil
		case src[k] == '\n' && len(quote) == 1:
			return 0, errorAt(i, "unclosed string literal")
		}
	}
	return 0, errorAt(i, "unclosed string literal")
}

// literalQuote returns the quote that opens s: one quote character, or three.
func literalQuote(s string) string {
	if q := strings.Repeat(s[:1], 3); strings.HasPrefix(s, q) {
		return q
	}
	return s[:1]
}

// Literal is a string or bytes literal taken apart.
type Literal struct {
	Body   string // what stands between the quotes, escapes undecoded
	Offset int    // the byte offset of Body in the literal's text
	Raw    bool   // r prefix: backslashes are not escapes
	Bytes  bool   // b prefix
}

// SplitString takes apart the text of a String token.
func SplitString(lit string) Literal {
	n := stringStart(lit)
	q := literalQuote(lit[n:])
	return Literal{
		Body:   lit[n+len(q) : len(lit)-len(q)],
		Offset: n + len(q),
		Raw:    strings.ContainsAny(lit[:n], "rR"),
		Bytes:  strings.ContainsAny(lit[:n], "bB"),
	}
}
