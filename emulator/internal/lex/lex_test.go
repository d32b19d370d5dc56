package lex

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLex: kinds, texts and places of the tokens of a text with comments, a backquoted path, a
// hyphenated project, prefixed and triple-quoted strings, numbers, operators and a parameter.
func TestLex(t *testing.T) {
	src := "SELECT `a.b` FROM my-project-2.ds.t # c\nWHERE s = rb'x\\'y' /* x */ AND n>=1.5e-3 OR s = '''q'q''' -- z\nAND @p"
	toks, err := Lex(src)
	if err != nil {
		t.Fatal(err)
	}
	type tok struct {
		Kind Kind
		Text string
	}
	var got []tok
	for _, tk := range toks {
		if src[tk.Pos:tk.End] != tk.Text && tk.Kind != Quoted {
			t.Errorf("token %q at [%d, %d) holds %q of the text", tk.Text, tk.Pos, tk.End, src[tk.Pos:tk.End])
		}
		got = append(got, tok{tk.Kind, tk.Text})
	}
	want := []tok{{Ident, "SELECT"}, {Quoted, "a.b"}, {Ident, "FROM"}, {Ident, "my"}, {Op, "-"}, {Ident, "project"},
		{Op, "-"}, {Ident, "2"}, {Op, "."}, {Ident, "ds"}, {Op, "."}, {Ident, "t"}, {Ident, "WHERE"}, {Ident, "s"}, {Op, "="},
		{String, `rb'x\'y'`}, {Ident, "AND"}, {Ident, "n"}, {Op, ">="}, {Number, "1.5e-3"}, {Ident, "OR"}, {Ident, "s"}, {Op, "="},
		{String, "'''q'q'''"}, {Ident, "AND"}, {Param, "@p"}, {EOF, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
}

func TestSplitString(t *testing.T) {
	for _, tc := range []struct {
		lit  string
		want Literal
	}{
		{`'a\'b'`, Literal{Body: `a\'b`, Offset: 1}},
		{`"""x"y"""`, Literal{Body: `x"y`, Offset: 3}},
		{`Rb'\d'`, Literal{Body: `\d`, Offset: 3, Raw: true, Bytes: true}},
		{`b""`, Literal{Body: "", Offset: 2, Bytes: true}},
	} {
		if got := SplitString(tc.lit); got != tc.want {
			t.Errorf("SplitString(%s) = %+v, want %+v", tc.lit, got, tc.want)
		}
	}
}

// TestLexErrors: each error is an *Error at the byte offset where the bad token starts.
func TestLexErrors(t *testing.T) {
	for _, tc := range []struct {
		src string
		pos int
		msg string
	}{
		{"a = 'open", 4, "unclosed string literal"},
		{"a = 'line\nbreak'", 4, "unclosed string literal"},
		{"a /* open", 2, "unclosed comment"},
		{"`open", 0, "unclosed identifier literal"},
		{"x = ``", 4, "invalid empty identifier"},
		{"x = $", 4, `illegal input character '$'`},
	} {
		_, err := Lex(tc.src)
		var e *Error
		if !errors.As(err, &e) || e.Pos != tc.pos || e.Msg != tc.msg {
			t.Errorf("Lex(%q) error %v, want %q at %d", tc.src, err, tc.msg, tc.pos)
		}
	}
}
