// Command apply times offsetctl's apply-and-verify and rollback of N
// connectors on the sandbox (Kafka Connect emulator over kfake): N inert
// sink connectors on one topic, each with an offsets block rewinding one
// partition; plan, apply (stop, settle, PATCH, verify, resume and watch),
// then one rollback plan for all N operations. It prints Markdown on stdout
// and progress on stderr.
//
// Flags: -n connectors, -parallelism, -grace (the workers'
// task.shutdown.graceful.timeout.ms, which the sandbox is started with too),
// -watch (how long a resumed connector is watched).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

type clients struct {
	url string
	kcl *kgo.Client
}

func (c *clients) Connect(*config.Connect) (*connect.Client, error) {
	return connect.New(connect.Config{URL: c.url})
}
func (c *clients) Kafka(*config.Kafka) (*kgo.Client, error) { return c.kcl, nil }

// timedBackend counts the state writes and their time.
type timedBackend struct {
	state.Backend
	writes int
	spent  time.Duration
}

func (t *timedBackend) Write(ctx context.Context, s *state.State, lockID string) error {
	start := time.Now()
	err := t.Backend.Write(ctx, s, lockID)
	t.writes++
	t.spent += time.Since(start)
	return err
}

func main() {
	n := flag.Int("n", 100, "connectors")
	par := flag.Int("parallelism", 20, "connectors worked on at a time")
	grace := flag.Duration("grace", 5*time.Second, "task.shutdown.graceful.timeout.ms of the sandbox worker, and apply's grace period")
	watch := flag.Duration("watch", apply.DefaultRunningWatch, "how long a resumed connector is watched")
	flag.Parse()
	if err := run(*n, *par, *grace, *watch); err != nil {
		fmt.Fprintln(os.Stderr, "bench/apply:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run(n, par int, grace, watch time.Duration) error {
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: grace})
	if err != nil {
		return err
	}
	defer sb.Close()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer kcl.Close()
	adm := kadm.NewClient(kcl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		return err
	}
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 1000; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x")})
		}
	}
	if err := kcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	cc, err := connect.New(connect.Config{URL: sb.ConnectURL()})
	if err != nil {
		return err
	}
	logf("creating %d sink connectors", n)
	var hcl strings.Builder
	fmt.Fprintf(&hcl, "connect \"sb\" { url = %q }\nkafka \"sb\" { brokers = [%q] }\n", sb.ConnectURL(), sb.BootstrapServers()[0])
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("sink-%03d", i)
		offs := kadm.Offsets{}
		for p, at := range []int64{500, 600, 700} {
			offs.Add(kadm.Offset{Topic: "orders", Partition: int32(p), At: at, LeaderEpoch: -1})
		}
		if _, err := adm.CommitOffsets(ctx, "connect-"+name, offs); err != nil {
			return err
		}
		if _, _, err := cc.PutConfig(ctx, name, map[string]string{"name": name, "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders"}); err != nil {
			return err
		}
		fmt.Fprintf(&hcl, `
connector "c%03d" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = %q
}
offsets "rewind%03d" {
  connector = connector.c%03d
  reason    = "bench"
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 100
  }
}
`, i, name, i, i)
	}
	for i := 0; i < n; i++ {
		if _, err := cc.WaitForState(ctx, fmt.Sprintf("sink-%03d", i), connect.StateRunning, connect.WaitOptions{Interval: 20 * time.Millisecond}); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "bench-apply-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl.String()), 0o644); err != nil {
		return err
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		return diags
	}
	cl := &clients{url: sb.ConnectURL(), kcl: kcl}
	pl := &plan.Planner{Clients: cl, Codecs: offsets.NewRegistry(), Version: "bench"}
	b := &timedBackend{Backend: local.New(filepath.Join(dir, "state.json"))}
	defer b.Close()
	id, err := b.Lock(ctx, state.LockInfo{Operation: "bench"})
	if err != nil {
		return err
	}
	a, err := apply.New(apply.Options{Backend: b, Clients: cl, Observe: pl.Observe, GracePeriod: grace, RunningWatch: watch, Parallel: par})
	if err != nil {
		return err
	}

	logf("planning")
	t0 := time.Now()
	p, err := pl.Plan(ctx, cfg, plan.Options{})
	if err != nil {
		return err
	}
	planTime := time.Since(t0)

	logf("applying")
	t0 = time.Now()
	res, err := a.Apply(ctx, p, cfg, id)
	if err != nil {
		return err
	}
	applyWrites, applySpent := b.writes, b.spent
	if err := check(ctx, cc, n, 100); err != nil {
		return err
	}
	applyTime := time.Since(t0)

	logf("rolling back")
	t0 = time.Now()
	st, err := b.Read(ctx)
	if err != nil {
		return err
	}
	var targets []*state.Operation
	for i := range st.Operations {
		targets = append(targets, &st.Operations[i])
	}
	rp, err := plan.RollbackPlan(ctx, cfg, st, targets, pl.Observe, plan.BuildInfo{OffsetctlVersion: "bench", Now: time.Now()})
	if err != nil {
		return err
	}
	if _, err := a.Apply(ctx, rp, cfg, id); err != nil {
		return err
	}
	if err := check(ctx, cc, n, 500); err != nil {
		return err
	}
	rollbackTime := time.Since(t0)
	rbWrites, rbSpent := b.writes-applyWrites, b.spent-applySpent

	fmt.Printf("## apply: %d connectors on the sandbox\n\n", n)
	fmt.Printf("parallelism %d, grace period %s (task.shutdown.graceful.timeout.ms of the sandbox worker), running watch %s\n\n", par, grace, watch)
	fmt.Println("| step | time | target |")
	fmt.Println("| --- | --- | --- |")
	fmt.Printf("| plan | %.1f s | |\n", planTime.Seconds())
	fmt.Printf("| apply and verify (%d operations, then every offset read back) | %.1f s | %s |\n", len(res.Operations), applyTime.Seconds(), verdict(applyTime))
	fmt.Printf("| rollback (plan of %d rollbacks, applied, read back) | %.1f s | %s |\n", len(rp.Operations), rollbackTime.Seconds(), verdict(rollbackTime))
	fmt.Printf("\nState writes: apply %d (%.1f s in total), rollback %d (%.1f s in total).\n", applyWrites, applySpent.Seconds(), rbWrites, rbSpent.Seconds())
	return nil
}

func verdict(d time.Duration) string {
	if d < 60*time.Second {
		return "under 60 s: met"
	}
	return "under 60 s: MISSED"
}

// check reads every connector's offsets and its state.
func check(ctx context.Context, cc *connect.Client, n int, want int64) error {
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("sink-%03d", i)
		got, err := cc.Offsets(ctx, name)
		if err != nil {
			return err
		}
		found := false
		for _, o := range got.Offsets {
			if strings.Contains(string(o.Partition), `"kafka_partition":0`) {
				found = string(o.Offset) == fmt.Sprintf(`{"kafka_offset":%d}`, want)
			}
		}
		if !found {
			return fmt.Errorf("%s: offsets %+v, want partition 0 at %d", name, got.Offsets, want)
		}
		st, err := cc.Status(ctx, name)
		if err != nil {
			return err
		}
		if st.Connector.State != connect.StateRunning {
			return fmt.Errorf("%s is %s", name, st.Connector.State)
		}
	}
	return nil
}
