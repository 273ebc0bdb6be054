package connect

import "encoding/json"

// State is the state of a connector or task as shown by the status endpoints.
type State string

// States shown by Kafka Connect (AbstractStatus.State). STOPPED (3.5+) only
// applies to connectors; a stopped connector has no tasks.
const (
	StateRunning    State = "RUNNING"
	StatePaused     State = "PAUSED"
	StateStopped    State = "STOPPED"
	StateFailed     State = "FAILED"
	StateUnassigned State = "UNASSIGNED"
	StateRestarting State = "RESTARTING"
)

// ConnectorType is "source", "sink" or "unknown", as Connect writes it.
type ConnectorType string

// Connector types.
const (
	TypeSource  ConnectorType = "source"
	TypeSink    ConnectorType = "sink"
	TypeUnknown ConnectorType = "unknown"
)

// ServerInfo is the answer of GET / on a worker.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// TaskID names one task of a connector.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorInfo is the answer of GET /connectors/{name} (and of create and
// config updates). Config holds the raw stored values: config-provider
// placeholders are not resolved. A STOPPED connector has no Tasks.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   ConnectorType     `json:"type"`
}

// TaskInfo is one element of GET /connectors/{name}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// InstanceState is the reported state of a connector instance.
type InstanceState struct {
	State    State  `json:"state"`
	WorkerID string `json:"worker_id"`
	// Trace is the stack trace of a FAILED instance; empty otherwise.
	Trace string `json:"trace,omitempty"`
	// Version is the plugin version, reported by newer workers only.
	Version string `json:"version,omitempty"`
}

// TaskStatus is the reported state of one task.
type TaskStatus struct {
	ID       int    `json:"id"`
	State    State  `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
	Version  string `json:"version,omitempty"`
}

// ConnectorStatus is the answer of GET /connectors/{name}/status. It is read
// from the status topic and lags the target state written by pause, resume
// and stop. Tasks are sorted by ID.
type ConnectorStatus struct {
	Name      string        `json:"name"`
	Connector InstanceState `json:"connector"`
	Tasks     []TaskStatus  `json:"tasks"`
	Type      ConnectorType `json:"type"`
}

// ConnectorOverview is one value of GET /connectors?expand=status&expand=info.
// Either part is nil when Connect left it out (it omits what it cannot find
// at that moment).
type ConnectorOverview struct {
	Status *ConnectorStatus `json:"status,omitempty"`
	Info   *ConnectorInfo   `json:"info,omitempty"`
}

// PluginInfo is one element of GET /connector-plugins.
type PluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// CreateRequest is the body of POST /connectors.
type CreateRequest struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	// InitialState is RUNNING (the default when empty), PAUSED or STOPPED.
	// Kafka Connect 3.7 or later: check Capabilities.Require(
	// FeatureInitialState) first, because an older worker does not honour it
	// (it most likely refuses the unknown field with a 500; if it ignored
	// it, a connector meant to be STOPPED would start).
	InitialState State `json:"initial_state,omitempty"`
}

// ConnectorOffsets is the body of GET and PATCH /connectors/{name}/offsets.
type ConnectorOffsets struct {
	Offsets []ConnectorOffset `json:"offsets"`
}

// ConnectorOffset is one partition's offset. Both fields are the exact JSON
// bytes Connect sent (or that will be sent): they are never decoded here, so
// 64-bit integers and key order survive untouched. Partition is a JSON
// object; Offset is a JSON object, or "null" (or nil) to delete the
// partition's offset in AlterOffsets.
//
// Source connectors use the connector's own keys (Debezium PostgreSQL:
// partition {"server": …}, offset {"lsn": …, …}); sink connectors use
// partition {"kafka_topic", "kafka_partition"} and offset {"kafka_offset"}.
type ConnectorOffset struct {
	Partition json.RawMessage `json:"partition"`
	Offset    json.RawMessage `json:"offset"`
}
