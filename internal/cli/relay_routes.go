package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/arus-platform/arus/internal/relay"
)

// This file holds the relay's routes: from datasets to tables.

const routesAbout = `
Manages routes: each delivers the records of a dataset into one table of a
destination, with a column mapping (a record field or a constant per
column; other fields are dropped), an optional filter, insert or upsert on
key columns, and deletes.

  arus relay routes list
  arus relay routes create dealer-cars --dataset cars --destination dealer \
      --table cars --key-column id --map id=id --map name=car_name --deletes
  arus relay routes create --file route.json
  arus relay routes show dealer-cars
  arus relay routes update dealer-cars --filter 'price > 0'
  arus relay routes preview dealer-cars --record '{"id":1,"car_name":"Avanza"}'
  arus relay routes preview --file route.json --record-file sample.json
  arus relay routes delete dealer-cars

A route file is the admin API's body: {"name", "dataset", "destination"
(name or id), "table_schema", "table", "mode", "key_columns", "deletes",
"mapping": [{"column", "field"} or {"column", "value"}], "filter",
"enabled"}. preview shows the row a sample record makes, saving and
writing nothing.`

func relayRoutes(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "relay routes", routesAbout,
		action{"list", routes.listCmd},
		action{"create", func(ctx context.Context, e *env, args []string) error { return routesSave(ctx, e, args, true) }},
		action{"show", routes.showCmd},
		action{"update", func(ctx context.Context, e *env, args []string) error { return routesSave(ctx, e, args, false) }},
		action{"preview", routesPreview},
		action{"delete", routes.deleteCmd},
	)
}

// destinationNames maps destination ids to names, for listings; a failure
// leaves the ids.
// Routes show their destination by name, which only the table needs.
var routes = relayKind[relay.Route]{
	name: "route", about: routesAbout,
	list:   func(ctx context.Context, cl *relay.Client) ([]relay.Route, error) { return cl.Routes(ctx) },
	find:   findRoute,
	nameOf: func(r relay.Route) string { return r.Name },
	table: func(ctx context.Context, cl *relay.Client, w io.Writer, rs []relay.Route) {
		names := destinationNames(ctx, cl)
		fmt.Fprintln(w, "NAME\tID\tDATASET\tDESTINATION\tTABLE\tMODE\tKEY\tDELETES\tENABLED")
		for _, r := range rs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%t\t%t\n", r.Name, r.ID, r.Dataset, orID(names, r.Destination), tableText(r),
				r.Mode, orDash(strings.Join(r.KeyColumns, ",")), r.Deletes, r.Enabled)
		}
	},
	show: func(ctx context.Context, e *env, c *relayConn, cl *relay.Client, r relay.Route) error {
		if c.format == "json" {
			return c.print(e, r, nil)
		}
		names := destinationNames(ctx, cl)
		return c.print(e, r, func(w io.Writer) {
			fmt.Fprintf(w, "Name:\t%s\n", r.Name)
			fmt.Fprintf(w, "ID:\t%s\n", r.ID)
			fmt.Fprintf(w, "Dataset:\t%s\n", r.Dataset)
			fmt.Fprintf(w, "Destination:\t%s\n", orID(names, r.Destination))
			fmt.Fprintf(w, "Table:\t%s\n", tableText(r))
			fmt.Fprintf(w, "Mode:\t%s on %s\n", r.Mode, orDash(strings.Join(r.KeyColumns, ", ")))
			fmt.Fprintf(w, "Deletes:\t%t\n", r.Deletes)
			fmt.Fprintf(w, "Filter:\t%s\n", orDash(r.Filter))
			fmt.Fprintf(w, "Enabled:\t%t\n", r.Enabled)
			fmt.Fprintf(w, "Created:\t%s\n", timeText(r.CreatedAt))
			fmt.Fprintf(w, "Updated:\t%s\n", timeText(r.UpdatedAt))
			fmt.Fprintf(w, "Mapping:\t\n")
			for _, m := range r.Mapping {
				from := "field " + m.Field
				if m.Field == "" {
					from = "value " + string(m.Value)
				}
				fmt.Fprintf(w, "  %s\t← %s\n", m.Column, from)
			}
		})
	},
	remove: func(ctx context.Context, cl *relay.Client, r relay.Route) (string, error) {
		return "Deleted route " + r.Name + "; its consumer group stops within seconds.", cl.DeleteRoute(ctx, r.ID)
	},
}

func destinationNames(ctx context.Context, cl *relay.Client) map[string]string {
	names := map[string]string{}
	ds, _ := cl.Destinations(ctx)
	for _, d := range ds {
		names[d.ID] = d.Name
	}
	return names
}

func orID(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

func tableText(r relay.Route) string {
	if r.TableSchema != "" {
		return r.TableSchema + "." + r.Table
	}
	return r.Table
}

// routeFlags are the settings of a route a command line may give.
type routeFlags struct {
	dataset, destination, schema, table, mode, filter, file *string
	deletes, enabled                                        *bool
	keys, maps, values                                      *listFlag
}

func addRouteFlags(f *flags) *routeFlags {
	r := &routeFlags{keys: &listFlag{split: true}, maps: &listFlag{}, values: &listFlag{}}
	r.dataset = f.String("dataset", "", "`dataset` whose records the route delivers")
	r.destination = f.String("destination", "", "`destination` (name or id) the route writes to")
	r.schema = f.String("table-schema", "", "`schema` of the table (default: the connection's)")
	r.table = f.String("table", "", "`table` the route writes to")
	r.mode = f.String("mode", "", "write `mode`: upsert (default) or insert")
	f.Var(r.keys, "key-column", "a `column` identifying a row, for upserts and deletes (repeatable, or comma-separated)")
	r.deletes = f.Bool("deletes", false, "delete the row on a delete record (otherwise deletes are skipped)")
	f.Var(r.maps, "map", "fill `column=field` from a record field (a path such as price or dealer.name; repeatable)")
	f.Var(r.values, "value", "fill `column=json` with a constant JSON value, such as src=\"relay\" (repeatable)")
	r.filter = f.String("filter", "", "keep only records this `expression` matches, such as 'price > 0'")
	r.enabled = f.Bool("enabled", true, "deliver the route's records; --enabled=false saves it paused")
	r.file = f.String("file", "", "`path` of the JSON route body (see above); - reads standard input")
	return r
}

// input lays the file, then the flags over in.
func (rf *routeFlags) input(f *flags, e *env, in relay.RouteInput, stdin *stdinUse) (relay.RouteInput, error) {
	if err := stdin.claim(f, "--file", *rf.file); err != nil {
		return in, err
	}
	if *rf.file != "" {
		if err := readJSON(f, e, *rf.file, &in); err != nil {
			return in, err
		}
	}
	set := setFlags(f)
	for _, s := range []struct {
		name     string
		dst, src *string
	}{{"dataset", &in.Dataset, rf.dataset}, {"destination", &in.Destination, rf.destination}, {"table-schema", &in.TableSchema, rf.schema},
		{"table", &in.Table, rf.table}, {"mode", &in.Mode, rf.mode}, {"filter", &in.Filter, rf.filter}} {
		if set[s.name] {
			*s.dst = *s.src
		}
	}
	if set["key-column"] {
		in.KeyColumns = rf.keys.values
	}
	if set["deletes"] {
		in.Deletes = *rf.deletes
	}
	if set["enabled"] {
		in.Enabled = rf.enabled
	}
	if set["map"] || set["value"] {
		in.Mapping = nil
		for _, m := range rf.maps.values {
			col, field, ok := strings.Cut(m, "=")
			if !ok || col == "" || field == "" {
				return in, f.fail("--map %q: use column=field, such as name=car_name", m)
			}
			in.Mapping = append(in.Mapping, relay.ColumnMap{Column: col, Field: field})
		}
		for _, v := range rf.values.values {
			col, val, ok := strings.Cut(v, "=")
			if !ok || col == "" || !json.Valid([]byte(val)) {
				return in, f.fail("--value %q: use column=json, such as src=\"relay\" or version=2", v)
			}
			in.Mapping = append(in.Mapping, relay.ColumnMap{Column: col, Value: json.RawMessage(val)})
		}
	}
	return in, nil
}

// destinationID turns the destination a route input names (a name or an
// id) into its id. An unknown one is left for the server to refuse, with
// the route's other faults.
func destinationID(ctx context.Context, cl *relay.Client, in *relay.RouteInput) error {
	if in.Destination == "" {
		return nil
	}
	d, err := findDestination(ctx, cl, in.Destination)
	switch {
	case errors.Is(err, relay.ErrNotFound):
		return nil
	case err != nil:
		return relayErr("find destination "+in.Destination, err)
	}
	in.Destination = d.ID
	return nil
}

// inputOfRoute is the input that saves r as it is.
func inputOfRoute(r relay.Route) relay.RouteInput {
	enabled := r.Enabled
	return relay.RouteInput{Name: r.Name, Dataset: r.Dataset, Destination: r.Destination, TableSchema: r.TableSchema,
		Table: r.Table, Mode: r.Mode, KeyColumns: r.KeyColumns, Deletes: r.Deletes, Mapping: r.Mapping,
		Filter: r.Filter, Enabled: &enabled}
}

func routesSave(ctx context.Context, e *env, args []string, create bool) error {
	verb, did := "update", "Updated"
	if create {
		verb, did = "create", "Created"
	}
	f := newFlags(e, "relay routes "+verb, "arus relay routes "+verb+" NAME [--dataset D --destination D --table T --key-column C... --map COLUMN=FIELD...] [--file F] [flags]", routesAbout)
	rf := addRouteFlags(f)
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	var in relay.RouteInput
	var id string
	if !create {
		ref, err := oneArg(f, "route", rest)
		if err != nil {
			return err
		}
		r, err := findRoute(ctx, cl, ref)
		if err != nil {
			return relayErr("update route", err)
		}
		in, id = inputOfRoute(r), r.ID
	}
	if in, err = rf.input(f, e, in, &stdinUse{}); err != nil {
		return err
	}
	if create {
		switch {
		case len(rest) > 1:
			return f.fail("one route at a time; got %q", rest)
		case len(rest) == 1:
			in.Name = rest[0]
		case in.Name == "":
			return f.fail("no name given; use arus relay routes create NAME")
		}
	}
	if err := destinationID(ctx, cl, &in); err != nil {
		return err
	}
	var r relay.Route
	if create {
		r, err = cl.CreateRoute(ctx, in)
	} else {
		r, err = cl.UpdateRoute(ctx, id, in)
	}
	if err != nil {
		return relayErr(verb+" route "+in.Name, err)
	}
	state := "delivering"
	if !r.Enabled {
		state = "paused"
	}
	return c.done(e, r, "%s route %s (id %s): %s into %s, %s.", did, r.Name, r.ID, r.Dataset, tableText(r), state)
}

func routesPreview(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay routes preview", "arus relay routes preview [ROUTE] --record JSON|--record-file F [--op upsert|delete] [route flags] [flags]", routesAbout+`

With ROUTE, the saved route is tried; without, the route the flags and
--file describe, which need not be saved.`)
	rf := addRouteFlags(f)
	record := f.String("record", "", "the sample record, as `json`")
	recordFile := f.String("record-file", "", "`path` of the sample record; - reads standard input")
	op := f.String("op", "upsert", "`op` of the sample record: upsert or delete")
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	if *op != "upsert" && *op != "delete" {
		return f.fail("--op %q: use upsert or delete", *op)
	}
	var stdin stdinUse
	var sample []byte
	switch {
	case *record != "" && *recordFile != "":
		return f.fail("give --record or --record-file, not both")
	case *record != "":
		sample = []byte(*record)
	case *recordFile != "":
		if err := stdin.claim(f, "--record-file", *recordFile); err != nil {
			return err
		}
		if sample, err = readInput(f, e, "--record-file", *recordFile); err != nil {
			return err
		}
	default:
		return f.fail("no sample record given; use --record JSON or --record-file PATH")
	}
	if !json.Valid(sample) {
		return f.fail("the sample record is not valid JSON")
	}
	var p relay.Preview
	switch {
	case len(rest) > 1:
		return f.fail("one route at a time; got %q", rest)
	case len(rest) == 1:
		if !onlyPreviewFlags(setFlags(f)) {
			return f.fail("a saved route is tried as it is; give route settings (--file, --table, ...) only without ROUTE")
		}
		r, err := findRoute(ctx, cl, rest[0])
		if err != nil {
			return relayErr("preview", err)
		}
		if p, err = cl.PreviewSavedRoute(ctx, r.ID, *op, sample); err != nil {
			return relayErr("preview route "+r.Name, err)
		}
	default:
		in, err := rf.input(f, e, relay.RouteInput{}, &stdin)
		if err != nil {
			return err
		}
		if err := destinationID(ctx, cl, &in); err != nil {
			return err
		}
		if in.Name == "" {
			// Not saved, but checked as a route to create.
			in.Name = "preview"
		}
		if p, err = cl.PreviewRoute(ctx, in, *op, sample); err != nil {
			return relayErr("preview", err)
		}
	}
	if c.format == "json" {
		if err := c.print(e, p, nil); err != nil {
			return err
		}
	} else {
		switch {
		case p.Error != "":
			fmt.Fprintf(e.stdout, "The route cannot map the record: %s\n", p.Error)
		case !p.Keep:
			fmt.Fprintln(e.stdout, "Dropped: the route's filter leaves the record out, or it is a delete and the route does not delete.")
		default:
			fmt.Fprintf(e.stdout, "Row (%s):\n", p.Op)
			cols := make([]string, 0, len(p.Row))
			for col := range p.Row {
				cols = append(cols, col)
			}
			slices.Sort(cols)
			err := c.print(e, nil, func(w io.Writer) {
				for _, col := range cols {
					v, _ := json.Marshal(p.Row[col])
					fmt.Fprintf(w, "  %s\t%s\n", col, v)
				}
			})
			if err != nil {
				return err
			}
		}
	}
	if p.Error != "" {
		return fmt.Errorf("preview: the route cannot map the record: %s", p.Error)
	}
	return nil
}

// onlyPreviewFlags reports whether the given flags are those of the sample
// and the connection, not route settings.
func onlyPreviewFlags(set map[string]bool) bool {
	for name := range set {
		switch name {
		case "record", "record-file", "op", "server", "api-key", "format":
		default:
			return false
		}
	}
	return true
}
