package offsets

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/golden"
)

var goldens = golden.Flag()

// sampleBackup covers a source connector (Java-ordered multi-key
// partition, 64-bit numbers, a deleted partition, non-ASCII and HTML
// characters) and a sink connector.
func sampleBackup(t *testing.T) *Backup {
	t.Helper()
	pg := SourceBackup("pg-orders", "io.debezium.connector.postgresql.PostgresConnector", []Record{
		{Key: []byte(`["pg-orders",{"server":"shop"}]`), Connector: "pg-orders", Partition: mustMap(t, `{"server":"shop"}`),
			Offset:         mustMap(t, `{"lsn_proc":9007199254740993,"lsn":9007199254740993,"txId":812345,"ts_usec":1795168800123456,"messageType":"COMMIT","f":1.50}`),
			TopicPartition: 11, TopicOffset: 42},
		{Key: []byte(`["pg-orders",{"server":"<ünï&code>"}]`), Connector: "pg-orders", Partition: mustMap(t, `{"server":"<ünï&code>"}`),
			Tombstone: true, TopicPartition: 3, TopicOffset: 7},
	})
	ss := SourceBackup("inventory-connector", "io.debezium.connector.sqlserver.SqlServerConnector", []Record{
		{Key: []byte(`["inventory-connector",{"server":"dbserver1","database":"testDB"}]`), Connector: "inventory-connector",
			Partition: mustMap(t, `{"server":"dbserver1","database":"testDB"}`),
			Offset:    mustMap(t, `{"commit_lsn":"0000002a:00000190:0003","change_lsn":null,"event_serial_no":1}`), TopicPartition: 14, TopicOffset: 0},
	})
	sink := SinkBackup("jdbc-sink", "io.debezium.connector.jdbc.JdbcSinkConnector", &SinkGroup{Group: "connect-jdbc-sink", Offsets: []SinkOffset{
		{Topic: "shop.public.orders", Partition: 1, Committed: -1, LogStart: 0, LogEnd: 0},
		{Topic: "shop.public.orders", Partition: 0, Committed: 1500, LogStart: 10, LogEnd: 2000},
	}})
	return &Backup{
		OffsetctlVersion: "0.1.0-test",
		TakenAt:          time.Date(2026, 11, 20, 14, 30, 0, 123456789, time.FixedZone("CET", 3600)),
		ConnectClusterID: "kc-abc",
		OffsetsTopic:     "connect-offsets",
		Connectors:       []BackupConnector{sink, pg, ss},
	}
}

func TestBackupMarshal(t *testing.T) {
	data, err := MarshalBackup(sampleBackup(t))
	if err != nil {
		t.Fatal(err)
	}
	goldens.Assert(t, "backup.json", data)
	if !bytes.HasSuffix(data, []byte("}\n")) || bytes.Contains(data, []byte(`\u003c`)) {
		t.Fatal("not pretty JSON with raw characters and a trailing newline")
	}
}

// TestBackupRoundTrip reads every file under testdata/roundtrip and writes it
// again: the bytes must not change, and neither must the exact maps.
func TestBackupRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	if len(files) == 0 {
		t.Fatal("no round-trip files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := UnmarshalBackup(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := MarshalBackup(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, out) {
				t.Fatalf("round trip changed the file:\n%s", golden.Diff(string(in), string(out)))
			}
		})
	}
	b, err := UnmarshalBackup(mustMarshal(t, sampleBackup(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := sampleBackup(t).sorted()
	if !b.TakenAt.Equal(want.TakenAt) || b.TakenAt.Location() != time.UTC || len(b.Connectors) != 3 {
		t.Fatalf("read %+v", b)
	}
	pg := b.Connectors[2]
	if pg.Name != "pg-orders" || len(pg.Source) != 2 || pg.Source[0].Offset != nil ||
		pg.Source[1].Offset.String() != `{"lsn_proc":9007199254740993,"lsn":9007199254740993,"txId":812345,"ts_usec":1795168800123456,"messageType":"COMMIT","f":1.50}` {
		t.Fatalf("pg-orders = %+v", pg)
	}
	if b.Connectors[1].Sink[0].Partition != 0 || b.Connectors[1].Sink[0].Committed != 1500 {
		t.Fatalf("sink = %+v", b.Connectors[1])
	}
}

func mustMarshal(t *testing.T, b *Backup) []byte {
	t.Helper()
	data, err := MarshalBackup(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestBackupRefusals reads every file under testdata/refuse; the first line
// of its companion .want file is a substring of the expected error.
func TestBackupRefusals(t *testing.T) {
	files, _ := filepath.Glob("testdata/refuse/*.json")
	if len(files) < 8 {
		t.Fatalf("only %d refusal files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f, ".rehash.json") {
				data = rehash(t, data)
			}
			_, err = UnmarshalBackup(data)
			w := strings.TrimSpace(string(want))
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("ReadBackup = %v, want an error containing %q", err, w)
			}
		})
	}
	_, err := ReadBackup("testdata/refuse/future-version.json")
	if !errors.Is(err, ErrBackupVersion) {
		t.Errorf("future version: %v", err)
	}
	_, err = ReadBackup("testdata/refuse/edited-offset.json")
	if !errors.Is(err, ErrBackupChecksum) {
		t.Errorf("edited: %v", err)
	}
}

// rehash recomputes the checksum of an edited document, so that a refusal
// test reaches the content checks behind the checksum.
func rehash(t *testing.T, data []byte) []byte {
	t.Helper()
	var w backupV1
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	sum, err := backupChecksum(&w)
	if err != nil {
		t.Fatal(err)
	}
	w.Checksum = sum
	out, err := encodeJSON(&w, "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupRefusesInvalidContentOnWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(b *Backup)
		want string
	}{
		{"no time", func(b *Backup) { b.TakenAt = time.Time{} }, "taken_at is missing"},
		{"duplicate connector", func(b *Backup) { b.Connectors = append(b.Connectors, b.Connectors[0]) }, "appears twice"},
		{"bad type", func(b *Backup) { b.Connectors[0].Type = "both" }, `type "both"`},
		{"key of another connector", func(b *Backup) { b.Connectors[1].Source[0].Connector = "other" }, "belongs to connector"},
		{"key of another partition", func(b *Backup) {
			b.Connectors[1].Source[0].Partition = mustMap(t, `{"server":"elsewhere"}`)
		}, "holds partition"},
		{"sink without group", func(b *Backup) { b.Connectors[0].Group = "" }, "consumer group of a sink connector is missing"},
		{"half a read position", func(b *Backup) { b.Connectors[1].Source[0].TopicPartition = -1 }, "read position partition -1 offset 42 is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sampleBackup(t)
			tc.edit(b)
			_, err := MarshalBackup(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("MarshalBackup = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteBackupNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory-20261120T1430.json")
	if err := WriteBackup(path, sampleBackup(t)); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	other := sampleBackup(t)
	other.OffsetctlVersion = "other"
	err := WriteBackup(path, other)
	if !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("second write = %v", err)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) {
		t.Fatal("the existing backup changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	b, err := ReadBackup(path)
	if err != nil || b.OffsetctlVersion != "0.1.0-test" {
		t.Fatalf("ReadBackup = %+v %v", b, err)
	}
	if err := WriteBackup(filepath.Join(dir, "missing", "x.json"), sampleBackup(t)); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

// TestBackupOfOffsetsReadThroughREST: an offset not read from the offsets
// topic (apply's state backups of connectors read through REST) has read
// position -1/-1 and a key built the Java way; it round-trips.
func TestBackupOfOffsetsReadThroughREST(t *testing.T) {
	part := mustMap(t, `{"server":"dbserver1"}`)
	off := mustMap(t, `{"lsn":18446744073709551615,"txId":649}`)
	b := &Backup{TakenAt: time.Date(2026, 11, 21, 8, 0, 1, 0, time.UTC), Connectors: []BackupConnector{{
		Name: "inventory", Type: ConnectorTypeSource, Class: "io.debezium.connector.postgresql.PostgresConnector",
		Source: []BackupSourceOffset{{Key: EncodeKey("inventory", part.JavaOrder()), Connector: "inventory", Partition: part, Offset: &off, TopicPartition: -1, TopicOffset: -1}},
	}}}
	data, err := MarshalBackup(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalBackup(data)
	if err != nil {
		t.Fatal(err)
	}
	o := got.Connectors[0].Source[0]
	if o.TopicPartition != -1 || o.TopicOffset != -1 || !o.Offset.Equal(off) || string(o.Key) != `["inventory",{"server":"dbserver1"}]` {
		t.Fatalf("read back %+v", o)
	}
}
