package cli

import (
	"context"
	"io"
	"strings"

	"github.com/arus-platform/arus/internal/relay"
)

// relayKind is one kind of relay object: applications, datasets,
// destinations or routes. Each has the commands list, show and delete,
// which differ only in what they ask the server and what they print; the
// kind says that, and listCmd, showCmd and deleteCmd do the rest.
type relayKind[T any] struct {
	name  string // singular, as in "no application given"
	about string // the help of the kind's commands
	// list returns every object; find the one ref names.
	list func(ctx context.Context, cl *relay.Client) ([]T, error)
	find func(ctx context.Context, cl *relay.Client, ref string) (T, error)
	// nameOf names an object in messages.
	nameOf func(T) string
	// table prints the list for --format table.
	table func(ctx context.Context, cl *relay.Client, w io.Writer, vs []T)
	// show prints one object, as JSON or as a table (see relayConn.print).
	show func(ctx context.Context, e *env, c *relayConn, cl *relay.Client, v T) error
	// remove deletes an object and returns the message saying what that did.
	remove func(ctx context.Context, cl *relay.Client, v T) (string, error)
}

func (k relayKind[T]) plural() string { return k.name + "s" }

// flags starts the flags of one of the kind's commands; args is the
// synopsis of its positional arguments.
func (k relayKind[T]) flags(e *env, verb, args string) (*flags, *relayConn) {
	name := "relay " + k.plural() + " " + verb
	synopsis := "arus " + name + " [flags]"
	if args != "" {
		synopsis = "arus " + name + " " + args + " [flags]"
	}
	f := newFlags(e, name, synopsis, k.about)
	return f, addRelayConn(f)
}

func (k relayKind[T]) listCmd(ctx context.Context, e *env, args []string) error {
	f, c := k.flags(e, "list", "")
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	vs, err := k.list(ctx, cl)
	if err != nil {
		return relayErr("list "+k.plural(), err)
	}
	return c.print(e, orEmpty(vs), func(w io.Writer) { k.table(ctx, cl, w, vs) })
}

// one parses a command that acts on the one object its argument names,
// and finds the object.
func (k relayKind[T]) one(ctx context.Context, e *env, verb string, args []string) (T, *relayConn, *relay.Client, error) {
	var v T
	f, c := k.flags(e, verb, strings.ToUpper(k.name))
	rest, cl, err := c.parse(f, args)
	if err != nil {
		return v, nil, nil, err
	}
	ref, err := oneArg(f, k.name, rest)
	if err != nil {
		return v, nil, nil, err
	}
	if v, err = k.find(ctx, cl, ref); err != nil {
		return v, nil, nil, relayErr(verb+" "+k.name, err)
	}
	return v, c, cl, nil
}

func (k relayKind[T]) showCmd(ctx context.Context, e *env, args []string) error {
	v, c, cl, err := k.one(ctx, e, "show", args)
	if err != nil {
		return err
	}
	return k.show(ctx, e, c, cl, v)
}

func (k relayKind[T]) deleteCmd(ctx context.Context, e *env, args []string) error {
	v, c, cl, err := k.one(ctx, e, "delete", args)
	if err != nil {
		return err
	}
	msg, err := k.remove(ctx, cl, v)
	if err != nil {
		return relayErr("delete "+k.name+" "+k.nameOf(v), err)
	}
	return c.done(e, v, "%s", msg)
}
