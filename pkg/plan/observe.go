package plan

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/schemahistory"
	"github.com/offsetctl/offsetctl/pkg/sourcedb"
)

// observer reads the world once per connector and cluster.
type observer struct {
	pl       *Planner
	cfg      *config.Config
	cache    map[string]*ConnectorObservation
	clusters map[string]*clusterInfo
	checks   []Check
	// topicReads and configReads keep what was read of a Kafka cluster's
	// offsets and config topics: every connector of a plan reads the
	// same topics, so each is read once per plan, not once per connector.
	topicReads  map[string][2]*offsets.TopicSnapshot
	configReads map[string]*offsets.ConfigSnapshot
}

// offsetsTopics reads a source connector's offsets topic (and the worker's
// behind its own, if any), once per plan for each cluster and topic pair.
// A failed read is not kept: its error names the connector.
func (o *observer) offsetsTopics(ctx context.Context, k *config.Kafka, loc offsets.Location) (primary, fallback *offsets.TopicSnapshot, err error) {
	key := k.Name + "\x00" + loc.OffsetsTopic + "\x00" + loc.FallbackTopic
	if got, ok := o.topicReads[key]; ok {
		return got[0], got[1], nil
	}
	if primary, fallback, err = offsets.NewReader(loc, nil, o.kafka(k)).Topics(ctx); err != nil {
		return nil, nil, err
	}
	if o.topicReads == nil {
		o.topicReads = map[string][2]*offsets.TopicSnapshot{}
	}
	o.topicReads[key] = [2]*offsets.TopicSnapshot{primary, fallback}
	return primary, fallback, nil
}

type clusterInfo struct {
	client  *connect.Client
	info    connect.ServerInfo
	version connect.Version
	verErr  error
}

func (o *observer) cluster(ctx context.Context, c *config.Connect) (*clusterInfo, error) {
	if ci := o.clusters[c.Name]; ci != nil {
		return ci, nil
	}
	cl, err := o.pl.Clients.Connect(c)
	if err != nil {
		return nil, err
	}
	info, err := cl.Root(ctx)
	if err != nil {
		return nil, err
	}
	ci := &clusterInfo{client: cl, info: info}
	ci.version, ci.verErr = connect.ParseVersion(info.Version)
	o.clusters[c.Name] = ci
	return ci, nil
}

// observeFor observes what one offsets block needs: its connector (with the
// topics the block names), the connector it copies from, the offsets of
// to_timestamp targets, and the backup it restores.
func (o *observer) observeFor(ctx context.Context, blk *config.Offsets, in *Inputs) error {
	var topics []string
	for _, sp := range blk.SinkPartitions {
		topics = append(topics, sp.Topic)
	}
	obs, err := o.connector(ctx, blk.Connector, topics)
	if err != nil {
		return err
	}
	in.Connectors[obs.Address] = obs
	if blk.CopyFrom != nil {
		from, err := o.connector(ctx, blk.CopyFrom, nil)
		if err != nil {
			return fmt.Errorf("observing %s to copy from: %w", blk.CopyFrom.Addr(), err)
		}
		in.Connectors[from.Address] = from
	}
	for _, sp := range blk.SinkPartitions {
		if sp.Target.Kind != config.TargetTimestamp || blk.Connector.Kafka == nil {
			continue
		}
		if err := o.timestamps(ctx, blk.Connector.Kafka, sp, in); err != nil {
			return err
		}
	}
	if blk.Kind == config.OpRestore {
		data, err := readRestore(o.cfg.Path(blk.Restore))
		if err != nil {
			o.checks = append(o.checks, Check{Severity: SeverityError, Code: "restore_unreadable", Operation: blk.Addr(), Message: err.Error()})
		} else {
			in.Restores[blk.Restore] = data
		}
	}
	return nil
}

func (o *observer) connector(ctx context.Context, cb *config.Connector, topics []string) (*ConnectorObservation, error) {
	if obs := o.cache[cb.Addr()]; obs != nil && len(topics) == 0 {
		return obs, nil
	}
	ci, err := o.cluster(ctx, cb.Connect)
	if err != nil {
		return nil, err
	}
	obs := &ConnectorObservation{Address: cb.Addr(), Name: cb.ConnectorName, Cluster: cb.Connect.Addr(),
		ConnectURL: ci.client.URL(), WorkerVersion: ci.info.Version, ClusterID: ci.info.KafkaClusterID, TaskStates: []string{}}
	if ci.verErr != nil {
		return nil, fmt.Errorf("cannot tell what the Kafka Connect worker supports: %w", ci.verErr)
	}
	info, err := ci.client.Connector(ctx, cb.ConnectorName)
	if connect.IsNotFound(err) {
		// For the message's "did you mean"; a worker that cannot list its
		// connectors leaves it out.
		obs.OtherNames, _ = ci.client.ListConnectors(ctx)
		o.cache[cb.Addr()] = obs
		return obs, nil
	}
	if err != nil {
		return nil, err
	}
	obs.Exists = true
	obs.Type = ConnectorType(info.Type)
	obs.Class = info.Config["connector.class"]
	obs.ConfigHash = ConfigHash(info.Config)
	obs.Codec = cb.Format
	if o.pl.Codecs != nil && obs.Type == Source {
		c, err := o.pl.Codecs.Choose(obs.Class, cb.Format)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cb.Addr(), err)
		}
		obs.Codec = c.Name()
	}
	st, err := ci.client.Status(ctx, cb.ConnectorName)
	switch {
	case connect.IsNotFound(err):
		obs.State = "UNKNOWN"
	case err != nil:
		return nil, err
	default:
		obs.State = string(st.Connector.State)
		for _, t := range st.Tasks {
			obs.TaskStates = append(obs.TaskStates, string(t.State))
		}
		if obs.Type == "" || obs.Type == "unknown" {
			obs.Type = ConnectorType(st.Type)
		}
	}
	// GET /offsets is Kafka Connect 3.5+, PATCH 3.6+.
	obs.ReadVia, obs.WriteVia = offsets.Paths(obs.Type == Sink, ci.version.AtLeast(3, 5), ci.version.AtLeast(3, 6))
	switch obs.Type {
	case Source:
		if err := o.sourceOffsets(ctx, ci, cb, obs, info.Config); err != nil {
			return nil, err
		}
		o.sourceDatabase(ctx, cb, obs, info.Config)
		o.schemaHistory(ctx, cb, obs, info.Config)
	case Sink:
		if err := o.sinkOffsets(ctx, ci, cb, obs, info.Config, topics); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("connector %q has type %q: offsetctl handles source and sink connectors", cb.ConnectorName, info.Type)
	}
	if obs.WriteVia != MethodREST {
		o.checks = append(o.checks, Check{Severity: SeverityWarning, Code: "no_offsets_api", Message: noOffsetsAPI(ci.version, obs)})
	}
	o.cache[cb.Addr()] = obs
	return obs, nil
}

// noOffsetsAPI explains how apply changes offsets on a worker without
// PATCH /offsets.
func noOffsetsAPI(v connect.Version, obs *ConnectorObservation) string {
	where := "writes the offsets topic directly (exact key bytes, the partition Java's producer picks) and reads it back"
	if obs.Type == Sink {
		where = "commits to the consumer group " + obs.Group + " directly once it has no members, and reads it back"
	}
	if v.AtLeast(3, 5) {
		return fmt.Sprintf("connector %q: Kafka Connect %s has no PATCH /offsets (3.6+): apply stops the connector, %s, then resumes it", obs.Name, v, where)
	}
	return fmt.Sprintf("connector %q: Kafka Connect %s has no stop endpoint (3.5+) nor PATCH /offsets: offsetctl changes its offsets only by deleting and re-creating it (an offsets block's acknowledge = [%q]), and %s", obs.Name, v, config.AckDeleteRecreate, where)
}

func (o *observer) sourceOffsets(ctx context.Context, ci *clusterInfo, cb *config.Connector, obs *ConnectorObservation, cfg map[string]string) error {
	loc := OffsetsLocation(cb, obs, obs.ReadVia, cfg)
	if obs.ReadVia == MethodREST {
		got, err := offsets.NewReader(loc, RESTOffsets(ci.client), nil).REST(ctx)
		if err != nil {
			return err
		}
		for _, p := range got {
			if p.Offset != nil {
				obs.Source = append(obs.Source, SourceOffset{Partition: p.SourcePartition, Offset: *p.Offset})
			}
		}
	}
	if obs.ReadVia != MethodTopic && obs.WriteVia != MethodTopic {
		if loc.FallbackTopic != "" {
			o.checks = append(o.checks, ownOffsetsTopic(obs, loc, nil, nil, false))
		}
		o.restEvidence(ctx, cb, obs, loc)
		sort.Slice(obs.Source, func(i, j int) bool { return obs.Source[i].Partition.String() < obs.Source[j].Partition.String() })
		return nil
	}
	if cb.Kafka == nil {
		return fmt.Errorf("Kafka Connect %s cannot change offsets over REST (3.6+), so offsetctl uses the offsets topic: give %s a kafka block", ci.info.Version, cb.Addr())
	}
	snap, fallback, err := o.offsetsTopics(ctx, cb.Kafka, loc)
	if err != nil {
		return err
	}
	for _, s := range []*offsets.TopicSnapshot{snap, fallback} {
		if s == nil || len(s.Invalid) == 0 {
			continue
		}
		first := s.Invalid[0]
		o.checks = append(o.checks, Check{Severity: SeverityWarning, Code: "invalid_offset_records", Message: fmt.Sprintf(
			"the offsets topic %q holds %d records that are not valid Connect offset records (first at partition %d offset %d: %s); they are ignored, as the worker ignores them",
			s.Topic, len(s.Invalid), first.TopicPartition, first.TopicOffset, first.Err)})
	}
	recs := offsets.Effective(cb.ConnectorName, snap)
	if loc.FallbackTopic != "" {
		o.checks = append(o.checks, ownOffsetsTopic(obs, loc, recs, offsets.Shadowed(cb.ConnectorName, snap, fallback), true))
	}
	o.topicEvidence(ctx, cb, obs, recs)
	if obs.ReadVia == MethodTopic {
		for _, r := range recs {
			obs.Source = append(obs.Source, SourceOffset{Key: r.Key, Partition: r.Partition, Offset: r.Offset})
		}
	} else {
		for i := range obs.Source {
			for _, r := range recs {
				if r.Partition.Equal(obs.Source[i].Partition) {
					obs.Source[i].Key = r.Key
					obs.Source[i].Partition = r.Partition
				}
			}
		}
	}
	sort.Slice(obs.Source, func(i, j int) bool { return obs.Source[i].Partition.String() < obs.Source[j].Partition.String() })
	return nil
}

// ownOffsetsTopic says where Kafka Connect keeps the offsets of a source
// connector with its own offsets.storage.topic and, when offsetctl reads
// and writes the topics itself (direct), what it read from which topic and
// which partitions the worker's topic holds in vain (shadowed).
func ownOffsetsTopic(obs *ConnectorObservation, loc offsets.Location, recs, shadowed []offsets.TopicRecord, direct bool) Check {
	msg := fmt.Sprintf("connector %q keeps its offsets in its own topic %q (offsets.storage.topic): Kafka Connect reads them from that topic only, and writes them there, copying every write to the worker's topic %q (deletions there first)",
		obs.Name, loc.OffsetsTopic, loc.FallbackTopic)
	if !direct {
		return Check{Severity: SeverityOK, Code: "own_offsets_topic", Message: msg + "; apply changes them through PATCH /offsets, which does the same"}
	}
	msg = fmt.Sprintf("%s. offsetctl does the same: %d partition(s) read from %q; apply writes there and copies to %q, and reads back from %q",
		msg, len(recs), loc.OffsetsTopic, loc.FallbackTopic, loc.OffsetsTopic)
	if len(shadowed) > 0 {
		parts := make([]string, 0, len(shadowed))
		for _, r := range shadowed {
			parts = append(parts, r.Partition.String())
		}
		msg += fmt.Sprintf(". The worker's topic %q also holds %d partition(s) that %q does not: %s; Kafka Connect lists them but reads no offset for them (the connector starts them anew), and so does this plan",
			loc.FallbackTopic, len(shadowed), loc.OffsetsTopic, strings.Join(parts, ", "))
	}
	return Check{Severity: SeverityWarning, Code: "own_offsets_topic", Message: msg}
}

// kafka returns the offset store's access to the cluster of a kafka block.
func (o *observer) kafka(k *config.Kafka) offsets.KafkaFunc {
	return func() (*kgo.Client, error) { return o.pl.Clients.Kafka(k) }
}

func (o *observer) sinkOffsets(ctx context.Context, ci *clusterInfo, cb *config.Connector, obs *ConnectorObservation, cfg map[string]string, blockTopics []string) error {
	obs.Group = offsets.SinkGroupID(cb.ConnectorName, cb.Group, cfg)
	obs.AutoOffsetReset = strings.ToLower(strings.TrimSpace(cfg["consumer.override.auto.offset.reset"]))
	if cb.Kafka == nil {
		return fmt.Errorf("sink connector %q needs a kafka block: offsetctl reads each partition's log start and end from Kafka to check targets", cb.ConnectorName)
	}
	kc, err := o.pl.Clients.Kafka(cb.Kafka)
	if err != nil {
		return err
	}
	adm := kadm.NewClient(kc)
	topics := map[string]bool{}
	for _, t := range strings.Split(cfg["topics"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			topics[t] = true
		}
	}
	for _, t := range blockTopics {
		topics[t] = true
	}
	if re := cfg["topics.regex"]; re != "" {
		rx, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return fmt.Errorf("connector %q has topics.regex %q that Go cannot compile: %w", cb.ConnectorName, re, err)
		}
		all, err := adm.ListTopics(ctx)
		if err != nil {
			return fmt.Errorf("listing topics for topics.regex: %w", err)
		}
		for _, t := range all.Names() {
			if rx.MatchString(t) {
				topics[t] = true
			}
		}
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	rd := offsets.NewReader(OffsetsLocation(cb, obs, obs.ReadVia, cfg), RESTOffsets(ci.client), o.kafka(cb.Kafka))
	grp, err := rd.Group(ctx, names)
	if err != nil {
		return err
	}
	sinkEvidence(obs, grp.Members)
	for _, so := range grp.Offsets {
		obs.Sink = append(obs.Sink, SinkPartition{Topic: so.Topic, Partition: so.Partition, Committed: so.Committed, LogStart: so.LogStart, LogEnd: so.LogEnd})
	}
	if obs.ReadVia == MethodREST {
		rest, err := rd.REST(ctx)
		if err != nil {
			return err
		}
		for i := range obs.Sink {
			sp := &obs.Sink[i]
			sp.Committed = offsets.Lookup(rest, offsets.Position{Sink: true, Topic: sp.Topic, Partition: sp.Partition}).Committed
		}
	}
	sort.Slice(obs.Sink, func(i, j int) bool {
		if obs.Sink[i].Topic != obs.Sink[j].Topic {
			return obs.Sink[i].Topic < obs.Sink[j].Topic
		}
		return obs.Sink[i].Partition < obs.Sink[j].Partition
	})
	return logStartTimes(ctx, adm, obs.Sink)
}

// logStartTimes reads when the oldest retained record of each partition
// whose log retention has trimmed (log start above 0) was written: a
// ListOffsets for the first record at or after time 0 answers with that
// record's offset and timestamp. A partition whose answer is another record
// (one without a timestamp at the log start) keeps 0.
func logStartTimes(ctx context.Context, adm *kadm.Client, parts []SinkPartition) error {
	var topics []string
	for _, sp := range parts {
		if sp.LogStart > 0 && (len(topics) == 0 || topics[len(topics)-1] != sp.Topic) {
			topics = append(topics, sp.Topic)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	res, err := adm.ListOffsetsAfterMilli(ctx, 0, topics...)
	if err != nil {
		return fmt.Errorf("reading when the oldest retained records of %s were written: %w", strings.Join(topics, ", "), err)
	}
	for i := range parts {
		sp := &parts[i]
		if lo, ok := res.Lookup(sp.Topic, sp.Partition); ok && lo.Err == nil && sp.LogStart > 0 && lo.Offset == sp.LogStart && lo.Timestamp > 0 {
			sp.LogStartMillis = lo.Timestamp
		}
	}
	return nil
}

func (o *observer) timestamps(ctx context.Context, k *config.Kafka, sp *config.SinkPartition, in *Inputs) error {
	kc, err := o.pl.Clients.Kafka(k)
	if err != nil {
		return err
	}
	adm := kadm.NewClient(kc)
	millis := sp.Target.Timestamp.UnixMilli()
	res, err := adm.ListOffsetsAfterMilli(ctx, millis, sp.Topic)
	if err != nil {
		return fmt.Errorf("looking up offsets of %s at %s: %w", sp.Topic, sp.Target.Timestamp, err)
	}
	ends, err := adm.ListEndOffsets(ctx, sp.Topic)
	if err != nil {
		return fmt.Errorf("looking up the log end of %s: %w", sp.Topic, err)
	}
	var failed error
	res.Each(func(lo kadm.ListedOffset) {
		if lo.Err != nil {
			failed = fmt.Errorf("offset of %s[%d] at %s: %w", lo.Topic, lo.Partition, sp.Target.Timestamp, lo.Err)
			return
		}
		off := lo.Offset
		if off < 0 {
			if e, ok := ends.Lookup(lo.Topic, lo.Partition); ok {
				off = e.Offset
			}
		}
		in.Timestamps[TimestampKey{Topic: lo.Topic, Partition: lo.Partition, Millis: millis}] = off
	})
	return failed
}

// readRestore reads an offsetctl offsets backup (checksum verified) into the
// offsets it restores, per connector name.
func readRestore(path string) (*RestoreData, error) {
	b, err := offsets.ReadBackup(path)
	if err != nil {
		return nil, err
	}
	return restoreData(b), nil
}

// restoreData is what a backup restores, per connector name.
func restoreData(b *offsets.Backup) *RestoreData {
	data := &RestoreData{Source: map[string][]SourceOffset{}, Sink: map[string][]SinkPartition{}}
	for _, c := range b.Connectors {
		for _, so := range c.Source {
			if so.Offset == nil {
				continue
			}
			data.Source[c.Name] = append(data.Source[c.Name], SourceOffset{Key: so.Key, Partition: so.Partition, Offset: *so.Offset})
		}
		for _, sk := range c.Sink {
			data.Sink[c.Name] = append(data.Sink[c.Name], SinkPartition{Topic: sk.Topic, Partition: sk.Partition, Committed: sk.Committed, LogStart: sk.LogStart, LogEnd: sk.LogEnd})
		}
	}
	return data
}

// sourceDatabase reads, for a Debezium PostgreSQL connector whose block names
// a source_database, the replication slot and publication its offsets
// depend on; for a Debezium MariaDB or MySQL connector, the server's binlog
// files and GTID state. It only reads, in one short read-only transaction; a
// source it cannot read is recorded with the reason, and the plan says which
// checks it could not make.
func (o *observer) sourceDatabase(ctx context.Context, cb *config.Connector, obs *ConnectorObservation, cfg map[string]string) {
	if cb.SourceDatabase == nil {
		return
	}
	switch obs.Codec {
	case "debezium-postgres":
	case "debezium-mysql":
		o.binlogSource(ctx, cb, obs, cfg)
		return
	default:
		return
	}
	sd := &SourceDBObservation{Database: cb.SourceDatabase.Addr(), FlushMode: cfg["lsn.flush.mode"], Tables: plainTables(cfg["table.include.list"])}
	obs.SourceDB = sd
	if IsMySQL(cb.SourceDatabase) {
		sd.Error = fmt.Sprintf("%s is a MariaDB/MySQL database, and connector %q is a Debezium PostgreSQL connector: source_database must name its PostgreSQL database", cb.SourceDatabase.Addr(), obs.Name)
		return
	}
	dc, ok := o.pl.Clients.(DatabaseClients)
	if !ok {
		sd.Error = "this offsetctl cannot open databases here"
		return
	}
	pool, err := dc.Database(ctx, cb.SourceDatabase)
	if err != nil {
		sd.Error = err.Error()
		return
	}
	pg, err := sourcedb.ObservePool(ctx, pool, cfg["slot.name"], cfg["publication.name"], 10*time.Second)
	if err != nil {
		sd.Error = err.Error()
		return
	}
	sd.Postgres = pg
}

// binlogSource reads a Debezium MariaDB or MySQL connector's server: its
// binlog files, GTID state and binlog settings.
func (o *observer) binlogSource(ctx context.Context, cb *config.Connector, obs *ConnectorObservation, cfg map[string]string) {
	sd := &SourceDBObservation{Database: cb.SourceDatabase.Addr(), Tables: plainTables(cfg["table.include.list"])}
	obs.SourceDB = sd
	if !IsMySQL(cb.SourceDatabase) {
		sd.Error = fmt.Sprintf("%s is not a MariaDB/MySQL database (mysql:// or mariadb:// url), and connector %q reads a binlog: source_database must name its MariaDB/MySQL server", cb.SourceDatabase.Addr(), obs.Name)
		return
	}
	mc, ok := o.pl.Clients.(MySQLDatabaseClients)
	if !ok {
		sd.Error = "this offsetctl cannot open MariaDB/MySQL databases here"
		return
	}
	db, err := mc.MySQLDatabase(ctx, cb.SourceDatabase)
	if err != nil {
		sd.Error = err.Error()
		return
	}
	bo, err := sourcedb.ObserveMySQL(ctx, db, 10*time.Second)
	if err != nil {
		sd.Error = err.Error()
		return
	}
	sd.Binlog = bo
}

// plainTables returns the entries of a Debezium include list that name a
// table rather than a pattern.
func plainTables(list string) []string {
	var out []string
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t != "" && !strings.ContainsAny(t, `\*+?[](){}|^$`) {
			out = append(out, t)
		}
	}
	return out
}

// schemaHistory reads, for a Debezium MySQL, MariaDB or SQL Server connector, the schema
// history topic its configuration names (schema.history.internal.kafka.topic,
// database.history.kafka.topic before Debezium 2.0) from the cluster of the
// connector block's kafka block, keeping the records of its topic.prefix
// (database.server.name before 2.0). A topic it cannot read is recorded
// with the reason, and the plan says the check was not made.
func (o *observer) schemaHistory(ctx context.Context, cb *config.Connector, obs *ConnectorObservation, cfg map[string]string) {
	if obs.Codec != "debezium-mysql" && obs.Codec != "debezium-sqlserver" {
		return
	}
	sh := &SchemaHistoryObservation{Topic: firstSet(cfg, "schema.history.internal.kafka.topic", "database.history.kafka.topic"),
		Server: firstSet(cfg, "topic.prefix", "database.server.name")}
	obs.SchemaHistory = sh
	switch {
	case sh.Topic == "":
		sh.Error = "the connector's configuration names no schema.history.internal.kafka.topic (a history kept elsewhere is not read)"
		return
	case cb.Kafka == nil:
		sh.Error = fmt.Sprintf("%s has no kafka block to read it from", cb.Addr())
		return
	}
	kc, err := o.pl.Clients.Kafka(cb.Kafka)
	if err != nil {
		sh.Error = err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs, err := schemahistory.Read(ctx, kc, sh.Topic, sh.Server)
	if err != nil {
		sh.Error = err.Error()
		return
	}
	sh.Read, sh.Records = len(recs), schemahistory.Summary(recs)
}

// firstSet is the value of the first of keys that cfg sets.
func firstSet(cfg map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := cfg[k]; v != "" {
			return v
		}
	}
	return ""
}
