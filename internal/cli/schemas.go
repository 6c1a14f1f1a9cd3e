package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/arus-platform/arus/schema"
)

const schemasAbout = `
Manages the schema registry of a running server:

  arus schemas list
  arus schemas versions orders-value
  arus schemas get orders-value              the latest version, as JSON
  arus schemas get orders-value 2
  arus schemas get --id 12
  arus schemas register orders-value --file order.json
  arus schemas register --topic orders --file -      the schema from stdin
  arus schemas check orders-value --file order.json
  arus schemas mode orders-value             show the subject's mode
  arus schemas mode orders-value FULL        set it
  arus schemas mode orders-value --unset     back to the registry default
  arus schemas mode --default NONE           set the registry default
  arus schemas delete orders-value 3         one version; without it, all

A subject is given as the argument, or with --topic for the subject
<topic>-value. Modes are NONE, BACKWARD, FORWARD, FULL and their
_TRANSITIVE variants. check exits with status 1 when the schema is not
compatible, so it fits in CI. Deletes are soft: records keep their schema
ids, and "get --id" still finds a deleted version. The command talks to the
server at ` + defaultServer + `; see --server.`

func runSchemas(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "schemas", schemasAbout,
		action{"list", schemasList},
		action{"versions", schemasVersions},
		action{"get", schemasGet},
		action{"register", schemasRegister},
		action{"check", schemasCheck},
		action{"mode", schemasMode},
		action{"delete", schemasDelete},
	)
}

// schemasSubject returns the subject named by --topic or by the first
// argument, and the arguments after it.
func schemasSubject(f *flags, topic string, rest []string) (string, []string, error) {
	subject := ""
	switch {
	case topic != "":
		subject = schema.TopicValue(topic)
	case len(rest) > 0:
		subject, rest = rest[0], rest[1:]
	default:
		return "", nil, f.fail("no subject given; name it, or use --topic NAME for the subject NAME-value")
	}
	if err := schema.ValidateSubject(subject); err != nil {
		return "", nil, f.fail("%s", strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": "))
	}
	return subject, rest, nil
}

// subjectArgs parses the command line of a command on one subject, named
// by --topic or by the first argument, and returns the subject, the
// arguments after it and a client of the server the flags name.
func subjectArgs(f *flags, topic *string, args []string) (string, []string, *schema.Client, error) {
	s := addServer(f)
	rest, err := f.parse(args)
	if err != nil {
		return "", nil, nil, err
	}
	subject, rest, err := schemasSubject(f, *topic, rest)
	if err != nil {
		return "", nil, nil, err
	}
	c, err := schema.NewClient(s.server, s.apiKey)
	if err != nil {
		return "", nil, nil, err
	}
	return subject, rest, c, nil
}

// schemasVersion reads an optional version argument: a number or
// "latest".
func schemasVersion(f *flags, rest []string) (int, error) {
	switch {
	case len(rest) == 0:
		return schema.Latest, nil
	case len(rest) > 1:
		return 0, f.fail("unexpected argument %q", rest[1])
	case rest[0] == "latest":
		return schema.Latest, nil
	}
	n, err := strconv.Atoi(rest[0])
	if err != nil || n < 1 {
		return 0, f.fail("%q is not a version; use a number from 1 or latest", rest[0])
	}
	return n, nil
}

func schemasList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas list", "arus schemas list [--deleted] [flags]", schemasAbout)
	deleted := f.Bool("deleted", false, "also list subjects whose versions were all deleted")
	s := addServer(f)
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	c, err := schema.NewClient(s.server, s.apiKey)
	if err != nil {
		return err
	}
	subjects, err := c.Subjects(ctx, *deleted)
	if err != nil {
		return fmt.Errorf("list subjects: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tVERSIONS\tLATEST\tID\tMODE")
	for _, sub := range subjects {
		mode := string(sub.Mode)
		if !sub.ModeSet {
			mode += " (default)"
		}
		latest, id := strconv.Itoa(sub.Latest), strconv.FormatInt(sub.LatestID, 10)
		if sub.Deleted {
			latest, id = "deleted", "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", sub.Name, sub.Versions, latest, id, mode)
	}
	return tw.Flush()
}

func schemasVersions(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas versions", "arus schemas versions SUBJECT|--topic NAME [--deleted] [flags]", schemasAbout)
	topic := f.String("topic", "", "the `topic` whose subject <topic>-value to list")
	deleted := f.Bool("deleted", false, "also list deleted versions")
	subject, rest, c, err := subjectArgs(f, topic, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	versions, err := c.Versions(ctx, subject, *deleted)
	if err != nil {
		return fmt.Errorf("list versions of %s: %w", subject, err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tID\tCREATED\tSTATE")
	for _, v := range versions {
		state := "live"
		if v.Deleted {
			state = "deleted"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", v.Version, v.ID, v.CreatedAt.Format(time.RFC3339), state)
	}
	return tw.Flush()
}

func schemasGet(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas get", "arus schemas get SUBJECT|--topic NAME [VERSION] | --id ID [flags]", schemasAbout)
	topic := f.String("topic", "", "the `topic` whose subject <topic>-value to read")
	id := f.Int64("id", 0, "the schema `id` to read, as records carry it in their arus-schema-id header")
	s := addServer(f)
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	var get func(context.Context, *schema.Client) (schema.Version, error)
	if *id != 0 {
		if *id < 0 {
			return f.fail("--id %d: ids are whole numbers from 1", *id)
		}
		if *topic != "" || len(rest) > 0 {
			return f.fail("--id names the schema alone; give no subject, topic or version with it")
		}
		get = func(ctx context.Context, c *schema.Client) (schema.Version, error) { return c.ByID(ctx, *id) }
	} else {
		subject, rest, err := schemasSubject(f, *topic, rest)
		if err != nil {
			return err
		}
		version, err := schemasVersion(f, rest)
		if err != nil {
			return err
		}
		get = func(ctx context.Context, c *schema.Client) (schema.Version, error) {
			return c.Version(ctx, subject, version)
		}
	}
	c, err := schema.NewClient(s.server, s.apiKey)
	if err != nil {
		return err
	}
	v, err := get(ctx, c)
	if err != nil {
		return fmt.Errorf("get schema: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, v.Schema, "", "  "); err != nil {
		return fmt.Errorf("get schema: the server sent a document that is not JSON: %w", err)
	}
	out.WriteByte('\n')
	if _, err := e.stdout.Write(out.Bytes()); err != nil {
		return err
	}
	state := ""
	if v.Deleted {
		state = ", deleted"
	}
	fmt.Fprintf(e.stderr, "%s version %d (id %d%s)\n", v.Subject, v.Version, v.ID, state)
	return nil
}

// schemasDocument reads the schema document named by --file ("-" for
// standard input).
func schemasDocument(f *flags, e *env, file string) ([]byte, error) {
	var doc []byte
	var err error
	switch file {
	case "":
		return nil, f.fail("no schema given; use --file PATH, or --file - to read standard input")
	case "-":
		doc, err = io.ReadAll(e.stdin)
	default:
		doc, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	if !json.Valid(doc) {
		name := file
		if file == "-" {
			name = "standard input"
		}
		return nil, fmt.Errorf("read schema: %s is not a JSON document", name)
	}
	return doc, nil
}

func schemasRegister(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas register", "arus schemas register SUBJECT|--topic NAME --file PATH|- [flags]", schemasAbout)
	topic := f.String("topic", "", "register under the subject <topic>-value of this `topic`")
	file := f.String("file", "", "`path` of the JSON Schema document; - reads standard input")
	subject, rest, c, err := subjectArgs(f, topic, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	doc, err := schemasDocument(f, e, *file)
	if err != nil {
		return err
	}
	v, created, err := c.Register(ctx, subject, doc)
	if err != nil {
		var ce *schema.ClientError
		if errors.As(err, &ce) && len(ce.Reasons()) > 0 {
			fmt.Fprintf(e.stderr, "Refused:\n")
			for _, r := range ce.Reasons() {
				fmt.Fprintf(e.stderr, "  %s\n", r)
			}
		}
		return fmt.Errorf("register a version of %s: %w", subject, err)
	}
	if !created {
		fmt.Fprintf(e.stdout, "%s already has this schema as version %d (id %d).\n", v.Subject, v.Version, v.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "Registered %s version %d (id %d).\n", v.Subject, v.Version, v.ID)
	return nil
}

func schemasCheck(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas check", "arus schemas check SUBJECT|--topic NAME --file PATH|- [flags]", schemasAbout)
	topic := f.String("topic", "", "check against the subject <topic>-value of this `topic`")
	file := f.String("file", "", "`path` of the JSON Schema document; - reads standard input")
	subject, rest, c, err := subjectArgs(f, topic, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	doc, err := schemasDocument(f, e, *file)
	if err != nil {
		return err
	}
	res, err := c.Check(ctx, subject, doc)
	if err != nil {
		return fmt.Errorf("check a schema for %s: %w", subject, err)
	}
	switch {
	case res.Existing != nil:
		fmt.Fprintf(e.stdout, "Compatible: %s has this schema already, as version %d (id %d).\n", subject, res.Existing.Version, res.Existing.ID)
		return nil
	case res.Compatible && len(res.Versions) == 0:
		fmt.Fprintf(e.stdout, "Compatible: %s under %s has no version to compare with.\n", subject, res.Mode)
		return nil
	case res.Compatible:
		fmt.Fprintf(e.stdout, "Compatible with %s under %s (compared with version %s).\n", subject, res.Mode, schemasJoin(res.Versions))
		return nil
	}
	fmt.Fprintf(e.stdout, "Not compatible with %s under %s (compared with version %s):\n", subject, res.Mode, schemasJoin(res.Versions))
	for _, p := range res.Problems {
		fmt.Fprintf(e.stdout, "  %s\n", p)
	}
	return fmt.Errorf("the schema is not compatible with %s: %d problem(s)", subject, len(res.Problems))
}

func schemasJoin(versions []int) string {
	s := make([]string, len(versions))
	for i, v := range versions {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

func schemasMode(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas mode", "arus schemas mode SUBJECT|--topic NAME [MODE|--unset] | --default [MODE] [flags]", schemasAbout)
	topic := f.String("topic", "", "the `topic` whose subject <topic>-value to show or set")
	def := f.Bool("default", false, "show or set the registry default, the mode of subjects without their own")
	unset := f.Bool("unset", false, "return the subject to the registry default")
	s := addServer(f)
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	var subject string
	if !*def {
		if subject, rest, err = schemasSubject(f, *topic, rest); err != nil {
			return err
		}
	} else if *topic != "" || *unset {
		return f.fail("--default sets the registry default; give no --topic or --unset with it")
	}
	var mode schema.Mode
	switch {
	case len(rest) > 1:
		return f.fail("unexpected argument %q", rest[1])
	case len(rest) == 1 && *unset:
		return f.fail("give a mode or --unset, not both")
	case len(rest) == 1:
		if mode, err = schema.ParseMode(rest[0]); err != nil {
			return f.fail("%s", strings.TrimPrefix(err.Error(), schema.ErrInvalid.Error()+": "))
		}
	}
	c, err := schema.NewClient(s.server, s.apiKey)
	if err != nil {
		return err
	}
	if *def {
		if mode != "" {
			if err := c.SetDefaultMode(ctx, mode); err != nil {
				return fmt.Errorf("set the default mode: %w", err)
			}
		}
		m, err := c.DefaultMode(ctx)
		if err != nil {
			return fmt.Errorf("get the default mode: %w", err)
		}
		fmt.Fprintf(e.stdout, "Default mode: %s\n", m)
		return nil
	}
	if mode != "" || *unset {
		if err := c.SetMode(ctx, subject, mode); err != nil {
			return fmt.Errorf("set the mode of %s: %w", subject, err)
		}
	}
	m, set, err := c.Mode(ctx, subject)
	if err != nil {
		return fmt.Errorf("get the mode of %s: %w", subject, err)
	}
	from := ""
	if !set {
		from = " (the registry default)"
	}
	fmt.Fprintf(e.stdout, "%s: %s%s\n", subject, m, from)
	return nil
}

func schemasDelete(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "schemas delete", "arus schemas delete SUBJECT|--topic NAME [VERSION] [flags]", schemasAbout)
	topic := f.String("topic", "", "the `topic` whose subject <topic>-value to delete from")
	subject, rest, c, err := subjectArgs(f, topic, args)
	if err != nil {
		return err
	}
	whole := len(rest) == 0
	version, err := schemasVersion(f, rest)
	if err != nil {
		return err
	}
	if whole {
		versions, err := c.DeleteSubject(ctx, subject)
		if err != nil {
			return fmt.Errorf("delete subject %s: %w", subject, err)
		}
		fmt.Fprintf(e.stdout, "Deleted subject %s (version %s).\n", subject, schemasJoin(versions))
		return nil
	}
	v, err := c.DeleteVersion(ctx, subject, version)
	if err != nil {
		return fmt.Errorf("delete a version of %s: %w", subject, err)
	}
	fmt.Fprintf(e.stdout, "Deleted %s version %d (id %d).\n", subject, v.Version, v.ID)
	return nil
}
