// Package conftest holds an example Rego policy over offsetctl's plan file
// and the test that evaluates it with OPA's Go API against plan files made
// by real planning (the goldens of pkg/plan's sandbox tests).
package conftest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
)

func evalPolicy(t *testing.T, query rego.PreparedEvalQuery, planFile string) (deny, warn []string) {
	t.Helper()
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	var input any
	if err := json.Unmarshal(data, &input); err != nil {
		t.Fatal(err)
	}
	rs, err := query.Eval(context.Background(), rego.EvalInput(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("result: %+v", rs)
	}
	list := func(v any) []string {
		var out []string
		for _, m := range v.([]any) {
			out = append(out, m.(string))
		}
		sort.Strings(out)
		return out
	}
	return list(rs[0].Bindings["deny"]), list(rs[0].Bindings["warn"])
}

// TestRegoPolicyOnPlanFiles evaluates examples/conftest/policy as conftest
// would (data.main.deny and data.main.warn) against plan files of every
// kind that offsetctl plan wrote in its own tests.
func TestRegoPolicyOnPlanFiles(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("policy", "offsetctl.rego"))
	if err != nil {
		t.Fatal(err)
	}
	query, err := rego.New(rego.Query("deny := [m | data.main.deny[m]]; warn := [m | data.main.warn[m]]"),
		rego.Module("offsetctl.rego", string(mod))).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	goldens := filepath.Join("..", "..", "pkg", "plan", "testdata")
	for _, tc := range []struct {
		plan       string
		deny, warn []string // substrings, one per message, in sorted order of the messages
	}{
		{plan: "TestPlanGoldens/sink_rewind/json.golden"},
		{plan: "TestPlanGoldens/sink_skip/json.golden"},
		{plan: "TestPlanGoldens/sink_to_latest/json.golden", deny: []string{"offsets.jump: jump_to_latest changes are not applied from CI"}},
		{plan: "TestPlanGoldens/source_reset/json.golden", deny: []string{"resnapshot changes are not applied from CI"}},
		{plan: "TestPlanGoldens/source_restore/json.golden"},
		{plan: "TestPlanGoldens/copy_from/json.golden", warn: []string{"effect is unknown"}},
		{plan: "TestPlanGoldens/policy/json.golden", deny: []string{"the plan has an error (policy_jump_to_latest)"},
			warn: []string{"apply needs 2 signed approval(s): policy.platform asks 2 for skip (offsets.skip_poison_pill)"}},
		{plan: "TestPlanGoldens/refused/json.golden", deny: []string{"the plan has an error", "the plan has an error", "the plan has an error"}},
		{plan: "TestPlanReconcileGoldens/upsert/plan.json.golden"},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			deny, warn := evalPolicy(t, query, filepath.Join(goldens, tc.plan))
			check := func(what string, got, want []string) {
				if len(got) != len(want) {
					t.Fatalf("%s = %q, want %d message(s) like %q", what, got, len(want), want)
				}
				for i := range want {
					if !strings.Contains(got[i], want[i]) {
						t.Errorf("%s[%d] = %q, want it to contain %q", what, i, got[i], want[i])
					}
				}
			}
			check("deny", deny, tc.deny)
			check("warn", warn, tc.warn)
		})
	}
}
