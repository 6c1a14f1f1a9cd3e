package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/relay"
)

// This file holds the relay's destinations: the databases routes write to.

// passwordEnv holds a destination's password for create, update and test,
// when --password-file is not given.
const passwordEnv = "ARUS_DESTINATION_PASSWORD"

const destinationsAbout = `
Manages destinations: the databases routes write to (postgres, mysql,
sqlserver or sqlite), given by connection fields or a DSN without the
password. The server tests the connection before it saves a destination,
and keeps the password encrypted; it never shows it again.

  arus relay destinations list
  arus relay destinations create dealer --kind postgres --host db --port 5432 \
      --database shop --user relay --option sslmode=disable --password-file pw.txt
  arus relay destinations create local --kind sqlite --database shop.db --create
  arus relay destinations test --kind mysql --host db --database shop --user relay
  arus relay destinations test dealer              the saved settings
  arus relay destinations update dealer --option connect_timeout=5
  arus relay destinations update dealer --host db2 --password-file pw.txt
  arus relay destinations catalog dealer           its tables and columns
  arus relay destinations delete dealer

The password is read from the file --password-file names (- for standard
input; a final newline is dropped) or from ` + passwordEnv + `;
it is never a flag's value, so it stays out of shell history and process
lists. The stored password is only used for the host, port, database and
user it was saved for: a change to any of them needs the password again.
A SQLite file is named inside the server's SQLite directory (arus serve
--relay-sqlite-dir); --create makes it when it does not exist. Each kind
takes only its own driver options (docs/security.md lists them). test
exits with status 1 when the connection fails.`

func relayDestinations(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "relay destinations", destinationsAbout,
		action{"list", destinations.listCmd},
		action{"create", func(ctx context.Context, e *env, args []string) error { return destinationsSave(ctx, e, args, true) }},
		action{"show", destinations.showCmd},
		action{"update", func(ctx context.Context, e *env, args []string) error { return destinationsSave(ctx, e, args, false) }},
		action{"test", destinationsTest},
		action{"catalog", destinationsCatalog},
		action{"delete", destinations.deleteCmd},
	)
}

var destinations = relayKind[relay.Destination]{
	name: "destination", about: destinationsAbout,
	list:   func(ctx context.Context, cl *relay.Client) ([]relay.Destination, error) { return cl.Destinations(ctx) },
	find:   findDestination,
	nameOf: func(d relay.Destination) string { return d.Name },
	table: func(_ context.Context, _ *relay.Client, w io.Writer, ds []relay.Destination) {
		fmt.Fprintln(w, "NAME\tID\tKIND\tWHERE\tHEALTH\tSINCE\tLAST ERROR")
		for _, d := range ds {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.ID, d.Kind, where(d), d.Health, timeText(d.HealthSince), oneLine(d.LastError, 120))
		}
	},
	// show adds the destination's recent changes of health.
	show: func(ctx context.Context, e *env, c *relayConn, cl *relay.Client, d relay.Destination) error {
		events, err := cl.DestinationEvents(ctx, d.ID)
		if err != nil {
			return relayErr("show destination "+d.Name, err)
		}
		shown := struct {
			relay.Destination
			Events []relay.HealthEvent `json:"events"`
		}{d, orEmpty(events)}
		return c.print(e, shown, func(w io.Writer) {
			fmt.Fprintf(w, "Name:\t%s\n", d.Name)
			fmt.Fprintf(w, "ID:\t%s\n", d.ID)
			fmt.Fprintf(w, "Kind:\t%s\n", d.Kind)
			fmt.Fprintf(w, "Where:\t%s\n", where(d))
			var opts []string
			for k, v := range d.Options {
				opts = append(opts, k+"="+v)
			}
			slices.Sort(opts)
			fmt.Fprintf(w, "Options:\t%s\n", orDash(strings.Join(opts, " ")))
			fmt.Fprintf(w, "Health:\t%s since %s\n", d.Health, timeText(d.HealthSince))
			fmt.Fprintf(w, "Last error:\t%s\n", oneLine(d.LastError, 120))
			fmt.Fprintf(w, "Created:\t%s\n", timeText(d.CreatedAt))
			fmt.Fprintf(w, "Updated:\t%s\n", timeText(d.UpdatedAt))
			if len(events) > 0 {
				fmt.Fprintf(w, "Health changes:\t\n")
			}
			for _, ev := range events[:min(len(events), 10)] {
				what := ev.Health
				if ev.Error != "" {
					what += ": " + oneLine(ev.Error, 100)
				}
				fmt.Fprintf(w, "  %s\t%s\n", timeText(ev.Time), what)
			}
		})
	},
	remove: func(ctx context.Context, cl *relay.Client, d relay.Destination) (string, error) {
		return "Deleted destination " + d.Name + ".", cl.DeleteDestination(ctx, d.ID)
	},
}

// where says where a destination is, without its password.
func where(d relay.Destination) string {
	switch {
	case d.DSN != "":
		return d.DSN
	case d.Kind == relay.KindSQLite:
		return d.Database
	}
	host := d.Host
	if d.Port != 0 {
		host += ":" + strconv.Itoa(d.Port)
	}
	return d.User + "@" + host + "/" + d.Database
}

// destFlags are the settings of a destination a command line may give.
type destFlags struct {
	kind, host, database, user, dsn, passwordFile, file *string
	port                                                *int
	options                                             *listFlag
	create                                              *bool
}

func addDestFlags(f *flags) *destFlags {
	d := &destFlags{options: &listFlag{}}
	d.kind = f.String("kind", "", "database `kind`: postgres, mysql, sqlserver or sqlite")
	d.host = f.String("host", "", "`host` name or address of the database server")
	d.port = f.Int("port", 0, "`port` of the database server (0: the kind's default)")
	d.database = f.String("database", "", "`database` name, or the SQLite file, inside the server's SQLite directory")
	d.create = f.Bool("create", false, "SQLite: create the file when it does not exist")
	d.user = f.String("user", "", "`user` the relay signs in as")
	f.Var(d.options, "option", "a connection option `name=value`, such as sslmode=require (repeatable)")
	d.dsn = f.String("dsn", "", "connection `DSN` without the password, instead of the fields above")
	d.passwordFile = f.String("password-file", "", "`path` of a file holding the password; - reads standard input (default: "+passwordEnv+")")
	d.file = f.String("file", "", "`path` of the JSON body {\"name\", \"kind\", \"host\", \"port\", \"database\", \"user\", \"options\", \"dsn\", \"password\", \"create\"}; - reads standard input")
	return d
}

// input lays the file, then the flags, then the password over in.
func (d *destFlags) input(f *flags, e *env, in relay.DestinationInput) (relay.DestinationInput, error) {
	var stdin stdinUse
	if err := stdin.claim(f, "--file", *d.file); err != nil {
		return in, err
	}
	if err := stdin.claim(f, "--password-file", *d.passwordFile); err != nil {
		return in, err
	}
	if *d.file != "" {
		if err := readJSON(f, e, *d.file, &in); err != nil {
			return in, err
		}
	}
	set := setFlags(f)
	for _, s := range []struct {
		name     string
		dst, src *string
	}{{"kind", &in.Kind, d.kind}, {"host", &in.Host, d.host}, {"database", &in.Database, d.database}, {"user", &in.User, d.user}, {"dsn", &in.DSN, d.dsn}} {
		if set[s.name] {
			*s.dst = *s.src
		}
	}
	if set["port"] {
		in.Port = *d.port
	}
	if set["create"] {
		in.Create = *d.create
	}
	if set["option"] {
		if in.Options == nil {
			in.Options = map[string]string{}
		}
		for _, o := range d.options.values {
			k, v, ok := strings.Cut(o, "=")
			if !ok || k == "" {
				return in, f.fail("--option %q: use name=value, such as sslmode=require", o)
			}
			in.Options[k] = v
		}
	}
	switch {
	case *d.passwordFile != "":
		b, err := readInput(f, e, "--password-file", *d.passwordFile)
		if err != nil {
			return in, err
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pw == "" {
			return in, f.fail("--password-file %s is empty", *d.passwordFile)
		}
		in.Password = pw
	case e.getenv(passwordEnv) != "":
		in.Password = e.getenv(passwordEnv)
	}
	return in, nil
}

// inputOf is the input that saves d as it is (with its stored password).
func inputOf(d relay.Destination) relay.DestinationInput {
	return relay.DestinationInput{Name: d.Name, Kind: d.Kind, Host: d.Host, Port: d.Port, Database: d.Database,
		User: d.User, Options: d.Options, DSN: d.DSN}
}

func destinationsSave(ctx context.Context, e *env, args []string, create bool) error {
	verb, did := "update", "Updated"
	if create {
		verb, did = "create", "Created"
	}
	f := newFlags(e, "relay destinations "+verb, "arus relay destinations "+verb+" NAME --kind K [--host H --port P --database D --user U --option K=V... | --dsn DSN] [--password-file F] [--file F] [flags]", destinationsAbout)
	df := addDestFlags(f)
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	var in relay.DestinationInput
	var id string
	if !create {
		ref, err := oneArg(f, "destination", rest)
		if err != nil {
			return err
		}
		d, err := findDestination(ctx, cl, ref)
		if err != nil {
			return relayErr("update destination", err)
		}
		in, id = inputOf(d), d.ID
	}
	if in, err = df.input(f, e, in); err != nil {
		return err
	}
	if create {
		switch {
		case len(rest) > 1:
			return f.fail("one destination at a time; got %q", rest)
		case len(rest) == 1:
			in.Name = rest[0]
		case in.Name == "":
			return f.fail("no name given; use arus relay destinations create NAME")
		}
		if in.Kind == "" {
			return f.fail("no kind given; use --kind postgres, mysql, sqlserver or sqlite")
		}
		if in.Password == "" && in.Kind != relay.KindSQLite {
			return f.fail("no password given; put it in a file named by --password-file, or in %s", passwordEnv)
		}
	}
	var d relay.Destination
	if create {
		d, err = cl.CreateDestination(ctx, in)
	} else {
		d, err = cl.UpdateDestination(ctx, id, in)
	}
	if err != nil {
		return relayErr(verb+" destination "+in.Name, err)
	}
	return c.done(e, d, "%s destination %s (id %s): the connection test passed.", did, d.Name, d.ID)
}

func destinationsTest(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay destinations test", "arus relay destinations test [DESTINATION] [--kind K --host H ... --password-file F] [--file F] [flags]", destinationsAbout)
	df := addDestFlags(f)
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	var res relay.TestResult
	var what string
	switch {
	case len(rest) > 1:
		return f.fail("one destination at a time; got %q", rest)
	case len(rest) == 1:
		d, err := findDestination(ctx, cl, rest[0])
		if err != nil {
			return relayErr("test destination", err)
		}
		what = "destination " + d.Name
		var in *relay.DestinationInput
		if !onlyConnFlags(setFlags(f)) {
			// Changed settings: the saved ones with the changes over them,
			// the stored password unless one is given.
			ni, err := df.input(f, e, inputOf(d))
			if err != nil {
				return err
			}
			in = &ni
			what += " with the changed settings"
		}
		res, err = cl.TestSavedDestination(ctx, d.ID, in)
		if err != nil {
			return relayErr("test "+what, err)
		}
	default:
		in, err := df.input(f, e, relay.DestinationInput{})
		if err != nil {
			return err
		}
		if in.Kind == "" {
			return f.fail("nothing to test; name a saved destination, or give its settings (--kind, --host, ... or --file)")
		}
		if in.Name == "" {
			// The name is not saved, but the server checks it as for a
			// destination to create.
			in.Name = "test"
		}
		what = "the connection"
		res, err = cl.TestDestination(ctx, in)
		if err != nil {
			return relayErr("test the connection", err)
		}
	}
	if c.format == "json" {
		if err := c.print(e, res, nil); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(e.stdout, "Connection OK: %s answered in %d ms.\n", what, res.ElapsedMS)
	} else {
		fmt.Fprintf(e.stdout, "Connection failed: %s\n", res.Error)
	}
	if !res.OK {
		// The answer above says why.
		return fmt.Errorf("test %s: the connection failed", what)
	}
	return nil
}

// onlyConnFlags reports whether the given flags only say which server to
// ask and how to print, not settings to test.
func onlyConnFlags(set map[string]bool) bool {
	for name := range set {
		if name != "server" && name != "api-key" && name != "format" {
			return false
		}
	}
	return true
}

func destinationsCatalog(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay destinations catalog", "arus relay destinations catalog DESTINATION [--table NAME] [flags]", destinationsAbout)
	table := f.String("table", "", "show only the table with this `name` (or schema.name)")
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	ref, err := oneArg(f, "destination", rest)
	if err != nil {
		return err
	}
	d, err := findDestination(ctx, cl, ref)
	if err != nil {
		return relayErr("read the catalogue", err)
	}
	tables, err := cl.Catalog(ctx, d.ID)
	if err != nil {
		return relayErr("read the catalogue of destination "+d.Name, err)
	}
	qualified := func(t relay.CatalogTable) string {
		if t.Schema == "" {
			return t.Name
		}
		return t.Schema + "." + t.Name
	}
	if *table != "" {
		tables = slices.DeleteFunc(tables, func(t relay.CatalogTable) bool { return t.Name != *table && qualified(t) != *table })
		if len(tables) == 0 {
			return fmt.Errorf("destination %s has no table %q: %w", d.Name, *table, relay.ErrNotFound)
		}
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return c.print(e, relay.Catalog{Tables: orEmpty(tables)}, func(w io.Writer) {
		fmt.Fprintln(w, "TABLE\tCOLUMN\tTYPE\tKEY\tNULLABLE\tDEFAULT\tGENERATED")
		for _, t := range tables {
			for _, col := range t.Columns {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", qualified(t), col.Name, col.Type, yes(slices.Contains(t.Key, col.Name)),
					yes(col.Nullable), yes(col.HasDefault), yes(col.Generated))
			}
		}
	})
}
