package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Planner observes the live world and computes a plan.
type Planner struct {
	Clients Clients
	// Codecs validate and decode source offsets; nil accepts everything.
	Codecs *offsets.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Version is offsetctl's version, recorded in the plan.
	Version string
}

// Options are the inputs of one planning run besides the configuration.
type Options struct {
	Targets []string
	State   StateRef
	// Applied looks an operation up in the state (see Inputs.Applied).
	Applied func(name string) (serial uint64, blockHash string, ok bool)
}

// Plan observes what cfg's offsets blocks touch and computes the plan. It
// only reads: Kafka Connect's GET endpoints, the offsets topic, consumer
// groups and partition bounds. An error means the world could not be
// observed; problems with what was declared are checks in the plan.
func (pl *Planner) Plan(ctx context.Context, cfg *config.Config, opts Options) (*Plan, error) {
	now := time.Now
	if pl.Now != nil {
		now = pl.Now
	}
	p := &Plan{OffsetctlVersion: pl.Version, CreatedAt: now().UTC().Truncate(time.Second), ConfigHash: cfg.Hash,
		State: opts.State, Targets: opts.Targets}
	selected := selectOffsets(cfg, opts.Targets)
	o := &observer{pl: pl, cfg: cfg, cache: map[string]*ConnectorObservation{}, clusters: map[string]*clusterInfo{}}
	in := Inputs{Connectors: map[string]*ConnectorObservation{}, Timestamps: map[TimestampKey]int64{},
		Restores: map[string]*RestoreData{}, Applied: opts.Applied, Targets: opts.Targets, Now: now()}
	if pl.Codecs != nil {
		in.Validate = pl.validate
		in.Notes = pl.notes
		in.Direction = pl.direction
	}
	for _, blk := range selected {
		if err := o.observeFor(ctx, blk, &in); err != nil {
			return nil, fmt.Errorf("observing %s for %s: %w", blk.Connector.Addr(), blk.Addr(), err)
		}
	}
	p.Operations, p.Checks = Compute(cfg, in)
	p.Timestamps, p.Restores = recordedLookups(selected, in)
	if err := pl.planReconcile(ctx, cfg, opts, p); err != nil {
		return nil, err
	}
	addrs := make([]string, 0, len(in.Connectors))
	for a := range in.Connectors {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		p.Connectors = append(p.Connectors, *in.Connectors[a])
	}
	p.Checks = append(o.checks, p.Checks...)
	policy, checks := evaluatePolicy(cfg.Policies, p.Operations, p.CreatedAt)
	p.Policy, p.Checks = policy, append(p.Checks, checks...)
	return p, nil
}

// recordedLookups returns what the plan records of in besides the
// connectors: the to_timestamp lookups, and of each restore file what it
// holds for the connectors restored from it (a backup may hold others,
// which the plan has no business carrying).
func recordedLookups(selected []*config.Offsets, in Inputs) (map[TimestampKey]int64, map[string]*RestoreData) {
	var ts map[TimestampKey]int64
	if len(in.Timestamps) > 0 {
		ts = in.Timestamps
	}
	var restores map[string]*RestoreData
	for _, blk := range selected {
		data := in.Restores[blk.Restore]
		if blk.Kind != config.OpRestore || data == nil {
			continue
		}
		if restores == nil {
			restores = map[string]*RestoreData{}
		}
		r := restores[blk.Restore]
		if r == nil {
			r = &RestoreData{Source: map[string][]SourceOffset{}, Sink: map[string][]SinkPartition{}}
			restores[blk.Restore] = r
		}
		name := blk.Connector.ConnectorName
		if so, ok := data.Source[name]; ok {
			r.Source[name] = so
		}
		if sk, ok := data.Sink[name]; ok {
			r.Sink[name] = sk
		}
	}
	return ts, restores
}

func (pl *Planner) validate(codec string, partition, offset offsets.Map, previous *offsets.Map) error {
	c, ok := pl.Codecs.Lookup(codec)
	if !ok {
		return nil
	}
	return c.Validate(partition, offset, previous)
}

func (pl *Planner) direction(codec string, partition offsets.Map, before, after *offsets.Map) Direction {
	c, ok := pl.Codecs.Lookup(codec)
	if !ok {
		return DirectionUnknown
	}
	return codecDirection(c, partition, before, after)
}

func (pl *Planner) notes(codec string, partition offsets.Map, before, after *offsets.Map) []offsets.SafetyNote {
	c, ok := pl.Codecs.Lookup(codec)
	if !ok {
		return nil
	}
	return c.SafetyNotes(partition, before, after)
}

func selectOffsets(cfg *config.Config, targets []string) []*config.Offsets {
	if len(targets) == 0 {
		return cfg.Offsets
	}
	want := map[string]bool{}
	for _, t := range targets {
		want[t] = true
	}
	var out []*config.Offsets
	for _, b := range cfg.Offsets {
		if want[b.Addr()] || want[b.Connector.Addr()] {
			out = append(out, b)
		}
	}
	return out
}

// ConfigHash returns the hash planning records for a connector's config:
// sha256 over the sorted key=value lines, with the values of keys that look
// like secrets left out, so that neither the plan nor the state carries
// anything derived from a secret.
func ConfigHash(cfg map[string]string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		v := cfg[k]
		if looksSecret(k) {
			v = "<secret>"
		}
		fmt.Fprintf(h, "%s=%s\n", k, v)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func looksSecret(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"password", "secret", "token", "credential", "jaas"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Observe reads the connectors at addrs (connector.NAME) as planning does,
// with the topics the configuration's offsets blocks name for them. Apply
// uses it to re-observe before writing and refuse a stale plan.
func (pl *Planner) Observe(ctx context.Context, cfg *config.Config, addrs []string) (map[string]*ConnectorObservation, error) {
	o := &observer{pl: pl, cfg: cfg, cache: map[string]*ConnectorObservation{}, clusters: map[string]*clusterInfo{}}
	out := map[string]*ConnectorObservation{}
	for _, addr := range addrs {
		cb := cfg.Connector(strings.TrimPrefix(addr, "connector."))
		if cb == nil {
			return nil, fmt.Errorf("%s is not in the configuration", addr)
		}
		var topics []string
		for _, blk := range cfg.Offsets {
			if blk.Connector == cb {
				for _, sp := range blk.SinkPartitions {
					topics = append(topics, sp.Topic)
				}
			}
		}
		obs, err := o.connector(ctx, cb, topics)
		if err != nil {
			return nil, fmt.Errorf("observing %s: %w", addr, err)
		}
		out[addr] = obs
	}
	return out, nil
}
