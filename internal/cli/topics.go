package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

const topicsAbout = `
Manages topics, in the spirit of kafka-topics.sh:

  arus topics create --topic orders --partitions 6 --retention 7d
  arus topics list
  arus topics describe orders
  arus topics delete orders

The topic may be given with --topic or as the argument. By default the
command talks to the server at ` + defaultServer + `; see --server and --broker.`

func runTopics(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "topics", topicsAbout,
		action{"create", topicsCreate},
		action{"list", topicsList},
		action{"describe", topicsDescribe},
		action{"delete", topicsDelete},
	)
}

// topicArg returns the one topic named by --topic or the argument.
func topicArg(f *flags, flagValue string, rest []string) (string, error) {
	return nameArg(f, "topic", flagValue, rest, stream.ValidateTopicName)
}

func topicsCreate(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "topics create", "arus topics create --topic NAME [--partitions N] [--retention D] [--retention-bytes N]", topicsAbout)
	topic := f.String("topic", "", "`name` of the topic: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'")
	partitions := f.Int("partitions", 4, "partition `count`, 1 to 10000")
	retention := f.String("retention", "0", "keep records at least this `long`, such as 12h or 7d. 0: on the embedded log and Redis forever, "+
		"and only once every group consumed them; on Kafka the broker's default (log.retention.hours, 7 days unless changed), "+
		"whether or not a group consumed them")
	retentionBytes := f.Int64("retention-bytes", 0, "keep at most this many `bytes` per partition. 0: no limit on the embedded log and Redis, "+
		"the broker's default (log.retention.bytes) on Kafka")
	ifNotExists := f.Bool("if-not-exists", false, "succeed when the topic already exists")
	name, c, err := topicNames.args(f, topic, args)
	if err != nil {
		return err
	}
	if *partitions < 1 || *partitions > stream.MaxPartitions {
		return f.fail("--partitions %d is out of range; use 1 to %d", *partitions, stream.MaxPartitions)
	}
	keep, err := parseRetention(*retention)
	if err != nil {
		return f.fail("--retention: %v", err)
	}
	if *retentionBytes < 0 {
		return f.fail("--retention-bytes %d is negative; use 0 (no limit) or a size in bytes", *retentionBytes)
	}
	b, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer b.Close()
	t := stream.Topic{Name: name, Partitions: int32(*partitions), RetentionTime: keep, RetentionBytes: *retentionBytes}
	if err := b.CreateTopic(ctx, t); err != nil {
		if *ifNotExists && errors.Is(err, stream.ErrTopicExists) {
			return nil
		}
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "Created topic %s with %d partition(s).\n", name, *partitions)
	return nil
}

func topicsList(ctx context.Context, e *env, args []string) error {
	return listNames(ctx, e, args, topicNames, stream.Broker.ListTopics, "TOPIC\tPARTITIONS\tRECORDS\tRETENTION\tRETENTION-BYTES",
		func(w io.Writer, t stream.TopicInfo) {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", t.Name, t.Partitions, t.Records(), formatRetention(t.RetentionTime), formatBytes(t.RetentionBytes))
		})
}

func topicsDescribe(ctx context.Context, e *env, args []string) error {
	return topicNames.run(ctx, e, args, "describe", "`name` of the topic", func(b stream.Broker, name string) error {
		t, err := b.DescribeTopic(ctx, name)
		if err != nil {
			return fmt.Errorf("describe topic %q: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "Topic: %s\tPartitions: %d\tRecords: %d\tRetention: %s\tRetentionBytes: %s\n",
			t.Name, t.Partitions, t.Records(), formatRetention(t.RetentionTime), formatBytes(t.RetentionBytes))
		tw := newTable(e.stdout, "PARTITION\tSTART\tEND\tRECORDS")
		for _, p := range t.Offsets {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\n", p.Partition, p.Start, p.End, p.End-p.Start)
		}
		return tw.Flush()
	})
}

func topicsDelete(ctx context.Context, e *env, args []string) error {
	return topicNames.delete(ctx, e, args, "`name` of the topic to delete, with its records", stream.Broker.DeleteTopic)
}

// parseRetention parses a retention time: a Go duration (90m, 12h) or a
// whole number of days (7d) or weeks (2w); 0 means forever.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v < 0 || v > int64(1<<62)/int64(unit) {
				return 0, fmt.Errorf("%q is not a duration such as 12h, 7d or 2w", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 12h, 7d or 2w", s)
	}
	return d, nil
}

func formatRetention(d time.Duration) string {
	switch {
	case d == 0:
		return "forever"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func formatBytes(n int64) string {
	if n == 0 {
		return "none"
	}
	return strconv.FormatInt(n, 10)
}
