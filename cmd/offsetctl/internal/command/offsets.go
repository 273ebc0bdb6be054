package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

func newOffsetsCmd(deps *Deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offsets",
		Short: "Show, back up and restore connectors' offsets",
		Long: `Read-only views of connectors' offsets, and the backup every surgery starts with.

Source offsets come from Kafka Connect's GET /offsets (3.5+) or, with
--bootstrap-servers, straight from the offsets topic; sink offsets from the
connector's consumer group, with each partition's log start and end.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newOffsetsShowCmd(deps, g), newOffsetsBackupCmd(deps, g), newOffsetsRestoreCmd(deps, g), newOffsetsVerifyCmd(deps, g))
	return cmd
}

type offsetsShowOptions struct {
	deps        *Deps
	g           *globalOptions
	format      string
	configTopic string
}

func newOffsetsShowCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &offsetsShowOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "show CONNECTOR...",
		Short: "Show connectors' offsets, decoded by their format (-json for the exact raw values)",
		Long: `Show the stored offsets of each named connector.

Source offsets are decoded by the connector's format (Debezium PostgreSQL LSNs as X/Y,
MySQL binlog positions, SQL Server change LSNs, JDBC source columns); the format is
chosen from connector.class, or with --format. Sink offsets are shown per topic
partition with the log start and end and the lag, when --bootstrap-servers is set.

With --bootstrap-servers, the offsets stored for connector names that no connector has
now (deleted connectors: one created again under the name resumes from them) are listed
after the connectors, with when the newest was written and, from the config topic
(--config-topic), when the connector was deleted; a named connector that does not exist
but has stored offsets is listed there instead of refused.

With -json every value is printed exactly as stored (64-bit numbers untouched).`,
		Example: `  offsetctl offsets show customers-source customers-sink
  offsetctl offsets show inventory -json | jq '.connectors[0].source[0].offset.lsn'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return offsetsShowRun(cmd.Context(), o, args) },
	}
	cmd.Flags().StringVar(&o.format, "format", "", "offset format to decode source offsets with (default: chosen from connector.class)")
	cmd.Flags().StringVar(&o.configTopic, "config-topic", offsets.DefaultConfigTopic, "the Connect config topic (config.storage.topic), read for when a deleted connector was deleted")
	return cmd
}

func offsetsShowRun(ctx context.Context, o *offsetsShowOptions, names []string) error {
	view := views.NewOffsets(o.deps.Streams, o.g.JSON)
	names = uniqueNames(names)
	c, err := o.g.connectClient(o.deps)
	if err != nil {
		return err
	}
	info, err := c.Root(ctx)
	if err != nil {
		return err
	}
	version, err := connect.ParseVersion(info.Version)
	if err != nil {
		return fmt.Errorf("kafka connect at %s: %w", c.URL(), err)
	}
	reg := offsets.NewRegistry()
	var kc *kgo.Client
	if o.g.BootstrapServers != "" {
		kc, err = o.g.kafkaClient()
		if err != nil {
			return err
		}
		defer kc.Close()
	}
	var snap *offsets.TopicSnapshot
	var shown []views.ConnectorOffsets
	readTopic := func() error {
		if snap != nil {
			return nil
		}
		if snap, err = readOffsetsTopic(ctx, kc, o.g.OffsetsTopic); err != nil {
			return o.g.kafkaError(err)
		}
		for _, bad := range snap.Invalid {
			view.InvalidRecord(o.g.OffsetsTopic, bad, false)
		}
		return nil
	}
	// Read at once for the orphans; a sink-only cluster may have no
	// offsets topic: its error is returned only when a source needs it.
	var topicErr error
	if kc != nil {
		topicErr = readTopic()
	}
	for _, name := range names {
		ci, err := c.Connector(ctx, name)
		if err != nil {
			if connect.IsNotFound(err) && snap != nil && len(snap.Connector(name)) > 0 {
				continue // listed with the orphans
			}
			if connect.IsNotFound(err) {
				return withHint(fmt.Errorf("connector %q does not exist on %s.%s", name, c.URL(), closestConnector(ctx, c, name)), "offsetctl connectors lists the connectors there.")
			}
			return err
		}
		v := views.ConnectorOffsets{Name: name, Type: string(ci.Type), Class: ci.Config["connector.class"], State: "UNKNOWN"}
		if st, err := c.Status(ctx, name); err == nil {
			v.State = string(st.Connector.State)
		}
		switch ci.Type {
		case connect.TypeSource:
			codec, err := reg.Choose(v.Class, o.format)
			if err != nil {
				return err
			}
			v.Format = codec.Name()
			if kc != nil {
				if snap == nil {
					return topicErr
				}
				v.ReadVia = "offsets topic " + o.g.OffsetsTopic
				for _, r := range snap.Connector(name) {
					v.Source = append(v.Source, views.SourceOffset{Key: string(r.Key), Partition: r.Partition, Offset: r.Offset})
				}
			} else {
				if !version.AtLeast(3, 5) {
					return withHint(fmt.Errorf("Kafka Connect %s has no GET /offsets (3.5+)", info.Version), "Set --bootstrap-servers to read the offsets topic instead.")
				}
				v.ReadVia = "Kafka Connect REST API"
				got, err := readREST(ctx, c, name, false)
				if err != nil {
					return err
				}
				for _, p := range got {
					if p.Offset != nil {
						v.Source = append(v.Source, views.SourceOffset{Partition: p.SourcePartition, Offset: *p.Offset})
					}
				}
				sort.Slice(v.Source, func(i, j int) bool { return v.Source[i].Partition.String() < v.Source[j].Partition.String() })
			}
			for _, s := range v.Source {
				v.Decoded = append(v.Decoded, codec.Decode(s.Partition, s.Offset))
			}
		case connect.TypeSink:
			v.Group = offsets.SinkGroupID(name, "", ci.Config)
			if kc != nil {
				if snap == nil {
					return topicErr
				}
				v.ReadVia = "Kafka"
				grp, err := readSinkGroup(ctx, kc, name, v.Group, splitTopics(ci.Config["topics"]))
				if err != nil {
					return o.g.kafkaError(err)
				}
				for _, so := range grp.Offsets {
					v.Sink = append(v.Sink, views.SinkOffset{Topic: so.Topic, Partition: so.Partition, Committed: so.Committed, LogStart: &so.LogStart, LogEnd: &so.LogEnd})
				}
			} else {
				if !version.AtLeast(3, 5) {
					return withHint(fmt.Errorf("Kafka Connect %s has no GET /offsets (3.5+)", info.Version), "Set --bootstrap-servers to read the consumer group instead.")
				}
				v.ReadVia = "the Kafka Connect REST API"
				got, err := readREST(ctx, c, name, true)
				if err != nil {
					return err
				}
				for _, p := range got {
					if p.Committed >= 0 {
						v.Sink = append(v.Sink, views.SinkOffset{Topic: p.Topic, Partition: p.Partition, Committed: p.Committed})
					}
				}
				sort.Slice(v.Sink, func(i, j int) bool {
					return v.Sink[i].Topic < v.Sink[j].Topic || v.Sink[i].Topic == v.Sink[j].Topic && v.Sink[i].Partition < v.Sink[j].Partition
				})
			}
		default:
			return fmt.Errorf("connector %q has type %q: offsetctl shows source and sink connectors", name, ci.Type)
		}
		shown = append(shown, v)
	}
	list := views.OffsetsList{ConnectURL: c.URL(), WorkerVersion: info.Version, Connectors: shown}
	if topicErr != nil {
		view.Warn(fmt.Sprintf("offsets of deleted connectors are not listed: %v", topicErr))
	}
	if snap != nil {
		if list.Orphans, err = orphanOffsets(ctx, c, kc, snap, o.configTopic, view); err != nil {
			return err
		}
	}
	return view.Show(list)
}

// orphanOffsets lists the connector names snap holds offsets for that no
// connector on c has now, with when the newest was written and, from the
// config topic, when the connector was deleted.
func orphanOffsets(ctx context.Context, c *connect.Client, kc *kgo.Client, snap *offsets.TopicSnapshot, configTopic string, view *views.Offsets) ([]views.OrphanOffsets, error) {
	existing, err := c.ListConnectors(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the connectors of %s to find offsets of deleted ones: %w", c.URL(), err)
	}
	exists := map[string]bool{}
	for _, n := range existing {
		exists[n] = true
	}
	var history *offsets.ConfigSnapshot
	var out []views.OrphanOffsets
	for _, name := range snap.Connectors() {
		if exists[name] {
			continue
		}
		if history == nil {
			if history, err = offsets.ReadConfigTopic(ctx, kc, configTopic); err != nil {
				view.Warn(fmt.Sprintf("the config topic %s could not be read, so when the connectors below were deleted is not shown: %v", configTopic, err))
				history = &offsets.ConfigSnapshot{}
			}
		}
		o := views.OrphanOffsets{Name: name, Source: []views.SourceOffset{}}
		var newest time.Time
		for _, r := range snap.Connector(name) {
			o.Source = append(o.Source, views.SourceOffset{Key: string(r.Key), Partition: r.Partition, Offset: r.Offset})
			if r.Timestamp.After(newest) {
				newest = r.Timestamp
			}
		}
		o.NewestOffset = newest.UTC().Format(time.RFC3339)
		if h := history.Connector(name); h != nil && h.Deleted {
			o.DeletedAt = h.DeletedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, o)
	}
	return out, nil
}

// kafkaError adds the fix to an error from reading Kafka: a broker that
// cannot be dialled is most often a wrong --bootstrap-servers.
func (g *globalOptions) kafkaError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) {
		return withHint(err, "Check --bootstrap-servers (or OFFSETCTL_BOOTSTRAP_SERVERS): Kafka at "+g.BootstrapServers+" could not be reached.")
	}
	return err
}

// uniqueNames drops repeated connector names, keeping the first of each.
func uniqueNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func splitTopics(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

type offsetsBackupOptions struct {
	deps       *Deps
	g          *globalOptions
	out        string
	all        bool
	dir        string
	keep       int
	keepWithin string
}

func newOffsetsBackupCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &offsetsBackupOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "backup [CONNECTOR... | --all] (-o FILE | --dir DIR [--keep N | --keep-within D])",
		Short: "Save connectors' offsets, exactly, to a versioned and checksummed backup file",
		Long: `Save the offsets of the named connectors (or of every connector with --all) to FILE:
for source connectors every offsets-topic record exactly as stored (key bytes, value,
and the topic partition and offset it was read at); for sink connectors the consumer
group's committed offset per partition with the log start and end.

The file carries a format_version and a checksum; restoring it later (an offsets block
with restore = "FILE", or offsetctl offsets restore) verifies both. An existing FILE is
never overwritten. Needs --bootstrap-servers: the exact key bytes live in Kafka.

For a schedule (the runbook wants hourly backups), --dir DIR writes
DIR/offsets-YYYYMMDDTHHMMSSZ.json (UTC) and then prunes the older scheduled backups of
DIR: --keep N keeps the newest N, --keep-within D those taken within D (like 7d, 36h).
Only files named so are ever pruned, and never the one just written. offsetctl check
--backup-dir DIR reports the age of the newest one; offsetctl offsets verify checks one.`,
		Example: `  offsetctl offsets backup --all -o backups/offsets-$(date -u +%Y%m%dT%H%M%SZ).json
  offsetctl offsets backup inventory-source orders-sink -o pre-surgery.json
  offsetctl offsets backup --all --dir /var/lib/offsetctl/backups --keep-within 7d`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.out == "") == (o.dir == "") {
				return flagErrorf("-o FILE is required, or --dir DIR for a scheduled backup (one of them)")
			}
			if o.dir == "" && (o.keep != 0 || o.keepWithin != "") {
				return flagErrorf("--keep and --keep-within prune the scheduled backups of --dir; give --dir")
			}
			var within time.Duration
			if o.keepWithin != "" {
				d, err := parseRetention(o.keepWithin)
				if err != nil {
					return flagErrorf("--keep-within %q: %v", o.keepWithin, err)
				}
				within = d
			}
			if o.keep < 0 || (o.keep > 0 && o.keepWithin != "") {
				return flagErrorf("--keep is a positive number, and --keep and --keep-within cannot be combined")
			}
			if o.dir != "" {
				o.out = filepath.Join(o.dir, "offsets-"+o.deps.Now().UTC().Format(backupNameLayout)+".json")
				if err := offsetsBackupRun(cmd.Context(), o, args); err != nil {
					return err
				}
				return pruneBackups(o.deps, o.dir, o.out, o.keep, within)
			}
			if o.all == (len(args) > 0) {
				return flagErrorf("name the connectors to back up, or give --all (not both)")
			}
			return offsetsBackupRun(cmd.Context(), o, args)
		},
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "the backup file to create (never overwritten)")
	cmd.Flags().BoolVar(&o.all, "all", false, "back up every connector of the cluster")
	cmd.Flags().StringVar(&o.dir, "dir", "", "write a timestamped backup into this directory (for a schedule)")
	cmd.Flags().IntVar(&o.keep, "keep", 0, "with --dir: keep the newest N scheduled backups, delete the older ones")
	cmd.Flags().StringVar(&o.keepWithin, "keep-within", "", "with --dir: keep the scheduled backups taken within this long (7d, 36h), delete the older ones")
	return cmd
}

func offsetsBackupRun(ctx context.Context, o *offsetsBackupOptions, names []string) error {
	names = uniqueNames(names) // a backup holds each connector once
	if _, err := os.Lstat(o.out); err == nil {
		return fmt.Errorf("%s already exists: backups are never overwritten; choose another name", o.out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", o.out, err)
	}
	// Fail before reading anything when the file cannot be created there.
	if _, err := os.Stat(filepath.Dir(o.out)); err != nil {
		return fmt.Errorf("cannot create %s: %w; create the directory or choose another path", o.out, err)
	}
	c, err := o.g.connectClient(o.deps)
	if err != nil {
		return err
	}
	kc, err := o.g.kafkaClient()
	if err != nil {
		return err
	}
	defer kc.Close()
	info, err := c.Root(ctx)
	if err != nil {
		return err
	}
	if o.all {
		if names, err = c.ListConnectors(ctx); err != nil {
			return err
		}
	}
	snap, err := readOffsetsTopic(ctx, kc, o.g.OffsetsTopic)
	if err != nil {
		return o.g.kafkaError(err)
	}
	view := views.NewOffsets(o.deps.Streams, o.g.JSON)
	for _, bad := range snap.Invalid {
		view.InvalidRecord(o.g.OffsetsTopic, bad, true)
	}
	b := &offsets.Backup{OffsetctlVersion: Version, TakenAt: o.deps.Now().UTC(), ConnectClusterID: info.KafkaClusterID, OffsetsTopic: o.g.OffsetsTopic}
	var nSource, nSink int
	for _, name := range names {
		ci, err := c.Connector(ctx, name)
		if err != nil {
			if connect.IsNotFound(err) {
				return withHint(fmt.Errorf("connector %q does not exist on %s.%s", name, c.URL(), closestConnector(ctx, c, name)), "offsetctl connectors lists the connectors there.")
			}
			return err
		}
		class := ci.Config["connector.class"]
		switch ci.Type {
		case connect.TypeSource:
			recs := snap.Connector(name)
			b.Connectors = append(b.Connectors, offsets.SourceBackup(name, class, recs))
			nSource += len(recs)
		case connect.TypeSink:
			grp, err := readSinkGroup(ctx, kc, name, offsets.SinkGroupID(name, "", ci.Config), splitTopics(ci.Config["topics"]))
			if err != nil {
				return o.g.kafkaError(err)
			}
			b.Connectors = append(b.Connectors, offsets.SinkBackup(name, class, grp))
			nSink += len(grp.Offsets)
		default:
			return fmt.Errorf("connector %q has type %q: offsetctl backs up source and sink connectors", name, ci.Type)
		}
	}
	if err := offsets.WriteBackup(o.out, b); err != nil {
		return err
	}
	if _, err := offsets.ReadBackup(o.out); err != nil {
		return fmt.Errorf("the backup was written but does not read back: %w", err)
	}
	return view.Backup(views.BackupSummary{File: o.out, Connectors: len(b.Connectors), SourcePartitions: nSource, SinkPartitions: nSink})
}

// closestConnector returns ` Did you mean "x"?` for the connector on c whose
// name is closest to name, or "" when none is close or the list cannot be
// read (the error that brought us here says enough).
func closestConnector(ctx context.Context, c *connect.Client, name string) string {
	names, err := c.ListConnectors(ctx)
	if err != nil {
		return ""
	}
	return config.Suggest(name, names)
}
