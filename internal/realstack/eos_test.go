package realstack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// TestRealExactlyOnceWorkerRefusesTopicMode: on a real worker with
// exactly.once.source.support=enabled (a stack of the test's own), whose
// Debezium source ran under it, a plan that would write the offsets topic
// directly (the worker shown to offsetctl as Kafka Connect 3.5 by a proxy
// that rewrites GET /'s version) is refused with exactly_once_topic_write,
// naming the evidence; planned against the worker as it is (PATCH
// /offsets, which fences first), it is not.
func TestRealExactlyOnceWorkerRefusesTopicMode(t *testing.T) {
	st := StartOwn(t, Options{ExactlyOnceSource: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	body := mustStatus(ctx, t, st, "GET", "/connectors/"+st.SourceConnector()+"/offsets", nil, 200)
	var doc struct {
		Offsets []struct {
			Partition json.RawMessage `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Offsets) != 1 {
		t.Fatalf("GET offsets: %s (%v)", body, err)
	}
	planWith := func(connectURL string) *plan.Plan {
		t.Helper()
		dir := t.TempDir()
		hcl := fmt.Sprintf(`
connect "real" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
  config_topic  = %q
}
connector "src" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
  format  = "debezium-postgres"
}
offsets "rewind" {
  connector = connector.src
  reason    = "proof: an exactly-once worker"
  source_partition {
    partition = jsondecode(%q)
    offset    = jsondecode(%q)
  }
}
`, connectURL, st.BootstrapServers(), st.OffsetsTopic(), ConfigTopicName, st.SourceConnector(), string(doc.Offsets[0].Partition), string(doc.Offsets[0].Offset))
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
		conf, diags := config.Load(dir, config.Options{})
		if diags.HasErrors() {
			t.Fatalf("configuration: %v", diags)
		}
		planner := &plan.Planner{Clients: &proofClients{url: connectURL, kcl: cl}, Codecs: offsets.NewRegistry(), Version: "realstack-proof"}
		p, err := planner.Plan(ctx, conf, plan.Options{})
		if err != nil {
			t.Fatalf("planning: %v", err)
		}
		return p
	}
	eos := func(p *plan.Plan) *plan.Check {
		for i := range p.Checks {
			if p.Checks[i].Code == "exactly_once_topic_write" {
				return &p.Checks[i]
			}
		}
		return nil
	}

	topic := planWith(oldWorkerProxy(t, st.ConnectURL(), "3.5.0"))
	c := eos(topic)
	if topic.Operations[0].Method != plan.MethodTopic || c == nil || c.Severity != plan.SeverityError || topic.Operations[0].Status != plan.StatusBlocked {
		t.Fatalf("topic mode on an exactly-once worker: method %s, status %s, checks %+v", topic.Operations[0].Method, topic.Operations[0].Status, topic.Checks)
	}
	t.Logf("%s %s: %s", c.Severity, c.Code, c.Message)
	if !strings.Contains(c.Message, "tasks-fencing-"+st.SourceConnector()) && !strings.Contains(c.Message, "written in transactions") {
		t.Fatalf("the refusal names no evidence: %s", c.Message)
	}

	rest := planWith(st.ConnectURL())
	if rest.Operations[0].Method != plan.MethodREST || eos(rest) != nil {
		t.Fatalf("REST on an exactly-once worker: method %s, checks %+v", rest.Operations[0].Method, rest.Checks)
	}
}
