package offsets

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/numfmt"
)

// Codec knows the offset format of one kind of source connector: it labels
// the fields of an offset for display, validates proposed offsets, and
// names the safety rules a plan must show. Codecs never change a map: keys
// they do not know are shown and kept verbatim.
type Codec interface {
	// Name is the format name used in configuration ("debezium-postgres").
	Name() string
	// Classes lists the connector.class values the codec is chosen for.
	Classes() []string
	// Decode labels the fields of partition and offset for display, known
	// fields first in the codec's order, then unknown ones in their order.
	Decode(partition, offset Map) []DisplayField
	// Validate checks a proposed offset for partition; previous is the
	// offset it replaces (nil for a new partition). It returns nil or a
	// *ValidationError listing every problem.
	Validate(partition, offset Map, previous *Map) error
	// SafetyNotes returns what an operator must know about replacing
	// previous (nil: none stored) with offset (nil: delete) for
	// partition: where the change cannot take effect, replays or skips.
	SafetyNotes(partition Map, previous, offset *Map) []SafetyNote
}

// DisplayField is one labelled field of an offset or partition.
type DisplayField struct {
	// Key is the JSON key, as stored.
	Key string
	// Text is the value for humans: an LSN as X/Y with its decimal value,
	// a timestamp in RFC 3339, or the raw JSON for fields the codec does
	// not know.
	Text string
	// Partition is set for fields of the partition map.
	Partition bool
	// Known is false for keys the codec does not know (kept verbatim).
	Known bool
}

func (f DisplayField) String() string { return f.Key + " " + f.Text }

// Problem is one thing wrong with a proposed offset.
type Problem struct {
	// Field is the offending key ("" for the offset as a whole).
	Field string
	// Code is a stable identifier for callers that branch on the kind of
	// problem: "missing", "type", "range", "format", "shape",
	// "snapshot-in-progress", "inconsistent", "stale-counter".
	Code string
	// Message says what is wrong and how to fix it.
	Message string
}

// ValidationError lists the problems of a proposed offset.
type ValidationError struct {
	Codec    string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return fmt.Sprintf("invalid %s offset: %s", e.Codec, strings.Join(msgs, "; "))
}

// Has reports whether the error lists a problem with code.
func (e *ValidationError) Has(code string) bool {
	for _, p := range e.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

// Except returns e without the problems whose code is in codes, or nil when
// none remain: a caller restoring an offset recorded from a real connector
// (a backup) may accept "inconsistent" or "stale-counter" problems that it
// would refuse in a hand-crafted offset.
func (e *ValidationError) Except(codes ...string) error {
	var kept []Problem
	for _, p := range e.Problems {
		skip := false
		for _, c := range codes {
			skip = skip || p.Code == c
		}
		if !skip {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &ValidationError{Codec: e.Codec, Problems: kept}
}

// SafetyNote is a rule the planner must show (and may turn into a check).
type SafetyNote struct {
	// Code is a stable identifier, e.g. "postgres-rewind-below-slot".
	Code string
	// Text explains the consequence and what to do.
	Text string
}

// Registry holds the codecs available to a run, built explicitly by the
// caller.
type Registry struct {
	codecs  []Codec
	byName  map[string]Codec
	byClass map[string]Codec
	generic Codec
}

// NewRegistry returns a registry with every built-in codec: Debezium
// PostgreSQL, MySQL/MariaDB and SQL Server, the Confluent JDBC source, and
// the generic fallback.
func NewRegistry() *Registry {
	r := &Registry{byName: map[string]Codec{}, byClass: map[string]Codec{}}
	for _, c := range []Codec{
		DebeziumPostgres{}, DebeziumMySQL{}, DebeziumSQLServer{}, JDBCSource{},
	} {
		_ = r.Register(c) // the built-ins are distinct (TestRegistry)
	}
	r.generic = Generic{}
	_ = r.Register(r.generic)
	return r
}

// Register adds a codec; its name and classes must not be taken.
func (r *Registry) Register(c Codec) error {
	if _, ok := r.byName[c.Name()]; ok {
		return fmt.Errorf("offset codec %q is already registered", c.Name())
	}
	for _, class := range c.Classes() {
		if other, ok := r.byClass[class]; ok {
			return fmt.Errorf("connector class %q is already handled by offset codec %q", class, other.Name())
		}
	}
	r.codecs = append(r.codecs, c)
	r.byName[c.Name()] = c
	for _, class := range c.Classes() {
		r.byClass[class] = c
	}
	return nil
}

// Names returns the registered codec names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.codecs))
	for _, c := range r.codecs {
		names = append(names, c.Name())
	}
	sort.Strings(names)
	return names
}

// Lookup returns the codec named name.
func (r *Registry) Lookup(name string) (Codec, bool) {
	c, ok := r.byName[name]
	return c, ok
}

// Choose returns the codec for a connector: the one named override when it
// is not empty, else the one registered for class, else the generic codec.
// An unknown override is an error listing the known names.
func (r *Registry) Choose(class, override string) (Codec, error) {
	if override != "" {
		c, ok := r.byName[override]
		if !ok {
			return nil, fmt.Errorf("unknown offset format %q: known formats are %s", override, strings.Join(r.Names(), ", "))
		}
		return c, nil
	}
	if c, ok := r.byClass[class]; ok {
		return c, nil
	}
	if r.generic == nil {
		return nil, fmt.Errorf("no offset format is registered for connector class %q", class)
	}
	return r.generic, nil
}

// fieldSpec describes one known field for decodeWith.
type fieldSpec struct {
	key    string
	render func(Value) string // nil: raw JSON
}

// decodeWith labels partition and offset fields: known ones in spec order,
// then unknown ones in map order, raw.
func decodeWith(partition, offset Map, partSpec, offSpec []fieldSpec) []DisplayField {
	var out []DisplayField
	emit := func(m Map, spec []fieldSpec, isPart bool) {
		known := map[string]bool{}
		for _, s := range spec {
			known[s.key] = true
			v, ok := m.Get(s.key)
			if !ok {
				continue
			}
			text := v.String()
			if s.render != nil {
				text = s.render(v)
			}
			out = append(out, DisplayField{Key: s.key, Text: text, Partition: isPart, Known: true})
		}
		for _, f := range m.Fields() {
			if !known[f.Key] {
				out = append(out, DisplayField{Key: f.Key, Text: f.Value.String(), Partition: isPart})
			}
		}
	}
	emit(partition, partSpec, true)
	emit(offset, offSpec, false)
	return out
}

// problems accumulates validation problems.
type problems struct {
	codec string
	list  []Problem
}

func (p *problems) add(field, code, format string, args ...any) {
	p.list = append(p.list, Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Codec: p.codec, Problems: p.list}
}

// requireString checks that m[key] is a string (non-empty when nonEmpty);
// missing is a problem only when required.
func (p *problems) requireString(where string, m Map, key string, required, nonEmpty bool) (string, bool) {
	v, ok := m.Get(key)
	if !ok {
		if required {
			p.add(key, "missing", "%s: %q is required", where, key)
		}
		return "", false
	}
	if v.Kind() != KindString {
		p.add(key, "type", "%s: %q must be a string, got %s %s", where, key, v.Kind(), v)
		return "", false
	}
	if nonEmpty && v.Text() == "" {
		p.add(key, "range", "%s: %q must not be empty", where, key)
		return "", false
	}
	return v.Text(), true
}

// intMode says what an integer field accepts.
type intMode int

const (
	strictInt  intMode = iota // a JSON integer (the loader casts to Long)
	lenientInt                // a JSON integer or a string holding one (OffsetUtils.longOffsetValue)
)

// requireInt checks that m[key] is an integer that fits a Java long and is
// at least minimum.
func (p *problems) requireInt(m Map, key string, required bool, mode intMode, minimum int64) (int64, bool) {
	v, ok := m.Get(key)
	if !ok {
		if required {
			p.add(key, "missing", "offset: %q is required", key)
		}
		return 0, false
	}
	var n int64
	switch {
	case mode == lenientInt:
		n, ok = v.Int64Lenient()
	default:
		n, ok = v.Int64()
	}
	if !ok {
		what := "an integer"
		if mode == lenientInt {
			what = "an integer (or a string holding one)"
		}
		if v.Kind() == KindNumber && !v.IsInteger() {
			p.add(key, "type", "offset: %q must be %s, got the decimal %s (Connect would store a Double)", key, what, v)
		} else if v.Kind() == KindNumber {
			p.add(key, "range", "offset: %q = %s does not fit a 64-bit signed integer (Java long)", key, v)
		} else {
			p.add(key, "type", "offset: %q must be %s, got %s %s", key, what, v.Kind(), v)
		}
		return 0, false
	}
	if n < minimum {
		p.add(key, "range", "offset: %q must be at least %d, got %d", key, minimum, n)
		return n, false
	}
	return n, true
}

// requireBool checks that an optional m[key] is a boolean.
func (p *problems) requireBool(m Map, key string) {
	if v, ok := m.Get(key); ok && v.Kind() != KindBool {
		p.add(key, "type", "offset: %q must be a boolean, got %s %s", key, v.Kind(), v)
	}
}

// checkPartitionKeys checks that partition has exactly the allowed keys, all
// strings, with the required ones present.
func (p *problems) checkPartitionKeys(partition Map, required []string, optional ...string) {
	allowed := map[string]bool{}
	for _, k := range required {
		allowed[k] = true
		p.requireString("partition", partition, k, true, true)
	}
	for _, k := range optional {
		allowed[k] = true
		p.requireString("partition", partition, k, false, true)
	}
	for _, k := range partition.Keys() {
		if !allowed[k] {
			all := append(append([]string(nil), required...), optional...)
			p.add(k, "shape", "partition: unexpected key %q (expected %s)", k, strings.Join(quoteAll(all), ", "))
		}
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

// snapshotInProgress reports whether an offset carries Debezium's markers
// of an unfinished snapshot: "snapshot": true (up to 3.0) or a snapshot type
// string (3.1+) without "snapshot_completed": true or
// "last_snapshot_record": true.
func snapshotInProgress(offset Map) bool {
	v, ok := offset.Get("snapshot")
	if !ok {
		return false
	}
	switch {
	case v.Kind() == KindBool && v.Text() == "true":
	case v.Kind() == KindString && v.Text() != "":
	default:
		return false
	}
	for _, done := range []string{"snapshot_completed", "last_snapshot_record"} {
		if d, ok := offset.Get(done); ok && d.Kind() == KindBool && d.Text() == "true" {
			return false
		}
	}
	return true
}

// checkSnapshot refuses a hand-crafted offset that records a snapshot in
// progress; restoring exactly the previous offset is allowed.
func (p *problems) checkSnapshot(offset Map, previous *Map) {
	if snapshotInProgress(offset) && (previous == nil || !previous.Equal(offset)) {
		p.add("snapshot", "snapshot-in-progress",
			"offset: it records a snapshot in progress (\"snapshot\" without \"snapshot_completed\": true); such offsets make the connector redo or continue the snapshot and must not be hand-crafted: use a streaming offset, or delete the offset to snapshot again")
	}
}

// incrementalSnapshotKeys are Debezium's incremental-snapshot offset keys.
var incrementalSnapshotKeys = []string{
	"incremental_snapshot_collections", "incremental_snapshot_primary_key",
	"incremental_snapshot_maximum_key", "incremental_snapshot_correlation_id",
}

// debeziumCommonNotes returns the notes every Debezium codec shares.
func debeziumCommonNotes(previous, offset *Map) []SafetyNote {
	var notes []SafetyNote
	if previous != nil {
		for _, k := range incrementalSnapshotKeys {
			if _, had := previous.Get(k); !had {
				continue
			}
			if offset == nil {
				notes = append(notes, SafetyNote{Code: "debezium-incremental-snapshot-dropped",
					Text: "an incremental snapshot is in progress in the stored offset; deleting the offset cancels it"})
				break
			}
			if _, has := offset.Get(k); !has {
				notes = append(notes, SafetyNote{Code: "debezium-incremental-snapshot-dropped",
					Text: fmt.Sprintf("the stored offset has %q (an incremental snapshot in progress) and the new one does not: the snapshot is silently cancelled; copy the incremental_snapshot_* keys verbatim to keep it", k)})
				break
			}
		}
	}
	if offset == nil && previous != nil {
		notes = append(notes, SafetyNote{Code: "debezium-offset-deleted",
			Text: "without an offset the connector starts as new: it snapshots according to snapshot.mode, then streams"})
	}
	return notes
}

// renderThousands shows an integer with separators, anything else raw.
func renderThousands(v Value) string {
	if n, ok := v.Int64Lenient(); ok {
		return numfmt.Thousands(n)
	}
	return v.String()
}

// renderUnixMicros shows microseconds since the epoch as UTC RFC 3339.
func renderUnixMicros(v Value) string {
	n, ok := v.Int64()
	if !ok {
		return v.String()
	}
	return time.UnixMicro(n).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// renderUnixSeconds shows seconds since the epoch as UTC RFC 3339.
func renderUnixSeconds(v Value) string {
	n, ok := v.Int64Lenient()
	if !ok {
		return v.String()
	}
	return time.Unix(n, 0).UTC().Format(time.RFC3339)
}

// renderUnixMillis shows milliseconds since the epoch as UTC RFC 3339.
func renderUnixMillis(v Value) string {
	n, ok := v.Int64Lenient()
	if !ok {
		return v.String()
	}
	return time.UnixMilli(n).UTC().Format("2006-01-02T15:04:05.000Z")
}
