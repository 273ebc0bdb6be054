package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sleep"
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
	blk     *config.Connector
	cc      *connect.Client
	caps    connect.Capabilities
	store   *offsets.Writer // the connector's offsets, by method
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
		c.group = offsets.SinkGroupID(c.name, blk.Group, nil)
	}
	if method == "" {
		_, method = offsets.Paths(typ == plan.Sink, true, caps.Supports(connect.FeatureAlterOffsets))
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
	// A source connector written through the offsets topic may keep its
	// offsets in a topic of its own (offsets.storage.topic): the store
	// writes where Kafka Connect reads. The plan's configuration hash,
	// checked before anything is written, makes sure it is the topic
	// planned.
	var connectorConfig map[string]string
	if typ == plan.Source && method == plan.MethodTopic {
		info, err := cc.Connector(ctx, c.name)
		if err != nil {
			return nil, fmt.Errorf("reading the configuration of %q for its offsets topic (offsets.storage.topic): %w", c.name, err)
		}
		connectorConfig = info.Config
	}
	loc := plan.OffsetsLocation(blk, &plan.ConnectorObservation{Type: typ, Group: c.group}, method, connectorConfig)
	c.store = offsets.NewWriter(loc, restWriter{plan.RESTOffsets(cc), cc}, c.kafka)
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
func (c *conn) settle(ctx context.Context, want []offsets.Position) ([]offsets.Position, error) {
	first, err := c.store.Read(ctx, want)
	if err != nil {
		return nil, err
	}
	if err := sleep.Ctx(ctx, c.a.opts.GracePeriod); err != nil {
		return nil, err
	}
	if c.typ == plan.Sink && c.blk.Kafka != nil {
		if err := c.waitNoMembers(ctx, want); err != nil {
			return nil, err
		}
	}
	second, err := c.store.Read(ctx, want)
	if err != nil {
		return nil, err
	}
	if moved := offsets.Differences(first, second); len(moved) > 0 {
		return nil, fmt.Errorf("a task of %q still commits offsets after the connector was stopped (a zombie task that outlived task.shutdown.graceful.timeout.ms): %s; nothing was written: restart the worker that runs it, then apply again",
			c.name, strings.Join(moved, "; "))
	}
	return second, nil
}

// waitNoMembers waits up to the grace period for the sink's consumer group
// to have no members.
func (c *conn) waitNoMembers(ctx context.Context, want []offsets.Position) error {
	deadline := time.Now().Add(c.a.opts.GracePeriod)
	for {
		members, err := c.store.Members(ctx, want)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (zombie sink tasks of %q are still consuming after the stop)", &offsets.GroupNotEmptyError{Group: c.group, Members: members}, c.name)
		}
		if err := sleep.Ctx(ctx, c.a.opts.PollInterval); err != nil {
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
	if err := sleep.Ctx(ctx, c.a.opts.RunningWatch); err != nil {
		return err
	}
	_, err := c.cc.WaitForState(ctx, c.name, connect.StateRunning, c.waitOpts())
	return err
}

// restWriter is the offset store's view of a Kafka Connect client when it
// writes: PATCH /connectors/{name}/offsets, and which errors leave a write's
// outcome unknown.
type restWriter struct {
	offsets.RESTReader
	cc *connect.Client
}

func (w restWriter) AlterOffsets(ctx context.Context, name string, body []offsets.RESTOffset) error {
	req := connect.ConnectorOffsets{Offsets: make([]connect.ConnectorOffset, 0, len(body))}
	for _, o := range body {
		req.Offsets = append(req.Offsets, connect.ConnectorOffset{Partition: o.Partition, Offset: o.Offset})
	}
	_, err := w.cc.AlterOffsets(ctx, name, req)
	return err
}

// OutcomeUnknown: the request may or may not have been acted upon (a
// Connect "request timed out" or a lost connection).
func (restWriter) OutcomeUnknown(err error) bool {
	var te *connect.TransportError
	return connect.IsRequestTimeout(err) || errors.As(err, &te)
}
