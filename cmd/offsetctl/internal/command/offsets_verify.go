package command

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

type offsetsVerifyOptions struct {
	deps     *Deps
	g        *globalOptions
	fileOnly bool
	markdown bool
}

func newOffsetsVerifyCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &offsetsVerifyOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "verify BACKUP",
		Short: "Check a backup's checksum and format, and compare it with the live offsets",
		Long: `verify reads BACKUP (a file offsetctl offsets backup wrote), checks its format_version
and checksum, and then — unless --file-only — reads the live offsets of the connectors it
holds (source records from the offsets topic, sink groups from Kafka; --bootstrap-servers
and --connect-url) and says, partition by partition, what moved since it was taken: the
same bytes, a different value, a partition that is new, or one that is gone. It changes
nothing.

Exit status: 0 the backup is sound and every offset is what it holds, 2 the backup is
sound but offsets moved since (the normal case for an old backup; after a restore or a
drill, the proof that something is not back), 1 the backup is damaged or cannot be
compared.`,
		Example: `  offsetctl offsets verify backups/offsets-20261120T140000Z.json
  offsetctl offsets verify --file-only pre-surgery.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.markdown && o.g.JSON {
				return flagErrorf("-json and --markdown cannot be combined")
			}
			return offsetsVerifyRun(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.fileOnly, "file-only", false, "check the file only; do not read the live offsets")
	cmd.Flags().BoolVar(&o.markdown, "markdown", false, "print Markdown instead of text")
	return cmd
}

func offsetsVerifyRun(ctx context.Context, o *offsetsVerifyOptions, file string) error {
	b, err := offsets.ReadBackup(file)
	if err != nil {
		return withHint(fmt.Errorf("the backup %s is not sound: %w", file, err), "Use another backup: a damaged one must not be restored.")
	}
	v := &views.VerifyResult{FormatVersion: views.OffsetsVerifyFormat, File: filepath.Clean(file), TakenAt: b.TakenAt, Sound: true, Connectors: len(b.Connectors)}
	if !o.fileOnly {
		live, err := readLiveForBackup(ctx, o.deps, o.g, b)
		if err != nil {
			return err
		}
		v.Changes = compareBackup(b, live)
		v.Compared = true
	}
	if err := views.NewOffsetsVerify(o.deps.Streams, o.g.JSON, o.markdown).Result(v); err != nil {
		return err
	}
	if v.Moved() {
		return &exitError{code: ExitChanges}
	}
	return nil
}

// liveOffsets is the live position of the connectors a backup holds.
type liveOffsets struct {
	source map[string][]offsets.Record // by connector
	sink   map[string]*offsets.SinkGroup
}

// readLiveForBackup reads, with pkg/offsets' read functions, the live
// offsets of every connector in b.
func readLiveForBackup(ctx context.Context, deps *Deps, g *globalOptions, b *offsets.Backup) (*liveOffsets, error) {
	kc, err := g.kafkaClient()
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	topic := g.OffsetsTopic
	if b.OffsetsTopic != "" && topic == "" {
		topic = b.OffsetsTopic
	}
	live := &liveOffsets{source: map[string][]offsets.Record{}, sink: map[string]*offsets.SinkGroup{}}
	var snap *offsets.TopicSnapshot
	for _, c := range b.Connectors {
		switch c.Type {
		case offsets.ConnectorTypeSource:
			if snap == nil {
				if snap, err = readOffsetsTopic(ctx, kc, topic); err != nil {
					return nil, g.kafkaError(err)
				}
			}
			live.source[c.Name] = snap.Connector(c.Name)
		case offsets.ConnectorTypeSink:
			var topics []string
			for _, s := range c.Sink {
				topics = append(topics, s.Topic)
			}
			grp, err := readSinkGroup(ctx, kc, c.Name, c.Group, uniqueNames(topics))
			if err != nil {
				return nil, g.kafkaError(err)
			}
			live.sink[c.Name] = grp
		}
	}
	return live, nil
}

// compareBackup lists what differs between a backup and the live offsets:
// a source record whose value bytes differ, is new or gone; a sink
// partition whose committed offset differs, is new or gone.
func compareBackup(b *offsets.Backup, live *liveOffsets) []views.VerifyChange {
	var out []views.VerifyChange
	for _, c := range b.Connectors {
		switch c.Type {
		case offsets.ConnectorTypeSource:
			seen := map[string]bool{}
			recs := live.source[c.Name]
			for _, want := range c.Source {
				seen[string(want.Key)] = true
				var got *offsets.Record
				for i := range recs {
					if bytes.Equal(recs[i].Key, want.Key) {
						got = &recs[i]
					}
				}
				was := "null"
				if want.Offset != nil {
					was = want.Offset.String()
				}
				switch {
				case got == nil && want.Offset != nil:
					out = append(out, views.VerifyChange{Connector: c.Name, Partition: want.Partition.String(), Kind: "gone", Backup: was})
				case got != nil && was != got.Offset.String():
					out = append(out, views.VerifyChange{Connector: c.Name, Partition: want.Partition.String(), Kind: "moved", Backup: was, Live: got.Offset.String()})
				}
			}
			for _, r := range recs {
				if !seen[string(r.Key)] {
					out = append(out, views.VerifyChange{Connector: c.Name, Partition: r.Partition.String(), Kind: "new", Live: r.Offset.String()})
				}
			}
		case offsets.ConnectorTypeSink:
			grp := live.sink[c.Name]
			seen := map[string]bool{}
			for _, want := range c.Sink {
				key := fmt.Sprintf("%s[%d]", want.Topic, want.Partition)
				seen[key] = true
				got, ok := grp.Lookup(want.Topic, want.Partition)
				switch {
				case !ok || got.Committed < 0:
					if want.Committed >= 0 {
						out = append(out, views.VerifyChange{Connector: c.Name, Partition: key, Kind: "gone", Backup: fmt.Sprint(want.Committed)})
					}
				case got.Committed != want.Committed:
					out = append(out, views.VerifyChange{Connector: c.Name, Partition: key, Kind: "moved", Backup: fmt.Sprint(want.Committed), Live: fmt.Sprint(got.Committed)})
				}
			}
			for _, so := range grp.Offsets {
				key := fmt.Sprintf("%s[%d]", so.Topic, so.Partition)
				if !seen[key] && so.Committed >= 0 {
					out = append(out, views.VerifyChange{Connector: c.Name, Partition: key, Kind: "new", Live: fmt.Sprint(so.Committed)})
				}
			}
		}
	}
	return out
}
