package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// State is one lineage of offsetctl operations: everything offsetctl applied,
// rolled back or restored against one set of connectors and databases.
type State struct {
	// Lineage identifies this state for its whole life (a UUID, see NewID).
	// Write refuses to replace a state of another lineage, and a plan records
	// the lineage it was made against. Never empty in a written state.
	Lineage string

	// Serial counts the writes of this lineage: 0 for a state never written,
	// 1 after the first write, and one more after each write. Backends set it;
	// callers only read it and hand it back to Write unchanged.
	Serial uint64

	// OffsetctlVersion is the version of offsetctl that last wrote this state,
	// as read from the file. Backends set it on write.
	OffsetctlVersion string

	// Operations in the order they were started; Operation.Serial is 1, 2,
	// 3, … in this order.
	Operations []Operation

	// Backups are the offset backups taken before changes, in the order they
	// were taken; Backup.ID is 1, 2, 3, … in this order.
	Backups []Backup

	// enc remembers the encoded row images between writes (see Encode);
	// New and Decode set it up.
	enc *imageCache
}

// New returns an empty state of the given lineage, not yet written (Serial 0).
func New(lineage string) *State {
	return &State{Lineage: lineage, enc: newImageCache()}
}

// Begin appends op as a new operation, gives it the next operation serial and
// the status in_progress (unless op already has a status), and returns a
// pointer to the stored copy, valid until the next Begin.
func (s *State) Begin(op Operation) *Operation {
	op.Serial = s.nextOperationSerial()
	if op.Status == "" {
		op.Status = StatusInProgress
	}
	s.Operations = append(s.Operations, op)
	return &s.Operations[len(s.Operations)-1]
}

func (s *State) nextOperationSerial() uint64 {
	if n := len(s.Operations); n > 0 {
		return s.Operations[n-1].Serial + 1
	}
	return 1
}

// AddBackup appends an offset backup taken for operation opSerial at takenAt,
// computing its checksum over the compact form of content, and returns the
// stored copy. content must be valid JSON.
func (s *State) AddBackup(opSerial uint64, takenAt time.Time, connector, connectCluster string, content json.RawMessage) (*Backup, error) {
	if len(content) == 0 {
		return nil, errors.New("adding a backup: its content is empty")
	}
	c, err := compactJSON(content)
	if err != nil {
		return nil, fmt.Errorf("adding a backup: content is %w", err)
	}
	id := uint64(1)
	if n := len(s.Backups); n > 0 {
		id = s.Backups[n-1].ID + 1
	}
	s.Backups = append(s.Backups, Backup{
		ID: id, Operation: opSerial, TakenAt: takenAt,
		Connector: connector, ConnectCluster: connectCluster,
		Content: c, Checksum: Checksum(c),
	})
	return &s.Backups[len(s.Backups)-1], nil
}

// Applied reports whether the block called name is applied with the content
// hash blockHash: the operation LastApplied returns must carry blockHash. A
// block whose content changed since (another hash), whose last application
// was rolled back, or which never applied successfully is not applied, and
// plans a new operation. The operation returned, when not nil, is the last
// applied one even when its hash differs, so a plan can say what it replaces.
func (s *State) Applied(name, blockHash string) (*Operation, bool) {
	op, ok := s.LastApplied(name)
	if !ok {
		return nil, false
	}
	return op, op.BlockHash == blockHash
}

// LastApplied returns the most recent offsets or reconcile operation called
// name whose status is applied.
func (s *State) LastApplied(name string) (*Operation, bool) {
	for i := len(s.Operations) - 1; i >= 0; i-- {
		op := &s.Operations[i]
		if op.Name == name && (op.Kind == KindOffsets || op.Kind == KindReconcile) && op.Status == StatusApplied {
			return op, true
		}
	}
	return nil, false
}

// Last returns the most recently started operation.
func (s *State) Last() (*Operation, bool) {
	if len(s.Operations) == 0 {
		return nil, false
	}
	return &s.Operations[len(s.Operations)-1], true
}

// BySerial returns the operation with serial n.
func (s *State) BySerial(n uint64) (*Operation, bool) {
	for i := range s.Operations {
		if s.Operations[i].Serial == n {
			return &s.Operations[i], true
		}
	}
	return nil, false
}

// ByName returns the most recent operation called name, whatever its status.
func (s *State) ByName(name string) (*Operation, bool) {
	for i := len(s.Operations) - 1; i >= 0; i-- {
		if s.Operations[i].Name == name {
			return &s.Operations[i], true
		}
	}
	return nil, false
}

// UnfinishedRollbackOf returns the most recent rollback of operation of
// (an offsets rollback: one that names a connector) that a killed or failed
// run left unfinished (in_progress or needs_rollback). offsetctl rollback
// finishes it rather than undoing it.
func (s *State) UnfinishedRollbackOf(of uint64) (*Operation, bool) {
	for i := len(s.Operations) - 1; i >= 0; i-- {
		op := &s.Operations[i]
		if op.Kind == KindRollback && op.RollbackOf == of && len(op.Connectors) > 0 && (op.Status == StatusInProgress || op.Status == StatusNeedsRollback) {
			return op, true
		}
	}
	return nil, false
}

// Unfinished returns the operations that left the world in a state nobody
// vouches for: in_progress (the process died or was killed mid-apply) and
// needs_rollback (it failed and its automatic rollback failed too). Their
// BeforeImages are what a rollback must restore. The result is a copy.
func (s *State) Unfinished() []Operation {
	var out []Operation
	for _, op := range s.Operations {
		if op.Status == StatusInProgress || op.Status == StatusNeedsRollback {
			out = append(out, op)
		}
	}
	return out
}

// BackupsFor returns the backups taken for operation opSerial.
func (s *State) BackupsFor(opSerial uint64) []Backup {
	var out []Backup
	for _, b := range s.Backups {
		if b.Operation == opSerial {
			out = append(out, b)
		}
	}
	return out
}

// Backup is a copy of a connector's offsets taken before a change, so that
// they can be restored even when the before-images are not enough (for
// example after a manual change outside offsetctl).
type Backup struct {
	// ID is 1 for the first backup of the lineage, then one more each time.
	ID uint64
	// Operation is the serial of the operation it was taken for.
	Operation uint64
	// TakenAt is when the offsets were read.
	TakenAt time.Time
	// Connector is the connector's name in Kafka Connect; ConnectCluster the
	// name of the HCL connect block it runs on.
	Connector, ConnectCluster string
	// Content is the backup itself (the offsets backup format of
	// pkg/offsets), as compact JSON.
	Content json.RawMessage
	// Checksum is "sha256:<hex>" of Content; Decode refuses a mismatch.
	Checksum string
}

// Checksum returns "sha256:<hex>" of b.
func Checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
