package sourcedb

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Severity of a finding, as plan checks have them.
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityOK      Severity = "ok"
)

// The codes a plan may acknowledge (acknowledge = ["CODE"]) to turn the
// error into a warning.
const (
	// AckNoReplayBelowSlot accepts that a rewind below the slot's
	// confirmed_flush_lsn replays nothing below it.
	AckNoReplayBelowSlot = "no_replay_below_slot"
)

// LogGone reports whether a finding's code says that the source no longer
// holds the log a position needs, so that the changes from there on are
// lost to a connector: the PostgreSQL verdicts below_restart_lsn,
// slot_wal_lost and slot_missing, and for every source any code that ends
// in "_purged" (a binlog file or GTIDs purged) or "_log_gone". Judges of
// other sources name such verdicts so, and a plan that moves a connector
// from a position whose log is gone to one whose log is not refuses it as
// hiding the loss.
func LogGone(code string) bool {
	switch code {
	case "below_restart_lsn", "slot_wal_lost", "slot_missing":
		return true
	}
	return strings.HasSuffix(code, "_purged") || strings.HasSuffix(code, "_log_gone")
}

// Finding is one verdict on an offset edit, with a stable code.
type Finding struct {
	Severity Severity
	Code     string
	Message  string
}

// PostgresEdit is an edit of a Debezium PostgreSQL connector's offset, as
// JudgePostgres weighs it.
type PostgresEdit struct {
	// Target is where the new offset makes Debezium resume streaming
	// (lsn_proc, else lsn); Stored where the stored offset does now (0:
	// none). A deletion (resnapshot) has no Target: HasTarget is false.
	Target, Stored uint64
	HasTarget      bool
	// ConnectorState is the connector's state before apply (RUNNING,
	// PAUSED, STOPPED, FAILED).
	ConnectorState string
	// FlushMode is the connector's lsn.flush.mode ("" is Debezium's
	// default, "connector").
	FlushMode string
	// Tables are the tables the connector captures (table.include.list),
	// schema-qualified; empty when it does not list them.
	Tables []string
	// Acknowledged are the operation's acknowledge codes.
	Acknowledged []string
}

// JudgePostgres weighs edit against what obs read from the source: where
// the slot is, what WAL it holds, and who holds it. It reads nothing.
func JudgePostgres(obs *PostgresObservation, edit PostgresEdit) []Finding {
	var out []Finding
	add := func(sev Severity, code, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	s := obs.Slot
	snapshotWay := "the way out is an incremental snapshot of the tables (a reconcile block with repair = \"snapshot_signal\") or a new snapshot"
	if !s.Exists {
		add(SeverityError, "slot_missing", "the replication slot %q does not exist in the source database: Debezium would create a new one at the current WAL position %s, and every change between the stored offset and now would be lost without an error; %s",
			s.Name, offsets.FormatLSN(obs.CurrentLSN), snapshotWay)
		return out
	}
	if s.WALStatus == "lost" {
		add(SeverityError, "slot_wal_lost", "the replication slot %q has lost WAL it needed (wal_status = lost): the connector cannot stream from it any more; %s", s.Name, snapshotWay)
	}
	if s.Active && edit.ConnectorState == "STOPPED" {
		pid := "an unknown process"
		if s.ActivePID != 0 {
			pid = fmt.Sprintf("pid %d", s.ActivePID)
		}
		add(SeverityError, "slot_held_by_other", "the replication slot %q is active (%s) while the connector is STOPPED: another consumer holds it, and the connector would fail to start or two readers would share one position; find it in pg_stat_replication and stop it first", s.Name, pid)
	}
	if edit.HasTarget {
		t := edit.Target
		switch {
		case t > obs.CurrentLSN:
			add(SeverityError, "beyond_current_wal", "the new position %s is beyond the source's current WAL position %s: Debezium would wait for WAL that does not exist yet and skip what comes before it", offsets.FormatLSN(t), offsets.FormatLSN(obs.CurrentLSN))
		case s.RestartLSN != 0 && t < s.RestartLSN:
			add(SeverityError, "below_restart_lsn", "the new position %s is %s bytes below the slot %q's restart_lsn %s: PostgreSQL no longer keeps that WAL and the task fails at start; %s",
				offsets.FormatLSN(t), thousands(s.RestartLSN-t), s.Name, offsets.FormatLSN(s.RestartLSN), snapshotWay)
		case s.ConfirmedFlushLSN != 0 && t < s.ConfirmedFlushLSN:
			sev := SeverityError
			tail := fmt.Sprintf(`acknowledge = ["%s"] if moving the stored position is all you want; to re-send rows use an incremental snapshot`, AckNoReplayBelowSlot)
			if slices.Contains(edit.Acknowledged, AckNoReplayBelowSlot) {
				sev, tail = SeverityWarning, "acknowledged ("+AckNoReplayBelowSlot+")"
			}
			manual := ""
			if strings.EqualFold(edit.FlushMode, "manual") {
				manual = " (lsn.flush.mode = manual holds the slot back only from when it was set: it was confirmed up to here before)"
			}
			add(sev, AckNoReplayBelowSlot, "nothing between the new position %s and the slot %q's confirmed_flush_lsn %s (%s bytes) will be replayed: PostgreSQL streams from the greater of the two%s; %s",
				offsets.FormatLSN(t), s.Name, offsets.FormatLSN(s.ConfirmedFlushLSN), thousands(s.ConfirmedFlushLSN-t), manual, tail)
		}
	}
	if s.WALStatus == "unreserved" {
		add(SeverityWarning, "slot_wal_unreserved", "the replication slot %q holds more WAL than max_wal_size and max_slot_wal_keep_size reserve (wal_status = unreserved): it will lose WAL at the next checkpoint unless the connector catches up", s.Name)
	}
	p := obs.Publication
	switch {
	case !p.Exists:
		add(SeverityWarning, "publication_missing", "the publication %q does not exist: the connector creates it at start when publication.autocreate.mode allows, otherwise it fails", p.Name)
	case !p.AllTables && len(edit.Tables) > 0:
		var missing []string
		for _, t := range edit.Tables {
			if !slices.Contains(p.Tables, t) {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			add(SeverityWarning, "publication_incomplete", "the publication %q does not publish %s, which the connector captures: their changes are not streamed", p.Name, strings.Join(missing, ", "))
		}
	}
	out = append(out, Finding{Severity: SeverityOK, Code: "source_slot", Message: slotSummary(obs, edit)})
	return out
}

// slotSummary is the line a plan shows for the slot: where it is and where
// the edit goes, with the gap in bytes.
func slotSummary(obs *PostgresObservation, edit PostgresEdit) string {
	s := obs.Slot
	var b strings.Builder
	fmt.Fprintf(&b, "slot %q (%s", s.Name, s.Plugin)
	if s.Active {
		fmt.Fprintf(&b, ", active pid %d", s.ActivePID)
	} else {
		b.WriteString(", inactive")
	}
	fmt.Fprintf(&b, "): confirmed_flush_lsn %s, restart_lsn %s", offsets.FormatLSN(s.ConfirmedFlushLSN), offsets.FormatLSN(s.RestartLSN))
	if s.WALStatus != "" {
		fmt.Fprintf(&b, ", wal_status %s", s.WALStatus)
	}
	fmt.Fprintf(&b, "; server WAL at %s", offsets.FormatLSN(obs.CurrentLSN))
	if edit.HasTarget {
		t := edit.Target
		fmt.Fprintf(&b, "; new position %s", offsets.FormatLSN(t))
		if t >= s.ConfirmedFlushLSN {
			fmt.Fprintf(&b, ", %s bytes above confirmed_flush_lsn", thousands(t-s.ConfirmedFlushLSN))
		} else {
			fmt.Fprintf(&b, ", %s bytes below confirmed_flush_lsn", thousands(s.ConfirmedFlushLSN-t))
		}
	}
	return b.String()
}

func thousands(n uint64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// BinlogEdit is an edit of a Debezium MariaDB or MySQL connector's offset,
// as JudgeBinlog weighs it. A deletion (resnapshot) has no target:
// HasTarget is false.
type BinlogEdit struct {
	HasTarget bool
	// File and Pos are the new offset's binlog file and position; GTIDs its
	// GTID set ("" when none), in the server flavour's notation.
	File  string
	Pos   int64
	GTIDs string
	// TsSec is the new offset's ts_sec, the time of the event it points at
	// (0: unknown).
	TsSec int64
}

// retentionWarnBefore is how close to its expiry a target binlog file is
// said to be at risk: closer than this, the connector has to be restarted
// and catch up within the hours left.
const retentionWarnBefore = 24 * time.Hour

// JudgeBinlog weighs edit against what obs read from a MariaDB or MySQL
// source: whether the binlog can be read as Debezium needs it, whether the
// target binlog file and GTIDs are still there, and how long they stay. It
// reads nothing.
func JudgeBinlog(obs *BinlogObservation, edit BinlogEdit) []Finding {
	var out []Finding
	add := func(sev Severity, code, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	snapshotWay := "the way out is an incremental snapshot of the tables (a reconcile block with repair = \"snapshot_signal\") or a new snapshot"
	if !obs.LogBin {
		add(SeverityError, "binlog_disabled", "the source server does not write a binary log (log_bin = OFF): Debezium cannot stream from it; start it with log-bin")
		return out
	}
	if obs.BinlogFormat != "ROW" {
		add(SeverityError, "binlog_format_not_row", "the source server's binlog_format is %s: Debezium fails at start (\"not configured to use a ROW binlog_format\"); set binlog_format = ROW", obs.BinlogFormat)
	}
	if obs.BinlogRowImage != "FULL" {
		add(SeverityError, "binlog_row_image_not_full", "the source server's binlog_row_image is %s: Debezium 3.5 fails at start (\"not configured to use a FULL binlog_row_image\"); set binlog_row_image = FULL", obs.BinlogRowImage)
	}
	if edit.HasTarget {
		judgeBinlogFile(obs, edit, add, snapshotWay)
		if edit.GTIDs != "" {
			if obs.Flavor == FlavorMariaDB {
				judgeMariaDBGTIDs(obs, edit, add, snapshotWay)
			} else {
				judgeMySQLGTIDs(obs, edit, add, snapshotWay)
			}
		}
	}
	out = append(out, Finding{Severity: SeverityOK, Code: "source_binlog", Message: binlogSummary(obs, edit)})
	return out
}

type addFunc func(sev Severity, code, format string, args ...any)

// judgeBinlogFile: the target file must be one SHOW BINARY LOGS lists, and
// the position inside it; a file expiring soon is a warning.
func judgeBinlogFile(obs *BinlogObservation, edit BinlogEdit, add addFunc, snapshotWay string) {
	if len(obs.Files) == 0 {
		return
	}
	first, last := obs.Files[0], obs.Files[len(obs.Files)-1]
	idx := slices.IndexFunc(obs.Files, func(f BinlogFile) bool { return f.Name == edit.File })
	if idx < 0 {
		base, seq, ok := splitBinlogName(edit.File)
		fbase, _, fok := splitBinlogName(first.Name)
		_, lseq, _ := splitBinlogName(last.Name)
		switch {
		case ok && fok && base == fbase && seq > lseq:
			add(SeverityError, "beyond_current_binlog", "the binlog file %s does not exist yet: the server's newest is %s; Debezium would fail to find it", edit.File, last.Name)
		case ok && fok && base == fbase:
			add(SeverityError, "binlog_purged", "the binlog file %s has been purged from the source server (its oldest is %s): the task fails at start (with GTIDs the server refuses the position: error 1236 \"Could not find GTID state requested by slave in any binlog files\"; without, Debezium finds the file gone: \"no longer available on the server\", or re-snapshots, per snapshot.mode); %s",
				edit.File, first.Name, snapshotWay)
		default:
			add(SeverityError, "binlog_unknown_file", "the source server has no binlog file %s (it has %s to %s): the offset names another server's binlog or a misspelt file", edit.File, first.Name, last.Name)
		}
		return
	}
	if f := obs.Files[idx]; edit.Pos > f.Size {
		add(SeverityError, "beyond_current_binlog", "the position %d is beyond the end of %s (%d bytes): Debezium would fail to read from it", edit.Pos, f.Name, f.Size)
		return
	}
	if obs.RetentionSeconds <= 0 || edit.TsSec <= 0 || idx == len(obs.Files)-1 {
		return
	}
	age := obs.ObservedAt.Sub(time.Unix(edit.TsSec, 0))
	left := time.Duration(obs.RetentionSeconds)*time.Second - age
	if left >= retentionWarnBefore {
		return
	}
	retention := fmt.Sprintf("%d hours (%s)", obs.RetentionSeconds/3600, retentionVariable(obs))
	if left <= 0 {
		add(SeverityWarning, "binlog_retention", "the binlog file %s holds events %d hours old, past the server's retention of %s: 0 hours left, it is purged at the next binlog rotation or FLUSH BINARY LOGS; start the connector now or raise the retention",
			edit.File, int64(age.Hours()), retention)
		return
	}
	add(SeverityWarning, "binlog_retention", "the binlog file %s holds events %d hours old and the server keeps binlogs %s: %d hours left before it may be purged; the connector must read past it by then",
		edit.File, int64(age.Hours()), retention, int64(left.Hours()))
}

func retentionVariable(obs *BinlogObservation) string {
	if obs.RetentionSeconds%86400 == 0 && obs.Flavor == FlavorMariaDB {
		return fmt.Sprintf("expire_logs_days = %d", obs.RetentionSeconds/86400)
	}
	return fmt.Sprintf("binlog_expire_logs_seconds = %d", obs.RetentionSeconds)
}

// splitBinlogName splits "binlog.000012" into ("binlog", 12).
func splitBinlogName(name string) (string, int64, bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return name, 0, false
	}
	n, err := strconv.ParseInt(name[dot+1:], 10, 64)
	return name[:dot], n, err == nil
}

// judgeMariaDBGTIDs: each GTID of the target must be in the server's
// binlog state (same domain and server, sequence not beyond it) and not
// below the state at the start of the oldest binlog file.
func judgeMariaDBGTIDs(obs *BinlogObservation, edit BinlogEdit, add addFunc, snapshotWay string) {
	target, err := ParseMariaDBGTIDs(edit.GTIDs)
	if err != nil {
		add(SeverityError, "gtid_not_in_server_state", "the new offset's gtids: %v", err)
		return
	}
	state, err := ParseMariaDBGTIDs(obs.GTIDBinlogState)
	if err != nil {
		add(SeverityError, "gtid_not_in_server_state", "the source server's gtid_binlog_state: %v", err)
		return
	}
	start, _ := ParseMariaDBGTIDs(obs.GTIDStart)
	slave, _ := ParseMariaDBGTIDs(obs.GTIDSlavePos)
	for _, g := range target {
		i := slices.IndexFunc(state, func(s MariaDBGTID) bool { return s.Domain == g.Domain && s.Server == g.Server })
		if i < 0 || g.Seq > state[i].Seq {
			where := fmt.Sprintf("gtid_binlog_state is %q", obs.GTIDBinlogState)
			if slices.Contains(slave, g) {
				where += " (it is in gtid_slave_pos: the server applied it as a replica without writing it to its binlog; log_slave_updates is off)"
			}
			add(SeverityError, "gtid_not_in_server_state", "the GTID %s is not in the source server's binlog state: %s; MariaDB refuses to stream from a GTID it never wrote (error 1236) and Debezium fails at start", g, where)
			continue
		}
		for _, s := range start {
			if s.Domain == g.Domain && g.Seq < s.Seq {
				add(SeverityError, "gtid_purged", "the GTID %s is older than the oldest binlog file %s still holds (it starts at %s): the transactions after it have been purged, and MariaDB refuses to stream from it (error 1236 \"Could not find GTID state requested by slave in any binlog files\"), which fails the task; %s", g, firstFile(obs), s, snapshotWay)
				break
			}
		}
	}
}

// judgeMySQLGTIDs: the target set must be part of @@gtid_executed, and hold
// all of @@gtid_purged (the server can no longer send what was purged).
func judgeMySQLGTIDs(obs *BinlogObservation, edit BinlogEdit, add addFunc, snapshotWay string) {
	target, err := ParseMySQLGTIDSet(edit.GTIDs)
	if err != nil {
		add(SeverityError, "gtid_not_in_server_state", "the new offset's gtids: %v", err)
		return
	}
	executed, err := ParseMySQLGTIDSet(obs.GTIDExecuted)
	if err != nil {
		add(SeverityError, "gtid_not_in_server_state", "the source server's gtid_executed: %v", err)
		return
	}
	purged, err := ParseMySQLGTIDSet(obs.GTIDPurged)
	if err != nil {
		add(SeverityError, "gtid_purged", "the source server's gtid_purged: %v", err)
		return
	}
	if extra := target.Minus(executed); extra != "" {
		add(SeverityError, "gtid_not_in_server_state", "the new offset's gtids hold %s, which the source server never executed (not in gtid_executed): MySQL refuses a replica ahead of it and Debezium fails at start", extra)
	}
	if missing := purged.Minus(target); missing != "" {
		add(SeverityError, "gtid_purged", "the source server has purged %s (gtid_purged), which the new offset's gtids do not hold: the server can no longer send them and Debezium fails at start (\"purged binlog files containing GTIDs\"); %s", missing, snapshotWay)
	}
}

func firstFile(obs *BinlogObservation) string {
	if len(obs.Files) == 0 {
		return ""
	}
	return obs.Files[0].Name
}

// binlogSummary is the line a plan shows for the binlog: the server, its
// files and GTID state, and the new position.
func binlogSummary(obs *BinlogObservation, edit BinlogEdit) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s, binlog_format %s, binlog_row_image %s", obs.Flavor, obs.Version, obs.BinlogFormat, obs.BinlogRowImage)
	if n := len(obs.Files); n > 0 {
		fmt.Fprintf(&b, "; binlog files %s to %s (%d)", obs.Files[0].Name, obs.Files[n-1].Name, n)
	}
	if obs.RetentionSeconds > 0 {
		fmt.Fprintf(&b, ", kept %d hours", obs.RetentionSeconds/3600)
	} else {
		b.WriteString(", kept until purged by hand")
	}
	if obs.Flavor == FlavorMariaDB {
		fmt.Fprintf(&b, "; gtid_binlog_state %q", obs.GTIDBinlogState)
	} else if obs.GTIDMode != "" {
		fmt.Fprintf(&b, "; gtid_mode %s", obs.GTIDMode)
	}
	if edit.HasTarget {
		fmt.Fprintf(&b, "; new position %s:%d", edit.File, edit.Pos)
		if edit.GTIDs != "" {
			fmt.Fprintf(&b, ", gtids %q", edit.GTIDs)
		}
	}
	return b.String()
}
