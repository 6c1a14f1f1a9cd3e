package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
)

// Ingest checks each record of a dataset without a schema against what its
// routes' tables accept, before anything is stored: the route's mapping
// and filter, then, for each column written, the sink's own conversion
// (sink.Convert) and whether a required column is left empty. A record a
// route would dead-letter is refused with the route, the column and the
// reason, unless the dataset accepts undeliverable records.

// catalogTTL is how long the columns of a route's table are used before
// they are read again; they are read again in the background, so ingest
// never waits for a destination but the first time (at most
// firstCatalogWait).
const (
	catalogTTL       = time.Minute
	firstCatalogWait = 2 * time.Second
)

// routeCheck is one enabled route of a dataset, as ingest checks records
// against it.
type routeCheck struct {
	route   Route
	kind    string // the destination's kind, for sink.Convert
	destID  string
	mapping *Mapping
	columns []string          // mapping.Columns()
	fields  map[string]string // column -> the record field feeding it
}

// checksEntry is a dataset's route checks, cached for CacheTTL.
type checksEntry struct {
	checks []routeCheck
	at     time.Time
}

// tableEntry is the columns of one route's table as last read; cols is
// nil until a read succeeded. checks are the columns with their
// converters for the destination's kind checksKind, made when first asked
// for.
type tableEntry struct {
	mu         sync.Mutex
	cols       map[string]sink.Column
	checks     map[string]columnCheck
	checksKind string
	read       time.Time // of the last attempt
	reading    bool
	firstTry   chan struct{} // closed when the first attempt ends
}

// tableFinder is what a Tester may also do: find one table as a route
// names it, an empty schema being the connection's own. A Tester without
// it is asked for its whole catalogue, and a table name found there once.
type tableFinder interface {
	FindTable(ctx context.Context, d Destination, password string, t sink.Table) (sink.TableInfo, error)
}

// routeChecks returns the checks of the dataset's enabled routes.
func (r *Relay) routeChecks(ctx context.Context, dataset string) ([]routeCheck, error) {
	now := r.cfg.Now()
	r.mu.Lock()
	e := r.checks[dataset]
	r.mu.Unlock()
	if e != nil && now.Sub(e.at) <= r.cfg.CacheTTL {
		return e.checks, nil
	}
	rows, err := r.db.QueryContext(ctx, r.db.Rebind(`SELECT `+routeCols+` FROM relay_routes WHERE dataset = ? AND enabled ORDER BY name`), dataset)
	if err != nil {
		return nil, fmt.Errorf("relay: routes of dataset %s: %w", dataset, err)
	}
	var routes []Route
	for rows.Next() {
		rt, err := scanRoute(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("relay: routes of dataset %s: %w", dataset, err)
		}
		routes = append(routes, rt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("relay: routes of dataset %s: %w", dataset, err)
	}
	e = &checksEntry{at: now}
	for _, rt := range routes {
		m, err := Compile(&rt)
		if err != nil {
			continue // the delivery engine reports a route it cannot run
		}
		d, err := r.Destination(ctx, rt.Destination)
		if err != nil {
			continue
		}
		c := routeCheck{route: rt, kind: d.Kind, destID: d.ID, mapping: m, columns: m.Columns(), fields: map[string]string{}}
		for _, cm := range rt.Mapping {
			if cm.Field != "" {
				c.fields[cm.Column] = cm.Field
			}
		}
		e.checks = append(e.checks, c)
	}
	r.mu.Lock()
	r.checks[dataset] = e
	r.mu.Unlock()
	return e.checks, nil
}

// columns returns the converters of the columns of the route's table as
// the destination last said, or nil when it has not said (it did not
// answer): such a route is not checked at ingest.
func (r *Relay) columns(ctx context.Context, c *routeCheck) map[string]columnCheck {
	key := c.destID + "\x00" + c.route.TableSchema + "\x00" + c.route.Table
	r.mu.Lock()
	te := r.tables[key]
	if te == nil {
		te = &tableEntry{firstTry: make(chan struct{})}
		r.tables[key] = te
	}
	r.mu.Unlock()
	now := r.cfg.Now()
	te.mu.Lock()
	if !te.reading && (te.cols == nil && now.Sub(te.read) > r.cfg.CacheTTL || now.Sub(te.read) > catalogTTL) {
		te.reading = true
		go r.readTable(context.WithoutCancel(ctx), c.destID, sink.Table{Schema: c.route.TableSchema, Name: c.route.Table}, te)
	}
	first := te.firstTry
	te.mu.Unlock()
	select {
	case <-first:
	default:
		t := time.NewTimer(firstCatalogWait)
		select {
		case <-first:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	if te.cols == nil {
		return nil
	}
	if te.checks == nil || te.checksKind != c.kind {
		te.checks, te.checksKind = make(map[string]columnCheck, len(te.cols)), c.kind
		for name, col := range te.cols {
			cc := columnCheck{col: col}
			if conv, err := sink.NewConverter(c.kind, col); err == nil {
				cc.conv = &conv
			}
			te.checks[name] = cc
		}
	}
	return te.checks
}

// columnCheck is a column of a route's table and, for a known kind of
// destination, its converter.
type columnCheck struct {
	col  sink.Column
	conv *sink.Converter
}

// convert is sink.Convert for the column.
func (cc columnCheck) convert(kind string, v any) (any, error) {
	if cc.conv != nil {
		return cc.conv.Convert(v)
	}
	return sink.Convert(kind, cc.col, v)
}

// forgetChecks drops the cached route checks (a route changed) and, for a
// changed destination, what its tables were.
func (r *Relay) forgetChecks(destID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.checks)
	if destID == "" {
		return
	}
	for k := range r.tables {
		if strings.HasPrefix(k, destID+"\x00") {
			delete(r.tables, k)
		}
	}
}

func (r *Relay) readTable(ctx context.Context, destID string, table sink.Table, te *tableEntry) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.TestTimeout)
	defer cancel()
	info, err := r.findTable(ctx, destID, table)
	te.mu.Lock()
	defer te.mu.Unlock()
	te.reading, te.read = false, r.cfg.Now()
	select {
	case <-te.firstTry:
	default:
		close(te.firstTry)
	}
	if err != nil {
		r.log.DebugContext(ctx, "relay: ingest: read a route's table", "dest", destID, "table", table.Name, "err", err)
		return
	}
	te.cols, te.checks = make(map[string]sink.Column, len(info.Columns)), nil
	for _, c := range info.Columns {
		te.cols[c.Name] = c
	}
}

func (r *Relay) findTable(ctx context.Context, destID string, table sink.Table) (sink.TableInfo, error) {
	d, _, pw, err := r.reach(ctx, destID, nil)
	if err != nil {
		return sink.TableInfo{}, err
	}
	if f, ok := r.cfg.Tester.(tableFinder); ok {
		return f.FindTable(ctx, d, pw, table)
	}
	tables, err := r.cfg.Tester.Catalog(ctx, d, pw)
	if err != nil {
		return sink.TableInfo{}, err
	}
	var found []sink.TableInfo
	for _, t := range tables {
		if t.Name == table.Name && (table.Schema == "" || t.Schema == table.Schema) {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return sink.TableInfo{}, fmt.Errorf("relay: %d tables named %s", len(found), table.Name)
	}
	return found[0], nil
}

// undeliverable checks the items against the dataset's routes and returns
// what each route would refuse, named by the record field (or the record)
// with the route, the column and the reason.
func (r *Relay) undeliverable(ctx context.Context, ds *datasetEntry, items []item) ([]invalid.Field, error) {
	if ds.schema != nil || ds.ds.AcceptUndeliverable {
		return nil, nil
	}
	checks, err := r.routeChecks(ctx, ds.ds.Name)
	if err != nil || len(checks) == 0 {
		return nil, err
	}
	cols := make([]map[string]columnCheck, len(checks))
	for i := range checks {
		cols[i] = r.columns(ctx, &checks[i])
	}
	var errs []invalid.Field
	for _, it := range items {
		op := sink.Upsert
		if it.op == "delete" {
			op = sink.Delete
		}
		for i, c := range checks {
			ch, keep, err := c.mapping.ApplyValue(op, it.data)
			if err != nil {
				errs = append(errs, invalid.Field{Name: fieldOr(it.at), Message: fmt.Sprintf("route %s: %s", c.route.Name, trimRelay(err))})
				continue
			}
			if !keep || cols[i] == nil || ch.Op == sink.Delete {
				continue
			}
			for _, name := range c.columns {
				cc, ok := cols[i][name]
				if !ok {
					continue // the delivery engine reports a column the table lacks
				}
				at := func() string {
					if f, ok := c.fields[name]; ok {
						return joinField(it.at, f)
					}
					return fieldOr(it.at)
				}
				col := cc.col
				v := ch.Row[name]
				if v == nil {
					if !col.Nullable && !col.HasDefault {
						errs = append(errs, invalid.Field{Name: at(), Message: fmt.Sprintf("route %s: column %s (%s) is required and the record leaves it empty", c.route.Name, name, col.Type)})
					}
					continue
				}
				if _, err := cc.convert(c.kind, v); err != nil {
					var ve *sink.ValueError
					reason := err.Error()
					if errors.As(err, &ve) {
						reason = ve.Reason
					}
					errs = append(errs, invalid.Field{Name: at(), Message: fmt.Sprintf("route %s: column %s (%s): %s", c.route.Name, name, col.Type, reason)})
				}
			}
		}
	}
	return errs, nil
}

// trimRelay drops the package prefix of a mapping error.
func trimRelay(err error) string {
	const p = "relay: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
