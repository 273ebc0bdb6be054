package offsets

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/offsetctl/offsetctl/internal/atomicfile"

	"io/fs"
)

// backupV1 is the wire form of format_version 1. Field order is the order
// written.
type backupV1 struct {
	FormatVersion    int           `json:"format_version"`
	OffsetctlVersion string        `json:"offsetctl_version"`
	TakenAt          string        `json:"taken_at"`
	ConnectClusterID string        `json:"connect_cluster_id"`
	OffsetsTopic     string        `json:"offsets_topic"`
	Connectors       []connectorV1 `json:"connectors"`
	Checksum         string        `json:"checksum,omitempty"`
}

type connectorV1 struct {
	Name          string           `json:"name"`
	Type          string           `json:"type"`
	Class         string           `json:"class"`
	SourceOffsets []sourceOffsetV1 `json:"source_offsets,omitempty"`
	GroupID       string           `json:"group_id,omitempty"`
	SinkOffsets   []sinkOffsetV1   `json:"sink_offsets,omitempty"`
}

type sourceOffsetV1 struct {
	KeyBase64      string `json:"key_base64"`
	KeyText        string `json:"key_text"`
	Connector      string `json:"connector"`
	Partition      *Map   `json:"partition"`
	Offset         *Map   `json:"offset"`
	TopicPartition int32  `json:"topic_partition"`
	TopicOffset    int64  `json:"topic_offset"`
}

type sinkOffsetV1 struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
}

const checksumPrefix = "sha256:"

// MarshalBackup returns the file bytes of b: format_version 1, pretty
// printed with two-space indentation and a trailing newline, connectors and
// offsets in canonical order, and a checksum over the rest of the content.
func MarshalBackup(b *Backup) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("encoding offsets backup: %w", err)
	}
	w := toWire(b.sorted())
	sum, err := backupChecksum(w)
	if err != nil {
		return nil, err
	}
	w.Checksum = sum
	return encodeJSON(w, "  ")
}

func toWire(b *Backup) *backupV1 {
	w := &backupV1{
		FormatVersion:    BackupFormatVersion,
		OffsetctlVersion: b.OffsetctlVersion,
		TakenAt:          b.TakenAt.UTC().Format(time.RFC3339Nano),
		ConnectClusterID: b.ConnectClusterID,
		OffsetsTopic:     b.OffsetsTopic,
		Connectors:       []connectorV1{},
	}
	for _, c := range b.Connectors {
		wc := connectorV1{Name: c.Name, Type: c.Type, Class: c.Class, GroupID: c.Group}
		for _, o := range c.Source {
			p := o.Partition
			wc.SourceOffsets = append(wc.SourceOffsets, sourceOffsetV1{
				KeyBase64: base64.StdEncoding.EncodeToString(o.Key), KeyText: string(o.Key),
				Connector: o.Connector, Partition: &p, Offset: o.Offset,
				TopicPartition: o.TopicPartition, TopicOffset: o.TopicOffset,
			})
		}
		for _, o := range c.Sink {
			wc.SinkOffsets = append(wc.SinkOffsets, sinkOffsetV1{
				Topic: o.Topic, Partition: o.Partition, Committed: o.Committed, LogStart: o.LogStart, LogEnd: o.LogEnd,
			})
		}
		w.Connectors = append(w.Connectors, wc)
	}
	return w
}

// backupChecksum is sha256 over the compact JSON of w without its checksum
// field. The JSON is produced by this package's encoder from the decoded
// content, so whitespace and key order in the file do not matter, while
// any change of content does.
func backupChecksum(w *backupV1) (string, error) {
	c := *w
	c.Checksum = ""
	canonical, err := encodeJSON(&c, "")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return checksumPrefix + hex.EncodeToString(sum[:]), nil
}

func encodeJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding offsets backup: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBackup reads backup file bytes. It sniffs format_version first
// and refuses any version but 1 naming the version and the offsetctl that
// wrote it; it then decodes strictly (unknown fields, trailing data and
// missing required fields are refused) and verifies the checksum, so a
// hand-edited backup is refused.
func UnmarshalBackup(data []byte) (*Backup, error) {
	var sniff struct {
		FormatVersion    json.RawMessage `json:"format_version"`
		OffsetctlVersion string          `json:"offsetctl_version"`
	}
	if err := json.Unmarshal(data, &sniff); err != nil {
		return nil, fmt.Errorf("reading offsets backup: not a JSON object (truncated or not a backup?): %w", err)
	}
	if sniff.FormatVersion == nil {
		return nil, errors.New("reading offsets backup: format_version is missing: this is not an offsetctl offsets backup")
	}
	var version int64
	if err := json.Unmarshal(sniff.FormatVersion, &version); err != nil {
		return nil, fmt.Errorf("reading offsets backup: format_version must be an integer, got %s", sniff.FormatVersion)
	}
	if version != BackupFormatVersion {
		writer := sniff.OffsetctlVersion
		if writer == "" {
			writer = "an unknown version"
		}
		hint := "this offsetctl reads only format_version 1"
		if version > BackupFormatVersion {
			hint += ": upgrade offsetctl to read it"
		}
		return nil, fmt.Errorf("reading offsets backup: %w %d (written by offsetctl %s); %s", ErrBackupVersion, version, writer, hint)
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w backupV1
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("reading offsets backup: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("reading offsets backup: unexpected data after the JSON document")
	}
	if err := checkRequired(data); err != nil {
		return nil, fmt.Errorf("reading offsets backup: %w", err)
	}
	if !strings.HasPrefix(w.Checksum, checksumPrefix) {
		return nil, fmt.Errorf("reading offsets backup: checksum is missing or not %q followed by hex digits", checksumPrefix)
	}
	want, err := backupChecksum(&w)
	if err != nil {
		return nil, err
	}
	if want != w.Checksum {
		return nil, fmt.Errorf("reading offsets backup: %w: the file says %s but its content hashes to %s; it was edited or damaged after offsetctl wrote it: restore from an unedited copy", ErrBackupChecksum, w.Checksum, want)
	}
	b, err := fromWire(&w)
	if err != nil {
		return nil, fmt.Errorf("reading offsets backup: %w", err)
	}
	return b, nil
}

// checkRequired refuses documents that omit fields whose zero value would
// otherwise be taken silently.
func checkRequired(data []byte) error {
	var doc struct {
		TakenAt    *string           `json:"taken_at"`
		Topic      *string           `json:"offsets_topic"`
		Connectors *[]map[string]any `json:"connectors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	switch {
	case doc.TakenAt == nil:
		return errors.New("taken_at is missing")
	case doc.Topic == nil:
		return errors.New("offsets_topic is missing")
	case doc.Connectors == nil:
		return errors.New("connectors is missing")
	}
	for i, c := range *doc.Connectors {
		for _, k := range []string{"name", "type", "class"} {
			if _, ok := c[k]; !ok {
				return fmt.Errorf("connectors[%d]: %s is missing", i, k)
			}
		}
		if so, ok := c["source_offsets"].([]any); ok {
			for j, o := range so {
				om, _ := o.(map[string]any)
				for _, k := range []string{"key_base64", "key_text", "connector", "partition", "offset", "topic_partition", "topic_offset"} {
					if _, ok := om[k]; !ok {
						return fmt.Errorf("connectors[%d].source_offsets[%d]: %s is missing", i, j, k)
					}
				}
			}
		}
		if so, ok := c["sink_offsets"].([]any); ok {
			for j, o := range so {
				om, _ := o.(map[string]any)
				for _, k := range []string{"topic", "partition", "committed", "log_start", "log_end"} {
					if _, ok := om[k]; !ok {
						return fmt.Errorf("connectors[%d].sink_offsets[%d]: %s is missing", i, j, k)
					}
				}
			}
		}
	}
	return nil
}

func fromWire(w *backupV1) (*Backup, error) {
	taken, err := time.Parse(time.RFC3339Nano, w.TakenAt)
	if err != nil {
		return nil, fmt.Errorf("taken_at %q is not an RFC 3339 time", w.TakenAt)
	}
	b := &Backup{
		OffsetctlVersion: w.OffsetctlVersion, TakenAt: taken.UTC(),
		ConnectClusterID: w.ConnectClusterID, OffsetsTopic: w.OffsetsTopic,
	}
	for _, wc := range w.Connectors {
		c := BackupConnector{Name: wc.Name, Type: wc.Type, Class: wc.Class, Group: wc.GroupID}
		for j, o := range wc.SourceOffsets {
			key, err := base64.StdEncoding.DecodeString(o.KeyBase64)
			if err != nil {
				return nil, fmt.Errorf("connector %q source offset %d: key_base64 is not base64: %w", wc.Name, j, err)
			}
			if utf8.Valid(key) && string(key) != o.KeyText {
				return nil, fmt.Errorf("connector %q source offset %d: key_text %q differs from the key bytes in key_base64 %q", wc.Name, j, o.KeyText, key)
			}
			if o.Partition == nil {
				return nil, fmt.Errorf("connector %q source offset %d: partition is null", wc.Name, j)
			}
			c.Source = append(c.Source, BackupSourceOffset{
				Key: key, Connector: o.Connector, Partition: *o.Partition, Offset: o.Offset,
				TopicPartition: o.TopicPartition, TopicOffset: o.TopicOffset,
			})
		}
		for _, o := range wc.SinkOffsets {
			c.Sink = append(c.Sink, SinkOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.Committed, LogStart: o.LogStart, LogEnd: o.LogEnd})
		}
		b.Connectors = append(b.Connectors, c)
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadBackup reads and verifies the backup file at path (see UnmarshalBackup).
func ReadBackup(path string) (*Backup, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading offsets backup: %w", err)
	}
	b, err := UnmarshalBackup(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// WriteBackup writes b to a new file at path. It never overwrites: an
// existing path is an error wrapping fs.ErrExist. The write is atomic: the
// content goes to a temporary file in the same directory, is synced, and is
// then hard-linked to path (link fails if path exists, so the no-overwrite
// check and the publication are one step); the temporary name is removed
// and the directory synced. Readers never see a partial backup. Where hard
// links are not supported, the file is created with O_EXCL and written in
// place (a crash may leave a partial file; its checksum refuses it).
func WriteBackup(path string, b *Backup) error {
	data, err := MarshalBackup(b)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteNew(path, data, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("writing offsets backup: %s: %w: choose another name (backups are never overwritten)", path, os.ErrExist)
		}
		return fmt.Errorf("writing offsets backup: %w", err)
	}
	return nil
}
