package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

type groupsData struct {
	Groups []stream.GroupInfo
	Search string
}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if wantsEvents(r) {
		h.streamValues(w, r, h.groupsLive)
		return
	}
	all, err := h.cfg.Broker.ListGroups(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := groupsData{Search: strings.TrimSpace(r.URL.Query().Get("q"))}
	for _, g := range all {
		if d.Search == "" || strings.Contains(g.Group, d.Search) {
			d.Groups = append(d.Groups, g)
		}
	}
	h.render(w, r, http.StatusOK, "groups", view{Data: d})
}

// resetForm is the reset form's input, kept across the confirmation step.
type resetForm struct {
	Topic      string
	To         string
	Time       string
	Offset     string
	Partitions string
}

// resetPlan is what a reset would do, shown before it is done.
type resetPlan struct {
	Rows      []resetRow
	Replay    int64 // records delivered again
	Skip      int64 // records the group will never see
	TargetFor string
}

type resetRow struct {
	Partition int32
	From, To  int64
}

type groupData struct {
	Group  stream.GroupInfo
	Live   string // the page's own path, for its live figures
	Every  string // how often they change, "5 s"
	Topics []string
	Form   resetForm
	Errors map[string]string
	Plan   *resetPlan
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request, status int, d groupData) {
	name := r.PathValue("group")
	g, err := h.cfg.Broker.DescribeGroup(r.Context(), name)
	if errors.Is(err, stream.ErrGroupNotFound) || errors.Is(err, stream.ErrInvalid) {
		h.renderStatus(w, r, http.StatusNotFound, "No such consumer group", "There is no consumer group named "+name+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Group = g
	d.Live = "/groups/" + url.PathEscape(g.Group)
	d.Every = strconv.FormatFloat(h.cfg.LiveEvery.Seconds(), 'f', -1, 64) + " s"
	for _, o := range g.Offsets {
		if !slices.Contains(d.Topics, o.Topic) {
			d.Topics = append(d.Topics, o.Topic)
		}
	}
	if d.Form.To == "" {
		d.Form.To = "earliest"
	}
	h.render(w, r, status, "group", view{Data: d})
}

func (h *Handler) group(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if wantsEvents(r) {
		name := r.PathValue("group")
		h.streamValues(w, r, func(ctx context.Context) (map[string]string, error) { return h.groupLive(ctx, name) })
		return
	}
	h.groupPage(w, r, http.StatusOK, groupData{})
}

// groupsLive are the groups page's live figures: each group's lag and
// state, keyed by group name.
func (h *Handler) groupsLive(ctx context.Context) (map[string]string, error) {
	all, err := h.cfg.Broker.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	v := map[string]string{}
	for _, g := range all {
		lag := g.Lag()
		v["lag:"+g.Group] = formatNum(lag)
		state, pill := groupState(g)
		v["state:"+g.Group], v["pill:state:"+g.Group] = state, pill
	}
	return v, nil
}

// groupState is the word and pill class of a group's state.
func groupState(g stream.GroupInfo) (string, string) {
	switch {
	case g.Lag() > 0:
		return "lagging " + formatNum(g.Lag()), "warn"
	case len(g.Members) > 0:
		return "up to date", "ok"
	}
	return "idle", "info"
}

// groupLive are a group page's live figures: the total lag, and per
// partition the committed and end offsets, the lag and the age of the
// oldest unconsumed record, keyed by topic/partition.
func (h *Handler) groupLive(ctx context.Context, name string) (map[string]string, error) {
	g, err := h.cfg.Broker.DescribeGroup(ctx, name)
	if err != nil {
		return nil, err
	}
	v := map[string]string{"lag": formatNum(g.Lag()), "members": formatNum(len(g.Members))}
	for _, o := range g.Offsets {
		k := partKey(o)
		v["committed:"+k] = committedText(o)
		v["end:"+k] = formatNum(o.End)
		v["lag:"+k] = formatNum(o.Lag)
		v["pill:lag:"+k] = lagPill(o.Lag)
		v["oldest:"+k] = oldestText(o.Oldest)
	}
	return v, nil
}

// committedText shows a group's committed offset, or that it has none.
func committedText(o stream.GroupOffset) string {
	if o.NoCommit {
		return "no commit"
	}
	return formatNum(o.Committed)
}

// partKey names one partition of a group's offsets in live keys.
func partKey(o stream.GroupOffset) string { return o.Topic + "/" + strconv.Itoa(int(o.Partition)) }

func lagPill(lag int64) string {
	if lag > 0 {
		return "warn"
	}
	return "ok"
}

func oldestText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return ago(t)
}

// resetGroup checks the reset form; without confirmed=yes it shows what the
// reset would do and asks for confirmation, with it it resets.
func (h *Handler) resetGroup(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	group := r.PathValue("group")
	f := resetForm{
		Topic: r.PostFormValue("topic"), To: r.PostFormValue("to"), Time: strings.TrimSpace(r.PostFormValue("time")),
		Offset: strings.TrimSpace(r.PostFormValue("offset")), Partitions: strings.TrimSpace(r.PostFormValue("partitions")),
	}
	target, errs := parseReset(f)
	var plan *resetPlan
	if len(errs) == 0 {
		var err error
		plan, err = h.planReset(r, group, f.Topic, target)
		if err != nil {
			errs["topic"] = strings.TrimPrefix(err.Error(), stream.ErrInvalid.Error()+": ")
		}
	}
	if len(errs) > 0 {
		h.groupPage(w, r, http.StatusUnprocessableEntity, groupData{Form: f, Errors: errs})
		return
	}
	if r.PostFormValue("confirmed") != "yes" {
		audit.Describe(r.Context(), "reviewed a reset of group %s on %s to %s (nothing changed)", group, f.Topic, target)
		h.groupPage(w, r, http.StatusOK, groupData{Form: f, Plan: plan})
		return
	}
	_, err := h.cfg.Broker.ResetOffsets(r.Context(), group, f.Topic, target)
	switch {
	case errors.Is(err, stream.ErrGroupActive):
		h.groupPage(w, r, http.StatusConflict, groupData{Form: f, Errors: map[string]string{
			"to": "the group has live members; stop its consumers, then reset"}})
		return
	case errors.Is(err, stream.ErrInvalid), errors.Is(err, stream.ErrTopicNotFound):
		h.groupPage(w, r, http.StatusUnprocessableEntity, groupData{Form: f, Errors: map[string]string{"to": err.Error()}})
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	audit.Describe(r.Context(), "reset group %s on %s to %s", group, f.Topic, target)
	h.log.InfoContext(r.Context(), "console: group reset", "group", group, "topic", f.Topic, "to", f.To, "by", p.Name())
	http.Redirect(w, r, "/groups/"+url.PathEscape(group)+"?ok=group-reset", http.StatusSeeOther)
}

func parseReset(f resetForm) (stream.Reset, map[string]string) {
	errs := map[string]string{}
	var t stream.Reset
	if f.Topic == "" {
		errs["topic"] = "choose a topic"
	}
	switch f.To {
	case "earliest":
		t.To = stream.ResetEarliest
	case "latest":
		t.To = stream.ResetLatest
	case "time":
		t.To = stream.ResetTime
		at, err := time.Parse(time.RFC3339, f.Time)
		if err != nil {
			at, err = time.ParseInLocation("2006-01-02T15:04", f.Time, time.UTC)
		}
		if err != nil {
			errs["time"] = fmt.Sprintf("%q is not a time; use 2026-01-31T09:00 (UTC) or RFC 3339", f.Time)
		}
		t.Time = at
	case "offset":
		t.To = stream.ResetOffset
		n, err := strconv.ParseInt(f.Offset, 10, 64)
		if err != nil || n < 0 {
			errs["offset"] = fmt.Sprintf("%q is not an offset; give a whole number, 0 or more", f.Offset)
		}
		t.Offset = n
	default:
		errs["to"] = "choose earliest, latest, a time or an offset"
	}
	if f.Partitions != "" {
		for _, s := range strings.Split(f.Partitions, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				errs["partitions"] = fmt.Sprintf("%q is not a partition number; list them like 0,2,5", strings.TrimSpace(s))
				break
			}
			t.Partitions = append(t.Partitions, int32(n))
		}
	}
	return t, errs
}

// planReset works out, without changing anything, where each partition
// would move and how many records that replays or skips.
func (h *Handler) planReset(r *http.Request, group, topic string, to stream.Reset) (*resetPlan, error) {
	info, err := h.cfg.Broker.DescribeTopic(r.Context(), topic)
	if err != nil {
		return nil, err
	}
	g, err := h.cfg.Broker.DescribeGroup(r.Context(), group)
	if err != nil && !errors.Is(err, stream.ErrGroupNotFound) {
		return nil, err
	}
	plan := &resetPlan{}
	for _, po := range info.Offsets {
		if len(to.Partitions) > 0 && !slices.Contains(to.Partitions, po.Partition) {
			continue
		}
		from := po.Start
		for _, o := range g.Offsets {
			if o.Topic == topic && o.Partition == po.Partition {
				from = o.Committed
			}
		}
		var target int64
		switch to.To {
		case stream.ResetEarliest:
			target = po.Start
		case stream.ResetLatest:
			target = po.End
		case stream.ResetOffset:
			if to.Offset < po.Start || to.Offset > po.End {
				return nil, fmt.Errorf("offset %d is outside partition %d (%d to %d)", to.Offset, po.Partition, po.Start, po.End)
			}
			target = to.Offset
		case stream.ResetTime:
			if target, err = h.cfg.Broker.OffsetForTime(r.Context(), topic, po.Partition, to.Time); err != nil {
				return nil, err
			}
		}
		plan.Rows = append(plan.Rows, resetRow{Partition: po.Partition, From: from, To: target})
		if target < from {
			plan.Replay += from - target
		} else {
			plan.Skip += target - from
		}
	}
	for _, p := range to.Partitions {
		if int(p) >= len(info.Offsets) {
			return nil, fmt.Errorf("topic %s has no partition %d", topic, p)
		}
	}
	return plan, nil
}
