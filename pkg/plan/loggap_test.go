package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/sourcedb"
)

// TestComputeSourceLogGap: an edit that moves a Debezium PostgreSQL
// connector from a position whose WAL the source no longer holds (below the
// slot's restart_lsn) to one it holds hides the loss of the changes in
// between: refused in one line that points to the repairs, unless
// acknowledged; a stored position that is still in the WAL, or a target
// that is not, is not this hazard.
func TestComputeSourceLogGap(t *testing.T) {
	const block = `
offsets "op" {
  connector = connector.src
  reason    = "test"
  %s
  source_partition {
    partition = { server = "db1" }
    offset    = { lsn = %d, lsn_proc = %d, lsn_commit = %d }
    merge     = true
  }
}
`
	for _, tc := range []struct {
		name           string
		stored, target uint64
		walStatus      string
		ack            string
		status         OperationStatus
		sev            Severity // of hides_data_loss; "" none
		msg            string
	}{
		{name: "moves past the gap", stored: 500, target: 2500, status: StatusBlocked, sev: SeverityError,
			msg: `partition {"server":"db1"}: the source no longer holds the log at the stored position 0/1F4 (below_restart_lsn), so the changes from there to the new position 0/9C4 are lost, and this edit only moves the connector past the gap, which hides the loss; repair the data instead with a reconcile block (repair = "snapshot_signal" for a Debezium incremental snapshot, or repair = "upsert"), or acknowledge = ["source_log_gap"] to accept the loss`},
		{name: "acknowledged", stored: 500, target: 2500, ack: `acknowledge = ["source_log_gap"]`, status: StatusChange, sev: SeverityWarning,
			msg: "hides the loss; acknowledged (source_log_gap)"},
		{name: "stored still in the WAL", stored: 1500, target: 2500, status: StatusChange},
		{name: "target in the gap too", stored: 500, target: 900, status: StatusBlocked},
		{name: "slot lost: no way past it", stored: 500, target: 2500, walStatus: "lost", status: StatusBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, fmt.Sprintf(block, tc.ack, tc.target, tc.target, tc.target))
			obs := observed()
			src := obs["connector.src"]
			src.Codec, src.State = "debezium-postgres", "FAILED"
			src.Source[0].Offset = mustMap(fmt.Sprintf(`{"lsn":%d,"lsn_proc":%d,"lsn_commit":%d}`, tc.stored, tc.stored, tc.stored))
			wal := tc.walStatus
			if wal == "" {
				wal = "reserved"
			}
			src.SourceDB = &SourceDBObservation{Database: "database.source", Postgres: &sourcedb.PostgresObservation{ServerVersion: 160000, CurrentLSN: 5000,
				Slot:        sourcedb.PostgresSlot{Name: "debezium", Exists: true, Plugin: "pgoutput", RestartLSN: 1000, ConfirmedFlushLSN: 2000, WALStatus: wal},
				Publication: sourcedb.Publication{Name: sourcedb.DefaultPublication, Exists: true, AllTables: true}}}
			ops, checks := Compute(cfg, Inputs{Connectors: obs})
			if ops[0].Status != tc.status {
				t.Errorf("status %s, want %s: %+v", ops[0].Status, tc.status, checks)
			}
			var got []Check
			for _, c := range checks {
				if c.Code == "hides_data_loss" {
					got = append(got, c)
				}
			}
			switch {
			case tc.sev == "" && len(got) > 0:
				t.Errorf("hides_data_loss where there is no such gap: %+v", got)
			case tc.sev != "" && (len(got) != 1 || got[0].Severity != tc.sev || !strings.Contains(got[0].Message, tc.msg)):
				t.Errorf("hides_data_loss %+v, want one %s containing %q", got, tc.sev, tc.msg)
			}
		})
	}
}
