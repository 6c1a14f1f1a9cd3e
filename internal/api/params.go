package api

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// topicParam returns the {topic} path value, checked.
func topicParam(r *http.Request) (string, error) {
	name := r.PathValue("topic")
	if err := stream.ValidateTopicName(name); err != nil {
		return "", Coded(Invalid(err.Error(), invalid.Field{Name: "topic", Message: err.Error()}), "topic_name_invalid", name)
	}
	return name, nil
}

// groupParam returns the {group} path value, checked.
func groupParam(r *http.Request) (string, error) {
	name := r.PathValue("group")
	if err := stream.ValidateGroupName(name); err != nil {
		return "", Coded(Invalid(err.Error(), invalid.Field{Name: "group", Message: err.Error()}), "group_name_invalid", name)
	}
	return name, nil
}

// partitionParam returns the {partition} path value, checked.
func partitionParam(r *http.Request) (int32, error) {
	s := r.PathValue("partition")
	p, err := strconv.ParseInt(s, 10, 32)
	if err != nil || p < 0 {
		msg := fmt.Sprintf("partition %q is not a partition number; partitions are numbered from 0", s)
		return 0, Coded(Invalid(msg, invalid.Field{Name: "partition", Message: msg}), "partition_invalid", s)
	}
	return int32(p), nil
}

// query reads query parameters, collecting a field error for each bad one
// and for each parameter it was not asked about.
type query struct {
	v    url.Values
	seen map[string]bool
	errs []invalid.Field
}

func newQuery(r *http.Request) *query {
	return &query{v: r.URL.Query(), seen: map[string]bool{}}
}

func (q *query) fail(name, format string, args ...any) {
	q.errs = append(q.errs, invalid.Field{Name: name, Message: fmt.Sprintf(format, args...)})
}

func (q *query) str(name string) string {
	q.seen[name] = true
	return q.v.Get(name)
}

// int returns an integer parameter between lo and hi, or def when absent.
func (q *query) int(name string, def, lo, hi int64) int64 {
	s := q.str(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		if hi == math.MaxInt64 {
			q.fail(name, "%q is not a whole number of %d or more", s, lo)
		} else {
			q.fail(name, "%q is not a whole number from %d to %d", s, lo, hi)
		}
		return def
	}
	return n
}

// duration returns a non-negative duration parameter such as 500ms or 5s.
func (q *query) duration(name string) time.Duration {
	s := q.str(name)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		q.fail(name, "%q is not a duration such as 500ms, 5s or 1m", s)
		return 0
	}
	return d
}

// time returns an RFC 3339 time parameter, or the zero time when absent.
func (q *query) time(name string) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		q.fail(name, "%s", err)
	}
	return t
}

// oneOf returns a parameter that must be one of values ("" when absent).
func (q *query) oneOf(name string, values ...string) string {
	s := q.str(name)
	if s == "" {
		return ""
	}
	for _, v := range values {
		if s == v {
			return s
		}
	}
	q.fail(name, "%q is not one of %q", s, values)
	return ""
}

// problem returns the collected errors, adding one for every parameter
// that was not read, or nil. Bad values come first (query_invalid, naming
// the first); unknown parameters alone are query_unknown, naming them all,
// as in the ticketing and gate APIs.
func (q *query) problem() *Problem {
	var unknown []string
	for _, name := range sortedKeys(anyMap(q.v)) {
		if !q.seen[name] {
			q.fail(name, "unknown query parameter")
			unknown = append(unknown, name)
		}
	}
	switch {
	case len(q.errs) == 0:
		return nil
	case len(unknown) == len(q.errs):
		return invalidFields("query_unknown", q.errs, strings.Join(unknown, ", "))
	}
	return invalidFields("query_invalid", q.errs)
}

func anyMap(v url.Values) map[string]any {
	m := make(map[string]any, len(v))
	for k := range v {
		m[k] = nil
	}
	return m
}

// parseTime parses an RFC 3339 time, with or without fractional seconds.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2025-01-31T15:04:05Z", s)
	}
	return t, nil
}
