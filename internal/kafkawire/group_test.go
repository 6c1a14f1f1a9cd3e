package kafkawire

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// Members offering different assignors agree on one every member offers,
// and split the partitions.
func TestGroupProtocolNegotiation(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "neg", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	opts := func(b ...kgo.GroupBalancer) []kgo.Opt {
		return []kgo.Opt{kgo.ConsumerGroup("neg"), kgo.ConsumeTopics("neg"), kgo.Balancers(b...),
			kgo.HeartbeatInterval(100 * time.Millisecond), kgo.SessionTimeout(3 * time.Second)}
	}
	for _, cl := range []*kgo.Client{
		newClient(t, s.addr, opts(kgo.CooperativeStickyBalancer(), kgo.RangeBalancer())...),
		newClient(t, s.addr, opts(kgo.RoundRobinBalancer(), kgo.RangeBalancer())...),
	} {
		pctx, stop := context.WithCancel(ctx)
		t.Cleanup(stop)
		go func() {
			for pctx.Err() == nil {
				cl.PollFetches(pctx)
			}
		}()
	}
	adm := kadm.NewClient(newClient(t, s.addr))
	for {
		described, err := adm.DescribeGroups(ctx, "neg")
		if err != nil {
			t.Fatal(err)
		}
		g := described["neg"]
		assigned := 0
		for _, m := range g.Members {
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range a.Topics {
					assigned += len(tp.Partitions)
				}
			}
		}
		if g.State == "Stable" && len(g.Members) == 2 && assigned == 4 {
			if g.Protocol != "range" {
				t.Errorf("group chose %q, want range, the only assignor both members offer", g.Protocol)
			}
			// The log's own description (arus groups, the console) shows
			// the Kafka members and their partitions.
			info, err := s.broker().DescribeGroup(ctx, "neg")
			if err != nil {
				t.Fatalf("DescribeGroup: %v", err)
			}
			n := 0
			for _, m := range info.Members {
				n += len(m.Partitions)
			}
			if len(info.Members) != 2 || n != 4 {
				t.Errorf("the log describes group neg with members %+v, want 2 members holding 4 partitions", info.Members)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group never settled with 2 members and 4 partitions: %+v", g)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A Kafka client cannot join a group while Arus consumers are its live
// members, and the group's offsets are shared once they stop.
func TestGroupOfArusConsumersRefusesKafkaMembers(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "shared", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.broker().Produce(ctx, &stream.Record{Topic: "shared", Value: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	handled := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.broker().Consume(cctx, stream.ConsumerConfig{Group: "shared", Topics: []string{"shared"}},
			func(context.Context, []*stream.Record) error {
				select {
				case handled <- struct{}{}:
				default:
				}
				return nil
			})
	}()
	<-handled
	cl := newClient(t, s.addr)
	join := func() int16 {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "shared", "consumer", 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0}
		req.Protocols = append(req.Protocols, p)
		req.MemberID = "m1"
		req.Version = 3
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("JoinGroup: %v", err)
		}
		return resp.ErrorCode
	}
	if code := join(); code != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("JoinGroup of a group with live Arus consumers: error %d, want INCONSISTENT_GROUP_PROTOCOL (%d)", code, kerr.InconsistentGroupProtocol.Code)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The Arus consumer committed offset 1; a Kafka consumer of the group
	// starts there.
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := resp.Lookup("shared", 0); !ok || o.At != 1 {
		t.Errorf("Kafka OffsetFetch of the group = %+v, want offset 1 committed by the Arus consumer", o)
	}
}
