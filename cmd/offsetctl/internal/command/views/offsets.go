package views

import (
	"fmt"
	"text/tabwriter"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// OffsetsList is what offsetctl offsets show shows. Its JSON fields are in
// the order the untyped map before it wrote them (sorted), byte for byte.
type OffsetsList struct {
	ConnectURL    string             `json:"connect_url"`
	Connectors    []ConnectorOffsets `json:"connectors"`
	FormatVersion int                `json:"format_version"`
	// Orphans are the connector names the offsets topic holds offsets for
	// that no connector has now (read when --bootstrap-servers is set).
	Orphans       []OrphanOffsets `json:"orphans,omitempty"`
	WorkerVersion string          `json:"worker_version"`
}

// OrphanOffsets are the offsets stored for a connector name that no
// connector has now: a connector created under that name resumes from them.
type OrphanOffsets struct {
	Name string `json:"name"`
	// NewestOffset is when the newest of them was written (RFC 3339).
	NewestOffset string `json:"newest_offset"`
	// DeletedAt is when the connector was deleted, per the config topic
	// (RFC 3339); empty when that is not known.
	DeletedAt string         `json:"deleted_at,omitempty"`
	Source    []SourceOffset `json:"source"`
}

// ConnectorOffsets is one connector's offsets as shown.
type ConnectorOffsets struct {
	Name    string         `json:"name"`
	Type    string         `json:"type"`
	State   string         `json:"state"`
	Class   string         `json:"class"`
	Format  string         `json:"format,omitempty"`
	ReadVia string         `json:"read_via"`
	Group   string         `json:"group,omitempty"`
	Source  []SourceOffset `json:"source,omitempty"`
	Sink    []SinkOffset   `json:"sink,omitempty"`
	// Decoded holds, for the text, each source offset decoded by the
	// connector's codec (-json prints the exact values instead).
	Decoded [][]offsets.DisplayField `json:"-"`
}

// SourceOffset is a source partition and its offset, exactly as stored.
type SourceOffset struct {
	Key       string      `json:"key,omitempty"`
	Partition offsets.Map `json:"partition"`
	Offset    offsets.Map `json:"offset"`
}

// SinkOffset is a topic partition's committed offset (-1: none), with the
// log's bounds when Kafka was read.
type SinkOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogStart  *int64 `json:"log_start,omitempty"`
	LogEnd    *int64 `json:"log_end,omitempty"`
}

// BackupSummary is what offsetctl offsets backup wrote. Its JSON fields are
// in the order the untyped map before it wrote them (sorted), byte for byte.
type BackupSummary struct {
	Connectors       int    `json:"connectors"`
	File             string `json:"file"`
	FormatVersion    int    `json:"format_version"`
	SinkPartitions   int    `json:"sink_partitions"`
	SourcePartitions int    `json:"source_partitions"`
}

// Offsets is the view of offsetctl offsets show and backup.
type Offsets struct{ *View }

// NewOffsets returns the view of the offsets commands.
func NewOffsets(streams *iostreams.Streams, asJSON bool) *Offsets {
	return &Offsets{NewView(streams, asJSON)}
}

// Pruned says a scheduled backup older than --keep or --keep-within was
// deleted (offsets backup --dir), on stderr.
func (v *Offsets) Pruned(path string) {
	fmt.Fprintf(v.streams.Err, "pruned %s\n", path)
}

// InvalidRecord warns about a record of the offsets topic that is not a
// valid Connect offset record; backup says it is not backed up.
func (v *Offsets) InvalidRecord(topic string, what fmt.Stringer, backup bool) {
	if backup {
		v.Warn(fmt.Sprintf("offsets topic %s: %s (not backed up: it is not a valid Connect offset record)", topic, what))
		return
	}
	v.Warn(fmt.Sprintf("offsets topic %s: %s", topic, what))
}

// Show writes the connectors' offsets on stdout: decoded for a person, or
// exact in JSON.
func (v *Offsets) Show(l OffsetsList) error {
	out := v.streams.Out
	if v.json {
		l.FormatVersion = OffsetsFormat
		return encodeJSON(out, l, false)
	}
	for i, c := range l.Connectors {
		if i > 0 {
			fmt.Fprintln(out)
		}
		switch c.Type {
		case "source":
			fmt.Fprintf(out, "%s (source, %s, format %s; read from the %s)\n", c.Name, c.State, c.Format, c.ReadVia)
			if len(c.Source) == 0 {
				fmt.Fprintln(out, "  no stored offsets: the connector will start as new (snapshot per its snapshot.mode)")
			}
			for j, s := range c.Source {
				fmt.Fprintf(out, "  partition %s\n", s.Partition)
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				for _, f := range c.Decoded[j] {
					if f.Partition {
						continue
					}
					fmt.Fprintf(tw, "    %s\t%s\n", f.Key, f.Text)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
		case "sink":
			fmt.Fprintf(out, "%s (sink, %s, consumer group %s; read from %s)\n", c.Name, c.State, c.Group, c.ReadVia)
			if len(c.Sink) == 0 {
				fmt.Fprintln(out, "  no committed offsets: the connector starts per auto.offset.reset (earliest by default)")
				continue
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TOPIC\tPARTITION\tCOMMITTED\tLOG START\tLOG END\tLAG")
			for _, s := range c.Sink {
				start, end, lag := "-", "-", "-"
				if s.LogStart != nil && s.LogEnd != nil {
					start, end = fmt.Sprint(*s.LogStart), fmt.Sprint(*s.LogEnd)
					if s.Committed >= 0 {
						lag = fmt.Sprint(*s.LogEnd - s.Committed)
					}
				}
				committed := "none"
				if s.Committed >= 0 {
					committed = fmt.Sprint(s.Committed)
				}
				fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", s.Topic, s.Partition, committed, start, end, lag)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	if len(l.Orphans) == 0 {
		return nil
	}
	if len(l.Connectors) > 0 {
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "Offsets stored for connectors that do not exist (a connector created under the name resumes from them):")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tPARTITIONS\tNEWEST OFFSET WRITTEN\tDELETED")
	for _, o := range l.Orphans {
		deleted := "unknown"
		if o.DeletedAt != "" {
			deleted = o.DeletedAt
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", o.Name, len(o.Source), o.NewestOffset, deleted)
	}
	return tw.Flush()
}

// Backup says what was backed up where, and how to restore it.
func (v *Offsets) Backup(b BackupSummary) error {
	if v.json {
		b.FormatVersion = OffsetsFormat
		return encodeJSON(v.streams.Out, b, false)
	}
	_, err := fmt.Fprintf(v.streams.Out, "Backed up %d %s (%d source %s, %d sink %s) to %s; read back and checksum verified.\nRestore it with an offsets block (restore = %q) or offsetctl offsets restore %s.\n",
		b.Connectors, pluralWord(b.Connectors, "connector", "connectors"), b.SourcePartitions, pluralWord(b.SourcePartitions, "partition", "partitions"),
		b.SinkPartitions, pluralWord(b.SinkPartitions, "partition", "partitions"), b.File, b.File, b.File)
	return err
}
