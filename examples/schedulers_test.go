package examples

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// This file reads the examples: the Kubernetes manifests and the Cloud Run jobs' gcloud commands.

// kubernetes is the example in kubernetes/: the claim, the Jobs by the bqread command they run,
// and those commands.
type kubernetes struct {
	pvc   pvc
	jobs  map[string]*job
	inv   map[string]invocation
	tasks int // the plan's --tasks
}

type object struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	file       string
}

type metadata struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type pvc struct {
	object `yaml:",inline"`
	Spec   struct {
		AccessModes      []string  `yaml:"accessModes"`
		StorageClassName *string   `yaml:"storageClassName"`
		Resources        resources `yaml:"resources"`
	} `yaml:"spec"`
}

type job struct {
	object `yaml:",inline"`
	Spec   struct {
		CompletionMode          string            `yaml:"completionMode"`
		Completions             *int              `yaml:"completions"`
		Parallelism             *int              `yaml:"parallelism"`
		BackoffLimit            *int              `yaml:"backoffLimit"`
		BackoffLimitPerIndex    *int              `yaml:"backoffLimitPerIndex"`
		MaxFailedIndexes        *int              `yaml:"maxFailedIndexes"`
		ActiveDeadlineSeconds   *int              `yaml:"activeDeadlineSeconds"`
		TTLSecondsAfterFinished *int              `yaml:"ttlSecondsAfterFinished"`
		PodFailurePolicy        *podFailurePolicy `yaml:"podFailurePolicy"`
		Template                struct {
			Metadata metadata `yaml:"metadata"`
			Spec     podSpec  `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podFailurePolicy struct {
	Rules []podFailurePolicyRule `yaml:"rules"`
}

type podFailurePolicyRule struct {
	Action      string `yaml:"action"`
	OnExitCodes *struct {
		ContainerName string `yaml:"containerName"`
		Operator      string `yaml:"operator"`
		Values        []int  `yaml:"values"`
	} `yaml:"onExitCodes"`
	OnPodConditions []struct {
		Type   string `yaml:"type"`
		Status string `yaml:"status"`
	} `yaml:"onPodConditions"`
}

type podSpec struct {
	RestartPolicy                 string            `yaml:"restartPolicy"`
	ServiceAccountName            string            `yaml:"serviceAccountName"`
	TerminationGracePeriodSeconds *int              `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               map[string]any    `yaml:"securityContext"`
	NodeSelector                  map[string]string `yaml:"nodeSelector"`
	Containers                    []container       `yaml:"containers"`
	Volumes                       []struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	} `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string         `yaml:"name"`
		Value     string         `yaml:"value"`
		ValueFrom map[string]any `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources    resources     `yaml:"resources"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type resources struct {
	Requests map[string]string `yaml:"requests"`
	Limits   map[string]string `yaml:"limits"`
}

// container returns the Job's one container.
func (j *job) container() *container { return &j.Spec.Template.Spec.Containers[0] }

// claims returns the claims of the volumes the Job's container mounts.
func (j *job) claims() []string {
	var out []string
	for _, m := range j.container().VolumeMounts {
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil {
				out = append(out, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	return out
}

// mounted reports whether path is on a volume the Job's container mounts read-write.
func (j *job) mounted(path string) bool {
	return slices.ContainsFunc(j.container().VolumeMounts, func(m volumeMount) bool {
		return !m.ReadOnly && under(path, m.MountPath)
	})
}

// rules returns the policy's rules (none for no policy).
func (p *podFailurePolicy) rules() []podFailurePolicyRule {
	if p == nil {
		return nil
	}
	return p.Rules
}

// codes returns the exit codes the policy's rules with the action match, sorted.
func (p *podFailurePolicy) codes(action string) []int {
	var out []int
	for _, r := range p.rules() {
		if r.Action == action && r.OnExitCodes != nil && r.OnExitCodes.Operator == "In" {
			out = append(out, r.OnExitCodes.Values...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// loadKubernetes reads every manifest in kubernetes/, failing on a kind, or a field of a known
// kind, that this test does not know (a misspelt field would otherwise pass unseen), and on Jobs
// that are not one plan, one worker and one merge of bqread.
func loadKubernetes(t *testing.T) *kubernetes {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.y*ml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	k := &kubernetes{jobs: map[string]*job{}, inv: map[string]invocation{}}
	pvcs := 0
	for _, file := range files {
		for _, doc := range yamlDocs(t, file) {
			var o object
			if err := doc.Decode(&o); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			switch o.APIVersion + " " + o.Kind {
			case "v1 PersistentVolumeClaim":
				strictDecode(t, file, doc, &k.pvc)
				k.pvc.file = file
				pvcs++
			case "batch/v1 Job":
				j := &job{}
				strictDecode(t, file, doc, j)
				j.file = file
				if n := len(j.Spec.Template.Spec.Containers); n != 1 {
					t.Fatalf("%s: %d containers, want 1", file, n)
				}
				c := j.container()
				in, err := parseBqread(t, c.Command, c.Args)
				if err != nil {
					t.Fatalf("%s: container %s: %v", file, c.Name, err)
				}
				if _, dup := k.jobs[in.cmd]; dup {
					t.Fatalf("%s: a second Job runs bqread %s", file, in.cmd)
				}
				k.jobs[in.cmd], k.inv[in.cmd] = j, in
			default:
				t.Fatalf("%s: %s %s: not a kind this test knows", file, o.APIVersion, o.Kind)
			}
		}
	}
	for _, sub := range []string{"plan", "worker", "merge"} {
		if k.jobs[sub] == nil {
			t.Fatalf("kubernetes/: no Job runs bqread %s", sub)
		}
	}
	if pvcs != 1 {
		t.Fatalf("kubernetes/: %d PersistentVolumeClaims, want 1", pvcs)
	}
	k.tasks = intFlag(t, k.jobs["plan"].file, k.inv["plan"], "tasks")
	return k
}

// yamlDocs returns the documents of a YAML file.
func yamlDocs(t *testing.T, file string) []*yaml.Node {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []*yaml.Node
	dec := yaml.NewDecoder(f)
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		docs = append(docs, &n)
	}
}

// strictDecode decodes a YAML document into v, failing on fields that v does not have.
func strictDecode(t *testing.T, file string, doc *yaml.Node, v any) {
	t.Helper()
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v (a real Kubernetes field this test does not know? add it to the test's types)", file, err)
	}
}

// The Cloud Run example.

// cloudRun is the example in cloud-run/README.md: the jobs it creates, by the bqread command they
// run, the executions, and the bqread commands.
type cloudRun struct {
	jobs       map[string]*gcloudCmd
	byName     map[string]*gcloudCmd
	executions []*gcloudCmd
	inv        map[string]invocation
	tasks      int // the plan's --tasks
}

// gcloudCmd is one gcloud command: its command path (run jobs create), its positional arguments
// and its flags, each flag with its values in order. Flags with a value are written --flag=value.
type gcloudCmd struct {
	path       []string
	positional []string
	flags      map[string][]string
	name       string // the job, for run jobs commands
}

func (g *gcloudCmd) value(flag string) string {
	if v := g.flags[flag]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// mounted reports whether path is under a mount-path of the job's --add-volume-mount.
func (g *gcloudCmd) mounted(path string) bool {
	return slices.ContainsFunc(g.flags["--add-volume-mount"], func(v string) bool {
		return under(path, keyValues(v)["mount-path"])
	})
}

// gcloudPaths are the gcloud commands the README may use.
var gcloudPaths = [][]string{
	{"run", "jobs", "create"}, {"run", "jobs", "execute"}, {"run", "jobs", "update"},
	{"filestore", "instances", "create"}, {"filestore", "instances", "describe"},
	{"artifacts", "repositories", "create"}, {"auth", "configure-docker"},
}

func parseGcloud(words []string) (*gcloudCmd, error) {
	g := &gcloudCmd{flags: map[string][]string{}}
	for _, p := range gcloudPaths {
		if len(words) > len(p) && slices.Equal(words[1:1+len(p)], p) {
			g.path = p
		}
	}
	if g.path == nil {
		return nil, fmt.Errorf("%q: a gcloud command this test does not know", words)
	}
	for _, w := range words[1+len(g.path):] {
		if !strings.HasPrefix(w, "--") {
			g.positional = append(g.positional, w)
			continue
		}
		name, value, _ := strings.Cut(w, "=")
		g.flags[name] = append(g.flags[name], value)
	}
	if g.path[0] == "run" {
		if len(g.positional) != 1 {
			return nil, fmt.Errorf("%q: arguments %q, want the job's name alone (write flags as --flag=value)", words, g.positional)
		}
		g.name = g.positional[0]
	}
	return g, nil
}

// loadCloudRun reads the gcloud commands of cloud-run/README.md.
func loadCloudRun(t *testing.T) *cloudRun {
	t.Helper()
	c := &cloudRun{jobs: map[string]*gcloudCmd{}, byName: map[string]*gcloudCmd{}, inv: map[string]invocation{}}
	for _, words := range shellFile(t, "cloud-run/README.md") {
		if words[0] != "gcloud" {
			continue
		}
		g, err := parseGcloud(words)
		if err != nil {
			t.Fatal(err)
		}
		switch strings.Join(g.path, " ") {
		case "run jobs create":
			args := g.flags["--args"]
			if len(args) != 1 {
				t.Fatalf("gcloud run jobs create %s: %d --args, want 1", g.name, len(args))
			}
			in, err := parseBqread(t, g.flags["--command"], splitList(args[0]))
			if err != nil {
				t.Fatalf("gcloud run jobs create %s: %v", g.name, err)
			}
			if _, dup := c.jobs[in.cmd]; dup {
				t.Fatalf("gcloud run jobs create %s: a second job runs bqread %s", g.name, in.cmd)
			}
			c.jobs[in.cmd], c.inv[in.cmd], c.byName[g.name] = g, in, g
		case "run jobs execute":
			if args, ok := g.flags["--args"]; ok {
				if _, err := parseBqread(t, []string{"bqread"}, splitList(args[0])); err != nil {
					t.Fatalf("gcloud run jobs execute %s: %v", g.name, err)
				}
			}
			c.executions = append(c.executions, g)
		case "run jobs update":
			t.Fatalf("gcloud run jobs update %s: this test reads the jobs from their create commands only", g.name)
		}
	}
	for _, sub := range []string{"plan", "worker", "merge"} {
		if c.jobs[sub] == nil {
			t.Fatalf("cloud-run/README.md: no job runs bqread %s", sub)
		}
	}
	c.tasks = intFlag(t, "job "+c.jobs["plan"].name, c.inv["plan"], "tasks")
	return c
}

// splitList splits a gcloud list value (--args=a,b,c).
func splitList(v string) []string {
	return strings.Split(v, ",")
}

// keyValues parses a gcloud dictionary value (name=work,type=nfs).
func keyValues(v string) map[string]string {
	out := map[string]string{}
	for kv := range strings.SplitSeq(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		out[k] = val
	}
	return out
}
