package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVersion checks that --version and the version command print the same build info, on
// stdout, and exit 0.
func TestVersion(t *testing.T) {
	var outputs []string
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, nil, &stdout, &stderr); code != exitOK || stderr.Len() != 0 {
			t.Fatalf("bqread %v: exit %d, stderr %q; want 0 and nothing", args, code, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"bqread ", "module    ", "revision  ", "go        " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH} {
			if !strings.Contains(out, want) {
				t.Errorf("bqread %v prints\n%s\nwant a line with %q", args, out, want)
			}
		}
		outputs = append(outputs, out)
	}
	if outputs[0] != outputs[1] {
		t.Errorf("--version and version differ:\n%s", cmp.Diff(outputs[0], outputs[1]))
	}
}

func TestFormatVersion(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"go install", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/bqread/bqread", Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "false"}}},
			`bqread v1.2.3
  module    github.com/bqread/bqread
  revision  0123abcd
  time      2026-01-02T03:04:05Z
  modified  false
  go        go1.26.8 linux/amd64
`},
		{"checkout without vcs stamping", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/bqread/bqread", Version: "(devel)"}},
			`bqread (devel)
  module    github.com/bqread/bqread
  revision  unknown (built outside a git checkout, or with -buildvcs=false)
  go        go1.26.8 linux/amd64
`},
		{"no build info", nil,
			`bqread (devel)
  module    github.com/bqread/bqread
  revision  unknown (built outside a git checkout, or with -buildvcs=false)
  go        ` + runtime.Version() + ` linux/amd64
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, formatVersion(tt.bi, "linux/amd64")); diff != "" {
				t.Errorf("formatVersion (-want +got):\n%s", diff)
			}
		})
	}
}
