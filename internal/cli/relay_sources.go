package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/relay"
)

// This file holds the relay's sources: applications and datasets.

const applicationsAbout = `
Manages the applications that post records to the relay, each with its own
API key, its datasets and its rate limit:

  arus relay applications list
  arus relay applications create dealer-app --dataset cars --rate-limit 100
  arus relay applications show dealer-app
  arus relay applications limits dealer-app --rate-limit 500 --burst 1000
  arus relay applications rotate-key dealer-app
  arus relay applications delete dealer-app

create and rotate-key print the API key once: it cannot be read again.`

func relayApplications(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "relay applications", applicationsAbout,
		action{"list", applications.listCmd},
		action{"create", applicationsCreate},
		action{"show", applications.showCmd},
		action{"limits", applicationsLimits},
		action{"rotate-key", applicationsRotateKey},
		action{"delete", applications.deleteCmd},
	)
}

var applications = relayKind[relay.Application]{
	name: "application", about: applicationsAbout,
	list:   func(ctx context.Context, cl *relay.Client) ([]relay.Application, error) { return cl.Applications(ctx) },
	find:   findApplication,
	nameOf: func(a relay.Application) string { return a.Name },
	table: func(_ context.Context, _ *relay.Client, w io.Writer, apps []relay.Application) {
		fmt.Fprintln(w, "NAME\tID\tDATASETS\tRATE LIMIT\tCREATED")
		for _, a := range apps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.ID, strings.Join(a.Datasets, ","), rateText(a), timeText(a.CreatedAt))
		}
	},
	show: func(_ context.Context, e *env, c *relayConn, _ *relay.Client, a relay.Application) error {
		return c.print(e, a, func(w io.Writer) { printApplication(w, a) })
	},
	remove: func(ctx context.Context, cl *relay.Client, a relay.Application) (string, error) {
		return "Deleted application " + a.Name + "; its API key no longer works.", cl.DeleteApplication(ctx, a.ID)
	},
}

func rateText(a relay.Application) string {
	if a.RateLimit <= 0 {
		return "none"
	}
	return fmt.Sprintf("%s/s, burst %d", strconv.FormatFloat(a.RateLimit, 'f', -1, 64), a.Burst)
}

func printApplication(w io.Writer, a relay.Application) {
	fmt.Fprintf(w, "Name:\t%s\n", a.Name)
	fmt.Fprintf(w, "ID:\t%s\n", a.ID)
	fmt.Fprintf(w, "Datasets:\t%s\n", strings.Join(a.Datasets, ", "))
	fmt.Fprintf(w, "Rate limit:\t%s\n", rateText(a))
	fmt.Fprintf(w, "API key id:\t%s\n", a.APIKeyID)
	fmt.Fprintf(w, "Created:\t%s\n", timeText(a.CreatedAt))
	fmt.Fprintf(w, "Updated:\t%s\n", timeText(a.UpdatedAt))
}

// printKey shows an application's new key, once.
func printKey(e *env, c *relayConn, a relay.ApplicationWithKey, did string) error {
	const never = "The key is shown only this once; it will not be shown again. Store it now."
	if c.format == "json" {
		fmt.Fprintln(e.stderr, never)
		return c.print(e, a, nil)
	}
	fmt.Fprintf(e.stdout, "%s application %s (id %s).\nAPI key: %s\n%s\n", did, a.Name, a.ID, a.APIKey, never)
	return nil
}

func applicationsCreate(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay applications create", "arus relay applications create NAME --dataset D... [--rate-limit N] [--burst N] | --file F [flags]", applicationsAbout)
	datasets := &listFlag{split: true}
	f.Var(datasets, "dataset", "a `dataset` the application may post into (repeatable, or comma-separated)")
	rate := f.Float64("rate-limit", 0, "records per `second` the application may post; 0 is no limit")
	burst := f.Int("burst", 0, "records the application may post at once (default: the rate limit)")
	file := f.String("file", "", "`path` of the JSON body {\"name\", \"datasets\", \"rate_limit\", \"burst\"}; - reads standard input")
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	var in relay.NewApplication
	if *file != "" {
		if err := readJSON(f, e, *file, &in); err != nil {
			return err
		}
	}
	switch {
	case len(rest) > 1:
		return f.fail("one application at a time; got %q", rest)
	case len(rest) == 1:
		in.Name = rest[0]
	case in.Name == "":
		return f.fail("no name given; use arus relay applications create NAME")
	}
	set := setFlags(f)
	if set["dataset"] {
		in.Datasets = datasets.values
	}
	if set["rate-limit"] {
		in.RateLimit = *rate
	}
	if set["burst"] {
		in.Burst = *burst
	}
	if len(in.Datasets) == 0 {
		return f.fail("no dataset given; use --dataset NAME, once for each dataset the application posts into")
	}
	a, err := cl.CreateApplication(ctx, in)
	if err != nil {
		return relayErr("create application "+in.Name, err)
	}
	return printKey(e, c, a, "Created")
}

func applicationsLimits(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay applications limits", "arus relay applications limits APPLICATION [--rate-limit N] [--burst N] [flags]", applicationsAbout)
	rate := f.Float64("rate-limit", 0, "records per `second` the application may post; 0 is no limit")
	burst := f.Int("burst", 0, "records the application may post at once (0 with a rate limit: the rate limit)")
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	ref, err := oneArg(f, "application", rest)
	if err != nil {
		return err
	}
	set := setFlags(f)
	if !set["rate-limit"] && !set["burst"] {
		return f.fail("no limit given; use --rate-limit N, --burst N or both")
	}
	a, err := findApplication(ctx, cl, ref)
	if err != nil {
		return relayErr("set limits", err)
	}
	l := relay.ApplicationLimits{RateLimit: a.RateLimit, Burst: a.Burst}
	if set["rate-limit"] {
		l.RateLimit = *rate
	}
	if set["burst"] {
		l.Burst = *burst
	}
	a, err = cl.UpdateApplicationLimits(ctx, a.ID, l)
	if err != nil {
		return relayErr("set limits of application "+a.Name, err)
	}
	return c.done(e, a, "Application %s: rate limit %s.", a.Name, rateText(a))
}

func applicationsRotateKey(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "relay applications rotate-key", "arus relay applications rotate-key APPLICATION [flags]", applicationsAbout)
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	ref, err := oneArg(f, "application", rest)
	if err != nil {
		return err
	}
	a, err := findApplication(ctx, cl, ref)
	if err != nil {
		return relayErr("rotate key", err)
	}
	k, err := cl.RotateApplicationKey(ctx, a.ID)
	if err != nil {
		return relayErr("rotate the key of application "+a.Name, err)
	}
	return printKey(e, c, k, "New key for")
}

const datasetsAbout = `
Manages datasets: the named kinds of record applications post, each kept
in its topic (relay.<name> by default), with its key fields and an optional
JSON Schema every record must match:

  arus relay datasets list
  arus relay datasets create cars --key-field id --schema-file car.schema.json
  arus relay datasets show cars
  arus relay datasets update cars --key-field id,region
  arus relay datasets delete cars

A dataset used by routes or applications cannot be deleted; its topic and
records stay when it is.`

func relayDatasets(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "relay datasets", datasetsAbout,
		action{"list", datasets.listCmd},
		action{"create", func(ctx context.Context, e *env, args []string) error { return datasetsSave(ctx, e, args, true) }},
		action{"show", datasets.showCmd},
		action{"update", func(ctx context.Context, e *env, args []string) error { return datasetsSave(ctx, e, args, false) }},
		action{"delete", datasets.deleteCmd},
	)
}

// Datasets are named by their name alone.
var datasets = relayKind[relay.Dataset]{
	name: "dataset", about: datasetsAbout,
	list: func(ctx context.Context, cl *relay.Client) ([]relay.Dataset, error) { return cl.Datasets(ctx) },
	find: func(ctx context.Context, cl *relay.Client, name string) (relay.Dataset, error) {
		return cl.Dataset(ctx, name)
	},
	nameOf: func(d relay.Dataset) string { return d.Name },
	table: func(_ context.Context, _ *relay.Client, w io.Writer, ds []relay.Dataset) {
		fmt.Fprintln(w, "NAME\tTOPIC\tKEY FIELDS\tSCHEMA\tCREATED")
		for _, d := range ds {
			schema := "no"
			if len(d.Schema) > 0 {
				schema = "yes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.Topic, strings.Join(d.KeyFields, ","), schema, timeText(d.CreatedAt))
		}
	},
	show: func(_ context.Context, e *env, c *relayConn, _ *relay.Client, d relay.Dataset) error {
		return c.print(e, d, func(w io.Writer) {
			fmt.Fprintf(w, "Name:\t%s\n", d.Name)
			fmt.Fprintf(w, "Topic:\t%s\n", d.Topic)
			fmt.Fprintf(w, "Key fields:\t%s\n", strings.Join(d.KeyFields, ", "))
			schema := "none"
			if len(d.Schema) > 0 {
				schema = string(d.Schema)
			}
			fmt.Fprintf(w, "Schema:\t%s\n", schema)
			fmt.Fprintf(w, "Created:\t%s\n", timeText(d.CreatedAt))
			fmt.Fprintf(w, "Updated:\t%s\n", timeText(d.UpdatedAt))
		})
	},
	remove: func(ctx context.Context, cl *relay.Client, d relay.Dataset) (string, error) {
		return "Deleted dataset " + d.Name + "; its topic " + d.Topic + " and its records stay.", cl.DeleteDataset(ctx, d.Name)
	},
}

// datasetsSave creates a dataset, or updates one from what is saved.
func datasetsSave(ctx context.Context, e *env, args []string, create bool) error {
	verb := "update"
	if create {
		verb = "create"
	}
	f := newFlags(e, "relay datasets "+verb, "arus relay datasets "+verb+" NAME [--key-field F...] [--topic T] [--schema-file F] [--file F] [flags]", datasetsAbout)
	keys := &listFlag{split: true}
	f.Var(keys, "key-field", "a record `field` (path) of the key (repeatable, or comma-separated)")
	topic := f.String("topic", "", "`topic` that keeps the records (default relay.<name>)")
	schemaFile := f.String("schema-file", "", "`path` of the JSON Schema records must match; - reads standard input")
	noSchema := f.Bool("no-schema", false, "drop the schema (update)")
	file := f.String("file", "", "`path` of the JSON body {\"name\", \"topic\", \"key_fields\", \"schema\"}; - reads standard input")
	c := addRelayConn(f)
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	var stdin stdinUse
	if err := stdin.claim(f, "--file", *file); err != nil {
		return err
	}
	if err := stdin.claim(f, "--schema-file", *schemaFile); err != nil {
		return err
	}
	if *noSchema && *schemaFile != "" {
		return f.fail("give --schema-file or --no-schema, not both")
	}
	var in relay.DatasetInput
	var name string
	if !create {
		if name, err = oneArg(f, "dataset", rest); err != nil {
			return err
		}
		d, err := cl.Dataset(ctx, name)
		if err != nil {
			return relayErr("update dataset "+name, err)
		}
		in = relay.DatasetInput{Name: d.Name, Topic: d.Topic, KeyFields: d.KeyFields, Schema: d.Schema}
	}
	if *file != "" {
		if err := readJSON(f, e, *file, &in); err != nil {
			return err
		}
	}
	if create {
		switch {
		case len(rest) > 1:
			return f.fail("one dataset at a time; got %q", rest)
		case len(rest) == 1:
			in.Name = rest[0]
		case in.Name == "":
			return f.fail("no name given; use arus relay datasets create NAME")
		}
		name = in.Name
	}
	set := setFlags(f)
	if set["key-field"] {
		in.KeyFields = keys.values
	}
	if set["topic"] {
		in.Topic = *topic
	}
	if *schemaFile != "" {
		doc, err := readInput(f, e, "--schema-file", *schemaFile)
		if err != nil {
			return err
		}
		if !json.Valid(doc) {
			return f.fail("--schema-file %s is not a JSON document", *schemaFile)
		}
		in.Schema = doc
	}
	if *noSchema {
		in.Schema = nil
	}
	if create && len(in.KeyFields) == 0 {
		return f.fail("no key field given; use --key-field FIELD, such as --key-field id")
	}
	var d relay.Dataset
	if create {
		d, err = cl.CreateDataset(ctx, in)
	} else {
		d, err = cl.UpdateDataset(ctx, name, in)
	}
	if err != nil {
		return relayErr(verb+" dataset "+name, err)
	}
	did := "Updated"
	if create {
		did = "Created"
	}
	return c.done(e, d, "%s dataset %s (topic %s, key %s).", did, d.Name, d.Topic, strings.Join(d.KeyFields, ", "))
}
