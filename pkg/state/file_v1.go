package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stateV1 is format_versions 1 to 5 of the state file (2 added the xmin of
// row images, 3 the status incomplete and verified approvals, 4 the kinds
// drill and check and risk classes, 5 a connector's halt and saved
// configuration). Its shape is the file's contract: change it only with a new
// format version and an upgrade.
type stateV1 struct {
	FormatVersion    int           `json:"format_version"`
	OffsetctlVersion string        `json:"offsetctl_version"`
	Lineage          string        `json:"lineage"`
	Serial           uint64        `json:"serial"`
	Operations       []operationV1 `json:"operations"`
	Backups          []backupV1    `json:"backups"`
}

type operationV1 struct {
	Serial       uint64        `json:"serial"`
	Name         string        `json:"name"`
	Kind         string        `json:"kind"`
	Status       string        `json:"status"`
	PlanHash     string        `json:"plan_hash,omitempty"`
	ConfigHash   string        `json:"config_hash,omitempty"`
	BlockHash    string        `json:"block_hash,omitempty"`
	Who          string        `json:"who,omitempty"`
	Host         string        `json:"host,omitempty"`
	Started      string        `json:"started"`
	Finished     string        `json:"finished,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Approvals    []string      `json:"approvals,omitempty"`
	Verified     []approvalV1  `json:"verified_approvals,omitempty"`
	RiskClasses  []string      `json:"risk_classes,omitempty"`
	RollbackOf   uint64        `json:"rollback_of,omitempty"`
	RolledBackBy uint64        `json:"rolled_back_by,omitempty"`
	Connectors   []connectorV1 `json:"connectors,omitempty"`
	Steps        []stepV1      `json:"steps,omitempty"`
	BeforeImages []imageV1     `json:"before_images"`
	After        []imageV1     `json:"after,omitempty"`
	Error        string        `json:"error,omitempty"`
}

type approvalV1 struct {
	Principals string `json:"principals"`
	Key        string `json:"key"`
}

type connectorV1 struct {
	Name           string `json:"name"`
	ConnectCluster string `json:"connect_cluster,omitempty"`
	StateBefore    string `json:"state_before,omitempty"`
	StateAfter     string `json:"state_after,omitempty"`
	ConfigHash     string `json:"config_hash,omitempty"`
	// Halt and SavedConfig came with format_version 5.
	Halt        string            `json:"halt,omitempty"`
	SavedConfig map[string]string `json:"saved_config,omitempty"`
}

type stepV1 struct {
	Name     string `json:"name"`
	Target   string `json:"target,omitempty"`
	Status   string `json:"status"`
	Started  string `json:"started,omitempty"`
	Finished string `json:"finished,omitempty"`
	Message  string `json:"message,omitempty"`
	Error    string `json:"error,omitempty"`
}

type imageV1 struct {
	Connector      string    `json:"connector,omitempty"`
	ConnectCluster string    `json:"connect_cluster,omitempty"`
	Source         *sourceV1 `json:"source,omitempty"`
	Sink           *sinkV1   `json:"sink,omitempty"`
	Row            *rowV1    `json:"row,omitempty"`
}

type sourceV1 struct {
	// Key is base64 (standard, padded), as encoding/json writes []byte.
	Key       []byte          `json:"key,omitempty"`
	Partition json.RawMessage `json:"partition"`
	Offset    json.RawMessage `json:"offset"`
}

type sinkV1 struct {
	Group     string `json:"group,omitempty"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type rowV1 struct {
	Database string          `json:"database,omitempty"`
	Table    string          `json:"table"`
	Key      json.RawMessage `json:"key"`
	Row      json.RawMessage `json:"row"`
	// Xmin (format_version 2): see RowImage.Xmin.
	Xmin string `json:"xmin,omitempty"`
}

type backupV1 struct {
	ID             uint64          `json:"id"`
	Operation      uint64          `json:"operation"`
	TakenAt        string          `json:"taken_at"`
	Connector      string          `json:"connector,omitempty"`
	ConnectCluster string          `json:"connect_cluster,omitempty"`
	Checksum       string          `json:"checksum"`
	Content        json.RawMessage `json:"content"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(what, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", what, s)
	}
	return t.UTC(), nil
}

// toV1 is the wire form of s; without the images of its operations when
// images is false (Encode writes them itself).
func toV1(s *State, offsetctlVersion string, images bool) *stateV1 {
	w := &stateV1{
		FormatVersion:    writtenVersion(s),
		OffsetctlVersion: offsetctlVersion,
		Lineage:          s.Lineage,
		Serial:           s.Serial,
		Operations:       make([]operationV1, 0, len(s.Operations)),
		Backups:          make([]backupV1, 0, len(s.Backups)),
	}
	for i := range s.Operations {
		o := operationToV1(&s.Operations[i], images)
		w.Operations = append(w.Operations, o)
	}
	for _, b := range s.Backups {
		w.Backups = append(w.Backups, backupV1{
			ID: b.ID, Operation: b.Operation, TakenAt: formatTime(b.TakenAt),
			Connector: b.Connector, ConnectCluster: b.ConnectCluster,
			Checksum: b.Checksum, Content: b.Content,
		})
	}
	return w
}

// operationToV1 is the wire form of op; without its images (before_images
// null, after absent) when images is false.
func operationToV1(op *Operation, images bool) operationV1 {
	o := operationV1{
		Serial: op.Serial, Name: op.Name, Kind: string(op.Kind), Status: string(op.Status),
		PlanHash: op.PlanHash, ConfigHash: op.ConfigHash, BlockHash: op.BlockHash,
		Who: op.Who, Host: op.Host, Started: formatTime(op.Started), Finished: formatTime(op.Finished),
		Reason: op.Reason, RollbackOf: op.RollbackOf, RolledBackBy: op.RolledBackBy,
		Error: op.Error,
	}
	if images {
		o.BeforeImages = imagesToV1(op.BeforeImages)
		if o.BeforeImages == nil {
			o.BeforeImages = []imageV1{}
		}
		o.After = imagesToV1(op.After)
	}
	if len(op.Approvals) > 0 {
		o.Approvals = slices.Clone(op.Approvals)
		slices.Sort(o.Approvals)
	}
	for _, a := range op.VerifiedApprovals {
		o.Verified = append(o.Verified, approvalV1{Principals: a.Principals, Key: a.Fingerprint})
	}
	o.RiskClasses = slices.Clone(op.RiskClasses)
	for _, c := range op.Connectors {
		o.Connectors = append(o.Connectors, connectorV1(c))
	}
	for _, st := range op.Steps {
		o.Steps = append(o.Steps, stepV1{
			Name: st.Name, Target: st.Target, Status: string(st.Status),
			Started: formatTime(st.Started), Finished: formatTime(st.Finished),
			Message: st.Message, Error: st.Error,
		})
	}
	return o
}

func imagesToV1(images []Image) []imageV1 {
	var out []imageV1
	for _, im := range images {
		out = append(out, imageToV1(im))
	}
	return out
}

func imageToV1(im Image) imageV1 {
	w := imageV1{Connector: im.Connector, ConnectCluster: im.ConnectCluster}
	if im.Source != nil {
		w.Source = &sourceV1{Key: im.Source.Key, Partition: im.Source.Partition, Offset: im.Source.Offset}
	}
	if im.Sink != nil {
		w.Sink = &sinkV1{Group: im.Sink.Group, Topic: im.Sink.Topic, Partition: im.Sink.Partition, Offset: im.Sink.Offset}
	}
	if im.Row != nil {
		w.Row = &rowV1{Database: im.Row.Database, Table: im.Row.Table, Key: im.Row.Key, Row: im.Row.Row, Xmin: im.Row.Xmin}
	}
	return w
}

func fromV1(w *stateV1, version int) (*State, error) {
	s := &State{Lineage: w.Lineage, Serial: w.Serial, OffsetctlVersion: w.OffsetctlVersion}
	for i := range w.Operations {
		op, err := operationFromV1(&w.Operations[i])
		if err != nil {
			return nil, fmt.Errorf("operation %d: %w", i+1, err)
		}
		if version < 3 && op.Status == StatusIncomplete {
			return nil, fmt.Errorf("operation %d: status %q came with format_version 3, and this file says %d: the file was edited", i+1, op.Status, version)
		}
		if version < 4 && op.Kind.Record() {
			return nil, fmt.Errorf("operation %d: kind %q came with format_version 4, and this file says %d: the file was edited", i+1, op.Kind, version)
		}
		if version < 5 && slices.ContainsFunc(op.Connectors, Connector.recreates) {
			return nil, fmt.Errorf("operation %d: a connector's halt and saved_config came with format_version 5, and this file says %d: the file was edited", i+1, version)
		}
		if version < 4 && len(op.RiskClasses) > 0 {
			return nil, fmt.Errorf("operation %d: risk_classes came with format_version 4, and this file says %d: the file was edited", i+1, version)
		}
		if version < 3 && len(op.VerifiedApprovals) > 0 {
			return nil, fmt.Errorf("operation %d: verified_approvals came with format_version 3, and this file says %d: the file was edited", i+1, version)
		}
		if version < 2 {
			for _, im := range append(slices.Clip(op.BeforeImages), op.After...) {
				if im.Row != nil && im.Row.Xmin != "" {
					return nil, fmt.Errorf("operation %d: a row image has an xmin, which format_version %d does not have (it came with 2): the file was edited", i+1, version)
				}
			}
		}
		s.Operations = append(s.Operations, op)
	}
	for i, b := range w.Backups {
		t, err := parseTime("taken_at", b.TakenAt)
		if err != nil {
			return nil, fmt.Errorf("backup %d: %w", i+1, err)
		}
		content, err := rawFromV1(b.Content)
		if err != nil {
			return nil, fmt.Errorf("backup %d: content: %w", i+1, err)
		}
		s.Backups = append(s.Backups, Backup{
			ID: b.ID, Operation: b.Operation, TakenAt: t,
			Connector: b.Connector, ConnectCluster: b.ConnectCluster,
			Content: content, Checksum: b.Checksum,
		})
	}
	return s, nil
}

func operationFromV1(o *operationV1) (Operation, error) {
	op := Operation{
		Serial: o.Serial, Name: o.Name, Kind: Kind(o.Kind), Status: Status(o.Status),
		PlanHash: o.PlanHash, ConfigHash: o.ConfigHash, BlockHash: o.BlockHash,
		Who: o.Who, Host: o.Host, Reason: o.Reason, Approvals: o.Approvals,
		RollbackOf: o.RollbackOf, RolledBackBy: o.RolledBackBy, Error: o.Error,
	}
	var err error
	if op.Started, err = parseTime("started", o.Started); err != nil {
		return op, err
	}
	if op.Finished, err = parseTime("finished", o.Finished); err != nil {
		return op, err
	}
	for i, c := range o.RiskClasses {
		if c == "" || strings.ContainsAny(c, " \t\n") {
			return op, fmt.Errorf("risk class %d: %q is not a risk class", i+1, c)
		}
	}
	op.RiskClasses = o.RiskClasses
	for i, a := range o.Verified {
		if a.Principals == "" || !strings.HasPrefix(a.Key, "SHA256:") {
			return op, fmt.Errorf("verified approval %d: needs principals and a key fingerprint (SHA256:…)", i+1)
		}
		op.VerifiedApprovals = append(op.VerifiedApprovals, Approval{Principals: a.Principals, Fingerprint: a.Key})
	}
	for _, c := range o.Connectors {
		op.Connectors = append(op.Connectors, Connector(c))
	}
	for i, st := range o.Steps {
		step := Step{Name: st.Name, Target: st.Target, Status: StepStatus(st.Status), Message: st.Message, Error: st.Error}
		if step.Started, err = parseTime("started", st.Started); err != nil {
			return op, fmt.Errorf("step %d: %w", i+1, err)
		}
		if step.Finished, err = parseTime("finished", st.Finished); err != nil {
			return op, fmt.Errorf("step %d: %w", i+1, err)
		}
		op.Steps = append(op.Steps, step)
	}
	if op.BeforeImages, err = imagesFromV1(o.BeforeImages); err != nil {
		return op, fmt.Errorf("before-images: %w", err)
	}
	if op.After, err = imagesFromV1(o.After); err != nil {
		return op, fmt.Errorf("after: %w", err)
	}
	return op, nil
}

// rawFromV1 returns a raw JSON value compact, and nil for JSON null.
func rawFromV1(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return compactJSON(raw)
}

func imagesFromV1(ws []imageV1) ([]Image, error) {
	var out []Image
	for i, w := range ws {
		im := Image{Connector: w.Connector, ConnectCluster: w.ConnectCluster}
		var err error
		if w.Source != nil {
			src := &SourceOffset{Key: w.Source.Key}
			if src.Partition, err = rawFromV1(w.Source.Partition); err != nil {
				return nil, fmt.Errorf("%d: partition: %w", i+1, err)
			}
			if src.Offset, err = rawFromV1(w.Source.Offset); err != nil {
				return nil, fmt.Errorf("%d: offset: %w", i+1, err)
			}
			im.Source = src
		}
		if w.Sink != nil {
			im.Sink = &SinkOffset{Group: w.Sink.Group, Topic: w.Sink.Topic, Partition: w.Sink.Partition, Offset: w.Sink.Offset}
		}
		if w.Row != nil {
			row := &RowImage{Database: w.Row.Database, Table: w.Row.Table}
			if row.Key, err = rawFromV1(w.Row.Key); err != nil {
				return nil, fmt.Errorf("%d: key: %w", i+1, err)
			}
			if row.Row, err = rawFromV1(w.Row.Row); err != nil {
				return nil, fmt.Errorf("%d: row: %w", i+1, err)
			}
			row.Xmin = w.Row.Xmin
			im.Row = row
		}
		out = append(out, im)
	}
	return out, nil
}

// validate checks the invariants of a State that Encode and Decode share.
func validate(s *State) error {
	if s == nil {
		return errors.New("no state")
	}
	if s.Lineage == "" {
		return errors.New("lineage is empty")
	}
	var prev uint64
	for i := range s.Operations {
		op := &s.Operations[i]
		if err := validateOperation(op, prev); err != nil {
			return fmt.Errorf("operation %d (%q): %w", op.Serial, op.Name, err)
		}
		prev = op.Serial
	}
	var prevID uint64
	for _, b := range s.Backups {
		if b.ID <= prevID {
			return fmt.Errorf("backup %d: ids must increase (after %d)", b.ID, prevID)
		}
		prevID = b.ID
		if b.TakenAt.IsZero() {
			return fmt.Errorf("backup %d: taken_at is missing", b.ID)
		}
		if len(b.Content) == 0 {
			return fmt.Errorf("backup %d: content is missing", b.ID)
		}
		c, err := compactJSON(b.Content)
		if err != nil {
			return fmt.Errorf("backup %d: content is %w", b.ID, err)
		}
		if got := Checksum(c); got != b.Checksum {
			return fmt.Errorf("backup %d: checksum %s does not match its content (%s): the backup was altered or damaged", b.ID, b.Checksum, got)
		}
	}
	return nil
}

func validateOperation(op *Operation, prev uint64) error {
	switch {
	case op.Serial <= prev:
		return fmt.Errorf("serials must increase (found %d after %d)", op.Serial, prev)
	case op.Name == "":
		return errors.New("name is empty")
	case !op.Kind.Valid():
		return fmt.Errorf("unknown kind %q", op.Kind)
	case !op.Status.Valid():
		return fmt.Errorf("unknown status %q", op.Status)
	case op.Started.IsZero():
		return errors.New("started is missing")
	case op.RollbackOf >= op.Serial:
		return fmt.Errorf("rollback_of %d does not name an earlier operation", op.RollbackOf)
	case op.Kind == KindRollback && op.RollbackOf == 0:
		return errors.New("a rollback must name the operation it undoes (rollback_of)")
	}
	for i, st := range op.Steps {
		if st.Name == "" {
			return fmt.Errorf("step %d: name is empty", i+1)
		}
		if !st.Status.Valid() {
			return fmt.Errorf("step %d (%s): unknown status %q", i+1, st.Name, st.Status)
		}
	}
	for i, im := range op.BeforeImages {
		if err := validateImage(im); err != nil {
			return fmt.Errorf("before-image %d: %w", i+1, err)
		}
		if im.Row != nil && im.Row.Xmin != "" {
			return fmt.Errorf("before-image %d: has an xmin, which only after-images have", i+1)
		}
	}
	for i, im := range op.After {
		if err := validateImage(im); err != nil {
			return fmt.Errorf("after-image %d: %w", i+1, err)
		}
	}
	return nil
}

func validateImage(im Image) error {
	n := 0
	if im.Source != nil {
		n++
		if err := validObject("partition", im.Source.Partition, false); err != nil {
			return err
		}
		if err := validObject("offset", im.Source.Offset, true); err != nil {
			return err
		}
	}
	if im.Sink != nil {
		n++
		if im.Sink.Topic == "" {
			return errors.New("sink topic is empty")
		}
		if im.Sink.Partition < 0 {
			return fmt.Errorf("sink partition %d is negative", im.Sink.Partition)
		}
		if im.Sink.Offset < -1 {
			return fmt.Errorf("sink offset %d is below -1 (none)", im.Sink.Offset)
		}
	}
	if im.Row != nil {
		n++
		if im.Row.Table == "" {
			return errors.New("row table is empty")
		}
		if err := objectStart("row key", im.Row.Key, false); err != nil {
			return err
		}
		if err := objectStart("row", im.Row.Row, true); err != nil {
			return err
		}
		if im.Row.Xmin != "" {
			if im.Row.Row != nil && string(im.Row.Row) != "null" {
				return errors.New("a row image has both a row and an xmin")
			}
			if _, err := strconv.ParseUint(im.Row.Xmin, 10, 32); err != nil {
				return fmt.Errorf("row xmin %q is not a transaction id", im.Row.Xmin)
			}
		}
	}
	if n != 1 {
		return fmt.Errorf("exactly one of source, sink and row must be set, found %d", n)
	}
	return nil
}

// validObject checks that raw is a JSON object (or absent, when allowed).
func validObject(what string, raw json.RawMessage, nilOK bool) error {
	if err := objectStart(what, raw, nilOK); err != nil {
		return err
	}
	if raw != nil && string(raw) != "null" && !json.Valid(raw) {
		return fmt.Errorf("%s must be a JSON object, found %.40s", what, raw)
	}
	return nil
}

// objectStart checks that raw starts like a JSON object (or is absent, when
// allowed): the check of row images, thousands in a repair, checked at every
// write of the state. Decode has parsed them already, and Encode refuses
// invalid JSON as it writes it.
func objectStart(what string, raw json.RawMessage, nilOK bool) error {
	if raw == nil || (nilOK && string(raw) == "null") {
		if nilOK {
			return nil
		}
		return fmt.Errorf("%s is missing", what)
	}
	for _, c := range raw {
		if c == '{' {
			return nil
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
	}
	return fmt.Errorf("%s must be a JSON object, found %.40s", what, raw)
}
