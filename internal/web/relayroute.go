package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

// The route editor. The operator picks a dataset, a destination and one of
// the destination's tables; the table's columns, read from the
// destination's own catalogue, become the rows of the mapping, each fed
// by a record field, a constant or nothing. A sample record shows the row
// it would become, converted to the columns' types as the sink would
// convert it. The form posts back to itself with action "load" (pick up a
// new dataset, destination or table), "preview" or "save"; without a
// catalogue (the destination cannot be reached) columns are typed in.

// mapRow is one row of the mapping editor: a column and what feeds it.
type mapRow struct {
	Column string
	// From the catalogue; Known is false for a typed-in column.
	Known      bool
	Type       string
	Key        bool // part of the table's primary key
	Nullable   bool
	HasDefault bool
	Generated  bool
	// Source is "field", "value" or "" (not written); Expr the field path
	// or the constant as JSON.
	Source, Expr string
	// Preview is the column's value for the sample record as the database
	// receives it (PreviewNull for NULL), or PreviewError why it cannot be
	// written.
	Preview, PreviewError string
	PreviewNull           bool
}

type routeForm struct {
	Name, Dataset, Destination string
	// Table is the chosen table as catalogue value (schema.name) or, with
	// no catalogue, typed in with its schema.
	Table, TableSchema string
	Mode               string
	Deletes, Enabled   bool
	Keys               []string
	Filter             string
	Rows               []mapRow
	Sample, SampleOp   string
	// LoadedTable is the table the rows were laid out for; when the table
	// changes, the rows start afresh.
	LoadedTable string
}

// HasKey reports whether column c is one of the form's key columns.
func (f routeForm) HasKey(c string) bool { return slices.Contains(f.Keys, c) }

type routePage struct {
	Route *relay.Route // nil for a new route
	Form  routeForm
	// Choices.
	Datasets     []relay.Dataset
	Destinations []relay.Destination
	Tables       []sink.TableInfo
	// CatalogError says why the destination's tables could not be read.
	CatalogError string
	// Fields are record fields the dataset's schema names, as suggestions.
	Fields []string
	Errors map[string]string
	// Problems lists the errors of the last save or preview, as a summary.
	Problems []string
	// Previewed is set after a preview; Keep false means the filter (or a
	// delete on a route without deletes) drops the sample.
	Previewed    bool
	Keep         bool
	PreviewOp    string
	PreviewError string
	Status       *delivery.RouteStatus
	// DeadLetters is the route's dead-letter queue (a topic), when the
	// dead-letter pages exist, and DeadPending how many of its letters
	// wait for a replay or a discard (-1 when the queue does not exist).
	DeadLetters string
	DeadPending int64
}

func qualified(t sink.Table) string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// formOfRoute fills the editor from a saved route.
func formOfRoute(rt relay.Route) routeForm {
	f := routeForm{Name: rt.Name, Dataset: rt.Dataset, Destination: rt.Destination,
		Table: qualified(sink.Table{Schema: rt.TableSchema, Name: rt.Table}), TableSchema: rt.TableSchema,
		Mode: rt.Mode, Deletes: rt.Deletes, Enabled: rt.Enabled, Keys: rt.KeyColumns, Filter: rt.Filter, SampleOp: "upsert"}
	for _, m := range rt.Mapping {
		row := mapRow{Column: m.Column}
		if m.Field != "" {
			row.Source, row.Expr = "field", m.Field
		} else {
			row.Source, row.Expr = "value", string(m.Value)
		}
		f.Rows = append(f.Rows, row)
	}
	return f
}

// routeFormFrom reads the posted editor.
func routeFormFrom(r *http.Request) routeForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := routeForm{Name: v("name"), Dataset: v("dataset"), Destination: v("destination"), Table: v("table"),
		TableSchema: v("table_schema"), Mode: v("mode"), Deletes: v("deletes") == "on", Enabled: v("enabled") == "on",
		Keys: r.PostForm["key_columns"], Filter: v("filter"), Sample: v("sample"), SampleOp: v("sample_op"),
		LoadedTable: v("loaded_table")}
	n, _ := strconv.Atoi(v("rows"))
	for i := range min(n, 1000) {
		s := strconv.Itoa(i)
		row := mapRow{Column: v("col." + s), Source: v("src." + s), Expr: v("expr." + s)}
		if row.Column != "" || row.Expr != "" {
			f.Rows = append(f.Rows, row)
		}
	}
	return f
}

// input turns the editor into the relay's input (rows without a source
// are not written) and returns, for each entry of the mapping, the editor
// row it came from.
func (f routeForm) input(table sink.Table) (relay.RouteInput, []int) {
	var rows []int
	in := relay.RouteInput{Name: f.Name, Dataset: f.Dataset, Destination: f.Destination, TableSchema: table.Schema,
		Table: table.Name, Mode: f.Mode, KeyColumns: f.Keys, Deletes: f.Deletes, Filter: f.Filter, Enabled: &f.Enabled,
		Mapping: []relay.ColumnMap{}}
	for i, row := range f.Rows {
		switch row.Source {
		case "field":
			in.Mapping = append(in.Mapping, relay.ColumnMap{Column: row.Column, Field: row.Expr})
		case "value":
			in.Mapping = append(in.Mapping, relay.ColumnMap{Column: row.Column, Value: json.RawMessage(row.Expr)})
		default:
			continue
		}
		rows = append(rows, i)
	}
	return in, rows
}

// byRow renames the relay's errors of mapping entries ("mapping[1].field")
// after the editor rows they came from, so each shows on its own row.
func byRow(err error, rows []int) error {
	var ve *invalid.Fields
	if !errors.As(err, &ve) {
		return err
	}
	for i, fe := range ve.List {
		var k int
		var rest string
		if n, _ := fmt.Sscanf(fe.Name, "mapping[%d]", &k); n == 1 && k >= 0 && k < len(rows) {
			rest = fe.Name[len(fmt.Sprintf("mapping[%d]", k)):]
			ve.List[i].Name = fmt.Sprintf("mapping[%d]%s", rows[k], rest)
		}
	}
	return ve
}

// loadChoices fills the editor's choices and, when a destination is
// chosen, its catalogue; it lays the chosen table's columns out as rows,
// keeping what the form already says of each.
func (h *Handler) loadChoices(ctx context.Context, d *routePage) error {
	var err error
	if d.Datasets, err = h.cfg.Relay.Datasets(ctx); err != nil {
		return err
	}
	if d.Destinations, err = h.cfg.Relay.Destinations(ctx); err != nil {
		return err
	}
	for _, ds := range d.Datasets {
		if ds.Name == d.Form.Dataset {
			d.Fields = schemaFields(ds.Schema)
		}
	}
	if d.Form.Destination == "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	d.Tables, err = h.cfg.Relay.Catalog(cctx, d.Form.Destination)
	if err != nil {
		d.Tables, d.CatalogError = nil, reachError(err)
	}
	t, ok := d.table()
	if !ok {
		return nil
	}
	d.Form.TableSchema = t.Schema
	if d.Form.LoadedTable != "" && d.Form.LoadedTable != d.Form.Table && d.Form.LoadedTable != qualified(t.Table) {
		d.Form.Rows, d.Form.Keys = nil, nil
	}
	d.Form.Table = qualified(t.Table)
	given := map[string]mapRow{}
	for _, row := range d.Form.Rows {
		given[row.Column] = row
	}
	fresh := len(d.Form.Rows) == 0
	rows := make([]mapRow, 0, len(t.Columns))
	for _, c := range t.Columns {
		row := given[c.Name]
		row.Column, row.Known, row.Type = c.Name, true, c.Type
		row.Key, row.Nullable, row.HasDefault, row.Generated = slices.Contains(t.Key, c.Name), c.Nullable, c.HasDefault, c.Generated
		if fresh && (row.Key || !c.Generated && slices.Contains(d.Fields, c.Name)) {
			row.Source, row.Expr = "field", c.Name
		}
		rows = append(rows, row)
		delete(given, c.Name)
	}
	// Columns the form maps that the table lacks stay visible, so the
	// operator sees and removes them rather than losing them silently.
	for _, row := range d.Form.Rows {
		if _, left := given[row.Column]; left {
			rows = append(rows, row)
		}
	}
	d.Form.Rows = rows
	if fresh && len(d.Form.Keys) == 0 {
		d.Form.Keys = t.Key
	}
	return nil
}

// table returns the catalogue's entry for the form's table. A route saved
// without a schema (from the command line or the API) names a table of the
// connection's own schema, such as "cars" for SQLite's main.cars: it is the
// catalogue's only table of that name.
func (d *routePage) table() (sink.TableInfo, bool) {
	var byName []sink.TableInfo
	for _, t := range d.Tables {
		if qualified(t.Table) == d.Form.Table {
			return t, true
		}
		if d.Form.TableSchema == "" && t.Name == d.Form.Table {
			byName = append(byName, t)
		}
	}
	if len(byName) == 1 {
		return byName[0], true
	}
	return sink.TableInfo{}, false
}

// target is the table the form writes: from the catalogue when it is
// read, else as typed in.
func (d *routePage) target() sink.Table {
	if t, ok := d.table(); ok {
		return t.Table
	}
	name := d.Form.Table
	if d.Form.TableSchema != "" {
		name = strings.TrimPrefix(name, d.Form.TableSchema+".")
	}
	return sink.Table{Schema: d.Form.TableSchema, Name: name}
}

// checkCatalog checks the form against the destination's catalogue, when
// it could be read: the table is one of it, and every column the route
// writes or keys on is one of the table's.
func (d *routePage) checkCatalog() error {
	if len(d.Tables) == 0 {
		return nil
	}
	ve := invalid.Fields{Kind: relay.ErrInvalid}
	t, ok := d.table()
	if !ok {
		ve.List = append(ve.List, invalid.Field{Name: "table", Message: "choose one of the destination's tables"})
		return &ve
	}
	has := func(c string) bool {
		return slices.ContainsFunc(t.Columns, func(col sink.Column) bool { return col.Name == c })
	}
	for i, row := range d.Form.Rows {
		if row.Source != "" && !has(row.Column) {
			ve.List = append(ve.List, invalid.Field{Name: fmt.Sprintf("mapping[%d]", i),
				Message: fmt.Sprintf("%s has no column %q", qualified(t.Table), row.Column)})
		}
	}
	for i, k := range d.Form.Keys {
		if !has(k) {
			ve.List = append(ve.List, invalid.Field{Name: fmt.Sprintf("key_columns[%d]", i),
				Message: fmt.Sprintf("%s has no column %q", qualified(t.Table), k)})
		}
	}
	if len(ve.List) == 0 {
		return nil
	}
	return &ve
}

// schemaFields lists the record fields a JSON Schema's properties name,
// two levels deep, as paths.
func schemaFields(schema json.RawMessage) []string {
	type node struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var out []string
	var walk func(raw json.RawMessage, prefix string, depth int)
	walk = func(raw json.RawMessage, prefix string, depth int) {
		var n node
		if depth > 2 || json.Unmarshal(raw, &n) != nil {
			return
		}
		for name, sub := range n.Properties {
			out = append(out, prefix+name)
			walk(sub, prefix+name+".", depth+1)
		}
	}
	walk(schema, "", 1)
	slices.Sort(out)
	return out
}

// preview maps the sample record and converts each value for its column.
func (d *routePage) preview() {
	d.Previewed = true
	in, rows := d.Form.input(d.target())
	p, err := relay.PreviewInput(in, d.Form.SampleOp, json.RawMessage(d.Form.Sample))
	err = byRow(err, rows)
	if errs, ok := formErrors(err); ok {
		d.Errors, d.Problems = errs, problemList(err)
		d.Previewed = false
		return
	} else if err != nil {
		d.PreviewError = err.Error()
		return
	}
	d.Keep, d.PreviewOp, d.PreviewError = p.Keep, p.Op, p.Error
	kind := ""
	for _, dest := range d.Destinations {
		if dest.ID == d.Form.Destination {
			kind = dest.Kind
		}
	}
	for i := range d.Form.Rows {
		row := &d.Form.Rows[i]
		v, ok := p.Row[row.Column]
		if !ok {
			continue
		}
		if row.Known && kind != "" {
			cv, err := sink.Convert(kind, sink.Column{Name: row.Column, Type: row.Type}, v)
			if err != nil {
				row.PreviewError = strings.TrimPrefix(err.Error(), "sink: ")
				continue
			}
			v = cv
		}
		row.Preview, row.PreviewNull = showValue(v), v == nil
	}
}

func showValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func (h *Handler) routePage(w http.ResponseWriter, r *http.Request, status int, d routePage) {
	if err := h.loadChoices(r.Context(), &d); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.renderRoute(w, r, status, d)
}

// renderRoute renders the editor, with a saved route's state and dead
// letters.
func (h *Handler) renderRoute(w http.ResponseWriter, r *http.Request, status int, d routePage) {
	if _, ok := d.table(); !ok && d.Form.Destination != "" {
		// Typed-in columns: room for a few more.
		for range 3 {
			d.Form.Rows = append(d.Form.Rows, mapRow{})
		}
	}
	if d.Route != nil {
		if h.cfg.RouteStatus != nil {
			if st, ok := h.cfg.RouteStatus()[d.Route.ID]; ok {
				d.Status = &st
			}
		}
		if h.cfg.DLQ != nil {
			for _, ds := range d.Datasets {
				if ds.Name == d.Route.Dataset {
					d.DeadLetters = consume.DLQTopic(ds.Topic, delivery.Group(d.Route.ID))
				}
			}
			d.DeadPending = -1
			if q, err := h.cfg.DLQ.Queue(r.Context(), d.DeadLetters); err == nil {
				d.DeadPending = q.Pending
			} else if !errors.Is(err, dlq.ErrNotFound) {
				h.log.WarnContext(r.Context(), "console: route dead letters", "queue", d.DeadLetters, "err", err)
			}
		}
	}
	h.render(w, r, status, "relay_route", view{Data: d})
}

func (h *Handler) newRelayRoute(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	h.routePage(w, r, http.StatusOK, routePage{Form: routeForm{Dataset: q.Get("dataset"), Destination: q.Get("destination"),
		Mode: relay.ModeUpsert, Enabled: true, SampleOp: "upsert"}})
}

func (h *Handler) relayRoute(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	rt, err := h.cfg.Relay.Route(r.Context(), r.PathValue("id"))
	if err != nil {
		h.relayFail(w, r, "routes", err)
		return
	}
	h.routePage(w, r, http.StatusOK, routePage{Route: &rt, Form: formOfRoute(rt)})
}

// saveRelayRoute serves the editor's buttons: load, preview and save.
func (h *Handler) saveRelayRoute(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	d := routePage{Form: routeFormFrom(r)}
	if id := r.PathValue("id"); id != "" {
		rt, err := h.cfg.Relay.Route(ctx, id)
		if err != nil {
			h.relayFail(w, r, "routes", err)
			return
		}
		d.Route = &rt
	}
	if err := h.loadChoices(ctx, &d); err != nil {
		h.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	switch r.PostFormValue("action") {
	case "preview":
		d.preview()
	case "save":
		in, rows := d.Form.input(d.target())
		var saved relay.Route
		err := d.checkCatalog()
		switch {
		case err != nil:
		case d.Route == nil:
			saved, err = h.cfg.Relay.CreateRoute(ctx, in)
		default:
			saved, err = h.cfg.Relay.UpdateRoute(ctx, d.Route.ID, in)
		}
		if err == nil {
			http.Redirect(w, r, "/relay/routes/"+url.PathEscape(saved.ID)+"?ok=relay-saved", http.StatusSeeOther)
			return
		}
		err = byRow(err, rows)
		errs, ok := formErrors(err)
		if !ok {
			h.serverError(w, r, err)
			return
		}
		d.Errors, d.Problems, status = errs, problemList(err), http.StatusUnprocessableEntity
	}
	h.renderRoute(w, r, status, d)
}

func (h *Handler) deleteRelayRoute(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	rt, err := h.cfg.Relay.Route(r.Context(), r.PathValue("id"))
	if err != nil {
		h.relayFail(w, r, "routes", err)
		return
	}
	if !h.confirmed(w, r, confirmData{
		Title:   "Delete route " + rt.Name,
		Message: "Records of " + rt.Dataset + " stop flowing into " + qualified(sink.Table{Schema: rt.TableSchema, Name: rt.Table}) + ". Rows already written stay.",
		Action:  r.URL.Path, Button: "Delete route", Cancel: "/relay/routes/" + url.PathEscape(rt.ID),
	}) {
		return
	}
	if err := h.cfg.Relay.DeleteRoute(r.Context(), rt.ID); err != nil {
		h.relayFail(w, r, "routes", err)
		return
	}
	http.Redirect(w, r, "/relay/routes?ok=relay-deleted", http.StatusSeeOther)
}
