package examples

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file reads the shell commands of Markdown files.

// shellFile returns the commands of the ```sh blocks of a Markdown file (shellCommands).
func shellFile(t *testing.T, file string) [][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := shellCommands(string(b))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cmds
}

var assignment = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// shellCommands returns the simple commands of the ```sh blocks of a Markdown text, as the words
// the shell would pass: lines continued with a backslash joined, comments dropped, quotes removed,
// $NAME and ${NAME} replaced by the blocks' own assignments (NAME=value alone on a line), and
// lines cut at the operators && || | ; (written apart from their words). An undefined variable or
// a command substitution is an error: the test must see every value.
func shellCommands(markdown string) ([][]string, error) {
	var cmds [][]string
	vars := map[string]string{}
	in, logical := false, ""
	for line := range strings.Lines(markdown) {
		line = strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			in = !in && (trimmed == "```sh" || trimmed == "```bash")
			logical = ""
			continue
		}
		if !in {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			logical += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		logical += line
		words, err := shellWords(logical, vars)
		logical = ""
		if err != nil {
			return nil, err
		}
		if len(words) == 1 {
			if m := assignment.FindStringSubmatch(words[0]); m != nil {
				vars[m[1]] = m[2]
				continue
			}
		}
		var cmd []string
		for _, w := range append(words, ";") {
			switch w {
			case "&&", "||", "|", ";":
				if len(cmd) > 0 {
					cmds = append(cmds, cmd)
				}
				cmd = nil
			default:
				cmd = append(cmd, w)
			}
		}
	}
	return cmds, nil
}

// shellWords splits one command line into words.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	expand := func(i int) (int, error) { // line[i] is '$'; returns the index of the last byte used
		rest := line[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("unclosed ${ in %q", line)
			}
			name = rest[1:end]
			i += end + 1
		case strings.HasPrefix(rest, "("):
			return 0, fmt.Errorf("command substitution in %q: write the value", line)
		default:
			n := 0
			for n < len(rest) && (rest[n] == '_' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= 'A' && rest[n] <= 'Z' || n > 0 && rest[n] >= '0' && rest[n] <= '9') {
				n++
			}
			if n == 0 {
				cur.WriteByte('$')
				return i, nil
			}
			name = rest[:n]
			i += n
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("$%s is not set in the README's sh blocks (%q)", name, line)
		}
		cur.WriteString(v)
		return i, nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '$':
				var err error
				if i, err = expand(i); err != nil {
					return nil, err
				}
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '$':
			var err error
			if i, err = expand(i); err != nil {
				return nil, err
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c in %q", quote, line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestShellCommands checks the reading of sh blocks that the other tests rely on.
func TestShellCommands(t *testing.T) {
	for _, tc := range []struct {
		name, markdown string
		want           [][]string
		err            string
	}{
		{"words", "```sh\nbqread plan t --work-dir /w\n```", [][]string{{"bqread", "plan", "t", "--work-dir", "/w"}}, ""},
		{"other blocks", "```yaml\nargs: [x]\n```\ntext\n```sh\na\n```", [][]string{{"a"}}, ""},
		{"continuation and comment", "```sh\na \\\n  --b=1 \\\n  c   # d e\n```", [][]string{{"a", "--b=1", "c"}}, ""},
		{"variables", "```sh\nT=8   # tasks\nR=us\ngcloud --tasks=$T --region=${R} $R-docker.pkg.dev\n```",
			[][]string{{"gcloud", "--tasks=8", "--region=us", "us-docker.pkg.dev"}}, ""},
		{"quotes", "```sh\nV=1\nx 'a $V' \"b $V\" c\\ d --f='v(a[0])'\n```", [][]string{{"x", "a $V", "b 1", "c d", "--f=v(a[0])"}}, ""},
		{"operators", "```sh\na && b | c ; d || e\n```", [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}, ""},
		{"undefined variable", "```sh\na $NOPE\n```", nil, "$NOPE is not set"},
		{"command substitution", "```sh\na $(date)\n```", nil, "command substitution"},
		{"unclosed quote", "```sh\na 'b\n```", nil, "unclosed '"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := shellCommands(tc.markdown)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}
