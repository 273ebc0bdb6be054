package offsets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// SinkOffset is the position of a sink connector in one topic-partition.
type SinkOffset struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset, -1 when none.
	Committed int64
	// LogStart and LogEnd are the partition's log start offset and high
	// watermark when read; -1 when the partition no longer exists.
	LogStart, LogEnd int64
}

// InRange reports whether offset lies within [LogStart, LogEnd]: a committed
// offset outside it makes the sink consumer reset (to earliest, by Connect's
// default), replaying the partition from its start or skipping lost data.
func (o SinkOffset) InRange(offset int64) bool {
	return offset >= o.LogStart && offset <= o.LogEnd
}

// SinkGroup is a sink connector's consumer group as read.
type SinkGroup struct {
	Group string
	// State is the group state (Empty, Stable, Dead, ...); "Dead" also for
	// a group that does not exist.
	State string
	// Members lists the active members as "client-id (member-id) on host",
	// sorted. A group must have none before its offsets are changed.
	Members []string
	// Offsets lists every partition of the requested topics and of the
	// topics the group has commits for, ordered by topic and partition.
	Offsets []SinkOffset
}

// Lookup returns the offset of topic/partition.
func (g *SinkGroup) Lookup(topic string, partition int32) (SinkOffset, bool) {
	for _, o := range g.Offsets {
		if o.Topic == topic && o.Partition == partition {
			return o, true
		}
	}
	return SinkOffset{}, false
}

// ErrGroupNotEmpty marks a refusal to change the offsets of a consumer group
// that still has members.
var ErrGroupNotEmpty = errors.New("consumer group has active members")

// GroupNotEmptyError is the refusal to change offsets of a group with
// members; it lists them.
type GroupNotEmptyError struct {
	Group   string
	Members []string
}

func (e *GroupNotEmptyError) Error() string {
	return fmt.Sprintf("consumer group %q has %d active member(s): %s; its offsets can only be changed while it has none: stop the sink connector and wait for its tasks to leave the group (a worker restart removes zombie tasks)",
		e.Group, len(e.Members), strings.Join(e.Members, ", "))
}

// Is makes errors.Is(err, ErrGroupNotEmpty) true.
func (e *GroupNotEmptyError) Is(target error) bool { return target == ErrGroupNotEmpty }

// ReadSinkGroup reads group's committed offsets and members, with the log
// start and end offsets of every partition of topics and of every topic the
// group has commits for. A group that does not exist reads as state "Dead",
// no members, no commits.
func ReadSinkGroup(ctx context.Context, adm *kadm.Client, group string, topics []string) (*SinkGroup, error) {
	if adm == nil {
		return nil, errNoClient
	}
	state, members, err := describeGroup(ctx, adm, group)
	if err != nil {
		return nil, err
	}
	g := &SinkGroup{Group: group, State: state, Members: members}

	committed, err := fetchCommitted(ctx, adm, group)
	if err != nil {
		return nil, err
	}
	all := map[string]bool{}
	for _, t := range topics {
		all[t] = true
	}
	for t := range committed {
		all[t] = true
	}
	if len(all) == 0 {
		return g, nil
	}
	names := make([]string, 0, len(all))
	for t := range all {
		names = append(names, t)
	}
	sort.Strings(names)
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets of %s for consumer group %q: %w", strings.Join(names, ", "), group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets of %s for consumer group %q: %w", strings.Join(names, ", "), group, err)
	}
	seen := map[string]map[int32]bool{}
	add := func(o SinkOffset) {
		if seen[o.Topic] == nil {
			seen[o.Topic] = map[int32]bool{}
		}
		if !seen[o.Topic][o.Partition] {
			seen[o.Topic][o.Partition] = true
			g.Offsets = append(g.Offsets, o)
		}
	}
	lookup := func(t string, p int32) SinkOffset {
		o := SinkOffset{Topic: t, Partition: p, Committed: -1, LogStart: -1, LogEnd: -1}
		if c, ok := committed.Lookup(t, p); ok && c.Err == nil {
			o.Committed = c.At
		}
		if s, ok := starts.Lookup(t, p); ok && s.Err == nil {
			o.LogStart = s.Offset
		}
		if e, ok := ends.Lookup(t, p); ok && e.Err == nil {
			o.LogEnd = e.Offset
		}
		return o
	}
	for _, t := range topics {
		ps, ok := ends[t]
		if !ok {
			return nil, fmt.Errorf("reading consumer group %q: topic %q does not exist", group, t)
		}
		for p, e := range ps {
			if e.Err != nil {
				if errors.Is(e.Err, kerr.UnknownTopicOrPartition) {
					return nil, fmt.Errorf("reading consumer group %q: topic %q does not exist", group, t)
				}
				return nil, fmt.Errorf("reading consumer group %q: listing offsets of %s partition %d: %w", group, t, p, e.Err)
			}
			add(lookup(t, p))
		}
	}
	committed.Each(func(c kadm.OffsetResponse) {
		if c.Err == nil {
			add(lookup(c.Topic, c.Partition))
		}
	})
	sort.Slice(g.Offsets, func(i, j int) bool {
		a, b := g.Offsets[i], g.Offsets[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return g, nil
}

// fetchCommitted returns the group's committed offsets; a group that does
// not exist has none.
func fetchCommitted(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of consumer group %q: %w", group, err)
	}
	return committed, nil
}

// describeGroup returns the group's state and its members, sorted.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (string, []string, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", nil, fmt.Errorf("describing consumer group %q: %w", group, err)
	}
	d, ok := described[group]
	if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) {
		return "Dead", nil, nil
	}
	if d.Err != nil {
		return "", nil, fmt.Errorf("describing consumer group %q: %w", group, d.Err)
	}
	members := make([]string, 0, len(d.Members))
	for _, m := range d.Members {
		members = append(members, fmt.Sprintf("%s (%s) on %s", m.ClientID, m.MemberID, m.ClientHost))
	}
	sort.Strings(members)
	return d.State, members, nil
}

// SinkChange is one topic-partition to change in a sink connector's group:
// commit Offset, or delete the committed offset when Offset is nil (the
// consumer then starts per auto.offset.reset, earliest under Connect).
type SinkChange struct {
	Topic     string
	Partition int32
	Offset    *int64
}

// CommitSinkGroup commits and deletes offsets of group as changes say, as
// Kafka Connect's PATCH /offsets does for a sink. It refuses with a
// *GroupNotEmptyError naming the members when the group has any, and
// refuses negative offsets. It does no range check: use SinkOffset.InRange
// when planning. After writing it reads the group back and checks every
// change took effect.
func CommitSinkGroup(ctx context.Context, adm *kadm.Client, group string, changes []SinkChange) error {
	if adm == nil {
		return errNoClient
	}
	if len(changes) == 0 {
		return nil
	}
	commits := kadm.Offsets{}
	deletes := kadm.TopicsSet{}
	seen := map[string]map[int32]bool{}
	for _, c := range changes {
		if seen[c.Topic][c.Partition] {
			return fmt.Errorf("changing offsets of consumer group %q: %s partition %d is listed twice", group, c.Topic, c.Partition)
		}
		if seen[c.Topic] == nil {
			seen[c.Topic] = map[int32]bool{}
		}
		seen[c.Topic][c.Partition] = true
		if c.Offset == nil {
			deletes.Add(c.Topic, c.Partition)
			continue
		}
		if *c.Offset < 0 {
			return fmt.Errorf("changing offsets of consumer group %q: %s partition %d: offset %d is negative", group, c.Topic, c.Partition, *c.Offset)
		}
		commits.Add(kadm.Offset{Topic: c.Topic, Partition: c.Partition, At: *c.Offset, LeaderEpoch: -1})
	}
	if err := requireNoMembers(ctx, adm, group); err != nil {
		return err
	}
	if len(commits) > 0 {
		resps, err := adm.CommitOffsets(ctx, group, commits)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return groupChangeError(ctx, adm, group, "committing offsets", err)
		}
	}
	if len(deletes) > 0 {
		resps, err := adm.DeleteOffsets(ctx, group, deletes)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return groupChangeError(ctx, adm, group, "deleting offsets", err)
		}
	}
	after, err := fetchCommitted(ctx, adm, group)
	if err != nil {
		return fmt.Errorf("reading back after changing offsets: %w", err)
	}
	var errs []error
	for _, c := range changes {
		got, ok := after.Lookup(c.Topic, c.Partition)
		switch {
		case c.Offset == nil && ok:
			errs = append(errs, fmt.Errorf("%s partition %d: still committed at %d after deletion", c.Topic, c.Partition, got.At))
		case c.Offset != nil && !ok:
			errs = append(errs, fmt.Errorf("%s partition %d: no committed offset after committing %d", c.Topic, c.Partition, *c.Offset))
		case c.Offset != nil && got.At != *c.Offset:
			errs = append(errs, fmt.Errorf("%s partition %d: committed %d, read back %d", c.Topic, c.Partition, *c.Offset, got.At))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("changing offsets of consumer group %q: %w: %w", group, ErrVerifyFailed, errors.Join(errs...))
	}
	return nil
}

// ResetSinkGroup deletes group entirely, as Kafka Connect's DELETE /offsets
// does for a sink; a group that does not exist is success. It refuses with a
// *GroupNotEmptyError when the group has members.
func ResetSinkGroup(ctx context.Context, adm *kadm.Client, group string) error {
	if adm == nil {
		return errNoClient
	}
	if err := requireNoMembers(ctx, adm, group); err != nil {
		return err
	}
	resp, err := adm.DeleteGroup(ctx, group)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return groupChangeError(ctx, adm, group, "deleting", err)
	}
	return nil
}

func requireNoMembers(ctx context.Context, adm *kadm.Client, group string) error {
	_, members, err := describeGroup(ctx, adm, group)
	if err != nil {
		return fmt.Errorf("changing offsets of consumer group %q: %w", group, err)
	}
	if len(members) > 0 {
		return &GroupNotEmptyError{Group: group, Members: members}
	}
	return nil
}

// groupChangeError words a broker refusal; a member that joined after the
// check shows up as a GroupNotEmptyError.
func groupChangeError(ctx context.Context, adm *kadm.Client, group, doing string, err error) error {
	if errors.Is(err, kerr.NonEmptyGroup) || errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.GroupSubscribedToTopic) || errors.Is(err, kerr.RebalanceInProgress) {
		if _, members, derr := describeGroup(ctx, adm, group); derr == nil && len(members) > 0 {
			return fmt.Errorf("%s of consumer group %q: %w", doing, group, &GroupNotEmptyError{Group: group, Members: members})
		}
	}
	return fmt.Errorf("%s of consumer group %q: %w", doing, group, err)
}

// TimestampOffset is the first offset of a partition whose record timestamp
// is at or after a requested time.
type TimestampOffset struct {
	Topic     string
	Partition int32
	// Offset is the first offset at or after the time; the log end offset
	// when no record is that recent.
	Offset int64
	// Timestamp is that record's timestamp in milliseconds, -1 when
	// Offset is the log end.
	Timestamp int64
}

// OffsetsAfterMilli finds, for every partition of topics, the first offset
// whose timestamp is at or after millis (Unix milliseconds), for planning a
// sink rewind "to_timestamp". Ordered by topic and partition.
func OffsetsAfterMilli(ctx context.Context, adm *kadm.Client, millis int64, topics ...string) ([]TimestampOffset, error) {
	if adm == nil {
		return nil, errNoClient
	}
	listed, err := adm.ListOffsetsAfterMilli(ctx, millis, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing offsets after %d ms of %s: %w", millis, strings.Join(topics, ", "), err)
	}
	var out []TimestampOffset
	for _, t := range topics {
		ps, ok := listed[t]
		if !ok {
			return nil, fmt.Errorf("listing offsets by time: topic %q does not exist", t)
		}
		for p, o := range ps {
			if o.Err != nil {
				if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
					return nil, fmt.Errorf("listing offsets by time: topic %q does not exist", t)
				}
				return nil, fmt.Errorf("listing offsets by time of %s partition %d: %w", t, p, o.Err)
			}
			out = append(out, TimestampOffset{Topic: t, Partition: p, Offset: o.Offset, Timestamp: o.Timestamp})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
