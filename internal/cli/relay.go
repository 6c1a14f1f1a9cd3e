package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
)

const relayAbout = `
Manages the relay of a running server through its admin API: the
applications that post records, the datasets they post into, the
destination databases and the routes from datasets to tables; shows the
routes' delivery status and the delivery log.

  arus relay datasets create cars --key-field id
  arus relay applications create dealer-app --dataset cars
  arus relay destinations create dealer --kind postgres --host db --database shop \
      --user relay --password-file pw.txt
  arus relay destinations catalog dealer
  arus relay routes create --file route.json
  arus relay routes preview dealer-cars --record '{"id":1,"car_name":"Avanza"}'
  arus relay status
  arus relay deliveries --dataset cars --status failed

Applications, destinations and routes are named by their name or id.
Create and update take flags for the common fields, or --file with the JSON
body of the admin API (- reads standard input); update starts from what is
saved and changes what the file and the flags give. Passwords come from
--password-file or ARUS_DESTINATION_PASSWORD, never from a flag's value.
Output is a table, or JSON with --format json. Reads need an API key with
relay.read, changes relay.write. The command talks to the server at
` + defaultServer + `; see --server.`

func runRelay(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "relay", relayAbout,
		action{"applications", relayApplications},
		action{"datasets", relayDatasets},
		action{"destinations", relayDestinations},
		action{"routes", relayRoutes},
		action{"status", relayStatus},
		action{"deliveries", relayDeliveries},
	)
}

// relayConn holds the flags every relay command has: the server, the key
// and the output format.
type relayConn struct {
	*serverFlags
	format string
}

func addRelayConn(f *flags) *relayConn {
	c := &relayConn{serverFlags: addServer(f)}
	f.StringVar(&c.format, "format", "table", "output `format`: table or json")
	return c
}

// parse parses the command line and returns the positional arguments and
// a client of the server.
func (c *relayConn) parse(f *flags, args []string) ([]string, *relay.Client, error) {
	rest, err := f.parse(args)
	if err != nil {
		return nil, nil, err
	}
	if c.format != "table" && c.format != "json" {
		return nil, nil, f.fail("--format %q: use table or json", c.format)
	}
	cl, err := relay.NewClient(c.server, c.apiKey)
	if err != nil {
		return nil, nil, f.fail("--server %q is not a server URL; use http://host:port or https://host:port", c.server)
	}
	return rest, cl, nil
}

// print writes v as indented JSON with --format json, else the table.
func (c *relayConn) print(e *env, v any, table func(w io.Writer)) error {
	if c.format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// done says what a change did: on stdout as a table's answer, on stderr
// with --format json, whose stdout is the JSON alone.
func (c *relayConn) done(e *env, v any, format string, args ...any) error {
	if c.format == "json" {
		fmt.Fprintf(e.stderr, format+"\n", args...)
		return c.print(e, v, nil)
	}
	_, err := fmt.Fprintf(e.stdout, format+"\n", args...)
	return err
}

// orEmpty makes a nil list print as [] in JSON.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// oneArg returns the one object the arguments name.
func oneArg(f *flags, what string, rest []string) (string, error) {
	switch {
	case len(rest) == 0:
		return "", f.fail("no %s given; give its name or id (see arus relay %ss list)", what, what)
	case len(rest) > 1:
		return "", f.fail("one %s at a time; got %q", what, rest)
	case strings.TrimSpace(rest[0]) == "":
		return "", f.fail("the %s given is empty; give its name or id", what)
	}
	return rest[0], nil
}

// noArgs refuses positional arguments.
func noArgs(f *flags, rest []string) error {
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	return nil
}

// setFlags returns the names of the flags given on the command line (or
// by their environment twins).
func setFlags(f *flags) map[string]bool {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// find returns the object whose id or name is ref: by id first, then by
// name among the listed ones.
func find[T any](ctx context.Context, kind, ref string, get func(context.Context, string) (T, error),
	list func(context.Context) ([]T, error), name func(T) string) (T, error) {
	v, err := get(ctx, ref)
	if !errors.Is(err, relay.ErrNotFound) {
		return v, err
	}
	all, err := list(ctx)
	if err != nil {
		return v, err
	}
	for _, o := range all {
		if name(o) == ref {
			return o, nil
		}
	}
	return v, fmt.Errorf("no %s has the name or id %q (see arus relay %ss list): %w", kind, ref, kind, relay.ErrNotFound)
}

func findApplication(ctx context.Context, c *relay.Client, ref string) (relay.Application, error) {
	return find(ctx, "application", ref, c.Application, c.Applications, func(a relay.Application) string { return a.Name })
}

func findDestination(ctx context.Context, c *relay.Client, ref string) (relay.Destination, error) {
	return find(ctx, "destination", ref, c.Destination, c.Destinations, func(d relay.Destination) string { return d.Name })
}

func findRoute(ctx context.Context, c *relay.Client, ref string) (relay.Route, error) {
	return find(ctx, "route", ref, c.Route, c.Routes, func(r relay.Route) string { return r.Name })
}

// stdinUse makes sure at most one flag reads standard input.
type stdinUse struct{ by string }

func (s *stdinUse) claim(f *flags, flagName, value string) error {
	if value != "-" {
		return nil
	}
	if s.by != "" {
		return f.fail("%s - and %s - both read standard input; give one of them a file", s.by, flagName)
	}
	s.by = flagName
	return nil
}

// readInput reads the file a flag names ("-": standard input).
func readInput(f *flags, e *env, flagName, file string) ([]byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(e.stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, f.fail("%s: %v", flagName, err)
	}
	return b, nil
}

// readJSON reads the JSON object of --file into v, over what v holds:
// fields the file gives replace those of v. Unknown fields are refused.
func readJSON(f *flags, e *env, file string, v any) error {
	b, err := readInput(f, e, "--file", file)
	if err != nil {
		return err
	}
	name := file
	if file == "-" {
		name = "(standard input)"
	}
	if err := decodeStrict(b, v); err != nil {
		return f.fail("--file %s: %v", name, err)
	}
	return nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, and says where a syntax error is.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(b[:se.Offset], []byte("\n"))
		col := int(se.Offset) - bytes.LastIndexByte(b[:se.Offset], '\n') - 1
		return fmt.Errorf("not valid JSON at line %d, column %d: %v", line, col, se)
	case errors.Is(err, io.EOF):
		return errors.New("empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not valid JSON: it ends too early")
	case err != nil:
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value; want one object")
	}
	return nil
}

// relayErr adds what the command was doing to a failure. A problem the
// server answered with field errors lists them, one a line.
func relayErr(what string, err error) error {
	var re *api.ResponseError
	if !errors.As(err, &re) || len(re.Problem.Errors) == 0 {
		return fmt.Errorf("%s: %w", what, err)
	}
	detail := moreFields.ReplaceAllString(re.Problem.Detail, "")
	fe := re.Problem.Errors
	switch {
	case len(fe) == 1 && (detail == "" || strings.HasPrefix(detail, fe[0].Name+": ")):
		return &listedError{fmt.Sprintf("%s: %s: %s", what, fe[0].Name, fe[0].Message), err}
	case len(fe) == 1 && strings.Contains(detail, fe[0].Message):
		return &listedError{fmt.Sprintf("%s: %s", what, detail), err}
	case strings.HasPrefix(detail, fe[0].Name+": "):
		// The detail is the first field error; the list says it.
		detail = ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", what, cmp.Or(detail, strings.ToLower(re.Problem.Title), "refused"))
	for _, f := range fe {
		fmt.Fprintf(&b, "\n  %s: %s", f.Name, f.Message)
	}
	return &listedError{b.String(), err}
}

// moreFields is the note of a problem's detail that more field errors
// follow; the command lists them all.
var moreFields = regexp.MustCompile(` \(and (\d+ )?more; see errors\)$`)

// listedError is a server's problem told with its field errors listed.
type listedError struct {
	msg string
	err error
}

func (e *listedError) Error() string { return e.msg }
func (e *listedError) Unwrap() error { return e.err }

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// relayStatus prints every route's guarantee, state and lag.
func relayStatus(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay status", "arus relay status [flags]", `
Shows how the delivery engine of the server that answers runs each route:
its guarantee (exactly-once, or at-least-once where the destination
account may not keep the route's positions), its state, and its lag, the
records of the dataset's topic it has yet to deliver.`)
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	routes, err := cl.Status(ctx)
	if err != nil {
		return relayErr("relay status", err)
	}
	return c.print(e, orEmpty(routes), func(w io.Writer) {
		fmt.Fprintln(w, "ROUTE\tGUARANTEE\tSTATE\tLAG\tSINCE\tLAST ERROR")
		for _, r := range routes {
			lag := "unknown"
			if r.Lag >= 0 {
				lag = strconv.FormatInt(r.Lag, 10)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Route, r.Guarantee, r.State, lag, timeText(r.Since), oneLine(r.LastError, 120))
		}
	})
}

// relayDeliveries prints a page of the delivery log.
func relayDeliveries(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay deliveries", "arus relay deliveries [--dataset D] [--application A] [--route R] [--destination D] [--status S] [--since T] [--until T] [--limit N] [--after CURSOR] [flags]", `
Shows the delivery log, newest first: what became of each record on each
route (delivered, skipped by the route's filter, failed, dead_lettered),
the attempts and the error. When there are more entries than --limit, the
command prints the --after value that shows the next page.`)
	var q deliverylog.Query
	f.StringVar(&q.Dataset, "dataset", "", "only records of this `dataset`")
	f.StringVar(&q.Application, "application", "", "only records posted by this application (its `name`)")
	route := f.String("route", "", "only deliveries on this `route` (name or id)")
	dest := f.String("destination", "", "only deliveries into this `destination` (name or id)")
	status := f.String("status", "", "only entries with this `status`: delivered, skipped, failed or dead_lettered")
	f.StringVar(&q.RecordID, "record", "", "only entries of the record with this `id`")
	since := f.String("since", "", "only entries at or after `time`: RFC 3339, or local 2025-01-31T15:04:05 or 2025-01-31")
	until := f.String("until", "", "only entries before `time`")
	f.IntVar(&q.Limit, "limit", 100, "show at most `n` entries, 1 to 1000")
	f.StringVar(&q.After, "after", "", "show the page after this `cursor`, as a previous page printed it")
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	q.Status = deliverylog.Status(*status)
	if *status != "" && !q.Status.Valid() {
		return f.fail("--status %q: use delivered, skipped, failed or dead_lettered", *status)
	}
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"--since", *since, &q.Since}, {"--until", *until, &q.Until}} {
		if t.v == "" {
			continue
		}
		if *t.dst, err = parseDateTime(t.v); err != nil {
			return f.fail("%s: %v", t.name, err)
		}
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return f.fail("--limit %d is out of range; use 1 to 1000", q.Limit)
	}
	if *route != "" {
		r, err := findRoute(ctx, cl, *route)
		if err != nil {
			return relayErr("relay deliveries --route", err)
		}
		q.RouteID = r.ID
	}
	if *dest != "" {
		d, err := findDestination(ctx, cl, *dest)
		if err != nil {
			return relayErr("relay deliveries --destination", err)
		}
		q.DestinationID = d.ID
	}
	page, err := cl.Deliveries(ctx, q)
	if err != nil {
		return relayErr("relay deliveries", err)
	}
	page.Entries = orEmpty(page.Entries)
	err = c.print(e, page, func(w io.Writer) {
		fmt.Fprintln(w, "TIME\tSTATUS\tDATASET\tROUTE\tDESTINATION\tRECORD\tATTEMPTS\tERROR")
		for _, en := range page.Entries {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", timeText(en.Time), en.Status, en.Dataset, en.Route,
				en.Destination, en.RecordID, en.Attempts, oneLine(en.Error, 120))
		}
	})
	if err == nil && page.Next != "" && c.format == "table" {
		fmt.Fprintf(e.stderr, "More entries: add --after %s\n", page.Next)
	}
	return err
}
