package cli_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaGroupCommands runs the group commands on Kafka with a group name
// only Kafka's rules allow, and a foreign member that joined without
// committing: describe shows its member id, client id and host, and "no
// commit"; consume --group, reset and delete take the name.
func TestKafkaGroupCommands(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := map[string]string{"ARUS_BROKER": "kafka://" + c.ListenAddrs()[0] + "?heartbeat_interval=100ms&session_timeout=3s"}
	const group = "svc:billing/v2"
	must(t, env, "", "topics", "create", "orders", "--partitions", "2")
	must(t, env, "a\nb\nc\nd\n", "produce", "--topic", "orders")

	// A member as librdkafka names itself, which never commits.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	foreign, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ClientID("rdkafka"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.Balancers(kgo.RangeBalancer()), kgo.HeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 4 && ctx.Err() == nil; {
		n += foreign.PollFetches(ctx).NumRecords()
	}
	r := must(t, env, "", "groups", "describe", group)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Group: svc:billing/v2\s+Members: 1\s+Lag: 4$`),
		regexp.MustCompile(`(?m)^MEMBER-ID\s+CLIENT-ID\s+HOST\s+PARTITIONS$`),
		regexp.MustCompile(`(?m)^rdkafka-\S+\s+rdkafka\s+\S*127\.0\.0\.1\S*\s+2$`),
		regexp.MustCompile(`(?m)^orders\s+0\s+no commit\s+\d+\s+\d+\s+\S+\s+rdkafka-\S+$`),
		regexp.MustCompile(`(?m)^orders\s+1\s+no commit\s+`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("describe lacks %s:\n%s", want, r.stdout)
		}
	}
	foreign.Close() // leaves the group

	r = must(t, env, "", "consume", "--topic", "orders", "--group", group, "--max", "4", "--timeout", "30s")
	if n := strings.Count(r.stdout, "\n"); n != 4 {
		t.Errorf("consume --group %s printed %d records, want 4:\n%s", group, n, r.stdout)
	}
	r = must(t, env, "", "groups", "list")
	if !regexp.MustCompile(`(?m)^svc:billing/v2\s+0\s+orders\s+0\s*$`).MatchString(r.stdout) {
		t.Errorf("groups list:\n%s", r.stdout)
	}
	r = must(t, env, "", "groups", "reset", "--group", group, "--topic", "orders", "--to-earliest")
	if !regexp.MustCompile(`(?m)^svc:billing/v2\s+orders\s+0\s+0\s+`).MatchString(r.stdout) {
		t.Errorf("reset:\n%s", r.stdout)
	}
	r = must(t, env, "", "groups", "describe", group)
	if !strings.Contains(r.stdout, "Lag: 4") || strings.Contains(r.stdout, "no commit") {
		t.Errorf("describe after reset to earliest:\n%s", r.stdout)
	}
	must(t, env, "", "groups", "delete", group)
	if r := arus(t, env, "", "groups", "describe", group); r.err == nil {
		t.Errorf("describe after delete succeeded:\n%s", r.stdout)
	}
	if r := arus(t, env, "", "consume", "--topic", "orders", "--group", "tab\tgroup"); r.err == nil || !strings.Contains(r.err.Error(), "control character") {
		t.Errorf("consume with a control character in the group: %v, want it refused", r.err)
	}
}

// TestGroupNamesKafkaAllows runs the group commands with a name only
// Kafka's rules allow through the server (the name escaped in the URL) and
// on the embedded log directly.
func TestGroupNamesKafkaAllows(t *testing.T) {
	for mode, env := range modes(t) {
		t.Run(mode, func(t *testing.T) {
			const group = "svc:billing/v2 é"
			must(t, env, "", "topics", "create", "orders", "--partitions", "2")
			must(t, env, "a\nb\nc\n", "produce", "--topic", "orders")
			r := must(t, env, "", "consume", "--topic", "orders", "--group", group, "--max", "3", "--timeout", "30s")
			if n := strings.Count(r.stdout, "\n"); n != 3 {
				t.Errorf("consume --group printed %d records, want 3", n)
			}
			r = must(t, env, "", "groups", "describe", group)
			if !strings.Contains(r.stdout, "Group: "+group) || !strings.Contains(r.stdout, "Lag: 0") {
				t.Errorf("describe:\n%s", r.stdout)
			}
			must(t, env, "", "groups", "reset", group, "--topic", "orders", "--to-earliest")
			if r := must(t, env, "", "groups", "list"); !strings.Contains(r.stdout, group) {
				t.Errorf("list lacks %q:\n%s", group, r.stdout)
			}
			must(t, env, "", "groups", "delete", group)
			if r := arus(t, env, "", "groups", "describe", group); r.err == nil {
				t.Errorf("describe after delete succeeded")
			}
		})
	}
}
