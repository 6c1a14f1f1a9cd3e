package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

type topicRow struct {
	stream.TopicInfo
	Records int64
	// Bytes is the topic's size when the broker tells it (HasBytes), Rate
	// the records per second produced over the last minute (HasRate).
	Bytes    int64
	HasBytes bool
	Rate     float64
	HasRate  bool
}

type topicsData struct {
	Topics []topicRow
	Search string
	Total  int
	Form   topicForm
	Errors map[string]string
}

type topicForm struct {
	Name       string
	Partitions string
	Retention  string
}

func (h *Handler) topicsPage(w http.ResponseWriter, r *http.Request, status int, d topicsData) {
	all, err := h.cfg.Broker.ListTopics(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Total = len(all)
	d.Search = strings.TrimSpace(r.URL.Query().Get("q"))
	var names []string
	for _, t := range all {
		if d.Search == "" || strings.Contains(t.Name, d.Search) {
			row := topicRow{TopicInfo: t, Records: t.Records()}
			row.Rate, row.HasRate = h.rates.rate(t.Name)
			d.Topics = append(d.Topics, row)
			names = append(names, t.Name)
		}
	}
	if sz, ok := h.cfg.Broker.(stream.Sizer); ok && len(names) > 0 {
		// Sizes are a nicety: a broker slow or failing to tell them does
		// not cost the page.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		sizes, err := sz.TopicSizes(ctx, names)
		cancel()
		if err != nil {
			h.log.WarnContext(r.Context(), "console: topic sizes", "err", err)
		}
		for i := range d.Topics {
			d.Topics[i].Bytes, d.Topics[i].HasBytes = sizes[d.Topics[i].Name]
		}
	}
	if d.Form.Partitions == "" {
		d.Form.Partitions = "4"
	}
	h.render(w, r, status, "topics", view{Data: d})
}

func (h *Handler) topics(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.topicsPage(w, r, http.StatusOK, topicsData{})
}

func (h *Handler) createTopic(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := topicForm{
		Name:       strings.TrimSpace(r.PostFormValue("name")),
		Partitions: strings.TrimSpace(r.PostFormValue("partitions")),
		Retention:  strings.TrimSpace(r.PostFormValue("retention")),
	}
	errs := map[string]string{}
	t := stream.Topic{Name: f.Name}
	if n, err := strconv.Atoi(f.Partitions); err != nil {
		errs["partitions"] = "give a whole number from 1 to " + strconv.Itoa(stream.MaxPartitions)
	} else {
		t.Partitions = int32(n)
	}
	if f.Retention != "" {
		d, err := time.ParseDuration(f.Retention)
		if err != nil || d < 0 {
			errs["retention"] = "give a duration such as 168h, or leave it empty to keep records forever"
		}
		t.RetentionTime = d
	}
	if len(errs) == 0 {
		if err := t.Validate(); err != nil {
			field := "name"
			if strings.Contains(err.Error(), "partition") {
				field = "partitions"
			}
			errs[field] = strings.TrimPrefix(err.Error(), stream.ErrInvalid.Error()+": ")
		}
	}
	if len(errs) == 0 {
		err := h.cfg.Broker.CreateTopic(r.Context(), t)
		switch {
		case errors.Is(err, stream.ErrTopicExists):
			errs["name"] = "a topic with this name exists"
		case err != nil:
			h.serverError(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		h.topicsPage(w, r, http.StatusUnprocessableEntity, topicsData{Form: f, Errors: errs})
		return
	}
	audit.Describe(r.Context(), "create topic %s with %d partitions", t.Name, t.Partitions)
	h.log.InfoContext(r.Context(), "console: topic created", "topic", t.Name, "by", p.Name())
	http.Redirect(w, r, "/topics/"+url.PathEscape(t.Name)+"?ok=topic-created", http.StatusSeeOther)
}

type topicData struct {
	Topic   stream.TopicInfo
	Records int64
	Groups  []stream.GroupOffset
	Names   []string
}

func (h *Handler) topic(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	info, ok := h.topicOf(w, r)
	if !ok {
		return
	}
	d := topicData{Topic: info, Records: info.Records()}
	groups, err := h.cfg.Broker.ListGroups(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, g := range groups {
		for _, o := range g.Offsets {
			if o.Topic == info.Name {
				d.Names = append(d.Names, g.Group)
				break
			}
		}
	}
	sort.Strings(d.Names)
	h.render(w, r, http.StatusOK, "topic", view{Data: d})
}

func (h *Handler) deleteTopic(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	name := r.PathValue("topic")
	if r.PostFormValue("confirm") != name {
		h.renderStatus(w, r, http.StatusUnprocessableEntity, "Not deleted",
			"To delete topic "+name+", type its name in the confirmation box.")
		return
	}
	err := h.cfg.Broker.DeleteTopic(r.Context(), name)
	if errors.Is(err, stream.ErrTopicNotFound) {
		h.renderStatus(w, r, http.StatusNotFound, "No such topic", "There is no topic named "+name+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "console: topic deleted", "topic", name, "by", p.Name())
	http.Redirect(w, r, "/topics?ok=topic-deleted", http.StatusSeeOther)
}

// topicOf describes the topic the path names, or answers 404 (or 500) and
// reports false.
func (h *Handler) topicOf(w http.ResponseWriter, r *http.Request) (stream.TopicInfo, bool) {
	name := r.PathValue("topic")
	info, err := h.cfg.Broker.DescribeTopic(r.Context(), name)
	if errors.Is(err, stream.ErrTopicNotFound) || errors.Is(err, stream.ErrInvalid) {
		h.renderStatus(w, r, http.StatusNotFound, "No such topic", "There is no topic named "+name+".")
		return stream.TopicInfo{}, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return stream.TopicInfo{}, false
	}
	return info, true
}
