package backbone

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/stream"
)

// Collector exposes the backbone's state as Prometheus metrics, read from
// the broker when scraped (at most once per MaxAge, so frequent scrapes do
// not load the broker):
//
//	arus_topic_end_offset{topic,partition}              records ever written (its rate is the produce rate)
//	arus_topic_records{topic}                           records retained
//	arus_group_committed_offset{group,topic,partition}  position of each group (its rate is the consume rate)
//	arus_group_lag{group,topic,partition}               records not yet consumed
//	arus_group_oldest_unconsumed_age_seconds{group,topic,partition}
//	arus_group_members{group}
//	arus_backbone_up                                    1 when the last read of the broker succeeded
type Collector struct {
	broker stream.Broker
	log    *slog.Logger
	maxAge time.Duration

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

var (
	descEnd       = prometheus.NewDesc("arus_topic_end_offset", "End offset of a partition: records ever written to it.", []string{"topic", "partition"}, nil)
	descRecords   = prometheus.NewDesc("arus_topic_records", "Records a topic retains.", []string{"topic"}, nil)
	descCommitted = prometheus.NewDesc("arus_group_committed_offset", "Committed offset of a consumer group on a partition.", []string{"group", "topic", "partition"}, nil)
	descLag       = prometheus.NewDesc("arus_group_lag", "Records of a partition the group has not consumed.", []string{"group", "topic", "partition"}, nil)
	descOldest    = prometheus.NewDesc("arus_group_oldest_unconsumed_age_seconds", "Age of the oldest record the group has not consumed.", []string{"group", "topic", "partition"}, nil)
	descMembers   = prometheus.NewDesc("arus_group_members", "Live members of a consumer group.", []string{"group"}, nil)
	descUp        = prometheus.NewDesc("arus_backbone_up", "1 when the broker answered the last read of its state.", nil, nil)
)

// NewCollector returns a collector of b's state; register it on a registry.
func NewCollector(b stream.Broker, log *slog.Logger, maxAge time.Duration) *Collector {
	if maxAge <= 0 {
		maxAge = 5 * time.Second
	}
	return &Collector{broker: b, log: log, maxAge: maxAge}
}

// Describe sends the descriptors of every metric the collector makes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEnd, descRecords, descCommitted, descLag, descOldest, descMembers, descUp} {
		ch <- d
	}
}

// Collect reads the broker's state, or reuses the last reading when it is
// younger than MaxAge.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= c.maxAge {
		c.metrics = c.read()
		c.at = time.Now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *Collector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	up := 1.0
	topics, err := c.broker.ListTopics(ctx)
	if err != nil {
		c.log.Warn("metrics: list topics", "err", err)
		up = 0
	}
	for _, t := range topics {
		gauge(descRecords, float64(t.Records()), t.Name)
		for _, p := range t.Offsets {
			gauge(descEnd, float64(p.End), t.Name, strconv.Itoa(int(p.Partition)))
		}
	}
	groups, err := c.broker.ListGroups(ctx)
	if err != nil {
		c.log.Warn("metrics: list groups", "err", err)
		up = 0
	}
	now := time.Now()
	for _, g := range groups {
		if len(g.Offsets) == 0 {
			// Some backends list groups without their offsets.
			if d, err := c.broker.DescribeGroup(ctx, g.Group); err == nil {
				g = d
			}
		}
		gauge(descMembers, float64(len(g.Members)), g.Group)
		for _, o := range g.Offsets {
			p := strconv.Itoa(int(o.Partition))
			gauge(descCommitted, float64(o.Committed), g.Group, o.Topic, p)
			gauge(descLag, float64(o.Lag), g.Group, o.Topic, p)
			age := 0.0
			if o.Lag > 0 && !o.Oldest.IsZero() {
				age = now.Sub(o.Oldest).Seconds()
			}
			gauge(descOldest, age, g.Group, o.Topic, p)
		}
	}
	gauge(descUp, up)
	return out
}
