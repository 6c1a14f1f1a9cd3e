package relay

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/arus-platform/arus/internal/filter"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

const maxMappedColumns = 512

// Mapping is a route's mapping and filter, compiled once: it turns records
// of the route's dataset into rows of its table. It is safe for concurrent
// use.
type Mapping struct {
	cols    []compiledColumn
	keyCols []int // indexes into cols, in KeyColumns order
	filter  *filter.Filter
	mode    sink.Op
	deletes bool
}

type compiledColumn struct {
	name  string
	path  *filter.Path
	value any // the constant, when path is nil
}

// Compile checks a route's mapping, key columns and filter and compiles
// them. Its errors are a *invalid.Fields naming fields such as
// mapping[2].field or filter.
func Compile(r *Route) (*Mapping, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	m := &Mapping{mode: sink.Upsert, deletes: r.Deletes}
	if r.Mode == ModeInsert {
		m.mode = sink.Insert
	}
	switch {
	case len(r.Mapping) == 0:
		ve.Add("mapping", "at least one column is required")
	case len(r.Mapping) > maxMappedColumns:
		ve.Add("mapping", "at most %d columns", maxMappedColumns)
	}
	seen := map[string]bool{}
	for i, cm := range r.Mapping {
		at := fmt.Sprintf("mapping[%d]", i)
		checkIdent(&ve, at+".column", cm.Column, true)
		if seen[cm.Column] {
			ve.Add(at+".column", "column %q is mapped twice", cm.Column)
		}
		seen[cm.Column] = true
		c := compiledColumn{name: cm.Column}
		hasValue := len(cm.Value) > 0
		switch {
		case cm.Field != "" && hasValue:
			ve.Add(at, "give either field or value, not both")
		case cm.Field != "":
			p, err := filter.ParsePath(cm.Field)
			if err != nil {
				ve.Add(at+".field", "%v", err)
				break
			}
			c.path = &p
		case hasValue:
			v, err := filter.DecodeJSON(cm.Value)
			if err != nil {
				ve.Add(at+".value", "is not JSON: %v", err)
				break
			}
			c.value = v
		default:
			ve.Add(at, "give field (a record field path) or value (a constant)")
		}
		m.cols = append(m.cols, c)
	}
	for i, k := range r.KeyColumns {
		j := slices.IndexFunc(m.cols, func(c compiledColumn) bool { return c.name == k })
		if j < 0 {
			ve.Add(fmt.Sprintf("key_columns[%d]", i), "key column %q must be in the mapping", k)
			continue
		}
		m.keyCols = append(m.keyCols, j)
	}
	f, err := filter.ParseFilter(r.Filter)
	if err != nil {
		ve.Add("filter", "%v", err)
	}
	m.filter = f
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Apply turns one record of the dataset (its data, a JSON object) into the
// row change of the route. op is the record's operation: sink.Upsert for
// an upsert (or plain) record, sink.Delete for a delete. keep is false
// when the filter drops the record, or for a delete on a route that does
// not allow deletes. Errors name the column and the field.
func (m *Mapping) Apply(op sink.Op, record []byte) (sink.Change, bool, error) {
	v, err := filter.DecodeJSON(record)
	if err != nil {
		return sink.Change{}, false, fmt.Errorf("relay: record is not JSON: %w", err)
	}
	return m.ApplyValue(op, v)
}

// ApplyValue is Apply for a record already decoded with json.Number.
func (m *Mapping) ApplyValue(op sink.Op, record any) (sink.Change, bool, error) {
	if _, ok := record.(map[string]any); !ok {
		return sink.Change{}, false, fmt.Errorf("relay: record is %s, not an object", jsonKind(record))
	}
	if op != sink.Upsert && op != sink.Delete && op != sink.Insert {
		return sink.Change{}, false, fmt.Errorf("relay: unknown operation %d", op)
	}
	if op == sink.Delete && !m.deletes {
		return sink.Change{}, false, nil
	}
	if !m.filter.Match(record) {
		return sink.Change{}, false, nil
	}
	out := sink.Change{Op: m.mode}
	if op == sink.Delete {
		out.Op = sink.Delete
		out.Row = make(map[string]any, len(m.keyCols))
	} else {
		out.Row = make(map[string]any, len(m.cols))
		for _, c := range m.cols {
			if c.path == nil {
				out.Row[c.name] = c.value
				continue
			}
			v, _ := c.path.Lookup(record)
			out.Row[c.name] = v
		}
	}
	for _, j := range m.keyCols {
		c := m.cols[j]
		v, from := c.value, "its constant"
		if c.path != nil {
			from = "field " + c.path.String()
			var ok bool
			v, ok = c.path.Lookup(record)
			if !ok {
				return sink.Change{}, false, fmt.Errorf("relay: key column %s: field %s is missing", c.name, c.path)
			}
		}
		switch v.(type) {
		case string, json.Number, bool:
		default:
			return sink.Change{}, false, fmt.Errorf("relay: key column %s: %s is %s; a key must be a string, number or boolean", c.name, from, jsonKind(v))
		}
		out.Row[c.name] = v
	}
	return out, true, nil
}

// Columns returns the mapped columns in mapping order.
func (m *Mapping) Columns() []string {
	out := make([]string, len(m.cols))
	for i, c := range m.cols {
		out[i] = c.name
	}
	return out
}

// Preview is what a route makes of a sample record.
type Preview struct {
	// Keep is false when the filter drops the record (or it is a delete
	// and the route does not allow deletes).
	Keep bool           `json:"keep"`
	Op   string         `json:"op,omitempty"`
	Row  map[string]any `json:"row,omitempty"`
	// Error says why the record cannot be mapped.
	Error string `json:"error,omitempty"`
}

// PreviewRoute maps a sample record with route r: op is "upsert" (or
// empty) or "delete". A route that does not compile is an error; a record
// it cannot map is a Preview with Error set.
func PreviewRoute(r *Route, op string, record json.RawMessage) (Preview, error) {
	m, err := Compile(r)
	if err != nil {
		return Preview{}, err
	}
	sop := sink.Upsert
	switch op {
	case "", "upsert":
	case "delete":
		sop = sink.Delete
	default:
		return Preview{}, &invalid.Fields{Kind: ErrInvalid, List: []invalid.Field{{Name: "op", Message: "must be upsert or delete"}}}
	}
	ch, keep, err := m.Apply(sop, record)
	if err != nil {
		return Preview{Error: err.Error()}, nil
	}
	if !keep {
		return Preview{}, nil
	}
	return Preview{Keep: true, Op: ch.Op.String(), Row: ch.Row}, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// PreviewInput is PreviewRoute for a route that is not saved: in is
// checked as CreateRoute checks it, apart from whether its dataset and
// destination exist. Editors use it to show the row a sample record
// would become while the route is being written.
func PreviewInput(in RouteInput, op string, record json.RawMessage) (Preview, error) {
	rt, err := in.route()
	if err != nil {
		return Preview{}, err
	}
	return PreviewRoute(&rt, op, record)
}
