package ci_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/offsetctl/offsetctl/pkg/approval"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "go.yaml.in/yaml/v4"

	"github.com/offsetctl/offsetctl/pkg/config"
)

// root is the repository root, where action.yml is.
const root = "../.."

// lint runs actionlint on one workflow, as part of the repository at root
// (so that `uses: ./` finds action.yml).
func lint(t *testing.T, name string, content []byte) []*actionlint.Error {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(abs)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(name, content, proj)
	if err != nil {
		t.Fatalf("actionlint %s: %v", name, err)
	}
	return errs
}

// TestGitHubWorkflows: the workflows offsetctl ships are valid GitHub
// Actions workflows by actionlint: the reusable workflow, the example
// repository's workflow, and a workflow that uses the action locally (so
// that its inputs are checked against action.yml).
func TestGitHubWorkflows(t *testing.T) {
	files := []string{
		filepath.Join(root, ".github/workflows/offsetctl.yml"),
		".github/workflows/offsetctl.yml",
		"testdata/uses-local-action.yml",
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range lint(t, f, data) {
				t.Errorf("%s:%d:%d: %s [%s]", f, e.Line, e.Column, e.Message, e.Kind)
			}
		})
	}
}

// TestActionLintCatches: actionlint in this test does fail on a broken
// workflow: an unknown input of the action, a bad expression, a step output
// that does not exist.
func TestActionLintCatches(t *testing.T) {
	for _, tc := range []struct{ name, step, want string }{
		{"unknown action input", "      - uses: ./\n        with:\n          mode: plan\n          lock_timeout: 5m\n", `input "lock_timeout" is not defined in action "offsetctl"`},
		{"missing required input", "      - uses: ./\n        with:\n          key: prod\n", `missing input "mode"`},
		{"bad expression", "      - run: echo ${{ github.event.pull_request.number ) }}\n", "parser did not reach end of input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := "on: pull_request\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n" + tc.step
			errs := lint(t, "broken.yml", []byte(wf))
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Message)
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
				t.Errorf("actionlint said %q, want %q", msgs, tc.want)
			}
		})
	}
}

// TestActionSteps: action.yml's composite steps, checked by actionlint as
// the steps of a job whose inputs are the action's (actionlint checks an
// action's metadata, not its steps' expressions); and the rules of
// composite actions: a run step names its shell, every input it reads and
// every step output it reads exists.
func TestActionSteps(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Required bool   `yaml:"required"`
			Default  string `yaml:"default"`
		} `yaml:"inputs"`
		Runs struct {
			Using string           `yaml:"using"`
			Steps []map[string]any `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	if action.Runs.Using != "composite" {
		t.Fatalf("runs.using is %q, want composite", action.Runs.Using)
	}
	ids := map[string]bool{}
	for i, s := range action.Runs.Steps {
		if _, ok := s["run"]; ok && s["shell"] == nil {
			t.Errorf("step %d (%v) runs a command without shell: composite actions require it", i, s["name"])
		}
		if id, ok := s["id"].(string); ok {
			ids[id] = true
		}
	}
	for _, m := range regexp.MustCompile(`inputs\.([A-Za-z0-9_-]+)`).FindAllStringSubmatch(string(data), -1) {
		if _, ok := action.Inputs[m[1]]; !ok {
			t.Errorf("action.yml reads inputs.%s, which it does not declare", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`steps\.([A-Za-z0-9_-]+)\.outputs`).FindAllStringSubmatch(string(data), -1) {
		if !ids[m[1]] {
			t.Errorf("action.yml reads steps.%s.outputs, but no step has id %s", m[1], m[1])
		}
	}

	// The steps as a reusable workflow's job: inputs.* type-check.
	inputs := map[string]any{}
	for name, in := range action.Inputs {
		decl := map[string]any{"type": "string", "required": in.Required}
		if !in.Required && !strings.Contains(in.Default, "${{") {
			decl["default"] = in.Default
		}
		inputs[name] = decl
	}
	wf := map[string]any{
		"on":   map[string]any{"workflow_call": map[string]any{"inputs": inputs}},
		"jobs": map[string]any{"action": map[string]any{"runs-on": "ubuntu-latest", "steps": action.Runs.Steps}},
	}
	synthetic, err := yaml.Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lint(t, "action-steps.yml", synthetic) {
		t.Errorf("action.yml steps: %s [%s] (line %d of the job made of them:)\n%s", e.Message, e.Kind, e.Line, synthetic)
	}
}

// gitlabSchema compiles the GitLab CI subset schema.
func gitlabSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	s, err := c.Compile("testdata/gitlab-ci.subset.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSONValue reads YAML into the values a JSON Schema validates.
func yamlToJSONValue(t *testing.T, data []byte) (any, map[string]any) {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v, doc
}

// gitlabChecks are what a schema cannot say: extends names a job of the
// file (or of an include), stage names a declared stage.
func gitlabChecks(doc map[string]any, stages []string, included bool) []string {
	var problems []string
	for name, v := range doc {
		job, ok := v.(map[string]any)
		if !ok || slices.Contains([]string{"default", "include", "stages", "variables", "workflow"}, name) {
			continue
		}
		if ext, ok := job["extends"].(string); ok {
			if _, found := doc[ext]; !found && !included {
				problems = append(problems, fmt.Sprintf("%s extends %s, which is not defined", name, ext))
			}
		}
		if st, ok := job["stage"].(string); ok && !slices.Contains(stages, st) {
			problems = append(problems, fmt.Sprintf("%s is in stage %s, which stages does not list", name, st))
		}
	}
	slices.Sort(problems)
	return problems
}

// TestGitLabTemplates: the GitLab template and the example's
// .gitlab-ci.yml validate against the subset of GitLab's CI syntax, and the
// template's jobs extend defined jobs and use declared stages.
func TestGitLabTemplates(t *testing.T) {
	schema := gitlabSchema(t)
	template := filepath.Join(root, "ci/offsetctl.gitlab-ci.yml")
	for _, f := range []string{template, ".gitlab-ci.yml"} {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, doc := yamlToJSONValue(t, data)
			if err := schema.Validate(v); err != nil {
				t.Errorf("%s does not match GitLab's CI syntax (subset):\n%v", f, err)
			}
			var stages []string
			if s, ok := doc["stages"].([]any); ok {
				for _, x := range s {
					stages = append(stages, fmt.Sprint(x))
				}
			}
			if p := gitlabChecks(doc, stages, f != template); len(p) > 0 {
				t.Errorf("%s: %s", f, strings.Join(p, "; "))
			}
		})
	}
}

// TestGitLabSchemaCatches: the subset schema rejects what GitLab rejects:
// a misspelt keyword, a when that does not exist, rules that are not a
// list, a job without script.
func TestGitLabSchemaCatches(t *testing.T) {
	schema := gitlabSchema(t)
	for _, tc := range []struct{ name, yaml string }{
		{"misspelt keyword", "plan:\n  scirpt: [offsetctl plan]\n"},
		{"unknown when", "plan:\n  script: [x]\n  when: sometimes\n"},
		{"rules not a list", "plan:\n  script: [x]\n  rules:\n    if: $CI\n"},
		{"no script", "plan:\n  stage: plan\n"},
		{"artifacts when", "plan:\n  script: [x]\n  artifacts:\n    paths: [a]\n    when: manual\n"},
		{"resource_group not a string", "plan:\n  script: [x]\n  resource_group: [a]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := yamlToJSONValue(t, []byte(tc.yaml))
			if err := schema.Validate(v); err == nil {
				t.Errorf("the schema accepts:\n%s", tc.yaml)
			}
		})
	}
}

// TestExampleConfiguration: the example's configuration loads (with its
// environment unknown, as offsetctl validate loads it), requires one
// approval, and names the allowed signers file beside it, which parses.
func TestExampleConfiguration(t *testing.T) {
	cfg, diags := config.Load("offsets", config.Options{AllowUnknown: true})
	if diags.HasErrors() {
		t.Fatalf("examples/ci/offsets/main.hcl: %s", diags.Error())
	}
	if cfg.Settings.RequiredApprovals != 1 {
		t.Errorf("required_approvals %d, want 1", cfg.Settings.RequiredApprovals)
	}
	if _, err := approval.ReadAllowedSigners(cfg.Path(cfg.Settings.AllowedSigners)); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat("allowed_signers"); err != nil {
		t.Error(err)
	}
}
