package sql

import (
	"strconv"
	"strings"

	"github.com/bqread/bqread/emulator/internal/lex"
)

// Query is a parsed query of the supported subset, not yet bound to its table's schema.
type Query struct {
	src           string
	Table         TableName
	alias         string // the table's alias: the one given, else the table's name
	items         []selectItem
	where         *clause
	order         []orderKey
	limit, offset int64 // limit < 0: none
}

// TableName is the table of the FROM clause. Project and Dataset are empty when the query leaves
// them out; Parse fills them from its defaults.
type TableName struct{ Project, Dataset, Table string }

// selectItem is *, alias.* or path.* (star with a prefix), or a column or STRUCT field path.
type selectItem struct {
	star   bool
	path   []string // the prefix of a star; the column path otherwise
	except []name   // of a star
	alias  string
	pos    int
}

type name struct {
	text string
	pos  int
}

// clause is a part of the query handed to the filter package as text.
type clause struct {
	text string // the source text with table-alias qualifiers blanked out
	pos  int    // its byte offset in the query
}

type orderKey struct {
	path    []string
	ordinal int // 1-based select-list position; 0 when path is used
	desc    bool
	nulls   int // 0: as BigQuery's default (first ascending, last descending); 1: first; 2: last
	pos     int
}

// Defaults complete table names that leave out the project or the dataset.
type Defaults struct{ Project, Dataset string }

type parser struct {
	src  string
	toks []token
	i    int
}

// reserved are GoogleSQL's reserved keywords: never a column or alias unless backquoted.
var reserved = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`ALL AND ANY ARRAY AS ASC ASSERT_ROWS_MODIFIED AT BETWEEN BY CASE CAST
		COLLATE CONTAINS CREATE CROSS CUBE CURRENT DEFAULT DEFINE DESC DISTINCT ELSE END ENUM ESCAPE
		EXCEPT EXCLUDE EXISTS EXTRACT FALSE FETCH FOLLOWING FOR FROM FULL GROUP GROUPING GROUPS HASH
		HAVING IF IGNORE IN INNER INTERSECT INTERVAL INTO IS JOIN LATERAL LEFT LIKE LIMIT LOOKUP MERGE
		NATURAL NEW NO NOT NULL NULLS OF ON OR ORDER OUTER OVER PARTITION PRECEDING PROTO QUALIFY RANGE
		RECURSIVE RESPECT RIGHT ROLLUP ROWS SELECT SET SOME STRUCT TABLESAMPLE THEN TO TREAT TRUE
		UNBOUNDED UNION UNNEST USING WHEN WHERE WINDOW WITH WITHIN`) {
		reserved[k] = true
	}
}

func isReserved(t token) bool { return t.Kind == lex.Ident && reserved[strings.ToUpper(t.Text)] }

// statements are the first words of statements other than queries.
var statements = map[string]string{
	"INSERT": "DML", "UPDATE": "DML", "DELETE": "DML", "MERGE": "DML", "TRUNCATE": "DML",
	"CREATE": "DDL", "DROP": "DDL", "ALTER": "DDL", "UNDROP": "DDL", "GRANT": "DCL", "REVOKE": "DCL",
	"DECLARE": "scripting", "SET": "scripting", "BEGIN": "scripting", "IF": "scripting", "CALL": "scripting",
	"LOOP": "scripting", "WHILE": "scripting", "FOR": "scripting", "REPEAT": "scripting", "EXECUTE": "scripting",
	"RAISE": "scripting", "ASSERT": "scripting", "EXPORT": "EXPORT DATA", "LOAD": "LOAD DATA",
}

// Parse parses a GoogleSQL query of the supported subset. A table name without project or dataset
// takes them from d. Errors are *Error.
func Parse(src string, d Defaults) (*Query, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	for _, t := range toks {
		if t.Kind == lex.Param {
			return nil, unsupported(src, t.Pos, "query parameters")
		}
	}
	q, err := p.query(d)
	if err != nil {
		return nil, err
	}
	return q, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.Kind != lex.EOF {
		p.i++
	}
	return t
}

func (p *parser) accept(kw string) bool {
	if p.peek().Keyword(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.peek().IsOp(op) {
		p.i++
		return true
	}
	return false
}

// unexpected is BigQuery's syntax error for a token it did not expect.
func (p *parser) unexpected(t token) *Error {
	return errorAt(p.src, t.Pos, false, "Syntax error: Unexpected %s", describe(t))
}

func (p *parser) expected(what string, t token) *Error {
	return errorAt(p.src, t.Pos, false, "Syntax error: Expected %s but got %s", what, describe(t))
}

func describe(t token) string {
	switch {
	case t.Kind == lex.EOF:
		return "end of script"
	case isReserved(t):
		return "keyword " + strings.ToUpper(t.Text)
	case t.Kind == lex.Ident, t.Kind == lex.Quoted:
		return "identifier " + strconv.Quote(t.Text)
	case t.Kind == lex.String:
		return "string literal " + t.Text
	case t.Kind == lex.Number:
		return "integer literal " + strconv.Quote(t.Text)
	}
	return strconv.Quote(t.Text)
}

func (p *parser) query(d Defaults) (*Query, error) {
	t := p.peek()
	switch {
	case t.Keyword("WITH"):
		return nil, unsupported(p.src, t.Pos, "WITH (common table expressions)")
	case t.IsOp("("):
		return nil, unsupported(p.src, t.Pos, "parenthesized queries")
	case t.Kind == lex.Ident && statements[strings.ToUpper(t.Text)] != "":
		return nil, unsupported(p.src, t.Pos, statements[strings.ToUpper(t.Text)]+" statements ("+strings.ToUpper(t.Text)+")")
	case !t.Keyword("SELECT"):
		return nil, p.unexpected(t)
	}
	p.next()
	q := &Query{src: p.src, limit: -1}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if err := p.from(q, d); err != nil {
		return nil, err
	}
	if err := p.tail(q); err != nil {
		return nil, err
	}
	p.acceptOp(";")
	if t := p.peek(); t.Kind != lex.EOF {
		if t.Keyword("SELECT") || t.Keyword("WITH") {
			return nil, unsupported(p.src, t.Pos, "several statements (a script)")
		}
		return nil, p.expected("end of input", t)
	}
	return q, nil
}

func (p *parser) selectList(q *Query) error {
	switch t := p.peek(); {
	case t.Keyword("DISTINCT"):
		return unsupported(p.src, t.Pos, "SELECT DISTINCT")
	case t.Keyword("AS"):
		return unsupported(p.src, t.Pos, "SELECT AS STRUCT or AS VALUE")
	case t.Keyword("ALL"):
		p.next()
	}
	for {
		it, err := p.selectItem(q)
		if err != nil {
			return err
		}
		q.items = append(q.items, it)
		if !p.acceptOp(",") {
			return nil
		}
		if p.peek().Keyword("FROM") { // a trailing comma
			return nil
		}
	}
}

func (p *parser) selectItem(q *Query) (selectItem, error) {
	t := p.peek()
	it := selectItem{pos: t.Pos}
	switch {
	case t.IsOp("*"):
		p.next()
		it.star = true
		return it, p.starModifiers(&it)
	case t.Kind == lex.Quoted || t.Kind == lex.Ident && !isReserved(t):
		if n := p.toks[p.i+1]; n.IsOp("(") {
			return it, unsupported(p.src, t.Pos, "function "+strings.ToUpper(t.Text)+" in the select list")
		}
		if n := p.toks[p.i+1]; n.Kind == lex.String {
			return it, unsupported(p.src, t.Pos, "literals in the select list")
		}
		path, star, err := p.path()
		if err != nil {
			return it, err
		}
		it.path, it.star = path, star
		if star {
			return it, p.starModifiers(&it)
		}
	case t.Keyword("FROM"), t.Kind == lex.EOF:
		return it, p.unexpected(t)
	case t.Kind == lex.String || t.Kind == lex.Number || t.Keyword("NULL") || t.Keyword("TRUE") || t.Keyword("FALSE"):
		return it, unsupported(p.src, t.Pos, "literals in the select list")
	default:
		return it, unsupported(p.src, t.Pos, "expressions in the select list (only columns, STRUCT fields and * are)")
	}
	alias, err := p.alias()
	if err != nil {
		return it, err
	}
	it.alias = alias
	if n := p.peek(); !n.IsOp(",") && !n.Keyword("FROM") && n.Kind != lex.EOF {
		if n.Kind == lex.Op && !n.IsOp(";") && !n.IsOp(")") {
			return it, unsupported(p.src, t.Pos, "expressions in the select list (only columns, STRUCT fields and * are)")
		}
		if n.Keyword("OVER") {
			return it, unsupported(p.src, n.Pos, "window functions")
		}
		return it, p.expected("end of input", n)
	}
	return it, nil
}

// path reads a dotted path of identifiers (a backquoted part may itself hold dots); star is true
// when it ends in .*.
func (p *parser) path() (parts []string, star bool, err error) {
	for {
		t := p.next()
		switch {
		case t.Kind == lex.Quoted:
			parts = append(parts, strings.Split(t.Text, ".")...)
		case t.Kind == lex.Ident && (len(parts) > 0 || !isReserved(t)):
			parts = append(parts, t.Text)
		default:
			return nil, false, p.unexpected(t)
		}
		if !p.peek().IsOp(".") {
			return parts, false, nil
		}
		p.next()
		if p.acceptOp("*") {
			return parts, true, nil
		}
	}
}

func (p *parser) starModifiers(it *selectItem) error {
	if t := p.peek(); t.Keyword("REPLACE") {
		return unsupported(p.src, t.Pos, "SELECT * REPLACE")
	}
	if !p.accept("EXCEPT") {
		return nil
	}
	if t := p.next(); !t.IsOp("(") {
		return p.expected("\"(\"", t)
	}
	for {
		t := p.next()
		if t.Kind != lex.Quoted && (t.Kind != lex.Ident || isReserved(t)) {
			return p.unexpected(t)
		}
		it.except = append(it.except, name{t.Text, t.Pos})
		if p.acceptOp(")") {
			return nil
		}
		if t := p.next(); !t.IsOp(",") {
			return p.expected("\")\" or \",\"", t)
		}
	}
}

// alias reads an optional [AS] alias.
func (p *parser) alias() (string, error) {
	if p.accept("AS") {
		t := p.next()
		if t.Kind != lex.Quoted && (t.Kind != lex.Ident || isReserved(t)) {
			return "", p.unexpected(t)
		}
		return t.Text, nil
	}
	if t := p.peek(); t.Kind == lex.Quoted || t.Kind == lex.Ident && !isReserved(t) {
		p.next()
		return t.Text, nil
	}
	return "", nil
}

func (p *parser) from(q *Query, d Defaults) error {
	t := p.next()
	if !t.Keyword("FROM") {
		if t.Kind == lex.EOF {
			return unsupported(p.src, t.Pos, "queries without FROM")
		}
		return p.expected("end of input", t)
	}
	switch n := p.peek(); {
	case n.IsOp("("):
		return unsupported(p.src, n.Pos, "subqueries in FROM")
	case n.Keyword("UNNEST"):
		return unsupported(p.src, n.Pos, "UNNEST")
	}
	start := p.peek()
	parts, err := p.tableParts()
	if err != nil {
		return err
	}
	if p.peek().IsOp("(") {
		return unsupported(p.src, start.Pos, "table-valued functions")
	}
	if err := q.setTable(parts, d, p.src, start.Pos); err != nil {
		return err
	}
	if n := p.peek(); n.Keyword("FOR") {
		return unsupported(p.src, n.Pos, "FOR SYSTEM_TIME AS OF")
	}
	if q.alias, err = p.alias(); err != nil {
		return err
	}
	if q.alias == "" {
		q.alias = q.Table.Table
	}
	switch n := p.peek(); {
	case n.IsOp(","), n.Keyword("JOIN"), n.Keyword("INNER"), n.Keyword("LEFT"), n.Keyword("RIGHT"), n.Keyword("FULL"), n.Keyword("CROSS"), n.Keyword("NATURAL"):
		return unsupported(p.src, n.Pos, "joins")
	case n.Keyword("TABLESAMPLE"):
		return unsupported(p.src, n.Pos, "TABLESAMPLE")
	}
	return nil
}

// tableParts reads a table path; an unquoted project name may hold hyphens (my-project.ds.t).
func (p *parser) tableParts() ([]string, error) {
	var parts []string
	for {
		t := p.next()
		switch {
		case t.Kind == lex.Quoted:
			parts = append(parts, strings.Split(t.Text, ".")...)
		case t.Kind == lex.Ident && (len(parts) > 0 || !isReserved(t)):
			part := t.Text
			for end := t.End; p.peek().IsOp("-") && p.peek().Pos == end; {
				n := p.toks[p.i+1]
				if n.Kind != lex.Ident || n.Pos != end+1 {
					break
				}
				part += "-" + n.Text
				end = n.End
				p.i += 2
			}
			parts = append(parts, part)
		default:
			return nil, p.unexpected(t)
		}
		if !p.acceptOp(".") {
			return parts, nil
		}
	}
}

func (q *Query) setTable(parts []string, d Defaults, src string, pos int) error {
	for _, part := range parts {
		if part == "" {
			return errorAt(src, pos, false, "Syntax error: Invalid table name %s", strings.Join(parts, "."))
		}
	}
	last := parts[len(parts)-1]
	if strings.ContainsAny(last, "*") {
		return unsupported(src, pos, "wildcard tables")
	}
	switch len(parts) {
	case 1:
		if d.Dataset == "" {
			return errorAt(src, pos, false, "Table %q must be qualified with a dataset (e.g. dataset.table).", last)
		}
		q.Table = TableName{d.Project, d.Dataset, last}
	case 2:
		q.Table = TableName{d.Project, parts[0], last}
	case 3:
		q.Table = TableName{parts[0], parts[1], last}
	default:
		return errorAt(src, pos, false, "Invalid table name: %s", strings.Join(parts, "."))
	}
	if strings.HasPrefix(strings.ToUpper(q.Table.Dataset), "INFORMATION_SCHEMA") || strings.EqualFold(q.Table.Table, "INFORMATION_SCHEMA") {
		return unsupported(src, pos, "INFORMATION_SCHEMA")
	}
	return nil
}

// clauseEnd are the keywords that end a WHERE clause at its top level.
var clauseEnd = []string{"GROUP", "HAVING", "QUALIFY", "WINDOW", "ORDER", "LIMIT", "UNION", "INTERSECT", "EXCEPT"}

func (p *parser) tail(q *Query) error {
	if t := p.peek(); t.Keyword("WHERE") {
		p.next()
		c, err := p.whereClause(q)
		if err != nil {
			return err
		}
		q.where = c
	}
	switch t := p.peek(); {
	case t.Keyword("GROUP"):
		return unsupported(p.src, t.Pos, "GROUP BY")
	case t.Keyword("HAVING"):
		return unsupported(p.src, t.Pos, "HAVING")
	case t.Keyword("QUALIFY"):
		return unsupported(p.src, t.Pos, "QUALIFY")
	case t.Keyword("WINDOW"):
		return unsupported(p.src, t.Pos, "WINDOW")
	case t.Keyword("UNION"), t.Keyword("INTERSECT"), t.Keyword("EXCEPT"):
		return unsupported(p.src, t.Pos, "set operations ("+strings.ToUpper(t.Text)+")")
	}
	if p.accept("ORDER") {
		if t := p.next(); !t.Keyword("BY") {
			return p.expected("keyword BY", t)
		}
		if err := p.orderBy(q); err != nil {
			return err
		}
	}
	if p.accept("LIMIT") {
		n, err := p.count()
		if err != nil {
			return err
		}
		q.limit = n
		if p.accept("OFFSET") {
			if q.offset, err = p.count(); err != nil {
				return err
			}
		}
	}
	if t := p.peek(); t.Keyword("UNION") || t.Keyword("INTERSECT") || t.Keyword("EXCEPT") {
		return unsupported(p.src, t.Pos, "set operations ("+strings.ToUpper(t.Text)+")")
	}
	return nil
}

// whereClause takes the text up to the next clause at the top level, with the table alias's
// qualifiers (t.col) blanked out, since the filter package reads unqualified columns.
func (p *parser) whereClause(q *Query) (*clause, error) {
	start := p.peek()
	if start.Kind == lex.EOF {
		return nil, p.unexpected(start)
	}
	text := []byte(p.src)
	depth := 0
	for ; ; p.i++ {
		t := p.peek()
		switch {
		case t.IsOp("("):
			depth++
		case t.IsOp(")"):
			depth--
		case t.Keyword("SELECT"):
			return nil, unsupported(p.src, t.Pos, "subqueries")
		case t.Keyword("OVER"):
			return nil, unsupported(p.src, t.Pos, "window functions")
		case (t.Kind == lex.Ident || t.Kind == lex.Quoted) && strings.EqualFold(t.Text, q.alias) && p.toks[p.i+1].IsOp(".") &&
			!(p.i > 0 && p.toks[p.i-1].IsOp(".")):
			for k := t.Pos; k < p.toks[p.i+1].End; k++ {
				text[k] = ' '
			}
		}
		if t.Kind == lex.EOF || t.IsOp(";") || depth < 0 || depth == 0 && t.Kind == lex.Ident && slicesContainsFold(clauseEnd, t.Text) {
			end := t.Pos
			return &clause{text: string(text[start.Pos:end]), pos: start.Pos}, nil
		}
	}
}

func slicesContainsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (p *parser) orderBy(q *Query) error {
	for {
		t := p.peek()
		k := orderKey{pos: t.Pos}
		switch {
		case t.Kind == lex.Number:
			p.next()
			n, err := strconv.Atoi(t.Text)
			if err != nil || n < 1 {
				return unsupported(p.src, t.Pos, "ORDER BY of a constant")
			}
			k.ordinal = n
		case t.Kind == lex.Quoted || t.Kind == lex.Ident && !isReserved(t):
			if p.toks[p.i+1].IsOp("(") {
				return unsupported(p.src, t.Pos, "expressions in ORDER BY (only columns, STRUCT fields and select-list aliases are)")
			}
			path, star, err := p.path()
			if err != nil {
				return err
			}
			if star {
				return p.unexpected(p.toks[p.i-1])
			}
			k.path = path
		case t.Kind == lex.EOF:
			return p.unexpected(t)
		default:
			return unsupported(p.src, t.Pos, "expressions in ORDER BY (only columns, STRUCT fields and select-list aliases are)")
		}
		if n := p.peek(); n.Kind == lex.Op && !n.IsOp(",") && !n.IsOp(";") {
			return unsupported(p.src, t.Pos, "expressions in ORDER BY (only columns, STRUCT fields and select-list aliases are)")
		}
		if n := p.peek(); n.Keyword("COLLATE") {
			return unsupported(p.src, n.Pos, "COLLATE")
		}
		if p.accept("DESC") {
			k.desc = true
		} else {
			p.accept("ASC")
		}
		if p.accept("NULLS") {
			switch t := p.next(); {
			case t.Keyword("FIRST"):
				k.nulls = 1
			case t.Keyword("LAST"):
				k.nulls = 2
			default:
				return p.expected("keyword FIRST or LAST", t)
			}
		}
		q.order = append(q.order, k)
		if !p.acceptOp(",") {
			return nil
		}
	}
}

// count reads the integer literal of LIMIT or OFFSET.
func (p *parser) count() (int64, error) {
	t := p.next()
	if t.Kind != lex.Number {
		if t.Kind == lex.EOF {
			return 0, p.unexpected(t)
		}
		return 0, errorAt(p.src, t.Pos, false, "Syntax error: Unexpected %s; LIMIT and OFFSET expect an integer literal", describe(t))
	}
	n, err := strconv.ParseInt(t.Text, 10, 64)
	if err != nil || n < 0 {
		return 0, errorAt(p.src, t.Pos, false, "LIMIT and OFFSET expect a non-negative integer literal, not %s", t.Text)
	}
	return n, nil
}
