package sandbox

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Connector and task states as the status endpoints show them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
)

// targetState is what the config topic says a connector should be doing.
type targetState int

const (
	targetStarted targetState = iota
	targetPaused
	targetStopped
)

func (t targetState) String() string {
	switch t {
	case targetPaused:
		return "PAUSED"
	case targetStopped:
		return "STOPPED"
	}
	return "STARTED"
}

// stateFor is the status a healthy connector or task shows for a target state.
func stateFor(t targetState) string {
	switch t {
	case targetPaused:
		return StatePaused
	case targetStopped:
		return StateStopped
	}
	return StateRunning
}

// worker is the emulated herder plus worker: connector configs, target
// states, statuses and running tasks. opMu serialises operations the way the
// herder's tick thread does; mu guards the state and is the only lock task
// goroutines take.
type worker struct {
	sb       *Sandbox
	v        connectVersion
	workerID string
	store    *offsetStore
	adm      *kadm.Client
	logf     func(string, ...any)
	graceful time.Duration
	internal *kgo.Client // producer for the config and status topics

	opMu sync.Mutex

	mu          sync.Mutex
	conns       map[string]*conn
	rebalancing bool
	zombies     map[*taskRun]bool
	sinkFaults  map[string]*sinkFault // by connector name, survives re-creation
	zombieConns map[string]bool       // connectors whose tasks ignore stop requests

	ownMu     sync.Mutex
	ownStores map[string]*offsetStore // connectors' own offsets topics, by name
}

// conn is one connector.
type conn struct {
	name        string
	config      map[string]string
	plugin      plugin
	target      targetState
	taskConfigs []map[string]string // nil while stopped
	state       string
	trace       string
	unassigned  bool
	tasks       []*taskRun
}

// taskRun is one task instance.
type taskRun struct {
	w      *worker
	conn   string
	id     int
	config map[string]string
	impl   taskImpl // nil for inert tasks

	state string // guarded by w.mu
	trace string // guarded by w.mu

	paused atomic.Bool
	failed atomic.Bool // failed by a fault: no final commit
	cancel context.CancelFunc
	done   chan struct{}
}

// taskImpl is the work of a pipeline task. run returns nil after a clean
// stop (its context cancelled), or the error that failed the task. It checks
// t.paused between units of work.
type taskImpl interface {
	run(ctx context.Context, t *taskRun) error
}

// sinkFault holds the sink fault switches of one connector.
type sinkFault struct {
	dropEvery atomic.Int64
	seen      atomic.Int64
}

func newWorker(sb *Sandbox, v connectVersion, workerID string, store *offsetStore, adm *kadm.Client, logf func(string, ...any), graceful time.Duration) *worker {
	return &worker{
		sb: sb, v: v, workerID: workerID, store: store, adm: adm, logf: logf, graceful: graceful,
		conns: map[string]*conn{}, zombies: map[*taskRun]bool{}, sinkFaults: map[string]*sinkFault{}, zombieConns: map[string]bool{},
		ownStores: map[string]*offsetStore{},
	}
}

// ---- errors as the REST layer maps them ----

// restError is an answer with a status and an ErrorMessage body. A nil msg
// is written as "message": null, as Jackson does for an exception without
// one (a NullPointerException on an empty body).
type restError struct {
	status int
	msg    *string
}

func (e *restError) Error() string {
	if e.msg == nil {
		return strconv.Itoa(e.status)
	}
	return strconv.Itoa(e.status) + ": " + *e.msg
}

func errorf(status int, format string, args ...any) *restError {
	m := fmt.Sprintf(format, args...)
	return &restError{status: status, msg: &m}
}

func notFound(format string, args ...any) *restError { return errorf(404, format, args...) }

// lockConn takes w.mu and returns the named connector with it held. When
// there is none it releases w.mu and returns a 404 saying msg of the name:
// each endpoint of the real worker words it its own way.
func (w *worker) lockConn(name, msg string) (*conn, error) {
	w.mu.Lock()
	c := w.conns[name]
	if c == nil {
		w.mu.Unlock()
		return nil, notFound(msg, name)
	}
	return c, nil
}

const (
	msgRebalanceConflict = "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"
	msgRebalanceExpected = "Request cannot be completed because a rebalance is expected"
)

// checkRebalance is DistributedHerder.checkRebalanceNeeded as the REST layer
// shows it: 409 on the paths that forward to the leader
// (completeOrForwardRequest), 500 on plain reads (completeRequest).
func (w *worker) checkRebalance(forwarded bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.rebalancing {
		return nil
	}
	if forwarded {
		return errorf(409, "%s", msgRebalanceConflict)
	}
	return errorf(500, "%s", msgRebalanceExpected)
}

// ---- JSON shapes ----

type taskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []taskID          `json:"tasks"`
	Type   connectorType     `json:"type"`
}

type connectorStateJSON struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskStateJSON struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type connectorStatus struct {
	Name      string             `json:"name"`
	Connector connectorStateJSON `json:"connector"`
	Tasks     []taskStateJSON    `json:"tasks"`
	Type      connectorType      `json:"type"`
}

type taskInfo struct {
	ID     taskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// ---- reads ----

func (w *worker) names() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.conns))
	for n := range w.conns {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (w *worker) lookup(name string) *conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conns[name]
}

func copyConfig(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// infoLocked builds ConnectorInfo; w.mu is held.
func (w *worker) infoLocked(c *conn) connectorInfo {
	tasks := make([]taskID, len(c.taskConfigs))
	for i := range tasks {
		tasks[i] = taskID{Connector: c.name, Task: i}
	}
	return connectorInfo{Name: c.name, Config: copyConfig(c.config), Tasks: tasks, Type: c.plugin.typ}
}

func (w *worker) info(name string) (connectorInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return connectorInfo{}, notFound("Connector %s not found", name)
	}
	return w.infoLocked(c), nil
}

func (w *worker) config(name string) (map[string]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return nil, notFound("Connector %s not found", name)
	}
	return copyConfig(c.config), nil
}

func (w *worker) taskConfigs(name string) ([]taskInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return nil, notFound("Connector %s not found", name)
	}
	out := make([]taskInfo, len(c.taskConfigs))
	for i, tc := range c.taskConfigs {
		out[i] = taskInfo{ID: taskID{Connector: name, Task: i}, Config: copyConfig(tc)}
	}
	return out, nil
}

// statusLocked builds ConnectorStateInfo; w.mu is held.
func (w *worker) statusLocked(c *conn) connectorStatus {
	st := connectorStatus{Name: c.name, Type: c.plugin.typ, Tasks: []taskStateJSON{}}
	st.Connector = connectorStateJSON{State: c.state, WorkerID: w.workerID, Trace: c.trace}
	if c.unassigned {
		st.Connector = connectorStateJSON{State: StateUnassigned, WorkerID: w.workerID}
	}
	for _, t := range c.tasks {
		ts := taskStateJSON{ID: t.id, State: t.state, WorkerID: w.workerID, Trace: t.trace}
		if c.unassigned {
			ts = taskStateJSON{ID: t.id, State: StateUnassigned, WorkerID: w.workerID}
		}
		st.Tasks = append(st.Tasks, ts)
	}
	return st
}

func (w *worker) status(name string) (connectorStatus, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return connectorStatus{}, notFound("No status found for connector %s", name)
	}
	return w.statusLocked(c), nil
}

func (w *worker) taskStatus(name string, id int) (taskStateJSON, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil || id < 0 || id >= len(c.tasks) {
		return taskStateJSON{}, notFound("No status found for task %s-%d", name, id)
	}
	st := w.statusLocked(c)
	return st.Tasks[id], nil
}

// ---- config validation ----

// javaMapString renders a config map as java.util.Map.toString does, with
// password values hidden.
func javaMapString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if strings.Contains(strings.ToLower(k), "password") {
			v = "[hidden]"
		}
		parts[i] = k + "=" + v
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// validate checks a connector config the way AbstractHerder.validateConnectorConfig
// would reject it, for the checks the emulator knows.
func (w *worker) validate(config map[string]string) (plugin, error) {
	class, ok := config["connector.class"]
	if !ok || class == "" {
		return plugin{}, errorf(400, "Connector config %s contains no connector type", javaMapString(config))
	}
	p := pluginFor(class, config)
	var errs []string
	name := config["name"]
	if name == "" {
		errs = append(errs, "Invalid value  for configuration name: String may not be empty")
	} else if strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		errs = append(errs, fmt.Sprintf("Invalid value %s for configuration name: String may not contain control sequences", name))
	}
	if tm, ok := config["tasks.max"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(tm))
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("Invalid value %s for configuration tasks.max: Not a number of type INT", tm))
		case n < 1:
			errs = append(errs, fmt.Sprintf("Invalid value %d for configuration tasks.max: Value must be at least 1", n))
		}
	}
	if p.typ == typeSink {
		topics, regex := strings.TrimSpace(config["topics"]), strings.TrimSpace(config["topics.regex"])
		switch {
		case topics != "" && regex != "":
			errs = append(errs, "topics and topics.regex are mutually exclusive options, but both are set.")
		case topics == "" && regex == "":
			errs = append(errs, "Must configure one of topics or topics.regex")
		}
	}
	switch p.class {
	case PostgresSourceClass:
		for _, k := range []string{"topic.prefix", "database.hostname", "database.user", "database.dbname"} {
			if strings.TrimSpace(config[k]) == "" {
				errs = append(errs, fmt.Sprintf("The '%s' value is invalid: A value is required", k))
			}
		}
	case JdbcSinkClass:
		if strings.TrimSpace(config["connection.url"]) == "" {
			errs = append(errs, "The 'connection.url' value is invalid: A value is required")
		}
	}
	if len(errs) > 0 {
		return plugin{}, errorf(400, "Connector configuration is invalid and contains the following %d error(s):\n%s\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
			len(errs), strings.Join(errs, "\n"))
	}
	return p, nil
}

// generateTaskConfigs is Connector.taskConfigs plus what the worker adds.
func generateTaskConfigs(c *conn) []map[string]string {
	n := 1
	if tm, err := strconv.Atoi(strings.TrimSpace(c.config["tasks.max"])); err == nil && tm > 0 {
		n = tm
	}
	if c.plugin.maxTasks > 0 && n > c.plugin.maxTasks {
		n = c.plugin.maxTasks
	}
	out := make([]map[string]string, n)
	for i := range out {
		tc := copyConfig(c.config)
		tc["task.class"] = c.plugin.taskClass
		out[i] = tc
	}
	return out
}

// ---- lifecycle ----

// putConfig creates (or, with allowReplace, updates) a connector.
func (w *worker) putConfig(ctx context.Context, name string, config map[string]string, initial *targetState, allowReplace bool) (connectorInfo, bool, error) {
	p, err := w.validate(config)
	if err != nil {
		return connectorInfo{}, false, err
	}
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	c := w.conns[name]
	if c != nil && !allowReplace {
		w.mu.Unlock()
		return connectorInfo{}, false, errorf(409, "Connector %s already exists", name)
	}
	if c == nil {
		target := targetStarted
		if initial != nil {
			target = *initial
		}
		c = &conn{name: name, config: copyConfig(config), plugin: p, target: target, state: stateFor(target)}
		w.conns[name] = c
		info := w.infoLocked(c) // task configs are not written yet: "tasks": []
		w.mu.Unlock()
		w.logf("connector %s created (%s, %s)", name, p.class, target)
		// Task configs are generated only for a started connector
		// (DistributedHerder.startConnector): one created PAUSED or STOPPED
		// has no tasks until it is resumed.
		if target == targetStarted {
			w.startTasks(ctx, c)
		}
		return info, true, nil
	}
	old := c.tasks
	c.tasks = nil
	c.config = copyConfig(config)
	c.plugin = p
	c.state = stateFor(c.target)
	c.trace = ""
	w.mu.Unlock()
	w.stopTasks(ctx, old)
	if c.target != targetStopped {
		w.startTasks(ctx, c)
	}
	w.mu.Lock()
	info := w.infoLocked(c)
	w.mu.Unlock()
	w.logf("connector %s reconfigured", name)
	return info, false, nil
}

func (w *worker) patchConfig(ctx context.Context, name string, patch map[string]*string) (connectorInfo, error) {
	c, err := w.lockConn(name, "Connector %s not found")
	if err != nil {
		return connectorInfo{}, err
	}
	cfg := copyConfig(c.config)
	w.mu.Unlock()
	for k, v := range patch {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = *v
		}
	}
	info, _, err := w.putConfig(ctx, name, cfg, nil, true)
	return info, err
}

// startTasks writes fresh task configs and starts the tasks; opMu is held.
func (w *worker) startTasks(ctx context.Context, c *conn) {
	w.mu.Lock()
	c.taskConfigs = generateTaskConfigs(c)
	c.tasks = make([]*taskRun, len(c.taskConfigs))
	for i := range c.tasks {
		c.tasks[i] = w.newTaskLocked(c, i)
	}
	tasks := append([]*taskRun(nil), c.tasks...)
	w.mu.Unlock()
	for _, t := range tasks {
		w.launch(t)
	}
}

// newTaskLocked builds a task instance; w.mu is held.
func (w *worker) newTaskLocked(c *conn, id int) *taskRun {
	t := &taskRun{w: w, conn: c.name, id: id, config: copyConfig(c.taskConfigs[id]), state: stateFor(c.target), done: make(chan struct{})}
	t.paused.Store(c.target == targetPaused)
	switch c.plugin.class {
	case PostgresSourceClass:
		t.impl = &sourceTask{}
	case JdbcSinkClass:
		t.impl = &sinkTask{fault: w.sinkFaultLocked(c.name)}
	}
	return t
}

func (w *worker) sinkFaultLocked(name string) *sinkFault {
	f := w.sinkFaults[name]
	if f == nil {
		f = &sinkFault{}
		w.sinkFaults[name] = f
	}
	return f
}

// launch starts a task's goroutine (inert tasks have none).
func (w *worker) launch(t *taskRun) {
	if t.impl == nil {
		close(t.done)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go func() {
		defer close(t.done)
		err := t.impl.run(ctx, t)
		if err != nil && ctx.Err() == nil {
			w.failTask(t, err)
		}
	}()
}

// failTask marks a task FAILED with a Java-style trace.
func (w *worker) failTask(t *taskRun, err error) {
	defer w.publish(t.conn)
	w.mu.Lock()
	defer w.mu.Unlock()
	t.state = StateFailed
	t.trace = "org.apache.kafka.connect.errors.ConnectException: " + err.Error() +
		"\n\tat org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:...)\n"
	w.logf("task %s-%d failed: %v", t.conn, t.id, err)
}

// stopTasks asks tasks to stop and waits up to the graceful timeout for each;
// tasks of a connector with the zombie fault keep running. opMu is held.
func (w *worker) stopTasks(ctx context.Context, tasks []*taskRun) {
	var wait []*taskRun
	for _, t := range tasks {
		if t == nil || t.impl == nil {
			continue
		}
		w.mu.Lock()
		zombie := w.zombieConns[t.conn]
		if zombie {
			w.zombies[t] = true
		}
		w.mu.Unlock()
		if zombie {
			w.logf("task %s-%d ignores the request to stop (zombie fault)", t.conn, t.id)
			continue
		}
		t.cancel()
		wait = append(wait, t)
	}
	deadline := time.NewTimer(w.graceful)
	defer deadline.Stop()
	for _, t := range wait {
		select {
		case <-t.done:
		case <-deadline.C:
			w.logf("task %s-%d did not stop within %s; abandoning it", t.conn, t.id, w.graceful)
			return
		case <-ctx.Done():
			return
		}
	}
}

// pause writes the PAUSED target state; tasks stay, idle. A STOPPED
// connector stays without tasks (a real worker generates task configs only
// for a started connector), so its offsets can no longer be changed.
func (w *worker) pause(ctx context.Context, name string) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lockConn(name, "Unknown connector %s")
	if err != nil {
		return err
	}
	c.target = targetPaused
	if c.state != StateFailed {
		c.state = StatePaused
	}
	for _, t := range c.tasks {
		t.paused.Store(true)
		if t.state != StateFailed {
			t.state = StatePaused
		}
	}
	w.mu.Unlock()
	return nil
}

// resume writes the STARTED target state; from STOPPED (or from PAUSED
// without tasks: created PAUSED, or paused while STOPPED) the tasks are
// generated and started again.
func (w *worker) resume(ctx context.Context, name string) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lockConn(name, "Unknown connector %s")
	if err != nil {
		return err
	}
	was := c.target
	c.target = targetStarted
	if c.state != StateFailed {
		c.state = StateRunning
	}
	if was != targetStopped && len(c.taskConfigs) > 0 {
		for _, t := range c.tasks {
			t.paused.Store(false)
			if t.state != StateFailed {
				t.state = StateRunning
			}
		}
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	w.startTasks(ctx, c)
	return nil
}

// stop writes an empty task list and the STOPPED target state, and shuts
// the tasks down (a source task commits its offsets one last time).
func (w *worker) stop(ctx context.Context, name string) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lockConn(name, "Unknown connector %s")
	if err != nil {
		return err
	}
	tasks := c.tasks
	c.tasks, c.taskConfigs = nil, nil
	c.target = targetStopped
	c.state = StateStopped
	c.trace = ""
	w.mu.Unlock()
	w.stopTasks(ctx, tasks)
	w.logf("connector %s stopped", name)
	return nil
}

// remove deletes a connector; its offsets stay where they are.
func (w *worker) remove(ctx context.Context, name string) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lockConn(name, "Connector %s not found")
	if err != nil {
		return err
	}
	delete(w.conns, name)
	tasks := c.tasks
	w.mu.Unlock()
	w.stopTasks(ctx, tasks)
	w.logf("connector %s deleted", name)
	return nil
}

// restartConnector restarts the Connector instance only (legacy restart).
func (w *worker) restartConnector(name string) error {
	if err := w.checkRebalance(true); err != nil {
		return err
	}
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil {
		return notFound("Unknown connector: %s", name)
	}
	c.state, c.trace = stateFor(c.target), ""
	return nil
}

// restartConnectorAndTasks answers with the plan (instances to restart shown
// as RESTARTING) and carries it out.
func (w *worker) restartConnectorAndTasks(ctx context.Context, name string, includeTasks, onlyFailed bool) (connectorStatus, error) {
	if err := w.checkRebalance(true); err != nil {
		return connectorStatus{}, err
	}
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lockConn(name, "Unknown connector: %s")
	if err != nil {
		return connectorStatus{}, err
	}
	st := w.statusLocked(c)
	restartConn := !onlyFailed || st.Connector.State == StateFailed
	if restartConn {
		st.Connector = connectorStateJSON{State: StateRestarting, WorkerID: w.workerID}
		c.state, c.trace = stateFor(c.target), ""
	}
	var old []*taskRun
	for i, ts := range st.Tasks {
		if includeTasks && (!onlyFailed || ts.State == StateFailed) {
			st.Tasks[i] = taskStateJSON{ID: ts.ID, State: StateRestarting, WorkerID: w.workerID}
			old = append(old, c.tasks[i])
		}
	}
	w.mu.Unlock()
	for _, t := range old {
		w.restartTaskInstance(ctx, c, t.id)
	}
	return st, nil
}

// restartTask stops and starts one task.
func (w *worker) restartTask(ctx context.Context, name string, id int) error {
	if err := w.checkRebalance(true); err != nil {
		return err
	}
	w.opMu.Lock()
	defer w.opMu.Unlock()
	c, err := w.lockConn(name, "Unknown connector: %s")
	if err != nil {
		return err
	}
	if id < 0 || id >= len(c.taskConfigs) {
		w.mu.Unlock()
		return notFound("Unknown task: %s-%d", name, id)
	}
	w.mu.Unlock()
	w.restartTaskInstance(ctx, c, id)
	return nil
}

// restartTaskInstance replaces task id of c; opMu is held.
func (w *worker) restartTaskInstance(ctx context.Context, c *conn, id int) {
	w.mu.Lock()
	if id >= len(c.tasks) {
		w.mu.Unlock()
		return
	}
	old := c.tasks[id]
	w.mu.Unlock()
	w.stopTasks(ctx, []*taskRun{old})
	w.mu.Lock()
	if id >= len(c.tasks) || c.tasks[id] != old {
		w.mu.Unlock()
		return
	}
	t := w.newTaskLocked(c, id)
	c.tasks[id] = t
	w.mu.Unlock()
	w.launch(t)
}

// ---- shutdown ----

func (w *worker) shutdown(ctx context.Context) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	var tasks []*taskRun
	for _, c := range w.conns {
		tasks = append(tasks, c.tasks...)
	}
	for t := range w.zombies {
		tasks = append(tasks, t)
	}
	w.zombieConns = map[string]bool{}
	w.mu.Unlock()
	w.stopTasks(ctx, tasks)
}

// activeTopics approximates GET /connectors/{name}/topics from the config:
// the topics a pipeline source writes or a sink reads.
func (w *worker) activeTopics(name string) []string {
	cfg, p, _, _, ok := w.snapshot(name)
	out := []string{}
	if !ok {
		return out
	}
	switch {
	case p.class == PostgresSourceClass:
		for _, t := range splitList(cfg["table.include.list"]) {
			out = append(out, cfg["topic.prefix"]+"."+t)
		}
	case p.typ == typeSink:
		out = append(out, splitList(cfg["topics"])...)
	}
	sort.Strings(out)
	return out
}

// splitList splits a comma-separated config value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sourcePosition reports the emitted position of a running pipeline source.
func (w *worker) sourcePosition(name string) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[name]
	if c == nil || len(c.tasks) == 0 || c.tasks[0].state != StateRunning {
		return 0, false
	}
	st, ok := c.tasks[0].impl.(*sourceTask)
	if !ok {
		return 0, false
	}
	return st.pos.Load(), true
}
