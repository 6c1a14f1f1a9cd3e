package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	Compact   string // the value on one line
	Raw       string // the value as stored
	Pretty    bool
	Truncated bool
	Key       string
	NullKey   bool
	Headers   []string
	Internal  int // internal (arus-*) headers not shown
}

type messagesData struct {
	Topic stream.TopicInfo
	// All is set when the page merges every partition by time; Partition,
	// Start and End are then unused.
	All       bool
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
	Time string
	// Offset is where browsing starts in one partition, as typed.
	Offset string
	// Raw shows values as stored rather than pretty-printed; Internal
	// shows the arus-* headers.
	Raw, Internal bool
	Messages      []message
	Scanned       int64
	// ScanFrom and ScanTo bound the offsets examined in one partition,
	// [ScanFrom, ScanTo); Capped is set when the scan stopped at
	// browseMaxScan records.
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

// MoreFilters reports whether a filter of the folded part of the toolbar
// is set, so that it shows open.
func (d messagesData) MoreFilters() bool {
	return d.Key != "" || d.Match != "" || d.Header != "" || d.Time != "" || d.Offset != "" || len(d.Errors) > 0
}

// Records counts the records the topic holds.
func (d messagesData) Records() int64 { return d.Topic.Records() }

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
	info, ok := h.topicOf(w, r)
	if !ok {
		return
	}
	name := info.Name
	q := r.URL.Query()
	d := browseQuery(info, q)
	d.Time, d.Offset, d.Newest = strings.TrimSpace(q.Get("time")), strings.TrimSpace(q.Get("offset")), q.Get("order") != "oldest"
	d.Form, d.Review, d.Errors = form, review, errs
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	fail := func(field, msg string) {
		d.Errors[field] = msg
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	}
	match, err := filter.ParseMatch(d.Match)
	if err != nil {
		fail("match", strings.TrimPrefix(err.Error(), "filter: "))
	}
	// Every partition merged by time, unless one is chosen; a topic of one
	// partition is shown as that partition.
	switch v := q.Get("partition"); {
	case v == "" || v == "all":
		d.All = len(info.Offsets) > 1
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n >= len(info.Offsets) {
			h.renderStatus(w, r, http.StatusBadRequest, "No such partition",
				fmt.Sprintf("Topic %s has partitions 0 to %d; %q is not one of them.", name, len(info.Offsets)-1, v))
			return
		}
		d.Partition = int32(n)
	}
	parts := []int32{d.Partition}
	if d.All {
		parts = parts[:0]
		for _, po := range info.Offsets {
			parts = append(parts, po.Partition)
		}
	} else {
		po := info.Offsets[d.Partition]
		d.Start, d.End = po.Start, po.End
	}
	// Where each partition's browsing starts: a cursor from a previous
	// page, an offset (one partition), a time, or its end (newest first)
	// or start (oldest first).
	from := map[int32]int64{}
	for _, p := range parts {
		po := info.Offsets[p]
		from[p] = po.End
		if !d.Newest {
			from[p] = po.Start
		}
	}
	switch {
	case q.Get("cursor") != "":
		cur, bad := parseCursor(q.Get("cursor"), func(p int32, _ int64) bool { _, known := from[p]; return known })
		if bad != "" {
			h.renderStatus(w, r, http.StatusBadRequest, "Bad page", fmt.Sprintf("%q is not a page of this topic's messages.", bad))
			return
		}
		for p, off := range cur {
			po := info.Offsets[p]
			from[p] = min(max(off, po.Start), po.End)
		}
	case d.Offset != "":
		n, err := strconv.ParseInt(d.Offset, 10, 64)
		switch {
		case d.All:
			fail("offset", "an offset belongs to one partition; choose the partition first")
		case err != nil || n < 0:
			fail("offset", fmt.Sprintf("%q is not an offset; give a whole number, 0 or more", d.Offset))
		default:
			from[d.Partition] = min(max(n, d.Start), d.End)
		}
	case d.Time != "":
		// From a time: the first record at or after it, going forwards from
		// there, or backwards from there (the records before it).
		t, err := time.ParseInLocation(filterTime, d.Time, time.UTC)
		if err != nil {
			fail("time", "give a time as 2006-01-02T15:04 (UTC)")
			break
		}
		for _, p := range parts {
			off, err := h.cfg.Broker.OffsetForTime(r.Context(), name, p, t)
			if err != nil {
				h.serverError(w, r, err)
				return
			}
			po := info.Offsets[p]
			from[p] = min(max(off, po.Start), po.End)
		}
	}
	if d.Errors["match"] == "" && d.Errors["time"] == "" && d.Errors["offset"] == "" {
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

// browse fills d.Messages with up to a page of matching records, examining
// at most browseMaxScan records: the records of the browsed partitions
// merged by time, newest first backwards from each partition's from
// (exclusive), or oldest first forwards from it. Records are masked (see
// api.View) before they are matched, so that a search cannot find what the
// reader may not see. It links to the pages on either side by each
// partition's cursor.
func (h *Handler) browse(r *http.Request, d *messagesData, from map[int32]int64, where *filter.Filter) error {
	view, err := api.View(r.Context(), h.cfg.Masks, d.Topic.Name)
	if err != nil {
		return err
	}
	match := d.matcher(where)
	bounds := map[int32]stream.PartitionOffsets{}
	for _, po := range d.Topic.Offsets {
		bounds[po.Partition] = po
	}
	cur := maps.Clone(from)
	buf := map[int32][]*stream.Record{}
	done := map[int32]bool{}
	// refill reads the next records of partition p in browsing order: a
	// page's worth, or more when a filter may pass over many.
	chunk := int64(browsePage)
	if d.Filtered() {
		chunk = 500
	}
	refill := func(p int32) error {
		po := bounds[p]
		var recs []*stream.Record
		var err error
		if d.Newest {
			if cur[p] <= po.Start {
				done[p] = true
				return nil
			}
			recs, err = h.readRange(r, p, max(po.Start, cur[p]-chunk), cur[p])
			slices.Reverse(recs)
		} else {
			if cur[p] >= po.End {
				done[p] = true
				return nil
			}
			recs, err = h.cfg.Broker.Read(r.Context(), d.Topic.Name, p, cur[p], int(chunk))
		}
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			done[p] = true
		}
		buf[p] = recs
		return nil
	}
	parts := slices.Sorted(maps.Keys(cur))
	for len(d.Messages) < browsePage && d.Scanned < browseMaxScan {
		// The partition whose next record comes first in time.
		next := int32(-1)
		for _, p := range parts {
			if len(buf[p]) == 0 && !done[p] {
				if err := refill(p); err != nil {
					return err
				}
			}
			if len(buf[p]) == 0 {
				continue
			}
			if next < 0 {
				next = p
				continue
			}
			a, b := buf[p][0].Timestamp, buf[next][0].Timestamp
			if d.Newest && a.After(b) || !d.Newest && a.Before(b) {
				next = p
			}
		}
		if next < 0 {
			break
		}
		rec := buf[next][0]
		buf[next] = buf[next][1:]
		if d.Newest {
			cur[next] = rec.Offset
		} else {
			cur[next] = rec.Offset + 1
		}
		d.Scanned++
		if rec := view(rec); match(rec) {
			d.Messages = append(d.Messages, newMessage(rec, d.Internal))
		}
	}
	link := func(c map[int32]int64, order string) string {
		v := url.Values{"order": {order}}
		if !d.All {
			v.Set("partition", strconv.Itoa(int(d.Partition)))
		}
		var cs []string
		for _, p := range parts {
			cs = append(cs, fmt.Sprintf("%d:%d", p, c[p]))
		}
		v.Set("cursor", strings.Join(cs, ","))
		for k, val := range map[string]string{"key": d.Key, "q": d.Contains, "match": d.Match, "header": d.Header} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if d.Raw {
			v.Set("view", "raw")
		}
		if d.Internal {
			v.Set("internal", "1")
		}
		return "?" + v.Encode()
	}
	d.Capped = d.Scanned >= browseMaxScan
	if !d.All {
		p := d.Partition
		if d.Newest {
			d.ScanFrom, d.ScanTo = cur[p], from[p]
		} else {
			d.ScanFrom, d.ScanTo = from[p], cur[p]
		}
	}
	for _, p := range parts {
		if d.Newest && cur[p] > bounds[p].Start {
			d.Older = link(cur, "newest")
		}
		if !d.Newest && cur[p] < bounds[p].End {
			d.Newer = link(cur, "oldest")
		}
	}
	return nil
}

// readRange reads the records of [start, end) of partition p; a backend
// may answer a read with fewer records than asked.
func (h *Handler) readRange(r *http.Request, p int32, start, end int64) ([]*stream.Record, error) {
	topic := r.PathValue("topic")
	var out []*stream.Record
	for off := start; off < end; {
		recs, err := h.cfg.Broker.Read(r.Context(), topic, p, off, int(end-off))
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

// browseQuery reads what the browser's page and its live tail share from
// the query: the filters and how records are shown.
func browseQuery(info stream.TopicInfo, q url.Values) messagesData {
	return messagesData{Topic: info, Key: q.Get("key"), Contains: q.Get("q"), Match: strings.TrimSpace(q.Get("match")),
		Header: strings.TrimSpace(q.Get("header")), Raw: q.Get("view") == "raw", Internal: q.Get("internal") == "1"}
}

// parseCursor reads a cursor, "partition:offset" pairs joined by commas,
// keeping the pairs ok accepts; bad is the first pair it could not read or
// ok refused.
func parseCursor(s string, ok func(p int32, off int64) bool) (cur map[int32]int64, bad string) {
	cur = map[int32]int64{}
	for _, c := range strings.Split(s, ",") {
		ps, os, found := strings.Cut(c, ":")
		p, err1 := strconv.ParseInt(ps, 10, 32)
		off, err2 := strconv.ParseInt(os, 10, 64)
		if !found || err1 != nil || err2 != nil || !ok(int32(p), off) {
			return nil, c
		}
		cur[int32(p)] = off
	}
	return cur, ""
}

// matcher returns the page's filters as one test of a record.
func (d *messagesData) matcher(where *filter.Filter) func(*stream.Record) bool {
	hname, hvalue, hasValue := strings.Cut(d.Header, "=")
	hasHeader := func(rec *stream.Record) bool {
		for _, h := range rec.Headers {
			if h.Key == hname && (!hasValue || bytes.Contains(h.Value, []byte(hvalue))) {
				return true
			}
		}
		return false
	}
	return func(rec *stream.Record) bool {
		return (d.Key == "" || strings.Contains(string(rec.Key), d.Key)) &&
			(d.Contains == "" || bytes.Contains(rec.Value, []byte(d.Contains))) &&
			(d.Header == "" || hasHeader(rec)) &&
			(where == nil || where.MatchJSON(rec.Value))
	}
}

// EndCursor is where a live tail of the page starts: every browsed
// partition's end offset when the page was made.
func (d messagesData) EndCursor() string {
	var cs []string
	for _, po := range d.Topic.Offsets {
		if d.All || po.Partition == d.Partition {
			cs = append(cs, fmt.Sprintf("%d:%d", po.Partition, po.End))
		}
	}
	return strings.Join(cs, ",")
}

// browseTailsPerUser bounds the live tails one user has open at once.
const browseTailsPerUser = 2

// messagesLive streams, as "rows" events, the records that reach the topic
// after its page was made (from ?cursor=, the page's EndCursor), as the
// page's rows: masked, filtered and shown as the page shows them, newest
// first. It reads at most 100 records of each partition a second.
func (h *Handler) messagesLive(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	info, ok := h.topicOf(w, r)
	if !ok {
		return
	}
	name := info.Name
	q := r.URL.Query()
	d := browseQuery(info, q)
	where, err := filter.ParseMatch(d.Match)
	if err != nil {
		h.renderStatus(w, r, http.StatusBadRequest, "Bad filter", err.Error())
		return
	}
	cur, bad := parseCursor(q.Get("cursor"), func(p int32, off int64) bool { return p >= 0 && int(p) < len(info.Offsets) && off >= 0 })
	if bad != "" {
		h.renderStatus(w, r, http.StatusBadRequest, "Bad cursor", fmt.Sprintf("%q is not a position in this topic; give partition:offset pairs.", bad))
		return
	}
	d.All = len(cur) > 1
	view, err := api.View(r.Context(), h.cfg.Masks, name)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	release, ok := h.tails.take(p.Name(), browseTailsPerUser)
	if !ok {
		w.Header().Set("Retry-After", "5")
		h.renderStatus(w, r, http.StatusTooManyRequests, "Too many live tails",
			fmt.Sprintf("You already have %d live tails open. Close one, then try again.", browseTailsPerUser))
		return
	}
	defer release()
	match := d.matcher(where)
	parts := slices.Sorted(maps.Keys(cur))
	h.streamEvents(w, r, min(h.cfg.LiveEvery, time.Second), "rows", func(ctx context.Context) (any, bool, error) {
		var fresh []*stream.Record
		for _, part := range parts {
			recs, err := h.cfg.Broker.Read(ctx, name, part, cur[part], 100)
			if err != nil {
				return nil, false, err
			}
			for _, rec := range recs {
				cur[part] = rec.Offset + 1
				if rec := view(rec); match(rec) {
					fresh = append(fresh, rec)
				}
			}
		}
		if len(fresh) == 0 {
			return nil, false, nil
		}
		slices.SortStableFunc(fresh, func(a, b *stream.Record) int { return b.Timestamp.Compare(a.Timestamp) })
		var rows bytes.Buffer
		for _, rec := range fresh {
			row := map[string]any{"M": newMessage(rec, d.Internal), "All": d.All, "Raw": d.Raw}
			if err := h.pages["messages"].ExecuteTemplate(&rows, "message-row", row); err != nil {
				return nil, false, err
			}
		}
		return map[string]any{"rows": rows.String(), "count": len(fresh)}, true, nil
	})
}

// internalHeader reports whether a header is one Arus sets for itself
// (arus-id, the arus-dlq-* headers, …): hidden unless asked for.
func internalHeader(key string) bool { return strings.HasPrefix(key, "arus-") }

func newMessage(r *stream.Record, internal bool) message {
	m := message{Record: r, Key: printable(r.Key), NullKey: r.Key == nil}
	if r.Value == nil {
		m.Value, m.Compact, m.Raw = tombstone, tombstone, tombstone
		return m.withHeaders(r, internal)
	}
	v := r.Value
	if len(v) > browseMaxValue {
		v, m.Truncated = v[:browseMaxValue], true
	}
	m.Raw = printable(v)
	var buf bytes.Buffer
	if !m.Truncated && json.Valid(v) && json.Indent(&buf, v, "", "  ") == nil {
		m.Value, m.Pretty = buf.String(), true
		buf.Reset()
		_ = json.Compact(&buf, v)
		m.Compact = buf.String()
	} else {
		m.Value = printable(v)
		m.Compact = m.Value
	}
	return m.withHeaders(r, internal)
}

// tombstone shows a record without a value (Kafka's null value), which is
// not an empty one.
const tombstone = "(tombstone: null value)"

// withHeaders adds the record's headers as name=value, a header without a
// value as name=(null), and counts the internal ones it leaves out.
func (m message) withHeaders(r *stream.Record, internal bool) message {
	for _, hd := range r.Headers {
		if !internal && internalHeader(hd.Key) {
			m.Internal++
			continue
		}
		v := "(null)"
		if hd.Value != nil {
			v = printable(hd.Value)
		}
		m.Headers = append(m.Headers, hd.Key+"="+v)
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
