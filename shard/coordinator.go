package shard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"golang.org/x/sync/errgroup"

	"github.com/bqread/bqread/internal/event"
	"github.com/bqread/bqread/internal/workdir"
	"github.com/bqread/bqread/session"
)

// Config tunes Run.
type Config struct {
	// WorkDir is the local work dir holding manifest.json; segments are committed there.
	WorkDir string
	// Parallelism is the most worker processes running at once (default 1).
	Parallelism int
	// MaxRestarts is how many times a stream's worker is started again after it died or gave up
	// on a transient error. Fatal and usage errors are never restarted.
	MaxRestarts int
	// Launch makes the command of each worker process (default LocalLauncher(nil, nil)).
	Launch Launcher
	// WaitDelay is how long a worker has to exit after SIGTERM before it is killed (default 10s).
	WaitDelay time.Duration
	// OnEvent, if set, receives every worker event, one call at a time.
	OnEvent func(event.Event)
	// Merger, if set, is told of each segment and finished stream as its worker reports it, so
	// that the output is written while the streams are read. If it fails, Run stops the workers
	// and returns that error.
	Merger *Merger
	// Log receives worker stderr lines and supervision records (default: discarded).
	Log *slog.Logger
	// SplitStragglers lets the coordinator split a running stream that has much left when a worker
	// slot is free, and give the remainder to a new worker (see splitStraggler).
	SplitStragglers bool
	// SplitMinLeft is how much reading time a stream must have left, as its progress estimates
	// it, to be split (default DefaultSplitMinLeft).
	SplitMinLeft time.Duration
}

// StreamResult is what one stream's workers did.
type StreamResult struct {
	Index int   `json:"index"`
	Pid   int   `json:"pid"`  // the process that finished the stream (the last started)
	Pids  []int `json:"pids"` // every process started for the stream, in order
	// StartOffset is where the first process of this run started reading: the rows committed
	// before it (by an earlier, interrupted run), which were not read again.
	StartOffset int64 `json:"start_offset"`
	Rows        int64 `json:"rows"`
	Bytes       int64 `json:"bytes_received"`
	Segments    int   `json:"segments"` // segments committed by these processes
	Attempts    int   `json:"attempts"` // ReadRows calls, over all processes
	Retries     int   `json:"retries"`
	Restarts    int   `json:"restarts"`
}

// Result is what Run did.
type Result struct {
	Streams []StreamResult
	Rows    int64
	Bytes   int64
	Retries int
}

// WorkerError is a stream's final failure.
type WorkerError struct {
	Stream  int
	Class   event.Class
	Code    string // the gRPC code, when a call failed
	Message string
}

func (e *WorkerError) Error() string {
	return fmt.Sprintf("stream %d: %s", e.Stream, e.Message)
}

// Is makes errors.Is(err, ErrSessionExpired) true for a worker that failed because the session
// expired.
func (e *WorkerError) Is(target error) bool {
	return target == ErrSessionExpired && e.Class == event.Expired
}

// Run starts one worker process per stream of the manifest in cfg.WorkDir, at most
// cfg.Parallelism at once, restarts workers that die, and returns when every stream is read or
// one failed for good (then the others are stopped with SIGTERM). With a live cfg.Merger it also
// copies each committed segment into the output while the other streams are read; Merger.Finish
// completes the output after Run.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	d, err := workdir.Open(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	m, err := session.LoadManifest(ctx, d.Store())
	if err != nil {
		return nil, err
	}
	for i := range m.Streams {
		if err := forgetLost(ctx, d, i); err != nil {
			return nil, err
		}
	}
	c := newCoordinator(cfg, d, m)
	defer c.closeSplitter()
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	c.live = startLiveMerge(runCtx, cfg.Merger, stop)
	if err = c.plan(ctx); err == nil {
		err = c.schedule(runCtx)
	}
	mergeErr := c.live.stop()
	res := c.result()
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case mergeErr != nil:
		return res, mergeErr
	}
	return res, err
}

// plan queues the streams to read: those of the session and the remainders of accepted splits;
// the remainders of splits not decided yet wait for their parent's reader, and those of refused
// splits are never read.
func (c *coordinator) plan(ctx context.Context) error {
	for i := range c.m.Streams {
		switch state, err := splitState(ctx, c.dir, c.m, i); {
		case err != nil:
			return err
		case state == streamLive:
			c.queue = append(c.queue, i)
		case state == streamWaiting:
			c.waiting[i] = true
		}
	}
	return nil
}

// schedule starts the queued streams' workers, at most Parallelism at once, splits stragglers
// when a slot is free, and returns when every stream is read or one failed for good (then the
// others are stopped with SIGTERM).
func (c *coordinator) schedule(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	tick := time.NewTicker(splitCheckEvery)
	defer tick.Stop()
	for {
		c.mu.Lock()
		for len(c.queue) > 0 && c.running < max(c.cfg.Parallelism, 1) && gctx.Err() == nil {
			i := c.queue[0]
			c.queue, c.running = c.queue[1:], c.running+1
			g.Go(func() error {
				err := c.runStream(gctx, i)
				c.finished(gctx, i, err)
				return err
			})
		}
		idle := c.running == 0
		c.mu.Unlock()
		if idle || gctx.Err() != nil {
			return g.Wait()
		}
		c.splitStraggler(gctx)
		select {
		case <-c.wake:
		case <-tick.C:
		case <-gctx.Done():
		}
	}
}

// finished is told that stream i's worker ended with err: the splits of a stream read to its end
// are all decided, and then a slot is free.
func (c *coordinator) finished(ctx context.Context, i int, err error) {
	if err == nil {
		c.mu.Lock()
		delete(c.splitting, i)
		splits := c.m.SplitsOf(i)
		c.mu.Unlock()
		for _, s := range splits {
			c.resolve(ctx, s.Remainder)
		}
	}
	c.mu.Lock()
	c.running--
	delete(c.procs, i)
	c.mu.Unlock()
	c.poke()
}

// resolve queues remainder k if its split was accepted, and forgets it if refused, once decided;
// then the same for the remainders of k's own splits (those split decided when it made them).
func (c *coordinator) resolve(ctx context.Context, k int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for todo := []int{k}; len(todo) > 0; {
		k, todo = todo[0], todo[1:]
		if !c.waiting[k] {
			continue
		}
		state, err := splitState(ctx, c.dir, c.m, k)
		if state == streamWaiting {
			continue
		}
		if err != nil {
			c.log.Warn("read a split's decision", "stream", k, "error", err)
			continue
		}
		delete(c.waiting, k)
		if state == streamLive {
			c.queue = append(c.queue, k)
		}
		for _, s := range c.m.SplitsOf(k) {
			todo = append(todo, s.Remainder)
		}
	}
}

// poke wakes the scheduler.
func (c *coordinator) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// liveMerge adds segments to a Merger, in its own goroutine, as their workers report them.
type liveMerge struct {
	segs chan event.Event
	done chan struct{}
	err  error // the first failure; later segments are not added
}

// startLiveMerge starts telling mg of committed segments and finished streams, if it is set (else
// it returns nil, which tells nothing). Whenever it has caught up with the workers, it makes what
// it copied durable (Merger.sync: with WriteOnce, their files are then removed), so that what
// the disk holds twice is what arrived while it last synced. A failure cancels the run through
// fail.
func startLiveMerge(ctx context.Context, mg *Merger, fail context.CancelCauseFunc) *liveMerge {
	if mg == nil {
		return nil
	}
	l := &liveMerge{segs: make(chan event.Event, 64), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for e := range l.segs {
			if l.err != nil {
				continue
			}
			err := mg.tell(ctx, e)
			if err == nil && len(l.segs) == 0 {
				err = mg.sync()
			}
			if err != nil {
				l.err = fmt.Errorf("merge while reading: %w", err)
				fail(l.err)
			}
		}
	}()
	return l
}

// add queues a Segment or Done event; it waits while the queue is full.
func (l *liveMerge) add(e event.Event) {
	if l != nil {
		l.segs <- e
	}
}

// stop waits for the queued segments to be added and returns the first failure.
func (l *liveMerge) stop() error {
	if l == nil {
		return nil
	}
	close(l.segs)
	<-l.done
	return l.err
}

type coordinator struct {
	cfg         Config
	dir         *workdir.Dir
	m           *session.Manifest // changed only by the scheduler (splits), under mu
	log         *slog.Logger
	workerProcs []string   // added to each worker's environment
	live        *liveMerge // nil: no live merge
	wake        chan struct{}
	client      *storage.BigQueryReadClient // for SplitReadStream, made at the first split

	mu      sync.Mutex // guards what follows and serializes OnEvent
	results []StreamResult
	queue   []int              // streams to start, in order
	running int                // worker goroutines
	waiting map[int]bool       // remainders whose split is not decided yet
	procs   map[int]*procState // the running worker process of each stream
	// splitting holds the fraction of each stream's split awaiting its decision (never two at
	// once: a second split would split a name the stream may no longer read); unsplit the streams
	// not to split again.
	splitting map[int]float64
	unsplit   map[int]bool
	starting  startCost // the workers' time from launch to start, for the pieces of a split
}

func newCoordinator(cfg Config, d *workdir.Dir, m *session.Manifest) *coordinator {
	if cfg.Launch == nil {
		cfg.Launch = LocalLauncher(nil, nil)
	}
	if cfg.WaitDelay == 0 {
		cfg.WaitDelay = 10 * time.Second
	}
	if cfg.SplitMinLeft == 0 {
		cfg.SplitMinLeft = DefaultSplitMinLeft
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &coordinator{cfg: cfg, dir: d, m: m, log: log, wake: make(chan struct{}, 1),
		workerProcs: workerProcs(min(max(cfg.Parallelism, 1), len(m.Streams))), results: make([]StreamResult, len(m.Streams)),
		waiting: map[int]bool{}, procs: map[int]*procState{}, splitting: map[int]float64{}, unsplit: map[int]bool{}}
	for i := range c.results {
		c.results[i].Index = i
	}
	return c
}

func (c *coordinator) result() *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Result{Streams: append([]StreamResult(nil), c.results...)}
	for i, s := range r.Streams {
		if len(s.Pids) > 0 {
			r.Streams[i].Pid = s.Pids[len(s.Pids)-1]
		}
		r.Rows += s.Rows
		r.Bytes += s.Bytes
		r.Retries += s.Retries
	}
	return r
}

// runStream runs stream i's worker until it is done, restarting it after transient failures.
func (c *coordinator) runStream(ctx context.Context, i int) error {
	for run := 0; ; run++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := c.runProcess(ctx, i)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			return nil
		}
		var we *WorkerError
		if !errors.As(err, &we) || we.Class != event.Retryable || run >= c.cfg.MaxRestarts {
			return err
		}
		c.log.Warn("restarting worker", "stream", i, "restart", run+1, "code", we.Code, "error", we.Message)
		c.mu.Lock()
		c.results[i].Restarts++
		c.mu.Unlock()
	}
}

// workerProcs returns the GOMAXPROCS setting of workers when running of them run at once: the
// machine's cores shared among them, at least one each. Left alone, each worker's Go runtime sizes
// itself (GC workers, processors) for the whole machine, which the workers together oversubscribe
// running times. A GOMAXPROCS already in the environment is kept.
func workerProcs(running int) []string {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return nil
	}
	return []string{"GOMAXPROCS=" + strconv.Itoa(max(1, runtime.NumCPU()/max(running, 1)))}
}

// runProcess runs one worker process for stream i and returns nil once it reported done.
func (c *coordinator) runProcess(ctx context.Context, i int) error {
	c.mu.Lock()
	streams := len(c.m.Streams)
	c.mu.Unlock()
	cmd := c.cfg.Launch(ctx, c.cfg.WorkDir, i, streams)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = c.cfg.WaitDelay
	cmd.SysProcAttr = workerSysProcAttr()
	cmd.Env = append(cmd.Env, c.workerProcs...)
	p := &procState{stream: i, launched: time.Now()}
	if c.splits() {
		cmd.Env = append(cmd.Env, ControlEnv+"=1")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		p.control = stdin
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker for stream %d: %w", i, err)
	}
	c.mu.Lock()
	c.results[i].Pids = append(c.results[i].Pids, cmd.Process.Pid)
	c.procs[i] = p
	c.mu.Unlock()

	var wg sync.WaitGroup
	var lastErrLine string
	wg.Go(func() { lastErrLine = c.logLines(stderr, i) })
	c.readEvents(ctx, stdout, p)
	wg.Wait()
	waitErr := cmd.Wait()
	return p.outcome(waitErr, lastErrLine)
}

// maxLogLine is the most of one worker stderr line that is logged; the rest is read and dropped.
const maxLogLine = 64 << 10

// logLines logs each stderr line of stream i's worker, until the worker closes stderr, and
// returns the last one. A line of any length is read to its end, so a worker is never blocked
// writing to its stderr.
func (c *coordinator) logLines(r io.Reader, i int) string {
	br := bufio.NewReaderSize(r, 64<<10)
	var last string
	for {
		line, err := readLine(br, maxLogLine)
		if line != "" {
			last = line
			c.log.Info("worker", "stream", i, "log", line)
		}
		if err != nil {
			return last
		}
	}
}

// readLine reads one line from br and returns at most max bytes of it, without its newline.
func readLine(br *bufio.Reader, max int) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk[:min(len(chunk), max-len(line))]...)
		if err != bufio.ErrBufferFull {
			return strings.TrimRight(string(line), "\r\n"), err
		}
	}
}

// procState is what one worker process reported.
type procState struct {
	stream    int
	done      bool
	failure   *event.Event
	bytesBase int64          // bytes received by earlier processes of the stream
	control   io.WriteCloser // the worker's stdin, for split commands; nil without splitting
	pace      pace           // its progress, for the straggler estimate
	launched  time.Time      // when it was launched
}

// readEvents parses the worker's stdout until it closes, updating results and forwarding events.
func (c *coordinator) readEvents(ctx context.Context, r io.Reader, p *procState) {
	c.mu.Lock()
	p.bytesBase = c.results[p.stream].Bytes
	c.mu.Unlock()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		e, err := event.Parse(sc.Bytes())
		if err != nil || e.Stream != p.stream {
			c.log.Warn("ignoring a malformed worker line", "stream", p.stream, "line", truncate(sc.Text(), 200))
			continue
		}
		c.apply(p, e)
		if e.Kind == event.Segment || e.Kind == event.Done || e.Kind == event.Split {
			c.live.add(e) // outside apply's lock: it waits while the merge catches up
		}
		if e.Kind == event.Split {
			c.resolve(ctx, e.Remainder) // after the merge was told: the remainder's segments follow
			c.poke()
		}
	}
	io.Copy(io.Discard, r)
	if p.control != nil {
		p.control.Close()
	}
}

func (c *coordinator) apply(p *procState, e event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.results[p.stream]
	switch e.Kind {
	case event.Start:
		if s.Attempts == 0 { // the first process to start in this run
			s.StartOffset = e.Offset
		}
		s.Attempts++
		c.starting.add(time.Since(p.launched))
	case event.Progress, event.Segment, event.Done:
		s.Rows, s.Bytes = e.Rows, p.bytesBase+e.Bytes
		p.pace.observe(e.Progress, time.Now())
	case event.Split:
		// The primary of an accepted split reports progress through its own rows, the head
		// (fraction) of those of the name split: the pace so far is rescaled to them.
		if e.Accepted {
			p.pace = p.pace.scaled(c.splitting[p.stream])
		}
		delete(c.splitting, p.stream)
		c.unsplit[p.stream] = c.unsplit[p.stream] || !e.Accepted
	case event.Retry:
		s.Attempts++
		s.Retries++
	case event.Error:
		p.failure = &e
	}
	if e.Kind == event.Segment {
		s.Segments++
	}
	if e.Kind == event.Done {
		p.done = true
	}
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}

// outcome turns what a finished process reported into runProcess's result.
func (p *procState) outcome(waitErr error, lastErrLine string) error {
	switch {
	case p.done && waitErr == nil:
		return nil
	case p.failure != nil:
		return &WorkerError{Stream: p.stream, Class: p.failure.Class, Code: p.failure.Code, Message: p.failure.Message}
	}
	msg := "worker exited without finishing the stream"
	if waitErr != nil {
		msg = fmt.Sprintf("worker %v", waitErr)
	}
	if lastErrLine != "" {
		msg += ": " + lastErrLine
	}
	return &WorkerError{Stream: p.stream, Class: event.Retryable, Message: msg}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Launcher makes the command that runs the worker of stream i of the streams of the work dir
// workDir: program, arguments and environment. The supervisor starts it in its own process group,
// reads events from its stdout and log lines from its stderr, and stops it with SIGTERM, then
// SIGKILL. Local processes are the one launcher today.
type Launcher func(ctx context.Context, workDir string, stream, streams int) *exec.Cmd

// WorkerEnv is set to 1 in the environment of the worker processes LocalLauncher makes, so that
// a program that embeds the export can tell it was started as one (export.RunWorkerIfChild).
const WorkerEnv = "BQREAD_WORKER"

// LocalLauncher returns the Launcher of worker processes on this machine: command (default: this
// program) with the arguments of task i of n (`worker --work-dir DIR --task-index I --task-count
// N`, one stream per task), this process's environment, env and WorkerEnv=1.
func LocalLauncher(command, env []string) Launcher {
	return func(ctx context.Context, workDir string, stream, streams int) *exec.Cmd {
		cmdline := command
		if len(cmdline) == 0 {
			exe, err := os.Executable()
			if err != nil {
				exe = os.Args[0]
			}
			cmdline = []string{exe}
		}
		args := append(slices.Clone(cmdline[1:]), WorkerArgs(workDir, stream, streams)...)
		cmd := exec.CommandContext(ctx, cmdline[0], args...)
		cmd.Env = append(append(os.Environ(), env...), WorkerEnv+"=1")
		return cmd
	}
}

// WorkerArgs returns the arguments of the worker command that runs task i of n of workDir.
func WorkerArgs(workDir string, task, tasks int) []string {
	return []string{"worker", "--work-dir", workDir, "--task-index", strconv.Itoa(task), "--task-count", strconv.Itoa(tasks)}
}
