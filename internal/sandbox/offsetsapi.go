package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// connectorOffset is one {"partition", "offset"} pair of ConnectorOffsets.
type connectorOffset struct {
	Partition *offsets.Map `json:"partition"`
	Offset    *offsets.Map `json:"offset"`
}

type connectorOffsets struct {
	Offsets []connectorOffset `json:"offsets"`
}

// sinkGroup is the consumer group of a sink connector (SinkUtils.consumerGroupId,
// or the consumer.override.group.id the default override policy allows).
func sinkGroup(name string, config map[string]string) string {
	if g := config["consumer.override.group.id"]; g != "" {
		return g
	}
	return "connect-" + name
}

// sourceKey is the offsets-topic key of a source partition as Connect
// serialises it; a nil partition gives ["name",null].
func sourceKey(connector string, p *offsets.Map) []byte {
	if p == nil {
		k := offsets.EncodeKey(connector, offsets.Map{})
		return append(bytes.TrimSuffix(k, []byte("{}]")), []byte("null]")...)
	}
	return offsets.EncodeKey(connector, *p)
}

// snapshot returns a connector's config and type under the lock.
func (w *worker) snapshot(name string) (map[string]string, plugin, targetState, int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return nil, plugin{}, 0, 0, false
	}
	return copyConfig(c.config), c.plugin, c.target, len(c.taskConfigs), true
}

// offsets answers GET /connectors/{name}/offsets.
func (w *worker) offsets(ctx context.Context, name string) (connectorOffsets, error) {
	cfg, p, _, _, ok := w.snapshot(name)
	if !ok {
		return connectorOffsets{}, notFound("Connector %s not found", name)
	}
	if p.typ == typeSink {
		return w.sinkOffsets(ctx, name, cfg)
	}
	store, err := w.sourceStoreFor(ctx, cfg)
	if err != nil {
		return connectorOffsets{}, errorf(500, "Failed to retrieve offsets for source connector %s", name)
	}
	if err := store.readToEnd(ctx); err != nil {
		return connectorOffsets{}, errorf(500, "Failed to retrieve offsets for source connector %s", name)
	}
	out := connectorOffsets{Offsets: []connectorOffset{}}
	for _, part := range store.partitions(name) {
		raw, found := store.get(sourceKey(name, &part))
		co := connectorOffset{Partition: &part}
		if found {
			m, err := offsets.ParseMap(raw)
			if err != nil {
				continue // OffsetStorageReaderImpl logs and leaves it out
			}
			m, err = javaNormalize(m, false)
			if err != nil {
				continue
			}
			co.Offset = &m
		}
		out.Offsets = append(out.Offsets, co)
	}
	return out, nil
}

func sinkPartitionMap(topic string, partition int32) offsets.Map {
	return offsets.NewMap(
		offsets.Field{Key: "kafka_topic", Value: offsets.String(topic)},
		offsets.Field{Key: "kafka_partition", Value: offsets.Int(int64(partition))},
	).JavaOrder()
}

func (w *worker) sinkOffsets(ctx context.Context, name string, cfg map[string]string) (connectorOffsets, error) {
	resp, err := w.adm.FetchOffsets(ctx, sinkGroup(name, cfg))
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return connectorOffsets{}, errorf(500, "Failed to retrieve consumer group offsets for sink connector %s", name)
	}
	var list []kadm.OffsetResponse
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			list = append(list, o)
		}
	})
	sort.Slice(list, func(i, j int) bool {
		if list[i].Topic != list[j].Topic {
			return list[i].Topic < list[j].Topic
		}
		return list[i].Partition < list[j].Partition
	})
	out := connectorOffsets{Offsets: []connectorOffset{}}
	for _, o := range list {
		p := sinkPartitionMap(o.Topic, o.Partition)
		v := offsets.NewMap(offsets.Field{Key: "kafka_offset", Value: offsets.Int(o.At)})
		out.Offsets = append(out.Offsets, connectorOffset{Partition: &p, Offset: &v})
	}
	return out, nil
}

// modifyChecks is DistributedHerder.modifyConnectorOffsetsChecks.
func (w *worker) modifyChecks(name string) (map[string]string, plugin, error) {
	if err := w.checkRebalance(true); err != nil {
		return nil, plugin{}, err
	}
	cfg, p, target, nTasks, ok := w.snapshot(name)
	if !ok {
		return nil, plugin{}, notFound("Connector %s not found", name)
	}
	if target != targetStopped || nTasks != 0 {
		return nil, plugin{}, errorf(400, "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	return cfg, p, nil
}

func modifiedMessage(p plugin, reset bool) string {
	kind := "altered"
	if reset {
		kind = "reset"
	}
	if p.altersOffsets {
		return "The offsets for this connector have been " + kind + " successfully"
	}
	return "The Connect framework-managed offsets for this connector have been " + kind +
		" successfully. However, if this connector manages offsets externally, they will need to be manually " + kind +
		" in the system that the connector uses."
}

// offsetEntry is one parsed element of a PATCH body.
type offsetEntry struct {
	partition *jnode // nil: missing or null
	offset    *jnode
}

// alterOffsets answers PATCH /connectors/{name}/offsets after the body passed
// the resource's checks.
func (w *worker) alterOffsets(ctx context.Context, name string, entries []offsetEntry) (string, error) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	cfg, p, err := w.modifyChecks(name)
	if err != nil {
		return "", err
	}
	if p.typ == typeSink {
		return w.alterSinkOffsets(ctx, name, cfg, p, entries)
	}
	type rec struct {
		key, value []byte
	}
	var order []string
	recs := map[string]rec{}
	changes := map[string]alterChange{}
	for _, e := range entries {
		var pm, om *offsets.Map
		for i, n := range []*jnode{e.partition, e.offset} {
			if n == nil {
				continue
			}
			m, field, typ := n.primitiveMap()
			if field != "" {
				return "", errorf(500, "Offsets may only contain primitive types as values, but field %s contains %s", field, typ)
			}
			norm, err := javaNormalize(m, true)
			if err != nil {
				return "", errorf(500, "%s", err.Error())
			}
			if i == 0 {
				pm = &norm
			} else {
				om = &norm
			}
		}
		id := "null"
		if pm != nil {
			id = canonical(*pm)
		}
		r := rec{key: sourceKey(name, pm)}
		if om != nil {
			r.value = om.JSON()
		}
		if _, seen := recs[id]; !seen {
			order = append(order, id)
		}
		recs[id] = r
		changes[id] = alterChange{partition: pm, offset: om}
	}
	if hook := sourceAlterHook(p.class); hook != nil {
		var list []alterChange
		for _, id := range order {
			list = append(list, changes[id])
		}
		if err := hook(cfg, list); err != nil {
			return "", err
		}
	}
	store, err := w.sourceStoreFor(ctx, cfg)
	if err != nil {
		return "", errorf(500, "Failed to modify offsets for source connector %s", name)
	}
	if err := store.readToEnd(ctx); err != nil {
		return "", errorf(500, "Failed to modify offsets for source connector %s", name)
	}
	var out []kv
	for _, id := range order {
		out = append(out, kv{key: recs[id].key, value: recs[id].value})
	}
	if err := store.write(ctx, out); err != nil {
		return "", errorf(500, "Failed to modify offsets for source connector %s", name)
	}
	w.logf("offsets of %s altered (%d partitions)", name, len(out))
	return modifiedMessage(p, false), nil
}

// parseSinkOffsets is SinkUtils.parseSinkConnectorOffsets.
func parseSinkOffsets(entries []offsetEntry) (map[string]map[int32]*int64, error) {
	out := map[string]map[int32]*int64{}
	for _, e := range entries {
		if e.partition == nil {
			return nil, errorf(400, "The partition for a sink connector offset cannot be null or missing")
		}
		t, okT := e.partition.get("kafka_topic")
		pn, okP := e.partition.get("kafka_partition")
		if !okT || !okP {
			return nil, errorf(400, "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'")
		}
		if t.kind == jNull {
			return nil, errorf(400, "Kafka topic names must be valid strings and may not be null")
		}
		if pn.kind == jNull {
			return nil, errorf(400, "Kafka partitions must be valid numbers and may not be null")
		}
		topic := t.javaString()
		partition, err := strconv.ParseInt(pn.javaString(), 10, 32)
		if err != nil {
			return nil, errorf(400, "Failed to parse the following Kafka partition value in the provided offsets: '%s'. Partition values for sink connectors need to be integers.", pn.javaString())
		}
		if out[topic] == nil {
			out[topic] = map[int32]*int64{}
		}
		if e.offset == nil {
			out[topic][int32(partition)] = nil
			continue
		}
		o, ok := e.offset.get("kafka_offset")
		if !ok {
			return nil, errorf(400, "The offset for a sink connector should either be null or contain the key 'kafka_offset'")
		}
		off, err := strconv.ParseInt(o.javaString(), 10, 64)
		if err != nil {
			return nil, errorf(400, "Failed to parse the following Kafka offset value in the provided offsets: '%s'. Offset values for sink connectors need to be integers.", o.javaString())
		}
		out[topic][int32(partition)] = &off
	}
	return out, nil
}

func zombieSinkMessage(name, what string) string {
	return fmt.Sprintf("Failed to %s consumer group offsets for connector %s either because its tasks haven't stopped completely yet "+
		"or the connector was resumed before the request to %s its offsets could be successfully completed. If the connector is in a "+
		"stopped state, this operation can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be "+
		"restarted to get rid of the zombie sink tasks.", what, name, what)
}

func (w *worker) alterSinkOffsets(ctx context.Context, name string, cfg map[string]string, p plugin, entries []offsetEntry) (string, error) {
	parsed, err := parseSinkOffsets(entries)
	if err != nil {
		return "", err
	}
	group := sinkGroup(name, cfg)
	commit := kadm.Offsets{}
	del := kadm.TopicsSet{}
	for topic, parts := range parsed {
		for p, off := range parts {
			if off == nil {
				del.Add(topic, p)
				continue
			}
			if *off < 0 {
				return "", errorf(500, "Failed to modify offsets for sink connector %s", name)
			}
			commit.Add(kadm.Offset{Topic: topic, Partition: p, At: *off, LeaderEpoch: -1})
		}
	}
	fail := func(err error) (string, error) {
		w.logf("altering the offsets of group %s: %v", group, err)
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.GroupSubscribedToTopic) {
			return "", errorf(500, "%s", zombieSinkMessage(name, "alter"))
		}
		return "", errorf(500, "Failed to alter consumer group offsets for connector %s", name)
	}
	if len(commit) > 0 {
		resp, err := w.adm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fail(err)
		}
	}
	if len(del) > 0 {
		resp, err := w.adm.DeleteOffsets(ctx, group, del)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return fail(err)
		}
	}
	w.logf("offsets of %s altered in group %s", name, group)
	return modifiedMessage(p, false), nil
}

// resetOffsets answers DELETE /connectors/{name}/offsets.
func (w *worker) resetOffsets(ctx context.Context, name string) (string, error) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	cfg, p, err := w.modifyChecks(name)
	if err != nil {
		return "", err
	}
	if p.typ == typeSink {
		group := sinkGroup(name, cfg)
		if _, err := w.adm.FetchOffsets(ctx, group); err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return "", errorf(500, "Failed to list offsets prior to resetting offsets for sink connector %s", name)
		}
		resp, err := w.adm.DeleteGroup(ctx, group)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			if errors.Is(err, kerr.NonEmptyGroup) {
				return "", errorf(500, "%s", zombieSinkMessage(name, "reset"))
			}
			return "", errorf(500, "Failed to reset consumer group offsets for sink connector %s", name)
		}
		w.logf("offsets of %s reset (group %s deleted)", name, group)
		return modifiedMessage(p, true), nil
	}
	store, err := w.sourceStoreFor(ctx, cfg)
	if err != nil {
		return "", errorf(500, "Failed to modify offsets for source connector %s", name)
	}
	if err := store.readToEnd(ctx); err != nil {
		return "", errorf(500, "Failed to modify offsets for source connector %s", name)
	}
	var out []kv
	var tombstones []alterChange
	for _, part := range store.partitions(name) {
		out = append(out, kv{key: sourceKey(name, &part)})
		tombstones = append(tombstones, alterChange{partition: &part})
	}
	if hook := sourceAlterHook(p.class); hook != nil {
		if err := hook(cfg, tombstones); err != nil {
			return "", err
		}
	}
	if err := store.write(ctx, out); err != nil {
		return "", errorf(500, "Failed to modify offsets for source connector %s", name)
	}
	w.logf("offsets of %s reset (%d partitions)", name, len(out))
	return modifiedMessage(p, true), nil
}
