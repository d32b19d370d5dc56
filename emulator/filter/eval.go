package filter

import (
	"math/big"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/bqread/bqread/schema"
)

// tri is SQL's three-valued logic.
type tri int8

const (
	tFalse tri = iota
	tTrue
	tNull
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// row reads the values of one record row.
type row struct {
	cols []func(int) value
	i    int
}

// get returns an operand's value; for literals (and calls of literals) r may be nil.
func (r *row) get(o operand) value {
	if o.fn != nil {
		return o.fn(r)
	}
	if o.col < 0 {
		return o.lit
	}
	return r.cols[o.col](r.i)
}

type pred interface{ eval(r *row) tri }

type andPred struct{ l, r pred }
type orPred struct{ l, r pred }
type notPred struct{ x pred }

func (p andPred) eval(r *row) tri { return andTri(p.l.eval(r), p.r.eval(r)) }
func (p orPred) eval(r *row) tri  { return orTri(p.l.eval(r), p.r.eval(r)) }
func (p notPred) eval(r *row) tri { return notTri(p.x.eval(r)) }

func andTri(a, b tri) tri {
	switch {
	case a == tFalse || b == tFalse:
		return tFalse
	case a == tNull || b == tNull:
		return tNull
	}
	return tTrue
}

func orTri(a, b tri) tri {
	switch {
	case a == tTrue || b == tTrue:
		return tTrue
	case a == tNull || b == tNull:
		return tNull
	}
	return tFalse
}

func notTri(x tri) tri {
	switch x {
	case tTrue:
		return tFalse
	case tFalse:
		return tTrue
	}
	return tNull
}

type cmpPred struct {
	op   string
	l, r operand
	typ  schema.Type
}

func newCmp(op string, l, r operand, pos int) (cmpPred, error) {
	if l.typ == untyped && r.typ == untyped {
		l.typ, r.typ = schema.String, schema.String
	}
	var err error
	if l.typ == untyped || l.typ == nullType {
		l, err = coerce(l, r.typ)
	} else {
		r, err = coerce(r, l.typ)
	}
	if err != nil {
		return cmpPred{}, err
	}
	t := l.typ
	if t == nullType {
		t = r.typ
	}
	if t == schema.Bool && op != "=" && op != "!=" && op != "<>" {
		return cmpPred{}, invalid(pos, "operator %s is not supported for BOOL", op)
	}
	return cmpPred{op: op, l: l, r: r, typ: t}, nil
}

func (p cmpPred) eval(r *row) tri {
	a, b := r.get(p.l), r.get(p.r)
	if a.null || b.null {
		return tNull
	}
	c, unordered := compare(a, b, p.typ)
	if unordered {
		return triOf(p.op == "!=" || p.op == "<>")
	}
	switch p.op {
	case "=":
		return triOf(c == 0)
	case "!=", "<>":
		return triOf(c != 0)
	case "<":
		return triOf(c < 0)
	case "<=":
		return triOf(c <= 0)
	case ">":
		return triOf(c > 0)
	}
	return triOf(c >= 0)
}

type inPred struct {
	list []cmpPred
	not  bool
}

func (p inPred) eval(r *row) tri {
	res := tFalse
	for _, c := range p.list {
		switch c.eval(r) {
		case tTrue:
			res = tTrue
		case tNull:
			if res == tFalse {
				res = tNull
			}
		}
		if res == tTrue {
			break
		}
	}
	if p.not {
		return notTri(res)
	}
	return res
}

type constPred tri

func (c constPred) eval(*row) tri { return tri(c) }

type isNullPred struct {
	x   operand
	not bool
}

func (p isNullPred) eval(r *row) tri { return triOf(r.get(p.x).null != p.not) }

type isBoolPred struct {
	x         operand
	want, not bool
}

func (p isBoolPred) eval(r *row) tri {
	v := r.get(p.x)
	return triOf((!v.null && v.b == p.want) != p.not)
}

type likePred struct {
	x   operand
	re  *regexp.Regexp
	not bool
}

func (p likePred) eval(r *row) tri {
	v := r.get(p.x)
	if v.null {
		return tNull
	}
	return triOf(p.re.MatchString(v.s) != p.not)
}

// boolOperand turns a lone operand (a BOOL column or literal) into a predicate.
func boolOperand(o operand, pos int) (pred, error) {
	if o.typ != schema.Bool {
		return nil, invalid(pos, "expected a condition; %s is not BOOL", o.typ)
	}
	return cmpPred{op: "=", l: o, r: operand{col: -1, typ: schema.Bool, lit: value{b: true}}, typ: schema.Bool}, nil
}

// likeRegexp translates a LIKE pattern (% any run, _ one character, \ escapes) to an anchored regexp.
func likeRegexp(pat string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\' && i+1 < len(pat):
			i++
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		case c == '%':
			b.WriteString(`.*`)
		case c == '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// Eval returns, for each row of rec, whether the row passes (NULL does not). rec must have the
// Arrow schema of the full table schema the filter was parsed against: Parse has checked every
// column and literal, so evaluation cannot fail.
func (f *Filter) Eval(rec arrow.Record) []bool {
	return eachRow(rec, func(r *row) bool { return f.root.eval(r) == tTrue })
}

// eachRow returns test of each row of rec.
func eachRow(rec arrow.Record, test func(*row) bool) []bool {
	r := &row{cols: make([]func(int) value, rec.NumCols())}
	for i := range r.cols {
		r.cols[i] = accessor(rec.Column(i))
	}
	out := make([]bool, rec.NumRows())
	for i := range out {
		r.i = i
		out[i] = test(r)
	}
	return out
}

// accessor returns a reader of one column's values; columns a filter cannot name read as NULL.
func accessor(col arrow.Array) func(int) value {
	null := func(i int) bool { return col.IsNull(i) }
	var get func(int) value
	switch a := col.(type) {
	case *array.Boolean:
		get = func(i int) value { return value{b: a.Value(i)} }
	case *array.Int64:
		get = func(i int) value { return value{i: a.Value(i)} }
	case *array.Float64:
		get = func(i int) value { return value{kind: kFloat, f: a.Value(i)} }
	case *array.Decimal128:
		get = func(i int) value { return decimalValue(a.Value(i).BigInt(), 9) }
	case *array.Decimal256:
		get = func(i int) value { return decimalValue(a.Value(i).BigInt(), 38) }
	case *array.String:
		get = func(i int) value { return value{s: a.Value(i)} }
	case *array.Binary:
		get = func(i int) value { return value{s: string(a.Value(i))} }
	case *array.Date32:
		get = func(i int) value { return value{i: int64(a.Value(i))} }
	case *array.Time64:
		get = func(i int) value { return value{i: int64(a.Value(i))} }
	case *array.Timestamp:
		get = func(i int) value { return value{i: int64(a.Value(i))} }
	default:
		return func(int) value { return value{null: true} }
	}
	return func(i int) value {
		if null(i) {
			return value{null: true}
		}
		return get(i)
	}
}

func decimalValue(unscaled *big.Int, scale int) value {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	return value{kind: kRat, r: new(big.Rat).SetFrac(unscaled, den)}
}
