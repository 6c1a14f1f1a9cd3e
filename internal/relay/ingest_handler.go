package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// handleIngest serves POST /api/v1/datasets/{dataset}/records, in the
// order a reader would check a request by hand: who asks and may they
// (authorize), into which dataset, for which application; the body within
// its limit; an answer already given to the same Idempotency-Key; the
// records, each checked against the dataset's key fields and schema; the
// application's rate limit; and last the backbone, which makes the records
// durable before the 202.
func (r *Relay) handleIngest(w http.ResponseWriter, req *http.Request) (err error) {
	m := ingestMetrics{start: time.Now(), label: "_unknown", outcome: "error"}
	defer func() { r.observeIngest(&m, err) }()
	ctx := req.Context()
	name := req.PathValue("dataset")

	p, err := r.authorizeIngest(w, req, name)
	if err != nil {
		return err
	}
	ds, err := r.dataset(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return api.Coded(api.NotFound(fmt.Sprintf("no dataset is named %q", name)), "dataset_unknown", name)
	}
	if err != nil {
		return err
	}
	m.label = ds.ds.Name
	app, caller, err := r.callerOf(ctx, p)
	if err != nil {
		return err
	}
	body, err := r.readIngestBody(w, req)
	if err != nil {
		return err
	}

	idem, err := idempotencyOf(req, caller, body)
	if err != nil {
		return err
	}
	if idem.key != "" {
		mu := r.idemLock(idem)
		mu.Lock()
		defer mu.Unlock()
		if done, err := r.replay(ctx, w, idem, &m); done || err != nil {
			return err
		}
	}

	items, prob := parseBody(body, r.cfg.MaxRecords)
	if prob != nil {
		return prob
	}
	m.records = len(items)
	records, ids, err := r.recordsOf(ds, app, items, idem)
	if err != nil {
		return err
	}
	if errs, err := r.undeliverable(ctx, ds, items); err != nil {
		return err
	} else if len(errs) > 0 {
		return invalidFields(errs)
	}
	if err := r.checkRate(w, app, len(items)); err != nil {
		return err
	}

	pctx, cancel := context.WithTimeout(ctx, r.cfg.ProduceTimeout)
	err = r.cfg.Producer.Produce(pctx, records...)
	cancel()
	if err != nil {
		return r.produceProblem(ctx, ds.ds.Topic, len(records), err)
	}
	resp, _ := json.Marshal(ingestResult{IDs: ids})
	if idem.key != "" {
		r.remember(ctx, caller, idem.key, idem.hash, http.StatusAccepted, string(resp))
	}
	m.outcome = "accepted"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(append(resp, '\n'))
	return nil
}

// ingestMetrics is what a request adds to the ingest metrics: the
// dataset's label once known, the outcome, and the records it carried.
type ingestMetrics struct {
	start   time.Time
	label   string
	outcome string
	records int
}

func (r *Relay) observeIngest(m *ingestMetrics, err error) {
	var p *api.Problem
	if errors.As(err, &p) {
		m.outcome = outcomeOf(p.Status)
	}
	r.metrics.requests.WithLabelValues(m.label, m.outcome).Inc()
	if m.records > 0 {
		r.metrics.records.WithLabelValues(m.label, m.outcome).Add(float64(m.records))
	}
	r.metrics.latency.WithLabelValues(m.label).Observe(time.Since(m.start).Seconds())
}

// authorizeIngest returns the request's principal when it may ingest into
// the dataset name: an API key or session with relay.ingest on it, and a
// session only with its CSRF token.
func (r *Relay) authorizeIngest(w http.ResponseWriter, req *http.Request, name string) (*auth.Principal, error) {
	p := auth.FromContext(req.Context())
	if p == nil {
		var err error
		if p, err = r.cfg.Auth.RequestPrincipal(req); err != nil {
			return nil, unauthorized(w, err)
		}
	}
	if p.Session != nil && !p.Session.CheckCSRF(req.Header.Get(api.CSRFHeader)) {
		// A browser sends the session cookie by itself; only the console,
		// which knows the token, may ingest with it.
		return nil, api.Coded(problem(http.StatusForbidden, api.TypeForbidden, "Forbidden",
			"a request signed in by session cookie must carry the session's CSRF token in the "+api.CSRFHeader+" header"),
			"csrf_token_required")
	}
	if !p.Can(auth.PermRelayIngest, name) {
		who := "your roles do not"
		if p.Key != nil {
			who = "API key " + p.Key.Prefix + " does not"
		}
		return nil, api.Coded(problem(http.StatusForbidden, api.TypeForbidden, "Forbidden",
			fmt.Sprintf("%s allow %s on dataset %s", who, auth.PermRelayIngest, name)),
			"permission_denied_on", string(auth.PermRelayIngest), "dataset", name)
	}
	return p, nil
}

// callerOf returns the application whose key p is (nil for another
// principal) and the name idempotency answers are kept under.
func (r *Relay) callerOf(ctx context.Context, p *auth.Principal) (*Application, string, error) {
	caller := "principal:" + p.Name()
	if p.Key == nil {
		return nil, caller, nil
	}
	app, err := r.applicationOfKey(ctx, p.Key.ID)
	if err != nil {
		return nil, "", err
	}
	if app != nil {
		caller = "app:" + app.ID
	}
	return app, caller, nil
}

// readIngestBody reads the body, at most MaxBodyBytes of it.
func (r *Relay) readIngestBody(w http.ResponseWriter, req *http.Request) ([]byte, error) {
	if req.ContentLength > r.cfg.MaxBodyBytes {
		return nil, tooLarge(r.cfg.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(r.cfg.MaxBodyBytes)
		}
		return nil, api.Coded(problem(http.StatusBadRequest, api.TypeMalformed, "Malformed request", "reading the body failed: "+err.Error()),
			"body_unreadable")
	}
	return body, nil
}

// idempotency is a request's Idempotency-Key (empty: none), its caller
// and the hash of its body.
type idempotency struct {
	key, caller, hash string
}

func idempotencyOf(req *http.Request, caller string, body []byte) (idempotency, error) {
	key := req.Header.Get(IdempotencyHeader)
	if key == "" {
		return idempotency{}, nil
	}
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return idempotency{}, api.Coded(api.Invalid("the Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces",
			invalid.Field{Name: IdempotencyHeader, Message: "must be 1 to 255 printable ASCII characters without spaces"}), "idempotency_key_invalid")
	}
	sum := sha256.Sum256(body)
	return idempotency{key: key, caller: caller, hash: hex.EncodeToString(sum[:])}, nil
}

// idemLock is the lock that serialises the requests of one caller and
// key, so a retry waits for the first answer instead of racing it.
func (r *Relay) idemLock(idem idempotency) *sync.Mutex {
	return &r.idemLocks[stripe(idem.caller, idem.key)]
}

// replay answers a request whose key was answered before: the same answer
// for the same body (done), a 422 for another body. With no earlier
// answer, done is false and the request goes on.
func (r *Relay) replay(ctx context.Context, w http.ResponseWriter, idem idempotency, m *ingestMetrics) (done bool, err error) {
	status, resp, hash, found, err := r.idempotent(ctx, idem.caller, idem.key)
	if err != nil || !found {
		return false, err
	}
	if hash != idem.hash {
		return true, api.Coded(&api.Problem{Type: ProblemIdempotencyConflict, Title: "Idempotency-Key reused", Status: http.StatusUnprocessableEntity,
			Detail: "the Idempotency-Key " + strconv.Quote(idem.key) + " was used with a different body in the last " + r.cfg.IdempotencyTTL.String() + "; use a new key for a new request",
			Errors: []invalid.Field{{Name: IdempotencyHeader, Message: "was used with a different body"}}}, "idempotency_key_conflict", idem.key, r.cfg.IdempotencyTTL)
	}
	m.outcome = "replayed"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.TrimSuffix(resp, "\n")+"\n")
	return true, nil
}

// recordsOf turns the request's items into the dataset's records and their
// ids. A record too large stops at once (413); the rest of what is wrong
// (missing or non-scalar key fields, schema violations) is gathered over
// every item into one 422.
func (r *Relay) recordsOf(ds *datasetEntry, app *Application, items []item, idem idempotency) ([]*stream.Record, []string, error) {
	records := make([]*stream.Record, len(items))
	ids := make([]string, len(items))
	var errs []invalid.Field
	appName := ""
	if app != nil {
		appName = app.Name
	}
	for i, it := range items {
		value, err := envelopeOf(it.op, it.data)
		if err != nil {
			return nil, nil, err
		}
		data := value[len(envelopePrefix)+len(it.op)+len(envelopeData) : len(value)-1]
		if len(data) > r.cfg.MaxRecordBytes {
			return nil, nil, api.Coded(problem(http.StatusRequestEntityTooLarge, api.TypeRecordTooLarge, "Record too large",
				fmt.Sprintf("%s: the record is %d bytes; at most %d", fieldOr(it.at), len(data), r.cfg.MaxRecordBytes)), "record_too_large")
		}
		keyVals, keyErrs := keyValues(ds, it)
		errs = append(errs, keyErrs...)
		if ds.schema != nil && it.op == "upsert" {
			errs = append(errs, schemaErrors(ds.schema, it.data, it.at)...)
		}
		if len(errs) > 0 {
			continue
		}
		op := sink.Upsert
		if it.op == "delete" {
			op = sink.Delete
		}
		r.envelopes.Put(value, Decoded{Op: op, Data: it.data})
		if idem.key != "" {
			ids[i] = uuid.NewSHA1(idNamespace, []byte(idem.caller+"\x00"+idem.key+"\x00"+strconv.Itoa(i))).String()
		} else {
			ids[i] = stream.NewID()
		}
		records[i] = &stream.Record{Topic: ds.ds.Topic, Key: recordKey(keyVals), Value: value, Headers: []stream.Header{
			{Key: stream.HeaderID, Value: []byte(ids[i])},
			{Key: HeaderDataset, Value: []byte(ds.ds.Name)},
			{Key: HeaderApplication, Value: []byte(appName)},
			{Key: HeaderContentType, Value: []byte("application/json")},
		}}
	}
	if len(errs) > 0 {
		return nil, nil, invalidFields(errs)
	}
	return records, ids, nil
}

// keyValues reads the dataset's key fields from an item: each must be a
// string, number or boolean. A dataset without key fields has no deletes:
// nothing would say which row to delete.
func keyValues(ds *datasetEntry, it item) ([]any, []invalid.Field) {
	vals := make([]any, len(ds.keys))
	var errs []invalid.Field
	if len(ds.keys) == 0 && it.op == "delete" {
		at := strings.TrimSuffix(it.at, ".data")
		return nil, []invalid.Field{{Name: joinField(at, "op"), Message: "dataset " + ds.ds.Name + " has no key fields, so its records can be added but not deleted"}}
	}
	for k, path := range ds.keys {
		v, ok := path.Lookup(it.data)
		switch v.(type) {
		case string, json.Number, bool:
			vals[k] = v
		default:
			msg := "is a key field and is missing"
			if ok {
				msg = "is a key field: it must be a string, number or boolean, not " + jsonKind(v)
			}
			errs = append(errs, invalid.Field{Name: joinField(it.at, path.String()), Message: msg})
		}
	}
	return vals, errs
}

// checkRate takes n records from the application's rate limit, or answers
// 429 with Retry-After.
func (r *Relay) checkRate(w http.ResponseWriter, app *Application, n int) error {
	ok, wait := r.take(app, n)
	if ok {
		return nil
	}
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return api.Coded(problem(http.StatusTooManyRequests, ProblemRateLimited, "Too many requests",
		fmt.Sprintf("application %s may ingest %g records per second (burst %d); retry in %d s", app.Name, app.RateLimit, app.Burst, secs)),
		"ingest_rate_limited", app.Name, app.RateLimit, app.Burst, secs)
}

// envelopeOf is the stored record of an item, json.Marshal(Envelope{Op:
// op, Data: json.Marshal(data)}): {"op":"<op>","data":<data>}, op being
// upsert or delete.
func envelopeOf(op string, data map[string]any) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, envelopePrefix...)
	b = append(b, op...)
	b = append(b, envelopeData...)
	d, err := json.Marshal(data)
	b = append(b, d...)
	return append(b, '}'), err
}

const (
	envelopePrefix = `{"op":"`
	envelopeData   = `","data":`
)
