package export

import "strings"

// orderedAtTopLevel reports whether the GoogleSQL query sql has ORDER BY at its top level, where
// it orders the result's rows (rather than inside a subquery, a function call such as ARRAY_AGG
// or a window's OVER (...)). String and bytes literals, quoted identifiers and comments are
// skipped, so an ORDER BY written in them does not count.
func orderedAtTopLevel(sql string) bool {
	depth := 0
	prev := ""
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '(' || c == '[':
			depth++
			prev = ""
			i++
		case c == ')' || c == ']':
			depth--
			prev = ""
			i++
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(sql, i)
			prev = ""
		case c == '#' || strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(sql)
			}
		case strings.HasPrefix(sql[i:], "/*"):
			if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(sql)
			}
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			word := strings.ToUpper(sql[i:j])
			if j < len(sql) && (sql[j] == '\'' || sql[j] == '"') && isLiteralPrefix(word) {
				i = skipQuoted(sql, j) // r'...', b"...", rb'''...'''
				prev = ""
				continue
			}
			if depth == 0 && prev == "ORDER" && word == "BY" {
				return true
			}
			prev, i = word, j
		default:
			i++
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isLiteralPrefix reports whether word is the prefix of a raw or bytes literal.
func isLiteralPrefix(word string) bool {
	switch word {
	case "R", "B", "RB", "BR":
		return true
	}
	return false
}

// skipQuoted returns the index just past the quoted text starting at sql[i]: a string in single,
// double or triple quotes, or a backquoted identifier. A backslash escapes the next character.
func skipQuoted(sql string, i int) int {
	q := sql[i : i+1]
	if strings.HasPrefix(sql[i:], q+q+q) && q != "`" {
		q = q + q + q
	}
	for j := i + len(q); j < len(sql); j++ {
		switch {
		case sql[j] == '\\':
			j++
		case strings.HasPrefix(sql[j:], q):
			return j + len(q)
		}
	}
	return len(sql)
}
