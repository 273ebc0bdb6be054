package offsets

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets of this package. Each holds one property: a decoder
// returns an error or a value, never panics, and what it decodes encodes
// again to the same meaning. Plain `go test` runs their seed corpora (the
// goldens, the refusal files, and what a real Kafka Connect worker wrote);
// scripts/fuzz.sh runs each for longer.

// realRecords returns the key and value bytes of every offsets-topic record
// in the real-stack fixture, and the offsets of its REST answers.
func realRecords(f *testing.F) (keys, values [][]byte) {
	f.Helper()
	data, err := os.ReadFile(filepath.Join(realFixtures, "offsets-topic-source.json"))
	if err != nil {
		f.Fatalf("the real-stack fixture is missing: %v", err)
	}
	var fx struct {
		Records []struct {
			KeyBase64 string  `json:"key_base64"`
			ValueText *string `json:"value_text"`
		} `json:"records"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		f.Fatal(err)
	}
	for _, r := range fx.Records {
		key, err := base64.StdEncoding.DecodeString(r.KeyBase64)
		if err != nil {
			f.Fatal(err)
		}
		keys = append(keys, key)
		if r.ValueText != nil {
			values = append(values, []byte(*r.ValueText))
		}
	}
	for _, name := range []string{"connect-offsets-source.json", "sink-consumer-group.json"} {
		data, err := os.ReadFile(filepath.Join(realFixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		var doc struct {
			Body           *restOffsets `json:"body"`
			ConnectOffsets *restOffsets `json:"connect_offsets"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			f.Fatal(err)
		}
		for _, body := range []*restOffsets{doc.Body, doc.ConnectOffsets} {
			if body == nil {
				continue
			}
			for _, o := range body.Offsets {
				values = append(values, o.Partition, o.Offset)
			}
		}
	}
	return keys, values
}

type restOffsets struct {
	Offsets []struct {
		Partition json.RawMessage `json:"partition"`
		Offset    json.RawMessage `json:"offset"`
	} `json:"offsets"`
}

// FuzzOffsetsKey: offsets-topic key bytes decode to a connector and a
// partition or to an error; the fast reader agrees with DecodeKey; a decoded
// key encodes again to a key that decodes to the same connector and
// partition, byte-identical once encoded.
func FuzzOffsetsKey(f *testing.F) {
	keys, _ := realRecords(f)
	for _, k := range keys {
		f.Add(k)
	}
	for _, s := range []string{
		`["inventory-connector",{"server":"dbserver1","database":"testDB"}]`,
		` [ "a\u00e9\"" , { "n" : -1.5e3 , "b" : true , "z" : null } ] `,
		`["x",{}]`, `["x",{"a":[1]}]`, `["x",{"a":1},1]`, `["x"]`, `{}`, ``, `["\ud800",{}]`, "[\"\xff\",{}]",
		`["x",{"a":1,"a":2}]`, `["x",{"n":1e999}]`, `["x",{"n":-0}]`, `["x",{"n":01}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		name, p, err := DecodeKey(key)
		fname, fp, ferr := decodeKeyExact(key)
		if (err == nil) != (ferr == nil) || name != fname || !sameMap(p, fp) {
			t.Fatalf("key %q: DecodeKey = %q %s %v; the fast reader = %q %s %v", key, name, p, err, fname, fp, ferr)
		}
		if err != nil {
			return
		}
		again := EncodeKey(name, p)
		name2, p2, err := DecodeKey(again)
		if err != nil || name2 != name || !sameMap(p2, p) {
			t.Fatalf("key %q re-encoded as %q decodes to %q %s %v", key, again, name2, p2, err)
		}
		if third := EncodeKey(name2, p2); !bytes.Equal(third, again) {
			t.Fatalf("key %q: encoding is not stable: %q then %q", key, again, third)
		}
		_ = PartitionForKey(key, 25)
	})
}

// FuzzOffsetsValue: offsets-topic value bytes (and REST partition and
// offset objects) parse to a map or an error; the fast reader agrees with
// ParseMap; the map's JSON parses to the same map, field order and number
// literals kept.
func FuzzOffsetsValue(f *testing.F) {
	_, values := realRecords(f)
	for _, v := range values {
		f.Add(v)
	}
	for _, s := range []string{
		`{"lsn_proc":9007199254740993,"lsn":9007199254740993,"txId":812345,"ts_usec":1795168800123456,"messageType":"COMMIT","f":1.50}`,
		`{"commit_lsn":"0000002a:00000190:0003","change_lsn":null,"event_serial_no":1}`,
		`{"file":"mysql-bin.000003","pos":154,"gtids":"a:1-5","row":1,"event":2}`,
		`{"kafka_offset":"2"}`, `{"t":true,"f":false,"n":null}`, `{"a":"\u2028\/\\\b\f\n\r\t"}`, `{"a":{}}`, `{"a":[]}`, `{}`, `[]`, `null`, `{"a":1}x`,
		`{"a":1E+2,"b":-0.0e-0,"c":1e400}`, "{\"a\":\"\xed\xa0\x80\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMap(data)
		fm, ferr := parseMapExact(data)
		if (err == nil) != (ferr == nil) || !sameMap(m, fm) {
			t.Fatalf("value %q: ParseMap = %s %v; the fast reader = %s %v", data, m, err, fm, ferr)
		}
		if err != nil {
			return
		}
		again := m.JSON()
		m2, err := ParseMap(again)
		if err != nil || !sameMap(m2, m) {
			t.Fatalf("value %q re-encoded as %q parses to %s %v", data, again, m2, err)
		}
		if !bytes.Equal(m2.JSON(), again) {
			t.Fatalf("value %q: encoding is not stable: %q then %q", data, again, m2.JSON())
		}
		var viaJSON Map
		if err := json.Unmarshal(again, &viaJSON); err != nil || !sameMap(viaJSON, m) {
			t.Fatalf("value %q through encoding/json: %s %v", data, viaJSON, err)
		}
	})
}

// sameMap: the same fields in the same order with the same kinds and
// literals (Map.Equal ignores order).
func sameMap(a, b Map) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i, f := range a.Fields() {
		g := b.Fields()[i]
		if f.Key != g.Key || f.Value.Kind() != g.Value.Kind() || f.Value.Text() != g.Value.Text() {
			return false
		}
	}
	return true
}

// FuzzCodecs: every codec decodes, validates and explains any partition and
// offset (with or without a previous offset) without panicking, and the LSN
// parsers round-trip what they accept.
func FuzzCodecs(f *testing.F) {
	keys, values := realRecords(f)
	for i, k := range keys {
		_, p, err := DecodeKey(k)
		if err != nil {
			f.Fatal(err)
		}
		v := values[min(i, len(values)-1)]
		f.Add(p.JSON(), v, values[0], "0/2360E30")
	}
	for _, tc := range [][4]string{
		{`{"server":"dbserver1","database":"testDB"}`, `{"commit_lsn":"0000002a:00000190:0003","change_lsn":"NULL","event_serial_no":1}`, `{"commit_lsn":"0000002a:00000190:0002"}`, "0000002a:00000190:0003"},
		{`{"server":"mysql"}`, `{"file":"mysql-bin.000003","pos":154,"gtids":"a:1-5","row":1,"event":2,"snapshot":true}`, `{"file":"mysql-bin.000004","pos":4}`, "FFFFFFFF/FFFFFFFF"},
		{`{"protocol":"1","table":"public.t"}`, `{"incrementing":42,"timestamp":1700000000000,"timestamp_nanos":5}`, `{"incrementing":43}`, "0/0"},
		{`{"server":"shop"}`, `{"lsn":-1,"lsn_commit":"x","txId":1e3,"ts_usec":1.5,"snapshot":"INITIAL","last_snapshot_record":"yes"}`, `{}`, "0/"},
		{`{}`, `{}`, `{"lsn":9223372036854775807}`, "1/1/1"},
	} {
		f.Add([]byte(tc[0]), []byte(tc[1]), []byte(tc[2]), tc[3])
	}
	reg := NewRegistry()
	f.Fuzz(func(t *testing.T, partition, offset, previous []byte, lsn string) {
		if n, err := ParseLSN(lsn); err == nil {
			if back, err := ParseLSN(FormatLSN(n)); err != nil || back != n {
				t.Fatalf("LSN %q = %d; FormatLSN gives %q, which parses to %d %v", lsn, n, FormatLSN(n), back, err)
			}
		}
		if l, err := ParseSQLServerLSN(lsn); err == nil {
			if back, err := ParseSQLServerLSN(l.String()); err != nil || back != l || !strings.EqualFold(l.String(), lsn) {
				t.Fatalf("SQL Server LSN %q: String %q parses to %v %v", lsn, l.String(), back, err)
			}
		}
		p, err := ParseMap(partition)
		if err != nil {
			return
		}
		o, err := ParseMap(offset)
		if err != nil {
			return
		}
		var prev *Map
		if m, err := ParseMap(previous); err == nil {
			prev = &m
		}
		for _, name := range reg.Names() {
			c, _ := reg.Lookup(name)
			for _, field := range c.Decode(p, o) {
				_ = field.String()
			}
			if err := c.Validate(p, o, nil); err != nil {
				_ = err.Error()
			}
			if err := c.Validate(p, o, prev); err != nil {
				_ = err.Error()
			}
			_ = c.SafetyNotes(p, prev, &o)
			_ = c.SafetyNotes(p, nil, &o)
			_ = c.SafetyNotes(p, prev, nil)
		}
	})
}

// FuzzBackup: offsets backup file bytes decode to a backup or an error
// (tried as given, and with the checksum made to match so that the checks
// behind it are reached); a decoded backup writes again to bytes that
// decode to the same backup, and writing is stable.
func FuzzBackup(f *testing.F) {
	for _, pattern := range []string{"testdata/roundtrip/*.json", "testdata/refuse/*.json", "testdata/TestBackupMarshal/*.golden"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBackupRoundTrip(t, data)
		var w backupV1
		if json.Unmarshal(data, &w) != nil {
			return
		}
		sum, err := backupChecksum(&w)
		if err != nil {
			return
		}
		w.Checksum = sum
		rehashed, err := encodeJSON(&w, "  ")
		if err != nil {
			return
		}
		checkBackupRoundTrip(t, rehashed)
	})
}

func checkBackupRoundTrip(t *testing.T, data []byte) {
	t.Helper()
	b, err := UnmarshalBackup(data)
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%q: an empty error message", data)
		}
		return
	}
	out, err := MarshalBackup(b)
	if err != nil {
		t.Fatalf("backup %q decoded but does not encode again: %v", data, err)
	}
	b2, err := UnmarshalBackup(out)
	if err != nil {
		t.Fatalf("backup %q decoded, but its re-encoding %q is refused: %v", data, out, err)
	}
	out2, err := MarshalBackup(b2)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("backup %q: writing is not stable:\n%s\n---\n%s (%v)", data, out, out2, err)
	}
}
