package sourcedb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/offsetctl/offsetctl/internal/numfmt"
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
				offsets.FormatLSN(t), numfmt.Thousands(int64(s.RestartLSN-t)), s.Name, offsets.FormatLSN(s.RestartLSN), snapshotWay)
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
				offsets.FormatLSN(t), s.Name, offsets.FormatLSN(s.ConfirmedFlushLSN), numfmt.Thousands(int64(s.ConfirmedFlushLSN-t)), manual, tail)
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
			fmt.Fprintf(&b, ", %s bytes above confirmed_flush_lsn", numfmt.Thousands(int64(t-s.ConfirmedFlushLSN)))
		} else {
			fmt.Fprintf(&b, ", %s bytes below confirmed_flush_lsn", numfmt.Thousands(int64(s.ConfirmedFlushLSN-t)))
		}
	}
	return b.String()
}
