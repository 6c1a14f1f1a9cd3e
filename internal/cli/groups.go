package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

const groupsAbout = `
Manages consumer groups, in the spirit of kafka-consumer-groups.sh:

  arus groups list
  arus groups describe billing
  arus groups reset --group billing --topic orders --to-earliest
  arus groups reset --group billing --topic orders --to-datetime 2025-01-31T00:00:00Z --partitions 0,2
  arus groups delete billing

A reset runs at once (there is no dry run) and needs the group to have no
live members: stop its consumers first. The group may be given with --group
or as the argument.`

func runGroups(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "groups", groupsAbout,
		action{"list", groupsList},
		action{"describe", groupsDescribe},
		action{"reset", groupsReset},
		action{"delete", groupsDelete},
	)
}

func groupsList(ctx context.Context, e *env, args []string) error {
	return listNames(ctx, e, args, groupNames, stream.Broker.ListGroups, "GROUP\tMEMBERS\tTOPICS\tLAG",
		func(w io.Writer, g stream.GroupInfo) {
			fmt.Fprintf(w, "%s\t%d\t%s\t%d\n", g.Group, len(g.Members), strings.Join(groupTopics(g.Offsets), ","), g.Lag())
		})
}

func groupTopics(offsets []stream.GroupOffset) []string {
	var topics []string
	for _, o := range offsets {
		if len(topics) == 0 || topics[len(topics)-1] != o.Topic {
			topics = append(topics, o.Topic)
		}
	}
	return topics
}

func groupsDescribe(ctx context.Context, e *env, args []string) error {
	return groupNames.run(ctx, e, args, "describe", "`name` of the group", func(b stream.Broker, name string) error {
		g, err := b.DescribeGroup(ctx, name)
		if err != nil {
			return fmt.Errorf("describe group %q: %w", name, err)
		}
		owner := map[stream.TopicPartition]string{}
		for _, m := range g.Members {
			for _, tp := range m.Partitions {
				owner[tp] = m.ID
			}
		}
		fmt.Fprintf(e.stdout, "Group: %s\tMembers: %d\tLag: %d\n", g.Group, len(g.Members), g.Lag())
		if len(g.Members) > 0 {
			tw := newTable(e.stdout, "MEMBER-ID\tCLIENT-ID\tHOST\tPARTITIONS")
			for _, m := range g.Members {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", m.ID, dash(m.ClientID), dash(m.Host), len(m.Partitions))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout)
		}
		tw := newTable(e.stdout, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tOLDEST-UNCONSUMED\tMEMBER-ID")
		for _, o := range g.Offsets {
			oldest := "-"
			if !o.Oldest.IsZero() {
				oldest = o.Oldest.UTC().Format(time.RFC3339)
			}
			committed := strconv.FormatInt(o.Committed, 10)
			if o.NoCommit {
				committed = "no commit"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\n", o.Topic, o.Partition, committed, o.End, o.Lag, oldest,
				dash(owner[stream.TopicPartition{Topic: o.Topic, Partition: o.Partition}]))
		}
		return tw.Flush()
	})
}

func groupsReset(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "groups reset",
		"arus groups reset --group NAME --topic NAME (--to-earliest | --to-latest | --to-datetime TIME | --to-offset N) [--partitions LIST] [flags]",
		groupsAbout)
	group := f.String("group", "", "`name` of the group")
	topic := f.String("topic", "", "`name` of the topic whose offsets move")
	earliest := f.Bool("to-earliest", false, "move to the oldest retained record")
	latest := f.Bool("to-latest", false, "move to the end: skip everything produced so far")
	datetime := f.String("to-datetime", "", "move to the first record at or after `time`: RFC 3339 (2025-01-31T15:04:05Z), or local 2025-01-31T15:04:05 or 2025-01-31")
	offset := f.Int64("to-offset", -1, "move every partition to `offset`")
	partitions := &listFlag{split: true}
	f.Var(partitions, "partitions", "comma-separated `list` of partitions to move (default all)")
	name, c, err := groupNames.args(f, group, args)
	if err != nil {
		return err
	}
	if *topic == "" {
		return f.fail("no topic given; use --topic NAME")
	}
	if err := stream.ValidateTopicName(*topic); err != nil {
		return f.fail("--topic: %v", err)
	}
	var reset stream.Reset
	chosen := 0
	if *earliest {
		reset.To, chosen = stream.ResetEarliest, chosen+1
	}
	if *latest {
		reset.To, chosen = stream.ResetLatest, chosen+1
	}
	if *datetime != "" {
		t, err := parseDateTime(*datetime)
		if err != nil {
			return f.fail("--to-datetime: %v", err)
		}
		reset.To, reset.Time, chosen = stream.ResetTime, t, chosen+1
	}
	if f.Lookup("to-offset").Value.String() != "-1" {
		if *offset < 0 {
			return f.fail("--to-offset %d is negative; offsets are 0 or more", *offset)
		}
		reset.To, reset.Offset, chosen = stream.ResetOffset, *offset, chosen+1
	}
	if chosen != 1 {
		return f.fail("give exactly one of --to-earliest, --to-latest, --to-datetime and --to-offset")
	}
	for _, s := range partitions.values {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return f.fail("--partitions: %q is not a partition number; partitions are numbered from 0", s)
		}
		reset.Partitions = append(reset.Partitions, int32(p))
	}
	b, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer b.Close()
	offsets, err := b.ResetOffsets(ctx, name, *topic, reset)
	if err != nil {
		return fmt.Errorf("reset group %q on topic %q: %w", name, *topic, err)
	}
	tw := newTable(e.stdout, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET\tEND\tLAG")
	for _, o := range offsets {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", name, o.Topic, o.Partition, o.Committed, o.End, o.Lag)
	}
	return tw.Flush()
}

func groupsDelete(ctx context.Context, e *env, args []string) error {
	return groupNames.delete(ctx, e, args, "`name` of the group to forget, with its offsets", stream.Broker.DeleteGroup)
}

// parseDateTime parses a reset time: RFC 3339, or a local date and time
// without zone, or a local date.
func parseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time; use RFC 3339 (2025-01-31T15:04:05Z), 2025-01-31T15:04:05 or 2025-01-31 (local time)", s)
}
