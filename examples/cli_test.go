package examples

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bqread/bqread/export"
)

// This file reads the bqread command as its --help describes it, and runs it.

// command is one bqread command: its help, its flags and its exit codes.
type command struct {
	help      string
	flags     map[string]bool   // long name -> takes a value
	short     map[string]string // shorthand -> long name
	exitCodes map[int]string
	commands  []string // the root's subcommands
}

var (
	commandsMu sync.Mutex
	commands   = map[string]*command{}
)

// cli returns bqread's command sub ("" for the root), reading its --help once.
func cli(t *testing.T, sub string) *command {
	t.Helper()
	commandsMu.Lock()
	defer commandsMu.Unlock()
	if c, ok := commands[sub]; ok {
		return c
	}
	args := append(strings.Fields(sub), "--help")
	out, err := exec.Command(bqread, args...).Output()
	if err != nil {
		t.Fatalf("bqread %s: %v", strings.Join(args, " "), err)
	}
	c := parseHelp(string(out))
	commands[sub] = c
	return c
}

var (
	flagLine = regexp.MustCompile(`^\s+(?:-([a-zA-Z]), )?--([a-z0-9][a-z0-9-]*)(?: ([a-zA-Z]+))?(?:\s{2,}|$)`)
	codeLine = regexp.MustCompile(`^\s+(\d+)\s+(.+)$`)
	cmdLine  = regexp.MustCompile(`^\s+([a-z][a-z0-9-]*)\s{2,}`)
)

// parseHelp reads the sections of a cobra --help: flags, exit codes, subcommands.
func parseHelp(help string) *command {
	c := &command{help: help, flags: map[string]bool{}, short: map[string]string{}, exitCodes: map[int]string{}}
	section := ""
	for line := range strings.Lines(help) {
		line = strings.TrimRight(line, "\n")
		if line != "" && !strings.HasPrefix(line, " ") {
			section = line
			continue
		}
		switch section {
		case "Flags:", "Global Flags:":
			if m := flagLine.FindStringSubmatch(line); m != nil {
				c.flags[m[2]] = m[3] != ""
				if m[1] != "" {
					c.short[m[1]] = m[2]
				}
			}
		case "Exit codes:":
			if m := codeLine.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				c.exitCodes[code] = m[2]
			}
		case "Available Commands:":
			if m := cmdLine.FindStringSubmatch(line); m != nil {
				c.commands = append(c.commands, m[1])
			}
		}
	}
	return c
}

// invocation is one run of a bqread command: the subcommand, its arguments and its flags in order.
type invocation struct {
	cmd   string
	args  []string
	flags []flagValue
}

type flagValue struct {
	name, value string
	hasValue    bool
}

// parseArgs reads argv (the subcommand first) as bqread would, and fails on a subcommand or flag
// that bqread's --help does not list.
func parseArgs(t *testing.T, argv []string) (invocation, error) {
	t.Helper()
	if root := cli(t, ""); len(argv) == 0 || !slices.Contains(root.commands, argv[0]) {
		return invocation{}, fmt.Errorf("%q: not a bqread command (%v)", argv, root.commands)
	}
	in := invocation{cmd: argv[0]}
	sub := cli(t, in.cmd)
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			in.args = append(in.args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") {
			long, ok := sub.short[name]
			if !ok {
				return invocation{}, fmt.Errorf("bqread %s: unknown flag %s", in.cmd, a)
			}
			name = long
		}
		takesValue, ok := sub.flags[name]
		if !ok {
			return invocation{}, fmt.Errorf("bqread %s: unknown flag --%s", in.cmd, name)
		}
		if takesValue && !hasValue {
			if i+1 == len(argv) {
				return invocation{}, fmt.Errorf("bqread %s: --%s needs a value", in.cmd, name)
			}
			i++
			value, hasValue = argv[i], true
		}
		in.flags = append(in.flags, flagValue{name, value, hasValue})
	}
	return in, nil
}

// get returns the value of the flag's last use.
func (in invocation) get(name string) (string, bool) {
	for i := len(in.flags) - 1; i >= 0; i-- {
		if in.flags[i].name == name {
			return in.flags[i].value, true
		}
	}
	return "", false
}

// set returns in with the flag's value replaced, or the flag added.
func (in invocation) set(name, value string) invocation {
	flags := slices.DeleteFunc(slices.Clone(in.flags), func(f flagValue) bool { return f.name == name })
	in.flags = append(flags, flagValue{name, value, true})
	return in
}

// argv returns the invocation as bqread's arguments.
func (in invocation) argv() []string {
	argv := append([]string{in.cmd}, in.args...)
	for _, f := range in.flags {
		if f.hasValue {
			argv = append(argv, "--"+f.name+"="+f.value)
		} else {
			argv = append(argv, "--"+f.name)
		}
	}
	return argv
}

// parseBqread parses a container's or a job's command and arguments as a bqread invocation.
func parseBqread(t *testing.T, command, args []string) (invocation, error) {
	t.Helper()
	if !slices.Equal(command, []string{"bqread"}) {
		return invocation{}, fmt.Errorf("command %q, want [bqread] (the image puts it on PATH)", command)
	}
	return parseArgs(t, args)
}

// runCLI runs the bqread binary with the environment variables env added to this process's
// (without its task index variables or BQREAD_ settings), fails the test unless it exits 0, and
// returns its stdout.
func runCLI(t *testing.T, env []string, argv ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bqread, argv...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(export.IndexEnv, name) || name == "SLURM_ARRAY_TASK_MIN" || strings.HasPrefix(name, "BQREAD_")
	})
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s bqread %s: %v\n%s", strings.Join(env, " "), strings.Join(argv, " "), err, stderr.String())
	}
	return stdout.String()
}
