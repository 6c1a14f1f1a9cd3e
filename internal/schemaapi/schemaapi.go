// Package schemaapi serves the schema registry (package schema) on the
// server's HTTP API under /api/v1/schemas; schema.Client is its client.
package schemaapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/schema"
)

// Register adds the registry's routes under /api/v1/schemas to mux, served
// by a under the API's rules: reads need schemas.read, changes
// schemas.write, errors are problems. docs/schemas.md describes each
// route.
func Register(a *api.Server, mux *http.ServeMux, r *schema.Registry) {
	h := &handler{api: a, reg: r}
	read := []auth.Permission{auth.PermSchemasRead}
	write := []auth.Permission{auth.PermSchemasWrite}
	const p = "/api/v1/schemas"
	a.Route(mux, "GET "+p+"/subjects", read, h.listSubjects)
	a.Route(mux, "DELETE "+p+"/subjects/{subject}", write, h.deleteSubject)
	a.Route(mux, "GET "+p+"/subjects/{subject}/versions", read, h.listVersions)
	a.Route(mux, "POST "+p+"/subjects/{subject}/versions", write, h.register)
	a.Route(mux, "GET "+p+"/subjects/{subject}/versions/{version}", read, h.getVersion)
	a.Route(mux, "DELETE "+p+"/subjects/{subject}/versions/{version}", write, h.deleteVersion)
	// Checking changes nothing, so reading is enough.
	a.Route(mux, "POST "+p+"/subjects/{subject}/check", read, h.check)
	a.Route(mux, "GET "+p+"/subjects/{subject}/mode", read, h.getMode)
	a.Route(mux, "PUT "+p+"/subjects/{subject}/mode", write, h.setMode)
	a.Route(mux, "DELETE "+p+"/subjects/{subject}/mode", write, h.clearMode)
	a.Route(mux, "GET "+p+"/mode", read, h.getDefaultMode)
	a.Route(mux, "PUT "+p+"/mode", write, h.setDefaultMode)
	a.Route(mux, "GET "+p+"/ids/{id}", read, h.byID)
}

type handler struct {
	api *api.Server
	reg *schema.Registry
}

func (h *handler) listSubjects(w http.ResponseWriter, r *http.Request) error {
	deleted, err := deletedParam(r)
	if err != nil {
		return err
	}
	subjects, err := h.reg.Subjects(r.Context(), deleted)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, schema.SubjectList{Subjects: subjects})
	return nil
}

func (h *handler) listVersions(w http.ResponseWriter, r *http.Request) error {
	subject, err := subjectParam(r)
	if err != nil {
		return err
	}
	deleted, err := deletedParam(r)
	if err != nil {
		return err
	}
	versions, err := h.reg.Versions(r.Context(), subject, deleted)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, schema.VersionList{Subject: subject, Versions: versions})
	return nil
}

func (h *handler) getVersion(w http.ResponseWriter, r *http.Request) error {
	subject, version, err := versionParams(r)
	if err != nil {
		return err
	}
	v, err := h.reg.Version(r.Context(), subject, version)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (h *handler) byID(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		msg := fmt.Sprintf("%q is not a schema id; ids are whole numbers from 1", s)
		return api.Coded(api.Invalid(msg, invalid.Field{Name: "id", Message: msg}), "schema_id_invalid", s)
	}
	v, err := h.reg.ByID(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (h *handler) register(w http.ResponseWriter, r *http.Request) error {
	subject, doc, err := h.schemaBody(w, r)
	if err != nil {
		return err
	}
	v, created, err := h.reg.Register(r.Context(), subject, doc)
	if err != nil {
		return apiError(err)
	}
	v.Schema = nil
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	api.WriteJSON(w, status, schema.Registered{Version: v, Created: created})
	return nil
}

func (h *handler) check(w http.ResponseWriter, r *http.Request) error {
	subject, doc, err := h.schemaBody(w, r)
	if err != nil {
		return err
	}
	c, err := h.reg.Check(r.Context(), subject, doc)
	if err != nil {
		return apiError(err)
	}
	if c.Existing != nil {
		c.Existing.Schema = nil
	}
	api.WriteJSON(w, http.StatusOK, c)
	return nil
}

// schemaBody reads the subject and the {"schema": ...} body.
func (h *handler) schemaBody(w http.ResponseWriter, r *http.Request) (string, []byte, error) {
	subject, err := subjectParam(r)
	if err != nil {
		return "", nil, err
	}
	var req schema.SchemaRequest
	// Room for the document and the object around it.
	if err := h.api.Decode(w, r, int64(h.reg.MaxSchemaBytes())+4096, &req); err != nil {
		return "", nil, err
	}
	if len(req.Schema) == 0 || string(req.Schema) == "null" {
		return "", nil, api.Coded(api.Invalid("schema: is required", invalid.Field{Name: "schema", Message: "is required: the JSON Schema document"}), "body_invalid", "schema")
	}
	return subject, req.Schema, nil
}

func (h *handler) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	subject, version, err := versionParams(r)
	if err != nil {
		return err
	}
	v, err := h.reg.DeleteVersion(r.Context(), subject, version)
	if err != nil {
		return apiError(err)
	}
	v.Schema = nil
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (h *handler) deleteSubject(w http.ResponseWriter, r *http.Request) error {
	subject, err := subjectParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	versions, err := h.reg.DeleteSubject(r.Context(), subject)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, schema.SubjectDeleted{Subject: subject, Versions: versions})
	return nil
}

func (h *handler) getMode(w http.ResponseWriter, r *http.Request) error {
	subject, err := subjectParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	return h.writeMode(w, r, subject)
}

func (h *handler) writeMode(w http.ResponseWriter, r *http.Request, subject string) error {
	m, set, err := h.reg.Mode(r.Context(), subject)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, schema.ModeSetting{Subject: subject, Mode: m, Default: !set})
	return nil
}

func (h *handler) setMode(w http.ResponseWriter, r *http.Request) error {
	subject, err := subjectParam(r)
	if err != nil {
		return err
	}
	m, err := h.modeBody(w, r)
	if err != nil {
		return err
	}
	if err := h.reg.SetMode(r.Context(), subject, m); err != nil {
		return apiError(err)
	}
	return h.writeMode(w, r, subject)
}

func (h *handler) clearMode(w http.ResponseWriter, r *http.Request) error {
	subject, err := subjectParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if err := h.reg.SetMode(r.Context(), subject, ""); err != nil {
		return apiError(err)
	}
	return h.writeMode(w, r, subject)
}

func (h *handler) getDefaultMode(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	m, err := h.reg.DefaultMode(r.Context())
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, schema.ModeSetting{Mode: m})
	return nil
}

func (h *handler) setDefaultMode(w http.ResponseWriter, r *http.Request) error {
	m, err := h.modeBody(w, r)
	if err != nil {
		return err
	}
	if err := h.reg.SetDefaultMode(r.Context(), m); err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusOK, schema.ModeSetting{Mode: m})
	return nil
}

func (h *handler) modeBody(w http.ResponseWriter, r *http.Request) (schema.Mode, error) {
	var req schema.ModeRequest
	if err := h.api.Decode(w, r, 4096, &req); err != nil {
		return "", err
	}
	m, err := schema.ParseMode(req.Mode)
	if err != nil {
		msg := trimSentinel(err, schema.ErrInvalid)
		return "", api.Coded(api.Invalid(msg, invalid.Field{Name: "mode", Message: msg}), "body_invalid", "mode")
	}
	return m, nil
}

// subjectParam returns the {subject} path value, checked.
func subjectParam(r *http.Request) (string, error) {
	s := r.PathValue("subject")
	if err := schema.ValidateSubject(s); err != nil {
		msg := trimSentinel(err, schema.ErrInvalid)
		return "", api.Coded(api.Invalid(msg, invalid.Field{Name: "subject", Message: msg}), "subject_invalid", s)
	}
	return s, nil
}

// versionParams returns the {subject} and {version} path values: a
// version number or "latest".
func versionParams(r *http.Request) (string, int, error) {
	subject, err := subjectParam(r)
	if err != nil {
		return "", 0, err
	}
	if err := noQuery(r); err != nil {
		return "", 0, err
	}
	s := r.PathValue("version")
	if s == "latest" {
		return subject, schema.Latest, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		msg := fmt.Sprintf("%q is not a version; use a number from 1 or \"latest\"", s)
		return "", 0, api.Coded(api.Invalid(msg, invalid.Field{Name: "version", Message: msg}), "version_invalid", s)
	}
	return subject, n, nil
}

// deletedParam reads the one query parameter of the listings, deleted.
func deletedParam(r *http.Request) (bool, error) {
	q := r.URL.Query()
	var errs []invalid.Field
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if name != "deleted" {
			errs = append(errs, invalid.Field{Name: name, Message: "unknown query parameter; the only one is deleted"})
		}
	}
	deleted := false
	if s := q.Get("deleted"); s != "" {
		var err error
		if deleted, err = strconv.ParseBool(s); err != nil {
			errs = append(errs, invalid.Field{Name: "deleted", Message: fmt.Sprintf("%q is not true or false", s)})
		}
	}
	if len(errs) > 0 {
		return false, api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), "query_invalid", errs[0].Name)
	}
	return deleted, nil
}

// noQuery refuses query parameters on routes that take none.
func noQuery(r *http.Request) error {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil
	}
	var errs []invalid.Field
	names := slices.Sorted(maps.Keys(q))
	for _, name := range names {
		errs = append(errs, invalid.Field{Name: name, Message: "unknown query parameter; this route takes none"})
	}
	return api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), "query_unknown", strings.Join(names, ", "))
}

// apiError turns a registry error into the API problem it answers with;
// other errors go through, to be answered as a logged 500.
func apiError(err error) error {
	var se *schema.CompileError
	var ie *schema.IncompatibleError
	switch {
	case errors.As(err, &se):
		fields := []invalid.Field{{Name: "schema", Message: se.Reason}}
		if len(se.Errors) > 0 {
			fields = fields[:0]
			for _, fe := range se.Errors {
				fields = append(fields, invalid.Field{Name: "schema" + dotted(fe.Path), Message: fe.Message})
			}
		}
		return api.Coded(api.Invalid(se.Error(), fields...), "schema_invalid", fields[0].Name)
	case errors.As(err, &ie):
		p := api.Coded(api.Conflict(ie.Error()), "schema_incompatible")
		p.Type, p.Title = schema.ProblemIncompatible, "Incompatible schema"
		for _, pr := range ie.Problems {
			p.Errors = append(p.Errors, invalid.Field{Name: "schema", Message: pr.String()})
		}
		return p
	case errors.Is(err, schema.ErrNotFound):
		return api.Refused(api.NotFound(trimSentinel(err, schema.ErrNotFound)), err)
	case errors.Is(err, schema.ErrInvalid):
		return api.Coded(api.Invalid(trimSentinel(err, schema.ErrInvalid)), "registry_invalid")
	}
	return err
}

// trimSentinel drops the sentinel's own words from the front of a message
// made with "%w: detail".
func trimSentinel(err, sentinel error) string {
	return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
}

// dotted turns a JSON Pointer into the dotted path of the API's field
// errors: /properties/total/type becomes .properties.total.type.
func dotted(ptr string) string {
	if ptr == "" {
		return ""
	}
	tokens := strings.Split(ptr[1:], "/")
	for i, t := range tokens {
		tokens[i] = pointerUnescaper.Replace(t)
	}
	return "." + strings.Join(tokens, ".")
}

var pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
