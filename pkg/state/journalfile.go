package state

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// The state journal: writes appended to a state file's side file instead of
// rewriting the whole state, so that a repair that records its row images
// batch after batch writes each batch once (a backend compacts the journal
// into the state file later, see pkg/state/local).
//
// A record is one line: the CRC-32C of its JSON in 8 hexadecimal digits, a
// space, the JSON, a newline. The JSON (format_version JournalFormatVersion):
//
//	{"format_version":1,"base_serial":N,"images_from":[{"operation":S,"before_images":B,"after":A},…],"state":{…}}
//
// "state" is the whole state document (format FormatVersion) at serial N+1,
// except that each operation's before_images and after hold only the images
// appended since serial N; "images_from" lists every operation the state had
// at serial N with the number of images it had then. A line cut short or
// with a wrong checksum at the end of the journal is a record whose append
// never finished, so never acknowledged: it is ignored. Anywhere else it is
// damage, refused.

// JournalFormatVersion is the newest state journal record format this
// offsetctl reads and the one it writes.
const JournalFormatVersion = 1

// ErrJournalAhead is wrapped by ReplayJournal's error for a journal that
// starts after the state given: it belongs to a newer state file (read the
// state file again) or the state file was replaced by an older one.
var ErrJournalAhead = errors.New("the state journal starts after the state file")

// Written is a state as stored, kept by a backend for the next record:
// Snapshot makes it, AppendRecord takes and returns it. It holds a copy of
// the state's metadata and shares its images, which are never changed once
// in a State (only appended to), so it costs little whatever the state's
// size.
type Written struct {
	s   *State
	ops []writtenOp
}

type writtenOp struct {
	serial                uint64
	before, after         int
	lastBefore, lastAfter Image
}

// Snapshot describes s as stored. Changes made to s afterwards do not
// change it.
func Snapshot(s *State) *Written {
	c := *s
	c.Operations = make([]Operation, len(s.Operations))
	w := &Written{s: &c, ops: make([]writtenOp, len(s.Operations))}
	for i, op := range s.Operations {
		op.Approvals = slices.Clone(op.Approvals)
		op.VerifiedApprovals = slices.Clone(op.VerifiedApprovals)
		op.RiskClasses = slices.Clone(op.RiskClasses)
		op.Connectors = slices.Clone(op.Connectors)
		op.Steps = slices.Clone(op.Steps)
		op.BeforeImages, op.After = slices.Clip(op.BeforeImages), slices.Clip(op.After)
		c.Operations[i] = op
		wo := writtenOp{serial: op.Serial, before: len(op.BeforeImages), after: len(op.After)}
		if wo.before > 0 {
			wo.lastBefore = op.BeforeImages[wo.before-1]
		}
		if wo.after > 0 {
			wo.lastAfter = op.After[wo.after-1]
		}
		w.ops[i] = wo
	}
	c.Backups = slices.Clone(s.Backups)
	return w
}

// Serial is the serial of the state described.
func (w *Written) Serial() uint64 { return w.s.Serial }

// Lineage is the lineage of the state described.
func (w *Written) Lineage() string { return w.s.Lineage }

// State returns the state described, for writing it whole (a backend
// folding its journal into its file). It must not be changed.
func (w *Written) State() *State { return w.s }

// extends says whether s is the state w describes with things appended:
// same lineage, the next serial, the same operations in the same order
// (maybe more after them), each with its images kept (maybe more after
// them). Metadata (statuses, steps, backups) may have changed: a record
// carries all of it.
func (w *Written) extends(s *State) bool {
	if s.Lineage != w.s.Lineage || s.Serial != w.s.Serial+1 || len(s.Operations) < len(w.ops) {
		return false
	}
	for i, wo := range w.ops {
		op := &s.Operations[i]
		if op.Serial != wo.serial || len(op.BeforeImages) < wo.before || len(op.After) < wo.after {
			return false
		}
		if wo.before > 0 && op.BeforeImages[wo.before-1] != wo.lastBefore {
			return false
		}
		if wo.after > 0 && op.After[wo.after-1] != wo.lastAfter {
			return false
		}
	}
	return true
}

// AppendRecord returns the journal record that turns the state w describes
// into s, whose Serial must be w's plus one (the serial being written),
// with the description of s for the next record. ok is false, with no
// error, when s is not w's state with things appended (an operation or image
// removed or replaced, another lineage or serial): the caller writes the
// whole state instead. It refuses a State that Encode would refuse.
func AppendRecord(w *Written, s *State, offsetctlVersion string) (rec []byte, next *Written, ok bool, err error) {
	if w == nil || !w.extends(s) {
		return nil, nil, false, nil
	}
	if err := validateAppended(w, s); err != nil {
		return nil, nil, false, fmt.Errorf("encoding state journal record: %w", err)
	}
	skeleton, err := marshalCompact(toV1(s, offsetctlVersion, false))
	if err != nil {
		return nil, nil, false, fmt.Errorf("encoding state journal record: %w", err)
	}
	size := len(skeleton) + 64 + 48*len(w.ops)
	for i := range s.Operations {
		op := &s.Operations[i]
		b, a := w.from(i)
		size += s.enc.size(op.BeforeImages[b:]) + s.enc.size(op.After[a:])
	}
	out := make([]byte, 9, size+10) // the checksum and its space come first
	out = fmt.Appendf(out, `{"format_version":%d,"base_serial":%d,"images_from":[`, JournalFormatVersion, w.s.Serial)
	for i, wo := range w.ops {
		if i > 0 {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, `{"operation":%d,"before_images":%d,"after":%d}`, wo.serial, wo.before, wo.after)
	}
	out = append(out, `],"state":`...)
	doc := skeleton
	const hole = `"before_images":null`
	for i := range s.Operations {
		op := &s.Operations[i]
		at := bytes.Index(doc, []byte(hole))
		if at < 0 {
			return nil, nil, false, fmt.Errorf("encoding state journal record: operation %d has no place for its images", op.Serial)
		}
		out = append(out, doc[:at+len(hole)-len("null")]...)
		doc = doc[at+len(hole):]
		b, a := w.from(i)
		if out, err = s.enc.appendLine(out, op.BeforeImages[b:]); err != nil {
			return nil, nil, false, fmt.Errorf("encoding state journal record: operation %d: before-images: %w", op.Serial, err)
		}
		if len(op.After) > a {
			out = append(out, `,"after":`...)
			if out, err = s.enc.appendLine(out, op.After[a:]); err != nil {
				return nil, nil, false, fmt.Errorf("encoding state journal record: operation %d: after-images: %w", op.Serial, err)
			}
		}
	}
	out = append(out, doc...)
	out = append(out, '}')
	return seal(out), Snapshot(s), true, nil
}

// seal makes rec[9:], a record's JSON, a record line: its checksum and a
// space in rec[:9], a newline after it.
func seal(rec []byte) []byte {
	sum := crc32.Checksum(rec[9:], castagnoli)
	hex.Encode(rec[:8], []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	rec[8] = ' '
	return append(rec, '\n')
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// from is how many before- and after-images operation i had in the state w
// describes (none for an operation it did not have).
func (w *Written) from(i int) (before, after int) {
	if i < len(w.ops) {
		return w.ops[i].before, w.ops[i].after
	}
	return 0, 0
}

// validateAppended is validate for a record: every operation's metadata,
// but only the images appended since w (the others were checked when they
// were written).
func validateAppended(w *Written, s *State) error {
	if s.Lineage == "" {
		return errors.New("lineage is empty")
	}
	var prev uint64
	for i := range s.Operations {
		op := s.Operations[i]
		b, a := w.from(i)
		op.BeforeImages, op.After = op.BeforeImages[b:], op.After[a:]
		if err := validateOperation(&op, prev); err != nil {
			return fmt.Errorf("operation %d (%q): %w", op.Serial, op.Name, err)
		}
		prev = op.Serial
	}
	metadata := *s
	metadata.Operations = nil
	return validate(&metadata)
}

// appendLine appends images as a compact JSON array.
func (c *imageCache) appendLine(dst []byte, images []Image) ([]byte, error) {
	dst, err := c.appendLines(append(dst, '['), images, "")
	if err != nil {
		return nil, err
	}
	return append(dst, ']'), nil
}

// journalRecordV1 is format_version 1 of a journal record.
type journalRecordV1 struct {
	FormatVersion int             `json:"format_version"`
	BaseSerial    uint64          `json:"base_serial"`
	ImagesFrom    []imageCountV1  `json:"images_from"`
	State         json.RawMessage `json:"state"`
}

type imageCountV1 struct {
	Operation    uint64 `json:"operation"`
	BeforeImages int    `json:"before_images"`
	After        int    `json:"after"`
}

// ReplayJournal applies the state journal data to s, the state its state
// file holds, and returns the resulting state and how many bytes of data its
// records took: fewer than len(data) when the last append was cut short, or
// when the journal was left behind by a compaction that did not get to
// remove it (its first record is based on a serial below s's: it is ignored,
// and s is returned). A journal based on a later serial is refused with
// ErrJournalAhead; a damaged record (but the last), a record of another
// lineage, out of sequence, or of a newer format, with ErrUnreadable.
func ReplayJournal(s *State, data []byte) (*State, int, error) {
	cur, n, used := s, 0, 0
	for rest := data; len(rest) > 0; {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break // an append cut short: never acknowledged
		}
		line := rest[:nl]
		rest = rest[nl+1:]
		rec, err := parseRecordLine(line)
		if errors.Is(err, errBadChecksum) && len(rest) == 0 {
			break // the last append, torn
		}
		if err != nil {
			return nil, used, fmt.Errorf("%w: state journal record %d: %v", ErrUnreadable, n+1, err)
		}
		if n == 0 && rec.BaseSerial < s.Serial {
			return s, 0, nil // stale: the state file was written whole since
		}
		if rec.BaseSerial != cur.Serial {
			if n == 0 {
				return nil, 0, fmt.Errorf("%w: its first record follows serial %d, the state file is at serial %d", ErrJournalAhead, rec.BaseSerial, s.Serial)
			}
			return nil, used, fmt.Errorf("%w: state journal record %d follows serial %d, but the record before it made serial %d", ErrUnreadable, n+1, rec.BaseSerial, cur.Serial)
		}
		next, err := applyRecord(cur, rec)
		if err != nil {
			return nil, used, fmt.Errorf("%w: state journal record %d (serial %d): %v", ErrUnreadable, n+1, rec.BaseSerial+1, err)
		}
		cur, n, used = next, n+1, len(data)-len(rest)
	}
	return cur, used, nil
}

var errBadChecksum = errors.New("its checksum does not match its content")

// parseRecordLine checks a record line's checksum and decodes its JSON
// strictly.
func parseRecordLine(line []byte) (*journalRecordV1, error) {
	if len(line) < 10 || line[8] != ' ' {
		return nil, errBadChecksum
	}
	var want [4]byte
	if _, err := hex.Decode(want[:], line[:8]); err != nil {
		return nil, errBadChecksum
	}
	body := line[9:]
	sum := crc32.Checksum(body, castagnoli)
	if want != [4]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)} {
		return nil, errBadChecksum
	}
	var head struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if head.FormatVersion != JournalFormatVersion {
		if head.FormatVersion > JournalFormatVersion {
			return nil, fmt.Errorf("format_version %d was written by a newer offsetctl, which reads %d at most: upgrade offsetctl to read it", head.FormatVersion, JournalFormatVersion)
		}
		return nil, fmt.Errorf("format_version %d is not a version offsetctl ever wrote", head.FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var rec journalRecordV1
	if err := dec.Decode(&rec); err != nil {
		return nil, errors.New(wordDecodeError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the record")
	}
	return &rec, nil
}

// applyRecord returns cur with rec applied.
func applyRecord(cur *State, rec *journalRecordV1) (*State, error) {
	next, err := Decode(rec.State)
	if err != nil {
		return nil, err
	}
	switch {
	case next.Lineage != cur.Lineage:
		return nil, fmt.Errorf("lineage %s, the state's is %s", next.Lineage, cur.Lineage)
	case next.Serial != rec.BaseSerial+1:
		return nil, fmt.Errorf("its state has serial %d, not %d", next.Serial, rec.BaseSerial+1)
	case len(rec.ImagesFrom) != len(cur.Operations) || len(next.Operations) < len(cur.Operations):
		return nil, fmt.Errorf("it describes %d of the state's %d operations", len(rec.ImagesFrom), len(cur.Operations))
	}
	for i, from := range rec.ImagesFrom {
		had, op := &cur.Operations[i], &next.Operations[i]
		if from.Operation != had.Serial || op.Serial != had.Serial {
			return nil, fmt.Errorf("operation %d is not where the state has it", from.Operation)
		}
		if from.BeforeImages != len(had.BeforeImages) || from.After != len(had.After) {
			return nil, fmt.Errorf("operation %d: it follows %d before-images and %d after-images, the state has %d and %d", had.Serial, from.BeforeImages, from.After, len(had.BeforeImages), len(had.After))
		}
		op.BeforeImages = append(had.BeforeImages[:len(had.BeforeImages):len(had.BeforeImages)], op.BeforeImages...)
		op.After = append(had.After[:len(had.After):len(had.After)], op.After...)
	}
	return next, nil
}
