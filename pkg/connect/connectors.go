package connect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

func checkName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("the connector name is empty")
	}
	return nil
}

// Root returns the worker's version, commit and Kafka cluster ID (GET /).
func (c *Client) Root(ctx context.Context) (ServerInfo, error) {
	var out ServerInfo
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/"}, &out)
	if err != nil {
		return ServerInfo{}, fmt.Errorf("reading the Kafka Connect worker version: %w", err)
	}
	return out, nil
}

// ListConnectors returns the names of all connectors, sorted.
func (c *Client) ListConnectors(ctx context.Context) ([]string, error) {
	var names []string
	if _, err := c.call(ctx, request{method: http.MethodGet, path: "/connectors"}, &names); err != nil {
		return nil, fmt.Errorf("listing connectors: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// ListConnectorsExpanded returns every connector with its status and info in
// one request (GET /connectors?expand=status&expand=info, Kafka Connect 2.3+).
// A connector whose status or info Connect could not find at that moment has
// the part nil, or is missing.
func (c *Client) ListConnectorsExpanded(ctx context.Context) (map[string]ConnectorOverview, error) {
	q := url.Values{"expand": {"status", "info"}} // repeated, never comma-joined
	out := map[string]ConnectorOverview{}
	if _, err := c.call(ctx, request{method: http.MethodGet, path: "/connectors", query: q}, &out); err != nil {
		return nil, fmt.Errorf("listing connectors with status and info: %w", err)
	}
	return out, nil
}

// Connector returns a connector's config, tasks and type
// (GET /connectors/{name}).
func (c *Client) Connector(ctx context.Context, name string) (ConnectorInfo, error) {
	if err := checkName(name); err != nil {
		return ConnectorInfo{}, err
	}
	var out ConnectorInfo
	if _, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("connectors", name)}, &out); err != nil {
		return ConnectorInfo{}, fmt.Errorf("reading connector %q: %w", name, err)
	}
	return out, nil
}

// Config returns a connector's stored configuration
// (GET /connectors/{name}/config).
func (c *Client) Config(ctx context.Context, name string) (map[string]string, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var out map[string]string
	if _, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("connectors", name, "config")}, &out); err != nil {
		return nil, fmt.Errorf("reading the config of connector %q: %w", name, err)
	}
	return out, nil
}

// PutConfig creates the connector or replaces its whole configuration
// (PUT /connectors/{name}/config). created is true when the connector did
// not exist (201). The target state (running, paused, stopped) is unchanged.
func (c *Client) PutConfig(ctx context.Context, name string, config map[string]string) (info ConnectorInfo, created bool, err error) {
	if err := checkName(name); err != nil {
		return ConnectorInfo{}, false, err
	}
	if config == nil {
		config = map[string]string{}
	}
	resp, err := c.call(ctx, request{method: http.MethodPut, path: pathOf("connectors", name, "config"), body: config,
		ok: []int{http.StatusOK, http.StatusCreated}}, &info)
	if err != nil {
		return ConnectorInfo{}, false, fmt.Errorf("writing the config of connector %q: %w", name, err)
	}
	return info, resp.status == http.StatusCreated, nil
}

// PatchConfig merges patch into a connector's configuration
// (PATCH /connectors/{name}/config, Kafka Connect 3.8+). A nil value removes
// the key.
func (c *Client) PatchConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error) {
	if err := checkName(name); err != nil {
		return ConnectorInfo{}, err
	}
	if len(patch) == 0 {
		return ConnectorInfo{}, fmt.Errorf("patching the config of connector %q: the patch is empty", name)
	}
	var out ConnectorInfo
	if _, err := c.call(ctx, request{method: http.MethodPatch, path: pathOf("connectors", name, "config"), body: patch}, &out); err != nil {
		return ConnectorInfo{}, fmt.Errorf("patching the config of connector %q: %w", name, err)
	}
	return out, nil
}

// Create creates a connector (POST /connectors). A taken name gives an error
// for which IsAlreadyExists is true; it is not retried.
func (c *Client) Create(ctx context.Context, req CreateRequest) (ConnectorInfo, error) {
	if err := checkName(req.Name); err != nil {
		return ConnectorInfo{}, err
	}
	switch req.InitialState {
	case "", StateRunning, StatePaused, StateStopped:
	default:
		return ConnectorInfo{}, fmt.Errorf("creating connector %q: initial state %q is not one of RUNNING, PAUSED, STOPPED", req.Name, req.InitialState)
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	var out ConnectorInfo
	if _, err := c.call(ctx, request{method: http.MethodPost, path: "/connectors", body: req,
		ok: []int{http.StatusCreated, http.StatusOK}}, &out); err != nil {
		return ConnectorInfo{}, fmt.Errorf("creating connector %q: %w", req.Name, err)
	}
	return out, nil
}

// Status returns the reported state of a connector and its tasks
// (GET /connectors/{name}/status). It lags the target state.
func (c *Client) Status(ctx context.Context, name string) (ConnectorStatus, error) {
	if err := checkName(name); err != nil {
		return ConnectorStatus{}, err
	}
	var out ConnectorStatus
	if _, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("connectors", name, "status")}, &out); err != nil {
		return ConnectorStatus{}, fmt.Errorf("reading the status of connector %q: %w", name, err)
	}
	return out, nil
}

// TaskStatus returns the reported state of one task
// (GET /connectors/{name}/tasks/{id}/status).
func (c *Client) TaskStatus(ctx context.Context, name string, task int) (TaskStatus, error) {
	if err := checkName(name); err != nil {
		return TaskStatus{}, err
	}
	var out TaskStatus
	p := pathOf("connectors", name, "tasks", strconv.Itoa(task), "status")
	if _, err := c.call(ctx, request{method: http.MethodGet, path: p}, &out); err != nil {
		return TaskStatus{}, fmt.Errorf("reading the status of task %d of connector %q: %w", task, name, err)
	}
	return out, nil
}

// Tasks returns the task configurations of a connector
// (GET /connectors/{name}/tasks). A stopped connector has none.
func (c *Client) Tasks(ctx context.Context, name string) ([]TaskInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var out []TaskInfo
	if _, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("connectors", name, "tasks")}, &out); err != nil {
		return nil, fmt.Errorf("reading the tasks of connector %q: %w", name, err)
	}
	return out, nil
}

// Pause sets the connector's target state to PAUSED
// (PUT /connectors/{name}/pause, 202). It returns before the tasks pause;
// use WaitForState. Offsets cannot be altered while paused: use Stop.
func (c *Client) Pause(ctx context.Context, name string) error {
	return c.action(ctx, http.MethodPut, name, "pause", "pausing")
}

// Resume sets the connector's target state to STARTED
// (PUT /connectors/{name}/resume, 202), from PAUSED or STOPPED. Tasks read
// their offsets when they start.
func (c *Client) Resume(ctx context.Context, name string) error {
	return c.action(ctx, http.MethodPut, name, "resume", "resuming")
}

// Stop shuts the connector's tasks down and sets its target state to STOPPED
// (PUT /connectors/{name}/stop, 204, Kafka Connect 3.5+). It returns when the
// state is written, not when tasks have stopped: use WaitForState with
// StateStopped before altering offsets.
func (c *Client) Stop(ctx context.Context, name string) error {
	return c.action(ctx, http.MethodPut, name, "stop", "stopping")
}

// Delete removes the connector (DELETE /connectors/{name}, 204). Its offsets
// are kept by Kafka Connect: a connector re-created with the same name
// resumes from them unless ResetOffsets ran before.
func (c *Client) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: pathOf("connectors", name)}); err != nil {
		return fmt.Errorf("deleting connector %q: %w", name, err)
	}
	return nil
}

func (c *Client) action(ctx context.Context, method, name, verb, doing string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := c.do(ctx, request{method: method, path: pathOf("connectors", name, verb)}); err != nil {
		return fmt.Errorf("%s connector %q: %w", doing, name, err)
	}
	return nil
}

// Restart restarts a connector (POST /connectors/{name}/restart). With both
// flags false only the Connector instance restarts and the status is nil
// (204). Otherwise (Kafka Connect 3.0+) the answer (202) is the status with
// the instances selected for restart shown as RESTARTING; the restart itself
// is asynchronous.
func (c *Client) Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*ConnectorStatus, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var q url.Values
	if includeTasks || onlyFailed {
		q = url.Values{"includeTasks": {strconv.FormatBool(includeTasks)}, "onlyFailed": {strconv.FormatBool(onlyFailed)}}
	}
	req := request{method: http.MethodPost, path: pathOf("connectors", name, "restart"), query: q}
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("restarting connector %q: %w", name, err)
	}
	if resp.status == http.StatusNoContent || len(strings.TrimSpace(string(resp.body))) == 0 {
		return nil, nil
	}
	var st ConnectorStatus
	if err := decode(resp.body, &st); err != nil {
		return nil, fmt.Errorf("restarting connector %q: %w", name, &DecodeError{Method: req.method,
			Path: req.shown(), Status: resp.status, Snippet: snippet(resp.body), Err: err})
	}
	return &st, nil
}

// RestartTask restarts one task (POST /connectors/{name}/tasks/{id}/restart,
// 204).
func (c *Client) RestartTask(ctx context.Context, name string, task int) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := pathOf("connectors", name, "tasks", strconv.Itoa(task), "restart")
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p}); err != nil {
		return fmt.Errorf("restarting task %d of connector %q: %w", task, name, err)
	}
	return nil
}

// Plugins returns the connector plugins installed on the worker
// (GET /connector-plugins).
func (c *Client) Plugins(ctx context.Context) ([]PluginInfo, error) {
	var out []PluginInfo
	if _, err := c.call(ctx, request{method: http.MethodGet, path: "/connector-plugins"}, &out); err != nil {
		return nil, fmt.Errorf("listing connector plugins: %w", err)
	}
	return out, nil
}
