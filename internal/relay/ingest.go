package relay

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// Headers of ingested records, besides arus-id.
const (
	HeaderDataset     = "dataset"
	HeaderApplication = "application"
	HeaderContentType = "content-type"
)

// IdempotencyHeader names the request header that makes a retried ingest
// request safe.
const IdempotencyHeader = "Idempotency-Key"

// ProblemIdempotencyConflict is the problem type of an Idempotency-Key
// reused with a different body (422).
const ProblemIdempotencyConflict = "urn:arus:problem:idempotency-key-reused"

// ProblemRateLimited is the problem type of a request over its
// application's rate limit (429, with Retry-After).
const ProblemRateLimited = "urn:arus:problem:rate-limited"

// idNamespace derives record ids from Idempotency-Keys.
var idNamespace = uuid.MustParse("6f1c3c1e-3b0e-4c59-9a63-1f2d9c1f8a10")

// Envelope is how an ingested record is stored in its topic: the
// operation and the record's data.
type Envelope struct {
	Op   string          `json:"op"`
	Data json.RawMessage `json:"data"`
}

// item is one record of an ingest request.
type item struct {
	op   string
	data map[string]any
	at   string // its place in the body for errors: "", "[3]" or "[3].data"
}

func problem(status int, typ, title, detail string) *api.Problem {
	return &api.Problem{Type: typ, Title: title, Status: status, Detail: detail}
}

// parseBody reads an ingest body: one record object, an array of records,
// or envelopes {"op": "upsert"|"delete", "data": {...}}, mixed freely in an
// array. Malformed JSON is a 400 problem with byte, line and column; a
// body of the wrong shape a 422 problem naming each place.
func parseBody(body []byte, maxRecords int) ([]item, *api.Problem) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxProblem(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		line, col := position(body, off)
		return nil, api.Coded(problem(http.StatusBadRequest, api.TypeMalformed, "Malformed request",
			fmt.Sprintf("the body holds more than one JSON value: more data at byte %d (line %d, column %d)", off, line, col)),
			"json_malformed", off, line, col)
	}
	var errs []invalid.Field
	var items []item
	add := func(el any, at string) {
		m, ok := el.(map[string]any)
		if !ok {
			errs = append(errs, invalid.Field{Name: fieldOr(at), Message: "must be a record (a JSON object), not " + jsonKind(el)})
			return
		}
		op, hasOp := m["op"]
		data, hasData := m["data"]
		if !hasOp || !hasData || len(m) != 2 {
			items = append(items, item{op: "upsert", data: m, at: at})
			return
		}
		ops, _ := op.(string)
		if ops != "upsert" && ops != "delete" {
			errs = append(errs, invalid.Field{Name: joinField(at, "op"), Message: "must be \"upsert\" or \"delete\""})
			return
		}
		dm, ok := data.(map[string]any)
		if !ok {
			errs = append(errs, invalid.Field{Name: joinField(at, "data"), Message: "must be a record (a JSON object), not " + jsonKind(data)})
			return
		}
		items = append(items, item{op: ops, data: dm, at: joinField(at, "data")})
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil, api.Coded(api.Invalid("the body is an empty array; send at least one record",
				invalid.Field{Name: "(body)", Message: "must hold at least one record"}), "no_records")
		}
		if len(x) > maxRecords {
			return nil, api.Coded(problem(http.StatusRequestEntityTooLarge, api.TypeTooLarge, "Request too large",
				fmt.Sprintf("%d records in one request; at most %d", len(x), maxRecords)), "too_many_records", maxRecords)
		}
		for i, el := range x {
			add(el, "["+strconv.Itoa(i)+"]")
		}
	default:
		add(v, "")
	}
	if len(errs) > 0 {
		return nil, invalidFields(errs)
	}
	return items, nil
}

func fieldOr(at string) string {
	if at == "" {
		return "(body)"
	}
	return at
}

func joinField(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

func invalidFields(errs []invalid.Field) *api.Problem {
	const shown = 100
	detail := errs[0].Name + ": " + errs[0].Message
	if len(errs) > 1 {
		detail += fmt.Sprintf(" (and %d more; see errors)", len(errs)-1)
	}
	if len(errs) > shown {
		errs = errs[:shown]
	}
	return api.Coded(api.Invalid(detail, errs...), "body_invalid", errs[0].Name)
}

func syntaxProblem(body []byte, err error) *api.Problem {
	var se *json.SyntaxError
	var off int64
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.Is(err, io.EOF) && len(bytes.TrimSpace(body)) == 0:
		return api.Coded(problem(http.StatusBadRequest, api.TypeMalformed, "Malformed request", "the body is empty; send a record, an array of records or envelopes"),
			"body_empty")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		off, msg = int64(len(body)), "unexpected end of JSON input"
	}
	line, col := position(body, off)
	return api.Coded(problem(http.StatusBadRequest, api.TypeMalformed, "Malformed request",
		fmt.Sprintf("malformed JSON at byte %d (line %d, column %d): %s", off, line, col, msg)),
		"json_malformed", off, line, col)
}

// position turns the offset of a decoding error (just past the byte at
// fault) into the 1-based line and column of that byte, as the API does.
func position(body []byte, off int64) (line, col int) {
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	before := body[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// recordKey joins the key fields' values canonically: no key fields give
// no key (the record goes to any partition); a single string key is itself; numbers are written in their shortest exact form; several
// fields are a JSON array of their values.
func recordKey(vals []any) []byte {
	if len(vals) == 0 {
		return nil
	}
	if len(vals) == 1 {
		if s, ok := vals[0].(string); ok {
			return []byte(s)
		}
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case json.Number:
			parts[i] = canonicalNumber(x)
		default:
			b, _ := json.Marshal(x)
			parts[i] = string(b)
		}
	}
	if len(vals) == 1 {
		return []byte(parts[0])
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

func canonicalNumber(n json.Number) string {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if f, err := strconv.ParseFloat(string(n), 64); err == nil && !math.IsInf(f, 0) {
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(n)
}

// ingestResult is the answer to an accepted request.
type ingestResult struct {
	IDs []string `json:"ids"`
}

// produceProblem answers a failed Produce. The embedded backbone stores a
// call's records all together or not at all; Kafka and Redis may have
// stored some (those not in ProduceError.Failed), which the answer says,
// so that the client retries with the same Idempotency-Key and the stored
// records come again with the same ids, for consumers to deduplicate.
func (r *Relay) produceProblem(ctx context.Context, topic string, n int, err error) *api.Problem {
	if errors.Is(err, stream.ErrRecordTooLarge) {
		return api.Coded(problem(http.StatusRequestEntityTooLarge, api.TypeRecordTooLarge, "Record too large", err.Error()), "record_too_large")
	}
	r.log.ErrorContext(ctx, "relay: ingest: produce failed", "topic", topic, "err", err)
	p := api.Coded(problem(http.StatusServiceUnavailable, api.TypeUnavailable, "Backbone unavailable",
		"the backbone could not store the records; nothing was accepted, retry later (with the same Idempotency-Key)"), "broker_unavailable")
	if errors.Is(err, stream.ErrTopicNotFound) {
		p = api.Coded(problem(http.StatusServiceUnavailable, api.TypeUnavailable, "Backbone unavailable",
			"the dataset's topic "+topic+" does not exist on the backbone; nothing was accepted"), "dataset_topic_missing", topic)
	}
	var pe *stream.ProduceError
	if errors.As(err, &pe) && len(pe.Failed) < n {
		p.Failed = pe.Failed
		p.Detail = fmt.Sprintf("the backbone stored %d of %d records before failing (failed lists the others); retry the whole request with the same Idempotency-Key, so that the stored ones keep their ids", n-len(pe.Failed), n)
		p = api.Coded(p, "records_partly_stored", n-len(pe.Failed), n)
	}
	return p
}

func tooLarge(limit int64) *api.Problem {
	return api.Coded(problem(http.StatusRequestEntityTooLarge, api.TypeTooLarge, "Request too large",
		fmt.Sprintf("the body is larger than %d bytes; send fewer records per request", limit)),
		"body_too_large", limit)
}

func unauthorized(w http.ResponseWriter, err error) error {
	code, detail := "credentials_missing", "no credentials: send the application's API key as Authorization: Bearer <key>"
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
	case errors.Is(err, auth.ErrExpired):
		code, detail = "credentials_expired", "the API key has expired"
	case errors.Is(err, auth.ErrRevoked):
		code, detail = "key_revoked", "the API key has been revoked"
	case errors.Is(err, auth.ErrDisabled):
		code, detail = "user_disabled", "the key's owner is disabled"
	case errors.Is(err, auth.ErrInvalidCredentials):
		code, detail = "credentials_invalid", "the API key is not valid"
	default:
		return err
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="arus"`)
	return api.Coded(problem(http.StatusUnauthorized, api.TypeUnauthorized, "Unauthorized", detail), code)
}

func outcomeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "malformed"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnprocessableEntity:
		return "invalid"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "error"
}

func stripe(caller, key string) int {
	h := uint32(2166136261)
	for _, s := range []string{caller, key} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return int(h % 64)
}

// idempotent looks up the stored answer of (caller, key).
func (r *Relay) idempotent(ctx context.Context, caller, key string) (status int, resp, hash string, found bool, err error) {
	var expires int64
	err = r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT status, response, body_hash, expires_at FROM relay_idempotency WHERE caller = ? AND idem_key = ?`),
		caller, key).Scan(&status, &resp, &hash, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", "", false, nil
	}
	if err != nil {
		return 0, "", "", false, fmt.Errorf("relay: idempotency key: %w", err)
	}
	if expires <= toMillis(r.cfg.Now()) {
		return 0, "", "", false, nil
	}
	return status, resp, hash, true, nil
}

// remember stores an answer for its Idempotency-Key. The records are
// already durable, so a failure here is logged, not answered.
func (r *Relay) remember(ctx context.Context, caller, key, hash string, status int, resp string) {
	now := r.cfg.Now()
	ctx = context.WithoutCancel(ctx)
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_idempotency WHERE caller = ? AND idem_key = ?`), caller, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_idempotency (caller, idem_key, body_hash, status, response, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), caller, key, hash, status, resp, toMillis(now), toMillis(now.Add(r.cfg.IdempotencyTTL)))
		return err
	})
	if err != nil {
		r.log.ErrorContext(ctx, "relay: ingest: store the Idempotency-Key answer", "err", err)
	}
}
