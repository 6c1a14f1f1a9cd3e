package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/filter"
	"github.com/arus-platform/arus/stream"
)

// The message browser reads a bounded window of one partition: never the
// whole topic. Filters (key, value and a JSON path expression, see
// [filter.ParseMatch]) apply to the records of that window; a page says how
// far it looked and links on from there.
const (
	browsePage     = 50
	browseMaxScan  = 10000 // records examined per request when filtering
	browseMaxValue = 64 << 10
	// browseScansPerUser bounds the pages of the browser one user has
	// being read at once: each may examine browseMaxScan records, and a
	// viewer could otherwise open as many as the connections allow.
	browseScansPerUser = 2
)

// scanSlots counts the browser scans each user is running.
type scanSlots struct {
	mu      sync.Mutex
	running map[string]int
}

// take claims one of user's limit slots; release gives it back. ok is
// false when every slot is taken.
func (s *scanSlots) take(user string, limit int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[user] >= limit {
		return nil, false
	}
	if s.running == nil {
		s.running = map[string]int{}
	}
	s.running[user]++
	return sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.running[user]--; s.running[user] <= 0 {
			delete(s.running, user)
		}
	}), true
}

type message struct {
	*stream.Record
	Value     string
	Pretty    bool
	Truncated bool
	Key       string
	Headers   []string
}

type messagesData struct {
	Topic     stream.TopicInfo
	Partition int32
	Start     int64 // the partition's start and end offsets
	End       int64
	Newest    bool
	Key       string
	Contains  string
	Match     string // the JSON path filter as typed
	// Header filters on a header: "name" (it is present) or
	// "name=value" (its value contains value).
	Header string
	// Time is where browsing starts, as typed (UTC, filterTime).
	Time     string
	Messages []message
	Scanned  int64
	// ScanFrom and ScanTo bound the offsets examined, [ScanFrom, ScanTo);
	// Capped is set when the scan stopped at browseMaxScan records.
	ScanFrom, ScanTo int64
	Capped           bool
	Older            string // link to the next page back, "" when none
	Newer            string
	Form             produceForm
	Review           *produceReview
	Errors           map[string]string
}

// Filtered reports whether any filter is set.
func (d messagesData) Filtered() bool {
	return d.Key != "" || d.Contains != "" || d.Match != "" || d.Header != ""
}

// MaxScan is the most records one page examines.
func (messagesData) MaxScan() int { return browseMaxScan }

type produceForm struct {
	Key, Value, Headers string
	Partition           string
}

// produceReview is what a produce will do, shown before it is done.
type produceReview struct {
	Partition  int32 // the key's partition, when Keyed
	Keyed      bool
	ValueBytes int
	KeyBytes   int
	Headers    int
	Bytes      int // key, value and headers
}

func (h *Handler) messages(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.messagesPage(w, r, http.StatusOK, produceForm{}, nil, nil)
}

func (h *Handler) messagesPage(w http.ResponseWriter, r *http.Request, status int, form produceForm, review *produceReview, errs map[string]string) {
	name := r.PathValue("topic")
	info, err := h.cfg.Broker.DescribeTopic(r.Context(), name)
	if errors.Is(err, stream.ErrTopicNotFound) || errors.Is(err, stream.ErrInvalid) {
		h.renderStatus(w, r, http.StatusNotFound, "No such topic", "There is no topic named "+name+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	q := r.URL.Query()
	d := messagesData{Topic: info, Key: q.Get("key"), Contains: q.Get("q"), Match: strings.TrimSpace(q.Get("match")),
		Header: strings.TrimSpace(q.Get("header")), Time: strings.TrimSpace(q.Get("time")),
		Newest: q.Get("order") != "oldest", Form: form, Review: review, Errors: errs}
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	match, err := filter.ParseMatch(d.Match)
	if err != nil {
		d.Errors["match"] = strings.TrimPrefix(err.Error(), "filter: ")
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	}
	if v := q.Get("partition"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n >= len(info.Offsets) {
			h.renderStatus(w, r, http.StatusBadRequest, "No such partition",
				fmt.Sprintf("Topic %s has partitions 0 to %d; %q is not one of them.", name, len(info.Offsets)-1, v))
			return
		}
		d.Partition = int32(n)
	}
	po := info.Offsets[d.Partition]
	d.Start, d.End = po.Start, po.End
	from := d.End
	if !d.Newest {
		from = d.Start
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.renderStatus(w, r, http.StatusBadRequest, "Bad offset", fmt.Sprintf("%q is not an offset; give a whole number, 0 or more.", v))
			return
		}
		from = min(max(n, d.Start), d.End)
	} else if d.Time != "" {
		// From a time: the first record at or after it, going forwards from
		// there, or backwards from there (the records before it).
		t, err := time.ParseInLocation(filterTime, d.Time, time.UTC)
		if err != nil {
			d.Errors["time"] = "give a time as 2006-01-02T15:04 (UTC)"
			if status == http.StatusOK {
				status = http.StatusBadRequest
			}
		} else if from, err = h.cfg.Broker.OffsetForTime(r.Context(), name, d.Partition, t); err != nil {
			h.serverError(w, r, err)
			return
		}
		from = min(max(from, d.Start), d.End)
	}
	if d.Errors["match"] == "" && d.Errors["time"] == "" {
		user := ""
		if p := auth.FromContext(r.Context()); p != nil {
			user = p.User.ID
		}
		release, ok := h.scans.take(user, browseScansPerUser)
		if !ok {
			w.Header().Set("Retry-After", "1")
			h.renderStatus(w, r, http.StatusTooManyRequests, "Too many scans",
				fmt.Sprintf("You already have %d message pages being read. Wait for one to finish, then reload this page.", browseScansPerUser))
			return
		}
		err := h.browse(r, &d, from, match)
		release()
		if err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	if d.Form.Partition == "" {
		d.Form.Partition = "auto"
	}
	h.render(w, r, status, "messages", view{Data: d})
}

// browse fills d.Messages with up to a page of matching records: backwards
// from "from" (exclusive) when newest first, forwards from it otherwise,
// examining at most browseMaxScan records. It records the window it
// examined in d.ScanFrom and d.ScanTo.
func (h *Handler) browse(r *http.Request, d *messagesData, from int64, where *filter.Filter) error {
	hname, hvalue, hasValue := strings.Cut(d.Header, "=")
	hasHeader := func(rec *stream.Record) bool {
		for _, h := range rec.Headers {
			if h.Key == hname && (!hasValue || bytes.Contains(h.Value, []byte(hvalue))) {
				return true
			}
		}
		return false
	}
	// Records are masked before they are matched, so that a search cannot
	// find what the reader may not see.
	view, err := api.View(r.Context(), h.cfg.Masks, d.Topic.Name)
	if err != nil {
		return err
	}
	match := func(rec *stream.Record) bool {
		return (d.Key == "" || strings.Contains(string(rec.Key), d.Key)) &&
			(d.Contains == "" || bytes.Contains(rec.Value, []byte(d.Contains))) &&
			(d.Header == "" || hasHeader(rec)) &&
			(where == nil || where.MatchJSON(rec.Value))
	}
	lo, hi := from, from // the window examined: [lo, hi)
	for len(d.Messages) < browsePage && d.Scanned < browseMaxScan {
		var start int64
		if d.Newest {
			if lo <= d.Start {
				break
			}
			start = max(d.Start, lo-browsePage)
		} else {
			if hi >= d.End {
				break
			}
			start = hi
		}
		var recs []*stream.Record
		var err error
		if d.Newest {
			recs, err = h.readRange(r, d, start, lo)
		} else {
			recs, err = h.cfg.Broker.Read(r.Context(), d.Topic.Name, d.Partition, start, browsePage)
		}
		if err != nil {
			return err
		}
		if d.Newest {
			slices.Reverse(recs)
			lo = start
		} else if len(recs) > 0 {
			hi = recs[len(recs)-1].Offset + 1
		} else {
			break
		}
		d.Scanned += int64(len(recs))
		for _, rec := range recs {
			rec := view(rec)
			if len(d.Messages) == browsePage {
				// Resume from here next page.
				if d.Newest {
					lo = rec.Offset + 1
				} else {
					hi = rec.Offset
				}
				break
			}
			if match(rec) {
				d.Messages = append(d.Messages, newMessage(rec))
			}
		}
	}
	link := func(offset int64, order string) string {
		v := url.Values{"partition": {strconv.Itoa(int(d.Partition))}, "offset": {strconv.FormatInt(offset, 10)}, "order": {order}}
		if d.Key != "" {
			v.Set("key", d.Key)
		}
		if d.Contains != "" {
			v.Set("q", d.Contains)
		}
		if d.Match != "" {
			v.Set("match", d.Match)
		}
		if d.Header != "" {
			v.Set("header", d.Header)
		}
		return "?" + v.Encode()
	}
	d.Capped = d.Scanned >= browseMaxScan
	if d.Newest {
		d.ScanFrom, d.ScanTo = lo, from
	} else {
		d.ScanFrom, d.ScanTo = from, hi
	}
	if d.Newest {
		if lo > d.Start {
			d.Older = link(lo, "newest")
		}
	} else if hi < d.End {
		d.Newer = link(hi, "oldest")
	}
	return nil
}

// readRange reads the records of [start, end) of the browsed partition; a
// backend may answer a read with fewer records than asked.
func (h *Handler) readRange(r *http.Request, d *messagesData, start, end int64) ([]*stream.Record, error) {
	var out []*stream.Record
	for off := start; off < end; {
		recs, err := h.cfg.Broker.Read(r.Context(), d.Topic.Name, d.Partition, off, int(end-off))
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if rec.Offset < end {
				out = append(out, rec)
			}
		}
		off = recs[len(recs)-1].Offset + 1
	}
	return out, nil
}

func newMessage(r *stream.Record) message {
	m := message{Record: r, Key: printable(r.Key)}
	v := r.Value
	if len(v) > browseMaxValue {
		v, m.Truncated = v[:browseMaxValue], true
	}
	var buf bytes.Buffer
	if !m.Truncated && json.Valid(v) && json.Indent(&buf, v, "", "  ") == nil {
		m.Value, m.Pretty = buf.String(), true
	} else {
		m.Value = printable(v)
	}
	for _, hd := range r.Headers {
		m.Headers = append(m.Headers, hd.Key+"="+printable(hd.Value))
	}
	return m
}

// printable shows text as is and binary as hex.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("(%d bytes) %x", len(b), b)
}

// produceMessage produces one record typed into the form. Without
// confirmed=yes it only checks the form and shows what it would produce:
// the topic, the partition the key decides, and the size.
func (h *Handler) produceMessage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := produceForm{Key: r.PostFormValue("key"), Value: r.PostFormValue("value"), Headers: r.PostFormValue("headers")}
	rec := &stream.Record{Topic: r.PathValue("topic"), Value: []byte(f.Value)}
	if f.Key != "" {
		rec.Key = []byte(f.Key)
	}
	errs := map[string]string{}
	switch ds, err := h.datasetOf(r.Context(), rec.Topic); {
	case err != nil:
		h.serverError(w, r, err)
		return
	case ds != "":
		errs["value"] = fmt.Sprintf("This topic holds the records of the relay dataset %s. Send them to POST /api/v1/datasets/%s/records, which applies the dataset's ingest scope, schema and rate limit.", ds, ds)
		h.messagesPage(w, r, http.StatusForbidden, f, nil, errs)
		return
	}
	for i, line := range strings.Split(strings.TrimSpace(f.Headers), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			errs["headers"] = fmt.Sprintf("line %d: %q is not name=value", i+1, line)
			break
		}
		rec.Headers = append(rec.Headers, stream.Header{Key: strings.TrimSpace(k), Value: []byte(v)})
	}
	if len(errs) == 0 && r.PostFormValue("confirmed") != "yes" {
		info, err := h.cfg.Broker.DescribeTopic(r.Context(), rec.Topic)
		if err != nil {
			// The page reports a missing topic itself.
			h.messagesPage(w, r, http.StatusOK, f, nil, errs)
			return
		}
		rv := &produceReview{Keyed: rec.Key != nil, ValueBytes: len(rec.Value), KeyBytes: len(rec.Key), Headers: len(rec.Headers)}
		if rv.Keyed && info.Partitions > 0 {
			rv.Partition = stream.Partition(rec.Key, info.Partitions)
		}
		rv.Bytes = rv.ValueBytes + rv.KeyBytes
		for _, hd := range rec.Headers {
			rv.Bytes += len(hd.Key) + len(hd.Value)
		}
		h.messagesPage(w, r, http.StatusOK, f, rv, errs)
		return
	}
	if len(errs) == 0 {
		err := h.cfg.Broker.Produce(r.Context(), rec)
		switch {
		case errors.Is(err, stream.ErrRecordTooLarge), errors.Is(err, stream.ErrInvalid), errors.Is(err, stream.ErrTopicNotFound):
			errs["value"] = err.Error()
		case err != nil:
			h.serverError(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		h.messagesPage(w, r, http.StatusUnprocessableEntity, f, nil, errs)
		return
	}
	h.log.InfoContext(r.Context(), "console: record produced", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "record_id", rec.ID(), "by", p.Name())
	http.Redirect(w, r, fmt.Sprintf("/topics/%s/messages?partition=%d&ok=produced", url.PathEscape(rec.Topic), rec.Partition), http.StatusSeeOther)
}

// datasetOf names the relay dataset whose topic topic is (its own topic, or
// any topic under relay., the prefix of datasets' default topics), or "".
// The console produces to no such topic: records for a dataset go through
// its ingest endpoint.
func (h *Handler) datasetOf(ctx context.Context, topic string) (string, error) {
	if h.cfg.Relay != nil {
		datasets, err := h.cfg.Relay.Datasets(ctx)
		if err != nil {
			return "", err
		}
		for _, d := range datasets {
			if d.Topic == topic {
				return d.Name, nil
			}
		}
	}
	if name, ok := strings.CutPrefix(topic, "relay."); ok && name != "" {
		return name, nil
	}
	return "", nil
}
