package offsets

import (
	"errors"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if got := strings.Join(r.Names(), ","); got != "debezium-mysql,debezium-postgres,debezium-sqlserver,generic,jdbc-source" {
		t.Fatalf("names = %s", got)
	}
	for class, want := range map[string]string{
		"io.debezium.connector.postgresql.PostgresConnector": "debezium-postgres",
		"io.debezium.connector.mysql.MySqlConnector":         "debezium-mysql",
		"io.debezium.connector.mariadb.MariaDbConnector":     "debezium-mysql",
		"io.debezium.connector.sqlserver.SqlServerConnector": "debezium-sqlserver",
		"io.confluent.connect.jdbc.JdbcSourceConnector":      "jdbc-source",
		"com.example.UnknownConnector":                       "generic",
	} {
		c, err := r.Choose(class, "")
		if err != nil || c.Name() != want {
			t.Errorf("Choose(%s) = %v %v, want %s", class, c, err, want)
		}
	}
	if c, err := r.Choose("io.debezium.connector.postgresql.PostgresConnector", "generic"); err != nil || c.Name() != "generic" {
		t.Errorf("override = %v %v", c, err)
	}
	if _, err := r.Choose("x", "debezium-oracle"); err == nil || !strings.Contains(err.Error(), `unknown offset format "debezium-oracle": known formats are debezium-mysql`) {
		t.Errorf("unknown override = %v", err)
	}
	if err := r.Register(Generic{}); err == nil {
		t.Error("registering a name twice succeeded")
	}
}

func TestLSN(t *testing.T) {
	for _, tc := range []struct {
		text string
		n    uint64
	}{
		{"0/2360E30", 37097008},
		{"16/B374D848", 97500059720}, // reference §4.1
		{"0/16B3748", 23803720},      // reference §4.1
		{"0/0", 0},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1},
	} {
		n, err := ParseLSN(tc.text)
		if err != nil || n != tc.n {
			t.Errorf("ParseLSN(%s) = %d %v, want %d", tc.text, n, err, tc.n)
		}
		if got := FormatLSN(tc.n); got != tc.text {
			t.Errorf("FormatLSN(%d) = %s, want %s", tc.n, got, tc.text)
		}
	}
	if n, err := ParseLSN("16/b374d848"); err != nil || n != 97500059720 {
		t.Errorf("lower case: %d %v", n, err)
	}
	for _, bad := range []string{"", "0", "/1", "1/", "0/123456789", "g/1", "0/1/2", " 0/1"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) accepted", bad)
		}
	}
}

func TestSQLServerLSN(t *testing.T) {
	l, err := ParseSQLServerLSN("0000002a:00000190:0003")
	if err != nil || l.String() != "0000002a:00000190:0003" {
		t.Fatalf("%v %v", l, err)
	}
	m, _ := ParseSQLServerLSN("0000002A:00000191:0000")
	if l.Compare(m) >= 0 || m.String() != "0000002a:00000191:0000" {
		t.Fatalf("compare/normalise: %v %v", l, m)
	}
	for _, bad := range []string{"NULL", "2a:190:3", "0000002a:00000190", "0000002g:00000190:0003"} {
		if _, err := ParseSQLServerLSN(bad); err == nil {
			t.Errorf("ParseSQLServerLSN(%q) accepted", bad)
		}
	}
}

// codecCase is one row of the shared conformance table.
type codecCase struct {
	name      string
	partition string
	offset    string
	previous  string // "" for a new partition
	wantErr   string // substring; "" means valid
	wantCode  string // a Problem code the error must carry
}

var codecCases = map[string][]codecCase{
	"debezium-postgres": {
		{name: "streaming", partition: `{"server":"shop"}`, offset: `{"lsn_proc":30706280,"messageType":"INSERT","lsn":30706280,"txId":734,"ts_usec":1795678208165922}`},
		{name: "completed snapshot (real 3.6 record)", partition: `{"server":"shop"}`, offset: `{"last_snapshot_record":true,"lsn":30687112,"txId":731,"ts_usec":1795678206118734,"snapshot":"INITIAL","snapshot_completed":true}`},
		{name: "unknown keys kept", partition: `{"server":"shop"}`, offset: `{"lsn":1,"ts_usec":1,"transaction_id":"x","incremental_snapshot_primary_key":"aced"}`},
		{name: "ts_usec as string", partition: `{"server":"shop"}`, offset: `{"lsn":1,"ts_usec":"1718000000123456"}`, wantErr: `"ts_usec" must be an integer, got string`, wantCode: "type"},
		{name: "ts_usec decimal", partition: `{"server":"shop"}`, offset: `{"lsn":1,"ts_usec":1.5}`, wantErr: "Double", wantCode: "type"},
		{name: "ts_usec missing", partition: `{"server":"shop"}`, offset: `{"lsn":1}`, wantErr: `"ts_usec" is required`, wantCode: "missing"},
		{name: "no lsn", partition: `{"server":"shop"}`, offset: `{"txId":1,"ts_usec":1}`, wantErr: `"lsn" (or "lsn_proc") is required`, wantCode: "missing"},
		{name: "negative lsn", partition: `{"server":"shop"}`, offset: `{"lsn":-1,"ts_usec":1}`, wantErr: "at least 0", wantCode: "range"},
		{name: "lsn beyond long", partition: `{"server":"shop"}`, offset: `{"lsn":18446744073709551615,"ts_usec":1}`, wantErr: "does not fit", wantCode: "range"},
		{name: "partition missing server", partition: `{"srv":"shop"}`, offset: `{"lsn":1,"ts_usec":1}`, wantErr: `partition: "server" is required`, wantCode: "missing"},
		{name: "partition extra key", partition: `{"server":"shop","database":"x"}`, offset: `{"lsn":1,"ts_usec":1}`, wantErr: `unexpected key "database"`, wantCode: "shape"},
		{name: "snapshot in progress (3.1+)", partition: `{"server":"shop"}`, offset: `{"lsn":1,"ts_usec":1,"snapshot":"INITIAL","snapshot_completed":false}`, wantErr: "snapshot in progress", wantCode: "snapshot-in-progress"},
		{name: "snapshot in progress (<=3.0)", partition: `{"server":"shop"}`, offset: `{"lsn":1,"ts_usec":1,"snapshot":true,"last_snapshot_record":false}`, wantErr: "must not be hand-crafted", wantCode: "snapshot-in-progress"},
		{name: "snapshot offset restored unchanged", partition: `{"server":"shop"}`, offset: `{"lsn":1,"ts_usec":1,"snapshot":true}`, previous: `{"lsn":1,"ts_usec":1,"snapshot":true}`},
		{name: "moved coherently", partition: `{"server":"shop"}`, offset: `{"lsn":200,"lsn_proc":200,"lsn_commit":200,"ts_usec":1}`, previous: `{"lsn":100,"lsn_proc":90,"lsn_commit":80,"ts_usec":1}`},
		{name: "moved incoherently", partition: `{"server":"shop"}`, offset: `{"lsn":200,"lsn_proc":100,"lsn_commit":100,"ts_usec":1}`, previous: `{"lsn":100,"lsn_proc":100,"lsn_commit":100,"ts_usec":1}`, wantErr: "lsn=0/C8, lsn_proc=0/64, lsn_commit=0/64", wantCode: "inconsistent"},
		{name: "moved with stale events counter", partition: `{"server":"shop"}`, offset: `{"lsn":200,"lsn_proc":200,"ts_usec":1,"lsn_events_processed":3}`, previous: `{"lsn":100,"lsn_proc":100,"ts_usec":1,"lsn_events_processed":3}`, wantErr: "remove it when the position moves", wantCode: "stale-counter"},
	},
	"debezium-mysql": {
		{name: "streaming", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":154,"row":1,"event":2,"ts_sec":1718000000,"server_id":223344}`},
		{name: "gtids and numeric strings", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":"154","gtids":"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}`},
		{name: "file missing", partition: `{"server":"shop"}`, offset: `{"pos":154}`, wantErr: `"file" is required: Debezium fails at start`, wantCode: "missing"},
		{name: "file empty", partition: `{"server":"shop"}`, offset: `{"file":"","pos":154}`, wantErr: "must not be empty", wantCode: "range"},
		{name: "file is a path", partition: `{"server":"shop"}`, offset: `{"file":"/var/lib/mysql/mysql-bin.000003","pos":154}`, wantErr: "not a path", wantCode: "format"},
		{name: "pos missing", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003"}`, wantErr: `"pos" is required`, wantCode: "missing"},
		{name: "pos not a number", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":"abc"}`, wantErr: "or a string holding one", wantCode: "type"},
		{name: "snapshot in progress", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":154,"snapshot":true}`, wantErr: "snapshot in progress", wantCode: "snapshot-in-progress"},
		{name: "pos moved, counters kept", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":900,"event":2,"row":1}`, previous: `{"file":"mysql-bin.000003","pos":154,"event":2,"row":1}`, wantErr: `"event" = 2 counts what was already emitted`, wantCode: "stale-counter"},
		{name: "pos moved, counters reset", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":900}`, previous: `{"file":"mysql-bin.000003","pos":154,"event":2,"row":1}`},
		{name: "same pos, counters changed", partition: `{"server":"shop"}`, offset: `{"file":"mysql-bin.000003","pos":154,"event":3}`, previous: `{"file":"mysql-bin.000003","pos":154,"event":2}`},
	},
	"debezium-sqlserver": {
		{name: "streaming", partition: `{"server":"dbserver1","database":"testDB"}`, offset: `{"commit_lsn":"0000002a:00000190:0003","change_lsn":"0000002a:00000188:0002","event_serial_no":1}`},
		{name: "change_lsn NULL", partition: `{"server":"dbserver1","database":"testDB"}`, offset: `{"commit_lsn":"0000002a:00000190:0003","change_lsn":"NULL"}`},
		{name: "legacy partition kept", partition: `{"server":"dbserver1"}`, offset: `{"commit_lsn":"0000002a:00000190:0003"}`, previous: `{"commit_lsn":"0000002a:00000190:0003"}`},
		{name: "legacy partition for a new one", partition: `{"server":"dbserver1"}`, offset: `{"commit_lsn":"0000002a:00000190:0003"}`, wantErr: `partition: "database" is required`, wantCode: "missing"},
		{name: "commit_lsn missing", partition: `{"server":"s","database":"d"}`, offset: `{"event_serial_no":1}`, wantErr: `"commit_lsn" is required`, wantCode: "missing"},
		{name: "commit_lsn malformed", partition: `{"server":"s","database":"d"}`, offset: `{"commit_lsn":"2a:190:3"}`, wantErr: "xxxxxxxx:xxxxxxxx:xxxx", wantCode: "format"},
		{name: "commit_lsn number", partition: `{"server":"s","database":"d"}`, offset: `{"commit_lsn":42}`, wantErr: "must be a string", wantCode: "type"},
		{name: "event_serial_no string", partition: `{"server":"s","database":"d"}`, offset: `{"commit_lsn":"0000002a:00000190:0003","event_serial_no":"1"}`, wantErr: `"event_serial_no" must be an integer`, wantCode: "type"},
		{name: "change above commit", partition: `{"server":"s","database":"d"}`, offset: `{"commit_lsn":"0000002a:00000190:0003","change_lsn":"0000002b:00000000:0000"}`, wantErr: "above commit_lsn", wantCode: "inconsistent"},
	},
	"jdbc-source": {
		{name: "timestamp+incrementing", partition: `{"protocol":"1","table":"shop.public.orders"}`, offset: `{"timestamp_nanos":123456789,"incrementing":42,"timestamp":1718000000123}`},
		{name: "legacy table", partition: `{"table":"orders"}`, offset: `{"incrementing":42}`},
		{name: "query mode", partition: `{"query":"query"}`, offset: `{"timestamp":1718000000000}`},
		{name: "nothing", partition: `{"table":"orders"}`, offset: `{}`, wantErr: `"incrementing" or "timestamp"`, wantCode: "missing"},
		{name: "incrementing string", partition: `{"table":"orders"}`, offset: `{"incrementing":"42"}`, wantErr: "must be an integer", wantCode: "type"},
		{name: "nanos without timestamp", partition: `{"table":"orders"}`, offset: `{"incrementing":1,"timestamp_nanos":5}`, wantErr: "needs \"timestamp\"", wantCode: "missing"},
		{name: "nanos too big", partition: `{"table":"orders"}`, offset: `{"timestamp":1718000000000,"timestamp_nanos":1000000000}`, wantErr: "below 1,000,000,000", wantCode: "range"},
		{name: "nanos disagree", partition: `{"table":"orders"}`, offset: `{"timestamp":1718000000123,"timestamp_nanos":456000000}`, wantErr: "they disagree", wantCode: "inconsistent"},
		{name: "table and query", partition: `{"table":"orders","query":"q"}`, offset: `{"incrementing":1}`, wantErr: "not both", wantCode: "shape"},
	},
	"generic": {
		{name: "anything flat", partition: `{"a":1}`, offset: `{"b":"x","c":null,"d":true,"e":1.5}`},
		{name: "empty", partition: `{}`, offset: `{}`},
	},
}

// TestCodecConformance runs the shared table against every codec, plus the
// rules every codec must keep: every key shown exactly once, no change to
// the maps, never a panic on wrong types, and a *ValidationError naming a
// problem code.
func TestCodecConformance(t *testing.T) {
	r := NewRegistry()
	for _, name := range r.Names() {
		c, _ := r.Lookup(name)
		cases, ok := codecCases[name]
		if !ok {
			t.Errorf("codec %s has no conformance cases", name)
			continue
		}
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				part, off := mustMap(t, tc.partition), mustMap(t, tc.offset)
				partBefore, offBefore := part.String(), off.String()
				var prev *Map
				if tc.previous != "" {
					prev = ptr(mustMap(t, tc.previous))
				}
				err := c.Validate(part, off, prev)
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("Validate = %v, want valid", err)
				case tc.wantErr != "":
					var ve *ValidationError
					if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.wantErr) || !ve.Has(tc.wantCode) {
						t.Fatalf("Validate = %v, want a %q problem containing %q", err, tc.wantCode, tc.wantErr)
					}
					if !strings.HasPrefix(err.Error(), "invalid "+name+" offset: ") {
						t.Fatalf("error does not name the format: %v", err)
					}
				}
				fields := c.Decode(part, off)
				count := map[string]int{}
				for _, f := range fields {
					if f.Partition {
						count["p:"+f.Key]++
					} else {
						count["o:"+f.Key]++
					}
					if f.Text == "" {
						t.Errorf("field %s has no text", f.Key)
					}
				}
				for _, k := range part.Keys() {
					if count["p:"+k] != 1 {
						t.Errorf("partition key %s shown %d times", k, count["p:"+k])
					}
				}
				for _, k := range off.Keys() {
					if count["o:"+k] != 1 {
						t.Errorf("offset key %s shown %d times", k, count["o:"+k])
					}
				}
				if len(fields) != part.Len()+off.Len() {
					t.Errorf("Decode shows %d fields for %d keys", len(fields), part.Len()+off.Len())
				}
				_ = c.SafetyNotes(part, prev, &off)
				_ = c.SafetyNotes(part, prev, nil)
				if part.String() != partBefore || off.String() != offBefore {
					t.Error("the codec changed its input")
				}
			})
		}
		// Wrong types everywhere: no panic, and Decode shows every key.
		for _, v := range []Value{Null(), Bool(true), String("x"), Int(-5), mustNumber(t, "1e400"), mustNumber(t, "99999999999999999999")} {
			var fields []Field
			for _, k := range []string{"lsn", "lsn_proc", "lsn_commit", "ts_usec", "file", "pos", "event", "row", "gtids", "commit_lsn", "change_lsn", "event_serial_no", "incrementing", "timestamp", "timestamp_nanos", "snapshot", "txId"} {
				fields = append(fields, Field{k, v})
			}
			m := NewMap(fields...)
			_ = c.Validate(m, m, &m)
			if got := len(c.Decode(m, m)); got != 2*m.Len() {
				t.Errorf("%s: Decode of wrong types shows %d fields, want %d", name, got, 2*m.Len())
			}
			_ = c.SafetyNotes(m, &m, &m)
		}
	}
}

func mustNumber(t *testing.T, s string) Value {
	v, err := Number(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeDisplay(t *testing.T) {
	r := NewRegistry()
	for _, tc := range []struct {
		codec, partition, offset string
		want                     []string
	}{
		{"debezium-postgres", `{"server":"shop"}`, `{"lsn_proc":37097008,"lsn":37097008,"ts_usec":1795168800123456,"zz":1}`,
			[]string{"server \"shop\"", "lsn 0/2360E30 (37,097,008)", "lsn_proc 0/2360E30 (37,097,008)", "ts_usec 2026-11-20T10:00:00.123456Z", "zz 1"}},
		{"debezium-mysql", `{"server":"shop"}`, `{"pos":1234567,"file":"mysql-bin.000003","ts_sec":1795168800}`,
			[]string{"server \"shop\"", "file mysql-bin.000003", "pos 1,234,567", "ts_sec 2026-11-20T10:00:00Z"}},
		{"debezium-sqlserver", `{"server":"s","database":"d"}`, `{"commit_lsn":"0000002a:00000190:0003"}`,
			[]string{"server \"s\"", "database \"d\"", "commit_lsn 0000002a:00000190:0003"}},
		{"jdbc-source", `{"table":"t"}`, `{"timestamp":1795168800123,"timestamp_nanos":123456789,"incrementing":7}`,
			[]string{"table \"t\"", "incrementing 7", "timestamp 2026-11-20T10:00:00.123456789Z", "timestamp_nanos 123456789"}},
	} {
		c, _ := r.Lookup(tc.codec)
		var got []string
		for _, f := range c.Decode(mustMap(t, tc.partition), mustMap(t, tc.offset)) {
			got = append(got, f.String())
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s Decode:\n got %q\nwant %q", tc.codec, got, tc.want)
		}
	}
}

func TestSafetyNotes(t *testing.T) {
	r := NewRegistry()
	codes := func(codec, partition string, prev, next *string) string {
		c, _ := r.Lookup(codec)
		var p, n *Map
		if prev != nil {
			p = ptr(mustMap(t, *prev))
		}
		if next != nil {
			n = ptr(mustMap(t, *next))
		}
		var out []string
		for _, note := range c.SafetyNotes(mustMap(t, partition), p, n) {
			out = append(out, note.Code)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		codec            string
		prev, next, want string
		deleted          bool
	}{
		{"debezium-postgres", `{"lsn":500,"lsn_proc":500,"lsn_commit":400,"ts_usec":1}`, `{"lsn":300,"lsn_proc":300,"lsn_commit":300,"ts_usec":1}`, "postgres-rewind-below-slot", false},
		{"debezium-postgres", `{"lsn":500,"lsn_proc":500,"lsn_commit":500,"ts_usec":1}`, `{"lsn":900,"lsn_proc":900,"lsn_commit":900,"ts_usec":1}`, "postgres-skip-forward", false},
		{"debezium-postgres", `{"lsn":1,"ts_usec":1,"incremental_snapshot_collections":"[]"}`, `{"lsn":1,"ts_usec":2}`, "debezium-incremental-snapshot-dropped", false},
		{"debezium-postgres", `{"lsn":1,"ts_usec":1}`, ``, "debezium-offset-deleted,postgres-slot-kept", true},
		{"debezium-mysql", `{"file":"b.000002","pos":4,"gtids":"u:1-5"}`, `{"file":"b.000001","pos":4,"gtids":"u:1-5"}`, "mysql-gtid-mode,mysql-binlog-retention", false},
		{"debezium-mysql", `{"file":"b.000002","pos":4}`, `{"file":"b.000002","pos":900}`, "mysql-skip-forward", false},
		{"debezium-sqlserver", `{"commit_lsn":"0000002a:00000190:0003"}`, `{"commit_lsn":"00000029:00000000:0000"}`, "sqlserver-cdc-retention", false},
		{"jdbc-source", `{"incrementing":10}`, `{"incrementing":5}`, "jdbc-rewind", false},
		{"generic", `{"a":1}`, `{"a":2}`, "generic-format", false},
	} {
		prev, next := tc.prev, tc.next
		var np *string
		if !tc.deleted {
			np = &next
		}
		if got := codes(tc.codec, `{"server":"s","database":"d"}`, &prev, np); got != tc.want {
			t.Errorf("%s %s -> %s: notes %q, want %q", tc.codec, tc.prev, tc.next, got, tc.want)
		}
	}
	c, _ := r.Lookup("debezium-mysql")
	notes := c.SafetyNotes(mustMap(t, `{"server":"s"}`), ptr(mustMap(t, `{"file":"b.000002","pos":4,"gtids":"u:1-5"}`)), ptr(mustMap(t, `{"file":"b.000001","pos":4,"gtids":"u:1-5"}`)))
	if !strings.Contains(notes[0].Text, "NO effect; edit gtids") {
		t.Errorf("gtid note = %s", notes[0].Text)
	}
}

func TestValidationErrorExcept(t *testing.T) {
	c := DebeziumPostgres{}
	prev := mustMap(t, `{"lsn":100,"lsn_proc":100,"ts_usec":1}`)
	err := c.Validate(mustMap(t, `{"server":"s"}`), mustMap(t, `{"lsn":300,"lsn_proc":200,"ts_usec":1}`), &prev)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Except("inconsistent") != nil {
		t.Fatalf("Except(inconsistent) of %v = %v", err, ve.Except("inconsistent"))
	}
	err = c.Validate(mustMap(t, `{"server":"s"}`), mustMap(t, `{"lsn":300,"lsn_proc":200,"ts_usec":"x"}`), &prev)
	if !errors.As(err, &ve) || ve.Except("inconsistent") == nil || !strings.Contains(ve.Except("inconsistent").Error(), "ts_usec") {
		t.Fatalf("Except kept %v", ve.Except("inconsistent"))
	}
}
