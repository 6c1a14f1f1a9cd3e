package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/gateapi"
	"github.com/arus-platform/arus/ticketing/gate"
)

const gateAbout = `
Operates the gate access-control service of a running server:

  arus gate show EVENT                      the event's gates, lists and keys
  arus gate counts EVENT                    people inside, by area and by gate
  arus gate flagged EVENT                   scans recorded although they conflict
  arus gate devices EVENT                   enrolled devices
  arus gate enrol EVENT --gate main --role steward --name "Lane 1"
                                            a one-time enrolment code for a device
  arus gate revoke EVENT DEVICE             revoke a device at once
  arus gate rotate EVENT                    a new signing key for new passes
  arus gate rebuild [EVENT]                 replay the log (or one event's passes) into the access list

Needs gate.read, or gate.manage for enrol, revoke, rotate and rebuild.`

func runGate(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "gate", gateAbout,
		action{"show", func(ctx context.Context, e *env, args []string) error {
			return gateGet(ctx, e, args, "show", "", nil)
		}},
		action{"counts", func(ctx context.Context, e *env, args []string) error {
			return gateGet(ctx, e, args, "counts", "/counts", printCounts)
		}},
		action{"flagged", func(ctx context.Context, e *env, args []string) error {
			return gateGet(ctx, e, args, "flagged", "/flagged", nil)
		}},
		action{"devices", func(ctx context.Context, e *env, args []string) error {
			return gateGet(ctx, e, args, "devices", "/devices", nil)
		}},
		action{"enrol", gateEnrol},
		action{"revoke", gateRevoke},
		action{"rotate", gateRotate},
		action{"rebuild", gateRebuild},
	)
}

func gateCaller(f *flags, s *serverFlags) (*api.Caller, error) {
	c, err := api.NewCaller(s.server, s.apiKey, nil)
	if err != nil {
		return nil, f.fail("--server %q is not a server URL; use http://host:port or https://host:port", s.server)
	}
	return c, nil
}

func eventPath(ev string) string { return "/api/v1/gate/events/" + url.PathEscape(ev) }

// gateGet prints what a read route answers: as JSON, or with table when
// given and --format table.
func gateGet(ctx context.Context, e *env, args []string, name, suffix string, table func(w io.Writer, body []byte) error) error {
	f := newFlags(e, "gate "+name, "arus gate "+name+" EVENT [flags]", gateAbout)
	format := "json"
	if table != nil {
		format = "table"
	}
	f.StringVar(&format, "format", format, "output `format`: table or json")
	s, ev, err := gateArgs(f, args)
	if err != nil {
		return err
	}
	if format != "json" && (format != "table" || table == nil) {
		return f.fail("--format %q: use json%s", format, map[bool]string{true: " or table", false: ""}[table != nil])
	}
	c, err := gateCaller(f, s)
	if err != nil {
		return err
	}
	var body json.RawMessage
	if err := c.Do(ctx, "GET", eventPath(ev)+suffix, nil, nil, &body); err != nil {
		return fmt.Errorf("gate %s %s: %w", name, ev, err)
	}
	if format == "table" {
		return table(e.stdout, body)
	}
	return printJSON(e.stdout, body)
}

// gateArgs registers the server flags and parses the command line of a
// gate command on one event, returning the server flags and the event.
func gateArgs(f *flags, args []string) (*serverFlags, string, error) {
	s, rest, err := serverArgs(f, args)
	if err != nil {
		return nil, "", err
	}
	ev, err := gateEvent(f, rest)
	return s, ev, err
}

func gateEvent(f *flags, rest []string) (string, error) {
	switch {
	case len(rest) == 0:
		return "", f.fail("no event given; name the event id")
	case len(rest) > 1:
		return "", f.fail("one event at a time; got %q", rest)
	}
	return rest[0], nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printCounts(w io.Writer, body []byte) error {
	var c gate.Counts
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("gate counts: the server's answer: %w", err)
	}
	fmt.Fprintf(w, "inside\t%d\nscans\t%d (flagged %d, refused %d)\n", c.Inside, c.Scans, c.Flagged, c.Refused)
	areas := make([]string, 0, len(c.InsideByArea))
	for a := range c.InsideByArea {
		areas = append(areas, a)
	}
	sort.Strings(areas)
	for _, a := range areas {
		fmt.Fprintf(w, "area %s\t%d inside\n", a, c.InsideByArea[a])
	}
	gates := make([]string, 0, len(c.ByGate))
	for g := range c.ByGate {
		gates = append(gates, g)
	}
	sort.Strings(gates)
	for _, g := range gates {
		fmt.Fprintf(w, "gate %s\t%d in, %d out\n", g, c.ByGate[g].Entries, c.ByGate[g].Exits)
	}
	return nil
}

func gateEnrol(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "gate enrol", "arus gate enrol EVENT --gate GATE --role steward|supervisor --name NAME [flags]", gateAbout)
	var b gateapi.EnrolmentBody
	f.StringVar(&b.GateID, "gate", "main", "the `gate` the device scans at")
	f.StringVar(&b.Role, "role", "steward", "the device's `role`: steward (scans) or supervisor (also searches and overrides)")
	f.StringVar(&b.Name, "name", "", "the device's `name`, such as a lane")
	s, ev, err := gateArgs(f, args)
	if err != nil {
		return err
	}
	if b.Name == "" {
		return f.fail("--name is required")
	}
	c, err := gateCaller(f, s)
	if err != nil {
		return err
	}
	var out gateapi.EnrolmentAnswer
	if err := c.Do(ctx, "POST", eventPath(ev)+"/enrolments", nil, b, &out); err != nil {
		return fmt.Errorf("gate enrol %s: %w", ev, err)
	}
	fmt.Fprintf(e.stderr, "enrolment code for %s at gate %s, usable once until %s:\n", b.Role, b.GateID, out.Expires.Format("2006-01-02 15:04 MST"))
	_, err = fmt.Fprintln(e.stdout, out.Code)
	return err
}

func gateRevoke(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "gate revoke", "arus gate revoke EVENT DEVICE [flags]", gateAbout)
	s, rest, err := serverArgs(f, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return f.fail("give the event and the device id (see arus gate devices EVENT)")
	}
	c, err := gateCaller(f, s)
	if err != nil {
		return err
	}
	if err := c.Do(ctx, "DELETE", eventPath(rest[0])+"/devices/"+url.PathEscape(rest[1]), nil, nil, nil); err != nil {
		return fmt.Errorf("gate revoke %s %s: %w", rest[0], rest[1], err)
	}
	_, err = fmt.Fprintf(e.stdout, "device %s revoked\n", rest[1])
	return err
}

func gateRotate(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "gate rotate", "arus gate rotate EVENT [flags]", gateAbout)
	s, ev, err := gateArgs(f, args)
	if err != nil {
		return err
	}
	c, err := gateCaller(f, s)
	if err != nil {
		return err
	}
	var k gate.PublicKey
	if err := c.Do(ctx, "POST", eventPath(ev)+"/keys", nil, nil, &k); err != nil {
		return fmt.Errorf("gate rotate %s: %w", ev, err)
	}
	_, err = fmt.Fprintf(e.stdout, "key %d is active: %s\n", k.KeyID, k.PublicKey)
	return err
}

func gateRebuild(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "gate rebuild", "arus gate rebuild [EVENT] [flags]", gateAbout)
	s, rest, err := serverArgs(f, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return f.fail("one event at a time; got %q", rest)
	}
	c, err := gateCaller(f, s)
	if err != nil {
		return err
	}
	path := "/api/v1/gate/rebuild"
	if len(rest) == 1 {
		path = eventPath(rest[0]) + "/rebuild"
	}
	var out struct {
		Events int `json:"events"`
	}
	if err := c.Do(ctx, "POST", path, nil, nil, &out); err != nil {
		return fmt.Errorf("gate rebuild: %w", err)
	}
	_, err = fmt.Fprintf(e.stdout, "access list rebuilt from %d events\n", out.Events)
	return err
}
