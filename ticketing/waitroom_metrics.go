package ticketing

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/store"
)

// waitroomMetrics counts what this process did in the waiting rooms; the
// queues' lengths come from the store on each scrape, so they are the same
// whichever process is asked.
type waitroomMetrics struct {
	joined, admitted, checkouts prometheus.Counter
	refused                     *prometheus.CounterVec
}

func newWaitroomMetrics(reg prometheus.Registerer, db *store.DB) (waitroomMetrics, error) {
	m := waitroomMetrics{
		joined: prometheus.NewCounter(prometheus.CounterOpts{Name: "arus_waitroom_joins_total",
			Help: "Positions given in the ticketing waiting rooms by this process."}),
		admitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "arus_waitroom_admitted_total",
			Help: "Buyers admitted from the ticketing waiting rooms by this process."}),
		checkouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "arus_waitroom_checkouts_total",
			Help: "Orders placed with an admission token by this process."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arus_waitroom_refused_total",
			Help: "Orders refused for their admission token, by reason (missing, invalid, other_event, expired, used)."}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.joined, m.admitted, m.checkouts, m.refused, &queueCollector{db: db}} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return m, err
			}
		}
	}
	return m, nil
}

var (
	queueLengthDesc = prometheus.NewDesc("arus_waitroom_queue_length", "Buyers waiting in an event's waiting room (rooms that are on).", []string{"event"}, nil)
	queueAdmitDesc  = prometheus.NewDesc("arus_waitroom_admitted", "Buyers admitted so far from an event's waiting room (rooms that are on).", []string{"event"}, nil)
)

// queueCollector reads the rooms that are on at each scrape.
type queueCollector struct{ db *store.DB }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueLengthDesc
	ch <- queueAdmitDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT event_id, last_position, admitted_through FROM waitroom_settings WHERE enabled = 1`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var event string
		var joined, admitted int64
		if rows.Scan(&event, &joined, &admitted) != nil {
			return
		}
		ch <- prometheus.MustNewConstMetric(queueLengthDesc, prometheus.GaugeValue, float64(joined-admitted), event)
		ch <- prometheus.MustNewConstMetric(queueAdmitDesc, prometheus.GaugeValue, float64(admitted), event)
	}
}
