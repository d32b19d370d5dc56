package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestServePrintsAddressesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var errOut strings.Builder
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--fault", "unavailable@10",
			"--stream-bandwidth", "25MiB/s", "--latency", "1ms", "--cache-size", "1GiB", "--max-concurrent-streams", "400",
			"--max-concurrent-streams-per-session", "8", "--job-run-time", "0", "--job-fault", "accessDenied@my-project.ds.t",
			"--stream-allocation", "liquid"}, strings.NewReader(""), pw, &errOut)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "listening on 127.0.0.1:") || !strings.HasPrefix(lines[1], "http on 127.0.0.1:") {
		t.Fatalf("stdout = %q, want the gRPC then the HTTP address (stderr %q)", lines, errOut.String())
	}
	for _, l := range lines {
		addr := l[strings.LastIndex(l, " ")+1:]
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		c.Close()
	}
	go io.Copy(io.Discard, pr)
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit code after cancel = %d, want 0 (stderr %q)", code, errOut.String())
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--fault", "bogus@1"},
		{"serve", "--stream-bandwidth", "fast"},
		{"serve", "--cache-size", "lots"},
		{"serve", "--response-bytes", "0"},
		{"serve", "--max-concurrent-streams", "0"},
		{"serve", "--max-concurrent-streams-per-session", "-1"},
		{"serve", "--job-fault", "denied@my-project.ds.t"},
		{"serve", "--job-fault", "quotaExceeded@ds.t"},
		{"serve", "--job-run-time", "-1s"},
		{"serve", "--stream-allocation", "random"},
	} {
		var out, errOut strings.Builder
		if code := run(t.Context(), args, strings.NewReader(""), &out, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut.String())
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"25MiB/s", 25 << 20},
		{"500KB/s", 500_000},
		{"1000000", 1_000_000},
		{"1.5 GiB/s", 3 << 29},
		{"10B/s", 10},
		{"4GiB", 4 << 30},
		{"4G", 4_000_000_000},
		{"4g/s", 4_000_000_000},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"fast", "-1MiB/s", "0", "MiB/s", "0.5B"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) succeeded, want an error", bad)
		}
	}
}
