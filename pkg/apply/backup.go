package apply

import (
	"time"

	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// backupContent is the offset backup journaled with each operation, in the
// one backup format (offsets.MarshalBackup, what offsetctl offsets backup
// writes): every offset the connector had when apply re-observed it, not
// only those the operation changes, so that the state can undo even a
// manual change made outside offsetctl. Offsets are exact; a source
// offset's key bytes are those read from the offsets topic, or built the
// Java way when it was read through REST (read position -1).
func backupContent(obs *plan.ConnectorObservation, now time.Time) ([]byte, error) {
	c := offsets.BackupConnector{Name: obs.Name, Type: string(obs.Type), Class: obs.Class, Group: obs.Group}
	for _, so := range obs.Source {
		key := so.Key
		if len(key) == 0 {
			key = offsets.EncodeKey(obs.Name, so.Partition.JavaOrder())
		}
		off := so.Offset
		c.Source = append(c.Source, offsets.BackupSourceOffset{Key: key, Connector: obs.Name, Partition: so.Partition, Offset: &off,
			TopicPartition: -1, TopicOffset: -1})
	}
	for _, sp := range obs.Sink {
		c.Sink = append(c.Sink, offsets.SinkOffset{Topic: sp.Topic, Partition: sp.Partition, Committed: sp.Committed, LogStart: sp.LogStart, LogEnd: sp.LogEnd})
	}
	return offsets.MarshalBackup(&offsets.Backup{TakenAt: now, ConnectClusterID: obs.ClusterID, Connectors: []offsets.BackupConnector{c}})
}
