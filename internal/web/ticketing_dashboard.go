package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
)

// The ticketing dashboard: the counts of merchants, events and customers,
// and charts of revenue, tickets sold and check-ins over a period (the
// original's "Periode"), by day or by month ("Aggregation"). The counts and
// the period's totals update live over server-sent events.

type tkDashboardData struct {
	From, To    string
	Aggregation string
	Error       string
	Counts      []tkFigure
	Charts      []chart
	Live        string // the event source of the live figures
}

// tkFigure is one boxed count.
type tkFigure struct {
	ID, Label, Value string
}

// dashboardPeriod reads ?from=&to=&aggregation=: the last 30 days by day
// unless told otherwise; at most 3 years. Its errors are in the page's
// language.
func dashboardPeriod(r *http.Request, now time.Time) (from, to time.Time, agg string, err error) {
	lang := pageLang(r)
	loc := zone(ticketing.DefaultTimeZone)
	today := now.In(loc)
	to = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	from = to.AddDate(0, 0, -29)
	q := r.URL.Query()
	if v := q.Get("from"); v != "" {
		if from, err = time.ParseInLocation(time.DateOnly, v, loc); err != nil {
			return from, to, "", errors.New(translate(lang, "tk.dash.err.date", "from", strconv.Quote(v), "2026-03-01"))
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.ParseInLocation(time.DateOnly, v, loc); err != nil {
			return from, to, "", errors.New(translate(lang, "tk.dash.err.date", "to", strconv.Quote(v), "2026-03-31"))
		}
	}
	if to.Before(from) {
		return from, to, "", errors.New(translate(lang, "tk.dash.err.before", to.Format(time.DateOnly), from.Format(time.DateOnly)))
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return from, to, "", errors.New(translate(lang, "tk.dash.err.long"))
	}
	agg = q.Get("aggregation")
	switch agg {
	case "", "day":
		agg = "day"
	case "month":
	default:
		return from, to, "", errors.New(translate(lang, "tk.dash.err.aggregation", strconv.Quote(agg)))
	}
	return from, to, agg, nil
}

// dashboardSeries is the dashboard's figures per period, every day (or
// month) of the range present, zero when nothing happened.
type dashboardSeries struct {
	Labels                     []string
	Revenue, Tickets, Checkins []float64
	Dash                       ticketing.Dashboard
}

func (h *Handler) dashboardSeries(ctx context.Context, from, to time.Time, agg string) (dashboardSeries, error) {
	d, err := h.cfg.Ticketing.Dashboard(ctx, from, to)
	if err != nil {
		return dashboardSeries{}, err
	}
	checkins := map[string]int64{}
	if h.cfg.Gate != nil {
		if checkins, err = h.cfg.Gate.CheckinsByDay(ctx, from, to.AddDate(0, 0, 1), zone(ticketing.DefaultTimeZone)); err != nil {
			return dashboardSeries{}, err
		}
	}
	key := func(day string) string {
		if agg == "month" {
			return day[:7]
		}
		return day
	}
	var s dashboardSeries
	s.Dash = d
	index := map[string]int{}
	for t := from; !t.After(to); t = t.AddDate(0, 0, 1) {
		k := key(t.Format(time.DateOnly))
		if _, ok := index[k]; !ok {
			index[k] = len(s.Labels)
			s.Labels = append(s.Labels, k)
			s.Revenue, s.Tickets, s.Checkins = append(s.Revenue, 0), append(s.Tickets, 0), append(s.Checkins, 0)
		}
	}
	for _, p := range d.Days {
		if i, ok := index[key(p.Period)]; ok {
			s.Revenue[i] += float64(p.Revenue)
			s.Tickets[i] += float64(p.Tickets)
		}
	}
	for day, n := range checkins {
		if i, ok := index[key(day)]; ok {
			s.Checkins[i] += float64(n)
		}
	}
	return s, nil
}

func sum(v []float64) int64 {
	var t float64
	for _, x := range v {
		t += x
	}
	return int64(t)
}

// dashboardValues are the live figures: the counts and the period's totals.
func dashboardValues(s dashboardSeries) map[string]string {
	return map[string]string{
		"merchants": formatNum(s.Dash.Merchants), "events": formatNum(s.Dash.Events), "customers": formatNum(s.Dash.Customers),
		"revenue": formatIDR(sum(s.Revenue)), "tickets": formatNum(sum(s.Tickets)), "checkins": formatNum(sum(s.Checkins)),
	}
}

func (h *Handler) tkDashboard(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	from, to, agg, err := dashboardPeriod(r, time.Now())
	d := tkDashboardData{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Aggregation: agg}
	status := http.StatusOK
	if err != nil {
		d.Error, status = err.Error(), http.StatusUnprocessableEntity
		h.render(w, r, status, "tk_dashboard", view{Data: d})
		return
	}
	s, err := h.dashboardSeries(r.Context(), from, to, agg)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	v := dashboardValues(s)
	d.Counts = []tkFigure{{"merchants", "tk.dash.merchants", v["merchants"]}, {"events", "tk.dash.events", v["events"]}, {"customers", "tk.dash.customers", v["customers"]}}
	per := "day"
	if agg == "month" {
		per = "month"
	}
	d.Charts = []chart{
		{Title: "tk.dash.revenue", Unit: "tk.dash.unit.revenue." + per, ID: "revenue", SVG: barChart(pageLang(r), s.Revenue, s.Labels, tkT(r, "tk.dash.unit.revenue."+per)), Current: v["revenue"]},
		{Title: "tk.dash.tickets", Unit: "tk.dash.unit.tickets." + per, ID: "tickets", SVG: barChart(pageLang(r), s.Tickets, s.Labels, tkT(r, "tk.dash.unit.tickets."+per)), Current: v["tickets"]},
		{Title: "tk.dash.checkins", Unit: "tk.dash.unit.checkins." + per, ID: "checkins", SVG: barChart(pageLang(r), s.Checkins, s.Labels, tkT(r, "tk.dash.unit.checkins."+per)), Current: v["checkins"]},
	}
	if h.cfg.Gate == nil {
		d.Charts[2].SVG = chartNote(tkT(r, "tk.dash.nogate"))
	}
	d.Live = "/ticketing/dashboard/events?" + r.URL.RawQuery
	h.render(w, r, status, "tk_dashboard", view{Data: d})
}

// tkDashboardEvents streams the dashboard's figures for the same period.
func (h *Handler) tkDashboardEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	from, to, agg, err := dashboardPeriod(r, time.Now())
	if err != nil {
		h.renderStatus(w, r, http.StatusUnprocessableEntity, tkT(r, "tk.dash.notperiod"), err.Error())
		return
	}
	h.streamValues(w, r, func(ctx context.Context) (map[string]string, error) {
		s, err := h.dashboardSeries(ctx, from, to, agg)
		if err != nil {
			return nil, err
		}
		return dashboardValues(s), nil
	})
}

// barChart draws one bar per period as SVG: a y axis from 0 to a round
// top value with its labels and gridlines, the bars, and the first, middle
// and last period under them. Each bar carries its period and value as a
// title, for a pointer; the chart's label gives the total and the highest.
// Periods are days (2006-01-02) or months (2006-01); every text is in
// lang.
func barChart(lang string, v []float64, periods []string, unit string) template.HTML {
	const left, right, top, bottom = 56.0, 316.0, 8.0, 76.0
	if len(v) == 0 {
		return chartNote(translate(lang, "tk.dash.noperiods"))
	}
	labels := make([]string, len(periods))
	for i, p := range periods {
		labels[i] = periodLabel(lang, p)
	}
	hi := 0.0
	for _, x := range v {
		hi = math.Max(hi, x)
	}
	scale := niceCeil(hi)
	var b strings.Builder
	label := translate(lang, "tk.dash.chart", unit, labels[0], labels[len(labels)-1], localNum(lang, formatNum(sum(v))), localNum(lang, formatFloat(hi)))
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 320 100" role="img" aria-label="%s">`, template.HTMLEscapeString(label))
	chartAxes(&b, lang, left, right, top, bottom, scale)
	slot := (right - left) / float64(len(v))
	for i, x := range v {
		if x <= 0 || scale == 0 {
			continue
		}
		hgt := (bottom - top) * x / scale
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			left+slot*float64(i)+slot*0.15, bottom-hgt, math.Max(slot*0.7, 0.8), hgt, template.HTMLEscapeString(labels[i]), localNum(lang, formatFloat(x)))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="92">%s</text>`, left, template.HTMLEscapeString(labels[0]))
	if len(labels) > 2 {
		fmt.Fprintf(&b, `<text x="%.0f" y="92" text-anchor="middle">%s</text>`, (left+right)/2, template.HTMLEscapeString(labels[len(labels)/2]))
	}
	if len(labels) > 1 {
		fmt.Fprintf(&b, `<text x="%.0f" y="92" text-anchor="end">%s</text>`, right, template.HTMLEscapeString(labels[len(labels)-1]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// periodLabel writes a chart's period in lang: a day as "18 Mar 2026", a
// month as "Mar 2026", with Indonesian month names in Indonesian ("Agu",
// "Des"). Anything else is written as it is.
func periodLabel(lang, period string) string {
	layout := time.DateOnly
	if len(period) == len("2006-01") {
		layout = "2006-01"
	}
	t, err := time.Parse(layout, period)
	if err != nil {
		return period
	}
	month := t.Format("Jan")
	if lang != "en" {
		month = idMonths[t.Month()-1]
	}
	if layout == "2006-01" {
		return month + " " + strconv.Itoa(t.Year())
	}
	return strconv.Itoa(t.Day()) + " " + month + " " + strconv.Itoa(t.Year())
}
