package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/schema"
)

func (h *Handler) schemas(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	subjects, err := h.cfg.Schemas.Subjects(r.Context(), false)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "schemas", view{Data: subjects})
}

type subjectData struct {
	Subject  string
	Mode     schema.Mode
	Versions []schema.Version
	// Shown is the version displayed, pretty-printed; Base the one it is
	// compared with, and Diff their line diff.
	Shown, Base schema.Version
	ShownText   string
	Diff        []diffLine
	// Draft is a schema typed into the register form, and Check its
	// compatibility check; Error a reason it could not be checked.
	Draft string
	Check *schema.Check
	Error string
}

func (h *Handler) subject(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.subjectPage(w, r, http.StatusOK, subjectData{})
}

func (h *Handler) subjectPage(w http.ResponseWriter, r *http.Request, status int, d subjectData) {
	d.Subject = r.PathValue("subject")
	versions, err := h.cfg.Schemas.Versions(r.Context(), d.Subject, false)
	if errors.Is(err, schema.ErrNotFound) || errors.Is(err, schema.ErrInvalid) {
		h.renderStatus(w, r, http.StatusNotFound, "No such subject", "There is no schema subject named "+d.Subject+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Versions = versions
	if d.Mode, _, err = h.cfg.Schemas.Mode(r.Context(), d.Subject); err != nil {
		h.serverError(w, r, err)
		return
	}
	if len(versions) > 0 {
		shown := versions[len(versions)-1].Version
		if v, err := strconv.Atoi(r.URL.Query().Get("v")); err == nil {
			shown = v
		}
		if d.Shown, err = h.cfg.Schemas.Version(r.Context(), d.Subject, shown); err != nil {
			h.renderStatus(w, r, http.StatusNotFound, "No such version", "Subject "+d.Subject+" has no version "+strconv.Itoa(shown)+".")
			return
		}
		d.ShownText = pretty(d.Shown.Schema)
		if base, err := strconv.Atoi(r.URL.Query().Get("base")); err == nil {
			if d.Base, err = h.cfg.Schemas.Version(r.Context(), d.Subject, base); err == nil {
				d.Diff = lineDiff(pretty(d.Base.Schema), d.ShownText)
			}
		}
	}
	h.render(w, r, status, "subject", view{Data: d})
}

// registerSchema checks a draft; with register=yes and a compatible check
// it registers it.
func (h *Handler) registerSchema(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	subject := r.PathValue("subject")
	draft := r.PostFormValue("schema")
	d := subjectData{Draft: draft}
	check, err := h.cfg.Schemas.Check(r.Context(), subject, []byte(draft))
	if err != nil {
		if errors.Is(err, schema.ErrInvalidSchema) || errors.Is(err, schema.ErrInvalid) {
			d.Error = err.Error()
			h.subjectPage(w, r, http.StatusUnprocessableEntity, d)
			return
		}
		if !errors.Is(err, schema.ErrNotFound) {
			h.serverError(w, r, err)
			return
		}
	}
	d.Check = &check
	if r.PostFormValue("register") != "yes" || !check.Compatible {
		status := http.StatusOK
		if !check.Compatible {
			status = http.StatusUnprocessableEntity
		}
		h.subjectPage(w, r, status, d)
		return
	}
	v, created, err := h.cfg.Schemas.Register(r.Context(), subject, []byte(draft))
	var ie *schema.IncompatibleError
	switch {
	case errors.As(err, &ie):
		d.Check.Compatible, d.Check.Problems = false, ie.Problems
		h.subjectPage(w, r, http.StatusUnprocessableEntity, d)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	if created {
		h.log.InfoContext(r.Context(), "console: schema registered", "subject", subject, "version", v.Version, "id", v.ID, "by", p.Name())
	}
	http.Redirect(w, r, "/schemas/"+url.PathEscape(subject)+"?ok=schema-registered", http.StatusSeeOther)
}

func pretty(doc []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, doc, "", "  ") != nil {
		return string(doc)
	}
	return b.String()
}

// diffLine is one line of a diff: Op is ' ', '-' or '+'.
type diffLine struct {
	Op   string
	Text string
}

// lineDiff is a longest-common-subsequence diff of two texts by line;
// schemas are small, so the quadratic table is fine (capped for safety).
func lineDiff(a, b string) []diffLine {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x)*len(y) > 4_000_000 {
		return []diffLine{{Op: " ", Text: "(too large to compare line by line)"}}
	}
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			out = append(out, diffLine{" ", x[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffLine{"-", x[i]})
			i++
		default:
			out = append(out, diffLine{"+", y[j]})
			j++
		}
	}
	for ; i < len(x); i++ {
		out = append(out, diffLine{"-", x[i]})
	}
	for ; j < len(y); j++ {
		out = append(out, diffLine{"+", y[j]})
	}
	return out
}
