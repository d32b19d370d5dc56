package filter

import (
	"slices"
	"strings"
	"time"

	"github.com/bqread/bqread/schema"
)

// Filter is a parsed, type-checked row restriction. It is safe for concurrent use.
type Filter struct {
	root    pred // what Eval runs: tree without the leafPred wrappers
	tree    pred // with each condition's columns, for CanMatch and Restricts
	columns []string
	clock   bool
	schema  schema.Schema
}

// Option configures Parse.
type Option func(*parser)

// WithNow sets the time that CURRENT_DATE, CURRENT_DATETIME and CURRENT_TIMESTAMP return, as the
// service fixes it once per statement; without it they return the time of Parse.
func WithNow(t time.Time) Option { return func(p *parser) { p.now = t } }

// Parse parses expr against the table schema s. Errors wrap ErrInvalid and say what is not supported.
func Parse(expr string, s schema.Schema, opts ...Option) (*Filter, error) {
	if len(expr) > maxLen {
		return nil, invalid(0, "row restriction is longer than 1 MB")
	}
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, schema: s, used: map[string]bool{}, now: time.Now()}
	for _, o := range opts {
		o(p)
	}
	if p.peek().kind == tEOF {
		return nil, invalid(0, "empty row restriction")
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, invalid(t.pos, "unexpected %q", t.text)
	}
	f := &Filter{root: unwrap(root), tree: root, clock: p.clock, schema: s}
	for _, c := range s {
		if p.used[c.Name] {
			f.columns = append(f.columns, c.Name)
		}
	}
	return f, nil
}

// Columns returns the top-level columns the filter reads, in table order.
func (f *Filter) Columns() []string { return f.columns }

// ReadsClock reports whether the filter calls CURRENT_DATE, CURRENT_DATETIME or CURRENT_TIMESTAMP:
// then the rows it keeps depend on the time it was parsed with (WithNow), not only on its text.
func (f *Filter) ReadsClock() bool { return f.clock }

type parser struct {
	toks   []token
	i      int
	schema schema.Schema
	used   map[string]bool
	now    time.Time
	clock  bool  // a CURRENT_* function was called
	refs   []int // the columns read so far, in the order they are named
}

func (p *parser) peek() token { return p.toks[p.i] }

// next consumes a token; at the end it keeps returning the EOF token.
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if t := p.next(); t.kind != tOp || t.text != op {
		return invalid(t.pos, "expected %q, found %q", op, t.text)
	}
	return nil
}

func (p *parser) or() (pred, error) {
	l, err := p.and()
	for err == nil && p.accept("OR") {
		var r pred
		if r, err = p.and(); err == nil {
			l = orPred{l, r}
		}
	}
	return l, err
}

func (p *parser) and() (pred, error) {
	l, err := p.not()
	for err == nil && p.accept("AND") {
		var r pred
		if r, err = p.not(); err == nil {
			l = andPred{l, r}
		}
	}
	return l, err
}

func (p *parser) not() (pred, error) {
	if p.accept("NOT") {
		x, err := p.not()
		return notPred{x}, err
	}
	return p.predicate()
}

func (p *parser) predicate() (pred, error) {
	if t := p.peek(); t.kind == tOp && t.text == "(" {
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		return x, p.expectOp(")")
	}
	mark := len(p.refs)
	x, err := p.condition()
	if err != nil {
		return nil, err
	}
	return leafPred{pred: x, cols: slices.Clone(p.refs[mark:])}, nil
}

// condition parses one condition that is not a parenthesized one: a comparison, IS, IN, BETWEEN,
// LIKE or a lone BOOL operand.
func (p *parser) condition() (pred, error) {
	start := p.peek().pos
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp && isCmp(t.text) {
		p.i++
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		return newCmp(t.text, l, r, t.pos)
	}
	if p.accept("IS") {
		return p.isPred(l)
	}
	negate := p.accept("NOT")
	switch {
	case p.accept("IN"):
		return p.inPred(l, negate)
	case p.accept("BETWEEN"):
		return p.betweenPred(l, negate)
	case p.accept("LIKE"):
		return p.likePred(l, negate)
	case negate:
		return nil, invalid(p.peek().pos, "expected IN, BETWEEN or LIKE after NOT")
	}
	return boolOperand(l, start)
}

func isCmp(op string) bool {
	switch op {
	case "=", "!=", "<>", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func (p *parser) isPred(x operand) (pred, error) {
	negate := p.accept("NOT")
	t := p.next()
	switch {
	case t.is("NULL"):
		return isNullPred{x: x, not: negate}, nil
	case t.is("TRUE"), t.is("FALSE"):
		if x.typ != schema.Bool {
			return nil, invalid(t.pos, "IS %s needs a BOOL operand, not %s", strings.ToUpper(t.text), x.typ)
		}
		return isBoolPred{x: x, want: t.is("TRUE"), not: negate}, nil
	}
	return nil, invalid(t.pos, "expected NULL, TRUE or FALSE after IS, found %q", t.text)
}

func (p *parser) inPred(x operand, negate bool) (pred, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var list []cmpPred
	for {
		t := p.peek()
		v, err := p.operand()
		if err != nil {
			return nil, err
		}
		c, err := newCmp("=", x, v, t.pos)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
		if sep := p.next(); sep.kind == tOp && sep.text == ")" {
			break
		} else if sep.kind != tOp || sep.text != "," {
			return nil, invalid(sep.pos, "expected \",\" or \")\" in IN list, found %q", sep.text)
		}
	}
	return inPred{list: list, not: negate}, nil
}

func (p *parser) betweenPred(x operand, negate bool) (pred, error) {
	t := p.peek()
	lo, err := p.operand()
	if err != nil {
		return nil, err
	}
	if !p.accept("AND") {
		return nil, invalid(p.peek().pos, "expected AND in BETWEEN")
	}
	hi, err := p.operand()
	if err != nil {
		return nil, err
	}
	ge, err := newCmp(">=", x, lo, t.pos)
	if err != nil {
		return nil, err
	}
	le, err := newCmp("<=", x, hi, t.pos)
	if err != nil {
		return nil, err
	}
	var b pred = andPred{ge, le}
	if negate {
		b = notPred{b}
	}
	return b, nil
}

func (p *parser) likePred(x operand, negate bool) (pred, error) {
	t := p.next()
	if x.typ != schema.String || t.kind != tString {
		return nil, invalid(t.pos, "LIKE needs a STRING column and a string pattern")
	}
	re, err := likeRegexp(t.text)
	if err != nil {
		return nil, invalid(t.pos, "bad LIKE pattern: %v", err)
	}
	return likePred{x: x, re: re, not: negate}, nil
}
