package sandbox

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// restTimeout is RestServer.DEFAULT_REST_REQUEST_TIMEOUT_MS.
const restTimeout = 90 * time.Second

// call is one REST request as a handler sees it.
type call struct {
	ctx    context.Context
	s      *Sandbox
	w      *worker
	params []string // path parameters, in order
	query  url.Values
	body   []byte
	header http.Header
}

// reply is a handler's answer: a status, a JSON body (nil for none) and
// extra headers.
type reply struct {
	status   int
	body     any
	location string
}

type handlerFunc func(c *call) (reply, error)

// route is one path template and the methods it answers; "*" segments are
// path parameters ({connector}, {task}).
type route struct {
	segs    []string
	methods map[string]handlerFunc
}

// restHandler routes like Jersey does for Connect's resources: an unknown
// path is 404 "HTTP 404 Not Found", a known path with another method is 405
// "HTTP 405 Method Not Allowed", both through ConnectExceptionMapper's
// ErrorMessage body.
type restHandler struct {
	s      *Sandbox
	routes []route
}

func newRESTHandler(s *Sandbox) *restHandler {
	v := s.version
	h := &restHandler{s: s}
	add := func(path string, methods map[string]handlerFunc) {
		var segs []string
		if path != "" {
			segs = strings.Split(path, "/")
		}
		for m, f := range methods {
			if f == nil {
				delete(methods, m)
			}
		}
		h.routes = append(h.routes, route{segs: segs, methods: methods})
	}
	when := func(ok bool, f handlerFunc) handlerFunc {
		if ok {
			return f
		}
		return nil
	}
	add("", map[string]handlerFunc{"GET": handleRoot})
	add("connectors", map[string]handlerFunc{"GET": handleList, "POST": handleCreate})
	add("connectors/*", map[string]handlerFunc{"GET": handleInfo, "DELETE": handleDelete})
	add("connectors/*/config", map[string]handlerFunc{"GET": handleGetConfig, "PUT": handlePutConfig, "PATCH": when(v.hasPatchConfig(), handlePatchConfig)})
	add("connectors/*/tasks-config", map[string]handlerFunc{"GET": handleTasksConfig})
	add("connectors/*/status", map[string]handlerFunc{"GET": handleStatus})
	add("connectors/*/topics", map[string]handlerFunc{"GET": handleTopics})
	add("connectors/*/topics/reset", map[string]handlerFunc{"PUT": handleTopicsReset})
	add("connectors/*/restart", map[string]handlerFunc{"POST": handleRestart})
	if v.hasStop() {
		add("connectors/*/stop", map[string]handlerFunc{"PUT": handleStop})
	}
	add("connectors/*/pause", map[string]handlerFunc{"PUT": handlePause})
	add("connectors/*/resume", map[string]handlerFunc{"PUT": handleResume})
	add("connectors/*/tasks", map[string]handlerFunc{"GET": handleTasks})
	add("connectors/*/tasks/*/status", map[string]handlerFunc{"GET": handleTaskStatus})
	add("connectors/*/tasks/*/restart", map[string]handlerFunc{"POST": handleTaskRestart})
	if v.hasGetOffsets() {
		add("connectors/*/offsets", map[string]handlerFunc{
			"GET":    handleGetOffsets,
			"PATCH":  when(v.hasModifyOffsets(), handlePatchOffsets),
			"DELETE": when(v.hasModifyOffsets(), handleDeleteOffsets),
		})
	}
	add("connector-plugins", map[string]handlerFunc{"GET": handlePlugins})
	return h
}

func (h *restHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeError(rw, errorf(404, "HTTP 404 Not Found"))
		return
	}
	var rt *route
	var params []string
	for i := range h.routes {
		if p, ok := match(h.routes[i].segs, segs); ok {
			rt, params = &h.routes[i], p
			break
		}
	}
	if rt == nil {
		writeError(rw, errorf(404, "HTTP 404 Not Found"))
		return
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method == http.MethodOptions {
		rw.Header().Set("Allow", allowHeader(rt))
		rw.WriteHeader(http.StatusOK)
		return
	}
	f := rt.methods[method]
	if f == nil {
		writeError(rw, errorf(405, "HTTP 405 Method Not Allowed"))
		return
	}
	if method != http.MethodGet && method != http.MethodDelete {
		if ct := r.Header.Get("Content-Type"); ct != "" && !jsonMediaType(ct) {
			writeError(rw, errorf(415, "HTTP 415 Unsupported Media Type"))
			return
		}
	}
	if !acceptsJSON(r.Header.Values("Accept")) {
		writeError(rw, errorf(406, "HTTP 406 Not Acceptable"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		writeError(rw, errorf(500, "reading the request body: %v", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), restTimeout)
	defer cancel()
	c := &call{ctx: ctx, s: h.s, w: h.s.worker, params: params, query: r.URL.Query(), body: body, header: r.Header}
	rep, err := f(c)
	if err != nil {
		re, ok := err.(*restError)
		if !ok {
			m := err.Error()
			re = &restError{status: 500, msg: &m}
		}
		if ctx.Err() != nil && r.Context().Err() == nil {
			re = errorf(500, "Request timed out")
		}
		writeError(rw, re)
		return
	}
	if method != http.MethodGet {
		switch {
		case len(params) > 0:
			h.s.worker.publish(params[0])
		default:
			if info, ok := rep.body.(connectorInfo); ok {
				h.s.worker.publish(info.Name)
			}
		}
	}
	if rep.location != "" {
		rw.Header().Set("Location", rep.location)
	}
	if rep.body == nil {
		rw.WriteHeader(rep.status)
		return
	}
	b, err := marshal(rep.body)
	if err != nil {
		writeError(rw, errorf(500, "encoding the response: %v", err))
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		_, _ = rw.Write(b)
	}
}

func splitPath(escaped string) ([]string, bool) {
	p := strings.TrimPrefix(escaped, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, true
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || s == "" {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

func match(tpl, segs []string) ([]string, bool) {
	if len(tpl) != len(segs) {
		return nil, false
	}
	var params []string
	for i, t := range tpl {
		if t == "*" {
			params = append(params, segs[i])
		} else if t != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func allowHeader(rt *route) string {
	var ms []string
	for m := range rt.methods {
		ms = append(ms, m)
	}
	if rt.methods["GET"] != nil {
		ms = append(ms, "HEAD")
	}
	ms = append(ms, "OPTIONS")
	sort.Strings(ms)
	return strings.Join(ms, ",")
}

func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "*/*" || mt == "application/*")
}

func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt == "*/*" || mt == "application/*" || mt == "application/json" {
				return true
			}
		}
	}
	return false
}

// errorBody is Connect's ErrorMessage.
type errorBody struct {
	ErrorCode int     `json:"error_code"`
	Message   *string `json:"message"`
}

func writeError(rw http.ResponseWriter, e *restError) {
	b, _ := marshal(errorBody{ErrorCode: e.status, Message: e.msg})
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(e.status)
	_, _ = rw.Write(b)
}

// nullPointer is what a resource method answers when JAX-RS handed it a
// null entity (empty body or JSON null): a NullPointerException mapped to
// 500, whose message is the JDK's helpful one (Java 14+, on by default), e.g.
// `Cannot invoke "java.util.Map.get(Object)" because "connectorConfig" is
// null` — the texts below are the real worker's (Kafka 4.3 on Java 17).
func nullPointer(msg string) *restError { return &restError{status: 500, msg: &msg} }

// Helpful NullPointerException messages of the resource methods.
const (
	npeCreateRequest = `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest.name()" because "createRequest" is null`
	npeConfig        = `Cannot invoke "java.util.Map.get(Object)" because "connectorConfig" is null`
	npePatchConfig   = `Cannot invoke "java.util.Map.forEach(java.util.function.BiConsumer)" because "patch" is null`
	npeOffsets       = `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.ConnectorOffsets.offsets()" because "offsets" is null`
	npeOffsetElement = `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.ConnectorOffset.partition()" because "offset" is null`
)

// ---- handlers ----

func handleRoot(c *call) (reply, error) {
	v := c.s.version
	return reply{status: 200, body: struct {
		Version        string `json:"version"`
		Commit         string `json:"commit"`
		KafkaClusterID string `json:"kafka_cluster_id"`
	}{v.full, v.commit, c.s.clusterID}}, nil
}

func handleList(c *call) (reply, error) {
	names := c.w.names()
	expands, ok := c.query["expand"]
	if !ok {
		return reply{status: 200, body: names}, nil
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		m := map[string]any{}
		found := true
		for _, e := range expands {
			switch e {
			case "status":
				st, err := c.w.status(n)
				if err != nil {
					found = false
				}
				m["status"] = st
			case "info":
				info, err := c.w.info(n)
				if err != nil {
					found = false
				}
				m["info"] = info
			}
		}
		if found {
			out[n] = m
		}
	}
	return reply{status: 200, body: out}, nil
}

// stringish decodes a JSON value into a Java String as Jackson's coercion
// does (numbers and booleans become their text).
func stringish(n jnode, javaType string) (*string, error) {
	switch n.kind {
	case jNull:
		return nil, nil
	case jString, jNumber, jBool:
		s := n.javaString()
		if n.kind == jNumber {
			s = n.str
		}
		return &s, nil
	}
	return nil, errorf(500, "Cannot deserialize value of type `%s` from %s", javaType, n.jacksonToken())
}

// stringMap decodes a JSON object into a Map<String, String>; null values
// are kept as nil.
func stringMap(n jnode) (map[string]*string, error) {
	if n.kind != jObject {
		return nil, errorf(500, "Cannot deserialize value of type `java.util.LinkedHashMap<java.lang.String,java.lang.String>` from %s", n.jacksonToken())
	}
	out := map[string]*string{}
	for _, f := range n.obj {
		s, err := stringish(f.val, "java.lang.String")
		if err != nil {
			return nil, err
		}
		out[f.key] = s
	}
	return out, nil
}

func unrecognizedMsg(field, class string, known ...string) string {
	q := make([]string, len(known))
	for i, k := range known {
		q[i] = strconv.Quote(k)
	}
	count := fmt.Sprintf("%d known properties", len(known))
	if len(known) == 1 {
		count = "one known property"
	}
	return fmt.Sprintf("Unrecognized field %q (class org.apache.kafka.connect.runtime.rest.entities.%s), not marked as ignorable (%s: %s])",
		field, class, count, strings.Join(q, ", "))
}

func nonNull(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// checkName is ConnectorsResource.checkAndPutConnectorConfigName.
func checkName(name string, config map[string]string) error {
	if inc, ok := config["name"]; ok {
		if inc != name {
			return errorf(400, "Connector name configuration (%s) doesn't match connector name in the URL (%s)", inc, name)
		}
		return nil
	}
	config["name"] = name
	return nil
}

func (c *call) location(name string) string {
	return c.s.url + "/connectors/" + url.PathEscape(name)
}

func handleCreate(c *call) (reply, error) {
	body, err := parseBody(c.body)
	if err != nil {
		return reply{}, errorf(500, "%s", err.Error())
	}
	if body == nil {
		return reply{}, nullPointer(npeCreateRequest)
	}
	req := entities + "CreateConnectorRequest"
	loc := func(n jnode, field string) string {
		chain := ""
		if field != "" {
			chain = fmt.Sprintf("%s[%q]", req, field)
		}
		return jacksonLocation(c.s.version, c.body, n.pos, chain)
	}
	if body.kind != jObject {
		return reply{}, errorf(500, "%s%s", body.noCreator(req), loc(*body, ""))
	}
	known := []string{"name", "config"}
	if c.s.version.hasInitialState() {
		known = []string{"name", "config", "initial_state"}
	}
	var name string
	var config map[string]*string
	var initial *targetState
	for _, f := range body.obj {
		switch {
		case f.key == "name":
			s, err := stringish(f.val, "java.lang.String")
			if err != nil {
				return reply{}, errorf(500, "%s%s", *err.(*restError).msg, loc(f.val, f.key))
			}
			name = ""
			if s != nil {
				name = *s
			}
		case f.key == "config":
			config = nil
			if f.val.kind != jNull {
				if config, err = stringMap(f.val); err != nil {
					return reply{}, errorf(500, "%s%s", *err.(*restError).msg, loc(f.val, f.key))
				}
			}
		case f.key == "initial_state" && c.s.version.hasInitialState():
			initial = nil
			if f.val.kind == jNull {
				continue
			}
			s, err := stringish(f.val, req+"$InitialState")
			if err != nil {
				return reply{}, errorf(500, "%s%s", *err.(*restError).msg, loc(f.val, f.key))
			}
			var t targetState
			switch strings.ToUpper(*s) {
			case "RUNNING":
				t = targetStarted
			case "PAUSED":
				t = targetPaused
			case "STOPPED":
				t = targetStopped
			default:
				return reply{}, errorf(500, "Cannot construct instance of `%s$InitialState`, problem: No enum constant %s.InitialState.%s%s",
					req, req, strings.ToUpper(*s), loc(f.val, f.key))
			}
			initial = &t
		default:
			return reply{}, errorf(500, "%s%s", unrecognizedMsg(f.key, "CreateConnectorRequest", known...), loc(f.val, f.key))
		}
	}
	name = strings.TrimSpace(name)
	if config == nil {
		return reply{}, nullPointer(npeConfig)
	}
	cfg := nonNull(config)
	if err := checkName(name, cfg); err != nil {
		return reply{}, err
	}
	info, _, err := c.w.putConfig(c.ctx, name, cfg, initial, false)
	if err != nil {
		return reply{}, err
	}
	return reply{status: 201, body: info, location: c.location(name)}, nil
}

func handleInfo(c *call) (reply, error) {
	if err := c.w.checkRebalance(false); err != nil {
		return reply{}, err
	}
	info, err := c.w.info(c.params[0])
	return reply{status: 200, body: info}, err
}

func handleDelete(c *call) (reply, error) {
	return reply{status: 204}, c.w.remove(c.ctx, c.params[0])
}

func handleGetConfig(c *call) (reply, error) {
	cfg, err := c.w.config(c.params[0])
	return reply{status: 200, body: cfg}, err
}

func handlePutConfig(c *call) (reply, error) {
	name := c.params[0]
	body, err := parseBody(c.body)
	if err != nil {
		return reply{}, errorf(500, "%s", err.Error())
	}
	if body == nil {
		return reply{}, nullPointer(npeConfig)
	}
	m, err := stringMap(*body)
	if err != nil {
		return reply{}, err
	}
	cfg := nonNull(m)
	if err := checkName(name, cfg); err != nil {
		return reply{}, err
	}
	info, created, err := c.w.putConfig(c.ctx, name, cfg, nil, true)
	if err != nil {
		return reply{}, err
	}
	if created {
		return reply{status: 201, body: info, location: c.location(name)}, nil
	}
	return reply{status: 200, body: info}, nil
}

func handlePatchConfig(c *call) (reply, error) {
	name := c.params[0]
	body, err := parseBody(c.body)
	if err != nil {
		return reply{}, errorf(500, "%s", err.Error())
	}
	var patch map[string]*string
	if body != nil {
		if patch, err = stringMap(*body); err != nil {
			return reply{}, err
		}
	}
	if c.w.lookup(name) == nil {
		return reply{}, notFound("Connector %s not found", name)
	}
	if patch == nil {
		return reply{}, nullPointer(npePatchConfig)
	}
	info, err := c.w.patchConfig(c.ctx, name, patch)
	return reply{status: 200, body: info}, err
}

func handleTasksConfig(c *call) (reply, error) {
	if err := c.w.checkRebalance(false); err != nil {
		return reply{}, err
	}
	tasks, err := c.w.taskConfigs(c.params[0])
	if err != nil {
		return reply{}, err
	}
	out := map[string]map[string]string{}
	for _, t := range tasks {
		out[fmt.Sprintf("%s-%d", t.ID.Connector, t.ID.Task)] = t.Config
	}
	return reply{status: 200, body: out}, nil
}

func handleStatus(c *call) (reply, error) {
	st, err := c.w.status(c.params[0])
	return reply{status: 200, body: st}, err
}

func handleTopics(c *call) (reply, error) {
	name := c.params[0]
	topics := c.w.activeTopics(name)
	return reply{status: 200, body: map[string]any{name: map[string]any{"topics": topics}}}, nil
}

func handleTopicsReset(c *call) (reply, error) {
	return reply{status: 202}, nil
}

// queryBool is Jersey's Boolean.valueOf for a @QueryParam with a default.
func queryBool(q url.Values, key string) bool {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return false
	}
	return strings.EqualFold(v[0], "true")
}

func handleRestart(c *call) (reply, error) {
	includeTasks, onlyFailed := queryBool(c.query, "includeTasks"), queryBool(c.query, "onlyFailed")
	if !includeTasks && !onlyFailed {
		return reply{status: 204}, c.w.restartConnector(c.params[0])
	}
	st, err := c.w.restartConnectorAndTasks(c.ctx, c.params[0], includeTasks, onlyFailed)
	return reply{status: 202, body: st}, err
}

func handleStop(c *call) (reply, error) {
	return reply{status: 204}, c.w.stop(c.ctx, c.params[0])
}

func handlePause(c *call) (reply, error) {
	return reply{status: 202}, c.w.pause(c.ctx, c.params[0])
}

func handleResume(c *call) (reply, error) {
	return reply{status: 202}, c.w.resume(c.ctx, c.params[0])
}

func handleTasks(c *call) (reply, error) {
	if err := c.w.checkRebalance(false); err != nil {
		return reply{}, err
	}
	tasks, err := c.w.taskConfigs(c.params[0])
	return reply{status: 200, body: tasks}, err
}

// taskParam converts {task} as Jersey converts an Integer path parameter; a
// failure is a 404.
func taskParam(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, errorf(404, "HTTP 404 Not Found")
	}
	return int(n), nil
}

func handleTaskStatus(c *call) (reply, error) {
	id, err := taskParam(c.params[1])
	if err != nil {
		return reply{}, err
	}
	st, err := c.w.taskStatus(c.params[0], id)
	return reply{status: 200, body: st}, err
}

func handleTaskRestart(c *call) (reply, error) {
	id, err := taskParam(c.params[1])
	if err != nil {
		return reply{}, err
	}
	return reply{status: 204}, c.w.restartTask(c.ctx, c.params[0], id)
}

func handleGetOffsets(c *call) (reply, error) {
	out, err := c.w.offsets(c.ctx, c.params[0])
	return reply{status: 200, body: out}, err
}

const entities = "org.apache.kafka.connect.runtime.rest.entities."

func handlePatchOffsets(c *call) (reply, error) {
	body, err := parseBody(c.body)
	if err != nil {
		return reply{}, errorf(500, "%s", err.Error())
	}
	if body == nil {
		return reply{}, nullPointer(npeOffsets)
	}
	loc := func(n jnode, chain string) string { return jacksonLocation(c.s.version, c.body, n.pos, chain) }
	if body.kind != jObject {
		return reply{}, errorf(500, "%s%s", body.noCreator(entities+"ConnectorOffsets"), loc(*body, ""))
	}
	var list *jnode
	for _, f := range body.obj {
		if f.key != "offsets" {
			return reply{}, errorf(500, "%s%s", unrecognizedMsg(f.key, "ConnectorOffsets", "offsets"),
				loc(f.val, fmt.Sprintf("%sConnectorOffsets[%q]", entities, f.key)))
		}
		list = &f.val
	}
	var entries []offsetEntry
	var nullElement bool
	if list != nil && list.kind != jNull {
		if list.kind != jArray {
			return reply{}, errorf(500, "Cannot deserialize value of type `java.util.ArrayList<%sConnectorOffset>` from %s%s",
				entities, list.jacksonToken(), loc(*list, entities+`ConnectorOffsets["offsets"]`))
		}
		for i, el := range list.arr {
			chain := fmt.Sprintf(`%sConnectorOffsets["offsets"]->java.util.ArrayList[%d]`, entities, i)
			switch el.kind {
			case jNull:
				nullElement = true
				continue
			case jObject:
			default:
				return reply{}, errorf(500, "%s%s", el.noCreator(entities+"ConnectorOffset"), loc(el, chain))
			}
			var e offsetEntry
			for _, f := range el.obj {
				switch f.key {
				case "partition", "offset":
					var target **jnode = &e.partition
					if f.key == "offset" {
						target = &e.offset
					}
					switch f.val.kind {
					case jNull:
						*target = nil
					case jObject:
						*target = &f.val
					default:
						return reply{}, errorf(500, "Cannot deserialize value of type `java.util.LinkedHashMap<java.lang.String,java.lang.Object>` from %s%s",
							f.val.jacksonToken(), loc(f.val, fmt.Sprintf("%s->%sConnectorOffset[%q]", chain, entities, f.key)))
					}
				default:
					return reply{}, errorf(500, "%s%s", unrecognizedMsg(f.key, "ConnectorOffset", "partition", "offset"),
						loc(f.val, fmt.Sprintf("%s->%sConnectorOffset[%q]", chain, entities, f.key)))
				}
			}
			entries = append(entries, e)
		}
	}
	if list == nil || list.kind == jNull || len(list.arr) == 0 {
		return reply{}, errorf(400, "Partitions / offsets need to be provided for an alter offsets request")
	}
	if nullElement {
		return reply{}, nullPointer(npeOffsetElement)
	}
	msg, err := c.w.alterOffsets(c.ctx, c.params[0], entries)
	if err != nil {
		return reply{}, err
	}
	return reply{status: 200, body: map[string]string{"message": msg}}, nil
}

func handleDeleteOffsets(c *call) (reply, error) {
	msg, err := c.w.resetOffsets(c.ctx, c.params[0])
	if err != nil {
		return reply{}, err
	}
	return reply{status: 200, body: map[string]string{"message": msg}}, nil
}

type pluginInfo struct {
	Class   string        `json:"class"`
	Type    connectorType `json:"type"`
	Version string        `json:"version"`
}

func handlePlugins(c *call) (reply, error) {
	var out []pluginInfo
	for _, p := range knownPlugins() {
		if !p.listed {
			continue
		}
		v := p.version
		if v == "" {
			v = c.s.version.full
		}
		out = append(out, pluginInfo{Class: p.class, Type: p.typ, Version: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return reply{status: 200, body: out}, nil
}
