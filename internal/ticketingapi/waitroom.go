package ticketingapi

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

// The waiting room's buyer routes take no credentials: buyers may be
// guests, and the queue ticket that joining answers is the bearer secret
// of the place. Joins are limited per client address.

// Joins allowed per client address and minute, counted in each process;
// at most joinClients addresses are counted per minute (beyond, joins are
// let through rather than a table grow without bound).
const (
	JoinsPerMinute = 30
	joinClients    = 1 << 17
)

// TypeRateLimited is the problem type of a request over a rate limit.
const TypeRateLimited = "urn:arus:problem:rate-limited"

// ClientAddresser names the client of a request behind trusted proxies;
// *auth.Store implements it. Without it the connection's peer is the
// client.
type ClientAddresser interface {
	ClientIP(r *http.Request) string
}

// joinLimiter counts joins per client address in fixed one-minute
// windows.
type joinLimiter struct {
	mu     sync.Mutex
	window int64
	counts map[string]int
}

// allow counts a join of client and reports whether it is within the
// limit, and if not, how long until the window ends.
func (l *joinLimiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := now.Unix() / 60; w != l.window || l.counts == nil {
		l.window, l.counts = w, map[string]int{}
	}
	n, ok := l.counts[client]
	if !ok && len(l.counts) >= joinClients {
		return true, 0
	}
	if n >= JoinsPerMinute {
		return false, time.Unix((l.window+1)*60, 0).Sub(now)
	}
	l.counts[client] = n + 1
	return true, 0
}

func (h *handler) clientIP(r *http.Request) string {
	if ca, ok := h.users.(ClientAddresser); ok {
		return ca.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// roomCall runs call on the event of the path, in the caller's scope,
// and answers the event's waiting room.
func (h *handler) roomCall(w http.ResponseWriter, r *http.Request, call func(sc ticketing.Scope, event string) (ticketing.Waitroom, error)) error {
	if err := query(r); err != nil {
		return err
	}
	return scopedCall(h, w, r, call)
}

func (h *handler) getWaitroom(w http.ResponseWriter, r *http.Request) error {
	return h.roomCall(w, r, func(sc ticketing.Scope, event string) (ticketing.Waitroom, error) {
		return h.svc.WaitingRoom(r.Context(), sc, event)
	})
}

func (h *handler) setWaitroom(w http.ResponseWriter, r *http.Request) error {
	return h.roomCall(w, r, func(sc ticketing.Scope, event string) (ticketing.Waitroom, error) {
		var in ticketing.WaitroomInput
		if err := h.a.Decode(w, r, 4<<10, &in); err != nil {
			return ticketing.Waitroom{}, err
		}
		return h.svc.SetWaitingRoom(r.Context(), sc, event, in)
	})
}

// joinWaitroom answers 201 with the buyer's place and its ticket.
func (h *handler) joinWaitroom(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	if ok, wait := h.joins.allow(h.clientIP(r), time.Now()); !ok {
		secs := int(wait/time.Second) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		rf := invalid.Refuse(nil, "too_many_joins", "this address joined the waiting room %d times this minute; try again in %d s", JoinsPerMinute, secs)
		return api.Refused(&api.Problem{Type: TypeRateLimited, Title: "Too many requests", Status: http.StatusTooManyRequests, Detail: rf.Error()}, rf)
	}
	t, err := h.svc.JoinWaitingRoom(r.Context(), id[0])
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusCreated, t)
	return nil
}

// waitroomTicket is the body of the status route.
type waitroomTicket struct {
	Ticket string `json:"ticket"`
}

func (h *handler) waitroomStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	var in waitroomTicket
	if err := h.a.Decode(w, r, 4<<10, &in); err != nil {
		return err
	}
	if in.Ticket == "" {
		return api.InvalidCoded(invalid.Refuse(nil, "waitroom_ticket_required", "the ticket that joining the waiting room answered is required"),
			invalid.Field{Name: "ticket", Message: "is required: the ticket that joining the waiting room answered"})
	}
	t, err := h.svc.WaitingRoomStatus(r.Context(), id[0], in.Ticket)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, t)
	return nil
}
