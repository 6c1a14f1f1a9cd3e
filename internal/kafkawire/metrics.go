package kafkawire

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the listener's Prometheus metrics. Requests are labelled by
// the name of their API key, a bounded set.
type metrics struct {
	requests  *prometheus.HistogramVec
	producedC prometheus.Counter
	fetchedC  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arus_kafka_requests_seconds",
			Help:    "Kafka protocol requests served, by API key name, and how long each took to answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30},
		}, []string{"api"}),
		producedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_kafka_produced_records_total",
			Help: "Records produced over the Kafka protocol.",
		}),
		fetchedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_kafka_fetched_records_total",
			Help: "Records fetched over the Kafka protocol.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.producedC, m.fetchedC)
	}
	return m
}

func (m *metrics) observe(key int16, d time.Duration) {
	name := kmsg.NameForKey(key)
	if name == "" {
		name = "Unknown"
	}
	m.requests.WithLabelValues(name).Observe(d.Seconds())
}

func (m *metrics) produced(n int) { m.producedC.Add(float64(n)) }
func (m *metrics) fetched(n int)  { m.fetchedC.Add(float64(n)) }
