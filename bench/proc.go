package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sampleEvery is how often the peak RSS of a measured process and of its children is read.
const sampleEvery = 20 * time.Millisecond

// procStats is what one measured child process used.
type procStats struct {
	wall       time.Duration
	cpu        time.Duration // user+system CPU of the child and its waited-for descendants
	selfCPU    time.Duration // CPU of this process (the emulator) while the child ran
	machineCPU float64       // busy fraction of all cores, every process on the machine counted
	peak       int64         // the child's own peak RSS (VmHWM), last sample, bytes
	children   map[int]int64 // each direct child's peak RSS (VmHWM) by pid, last sample, bytes
	stdout     []byte
}

// measure runs cmd to completion and reports its wall time, CPU and memory. Peak RSS of the
// process and of its direct children is the kernel's high-water mark (VmHWM) read every
// sampleEvery, so growth in a process's last few milliseconds can be missed. (wait4's ru_maxrss is
// no use here: Linux counts in it the memory of the parent the child was forked from, the bench
// with its emulator cache.)
func measure(ctx context.Context, cmd *exec.Cmd) (*procStats, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &tailWriter{max: 8 << 10, buf: &stderr}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	self0 := selfCPU()
	busy0, total0 := machineCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	s := &sampler{pid: cmd.Process.Pid, children: map[int]int64{}, execd: map[int]bool{}}
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() { s.run(done); close(sampled) }()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	<-sampled
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	busy1, total1 := machineCPU()
	st := &procStats{wall: wall, selfCPU: selfCPU() - self0, peak: s.peak, children: s.children, stdout: stdout.Bytes()}
	if total1 > total0 {
		st.machineCPU = float64(busy1-busy0) / float64(total1-total0)
	}
	st.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return st, nil
}

// sampler keeps the peak RSS of a process and of its direct children. A child is sampled only once
// it has exec'd (its command line differs from its parent's): between fork and exec it shares its
// parent's memory, whose peak is not its own.
type sampler struct {
	pid      int
	args     string // the process's command line, read at the first sample
	peak     int64
	children map[int]int64
	execd    map[int]bool
}

func (s *sampler) run(done <-chan struct{}) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) sample() {
	if s.args == "" {
		s.args = cmdline(s.pid)
	}
	s.peak = max(s.peak, vmHWM(s.pid))
	for _, c := range childPids(s.pid) {
		if !s.execd[c] {
			args := cmdline(c)
			if args == "" || args == s.args {
				continue
			}
			s.execd[c] = true
		}
		s.children[c] = max(s.children[c], vmHWM(c))
	}
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(data)
}

// vmHWM is pid's peak resident set size in bytes, or 0 when it cannot be read (the process has
// exited).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// childPids lists the direct children of pid (started by any of its threads).
func childPids(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// machineCPU reads the busy and total CPU time of the machine (/proc/stat, in clock ticks).
func machineCPU() (busy, total int64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	for i := 1; i < len(f) && i <= 8; i++ {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		total += v
		if i != 4 && i != 5 {
			busy += v
		}
	}
	return busy, total
}

// tailWriter keeps the last max bytes written, for error messages.
type tailWriter struct {
	max int
	buf *bytes.Buffer
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if extra := w.buf.Len() - w.max; extra > 0 {
		w.buf.Next(extra)
	}
	return len(p), nil
}
