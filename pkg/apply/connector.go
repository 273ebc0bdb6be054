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
	// halt is how the connector is kept from writing: stopped, or deleted
	// and re-created from saved (its exact configuration, recorded in the
	// state before the delete).
	halt  plan.Halt
	saved map[string]string
}

// newConn resolves the clients of a connector block and checks that the
// worker can stop it, or that halt deletes and re-creates it (and that it can
// alter offsets through REST when method says so).
func (a *Applier) newConn(ctx context.Context, blk *config.Connector, typ plan.ConnectorType, method plan.Method, group string, halt plan.Halt) (*conn, error) {
	cc, err := a.opts.Clients.Connect(blk.Connect)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", blk.Connect.Addr(), err)
	}
	caps, err := cc.Capabilities(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the version of %s: %w", blk.Connect.Addr(), err)
	}
	c := &conn{a: a, name: blk.ConnectorName, cluster: blk.Connect.Name, typ: typ, blk: blk, cc: cc, caps: caps, group: group, halt: halt}
	if c.group == "" && typ == plan.Sink {
		c.group = offsets.SinkGroupID(c.name, blk.Group, nil)
	}
	if method == "" {
		_, method = offsets.Paths(typ == plan.Sink, true, caps.Supports(connect.FeatureAlterOffsets))
	}
	c.method = method
	if !caps.Supports(connect.FeatureStop) && halt != plan.HaltDeleteRecreate {
		return nil, fmt.Errorf("%w: Kafka Connect %s at %s has no PUT /connectors/{name}/stop (Apache Kafka 3.5 or later), so offsetctl cannot make sure no task of %q writes offsets while it changes them; offsetctl refuses rather than race the tasks (deleting and re-creating the connector is the only safe path on such workers, and this plan does not ask for it: an offsets block asks for it with acknowledge = [%q]; to restore a backup file there, use an offsets block with restore = FILE)",
			ErrUnsupported, caps.Version, cc.URL(), c.name, config.AckDeleteRecreate)
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
	// planned. A connector deleted by an interrupted delete_recreate has
	// no configuration to read: recovery locates its offsets again from
	// the configuration saved in the state (locateOffsets).
	var connectorConfig map[string]string
	if typ == plan.Source && method == plan.MethodTopic {
		info, err := cc.Connector(ctx, c.name)
		switch {
		case err == nil:
			connectorConfig = info.Config
		case !connect.IsNotFound(err):
			return nil, fmt.Errorf("reading the configuration of %q for its offsets topic (offsets.storage.topic): %w", c.name, err)
		}
	}
	c.locateOffsets(connectorConfig)
	return c, nil
}

// locateOffsets points the connector's offset store where Kafka Connect
// keeps its offsets given its configuration (nil: the kafka block's
// offsets topic).
func (c *conn) locateOffsets(connectorConfig map[string]string) {
	loc := plan.OffsetsLocation(c.blk, &plan.ConnectorObservation{Type: c.typ, Group: c.group}, c.method, connectorConfig)
	c.store = offsets.NewWriter(loc, restWriter{plan.RESTOffsets(c.cc), c.cc}, c.kafka)
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

// stop stops the connector and waits until it shows STOPPED with no tasks
// (or, when it is deleted and re-created, deletes it and waits until it is
// gone). It reports whether it had to stop it.
func (c *conn) stop(ctx context.Context) (bool, error) {
	if c.halt == plan.HaltDeleteRecreate {
		return c.remove(ctx)
	}
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
// and returns the state it is left in plus a warning, if any. A deleted
// connector is re-created.
func (c *conn) restoreState(ctx context.Context, former string) (string, string, error) {
	if c.halt == plan.HaltDeleteRecreate {
		return c.recreate(ctx, former)
	}
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
	return c.watchRunning(ctx)
}

// watchRunning waits until every task of the connector runs, then watches
// it for Options.RunningWatch.
func (c *conn) watchRunning(ctx context.Context) error {
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

// exists reports whether the worker has the connector (GET /connectors/{name}).
func (c *conn) exists(ctx context.Context) (bool, error) {
	_, err := c.cc.Connector(ctx, c.name)
	switch {
	case err == nil:
		return true, nil
	case connect.IsNotFound(err):
		return false, nil
	}
	return false, err
}

// remove deletes the connector (its offsets stay in the offsets topic or
// its consumer group) and waits until the worker no longer has it; settle
// then waits for its tasks to finish. It reports whether it deleted it (false
// when it was gone already). The configuration must be saved before.
func (c *conn) remove(ctx context.Context) (bool, error) {
	ok, err := c.exists(ctx)
	if err != nil || !ok {
		return false, err
	}
	if c.saved == nil {
		return false, fmt.Errorf("connector %q: its configuration is not saved in the state, so offsetctl will not delete it (it could not re-create it)", c.name)
	}
	if err := c.cc.Delete(ctx, c.name); err != nil && !connect.IsNotFound(err) {
		return true, err
	}
	wctx := ctx
	if c.a.opts.WaitTimeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, c.a.opts.WaitTimeout)
		defer cancel()
	}
	for {
		ok, err := c.exists(wctx)
		if err == nil && !ok {
			return true, nil
		}
		if err != nil && wctx.Err() == nil {
			return true, err
		}
		if err := sleep.Ctx(wctx, c.a.opts.PollInterval); err != nil {
			return true, fmt.Errorf("connector %q is still listed after DELETE: %w", c.name, err)
		}
	}
}

// recreate creates the deleted connector again with its saved configuration,
// exactly as it was (POST /connectors), waits until its tasks run and
// watches it like a resume; a connector found PAUSED before is paused again
// (the plan refuses those: it would have run in between). A connector that
// exists already (re-created before a crash) is left as it is and waited
// for.
func (c *conn) recreate(ctx context.Context, former string) (string, string, error) {
	ok, err := c.exists(ctx)
	if err != nil {
		return "", "", err
	}
	if !ok {
		if c.saved == nil {
			return "", "", fmt.Errorf("connector %q is deleted and its configuration is not in the state: create it again by hand", c.name)
		}
		if _, err := c.cc.Create(ctx, connect.CreateRequest{Name: c.name, Config: c.saved}); err != nil && !connect.IsAlreadyExists(err) {
			return "", "", fmt.Errorf("re-creating connector %q with its saved configuration: %w", c.name, err)
		}
	}
	var warn string
	switch connect.State(former) {
	case connect.StatePaused:
		if err := c.cc.Pause(ctx, c.name); err != nil {
			return "", "", err
		}
		if _, err := c.cc.WaitForState(ctx, c.name, connect.StatePaused, c.waitOpts()); err != nil {
			return "", "", err
		}
		return string(connect.StatePaused), fmt.Sprintf("connector %q was PAUSED before; it was re-created (which starts it) and paused again", c.name), nil
	case connect.StateFailed:
		warn = fmt.Sprintf("connector %q was FAILED before this operation; re-created, it runs again (a worker older than 3.5 has no STOPPED state to leave it in)", c.name)
	}
	if err := c.watchRunning(ctx); err != nil {
		return "", warn, err
	}
	return string(connect.StateRunning), warn, nil
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
