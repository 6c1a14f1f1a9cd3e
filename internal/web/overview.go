package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// The overview samples the backbone every sampleEvery and keeps the last
// hour in memory: records in (the sum of partition end offsets), records
// out (the sum of committed offsets) and the total lag. Charts are drawn
// on the server as SVG; a server-sent event stream updates the current
// values while the page is open.
const (
	sampleEvery = 10 * time.Second
	sampleKeep  = 360 // one hour
)

type sample struct {
	At       time.Time
	In, Out  int64 // cumulative
	Lag      int64
	BrokerUp bool
}

type sampler struct {
	mu      sync.Mutex
	samples []sample
}

func (s *sampler) add(x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, x)
	if len(s.samples) > sampleKeep {
		s.samples = s.samples[len(s.samples)-sampleKeep:]
	}
}

func (s *sampler) all() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.samples...)
}

// Run samples the backbone until ctx ends; arus serve runs it beside the
// HTTP server. Without it the overview shows the current values only.
func (h *Handler) Run(ctx context.Context) {
	if h.cfg.Broker == nil {
		return
	}
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		h.samples.add(h.sampleNow(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Handler) sampleNow(ctx context.Context) sample {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	x := sample{At: time.Now(), BrokerUp: true}
	topics, err := h.cfg.Broker.ListTopics(ctx)
	if err != nil {
		x.BrokerUp = false
		return x
	}
	h.rates.observe(x.At, topics)
	for _, t := range topics {
		for _, p := range t.Offsets {
			x.In += p.End
		}
	}
	groups, err := h.cfg.Broker.ListGroups(ctx)
	if err != nil {
		x.BrokerUp = false
		return x
	}
	for _, g := range groups {
		for _, o := range g.Offsets {
			x.Out += o.Committed
			x.Lag += o.Lag
		}
	}
	return x
}

// series are the chart data derived from the samples: rates per second
// between consecutive samples, and the lag as sampled.
type series struct {
	In, Out, Lag []float64
	Span         time.Duration
}

func derive(ss []sample) series {
	var out series
	for i := 1; i < len(ss); i++ {
		dt := ss[i].At.Sub(ss[i-1].At).Seconds()
		if dt <= 0 {
			continue
		}
		out.In = append(out.In, math.Max(0, float64(ss[i].In-ss[i-1].In)/dt))
		out.Out = append(out.Out, math.Max(0, float64(ss[i].Out-ss[i-1].Out)/dt))
		out.Lag = append(out.Lag, float64(ss[i].Lag))
	}
	if len(ss) > 1 {
		out.Span = ss[len(ss)-1].At.Sub(ss[0].At)
	}
	return out
}

type overviewData struct {
	Charts     []chart
	Components []Component
	Lag        int64
	Samples    int
}

type chart struct {
	Title, Unit, ID string
	SVG             template.HTML
	Current         string
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ss := h.samples.all()
	if len(ss) == 0 && h.cfg.Broker != nil {
		ss = append(ss, h.sampleNow(r.Context()))
	}
	d := overviewData{Components: h.cfg.Status(r.Context()), Samples: len(ss)}
	s := derive(ss)
	if len(ss) > 0 {
		d.Lag = ss[len(ss)-1].Lag
	}
	d.Charts = []chart{
		{Title: "Records in", Unit: "records/s", ID: "in", SVG: sparkline(s.In, "records/s", s.Span), Current: last(s.In)},
		{Title: "Records out", Unit: "records/s", ID: "out", SVG: sparkline(s.Out, "records/s", s.Span), Current: last(s.Out)},
		{Title: "Consumer lag", Unit: "records", ID: "lag", SVG: sparkline(s.Lag, "records", s.Span), Current: formatNum(d.Lag)},
	}
	h.render(w, r, http.StatusOK, "overview", view{Data: d})
}

func last(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	return formatNum(int64(math.Round(v[len(v)-1])))
}

// sparkline draws a small line chart as SVG: the line, the y-axis range
// and the time span as labels. Values are server data, not user input,
// and are formatted as numbers only.
func sparkline(v []float64, unit string, span time.Duration) template.HTML {
	const w, hgt, pad = 320.0, 96.0, 4.0
	if len(v) < 2 {
		return template.HTML(`<svg class="chart" viewBox="0 0 320 96" role="img" aria-label="not enough samples yet"><text x="8" y="52">collecting samples…</text></svg>`)
	}
	hi := 0.0
	for _, x := range v {
		hi = math.Max(hi, x)
	}
	if hi == 0 {
		hi = 1
	}
	var pts strings.Builder
	for i, x := range v {
		px := pad + (w-2*pad)*float64(i)/float64(len(v)-1)
		py := hgt - 18 - (hgt-18-pad)*x/hi
		fmt.Fprintf(&pts, "%.1f,%.1f ", px, py)
	}
	return template.HTML(fmt.Sprintf(`<svg class="chart" viewBox="0 0 320 96" role="img" aria-label="%s over the last %s, up to %s">`+
		`<line class="axis" x1="4" y1="78" x2="316" y2="78"/>`+
		`<polyline class="line" points="%s"/>`+
		`<text x="4" y="92">%s ago</text><text x="316" y="92" text-anchor="end">now</text>`+
		`<text x="316" y="12" text-anchor="end">max %s %s</text></svg>`,
		unit, span.Round(time.Second), formatNum(int64(hi)), strings.TrimSpace(pts.String()),
		span.Round(time.Second), formatNum(int64(hi)), unit))
}

// overviewEvents streams the current values as server-sent events, for
// the page's live figures.
func (h *Handler) overviewEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.streamValues(w, r, func(context.Context) (map[string]string, error) {
		ss := h.samples.all()
		s := derive(ss)
		msg := map[string]string{"in": last(s.In), "out": last(s.Out)}
		if len(ss) > 0 {
			msg["lag"] = formatNum(ss[len(ss)-1].Lag)
		}
		return msg, nil
	})
}
