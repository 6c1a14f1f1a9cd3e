package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
)

// HandlerFunc is an API handler: it writes its answer, or returns an error
// that the API answers as a problem (a *Problem as is; a stream error by its
// mapping; anything else as a logged 500).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route adds a route to mux served like the API's own: the principal must
// hold every one of perms, a narrowed scope on the resource the pattern's
// first path wildcard names (never on the query string), errors become
// problems, panics become 500 problems. Components outside this package
// (dead letters, schemas, sagas, the relay) register their routes with it,
// so every route of /api/v1 follows one set of rules.
func (s *Server) Route(mux *http.ServeMux, pattern string, perms []auth.Permission, h HandlerFunc) {
	mux.Handle(pattern, s.handleAll(perms, handlerFunc(h)))
}

// Decode reads a JSON request body of at most limit bytes (0: the API's
// limit) into v. Malformed JSON is a 400 problem naming the byte, line and
// column; unknown fields and wrong types a 422 problem naming each field's
// path; a body over the limit a 413 problem.
func (s *Server) Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if limit <= 0 {
		limit = s.cfg.MaxBodyBytes
	}
	if p := decode(w, r, limit, v); p != nil {
		return p
	}
	return nil
}

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// Invalid is a 422 problem with field errors.
func Invalid(detail string, errs ...invalid.Field) *Problem {
	return &Problem{Type: TypeInvalid, Title: "Invalid request", Status: http.StatusUnprocessableEntity,
		Detail: detail, Errors: errs}
}

// NotFound is a 404 problem.
func NotFound(detail string) *Problem { return notFound(detail) }

// Conflict is a 409 problem.
func Conflict(detail string) *Problem {
	return &Problem{Type: TypeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: detail}
}

// BadGateway is a 502 problem: a system the request depends on (a relay
// destination, say) failed to answer. The detail says which and why.
func BadGateway(detail string) *Problem {
	return &Problem{Type: TypeUpstream, Title: "Upstream failure", Status: http.StatusBadGateway, Detail: detail}
}

// TypeUpstream is the problem type of a request that needed another
// system, which failed.
const TypeUpstream = "urn:arus:problem:upstream-failure"

// TypeConflict is the problem type of a request that conflicts with the
// current state.
const TypeConflict = "urn:arus:problem:conflict"

// InvalidCoded is a 422 problem of fields that broke a rule of an API's
// own rather than of a service: refusal, an invalid.Refuse with no kind,
// names the rule by its code and values (Refused), and says it in
// English, as the detail.
func InvalidCoded(refusal error, errs ...invalid.Field) *Problem {
	return Refused(Invalid(refusal.Error(), errs...), refusal)
}

// Refused is p with the code and values of the refusal in err's chain
// (an *invalid.Refusal), when there is one.
func Refused(p *Problem, err error) *Problem {
	var rf *invalid.Refusal
	if errors.As(err, &rf) {
		p.Code, p.Args = rf.Code, make([]string, len(rf.Args))
		for i, a := range rf.Args {
			p.Args[i] = fmt.Sprint(a)
		}
	}
	return p
}

// Coded is p with code and args, the values p's detail names in order: a
// rule of the API's own (or of a component that answers its own
// problems), given to Refused as a refusal of no kind, so that it reaches
// the client as a service's refusal does. p keeps its detail.
func Coded(p *Problem, code string, args ...any) *Problem {
	return Refused(p, &invalid.Refusal{Code: code, Args: args, Message: p.Detail})
}
