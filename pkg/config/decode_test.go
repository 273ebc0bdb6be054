package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// TestDecodeOperations checks the decoded values of one of every kind of
// operation.
func TestDecodeOperations(t *testing.T) {
	cfg, diags := LoadFiles("testdata/valid", []string{"operations.hcl"}, Options{Getenv: testGetenv})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	ignore := cmpopts.IgnoreTypes(hcl.Range{}, map[string]hcl.Range{})

	sink := cfg.Operation("sink_targets")
	if sink.Kind != OpSinkPartitions || sink.Connector != cfg.Connector("orders_sink") || *sink.AllowSkipRecords != 5000 || sink.Reason != "INC-42: every sink target" {
		t.Errorf("sink_targets = %+v", sink)
	}
	topic := "dbserver1.public.orders"
	wantSink := []*SinkPartition{
		{Topic: topic, Partitions: []int32{0}, Target: SinkTarget{Kind: TargetOffset, Offset: 100}},
		{Topic: topic, Partitions: []int32{1}, Target: SinkTarget{Kind: TargetTimestamp, Timestamp: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}},
		{Topic: topic, Partitions: []int32{2}, Target: SinkTarget{Kind: TargetShift, Shift: -250}},
		{Topic: topic, Partitions: []int32{3}, Target: SinkTarget{Kind: TargetShift, Shift: 10}},
		{Topic: topic, Partitions: []int32{4, 5}, Target: SinkTarget{Kind: TargetEarliest}},
		{Topic: topic, Partitions: []int32{6}, Target: SinkTarget{Kind: TargetSkip, Offset: 99812}},
		{Topic: "other", Target: SinkTarget{Kind: TargetLatest}},
	}
	if d := cmp.Diff(wantSink, sink.SinkPartitions, ignore); d != "" {
		t.Errorf("sink partitions (-want +got):\n%s", d)
	}
	if sink.SinkPartitions[6].Partitions != nil {
		t.Error("a block without partitions must mean every partition (nil)")
	}
	if r := sink.SinkPartitions[0].Ranges["to_offset"]; r.Start.Line != 60 {
		t.Errorf("to_offset range = %v", r)
	}

	src := cfg.Operation("source_offsets")
	if src.Kind != OpSourcePartitions || !src.AcknowledgeResnapshot || len(src.SourcePartitions) != 2 {
		t.Fatalf("source_offsets = %+v", src)
	}
	if got := string(src.SourcePartitions[0].Offset); got != `{"lsn":97500059720,"lsn_commit":97500059720,"ts_usec":1795168800000000,"txId":649}` || !src.SourcePartitions[0].Merge {
		t.Errorf("offset = %s merge %v", got, src.SourcePartitions[0].Merge)
	}
	if p := src.SourcePartitions[1]; string(p.Partition) != `{"server":"dbserver2"}` || p.Offset != nil || p.Merge {
		t.Errorf("null offset = %+v", p)
	}

	if o := cfg.Operation("restore"); o.Kind != OpRestore || o.Restore != "backups/inventory.json" || cfg.Path(o.Restore) != "testdata/valid/backups/inventory.json" {
		t.Errorf("restore = %+v", o)
	}
	if o := cfg.Operation("move_cluster"); o.Kind != OpCopyFrom || o.CopyFrom != cfg.Connector("inventory_old") || o.CopyFrom.Connect.URL != "http://connect-old:8083" {
		t.Errorf("move_cluster = %+v", o)
	}
	if o := cfg.Operation("start_over"); o.Kind != OpReset || !o.Reset || !o.AcknowledgeResnapshot {
		t.Errorf("start_over = %+v", o)
	}

	inv := cfg.Connector("inventory")
	if inv.Connect != cfg.Connect("new") || inv.Kafka.OffsetsTopic != "connect-offsets-main" || inv.SourceDatabase != cfg.Database("source") || inv.Format != "debezium-postgres" || inv.ConnectorName != "inventory-postgres-source" {
		t.Errorf("inventory = %+v", inv)
	}
	if c := cfg.Connector("orders_sink"); c.Group != "orders-sink-group" || c.Format != "" || c.SourceDatabase != nil {
		t.Errorf("orders_sink = %+v", c)
	}

	wantRec := &Reconcile{
		Name: "orders", Source: cfg.Database("source"), Sink: cfg.Database("sink"),
		Table: "public.orders", SinkTable: "public.orders", Key: []string{"id"}, Columns: []string{"id", "status", "updated_at"},
		Repair: RepairSnapshotSignal, SignalTable: "public.debezium_signal", DeleteExtra: true,
		By: &PartitionSpec{Unit: "day", Column: "updated_at"}, Reason: "INC-42: sink missed rows",
	}
	if d := cmp.Diff(wantRec, cfg.ReconcileBlock("orders"), ignore, cmpopts.IgnoreUnexported(Secret{})); d != "" {
		t.Errorf("reconcile (-want +got):\n%s", d)
	}
	if r := cfg.ReconcileBlock("report_only"); r.Repair != RepairNone || r.SinkTable != "public.customers" || r.MaxChanges != 0 || r.By != nil {
		t.Errorf("report_only = %+v", r)
	}
	if !cfg.Settings.RequireReason || cfg.Settings.State != nil {
		t.Errorf("settings = %+v", cfg.Settings)
	}
}
