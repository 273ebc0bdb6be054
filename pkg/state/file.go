package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FormatVersion is the newest state file format this offsetctl reads.
// Version 2 added the xmin of row after-images (which version 1 recorded as
// whole rows); version 3 the operation status incomplete and verified
// approvals; version 4 the operation kinds drill and check and the
// operations' risk classes; version 5 a connector's halt and saved
// configuration (delete-and-re-create on workers older than Kafka Connect
// 3.5). offsetctl writes the oldest version that can
// hold a state (never below 2), so that an older offsetctl keeps reading
// every state it can understand and refuses the others with "upgrade
// offsetctl"; it reads versions 1 to 5 as they are.
const FormatVersion = 5

// writtenVersion is the format_version Encode writes for s: the oldest
// that can hold it, never below 2.
func writtenVersion(s *State) int {
	for i := range s.Operations {
		if slices.ContainsFunc(s.Operations[i].Connectors, Connector.recreates) {
			return 5
		}
	}
	for i := range s.Operations {
		if s.Operations[i].Kind.Record() || len(s.Operations[i].RiskClasses) > 0 {
			return 4
		}
	}
	for i := range s.Operations {
		if s.Operations[i].Status == StatusIncomplete || len(s.Operations[i].VerifiedApprovals) > 0 {
			return 3
		}
	}
	return 2
}

// ErrUnreadable is wrapped by Decode's errors for a state file that is not a
// well-formed offsetctl state: truncated or corrupt JSON, a missing or
// malformed format_version, an unknown field, a value out of range, or a
// backup whose checksum does not match.
var ErrUnreadable = errors.New("state file is unreadable")

// VersionError is a state file written in a format this offsetctl does not
// read (newer than FormatVersion, or below 1).
type VersionError struct {
	// Found is the file's format_version; Writer the offsetctl_version that
	// wrote it, if recorded.
	Found  int
	Writer string
}

func (e *VersionError) Error() string {
	writer := "an unknown offsetctl version"
	if e.Writer != "" {
		writer = "offsetctl " + e.Writer
	}
	if e.Found > FormatVersion {
		return fmt.Sprintf("state format_version %d was written by %s; this offsetctl reads format_version %d at most: upgrade offsetctl to read it (and never edit it by hand)", e.Found, writer, FormatVersion)
	}
	return fmt.Sprintf("state format_version %d (written by %s) is not a version offsetctl ever wrote", e.Found, writer)
}

// Encode returns the state file bytes of s, recording offsetctlVersion as
// their writer: JSON indented by two spaces down to the elements of an
// operation's lists (steps, images, connectors) and of a backup's content,
// each of which is one compact line, with a trailing newline; deterministic
// for a given State. A repair's thousands of row images thus take a line
// each, and the lines of the row images of a State made by New or Decode are
// encoded once, not at every write. It refuses a State that Decode would
// refuse.
func Encode(s *State, offsetctlVersion string) ([]byte, error) {
	if err := validate(s); err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	// The document without the operations' images (before_images null),
	// indented; then each operation's images spliced in, a line each.
	skeleton, err := marshalCompact(toV1(s, offsetctlVersion, false))
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	doc := indentTo(nil, skeleton, lineDepth)
	size := len(doc)
	for i := range s.Operations {
		size += s.enc.size(s.Operations[i].BeforeImages) + s.enc.size(s.Operations[i].After) + len(",\n      \"after\": []")
	}
	out := make([]byte, 0, size+1)
	const hole = `"before_images": null`
	for i := range s.Operations {
		op := &s.Operations[i]
		at := bytes.Index(doc, []byte(hole))
		if at < 0 {
			return nil, fmt.Errorf("encoding state: operation %d has no place for its images", op.Serial)
		}
		out = append(out, doc[:at+len(hole)-len("null")]...)
		doc = doc[at+len(hole):]
		if out, err = s.enc.appendList(out, op.BeforeImages); err != nil {
			return nil, fmt.Errorf("encoding state: operation %d: before-images: %w", op.Serial, err)
		}
		if len(op.After) > 0 {
			out = append(out, ",\n      \"after\": "...)
			if out, err = s.enc.appendList(out, op.After); err != nil {
				return nil, fmt.Errorf("encoding state: operation %d: after-images: %w", op.Serial, err)
			}
		}
	}
	out = append(out, doc...)
	return append(out, '\n'), nil
}

// appendRowLine appends the compact JSON of an image as encoding/json writes
// its wire form (marshalCompact(imageToV1(im))), written directly for row
// images: a repair records thousands.
func appendRowLine(b []byte, im Image) ([]byte, error) {
	if im.Row == nil || im.Connector != "" || im.ConnectCluster != "" || im.Source != nil || im.Sink != nil {
		line, err := marshalCompact(imageToV1(im))
		return append(b, line...), err
	}
	r := im.Row
	b = append(b, `{"row":{`...)
	if r.Database != "" {
		b = append(b, `"database":`...)
		b = appendString(b, r.Database)
		b = append(b, ',')
	}
	b = append(b, `"table":`...)
	b = appendString(b, r.Table)
	b = append(b, `,"key":`...)
	b, err := appendRaw(b, r.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	b = append(b, `,"row":`...)
	if b, err = appendRaw(b, r.Row); err != nil {
		return nil, fmt.Errorf("row: %w", err)
	}
	if r.Xmin != "" {
		b = append(b, `,"xmin":`...)
		b = appendString(b, r.Xmin)
	}
	return append(b, "}}"...), nil
}

// appendString appends s as a JSON string as encoding/json writes it
// without HTML escaping: plain printable ASCII as it is, anything else
// through the encoder.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := marshalCompact(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends raw JSON compacted (null when nil), refusing invalid
// JSON, as encoding/json writes a json.RawMessage.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	if isCompact(raw) {
		return append(b, raw...), nil
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// marshalCompact is v as compact JSON, HTML characters unescaped.
func marshalCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// imageCache remembers the encoded line of each row image of a State, so
// that the writes of a repair, one per batch, each of the whole state,
// encode each image once. Row images are never changed once in a State (a
// RowImage changed in place would be written as it was). A nil cache
// encodes every time.
type imageCache struct {
	mu    sync.Mutex
	lines map[*RowImage][]byte
	// arena holds the lines, copied in blocks rather than one allocation
	// each.
	arena []byte
}

// keep stores a copy of line as the line of r.
func (c *imageCache) keep(r *RowImage, line []byte) {
	if cap(c.arena)-len(c.arena) < len(line) {
		c.arena = make([]byte, 0, max(1<<20, len(line)))
	}
	start := len(c.arena)
	c.arena = append(c.arena, line...)
	c.lines[r] = c.arena[start:len(c.arena):len(c.arena)]
}

func newImageCache() *imageCache { return &imageCache{lines: map[*RowImage][]byte{}} }

// size estimates the bytes of images' lines, with their separators: at
// least enough for row images of compact JSON whose names need no escaping.
func (c *imageCache) size(images []Image) int {
	n := 0
	for _, im := range images {
		if r := im.Row; r != nil {
			n += 64 + len(r.Database) + len(r.Table) + len(r.Key) + max(len(r.Row), 4) + len(r.Xmin)
		} else {
			n += 200
		}
	}
	return n
}

// appendList appends images as a JSON array at the indent of an operation's
// fields, one element per line.
func (c *imageCache) appendList(dst []byte, images []Image) ([]byte, error) {
	if len(images) == 0 {
		return append(dst, "[]"...), nil
	}
	dst, err := c.appendLines(append(dst, '['), images, "\n        ")
	if err != nil {
		return nil, err
	}
	return append(dst, "\n      ]"...), nil
}

// appendLines appends the compact JSON of each image, comma-separated, each
// after sep.
func (c *imageCache) appendLines(dst []byte, images []Image, sep string) ([]byte, error) {
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	for i, im := range images {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, sep...)
		cacheable := c != nil && im.Row != nil && im.Connector == "" && im.ConnectCluster == ""
		if cacheable {
			if line, ok := c.lines[im.Row]; ok {
				dst = append(dst, line...)
				continue
			}
		}
		start := len(dst)
		var err error
		if dst, err = appendRowLine(dst, im); err != nil {
			return nil, fmt.Errorf("%d: %w", i+1, err)
		}
		if cacheable {
			c.keep(im.Row, dst[start:])
		}
	}
	return dst, nil
}

// lineDepth is the nesting depth of the containers Encode writes on one line:
// the document is 1, its lists 2, an operation 3, its lists 4, their
// elements 5.
const lineDepth = 5

// indentTo appends the compact JSON src to dst, indented by two spaces per
// level for containers nested less than depth deep; deeper ones stay as they
// are (compact, on one line). src must be valid compact JSON.
func indentTo(dst, src []byte, depth int) []byte {
	level := 0 // containers open
	start := 0 // src[start:] is still to be copied
	// cut copies src up to end, then a line break and n levels of indent.
	cut := func(end, n int) {
		dst = append(dst, src[start:end]...)
		start = end
		dst = append(dst, '\n')
		for range n {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			// Skip the string: to its closing quote, past escapes.
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			level++
			if level < depth && i+1 < len(src) && src[i+1] != '}' && src[i+1] != ']' {
				cut(i+1, level)
			}
		case '}', ']':
			if level < depth && src[i-1] != '{' && src[i-1] != '[' {
				cut(i, level-1)
			}
			level--
		case ',':
			if level < depth {
				cut(i+1, level)
			}
		case ':':
			if level < depth {
				dst = append(dst, src[start:i+1]...)
				dst = append(dst, ' ')
				start = i + 1
			}
		}
	}
	return append(dst, src[start:]...)
}

// Decode parses state file bytes. It reads the format_version first and
// refuses a newer one with a *VersionError; it then decodes the current
// version strictly (unknown fields refused) and checks the document's
// invariants. A sealed (encrypted) document is refused with an
// *EncryptionError (DecodeSealed opens it). Other refusals wrap
// ErrUnreadable.
func Decode(data []byte) (*State, error) {
	if env := sniffSealed(data); env != nil {
		_, err := open(nil, env, kindState, "state")
		return nil, err
	}
	version, writer, err := sniffVersion(data)
	if err != nil {
		return nil, err
	}
	switch version {
	case 1, 2, 3, 4, 5:
		return decodeV1(data, version)
	default:
		return nil, &VersionError{Found: version, Writer: writer}
	}
}

// sniffVersion reads format_version and offsetctl_version without strictness.
func sniffVersion(data []byte) (version int, writer string, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return 0, "", fmt.Errorf("%w: the file is empty", ErrUnreadable)
	}
	var head struct {
		FormatVersion    json.RawMessage `json:"format_version"`
		OffsetctlVersion json.RawMessage `json:"offsetctl_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return 0, "", fmt.Errorf("%w: not valid JSON, the file is truncated or corrupt (%v at byte %d)", ErrUnreadable, err, se.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, "", fmt.Errorf("%w: not valid JSON, the file is truncated", ErrUnreadable)
		}
		return 0, "", fmt.Errorf("%w: not a JSON object: %v", ErrUnreadable, err)
	}
	_ = json.Unmarshal(head.OffsetctlVersion, &writer) // best effort, for messages
	if len(head.FormatVersion) == 0 || string(head.FormatVersion) == "null" {
		return 0, writer, fmt.Errorf("%w: it has no format_version, so it is not an offsetctl state file", ErrUnreadable)
	}
	v, err := strconv.Atoi(string(head.FormatVersion))
	if err != nil {
		return 0, writer, fmt.Errorf("%w: format_version must be an integer, found %s", ErrUnreadable, head.FormatVersion)
	}
	if v < 1 {
		return v, writer, &VersionError{Found: v, Writer: writer}
	}
	return v, writer, nil
}

func decodeV1(data []byte, version int) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w stateV1
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnreadable, wordDecodeError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: unexpected data after the state document", ErrUnreadable)
	}
	s, err := fromV1(&w, version)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	s.enc = newImageCache()
	if err := validate(s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if s.Serial == 0 {
		return nil, fmt.Errorf("%w: serial is 0, but a written state has serial 1 or more", ErrUnreadable)
	}
	return s, nil
}

// wordDecodeError rewords encoding/json's messages for an operator.
func wordDecodeError(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("field %q has the wrong type (found a JSON %s, want %s)", ute.Field, ute.Value, ute.Type)
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + rest + " (was the file edited by hand, or written by a newer offsetctl?)"
	}
	return msg
}

// compactJSON returns raw as compact JSON, refusing invalid JSON.
func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// MarshalOperation returns op as compact JSON in the shape it has in the
// state file (an element of "operations", format_version FormatVersion), for
// JSON output that embeds it.
func MarshalOperation(op *Operation) (json.RawMessage, error) {
	if err := validateOperation(op, 0); err != nil {
		return nil, fmt.Errorf("operation %d (%q): %w", op.Serial, op.Name, err)
	}
	return marshalCompact(operationToV1(op, true))
}
