package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// conn reads and writes one connector's offsets and drives its state.
type conn struct {
	a       *Applier
	name    string // in Kafka Connect
	cluster string // the connect block's name
	typ     plan.ConnectorType
	method  plan.Method
	group   string
	topic   string // the offsets topic
	blk     *config.Connector
	cc      *connect.Client
	caps    connect.Capabilities
	kcl     *kgo.Client
}

// newConn resolves the clients of a connector block and checks that the
// worker can stop it (and alter offsets through REST when method says so).
func (a *Applier) newConn(ctx context.Context, blk *config.Connector, typ plan.ConnectorType, method plan.Method, group string) (*conn, error) {
	cc, err := a.opts.Clients.Connect(blk.Connect)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", blk.Connect.Addr(), err)
	}
	caps, err := cc.Capabilities(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the version of %s: %w", blk.Connect.Addr(), err)
	}
	c := &conn{a: a, name: blk.ConnectorName, cluster: blk.Connect.Name, typ: typ, blk: blk, cc: cc, caps: caps, group: group}
	if c.group == "" && typ == plan.Sink {
		c.group = offsets.SinkGroupID(c.name, map[string]string{"consumer.override.group.id": blk.Group})
	}
	if method == "" {
		method = plan.MethodREST
		if !caps.Supports(connect.FeatureAlterOffsets) {
			method = plan.MethodTopic
			if typ == plan.Sink {
				method = plan.MethodGroup
			}
		}
	}
	c.method = method
	if !caps.Supports(connect.FeatureStop) {
		return nil, fmt.Errorf("%w: Kafka Connect %s at %s has no PUT /connectors/{name}/stop (Apache Kafka 3.5 or later), so offsetctl cannot make sure no task of %q writes offsets while it changes them; offsetctl refuses rather than race the tasks (deleting and re-creating the connector is the only safe path on such workers, and this plan does not ask for it)",
			ErrUnsupported, caps.Version, cc.URL(), c.name)
	}
	switch method {
	case plan.MethodREST:
		if err := caps.Require(connect.FeatureAlterOffsets); err != nil {
			return nil, fmt.Errorf("%w: the plan writes the offsets of %q through the REST API, but %v; make a new plan", ErrUnsupported, c.name, err)
		}
	case plan.MethodTopic, plan.MethodGroup:
		if blk.Kafka == nil {
			return nil, fmt.Errorf("%w: connector %s has no kafka block, which writing its offsets directly to Kafka needs (Kafka Connect %s has no PATCH /offsets)", ErrUnsupported, blk.Addr(), caps.Version)
		}
	default:
		return nil, fmt.Errorf("%w: the plan writes the offsets of %q via %q, which this offsetctl does not know", ErrUnsupported, c.name, method)
	}
	if blk.Kafka != nil {
		c.topic = blk.Kafka.OffsetsTopic
		if c.topic == "" {
			c.topic = "connect-offsets"
		}
	}
	return c, nil
}

func (c *conn) kafka() (*kgo.Client, error) {
	if c.kcl != nil {
		return c.kcl, nil
	}
	if c.blk.Kafka == nil {
		return nil, fmt.Errorf("connector %s has no kafka block", c.blk.Addr())
	}
	cl, err := c.a.opts.Clients.Kafka(c.blk.Kafka)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.blk.Kafka.Addr(), err)
	}
	c.kcl = cl
	return cl, nil
}

// read returns the current offsets of the partitions of want, through the
// store the connector's offsets are written to.
func (c *conn) read(ctx context.Context, want []entry) ([]entry, error) {
	out := make([]entry, 0, len(want))
	switch c.method {
	case plan.MethodREST:
		got, err := c.cc.Offsets(ctx, c.name)
		if err != nil {
			return nil, err
		}
		all, err := restEntries(got, c.typ)
		if err != nil {
			return nil, fmt.Errorf("reading the offsets of %q: %w", c.name, err)
		}
		for _, w := range want {
			out = append(out, lookupEntry(all, w))
		}
	case plan.MethodTopic:
		cl, err := c.kafka()
		if err != nil {
			return nil, err
		}
		snap, err := offsets.ReadTopic(ctx, cl, c.topic)
		if err != nil {
			return nil, fmt.Errorf("reading the offsets of %q from topic %s: %w", c.name, c.topic, err)
		}
		for _, w := range want {
			e := w
			e.offset = nil
			if r, ok := snap.Find(c.name, w.part); ok {
				off := r.Offset
				e.offset, e.key = &off, r.Key
			}
			out = append(out, e)
		}
	case plan.MethodGroup:
		g, err := c.readGroup(ctx, want)
		if err != nil {
			return nil, err
		}
		for _, w := range want {
			e := w
			e.committed = -1
			if o, ok := g.Lookup(w.topic, w.partition); ok {
				e.committed = o.Committed
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *conn) readGroup(ctx context.Context, want []entry) (*offsets.SinkGroup, error) {
	cl, err := c.kafka()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var topics []string
	for _, w := range want {
		if !seen[w.topic] {
			seen[w.topic] = true
			topics = append(topics, w.topic)
		}
	}
	return offsets.ReadSinkGroup(ctx, kadm.NewClient(cl), c.group, topics)
}

// restEntries parses GET /offsets.
func restEntries(got connect.ConnectorOffsets, typ plan.ConnectorType) ([]entry, error) {
	var out []entry
	for _, o := range got.Offsets {
		if typ == plan.Sink {
			var p struct {
				Topic     string `json:"kafka_topic"`
				Partition int32  `json:"kafka_partition"`
			}
			if err := json.Unmarshal(o.Partition, &p); err != nil {
				return nil, fmt.Errorf("sink partition %s: %w", o.Partition, err)
			}
			e := entry{sink: true, topic: p.Topic, partition: p.Partition, committed: -1}
			if len(o.Offset) > 0 && string(o.Offset) != "null" {
				var v struct {
					Offset *int64 `json:"kafka_offset"`
				}
				if err := json.Unmarshal(o.Offset, &v); err != nil || v.Offset == nil {
					return nil, fmt.Errorf("sink offset %s of %s[%d] has no integer kafka_offset", o.Offset, p.Topic, p.Partition)
				}
				e.committed = *v.Offset
			}
			out = append(out, e)
			continue
		}
		part, err := offsets.ParseMap(o.Partition)
		if err != nil {
			return nil, fmt.Errorf("source partition %s: %w", o.Partition, err)
		}
		e := entry{part: part}
		if len(o.Offset) > 0 && string(o.Offset) != "null" {
			off, err := offsets.ParseMap(o.Offset)
			if err != nil {
				return nil, fmt.Errorf("source offset of %s: %w", part, err)
			}
			e.offset = &off
		}
		out = append(out, e)
	}
	return out, nil
}

// restBody builds the PATCH /offsets body: sink partitions as
// {"kafka_topic","kafka_partition"} → {"kafka_offset"}, source partitions and
// offsets exactly as planned; a deleted offset is null.
func restBody(es []entry) connect.ConnectorOffsets {
	body := connect.ConnectorOffsets{Offsets: make([]connect.ConnectorOffset, 0, len(es))}
	for _, e := range es {
		var o connect.ConnectorOffset
		if e.sink {
			p, _ := json.Marshal(struct {
				Topic     string `json:"kafka_topic"`
				Partition int32  `json:"kafka_partition"`
			}{e.topic, e.partition})
			o.Partition = p
			o.Offset = json.RawMessage("null")
			if e.committed >= 0 {
				o.Offset = json.RawMessage(fmt.Sprintf(`{"kafka_offset":%d}`, e.committed))
			}
		} else {
			o.Partition = json.RawMessage(e.part.JSON())
			o.Offset = json.RawMessage("null")
			if e.offset != nil {
				o.Offset = json.RawMessage(e.offset.JSON())
			}
		}
		body.Offsets = append(body.Offsets, o)
	}
	return body
}

// maxAlterAttempts bounds the attempts of a write whose outcome was unknown
// (a Connect "request timed out" or a lost connection) and that reading back
// showed not applied.
const maxAlterAttempts = 3

// write sets the offsets of es. The connector must be stopped with no task
// left (the caller made sure). It returns what the operator should know
// beyond "written": a write whose answer was lost is judged by reading the
// offsets back (applied, or not applied and written again); when they
// cannot be read back, write fails saying that the outcome is unknown, and
// never writes again blind.
func (c *conn) write(ctx context.Context, es []entry) (string, error) {
	if len(es) == 0 {
		return "", nil
	}
	switch c.method {
	case plan.MethodREST:
		body := restBody(es)
		var notes []string
		for attempt := 1; ; attempt++ {
			_, err := c.cc.AlterOffsets(ctx, c.name, body)
			if err == nil || !outcomeUnknown(err) || ctx.Err() != nil {
				return strings.Join(notes, "; "), err
			}
			lost := fmt.Sprintf("the answer to PATCH /connectors/%s/offsets was lost (%v)", c.name, err)
			applied, rerr := c.findOut(ctx, es)
			if rerr != nil {
				return strings.Join(notes, "; "), fmt.Errorf("%s, and the offsets could not be read back to find out whether it was applied: %w; whether it was applied is not known (offsetctl does not guess)", lost, rerr)
			}
			if applied {
				return strings.Join(append(notes, lost+"; read back: it was applied"), "; "), nil
			}
			notes = append(notes, lost+"; read back: it was not applied, written again")
			if attempt == maxAlterAttempts {
				return strings.Join(notes, "; "), fmt.Errorf("%s; read back: it was not applied; gave up after %d attempts", lost, attempt)
			}
		}
	case plan.MethodTopic:
		cl, err := c.kafka()
		if err != nil {
			return "", err
		}
		snap, err := offsets.ReadTopic(ctx, cl, c.topic)
		if err != nil {
			return "", fmt.Errorf("reading topic %s before writing the offsets of %q: %w", c.topic, c.name, err)
		}
		changes := make([]offsets.SourceChange, 0, len(es))
		for _, e := range es {
			if e.offset == nil {
				if _, ok := snap.Find(c.name, e.part); !ok {
					continue // nothing stored: already deleted
				}
			}
			changes = append(changes, offsets.SourceChange{Partition: e.part, Offset: e.offset})
		}
		_, err = offsets.WriteSource(ctx, cl, snap, c.name, changes)
		return "", err
	case plan.MethodGroup:
		cl, err := c.kafka()
		if err != nil {
			return "", err
		}
		changes := make([]offsets.SinkChange, 0, len(es))
		for _, e := range es {
			ch := offsets.SinkChange{Topic: e.topic, Partition: e.partition}
			if e.committed >= 0 {
				n := e.committed
				ch.Offset = &n
			}
			changes = append(changes, ch)
		}
		return "", offsets.CommitSinkGroup(ctx, kadm.NewClient(cl), c.group, changes)
	}
	return "", fmt.Errorf("unknown write method %q", c.method)
}

// findOutPatience is how long write keeps reading back after a lost answer:
// while the worker cannot be read, and, for a source connector, while the
// offsets differ (a real worker's GET /offsets lists source offsets from an
// index it updates after PATCH answered; a sink's are its consumer group's,
// read at once).
const findOutPatience = 10 * time.Second

// findOut reads the offsets of es back after a write whose answer was lost
// and tells whether the write was applied.
func (c *conn) findOut(ctx context.Context, es []entry) (bool, error) {
	deadline := time.Now().Add(findOutPatience)
	for {
		got, err := c.read(ctx, es)
		if err == nil {
			if len(diffEntries(es, got)) == 0 {
				return true, nil
			}
			if c.typ == plan.Sink || time.Now().After(deadline) {
				return false, nil
			}
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			return false, err
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// outcomeUnknown: the request may or may not have been acted upon.
func outcomeUnknown(err error) bool {
	var te *connect.TransportError
	return connect.IsRequestTimeout(err) || errors.As(err, &te)
}

// status returns the connector's current state ("" and the error when it
// cannot be read).
func (c *conn) status(ctx context.Context) (connect.ConnectorStatus, error) {
	return c.cc.Status(ctx, c.name)
}

func (c *conn) waitOpts() connect.WaitOptions {
	return connect.WaitOptions{Interval: c.a.opts.PollInterval, Timeout: c.a.opts.WaitTimeout}
}

// stop stops the connector and waits until it shows STOPPED with no tasks.
// It reports whether it had to stop it.
func (c *conn) stop(ctx context.Context) (bool, error) {
	st, err := c.status(ctx)
	if err == nil && st.Connector.State == connect.StateStopped && len(st.Tasks) == 0 {
		return false, nil
	}
	if err != nil && !connect.IsNotFound(err) {
		return false, err
	}
	if err := c.cc.Stop(ctx, c.name); err != nil {
		return false, err
	}
	if _, err := c.cc.WaitForState(ctx, c.name, connect.StateStopped, c.waitOpts()); err != nil {
		return true, err
	}
	return true, nil
}

// settle makes sure no task can still write: it waits the grace period,
// checks a sink's consumer group has no members, and reads the offsets
// before and after the wait: a difference means a task still commits.
// It returns the offsets read last.
func (c *conn) settle(ctx context.Context, want []entry) ([]entry, error) {
	first, err := c.read(ctx, want)
	if err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, c.a.opts.GracePeriod); err != nil {
		return nil, err
	}
	if c.typ == plan.Sink && c.blk.Kafka != nil {
		if err := c.waitNoMembers(ctx, want); err != nil {
			return nil, err
		}
	}
	second, err := c.read(ctx, want)
	if err != nil {
		return nil, err
	}
	if moved := diffEntries(first, second); len(moved) > 0 {
		return nil, fmt.Errorf("a task of %q still commits offsets after the connector was stopped (a zombie task that outlived task.shutdown.graceful.timeout.ms): %s; nothing was written: restart the worker that runs it, then apply again",
			c.name, strings.Join(moved, "; "))
	}
	return second, nil
}

// waitNoMembers waits up to the grace period for the sink's consumer group
// to have no members.
func (c *conn) waitNoMembers(ctx context.Context, want []entry) error {
	deadline := time.Now().Add(c.a.opts.GracePeriod)
	for {
		g, err := c.readGroup(ctx, want)
		if err != nil {
			return err
		}
		if len(g.Members) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (zombie sink tasks of %q are still consuming after the stop)", &offsets.GroupNotEmptyError{Group: g.Group, Members: g.Members}, c.name)
		}
		if err := sleepCtx(ctx, c.a.opts.PollInterval); err != nil {
			return err
		}
	}
}

// restoreState returns a stopped connector to the state it was found in,
// and returns the state it is left in plus a warning, if any.
func (c *conn) restoreState(ctx context.Context, former string) (string, string, error) {
	switch connect.State(former) {
	case connect.StateStopped:
		return string(connect.StateStopped), "", nil
	case connect.StateFailed:
		return string(connect.StateStopped), fmt.Sprintf("connector %q was FAILED before this operation; it is left STOPPED: resume it (offsetctl does not) once the cause of the failure is fixed", c.name), nil
	case connect.StatePaused:
		// Paused straight from STOPPED, never resumed: an operator who
		// paused the connector holds what it would consume (the records
		// a rewind replays) until they resume it. A worker generates task
		// configurations only for a started connector, so a connector
		// paused while STOPPED has no task that could consume or commit.
		if err := c.cc.Pause(ctx, c.name); err != nil {
			return string(connect.StateStopped), "", err
		}
		if _, err := c.cc.WaitForState(ctx, c.name, connect.StatePaused, c.waitOpts()); err != nil {
			return string(connect.StateStopped), "", err
		}
		return string(connect.StatePaused), "", nil
	default: // RUNNING, UNASSIGNED, RESTARTING: the target state is started
		if err := c.resumeAndWatch(ctx); err != nil {
			return "", "", err
		}
		return string(connect.StateRunning), "", nil
	}
}

// resumeAndWatch resumes the connector, waits until every task runs, and
// watches it for Options.RunningWatch: a task that fails on its new offsets
// usually fails right after it starts.
func (c *conn) resumeAndWatch(ctx context.Context) error {
	if err := c.cc.Resume(ctx, c.name); err != nil {
		return err
	}
	if _, err := c.cc.WaitForState(ctx, c.name, connect.StateRunning, c.waitOpts()); err != nil {
		return err
	}
	if c.a.opts.RunningWatch <= 0 {
		return nil
	}
	if err := sleepCtx(ctx, c.a.opts.RunningWatch); err != nil {
		return err
	}
	_, err := c.cc.WaitForState(ctx, c.name, connect.StateRunning, c.waitOpts())
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
