package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// The runbook's targets: restore within 5 minutes, the whole drill within 15.
const (
	drillRestoreTarget = 5 * time.Minute
	drillTotalTarget   = 15 * time.Minute
)

type drillOptions struct {
	deps       *Deps
	g          *globalOptions
	cfg        configOptions
	loc        stateLocation
	connectors []string
	target     string
	targetKafk string
	useSandbox bool
	rewind     int64
	rehearsal  string
	keep       bool
	markdown   bool
	noRecord   bool
}

func newDrillCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &drillOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "drill (--sandbox | --target CONNECT_BLOCK) [--connector NAME]...",
		Short: "Rehearse a rollback on shadow connectors and time the recovery against the runbook's targets",
		Long: `drill is the runbook's quarterly restore drill, timed. It reads the offsets of the
configuration's connectors from production (GET only: production is never written),
copies them into stopped shadow connectors (drill-NAME) on a rehearsal cluster — the
embedded sandbox with --sandbox, or a staging Connect cluster named by a connect block
with --target (Kafka Connect 3.7+: shadows are created STOPPED) — then applies a
rehearsal to the shadows, rolls it back from the copy, and verifies that every offset
is back byte for byte. The rehearsal (--rehearsal) is the configuration's own offsets
blocks ("config": planned against production, which planning only reads, and their
changes written to the shadows) or a canned one ("rewind": sinks rewound by --rewind
records per partition, sources' offsets reset).

It reports the time to recovery (the rollback and its verification) against the
runbook's target of 5 minutes, and the whole drill against 15 minutes, and records the
drill, with its times, in the state's history (state kind drill, format_version 4).
The shadows are deleted afterwards (their offsets first) unless --keep.

A shadow sink gets its own consumer group (connect-drill-NAME: any
consumer.override.group.id is dropped); a shadow keeps the rest of the production
connector's configuration, and Kafka Connect may validate it on creation (a Debezium
source connects to its database to validate).

Exit status: 0 the drill passed (every offset back, within both targets), 2 it ran but
did not pass, 1 error.`,
		Example: `  offsetctl drill --sandbox
  offsetctl drill --target staging --target-kafka staging --connector orders_sink --rewind 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.useSandbox == (o.target != "") {
				return flagErrorf("give --sandbox or --target CONNECT_BLOCK (one of them)")
			}
			if o.rewind < 1 {
				return flagErrorf("--rewind must be at least 1")
			}
			if o.rehearsal != "rewind" && o.rehearsal != "config" {
				return flagErrorf("--rehearsal is config (the configuration's offsets blocks) or rewind, not %q", o.rehearsal)
			}
			return drillRun(cmd.Context(), cmd, o)
		},
	}
	addConfigFlags(cmd, &o.cfg)
	addStateFlag(cmd, &o.loc)
	f := cmd.Flags()
	f.StringArrayVar(&o.connectors, "connector", nil, "drill this connector block only (repeatable; default: every connector block)")
	f.StringVar(&o.target, "target", "", "the connect block of the staging cluster the shadows run on")
	f.StringVar(&o.targetKafk, "target-kafka", "", "the kafka block of the staging cluster (creates the sink shadows' topics when missing)")
	f.BoolVar(&o.useSandbox, "sandbox", false, "run the shadows on an embedded sandbox")
	f.Int64Var(&o.rewind, "rewind", 100, "records each sink partition is rewound by in the canned rehearsal")
	f.StringVar(&o.rehearsal, "rehearsal", "rewind", "the rehearsal: config (the configuration's offsets blocks) or rewind (canned)")
	f.BoolVar(&o.keep, "keep", false, "keep the shadow connectors afterwards")
	f.BoolVar(&o.markdown, "markdown", false, "print Markdown instead of text")
	f.BoolVar(&o.noRecord, "no-record", false, "do not record the drill in the state")
	return cmd
}

// drillShadow is one production connector and its shadow.
type drillShadow struct {
	block    *config.Connector
	prodType connect.ConnectorType
	config   map[string]string
	baseline connect.ConnectorOffsets
}

func drillRun(ctx context.Context, cmd *cobra.Command, o *drillOptions) error {
	cfg, _, err := loadConfig(o.deps, o.cfg.chdir, o.cfg.in, false)
	if err != nil {
		return err
	}
	var blocks []*config.Connector
	if len(o.connectors) == 0 {
		blocks = cfg.Connectors
	}
	for _, n := range o.connectors {
		b := cfg.Connector(n)
		if b == nil {
			return flagErrorf("--connector %q names no connector block.%s", n, config.Suggest(n, blockNames(cfg)))
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return withHint(errors.New("no connector to drill"), "Declare the production connectors as connector blocks.")
	}
	clients := newConfigClients(cfg, o.g.Timeout)
	defer clients.Close()

	// The rehearsal cluster.
	var target *connect.Client
	var targetKafka *kgo.Client
	targetName := "sandbox"
	if o.useSandbox {
		sb, err := sandbox.Start(ctx, sandbox.Options{Logf: func(string, ...any) {}})
		if err != nil {
			return fmt.Errorf("starting the sandbox for the drill: %w", err)
		}
		defer sb.Close()
		if target, err = connect.New(connect.Config{URL: sb.ConnectURL(), Timeout: o.g.Timeout}); err != nil {
			return err
		}
		if targetKafka, err = kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...)); err != nil {
			return err
		}
		defer targetKafka.Close()
	} else {
		tb := cfg.Connect(o.target)
		if tb == nil {
			return flagErrorf("--target %q names no connect block", o.target)
		}
		targetName = tb.Addr()
		for _, b := range blocks {
			if b.Connect == tb {
				return flagErrorf("--target %s is the cluster %s runs on: a drill never writes to the production cluster", tb.Addr(), b.Addr())
			}
		}
		if target, err = clients.Connect(tb); err != nil {
			return err
		}
		if o.targetKafk != "" {
			kb := cfg.Kafka(o.targetKafk)
			if kb == nil {
				return flagErrorf("--target-kafka %q names no kafka block", o.targetKafk)
			}
			if targetKafka, err = clients.Kafka(kb); err != nil {
				return err
			}
		}
	}
	caps, err := target.Capabilities(ctx)
	if err != nil {
		return fmt.Errorf("reading the rehearsal cluster's version: %w", err)
	}
	if err := caps.Require(connect.FeatureInitialState); err != nil {
		return withHint(fmt.Errorf("the rehearsal cluster %s: %w", targetName, err), "A drill creates its shadows STOPPED: use a Kafka Connect 3.7+ staging cluster, or --sandbox.")
	}

	r := &views.DrillResult{FormatVersion: views.DrillFormat, Target: targetName, Rewind: o.rewind, StartedAt: o.deps.Now().UTC(),
		RestoreTargetSeconds: drillRestoreTarget.Seconds(), TotalTargetSeconds: drillTotalTarget.Seconds()}
	start := time.Now()
	var shadows []*drillShadow
	cleanup := func() {
		if o.keep {
			return
		}
		cctx := context.WithoutCancel(ctx)
		for _, s := range shadows {
			name := drillShadowName(s.block.ConnectorName)
			_, _ = target.ResetOffsets(cctx, name)
			_ = target.Delete(cctx, name)
		}
	}
	defer cleanup()

	phase := func(name string, fn func() error) error {
		p := views.DrillPhase{Name: name, Started: time.Now()}
		err := fn()
		p.Seconds = time.Since(p.Started).Seconds()
		if err != nil {
			p.Error = err.Error()
		}
		r.Phases = append(r.Phases, p)
		return err
	}
	runErr := phase("copy production offsets to shadows", func() error {
		for _, b := range blocks {
			s, err := drillCopy(ctx, clients, target, targetKafka, b)
			if s != nil {
				shadows = append(shadows, s)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if runErr == nil && o.rehearsal == "config" {
		var rehearsed []string
		runErr = phase("rehearse the configuration's offsets blocks", func() error {
			var err error
			rehearsed, err = drillRehearseConfig(ctx, o, cfg, clients, target, shadows)
			return err
		})
		r.Rehearsed = rehearsed
	} else if runErr == nil {
		runErr = phase("rehearse: rewind sinks, reset sources", func() error {
			for _, s := range shadows {
				if err := drillRehearse(ctx, target, s, o.rewind); err != nil {
					return err
				}
			}
			return nil
		})
	}
	var restoreStart time.Time
	if runErr == nil {
		restoreStart = time.Now()
		runErr = phase("roll back from the copy", func() error {
			for _, s := range shadows {
				if _, err := target.AlterOffsets(ctx, drillShadowName(s.block.ConnectorName), s.baseline); err != nil {
					return fmt.Errorf("restoring %s: %w", drillShadowName(s.block.ConnectorName), err)
				}
			}
			return nil
		})
	}
	if runErr == nil {
		runErr = phase("verify every offset byte for byte", func() error {
			for _, s := range shadows {
				got, err := target.Offsets(ctx, drillShadowName(s.block.ConnectorName))
				if err != nil {
					return err
				}
				diffs := offsetsDiffer(s.baseline, got)
				r.Connectors = append(r.Connectors, views.DrillConnector{Connector: s.block.ConnectorName, Shadow: drillShadowName(s.block.ConnectorName),
					Type: string(s.prodType), Partitions: len(s.baseline.Offsets), Verified: len(diffs) == 0, Differences: diffs})
			}
			return nil
		})
		r.RestoreSeconds = time.Since(restoreStart).Seconds()
	}
	r.TotalSeconds = time.Since(start).Seconds()
	if runErr != nil {
		r.Error = runErr.Error()
	}
	r.Decide()

	if !o.noRecord {
		o.loc.parsed(cmd)
		backend, err := stateFor(cmd.Context(), o.deps, &o.loc, cfg)
		if err != nil {
			return err
		}
		defer backend.Close()
		serial, err := recordOperation(ctx, o.deps, backend, drillOperation(r))
		if err != nil {
			return err
		}
		r.StateSerial = serial
	}
	if err := views.NewDrill(o.deps.Streams, o.g.JSON, o.markdown).Result(r); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if !r.Passed {
		return &exitError{code: ExitChanges}
	}
	return nil
}

func drillShadowName(name string) string { return "drill-" + name }

func blockNames(cfg *config.Config) []string {
	var out []string
	for _, c := range cfg.Connectors {
		out = append(out, c.Name)
	}
	return out
}

// drillCopy reads a production connector (GET only) and creates its STOPPED
// shadow on the target with the same offsets; the shadow's offsets as read
// back are the baseline the rollback must restore.
func drillCopy(ctx context.Context, clients *configClients, target *connect.Client, targetKafka *kgo.Client, b *config.Connector) (*drillShadow, error) {
	prod, err := clients.Connect(b.Connect)
	if err != nil {
		return nil, err
	}
	info, err := prod.Connector(ctx, b.ConnectorName)
	if err != nil {
		return nil, fmt.Errorf("reading %s on production: %w", b.ConnectorName, err)
	}
	offs, err := prod.Offsets(ctx, b.ConnectorName)
	if err != nil {
		return nil, fmt.Errorf("reading the offsets of %s on production (GET /offsets, Kafka Connect 3.5+): %w", b.ConnectorName, err)
	}
	shadowCfg := map[string]string{}
	for k, v := range info.Config {
		switch k {
		case "name", "consumer.override.group.id", "offsets.storage.topic":
			continue
		}
		shadowCfg[k] = v
	}
	name := drillShadowName(b.ConnectorName)
	shadowCfg["name"] = name
	if info.Type == connect.TypeSink && targetKafka != nil {
		if err := ensureTopics(ctx, targetKafka, offs); err != nil {
			return nil, err
		}
	}
	if _, err := target.Create(ctx, connect.CreateRequest{Name: name, Config: shadowCfg, InitialState: connect.StateStopped}); err != nil {
		return nil, fmt.Errorf("creating the shadow %s: %w", name, err)
	}
	s := &drillShadow{block: b, prodType: info.Type, config: shadowCfg}
	var set connect.ConnectorOffsets
	for _, o := range offs.Offsets {
		if len(o.Offset) > 0 && string(o.Offset) != "null" {
			set.Offsets = append(set.Offsets, o)
		}
	}
	if len(set.Offsets) > 0 {
		if _, err := target.AlterOffsets(ctx, name, set); err != nil {
			return s, fmt.Errorf("copying the offsets of %s into %s: %w", b.ConnectorName, name, err)
		}
	}
	if s.baseline, err = target.Offsets(ctx, name); err != nil {
		return s, fmt.Errorf("reading the offsets of %s back: %w", name, err)
	}
	if d := offsetsDiffer(set, s.baseline); len(d) > 0 {
		return s, fmt.Errorf("the shadow %s does not hold production's offsets after the copy: %v", name, d)
	}
	return s, nil
}

// ensureTopics creates, on the rehearsal cluster, the topics a sink's
// offsets name, with enough partitions.
func ensureTopics(ctx context.Context, cl *kgo.Client, offs connect.ConnectorOffsets) error {
	parts := map[string]int32{}
	for _, o := range offs.Offsets {
		var p struct {
			Topic     string `json:"kafka_topic"`
			Partition int32  `json:"kafka_partition"`
		}
		if err := json.Unmarshal(o.Partition, &p); err != nil || p.Topic == "" {
			continue
		}
		parts[p.Topic] = max(parts[p.Topic], p.Partition+1)
	}
	adm := kadm.NewClient(cl)
	for t, n := range parts {
		resp, err := adm.CreateTopic(ctx, n, 1, nil, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating %s on the rehearsal cluster: %w", t, err)
		}
	}
	return nil
}

// drillRehearse applies the canned rehearsal to a shadow: every sink
// partition rewound by n records (not below 0), every source offset reset.
func drillRehearse(ctx context.Context, target *connect.Client, s *drillShadow, n int64) error {
	name := drillShadowName(s.block.ConnectorName)
	if s.prodType == connect.TypeSource {
		if len(s.baseline.Offsets) == 0 {
			return nil
		}
		_, err := target.ResetOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("resetting %s: %w", name, err)
		}
		return nil
	}
	var set connect.ConnectorOffsets
	for _, o := range s.baseline.Offsets {
		var off struct {
			Offset int64 `json:"kafka_offset"`
		}
		if err := json.Unmarshal(o.Offset, &off); err != nil {
			continue
		}
		b, _ := json.Marshal(map[string]int64{"kafka_offset": max(off.Offset-n, 0)})
		set.Offsets = append(set.Offsets, connect.ConnectorOffset{Partition: o.Partition, Offset: b})
	}
	if len(set.Offsets) == 0 {
		return nil
	}
	if _, err := target.AlterOffsets(ctx, name, set); err != nil {
		return fmt.Errorf("rewinding %s: %w", name, err)
	}
	return nil
}

// drillRehearseConfig plans the configuration against production (planning
// only reads) and writes the changes of its offsets operations on the
// drilled connectors to their shadows. It returns the operations rehearsed.
func drillRehearseConfig(ctx context.Context, o *drillOptions, cfg *config.Config, clients *configClients, target *connect.Client, shadows []*drillShadow) ([]string, error) {
	byAddr := map[string]*drillShadow{}
	for _, s := range shadows {
		byAddr[s.block.Addr()] = s
	}
	var targets []string
	for _, blk := range cfg.Offsets {
		if blk.Connector != nil && byAddr[blk.Connector.Addr()] != nil {
			targets = append(targets, blk.Addr())
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("the configuration has no offsets block for the drilled connectors: use --rehearsal rewind")
	}
	pl := &plan.Planner{Clients: clients, Codecs: offsets.NewRegistry(), Now: o.deps.Now, Version: Version}
	p, err := pl.Plan(ctx, cfg, plan.Options{Targets: targets})
	if err != nil {
		return nil, fmt.Errorf("planning the configuration's operations against production: %w", err)
	}
	var done []string
	for _, op := range p.Operations {
		s := byAddr[op.Connector]
		if s == nil || op.Status != plan.StatusChange {
			continue
		}
		var set connect.ConnectorOffsets
		for _, ch := range op.Changes {
			switch {
			case ch.Action == plan.ActionNoOp:
			case ch.Sink != nil:
				part, _ := json.Marshal(map[string]any{"kafka_topic": ch.Sink.Topic, "kafka_partition": ch.Sink.Partition})
				off := json.RawMessage("null")
				if ch.Sink.After >= 0 {
					off, _ = json.Marshal(map[string]int64{"kafka_offset": ch.Sink.After})
				}
				set.Offsets = append(set.Offsets, connect.ConnectorOffset{Partition: part, Offset: off})
			case ch.Source != nil:
				off := json.RawMessage("null")
				if ch.Source.After != nil {
					off = ch.Source.After.JSON()
				}
				set.Offsets = append(set.Offsets, connect.ConnectorOffset{Partition: ch.Source.Partition.JSON(), Offset: off})
			}
		}
		if len(set.Offsets) == 0 {
			continue
		}
		name := drillShadowName(s.block.ConnectorName)
		if _, err := target.AlterOffsets(ctx, name, set); err != nil {
			return done, fmt.Errorf("rehearsing %s on %s: %w", op.Address, name, err)
		}
		done = append(done, op.Address)
	}
	if len(done) == 0 {
		return nil, errors.New("the configuration's offsets blocks change nothing on the drilled connectors (applied already, or blocked): use --rehearsal rewind")
	}
	return done, nil
}

// offsetsDiffer lists the partitions whose offset bytes in got are not those
// of want (partitions matched by their exact bytes).
func offsetsDiffer(want, got connect.ConnectorOffsets) []string {
	index := func(c connect.ConnectorOffsets) map[string]string {
		m := map[string]string{}
		for _, o := range c.Offsets {
			if len(o.Offset) == 0 || string(o.Offset) == "null" {
				continue
			}
			m[string(compactRaw(o.Partition))] = string(compactRaw(o.Offset))
		}
		return m
	}
	w, g := index(want), index(got)
	var out []string
	for p, v := range w {
		if g[p] != v {
			out = append(out, fmt.Sprintf("%s: %s, found %q", p, v, g[p]))
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			out = append(out, p+": not in the copy")
		}
	}
	sort.Strings(out)
	return out
}

// compactRaw drops insignificant whitespace only: key order and number
// literals stay as Connect sent them.
func compactRaw(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// drillOperation is the drill as the state's history records it.
func drillOperation(r *views.DrillResult) state.Operation {
	op := state.Operation{Name: "drill on " + r.Target, Kind: state.KindDrill, Status: state.StatusApplied,
		Started: r.StartedAt, Finished: r.StartedAt.Add(time.Duration(r.TotalSeconds * float64(time.Second))), Error: r.Error}
	if !r.Passed {
		op.Status = state.StatusFailed
		if op.Error == "" {
			op.Error = r.Verdict
		}
	}
	at := r.StartedAt
	for _, p := range r.Phases {
		st := state.StepDone
		if p.Error != "" {
			st = state.StepFailed
		}
		end := at.Add(time.Duration(p.Seconds * float64(time.Second)))
		op.Steps = append(op.Steps, state.Step{Name: p.Name, Target: r.Target, Status: st, Started: at, Finished: end, Error: p.Error,
			Message: fmt.Sprintf("%.3f s", p.Seconds)})
		at = end
	}
	op.Steps = append(op.Steps, state.Step{Name: "time to recovery", Target: r.Target, Status: state.StepDone, Started: at, Finished: at,
		Message: fmt.Sprintf("restore %.3f s (target %.0f s), drill %.3f s (target %.0f s)", r.RestoreSeconds, r.RestoreTargetSeconds, r.TotalSeconds, r.TotalTargetSeconds)})
	for _, c := range r.Connectors {
		op.Connectors = append(op.Connectors, state.Connector{Name: c.Shadow, ConnectCluster: r.Target})
	}
	return op
}
