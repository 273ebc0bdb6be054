package monitoring_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	yaml "go.yaml.in/yaml/v4"

	"github.com/offsetctl/offsetctl/pkg/config"
)

// metricNames is the golden list of the metrics `offsetctl check` exports,
// kept by the command package's TestCheckViews.
const metricNames = "../../cmd/offsetctl/internal/command/testdata/TestCheckViews/metric_names.golden"

// TestAlertRules parses the rules as promtool does (rulefmt: YAML shape,
// PromQL, templates) and holds every metric they select to those check
// exports.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile("alerts.rules.yml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("alerts.rules.yml: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	b, err := os.ReadFile(metricNames)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, n := range strings.Fields(string(b)) {
		known[n] = true
	}
	p := parser.NewParser(parser.Options{})
	rules := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q: every rule is an alert with a summary", r.Expr)
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("alert %s: %v", r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && !known[vs.Name] {
					t.Errorf("alert %s selects %s, which offsetctl check does not export", r.Alert, vs.Name)
				}
				return nil
			})
		}
	}
	if rules < 5 {
		t.Errorf("%d rules", rules)
	}
}

// TestConfigurationLoads: the configuration the schedules run is valid.
func TestConfigurationLoads(t *testing.T) {
	cfg, diags := config.Load(".", config.Options{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatalf("main.hcl: %v", diags)
	}
	r := cfg.ReconcileBlock("customers")
	if r == nil || r.Check == nil || len(r.Connectors) != 2 || r.Check.MaxLagSeconds == nil || *r.Check.MaxLagSeconds != 900 {
		t.Fatalf("reconcile.customers: %+v", r)
	}
}

// TestSchedules: the CronJobs are YAML documents that run offsetctl check and
// offsets backup; the systemd service treats exit 2 (drift) as a result.
func TestSchedules(t *testing.T) {
	b, err := os.ReadFile("cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var v struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Schedule string `yaml:"schedule"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("cronjob.yaml: %v", err)
		}
		if v.Spec.Schedule == "" {
			t.Errorf("a %s without a schedule", v.Kind)
		}
		kinds = append(kinds, v.Kind)
	}
	if strings.Join(kinds, ",") != "CronJob,CronJob" {
		t.Errorf("cronjob.yaml holds %v", kinds)
	}
	svc, err := os.ReadFile("offsetctl-check.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SuccessExitStatus=2", "offsetctl check --metrics-file"} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("offsetctl-check.service lacks %q", want)
		}
	}
}
