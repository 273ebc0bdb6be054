package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// The hashes are SHA-256 over a canonical JSON view of the decoded values:
// maps with sorted keys, no source ranges, secrets by Source only. They are
// recorded by plan and state, so the views below change only on purpose:
// changing one changes every hash and makes applied operations plan again.

func computeHashes(c *Config) {
	for _, o := range c.Offsets {
		o.Hash = hashOf(offsetsOpView(o))
	}
	view := map[string]any{
		"settings":  settingsView(c.Settings),
		"connect":   byName(c.Connects, func(x *Connect) string { return x.Name }, connectView),
		"kafka":     byName(c.Kafkas, func(x *Kafka) string { return x.Name }, kafkaView),
		"database":  byName(c.Databases, func(x *Database) string { return x.Name }, func(x *Database) any { return secretView(x.URL) }),
		"connector": byName(c.Connectors, func(x *Connector) string { return x.Name }, connectorView),
		"offsets": byName(c.Offsets, func(x *Offsets) string { return x.Name }, func(o *Offsets) any {
			connector := ""
			if o.Connector != nil {
				connector = o.Connector.Name
			}
			v := map[string]any{
				"operation":              offsetsOpView(o),
				"connector":              connector,
				"reason":                 o.Reason,
				"allow_skip_records":     o.AllowSkipRecords,
				"acknowledge_resnapshot": o.AcknowledgeResnapshot,
			}
			if o.AcknowledgeCrossFormatCopy {
				// Only when given, so that the hashes of configurations
				// written before it existed do not change.
				v["acknowledge_cross_format_copy"] = true
			}
			if o.Tolerance != nil {
				v["tolerance"] = toleranceView(o.Tolerance)
			}
			if len(o.Acknowledge) > 0 {
				v["acknowledge"] = o.Acknowledge // only when given, as above
			}
			if o.AgreedWindow != nil {
				v["change_window"] = []time.Time{o.AgreedWindow.Start, o.AgreedWindow.End}
			}
			return v
		}),
		"reconcile": byName(c.Reconciles, func(x *Reconcile) string { return x.Name }, reconcileView),
	}
	if len(c.Policies) > 0 {
		// Only when there are policies, so that the hashes of
		// configurations without one do not change.
		view["policy"] = byName(c.Policies, func(x *Policy) string { return x.Name }, policyView)
	}
	c.Hash = hashOf(view)
}

func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps, strings, numbers, bools and RawMessages that came from
		// canonicalJSON are marshalled here; none can fail.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func byName[T any](list []T, name func(T) string, view func(T) any) map[string]any {
	out := make(map[string]any, len(list))
	for _, x := range list {
		out[name(x)] = view(x)
	}
	return out
}

func secretView(s Secret) any {
	if s.IsZero() {
		return nil
	}
	return map[string]string{"secret_from": s.Source()}
}

func tlsView(t *TLS) any {
	if t == nil {
		return nil
	}
	return map[string]any{"ca_file": t.CAFile, "cert_file": t.CertFile, "key_file": t.KeyFile, "insecure_skip_verify": t.InsecureSkipVerify}
}

func settingsView(s *Settings) any {
	v := map[string]any{"require_reason": s.RequireReason, "required_approvals": s.RequiredApprovals}
	if s.AllowedSigners != "" {
		v["allowed_signers"] = s.AllowedSigners
	}
	if s.PlanMaxAge > 0 {
		v["plan_max_age"] = s.PlanMaxAge.String()
	}
	if s.State != nil {
		v["state"] = map[string]any{"type": s.State.Type, "path": s.State.Path, "url": secretView(s.State.URL), "schema": s.State.Schema}
	}
	return v
}

func connectView(c *Connect) any {
	v := map[string]any{"url": c.URL, "token": secretView(c.Token), "tls": tlsView(c.TLS), "timeout": c.Timeout.String()}
	if c.BasicAuth != nil {
		v["basic_auth"] = map[string]any{"username": c.BasicAuth.Username, "password": secretView(c.BasicAuth.Password)}
	}
	headers := map[string]any{}
	for k, s := range c.Headers {
		headers[k] = secretView(s)
	}
	v["headers"] = headers
	return v
}

func kafkaView(k *Kafka) any {
	v := map[string]any{"brokers": k.Brokers, "offsets_topic": k.OffsetsTopic, "tls": tlsView(k.TLS)}
	if k.ConfigTopic != "" && k.ConfigTopic != DefaultConfigTopic {
		// Only when set: the hashes of configurations written before
		// config_topic existed stay what they were.
		v["config_topic"] = k.ConfigTopic
	}
	if k.SASL != nil {
		v["sasl"] = map[string]any{"mechanism": k.SASL.Mechanism, "username": k.SASL.Username, "password": secretView(k.SASL.Password)}
	}
	return v
}

func connectorView(c *Connector) any {
	v := map[string]any{"name": c.ConnectorName, "format": c.Format, "group": c.Group}
	if c.Connect != nil {
		v["connect"] = c.Connect.Name
	}
	if c.Kafka != nil {
		v["kafka"] = c.Kafka.Name
	}
	if c.SourceDatabase != nil {
		v["source_database"] = c.SourceDatabase.Name
	}
	return v
}

// connectorIdentity is what makes a connector the same connector across
// renames of its block: its Connect cluster's URL and its name there.
func connectorIdentity(c *Connector) any {
	if c == nil {
		return nil
	}
	url := ""
	if c.Connect != nil {
		url = c.Connect.URL
	}
	return map[string]string{"connect_url": url, "name": c.ConnectorName}
}

// offsetsOpView is what an offsets block does, for Offsets.Hash.
func offsetsOpView(o *Offsets) any {
	v := map[string]any{"kind": string(o.Kind), "connector": connectorIdentity(o.Connector)}
	switch o.Kind {
	case OpSinkPartitions:
		var parts []any
		for _, sp := range o.SinkPartitions {
			t := map[string]any{"kind": string(sp.Target.Kind)}
			switch sp.Target.Kind {
			case TargetOffset, TargetSkip:
				t["offset"] = sp.Target.Offset
			case TargetShift:
				t["shift"] = sp.Target.Shift
			case TargetTimestamp:
				t["timestamp"] = sp.Target.Timestamp.UTC().Format(time.RFC3339Nano)
			}
			parts = append(parts, map[string]any{"topic": sp.Topic, "partitions": sp.Partitions, "target": t})
		}
		v["sink_partitions"] = parts
	case OpSourcePartitions:
		var parts []any
		for _, sp := range o.SourcePartitions {
			parts = append(parts, map[string]any{"partition": sp.Partition, "offset": sp.Offset, "merge": sp.Merge})
		}
		v["source_partitions"] = parts
	case OpRestore:
		v["restore"] = o.Restore
	case OpCopyFrom:
		v["copy_from"] = connectorIdentity(o.CopyFrom)
	case OpReset:
		v["reset"] = o.Reset
	}
	return v
}

func reconcileView(r *Reconcile) any {
	v := map[string]any{
		"table": r.Table, "sink_table": r.SinkTable, "key": r.Key, "columns": r.Columns,
		"ignore_columns": r.IgnoreColumns, "timestamp_precision": r.TimestampPrecision,
		"where": r.Where, "repair": r.Repair, "delete_extra": r.DeleteExtra,
		"max_changes": r.MaxChanges, "signal_table": r.SignalTable, "reason": r.Reason,
	}
	if r.Source != nil {
		v["source"] = r.Source.Name
	}
	if r.Sink != nil {
		v["sink"] = r.Sink.Name
	}
	if r.By != nil {
		v["by"] = r.By.Unit + ":" + r.By.Column
	}
	return v
}
