package plan

import (
	"time"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

func mustMap(s string) offsets.Map {
	m, err := offsets.ParseMap([]byte(s))
	if err != nil {
		panic(err)
	}
	return m
}

func ptr(m offsets.Map) *offsets.Map { return &m }

// fixturePlan is a plan with one change of every kind, for file tests.
func fixturePlan() *Plan {
	return &Plan{
		OffsetctlVersion: "0.1.0-test",
		CreatedAt:        time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC),
		ConfigHash:       "sha256:cfg",
		State:            StateRef{Lineage: "3f1c", Serial: 4},
		Timestamps: map[TimestampKey]int64{
			{Topic: "orders", Partition: 1, Millis: 1763632800000}: 42,
			{Topic: "orders", Partition: 0, Millis: 1763632800000}: 30,
		},
		Restores: map[string]*RestoreData{"backups/inventory.json": {
			Source: map[string][]SourceOffset{"inventory-postgres-source": {{Key: []byte(`["inventory-postgres-source",{"server":"dbserver1"}]`),
				Partition: mustMap(`{"server":"dbserver1"}`), Offset: mustMap(`{"lsn":36965000,"txId":640}`)}}},
			Sink: map[string][]SinkPartition{"orders-sink": {{Topic: "orders", Partition: 0, Committed: 5, LogStart: 0, LogEnd: 100}}},
		}},
		Connectors: []ConnectorObservation{{
			Address: "connector.inventory", Name: "inventory-postgres-source", Cluster: "prod", ConnectURL: "http://connect:8083",
			WorkerVersion: "3.8.0", Exists: true, Type: Source, Class: "io.debezium.connector.postgresql.PostgresConnector",
			Codec: "debezium-postgres", State: "RUNNING", TaskStates: []string{"RUNNING"}, ConfigHash: "sha256:c1",
			ReadVia: MethodREST, WriteVia: MethodREST,
			Source: []SourceOffset{{Key: []byte(`["inventory-postgres-source",{"server":"dbserver1"}]`),
				Partition: mustMap(`{"server":"dbserver1"}`), Offset: mustMap(`{"lsn":9223372036854775807,"txId":649}`)}},
		}},
		Operations: []Operation{{
			Address: "offsets.rewind_inventory", Name: "rewind_inventory", Kind: KindOffsets, Connector: "connector.inventory",
			Reason: "INC-1", BlockHash: "sha256:b1", Status: StatusChange, Method: MethodREST, AllowSkipRecords: -1,
			Changes: []Change{{Action: ActionUpdate, Source: &SourceChange{
				Partition: mustMap(`{"server":"dbserver1"}`),
				Before:    ptr(mustMap(`{"lsn":9223372036854775807,"txId":649}`)),
				After:     ptr(mustMap(`{"lsn":36965936,"txId":649}`)),
				Rollback:  ptr(mustMap(`{"lsn":9223372036854775807,"txId":649}`)),
			}}},
			Risks: []Risk{{Class: RiskReplay, Records: -1, Partitions: []RiskPartition{{Partition: `{"server":"dbserver1"}`, Records: -1}}}},
		}, {
			Address: "offsets.skip", Name: "skip", Kind: KindOffsets, Connector: "connector.sink", Status: StatusChange,
			Method: MethodGroup, AllowSkipRecords: 1,
			Changes: []Change{{Action: ActionUpdate, Sink: &SinkChange{Topic: "t", Partition: 3, Before: 99812, After: 99813, Rollback: 99812, LogStart: 0, LogEnd: 120000, Skips: 1}}},
			Risks:   []Risk{{Class: RiskSkip, Records: 1, Partitions: []RiskPartition{{Partition: "t[3]", Records: 1}}}},
		}},
		Checks: []Check{{Severity: SeverityWarning, Code: "slot", Operation: "offsets.rewind_inventory", Message: "below the slot"}},
		Policy: &PolicyResult{Policies: []string{"policy.platform"}, Approvals: 2, Because: []string{"policy.platform asks 2 for skip (offsets.skip)"}},
	}
}
