package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/arus-platform/arus/stream"
)

// nameKind is what the topics and groups commands name: a topic or a group,
// given by --<what> or as the argument.
type nameKind struct {
	what     string
	about    string
	validate func(string) error
}

var (
	topicNames = nameKind{what: "topic", about: topicsAbout, validate: stream.ValidateTopicName}
	groupNames = nameKind{what: "group", about: groupsAbout, validate: stream.ValidateGroupName}
)

// nameArg returns the one name (of a topic or group) given by --<what> or
// as the argument, validated.
func nameArg(f *flags, what, flagValue string, rest []string, validate func(string) error) (string, error) {
	switch {
	case len(rest) > 1:
		return "", f.fail("one %s at a time; got %q", what, rest)
	case len(rest) == 1 && flagValue != "" && rest[0] != flagValue:
		return "", f.fail("two %ss given: --%s %q and %q", what, what, flagValue, rest[0])
	case len(rest) == 1:
		flagValue = rest[0]
	case flagValue == "":
		return "", f.fail("no %s given; use --%s NAME", what, what)
	}
	if err := validate(flagValue); err != nil {
		return "", f.fail("%v", err)
	}
	return flagValue, nil
}

// args registers the connection flags, parses the command line of a
// command on one name of k (flagValue is its --<what> flag) and returns
// the name, validated, and the connection.
func (k nameKind) args(f *flags, flagValue *string, args []string) (string, *conn, error) {
	c, rest, err := connArgs(f, args)
	if err != nil {
		return "", nil, err
	}
	name, err := nameArg(f, k.what, *flagValue, rest, k.validate)
	return name, c, err
}

// run is the command "arus <what>s <action> --<what> NAME" with no other
// flags than the connection's: it reads the name, opens the stream and
// calls do with both. usage describes the --<what> flag.
func (k nameKind) run(ctx context.Context, e *env, args []string, action, usage string, do func(b stream.Broker, name string) error) error {
	f := newFlags(e, k.what+"s "+action, "arus "+k.what+"s "+action+" --"+k.what+" NAME [flags]", k.about)
	flagValue := f.String(k.what, "", usage)
	name, c, err := k.args(f, flagValue, args)
	if err != nil {
		return err
	}
	b, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer b.Close()
	return do(b, name)
}

// listNames is "arus <what>s list": it takes no argument and prints a
// table with header and a row per item list returns.
func listNames[T any](ctx context.Context, e *env, args []string, k nameKind, list func(stream.Broker, context.Context) ([]T, error), header string, row func(w io.Writer, item T)) error {
	f := newFlags(e, k.what+"s list", "arus "+k.what+"s list [flags]", k.about)
	b, err := openNoArgs(ctx, e, f, args)
	if err != nil {
		return err
	}
	defer b.Close()
	items, err := list(b, ctx)
	if err != nil {
		return fmt.Errorf("list %ss: %w", k.what, err)
	}
	tw := newTable(e.stdout, header)
	for _, item := range items {
		row(tw, item)
	}
	return tw.Flush()
}

// delete is "arus <what>s delete": it deletes the name with del and says
// so.
func (k nameKind) delete(ctx context.Context, e *env, args []string, usage string, del func(stream.Broker, context.Context, string) error) error {
	return k.run(ctx, e, args, "delete", usage, func(b stream.Broker, name string) error {
		if err := del(b, ctx, name); err != nil {
			return fmt.Errorf("delete %s %q: %w", k.what, name, err)
		}
		fmt.Fprintf(e.stdout, "Deleted %s %s.\n", k.what, name)
		return nil
	})
}
