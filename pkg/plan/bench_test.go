package plan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// BenchmarkPlan100x50 plans one offsets block on each of 100 sink
// connectors, each consuming its own topic of 50 partitions, on the
// sandbox: the whole observe-and-compute path (REST, consumer groups, log
// bounds). The target is under 5 s per plan on this machine.
func BenchmarkPlan100x50(b *testing.B) {
	const connectors, partitions = 100, 50
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	kc, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	c, err := connect.New(connect.Config{URL: sb.ConnectURL()})
	if err != nil {
		b.Fatal(err)
	}
	var hcl strings.Builder
	fmt.Fprintf(&hcl, "connect \"s\" {\n  url = %q\n}\n\nkafka \"s\" {\n  brokers = [%q]\n}\n", sb.ConnectURL(), sb.BootstrapServers()[0])
	for i := 0; i < connectors; i++ {
		topic := fmt.Sprintf("topic-%03d", i)
		if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("sink-%03d", i)
		if _, err := c.Create(ctx, connect.CreateRequest{Name: name, Config: map[string]string{"connector.class": "org.example.InertSink", "topics": topic}}); err != nil {
			b.Fatal(err)
		}
		commit := kadm.Offsets{}
		for p := int32(0); p < partitions; p++ {
			commit.AddOffset(topic, p, 0, -1)
		}
		if _, err := adm.CommitOffsets(ctx, "connect-"+name, commit); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&hcl, "\nconnector \"c%03d\" {\n  connect = connect.s\n  kafka   = kafka.s\n  name    = %q\n}\n", i, name)
		fmt.Fprintf(&hcl, "\noffsets \"op%03d\" {\n  connector = connector.c%03d\n\n  sink_partition {\n    topic       = %q\n    to_earliest = true\n  }\n}\n", i, i, topic)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	pl := &plan.Planner{Clients: &clients{kafka: kc}, Codecs: offsets.NewRegistry(), Version: "bench"}
	b.ResetTimer()
	var last time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p, err := pl.Plan(ctx, cfg, plan.Options{})
		if err != nil {
			b.Fatal(err)
		}
		last = time.Since(start)
		if len(p.Operations) != connectors || len(p.Connectors) != connectors {
			b.Fatalf("planned %d operations over %d connectors", len(p.Operations), len(p.Connectors))
		}
		if n := len(p.Connectors[0].Sink); n != partitions {
			b.Fatalf("observed %d partitions, want %d", n, partitions)
		}
	}
	b.ReportMetric(float64(connectors*partitions), "partitions/plan")
	b.Logf("plan of %d connectors x %d partitions: %s (target: under 5 s)", connectors, partitions, last.Round(time.Millisecond))
}
