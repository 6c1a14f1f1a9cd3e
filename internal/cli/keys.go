package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/store"
)

// runKeys manages API keys in the auth store directly: it is how the first
// key is made, before anything can call the API.
func runKeys(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "keys", keysAbout,
		action{"create", runKeysCreate},
		action{"list", runKeysList},
		action{"revoke", runKeysRevoke},
	)
}

const keysAbout = `
Manages API keys in the server's auth store, opened directly: the SQLite file
in --data, or the PostgreSQL database of --db. Use it on the server's machine
to make the first key; the console's API keys page does the same later.`

// storeFlags are where the auth store is.
type storeFlags struct{ data, db *string }

func addStore(f *flags) storeFlags {
	s := storeFlags{
		data: f.String("data", "./arus-data", "data `dir`ectory of the server (its SQLite auth store)"),
		db:   f.String("db", "", "store `DSN` of the server, when it runs on PostgreSQL"),
	}
	f.twin("data", "ARUS_DATA")
	f.twin("db", "ARUS_DB")
	return s
}

// storeArgs registers the store flags and parses the command line,
// returning the store flags and the positional arguments.
func storeArgs(f *flags, args []string) (storeFlags, []string, error) {
	s := addStore(f)
	rest, err := f.parse(args)
	return s, rest, err
}

func (s storeFlags) open(ctx context.Context) (*auth.Store, func(), error) {
	db, err := store.Open(ctx, store.Config{DSN: *s.db, Dir: *s.data, Component: "auth"})
	if err != nil {
		return nil, nil, err
	}
	st, err := auth.Open(ctx, db, auth.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return st, func() { db.Close() }, nil
}

func runKeysCreate(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "keys create", "arus keys create --name NAME --scope PERMISSION[:RESOURCE]... [flags]", `
Creates an API key and prints it on standard output, once: it cannot be shown
again. Scopes are permissions (`+permList()+`),
optionally limited to one resource, such as records.produce:orders.`)
	name := f.String("name", "", "`name` of the key, e.g. the application that uses it")
	var scopes listFlag
	f.Var(&scopes, "scope", "a `scope` the key grants; repeat for more")
	expires := f.Duration("expires", 0, "lifetime of the key, e.g. 2160h; 0 never expires")
	owner := f.String("owner", "", "`username` the key belongs to: it never grants more than they may do and stops working when they are disabled; empty makes a service key of its own")
	st, rest, err := storeArgs(f, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	if *expires < 0 {
		return f.fail("--expires %s is negative", *expires)
	}
	as, closeStore, err := st.open(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	nk := auth.NewAPIKey{Name: *name, Scopes: scopes.values}
	if *owner != "" {
		u, err := as.UserByUsername(ctx, *owner)
		if err != nil {
			return fmt.Errorf("keys create: --owner %s: %w", *owner, err)
		}
		nk.OwnerID = u.ID
	}
	if *expires > 0 {
		nk.ExpiresAt = time.Now().Add(*expires)
	}
	k, secret, err := as.CreateAPIKey(ctx, nk)
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	fmt.Fprintln(e.stdout, secret)
	fmt.Fprintf(e.stderr, "Created API key %q (id %s, prefix %s) with scopes %s. It is shown only this once.\n",
		k.Name, k.ID, k.Prefix, strings.Join(k.Scopes, ", "))
	return nil
}

func runKeysList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "keys list", "arus keys list [flags]", "Lists API keys: never their secrets.")
	st, rest, err := storeArgs(f, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	as, closeStore, err := st.open(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	keys, err := as.ListAPIKeys(ctx, "")
	if err != nil {
		return err
	}
	tw := newTable(e.stdout, "ID\tPREFIX\tNAME\tOWNER\tSCOPES\tSTATE\tLAST USED")
	owners := map[string]string{"": "-"}
	for _, k := range keys {
		state := "active"
		switch {
		case !k.RevokedAt.IsZero():
			state = "revoked"
		case !k.ExpiresAt.IsZero() && time.Now().After(k.ExpiresAt):
			state = "expired"
		}
		used := "never"
		if !k.LastUsedAt.IsZero() {
			used = k.LastUsedAt.UTC().Format(time.RFC3339)
		}
		if _, ok := owners[k.OwnerID]; !ok {
			u, err := as.User(ctx, k.OwnerID)
			if err != nil {
				return err
			}
			owners[k.OwnerID] = u.Username
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, owners[k.OwnerID], strings.Join(k.Scopes, ","), state, used)
	}
	return tw.Flush()
}

func runKeysRevoke(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "keys revoke", "arus keys revoke ID [flags]", "Revokes an API key: requests using it are refused from now on.")
	st, rest, err := storeArgs(f, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return f.fail("give exactly one key id (see arus keys list)")
	}
	as, closeStore, err := st.open(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := as.RevokeAPIKey(ctx, rest[0]); err != nil {
		return fmt.Errorf("keys revoke %s: %w", rest[0], err)
	}
	fmt.Fprintf(e.stderr, "Revoked API key %s.\n", rest[0])
	return nil
}

func permList() string {
	var names []string
	for _, p := range auth.Permissions() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}
