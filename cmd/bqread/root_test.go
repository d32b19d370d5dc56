package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRootUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"unknown command", []string{"exprt"}, exitUsage, `unknown command "exprt": did you mean export?`},
		{"unknown command, no suggestion", []string{"frobnicate"}, exitUsage, "run bqread --help"},
		{"export without a table", []string{"export", "-o", "x.ndjson"}, exitUsage, "run bqread export --help"},
		{"export with two tables", []string{"export", "a.b.c", "d.e.f", "-o", "x.ndjson"}, exitUsage, "received 2"},
		{"worker with an argument", []string{"worker", "extra"}, exitUsage, "bqread worker --help"},
		{"unknown flag", []string{"export", "--nope"}, exitUsage, "--nope"},
		{"help", []string{}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, nil, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantMsg == "" {
				if !strings.Contains(stdout.String(), "Exit codes:") || stderr.Len() != 0 {
					t.Errorf("bqread with no arguments should print the help:\nstdout %q\nstderr %q", stdout.String(), stderr.String())
				}
				return
			}
			if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("stderr should be one line containing %q:\n%s", tt.wantMsg, msg)
			}
		})
	}
}
