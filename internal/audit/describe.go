package audit

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// A change is described in words so that the log reads as what happened
// ("reset group billing on orders to earliest") rather than as the request
// that did it. The server tracks a note per request (Track); a handler
// that knows the details of what it did writes them with Describe; without
// one, Summarize words the request from its route pattern and the path's
// values.

type noteKey struct{}

type note struct {
	mu   sync.Mutex
	text string
}

// Track returns a context that carries a note for Describe, and a function
// that reads what was written into it ("" if nothing).
func Track(ctx context.Context) (context.Context, func() string) {
	n := &note{}
	return context.WithValue(ctx, noteKey{}, n), func() string {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.text
	}
}

// Describe records, in words, what the request being served changed. The
// last call wins. Without a tracked context it does nothing.
func Describe(ctx context.Context, format string, args ...any) {
	n, ok := ctx.Value(noteKey{}).(*note)
	if !ok {
		return
	}
	n.mu.Lock()
	n.text = fmt.Sprintf(format, args...)
	n.mu.Unlock()
}

// phrases word the route segments that name what a request does to the
// resource before them, where the segment alone would read badly.
var phrases = map[string]string{
	"password": "change the password of", "limits": "set the limits of", "rotate-key": "rotate the key of",
	"go-live": "start the go-live of", "cash": "take cash for", "logout": "sign out", "enrol": "enrol a device at",
	"backup": "take a backup",
}

// collections are route segments that look like actions (not plural) but
// name a collection.
var collections = map[string]bool{"staff": true, "mode": true}

// Summarize words a request from its route pattern ("POST
// /api/v1/topics/{topic}/delete") and the values its path gave the
// pattern's wildcards: "delete topic orders". It is the description of a
// change whose handler did not Describe it.
func Summarize(route string, r *http.Request) string {
	method, pattern, ok := strings.Cut(route, " ")
	if !ok {
		return route
	}
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	if len(segs) >= 2 && segs[0] == "api" && segs[1] == "v1" {
		segs = segs[2:]
	}
	// Pair each collection with the value of the wildcard that follows it;
	// a last literal segment that is not a plural names an action.
	type part struct{ noun, name string }
	var parts []part
	action := ""
	for i, s := range segs {
		switch {
		case s == "" || s == "{$}":
		case strings.HasPrefix(s, "{"):
			name := strings.Trim(s, "{}.")
			if len(parts) == 0 {
				parts = append(parts, part{noun: name})
			}
			parts[len(parts)-1].name = r.PathValue(name)
		case i == len(segs)-1 && len(parts) > 0 && !collections[s] &&
			(phrases[s] != "" || !plural(s)):
			action = s
		default:
			parts = append(parts, part{noun: s})
		}
	}
	if len(parts) == 0 {
		return strings.ToLower(method) + " " + pattern
	}
	last := parts[len(parts)-1]
	if p, ok := phrases[last.noun]; ok && len(parts) == 1 && last.name == "" {
		return p
	}
	var words []string
	switch {
	case action != "" && method != http.MethodPost && phrases[action] == "":
		// PUT /events/{id}/waiting-room: a setting of the resource.
		verb := "update"
		if method == http.MethodDelete {
			verb = "delete"
		}
		words = append(words, verb, "the", strings.ReplaceAll(action, "-", " "), "of")
	case action != "":
		if p, ok := phrases[action]; ok {
			words = append(words, p)
		} else {
			words = append(words, strings.ReplaceAll(action, "-", " "))
		}
	case method == http.MethodDelete:
		words = append(words, "delete")
	case method == http.MethodPost && last.name == "":
		words = append(words, "create")
	default:
		words = append(words, "update")
	}
	words = append(words, singular(last.noun))
	if last.name != "" {
		words = append(words, last.name)
	}
	// The nearest resource above it that the path names.
	for i := len(parts) - 2; i >= 0; i-- {
		if parent := parts[i]; parent.name != "" {
			if i < len(parts)-2 {
				words = append(words, "in", strings.ReplaceAll(parts[len(parts)-2].noun, "-", " "))
			}
			words = append(words, "of", singular(parent.noun), parent.name)
			break
		}
	}
	return strings.Join(words, " ")
}

// plural reports whether a route segment names a collection ("topics",
// not "status").
func plural(s string) bool {
	return strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss") && !strings.HasSuffix(s, "us")
}

// singular names one of a collection: "entries" → "entry", "topics" →
// "topic".
func singular(s string) string {
	s = strings.ReplaceAll(s, "-", " ")
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "ches"), strings.HasSuffix(s, "xes"):
		return strings.TrimSuffix(s, "es")
	case strings.HasSuffix(s, "ss"), strings.HasSuffix(s, "us"):
		return s
	case strings.HasSuffix(s, "s"):
		return strings.TrimSuffix(s, "s")
	}
	return s
}
