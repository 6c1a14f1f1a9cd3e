package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/store"
)

// The console's login and the API's bearer keys, end to end.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "arus-auth-example")
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "auth"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	st, err := auth.Open(ctx, db, auth.Config{})
	if err != nil {
		log.Fatal(err)
	}

	// First start: an admin with a one-time password to print.
	pw, created, err := st.EnsureAdmin(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("admin created:", created, "with a printed password:", pw != "")

	// Login: check the password, then start a fresh session; the token
	// goes into the cookie, the CSRF token into forms.
	u, err := st.Authenticate(ctx, "admin", pw, "192.0.2.10")
	if err != nil {
		log.Fatal(err)
	}
	_, token, err := st.CreateSession(ctx, u.ID, auth.SessionMeta{IP: "192.0.2.10"})
	if err != nil {
		log.Fatal(err)
	}
	// Each request: the cookie's token gives the session and its user.
	sess, user, err := st.Session(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.Username, "may manage users:", user.Can(auth.PermUsersWrite), "csrf ok:", sess.CheckCSRF(sess.CSRFToken))

	// An ingest key for one dataset, shown once.
	_, key, err := st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "cars feed", Scopes: []string{"relay.ingest:cars"}})
	if err != nil {
		log.Fatal(err)
	}
	k, err := st.VerifyAPIKey(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("key may ingest cars:", k.Allows(auth.PermRelayIngest, "cars"), "bikes:", k.Allows(auth.PermRelayIngest, "bikes"))

	_, err = st.Authenticate(ctx, "admin", "not the password", "192.0.2.10")
	fmt.Println("wrong password:", errors.Is(err, auth.ErrInvalidCredentials))
	// Output:
	// admin created: true with a printed password: true
	// admin may manage users: true csrf ok: true
	// key may ingest cars: true bikes: false
	// wrong password: true
}
