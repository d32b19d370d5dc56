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

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			str, n, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: str, pos: i})
			i += n
		case (c == 'b' || c == 'B') && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"'):
			str, n, err := lexString(s, i+1)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tBytes, text: str, pos: i})
			i += n + 1
		case c == '`':
			end := strings.IndexByte(s[i+1:], '`')
			if end <= 0 {
				return nil, invalid(i, "unterminated quoted identifier")
			}
			toks = append(toks, token{kind: tIdent, text: s[i+1 : i+1+end], pos: i, raw: true})
			i += end + 2
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			n := lexNumber(s[i:])
			toks = append(toks, token{kind: tNumber, text: s[i : i+n], pos: i})
			i += n
		case isIdentByte(c, false):
			j := i
			for j < len(s) && isIdentByte(s[j], true) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: s[i:j], pos: i})
			i = j
		default:
			op := lexOp(s[i:])
			if op == "" {
				return nil, invalid(i, "unexpected character %q", rune(c))
			}
			toks = append(toks, token{kind: tOp, text: op, pos: i})
			i += len(op)
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

// isIdentByte reports whether c may be part of an unquoted identifier (ASCII only, as BigQuery).
func isIdentByte(c byte, notFirst bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || notFirst && c >= '0' && c <= '9'
}

func lexOp(s string) string {
	for _, op := range []string{"<=", ">=", "!=", "<>", "=", "<", ">", "(", ")", ",", "-", "+", "."} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

func lexNumber(s string) int {
	n, seenE := 0, false
	for n < len(s) {
		c := s[n]
		switch {
		case c >= '0' && c <= '9' || c == '.':
		case (c == 'e' || c == 'E') && !seenE:
			seenE = true
			if n+1 < len(s) && (s[n+1] == '+' || s[n+1] == '-') {
				n++
			}
		default:
			return n
		}
		n++
	}
	return n
}

// lexString decodes a quoted string starting at s[i]; it returns the value and the bytes consumed.
func lexString(s string, i int) (string, int, error) {
	q := s[i]
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == q:
			return b.String(), j - i + 1, nil
		case c == '\\' && j+1 < len(s):
			j++
			esc, ok := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '\'': '\'', '"': '"', '0': 0, '%': '%', '_': '_'}[s[j]]
			if !ok {
				return "", 0, invalid(j-1, "unsupported escape \\%c", s[j])
			}
			if esc == '%' || esc == '_' { // kept escaped for LIKE patterns
				b.WriteByte('\\')
			}
			b.WriteByte(esc)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, invalid(i, "unterminated string")
}
