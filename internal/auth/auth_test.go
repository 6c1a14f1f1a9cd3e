package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// cheapArgon2 keeps tests fast; production uses auth.DefaultArgon2.
var cheapArgon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// testConfig is the configuration of test stores: cheap hashing, the
// given clock, no log output.
func testConfig(c *clock) auth.Config {
	return auth.Config{
		Argon2: cheapArgon2,
		Now:    c.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// env is one test's database, store and clock.
type env struct {
	db    *store.DB
	st    *auth.Store
	clock *clock
	cfg   auth.Config
}

// newEnv opens the auth database of base and a Store over it; change
// adjusts the configuration.
func newEnv(t testing.TB, base store.Config, change ...func(*auth.Config)) *env {
	t.Helper()
	ctx := context.Background()
	base.Component = "auth"
	db, err := store.Open(ctx, base)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	c := newClock()
	cfg := testConfig(c)
	for _, f := range change {
		f(&cfg)
	}
	st, err := auth.Open(ctx, db, cfg)
	if err != nil {
		t.Fatalf("auth.Open: %v", err)
	}
	return &env{db: db, st: st, clock: c, cfg: cfg}
}

// reopen returns a second Store over the same database, as another process
// would have, sharing the clock.
func (e *env) reopen(t testing.TB, change ...func(*auth.Config)) *auth.Store {
	t.Helper()
	cfg := e.cfg
	for _, f := range change {
		f(&cfg)
	}
	st, err := auth.Open(context.Background(), e.db, cfg)
	if err != nil {
		t.Fatalf("auth.Open again: %v", err)
	}
	return st
}

const goodPassword = "correct horse battery staple"

// mustCreate creates a user or fails the test.
func (e *env) mustCreate(t testing.TB, username string, roles ...auth.Role) auth.User {
	t.Helper()
	u, err := e.st.CreateUser(context.Background(), auth.NewUser{Username: username, Password: goodPassword, Roles: roles})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	return u
}

// fields returns the field names of a *invalid.Fields, or fails.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var ve *invalid.Fields
	if !errors.As(err, &ve) {
		t.Fatalf("error %v: want a *invalid.Fields", err)
	}
	if !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false, want true", err)
	}
	var out []string
	for _, f := range ve.List {
		if f.Message == "" {
			t.Errorf("field %s has no message", f.Name)
		}
		out = append(out, f.Name)
	}
	return out
}

// assertNoSecrets fails when any string reachable from v, or v printed
// with %+v, contains one of the secrets.
func assertNoSecrets(t *testing.T, what string, v any, secrets ...string) {
	t.Helper()
	printed := fmt.Sprintf("%+v", v)
	var strs []string
	collectStrings(reflect.ValueOf(v), &strs)
	strs = append(strs, printed)
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, s := range strs {
			if strings.Contains(s, sec) {
				t.Errorf("%s holds a secret (%.12s…) in %q", what, sec, s)
			}
		}
	}
}

func collectStrings(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.String:
		*out = append(*out, v.String())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			collectStrings(v.Field(i), out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			collectStrings(v.Index(i), out)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectStrings(v.Elem(), out)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			collectStrings(k, out)
			collectStrings(v.MapIndex(k), out)
		}
	}
}

// rowStrings returns every column of every row of a query as text.
func rowStrings(t *testing.T, db *store.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), db.Rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				out = append(out, string(v))
			default:
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return out
}
