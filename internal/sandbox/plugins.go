package sandbox

import (
	"strings"
)

// Connector classes the emulator runs for real; every other class is inert.
const (
	// PostgresSourceClass is the Debezium PostgreSQL source connector class.
	PostgresSourceClass = "io.debezium.connector.postgresql.PostgresConnector"
	// JdbcSinkClass is the Debezium JDBC sink connector class.
	JdbcSinkClass = "io.debezium.connector.jdbc.JdbcSinkConnector"
)

type connectorType string

const (
	typeSource  connectorType = "source"
	typeSink    connectorType = "sink"
	typeUnknown connectorType = "unknown"
)

// plugin describes a connector class the worker knows.
type plugin struct {
	class     string
	typ       connectorType
	version   string
	taskClass string
	maxTasks  int // 0 = tasks.max decides
	listed    bool
	// altersOffsets: the connector overrides alterOffsets and returns true
	// (Kafka's file and MirrorMaker connectors), so the offsets endpoints
	// answer without the "framework-managed" caveat.
	altersOffsets bool
}

// knownPlugins are the classes the emulator lists in GET /connector-plugins
// and whose type it knows; the first two run pipeline tasks.
func knownPlugins() []plugin {
	return []plugin{
		{class: PostgresSourceClass, typ: typeSource, version: "2.7.3.Final", taskClass: "io.debezium.connector.postgresql.PostgresConnectorTask", maxTasks: 1, listed: true},
		{class: JdbcSinkClass, typ: typeSink, version: "2.7.3.Final", taskClass: "io.debezium.connector.jdbc.JdbcSinkConnectorTask", listed: true},
		{class: "io.debezium.connector.mysql.MySqlConnector", typ: typeSource, version: "2.7.3.Final", taskClass: "io.debezium.connector.mysql.MySqlConnectorTask", maxTasks: 1, listed: true},
		{class: "io.debezium.connector.sqlserver.SqlServerConnector", typ: typeSource, version: "2.7.3.Final", taskClass: "io.debezium.connector.sqlserver.SqlServerConnectorTask", listed: true},
		{class: "io.confluent.connect.jdbc.JdbcSinkConnector", typ: typeSink, version: "10.7.6", taskClass: "io.confluent.connect.jdbc.sink.JdbcSinkTask", listed: true},
		{class: "io.confluent.connect.jdbc.JdbcSourceConnector", typ: typeSource, version: "10.7.6", taskClass: "io.confluent.connect.jdbc.source.JdbcSourceTask", listed: true},
		{class: "org.apache.kafka.connect.mirror.MirrorSourceConnector", typ: typeSource, version: "", taskClass: "org.apache.kafka.connect.mirror.MirrorSourceTask", listed: true, altersOffsets: true},
		{class: "org.apache.kafka.connect.file.FileStreamSinkConnector", typ: typeSink, taskClass: "org.apache.kafka.connect.file.FileStreamSinkTask", altersOffsets: true},
		{class: "org.apache.kafka.connect.file.FileStreamSourceConnector", typ: typeSource, maxTasks: 1, taskClass: "org.apache.kafka.connect.file.FileStreamSourceTask", altersOffsets: true},
	}
}

// pluginFor resolves a connector.class (full name or simple name, as Connect
// accepts aliases). Unknown classes are inert: a sink when the config names
// topics, a source otherwise.
func pluginFor(class string, config map[string]string) plugin {
	for _, p := range knownPlugins() {
		if p.class == class || simpleName(p.class) == class || simpleName(p.class) == class+"Connector" && class != "" {
			return p
		}
	}
	typ := typeSource
	if config["topics"] != "" || config["topics.regex"] != "" {
		typ = typeSink
	}
	return plugin{class: class, typ: typ, taskClass: class + "Task"}
}

func simpleName(class string) string {
	if i := strings.LastIndexByte(class, '.'); i >= 0 {
		return class[i+1:]
	}
	return class
}
