package examples

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
)

// The variables the schedulers set to a task's index: Kubernetes in each pod of an Indexed Job,
// Cloud Run in each task of a job. The worker must read them (export.IndexEnv).
const (
	kubernetesIndexEnv = "JOB_COMPLETION_INDEX"
	cloudRunIndexEnv   = "CLOUD_RUN_TASK_INDEX"
)

// The table the cluster flow exports from the emulator in place of the examples' table: the
// all_types sample's rows repeated flowCopies times, 840 rows, seven blocks of the emulator's 128
// rows and so at most seven streams (the 7-row sample alone gets one, as the service gives a small
// table).
const (
	flowTable      = "bqread-test.ds.all_types"
	flowCopies     = 120
	allTypesSample = "../emulator/samples/bqread-demo/samples/all_types/"
)

// writeFlowTable writes flowTable into the emulator data dir dir and returns the file of its rows.
func writeFlowTable(t *testing.T, dir string) string {
	t.Helper()
	tdir := filepath.Join(dir, "bqread-test", "ds", "all_types")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(allTypesSample + "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := os.ReadFile(allTypesSample + "data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tdir, "schema.json"), schema, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tdir, "data.ndjson")
	if err := os.WriteFile(data, bytes.Repeat(rows, flowCopies), 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// bqread is the bqread binary that TestMain builds from this module, once for every test.
var bqread string

// TestMain builds bqread for the tests, which run it as the examples do.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bqread-examples-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bqread = filepath.Join(dir, "bqread")
	build := exec.Command("go", "build", "-o", bqread, "github.com/bqread/bqread/cmd/bqread")
	build.Stderr = os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build bqread: %v\n", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestKubernetesManifests parses every manifest in kubernetes/ and checks the Jobs against the
// Kubernetes API's rules and against the bqread command: the flags each container passes are in
// that command's --help, the worker Job is Indexed with one completion per planned task, and its
// pod failure policy fails an index at once on exactly the worker's exit codes that another run
// cannot fix.
func TestKubernetesManifests(t *testing.T) {
	k := loadKubernetes(t)
	plan, worker, merge := k.jobs["plan"], k.jobs["worker"], k.jobs["merge"]

	t.Run("pvc", func(t *testing.T) {
		if !slices.Contains(k.pvc.Spec.AccessModes, "ReadWriteMany") {
			t.Errorf("%s: accessModes = %v, want ReadWriteMany: every pod mounts the work dir", k.pvc.file, k.pvc.Spec.AccessModes)
		}
		for _, sub := range []string{"plan", "worker", "merge"} {
			j := k.jobs[sub]
			if got := j.claims(); !slices.Equal(got, []string{k.pvc.Metadata.Name}) {
				t.Errorf("%s: claims %v, want [%s] (%s)", j.file, got, k.pvc.Metadata.Name, k.pvc.file)
			}
		}
	})

	t.Run("jobs", func(t *testing.T) {
		for _, sub := range []string{"plan", "worker", "merge"} {
			j := k.jobs[sub]
			c := j.container()
			if got, want := c.Image, plan.container().Image; got != want {
				t.Errorf("%s: image %q, want the plan's %q", j.file, got, want)
			}
			if got := j.Spec.Template.Spec.RestartPolicy; got != "Never" {
				t.Errorf("%s: restartPolicy %q, want Never (podFailurePolicy needs it)", j.file, got)
			}
			in := k.inv[sub]
			for _, flag := range []string{"work-dir", "out", "summary"} {
				if v, ok := in.get(flag); ok && !j.mounted(v) {
					t.Errorf("%s: --%s=%s is not on a mounted volume", j.file, flag, v)
				}
			}
			for _, e := range c.Env {
				if !slices.Contains(export.IndexEnv, e.Name) && !strings.Contains(cli(t, sub).help, e.Name) {
					t.Errorf("%s: env %s is neither an index variable (%v) nor in bqread %s --help", j.file, e.Name, export.IndexEnv, sub)
				}
			}
			for _, r := range j.Spec.PodFailurePolicy.rules() {
				if r.OnExitCodes == nil {
					continue
				}
				if r.OnExitCodes.ContainerName != c.Name {
					t.Errorf("%s: podFailurePolicy rule %s names container %q, want %q", j.file, r.Action, r.OnExitCodes.ContainerName, c.Name)
				}
				if r.OnExitCodes.Operator != "In" || slices.Contains(r.OnExitCodes.Values, 0) {
					t.Errorf("%s: podFailurePolicy rule %s: %s %v, want In and codes other than 0", j.file, r.Action, r.OnExitCodes.Operator, r.OnExitCodes.Values)
				}
				if r.Action == "FailIndex" && j.Spec.BackoffLimitPerIndex == nil {
					t.Errorf("%s: FailIndex needs backoffLimitPerIndex", j.file)
				}
				for _, code := range r.OnExitCodes.Values {
					if _, ok := cli(t, sub).exitCodes[code]; !ok {
						t.Errorf("%s: podFailurePolicy exit code %d is not one bqread %s documents (%v)", j.file, code, sub, cli(t, sub).exitCodes)
					}
				}
			}
		}
	})

	t.Run("plan", func(t *testing.T) {
		checkPlan(t, plan.file, k.inv["plan"])
	})

	t.Run("workers", func(t *testing.T) {
		s := worker.Spec
		if s.CompletionMode != "Indexed" {
			t.Errorf("%s: completionMode %q, want Indexed", worker.file, s.CompletionMode)
		}
		if got, want := deref(s.Completions), k.tasks; got != want {
			t.Errorf("%s: completions %d, want the plan's --tasks %d (%s)", worker.file, got, want, plan.file)
		}
		if p := deref(s.Parallelism); p < 1 || p > deref(s.Completions) {
			t.Errorf("%s: parallelism %d, want 1 to completions (%d)", worker.file, p, deref(s.Completions))
		}
		if s.BackoffLimitPerIndex == nil {
			t.Errorf("%s: backoffLimitPerIndex not set: a task's retries would count against the whole Job", worker.file)
		}
		if got, want := s.PodFailurePolicy.codes("FailIndex"), finalWorkerCodes(t); !slices.Equal(got, want) {
			t.Errorf("%s: FailIndex on exit codes %v, want %v: bqread worker's usage and session-expired codes", worker.file, got, want)
		}
		checkWorker(t, worker.file, k.inv["worker"], kubernetesIndexEnv, k.tasks)
	})

	t.Run("merge", func(t *testing.T) {
		checkSameExport(t, merge.file, k.inv["plan"], k.inv["merge"])
		if got := merge.Spec.PodFailurePolicy.codes("FailJob"); !slices.Contains(got, exitCode(t, "merge", "partial")) {
			t.Errorf("%s: FailJob on %v: want merge's partial code, which another run does not change", merge.file, got)
		}
	})
}

// TestCloudRunCommands reads the commands in cloud-run/README.md's sh blocks, with the values of
// its settings, and checks the three jobs against the bqread command: flags in each command's
// --help, the worker job's task count equal to the plan's, and the work dir on the NFS volume.
func TestCloudRunCommands(t *testing.T) {
	c := loadCloudRun(t)
	plan, worker, merge := c.jobs["plan"], c.jobs["worker"], c.jobs["merge"]
	for _, sub := range []string{"plan", "worker", "merge"} {
		j := c.jobs[sub]
		if got := j.flags["--command"]; len(got) != 1 || got[0] != "bqread" {
			t.Errorf("job %s: --command %q, want bqread", j.name, got)
		}
		if got, want := j.value("--image"), plan.value("--image"); got != want {
			t.Errorf("job %s: --image %q, want the plan's %q", j.name, got, want)
		}
		for _, f := range []string{"--region", "--max-retries", "--task-timeout", "--add-volume", "--add-volume-mount"} {
			if len(j.flags[f]) == 0 {
				t.Errorf("job %s: no %s", j.name, f)
			}
		}
		for _, v := range j.flags["--add-volume"] {
			if kv := keyValues(v); kv["type"] != "nfs" {
				t.Errorf("job %s: --add-volume=%s: want type=nfs (Cloud Storage FUSE has no hard links)", j.name, v)
			}
		}
		for _, flag := range []string{"work-dir", "out", "summary"} {
			if v, ok := c.inv[sub].get(flag); ok && !j.mounted(v) {
				t.Errorf("job %s: --%s=%s is not on a mounted volume", j.name, flag, v)
			}
		}
	}
	if got := plan.value("--tasks"); got != "1" {
		t.Errorf("job %s: --tasks=%s, want 1", plan.name, got)
	}
	if got := merge.value("--tasks"); got != "1" {
		t.Errorf("job %s: --tasks=%s, want 1", merge.name, got)
	}
	if got, want := worker.value("--tasks"), strconv.Itoa(c.tasks); got != want {
		t.Errorf("job %s: --tasks=%s, want the plan's --tasks %s", worker.name, got, want)
	}
	if p, _ := strconv.Atoi(worker.value("--parallelism")); p < 1 || p > c.tasks {
		t.Errorf("job %s: --parallelism=%q, want 1 to %d", worker.name, worker.value("--parallelism"), c.tasks)
	}
	checkPlan(t, "job "+plan.name, c.inv["plan"])
	checkWorker(t, "job "+worker.name, c.inv["worker"], cloudRunIndexEnv, c.tasks)
	checkSameExport(t, "job "+merge.name, c.inv["plan"], c.inv["merge"])

	for _, e := range c.executions {
		j, ok := c.byName[e.positional[0]]
		if !ok {
			t.Errorf("gcloud run jobs execute %s: no such job created", e.positional[0])
			continue
		}
		if tasks := e.value("--tasks"); tasks != "" && j == worker && tasks != strconv.Itoa(c.tasks) {
			t.Errorf("execute %s --tasks=%s, want the plan's --tasks %d", j.name, tasks, c.tasks)
		}
		if args, ok := e.flags["--args"]; ok {
			in, err := parseArgs(t, splitList(args[0]))
			if err != nil {
				t.Errorf("execute %s --args=%s: %v", j.name, args[0], err)
			} else if wd, _ := in.get("work-dir"); wd != "" && !j.mounted(wd) {
				t.Errorf("execute %s: --work-dir=%s is not on a mounted volume", j.name, wd)
			}
		}
	}
}

// TestReadmeBqreadCommands checks every bqread command in the sh blocks of the examples' READMEs
// (such as a bqread status run in a pod) against that command's --help.
func TestReadmeBqreadCommands(t *testing.T) {
	for _, file := range []string{"kubernetes/README.md", "cloud-run/README.md"} {
		cmds := shellFile(t, file)
		n := 0
		for _, words := range cmds {
			// bqread as the command, or as the command that kubectl exec runs (after --).
			i := slices.Index(words, "bqread")
			if i < 0 || i > 0 && words[i-1] != "--" {
				continue
			}
			n++
			if _, err := parseArgs(t, words[i+1:]); err != nil {
				t.Errorf("%s: %q: %v", file, strings.Join(words, " "), err)
			}
		}
		t.Logf("%s: %d commands, %d of them bqread", file, len(cmds), n)
	}
}

// TestGcloudFlags checks that every flag cloud-run/README.md passes to gcloud is one of that
// command's flags or a gcloud-wide flag, as the installed Cloud SDK's static completion tree lists
// them (or, without the tree, the command's --help). It is skipped without gcloud.
func TestGcloudFlags(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed")
	}
	known := gcloudFlags(t, gcloud)
	for _, words := range shellFile(t, "cloud-run/README.md") {
		if words[0] != "gcloud" {
			continue
		}
		g, err := parseGcloud(words)
		if err != nil {
			t.Fatal(err)
		}
		flags := known(g.path)
		for f := range g.flags {
			if !flags[f] {
				t.Errorf("gcloud %s: no flag %s", strings.Join(g.path, " "), f)
			}
		}
	}
}

// gcloudFlags returns a function that returns the flags of a gcloud command, with the gcloud-wide
// ones. They come from the SDK's static completion tree (data/cli/gcloud_completions.py, a Python
// assignment of a JSON object), or else from the command's --help.
func gcloudFlags(t *testing.T, gcloud string) func(path []string) map[string]bool {
	t.Helper()
	type node struct {
		Commands map[string]*node `json:"commands"`
		Flags    map[string]any   `json:"flags"`
	}
	var tree node
	if bin, err := filepath.EvalSymlinks(gcloud); err == nil {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(bin)), "data", "cli", "gcloud_completions.py"))
		const assign = "STATIC_COMPLETION_CLI_TREE ="
		if i := bytes.Index(b, []byte(assign)); err == nil && i >= 0 {
			if err := json.Unmarshal(b[i+len(assign):], &tree); err != nil {
				t.Logf("gcloud completion tree: %v; reading --help instead", err)
			}
		}
	}
	helps := map[string]map[string]bool{} // without the tree: flags by command path
	return func(path []string) map[string]bool {
		flags := map[string]bool{}
		if tree.Commands == nil {
			if f, ok := helps[strings.Join(path, " ")]; ok {
				return f
			}
			cmd := exec.Command(gcloud, append(slices.Clone(path), "--help")...)
			cmd.Env = append(os.Environ(), "CLOUDSDK_CONFIG="+t.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("gcloud %s --help: %v", strings.Join(path, " "), err)
			}
			for _, f := range regexp.MustCompile(`--[a-z][a-z0-9-]*`).FindAllString(string(out), -1) {
				flags[f] = true
			}
			helps[strings.Join(path, " ")] = flags
			return flags
		}
		n := &tree
		for f := range n.Flags {
			flags[f] = true
		}
		for _, p := range path {
			if n = n.Commands[p]; n == nil {
				t.Fatalf("gcloud %s: no such command", strings.Join(path, " "))
			}
		}
		for f := range n.Flags {
			flags[f] = true
		}
		return flags
	}
}

// TestClusterFlow runs each example's commands on this machine against the emulator, as its
// scheduler would: the plan with the example's flags (its table, work dir and files replaced by
// flowTable and temp files), one worker per task index with only the scheduler's index variable
// set, one task run a second time, then the merge. The output holds the source's
// rows, as bqread status counted them and as a single-machine bqread export writes them.
func TestClusterFlow(t *testing.T) {
	data := t.TempDir()
	rows := writeFlowTable(t, data)
	inst, err := emulator.Start(t.Context(), emulator.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	source := countLines(t, rows)
	ref := filepath.Join(t.TempDir(), "ref.ndjson")
	runCLI(t, nil, "export", flowTable, "--endpoint="+inst.GRPCAddr(), "--out="+ref, "--progress=none")
	want := sortedLines(t, ref)
	if len(want) != source {
		t.Fatalf("bqread export wrote %d rows, want the source's %d", len(want), source)
	}

	k, c := loadKubernetes(t), loadCloudRun(t)
	for _, tc := range []struct {
		name                string
		plan, worker, merge invocation
		tasks               int
		indexEnv            string
	}{
		{"kubernetes", k.inv["plan"], k.inv["worker"], k.inv["merge"], k.tasks, kubernetesIndexEnv},
		{"cloud-run", c.inv["plan"], c.inv["worker"], c.inv["merge"], c.tasks, cloudRunIndexEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			work, out := filepath.Join(dir, "work"), filepath.Join(dir, "out.ndjson")
			local := func(in invocation) invocation {
				in = in.set("work-dir", work)
				if _, ok := in.get("out"); ok {
					in = in.set("out", out)
				}
				if _, ok := in.get("summary"); ok {
					in = in.set("summary", filepath.Join(dir, "summary.json"))
				}
				return in
			}
			// flowTable has 7 streams (one per block) for the examples' 8 tasks: the last task has
			// none to read, and exits 0 at once.
			plan := local(tc.plan).set("endpoint", inst.GRPCAddr())
			plan.args = []string{flowTable}
			if _, ok := plan.get("format"); ok {
				plan = plan.set("format", "ndjson")
			}
			runCLI(t, nil, plan.argv()...)

			worker := local(tc.worker)
			for i := range tc.tasks {
				runCLI(t, []string{fmt.Sprintf("%s=%d", tc.indexEnv, i)}, worker.argv()...)
			}
			// A scheduler's retry of a task that is done, or a second copy of it: nothing to read.
			runCLI(t, []string{tc.indexEnv + "=0"}, worker.argv()...)

			var st export.Status
			if err := json.Unmarshal([]byte(runCLI(t, nil, "status", "--work-dir="+work, "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if st.Tasks != tc.tasks || st.TasksDone != tc.tasks || !st.Done || st.RowsCommitted != int64(source) {
				t.Fatalf("status: %d of %d tasks done, done %v, %d rows committed; want %d tasks done and %d rows",
					st.TasksDone, st.Tasks, st.Done, st.RowsCommitted, tc.tasks, source)
			}

			merge := local(tc.merge)
			runCLI(t, nil, merge.argv()...)
			if diff := cmp.Diff(want, sortedLines(t, out)); diff != "" {
				t.Errorf("merged rows differ from bqread export's (-export +merged):\n%s", diff)
			}
			if path, ok := merge.get("summary"); ok {
				var sum export.Summary
				if b, err := os.ReadFile(path); err != nil {
					t.Error(err)
				} else if err := json.Unmarshal(b, &sum); err != nil {
					t.Errorf("summary: %v", err)
				} else if sum.Rows != int64(source) {
					t.Errorf("summary: %d rows, want %d", sum.Rows, source)
				}
			}
		})
	}
}

// checkPlan checks a plan's invocation: one table, a work dir, an output format, as many streams
// as tasks at least (or some tasks would have none to read), and no --overwrite, which would
// discard the committed segments of the workers if the plan ran again.
func checkPlan(t *testing.T, where string, in invocation) {
	t.Helper()
	if len(in.args) != 1 {
		t.Errorf("%s: plan arguments %q, want the table alone", where, in.args)
	}
	_, out := in.get("out")
	_, format := in.get("format")
	if _, ok := in.get("work-dir"); !ok || !(out || format) {
		t.Errorf("%s: plan %q, want --work-dir and --out or --format", where, in.argv())
	}
	if streams, tasks := intFlag(t, where, in, "streams"), intFlag(t, where, in, "tasks"); streams < tasks {
		t.Errorf("%s: plan --streams=%d, want at least --tasks=%d", where, streams, tasks)
	}
	if _, ok := in.get("overwrite"); ok {
		t.Errorf("%s: plan --overwrite: a plan run again would discard the workers' segments", where)
	}
}

// checkWorker checks a worker's invocation: its index comes from the scheduler's variable, which
// bqread worker reads, and a task count, if given, is the plan's.
func checkWorker(t *testing.T, where string, in invocation, indexEnv string, tasks int) {
	t.Helper()
	if !slices.Contains(export.IndexEnv, indexEnv) {
		t.Errorf("%s: the scheduler sets %s, which bqread worker does not read (%v)", where, indexEnv, export.IndexEnv)
	}
	if !strings.Contains(cli(t, "worker").help, indexEnv) {
		t.Errorf("bqread worker --help does not name %s", indexEnv)
	}
	if v, ok := in.get("task-index"); ok {
		t.Errorf("%s: --task-index=%s: every task would read the same streams; leave the index to %s", where, v, indexEnv)
	}
	if v, ok := in.get("task-count"); ok && v != strconv.Itoa(tasks) {
		t.Errorf("%s: --task-count=%s, want the plan's %d", where, v, tasks)
	}
	if len(in.args) != 0 {
		t.Errorf("%s: worker arguments %q, want none", where, in.args)
	}
}

// checkSameExport checks that the merge reads the plan's work dir and writes the plan's output.
func checkSameExport(t *testing.T, where string, plan, merge invocation) {
	t.Helper()
	pw, _ := plan.get("work-dir")
	if mw, _ := merge.get("work-dir"); mw != pw {
		t.Errorf("%s: merge --work-dir=%s, want the plan's %s", where, mw, pw)
	}
	mo, ok := merge.get("out")
	if !ok {
		t.Errorf("%s: merge has no --out", where)
	}
	if po, ok := plan.get("out"); ok && po != mo {
		t.Errorf("%s: merge --out=%s, want the plan's %s", where, mo, po)
	}
}

// finalWorkerCodes returns the exit codes of bqread worker that another run of the task cannot
// change: a usage error and an expired session.
func finalWorkerCodes(t *testing.T) []int {
	t.Helper()
	codes := []int{exitCode(t, "worker", "usage"), exitCode(t, "worker", "expired")}
	slices.Sort(codes)
	return codes
}

// exitCode returns the exit code that bqread sub --help describes with the word.
func exitCode(t *testing.T, sub, word string) int {
	t.Helper()
	c := cli(t, sub)
	for code, text := range c.exitCodes {
		if strings.Contains(text, word) {
			return code
		}
	}
	t.Fatalf("bqread %s --help: no exit code says %q: %v", sub, word, c.exitCodes)
	return 0
}

// Small helpers.

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsAbs(path) && rel != ".." && !strings.HasPrefix(rel, "../")
}

// intFlag returns the flag's value as a positive number.
func intFlag(t *testing.T, where string, in invocation, name string) int {
	t.Helper()
	v, ok := in.get(name)
	n, err := strconv.Atoi(v)
	if !ok || err != nil || n < 1 {
		t.Fatalf("%s: bqread %s --%s=%q, want a positive number", where, in.cmd, name, v)
	}
	return n
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func countLines(t *testing.T, file string) int {
	t.Helper()
	return len(sortedLines(t, file))
}

// sortedLines returns the non-empty lines of a file, sorted.
func sortedLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 16<<20)
	for s.Scan() {
		if len(bytes.TrimSpace(s.Bytes())) > 0 {
			lines = append(lines, s.Text())
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}
