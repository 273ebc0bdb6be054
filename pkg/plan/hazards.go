package plan

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Evidence is what Kafka Connect's internal topics (the offsets topic and
// the config topic) said of a connector, for the hazard checks: an
// exactly-once source worker, offsets older than the connector, tasks
// still writing after it stopped. Planning reads them for a source
// connector whose block has a kafka block (the offsets topic, whether apply
// writes it or PATCH /offsets does, and the config topic) and, for a sink,
// its consumer group; nil when nothing was read.
type Evidence struct {
	// ExactlyOnce says why the worker is taken to run exactly-once source
	// support (exactly.once.source.support=enabled); "" when nothing
	// says so.
	ExactlyOnce string
	// Created is when the connector now under the name was created (its
	// first connector-NAME record in the config topic after the last
	// deletion); zero when not known.
	Created time.Time
	// NewestOffset is the timestamp of the connector's newest live offsets
	// record; zero when it has none.
	NewestOffset time.Time
	// StoppedAt is when the connector's target state became STOPPED (the
	// config topic's target-state record); zero when it is not stopped or
	// that is not known.
	StoppedAt time.Time
	// LateWrites are the connector's offsets records written more than
	// ZombieGrace after StoppedAt: "topic[partition]@offset at TIME".
	LateWrites []string
	// GroupMembers are the members of a sink connector's consumer group
	// while the connector is STOPPED.
	GroupMembers []string
	// ConfigTopicError says why the config topic could not be read (the
	// checks that need it are then not made, and a warning says so).
	ConfigTopicError string
}

// ZombieGrace is how long after a connector's STOPPED target state its
// tasks may still commit offsets: Kafka Connect's default
// task.shutdown.graceful.timeout.ms (5 s), during which a stopping task
// flushes its last offsets, plus as much again for the clocks of the
// workers that wrote the two records.
const ZombieGrace = 10 * time.Second

// topicEvidence reads what the config topic says of a source connector
// whose offsets were read from the offsets topic (recs), and records it.
func (o *observer) topicEvidence(ctx context.Context, cb *config.Connector, obs *ConnectorObservation, recs []offsets.TopicRecord) {
	ev := &Evidence{}
	obs.Evidence = ev
	var txn int
	for _, r := range recs {
		if r.Timestamp.After(ev.NewestOffset) {
			ev.NewestOffset = r.Timestamp
		}
		if r.Transactional {
			txn++
		}
	}
	if txn > 0 {
		ev.ExactlyOnce = fmt.Sprintf("%d of its %d offsets record(s) were written in transactions, as an exactly-once source task writes them", txn, len(recs))
	}
	kc, err := o.pl.Clients.Kafka(cb.Kafka)
	if err != nil {
		ev.ConfigTopicError = err.Error()
		return
	}
	key := cb.Kafka.Name + "\x00" + cb.Kafka.ConfigTopic
	cs := o.configReads[key]
	if cs == nil {
		if cs, err = offsets.ReadConfigTopic(ctx, kc, cb.Kafka.ConfigTopic); err != nil {
			ev.ConfigTopicError = err.Error()
			return
		}
		if o.configReads == nil {
			o.configReads = map[string]*offsets.ConfigSnapshot{}
		}
		o.configReads[key] = cs
	}
	h := cs.Connector(cb.ConnectorName)
	if h == nil {
		return
	}
	ev.Created = h.Created
	if h.TaskCountRecord && ev.ExactlyOnce == "" {
		ev.ExactlyOnce = fmt.Sprintf("the config topic %q holds a task-count record (tasks-fencing-%s, written %s) that only a worker with exactly.once.source.support=enabled writes when it fences the connector's tasks",
			cs.Topic, cb.ConnectorName, h.TaskCountAt.Format(time.RFC3339))
	}
	if h.TargetState == "STOPPED" && obs.State == "STOPPED" {
		ev.StoppedAt = h.TargetStateAt
		for _, r := range recs {
			if r.Timestamp.After(h.TargetStateAt.Add(ZombieGrace)) {
				ev.LateWrites = append(ev.LateWrites, fmt.Sprintf("%s[%d]@%d at %s", r.Topic, r.TopicPartition, r.TopicOffset, r.Timestamp.Format(time.RFC3339Nano)))
			}
		}
	}
}

// restEvidence gathers, for a source connector whose offsets go through
// GET and PATCH /offsets (Kafka Connect 3.6+), the evidence the topic path
// gathers: the hazards of a re-created connector resuming old offsets and
// of tasks still writing after STOPPED are the same on either path. It
// needs the connector block's kafka block; without one, or when the offsets
// topic cannot be read, a hazards_unchecked check says what was not checked
// and why.
func (o *observer) restEvidence(ctx context.Context, cb *config.Connector, obs *ConnectorObservation, loc offsets.Location) {
	unchecked := fmt.Sprintf("offsetctl did not check whether the stored offsets of %q predate the connector (left by a deleted connector of the same name) or whether its tasks still write after it stopped", obs.Name)
	if cb.Kafka == nil {
		o.checks = append(o.checks, Check{Severity: SeverityOK, Code: "hazards_unchecked", Message: fmt.Sprintf(
			"%s: Kafka Connect's offsets and config topics say so, and %s has no kafka block to read them; add one (kafka = kafka.NAME, with config_topic when the worker's config.storage.topic is not %q) to have them checked",
			unchecked, cb.Addr(), config.DefaultConfigTopic)})
		return
	}
	snap, _, err := o.offsetsTopics(ctx, cb.Kafka, loc)
	if err != nil {
		o.checks = append(o.checks, Check{Severity: SeverityWarning, Code: "hazards_unchecked", Message: fmt.Sprintf(
			"%s: %v; check the brokers and offsets_topic of %s and that offsetctl may read the topic",
			unchecked, err, cb.Kafka.Addr())})
		return
	}
	o.topicEvidence(ctx, cb, obs, offsets.Effective(cb.ConnectorName, snap))
}

// sinkEvidence records the members of a STOPPED sink connector's group.
func sinkEvidence(obs *ConnectorObservation, members []string) {
	if obs.State != "STOPPED" || len(members) == 0 {
		return
	}
	if obs.Evidence == nil {
		obs.Evidence = &Evidence{}
	}
	obs.Evidence.GroupMembers = append([]string(nil), members...)
}

// hazards makes the checks of the hazard catalogue that the evidence of
// the connector's internal topics allows (see Evidence).
func (c *computer) hazards(op *Operation, obs *ConnectorObservation) {
	ev := obs.Evidence
	if ev == nil {
		return
	}
	if ev.ConfigTopicError != "" {
		c.check(SeverityWarning, "config_topic_unread", op.Address, fmt.Sprintf(
			"the Kafka Connect config topic could not be read (%s): offsetctl could not check whether the worker runs exactly-once source support, when %q was created, or whether its tasks still write after it stopped; set config_topic in the kafka block to the worker's config.storage.topic, and give offsetctl read access to it",
			ev.ConfigTopicError, obs.Name))
	}
	c.exactlyOnce(op, obs)
	c.offsetsPredateConnector(op, obs)
	c.zombieTasks(op, obs)
}

// exactlyOnce refuses topic-mode writes on a worker with exactly-once
// source support: Kafka Connect fences the connector's transactional
// producers before it alters offsets (KIP-875: DistributedHerder.modifyConnectorOffsets
// → fenceZombieSourceTasks); a direct write to the offsets topic cannot.
func (c *computer) exactlyOnce(op *Operation, obs *ConnectorObservation) {
	why := obs.Evidence.ExactlyOnce
	if why == "" || obs.Type != Source {
		return
	}
	if op.Method != MethodTopic {
		return // PATCH /offsets fences first
	}
	c.check(SeverityError, "exactly_once_topic_write", op.Address, fmt.Sprintf(
		"connector %q runs on a worker with exactly-once source support (%s): its offsets may only change after the worker fences the connector's transactional producers, which Kafka Connect does in PATCH /offsets (3.6+) and a direct write to the offsets topic cannot; offsetctl will not write the topic. Upgrade the workers to Kafka Connect 3.6 or later and plan again: apply then goes through PATCH /offsets",
		obs.Name, why))
}

// offsetsPredateConnector warns when every stored offset of a connector was
// written before it was created: they were left by a deleted connector of
// the same name, and this one resumes from them.
func (c *computer) offsetsPredateConnector(op *Operation, obs *ConnectorObservation) {
	ev := obs.Evidence
	if ev.Created.IsZero() || ev.NewestOffset.IsZero() || !ev.NewestOffset.Before(ev.Created) {
		return
	}
	c.check(SeverityWarning, "offsets_predate_connector", op.Address, fmt.Sprintf(
		"every stored offset of %q was written before the connector was created (newest offset %s, created %s per the config topic): they were left by an earlier connector of the same name that was deleted, and this one resumes from them rather than starting fresh; check that they are the positions you mean to change (offsetctl offsets show lists offsets of deleted connectors)",
		obs.Name, ev.NewestOffset.Format(time.RFC3339), ev.Created.Format(time.RFC3339)))
}

// zombieTasks refuses when a STOPPED connector's tasks still write: offsets
// records newer than its stop by more than ZombieGrace, or members in a
// sink connector's group.
func (c *computer) zombieTasks(op *Operation, obs *ConnectorObservation) {
	ev := obs.Evidence
	if len(ev.LateWrites) > 0 {
		shown := ev.LateWrites
		more := ""
		if len(shown) > 5 {
			shown, more = shown[:5], fmt.Sprintf(" and %d more", len(ev.LateWrites)-5)
		}
		c.check(SeverityError, "zombie_tasks", op.Address, fmt.Sprintf(
			"connector %q has been STOPPED since %s, yet offsets records were written for it later than %s after that: %s%s. A task still runs (a zombie on a worker that missed the stop); offsetctl will not change offsets it would overwrite: restart the worker that runs it, check the records stop, then plan again",
			obs.Name, ev.StoppedAt.Format(time.RFC3339Nano), ZombieGrace, strings.Join(shown, ", "), more))
	}
	if len(ev.GroupMembers) > 0 {
		c.check(SeverityError, "zombie_tasks", op.Address, fmt.Sprintf(
			"connector %q is STOPPED, yet its consumer group %s has active members: %s. A task still consumes (a zombie on a worker that missed the stop); its commits would overwrite the new offsets: restart the worker that runs it, wait until the group is empty, then plan again",
			obs.Name, obs.Group, strings.Join(ev.GroupMembers, ", ")))
	}
}
