package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// The overview samples the backbone every sampleEvery and keeps the last
// hour in memory: records in (the sum of partition end offsets), records
// out (the sum of committed offsets) and the total lag, and the handler
// figures of the process's metrics registry (see handlerstats.go). Charts
// are drawn on the server as SVG; a server-sent event stream updates the
// current values while the page is open.
const (
	sampleEvery = 10 * time.Second
	sampleKeep  = 360 // one hour
)

type sample struct {
	At       time.Time
	In, Out  int64 // cumulative
	Lag      int64
	BrokerUp bool
	// Handlers are the cumulative handler figures, when HandlersRead.
	Handlers     handlerTotals
	HandlersRead bool
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
	x.Handlers, x.HandlersRead = gatherHandlers(h.cfg.Metrics)
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
// between consecutive samples, and the lag as sampled; for handlers, the
// share of calls that failed (percent) and the p99 duration (ms) of each
// step, NaN for a step in which no handler ran.
type series struct {
	In, Out, Lag []float64
	Errors, P99  []float64
	Calls        float64 // handler calls over the whole span
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
		errs, p99 := math.NaN(), math.NaN()
		if ss[i].HandlersRead && ss[i-1].HandlersRead {
			st := stepBetween(ss[i-1].Handlers, ss[i].Handlers)
			out.Calls += st.Calls
			if st.Calls > 0 {
				errs = 100 * st.Failed / st.Calls
			}
			p99 = st.P99 * 1000
		}
		out.Errors = append(out.Errors, errs)
		out.P99 = append(out.P99, p99)
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
		{Title: "Handler errors", Unit: "% of calls", ID: "errors", SVG: h.handlerChart(ss, s, s.Errors, "% of calls"), Current: lastFloat(s.Errors)},
		{Title: "Handler latency p99", Unit: "ms", ID: "p99", SVG: h.handlerChart(ss, s, s.P99, "ms"), Current: lastFloat(s.P99)},
	}
	h.render(w, r, http.StatusOK, "overview", view{Data: d})
}

// handlerChart draws a handler series, or says why there is none.
func (h *Handler) handlerChart(ss []sample, s series, v []float64, unit string) template.HTML {
	switch {
	case h.cfg.Metrics == nil:
		return chartNote("handler metrics are not available in this process")
	case len(ss) >= 2 && s.Calls == 0:
		span := "hour"
		if s.Span < 55*time.Minute {
			span = s.Span.Round(time.Second).String()
		}
		return chartNote("no handlers ran in the last " + span)
	}
	return sparkline(v, unit, s.Span)
}

// chartNote is a chart's place holder: a sentence instead of a line.
func chartNote(text string) template.HTML {
	t := template.HTMLEscapeString(text)
	return template.HTML(`<svg class="chart" viewBox="0 0 320 96" role="img" aria-label="` + t + `"><text x="8" y="52">` + t + `</text></svg>`)
}

func last(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	return formatNum(int64(math.Round(v[len(v)-1])))
}

// lastFloat is the latest value of a series that may have gaps: "—" when
// the latest step has none.
func lastFloat(v []float64) string {
	if len(v) == 0 || math.IsNaN(v[len(v)-1]) {
		return "—"
	}
	return formatFloat(v[len(v)-1])
}

// formatFloat writes a figure with the precision it needs: whole numbers
// with thousands separators from 100 on, else up to two decimals.
func formatFloat(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100:
		return formatNum(int64(math.Round(x)))
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// sparkline draws a small line chart as SVG: a y axis from 0 to a round
// top value, labelled in the left margin with a gridline at the top and at
// half, the line, and the time span under it. An all-zero series is a flat
// line at 0 with only 0 labelled. NaN values are gaps: the line breaks
// there. Values are server data, not user input, and are formatted as
// numbers only.
func sparkline(v []float64, unit string, span time.Duration) template.HTML {
	// The plot area: x from left to right, y from top (the top value) to
	// bottom (0); labels sit in the margins, never on the line.
	const left, right, top, bottom = 48.0, 316.0, 8.0, 76.0
	if len(v) < 2 {
		return template.HTML(`<svg class="chart" viewBox="0 0 320 96" role="img" aria-label="not enough samples yet"><text x="8" y="52">collecting samples…</text></svg>`)
	}
	hi := 0.0
	for _, x := range v {
		if !math.IsNaN(x) {
			hi = math.Max(hi, x)
		}
	}
	scale := niceCeil(hi)
	var b strings.Builder
	label := fmt.Sprintf("%s over the last %s, up to %s", unit, span.Round(time.Second), formatFloat(hi))
	if hi == 0 {
		label = fmt.Sprintf("%s over the last %s: 0 throughout", unit, span.Round(time.Second))
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 320 96" role="img" aria-label="%s">`, template.HTMLEscapeString(label))
	chartAxes(&b, "en", left, right, top, bottom, scale)
	if hi == 0 {
		scale = 1 // a flat line at 0
	}
	var seg []string
	flush := func() {
		switch len(seg) {
		case 0:
		case 1:
			x, y, _ := strings.Cut(seg[0], ",")
			fmt.Fprintf(&b, `<circle class="dot" cx="%s" cy="%s" r="1.5"/>`, x, y)
		default:
			fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(seg, " "))
		}
		seg = seg[:0]
	}
	for i, x := range v {
		if math.IsNaN(x) {
			flush()
			continue
		}
		px := left + (right-left)*float64(i)/float64(len(v)-1)
		py := bottom - (bottom-top)*x/scale
		seg = append(seg, fmt.Sprintf("%.1f,%.1f", px, py))
	}
	flush()
	fmt.Fprintf(&b, `<text x="%.0f" y="92">%s ago</text><text x="%.0f" y="92" text-anchor="end">now</text></svg>`,
		left, span.Round(time.Second), right)
	return template.HTML(b.String())
}

// chartAxes draws a chart's axes around the plot area: the y axis from 0
// to top (labelled 0 at the bottom) and the x axis, and, for a top above
// 0, gridlines labelled with the top value and its half, written in lang.
func chartAxes(b *strings.Builder, lang string, left, right, top, bottom, scale float64) {
	fmt.Fprintf(b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, top, left, bottom)
	fmt.Fprintf(b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, bottom, right, bottom)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="end">0</text>`, left-4, bottom+4)
	if scale <= 0 {
		return
	}
	for _, f := range []float64{1, 0.5} {
		y := bottom - (bottom-top)*f
		fmt.Fprintf(b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`, left, y, right, y)
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-4, y+4, axisLabel(lang, scale*f))
	}
}

// axisLabel writes an axis value in lang short enough for the chart's
// margin: 0.5, 20, 2,500, 25k, 1.5M; in Indonesian 0,5, 20, 2.500, 25rb,
// 1,5jt.
func axisLabel(lang string, x float64) string {
	k, m := "k", "M"
	if lang != "en" {
		k, m = "rb", "jt" // ribu, juta
	}
	switch {
	case x >= 1e6:
		return localNum(lang, strconv.FormatFloat(x/1e6, 'f', -1, 64)) + m
	case x >= 1e4:
		return localNum(lang, strconv.FormatFloat(x/1e3, 'f', -1, 64)) + k
	case x == math.Trunc(x):
		return localNum(lang, formatNum(int64(x)))
	}
	return localNum(lang, strconv.FormatFloat(x, 'f', -1, 64))
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten: the top of a
// chart's axis.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// overviewEvents streams the current values as server-sent events, for
// the page's live figures.
func (h *Handler) overviewEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.streamValues(w, r, func(context.Context) (map[string]string, error) {
		ss := h.samples.all()
		s := derive(ss)
		msg := map[string]string{"in": last(s.In), "out": last(s.Out), "errors": lastFloat(s.Errors), "p99": lastFloat(s.P99)}
		if len(ss) > 0 {
			msg["lag"] = formatNum(ss[len(ss)-1].Lag)
		}
		return msg, nil
	})
}
