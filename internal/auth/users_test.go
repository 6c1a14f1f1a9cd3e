package auth_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func TestCreateUserValidation(t *testing.T) {
	tests := []struct {
		name string
		in   auth.NewUser
		want []string // fields with errors
	}{
		{"minimal", auth.NewUser{Username: "ok"}, nil},
		{"everything", auth.NewUser{Username: "Rina.S-01", Name: "Rina Sari", Email: "rina@example.co.id",
			Phone: "+62 812-3456-7890", Password: goodPassword, Roles: []auth.Role{auth.RoleViewer, auth.RoleCashier}}, nil},
		{"no username", auth.NewUser{}, []string{"username"}},
		{"short username", auth.NewUser{Username: "a"}, []string{"username"}},
		{"long username", auth.NewUser{Username: strings.Repeat("a", 65)}, []string{"username"}},
		{"username with space", auth.NewUser{Username: "rina sari"}, []string{"username"}},
		{"username starting with a dot", auth.NewUser{Username: ".rina"}, []string{"username"}},
		{"username with unicode", auth.NewUser{Username: "rinä"}, []string{"username"}},
		{"name too long", auth.NewUser{Username: "ok", Name: strings.Repeat("x", 201)}, []string{"name"}},
		{"name with control character", auth.NewUser{Username: "ok", Name: "a\x00b"}, []string{"name"}},
		{"email without at", auth.NewUser{Username: "ok", Email: "rina.example.com"}, []string{"email"}},
		{"email with display name", auth.NewUser{Username: "ok", Email: "Rina <rina@example.com>"}, []string{"email"}},
		{"phone with letters", auth.NewUser{Username: "ok", Phone: "call me"}, []string{"phone"}},
		{"phone too short", auth.NewUser{Username: "ok", Phone: "123"}, []string{"phone"}},
		{"unknown role", auth.NewUser{Username: "ok", Roles: []auth.Role{auth.RoleViewer, "root"}}, []string{"roles[1]"}},
		{"short password", auth.NewUser{Username: "ok", Password: "short"}, []string{"password"}},
		{"password is the username", auth.NewUser{Username: "longusername1", Password: "LongUsername1"}, []string{"password"}},
		{"many at once", auth.NewUser{Username: "-", Email: "x", Phone: "y", Password: "z"},
			[]string{"username", "email", "phone", "password"}},
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.st.CreateUser(context.Background(), tt.in)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("CreateUser: %v, want success", err)
					}
					return
				}
				if got := fields(t, err); !slices.Equal(got, tt.want) {
					t.Errorf("fields with errors = %v, want %v (%v)", got, tt.want, err)
				}
			})
		}
	})
}

func TestUserCRUD(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		created, err := e.st.CreateUser(ctx, auth.NewUser{
			Username: "  Rina ", Name: " Rina Sari ", Email: "rina@example.com", Phone: "+62 812 3456 7890",
			Password: goodPassword, Roles: []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleViewer},
		})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if created.Username != "rina" || created.Name != "Rina Sari" {
			t.Errorf("created username %q name %q, want %q %q", created.Username, created.Name, "rina", "Rina Sari")
		}
		if want := []auth.Role{auth.RoleOperator, auth.RoleViewer}; !slices.Equal(created.Roles, want) {
			t.Errorf("roles = %v, want %v", created.Roles, want)
		}
		if !created.CreatedAt.Equal(e.clock.Now()) || !created.PasswordChangedAt.Equal(e.clock.Now()) {
			t.Errorf("created at %v, password changed at %v; want both %v", created.CreatedAt, created.PasswordChangedAt, e.clock.Now())
		}

		byID, err := e.st.User(ctx, created.ID)
		if err != nil {
			t.Fatalf("User: %v", err)
		}
		if fmt.Sprint(byID) != fmt.Sprint(created) {
			t.Errorf("User(id) = %+v\nwant %+v", byID, created)
		}
		byName, err := e.st.UserByUsername(ctx, "RINA")
		if err != nil || byName.ID != created.ID {
			t.Errorf("UserByUsername(RINA) = %v, %v; want user %s", byName.ID, err, created.ID)
		}
		if _, err := e.st.User(ctx, "no-such-id"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("User(unknown) error %v, want ErrNotFound", err)
		}
		if _, err := e.st.UserByUsername(ctx, "nobody"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("UserByUsername(unknown) error %v, want ErrNotFound", err)
		}
		if _, err := e.st.CreateUser(ctx, auth.NewUser{Username: "RINA"}); !errors.Is(err, auth.ErrUsernameTaken) {
			t.Errorf("CreateUser(duplicate, other case) error %v, want ErrUsernameTaken", err)
		}

		e.clock.Advance(time.Minute)
		updated, err := e.st.UpdateUser(ctx, created.ID, func(u *auth.User) error {
			u.Name = "Rina S."
			u.Email = ""
			u.Confirmed = true
			u.ID = "ignored"
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		if updated.ID != created.ID || updated.Name != "Rina S." || updated.Email != "" || !updated.Confirmed {
			t.Errorf("updated = %+v", updated)
		}
		if !updated.UpdatedAt.Equal(e.clock.Now()) || !updated.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("updated at %v created at %v; want %v and %v", updated.UpdatedAt, updated.CreatedAt, e.clock.Now(), created.CreatedAt)
		}
		if got, _ := e.st.User(ctx, created.ID); fmt.Sprint(got) != fmt.Sprint(updated) {
			t.Errorf("after update, User = %+v\nwant %+v", got, updated)
		}

		other := e.mustCreate(t, "budi")
		if _, err := e.st.UpdateUser(ctx, other.ID, func(u *auth.User) error { u.Username = "Rina"; return nil }); !errors.Is(err, auth.ErrUsernameTaken) {
			t.Errorf("rename to a taken username: error %v, want ErrUsernameTaken", err)
		}
		_, err = e.st.UpdateUser(ctx, other.ID, func(u *auth.User) error { u.Email = "bad"; u.Roles = []auth.Role{"nope"}; return nil })
		if got, want := fields(t, err), []string{"email", "roles[0]"}; !slices.Equal(got, want) {
			t.Errorf("invalid update: fields %v, want %v", got, want)
		}
		boom := errors.New("boom")
		if _, err := e.st.UpdateUser(ctx, other.ID, func(u *auth.User) error { u.Name = "x"; return boom }); !errors.Is(err, boom) {
			t.Errorf("UpdateUser with failing fn: error %v, want boom", err)
		}
		if got, _ := e.st.User(ctx, other.ID); got.Name != "" {
			t.Errorf("failed update wrote name %q", got.Name)
		}
		if _, err := e.st.UpdateUser(ctx, "no-such-id", func(*auth.User) error { return nil }); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("UpdateUser(unknown) error %v, want ErrNotFound", err)
		}

		withRoles, err := e.st.SetRoles(ctx, other.ID, auth.RoleCustomer, auth.RoleAdmin)
		if err != nil {
			t.Fatalf("SetRoles: %v", err)
		}
		if want := []auth.Role{auth.RoleAdmin, auth.RoleCustomer}; !slices.Equal(withRoles.Roles, want) {
			t.Errorf("roles after SetRoles = %v, want %v", withRoles.Roles, want)
		}
		if got, _ := e.st.User(ctx, other.ID); !slices.Equal(got.Roles, withRoles.Roles) {
			t.Errorf("stored roles = %v, want %v", got.Roles, withRoles.Roles)
		}

		disabled, err := e.st.Disable(ctx, created.ID)
		if err != nil || !disabled.Disabled {
			t.Fatalf("Disable = %+v, %v", disabled, err)
		}
		if _, err := e.st.Authenticate(ctx, "rina", goodPassword, ""); !errors.Is(err, auth.ErrDisabled) {
			t.Errorf("login of a disabled user: error %v, want ErrDisabled", err)
		}
		if _, err := e.st.Authenticate(ctx, "rina", "wrong password!", ""); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("wrong password of a disabled user: error %v, want ErrInvalidCredentials", err)
		}
		if u, err := e.st.Enable(ctx, created.ID); err != nil || u.Disabled {
			t.Fatalf("Enable = %+v, %v", u, err)
		}
		if _, err := e.st.Authenticate(ctx, "rina", goodPassword, ""); err != nil {
			t.Errorf("login after Enable: %v", err)
		}
	})
}

func TestLastAdmin(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		first := e.mustCreate(t, "first", auth.RoleAdmin)
		if _, err := e.st.SetRoles(ctx, first.ID, auth.RoleViewer); !errors.Is(err, auth.ErrLastAdmin) {
			t.Errorf("demote the only admin: error %v, want ErrLastAdmin", err)
		}
		if _, err := e.st.Disable(ctx, first.ID); !errors.Is(err, auth.ErrLastAdmin) {
			t.Errorf("disable the only admin: error %v, want ErrLastAdmin", err)
		}
		second := e.mustCreate(t, "second", auth.RoleAdmin)
		if _, err := e.st.Disable(ctx, second.ID); err != nil {
			t.Fatalf("disable one of two admins: %v", err)
		}
		// A disabled admin does not count.
		if _, err := e.st.SetRoles(ctx, first.ID); !errors.Is(err, auth.ErrLastAdmin) {
			t.Errorf("demote the only enabled admin: error %v, want ErrLastAdmin", err)
		}
		if _, err := e.st.Enable(ctx, second.ID); err != nil {
			t.Fatalf("Enable: %v", err)
		}
		if _, err := e.st.SetRoles(ctx, first.ID, auth.RoleOperator); err != nil {
			t.Errorf("demote one of two admins: %v", err)
		}
	})
}

// seedUsers inserts n users named user00000… in random order, in bulk:
// every tenth is an operator, and names are "Person NNNNN".
func seedUsers(t testing.TB, db *store.DB, n int) []string {
	t.Helper()
	ctx := context.Background()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("user%05d", i)
	}
	order := rand.Perm(n)
	const batch = 500
	for start := 0; start < n; start += batch {
		var users, roles strings.Builder
		var uargs, rargs []any
		for _, i := range order[start:min(start+batch, n)] {
			id := uuid.NewString()
			if len(uargs) > 0 {
				users.WriteString(",")
			}
			users.WriteString("(?, ?, ?, ?, ?, ?)")
			uargs = append(uargs, id, names[i], fmt.Sprintf("Person %05d", i), names[i]+"@example.com", int64(1), int64(1))
			if i%10 == 0 {
				if len(rargs) > 0 {
					roles.WriteString(",")
				}
				roles.WriteString("(?, ?)")
				rargs = append(rargs, id, string(auth.RoleOperator))
			}
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO auth_users (id, username, name, email, created_at, updated_at) VALUES `+users.String()), uargs...); err != nil {
			t.Fatalf("seed users: %v", err)
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO auth_user_roles (user_id, role) VALUES `+roles.String()), rargs...); err != nil {
			t.Fatalf("seed roles: %v", err)
		}
	}
	return names
}

// listAll reads every page of q and returns the usernames in order.
func listAll(t *testing.T, st *auth.Store, q auth.UserQuery) (names []string, pages int) {
	t.Helper()
	for {
		page, err := st.ListUsers(context.Background(), q)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", q, err)
		}
		pages++
		for _, u := range page.Users {
			names = append(names, u.Username)
		}
		if page.Next == "" {
			return names, pages
		}
		if len(page.Users) != q.Limit && q.Limit != 0 {
			t.Fatalf("page %d has %d users and a next cursor; want a full page of %d", pages, len(page.Users), q.Limit)
		}
		q.After = page.Next
	}
}

func TestListUsersKeyset(t *testing.T) {
	const n = 10000
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		all := seedUsers(t, e.db, n)

		got, pages := listAll(t, e.st, auth.UserQuery{Limit: 500})
		if !slices.Equal(got, all) {
			t.Fatalf("all pages: %d users, want %d in username order", len(got), len(all))
		}
		if pages != n/500 {
			t.Errorf("read %d pages, want %d", pages, n/500)
		}

		tests := []struct {
			name string
			q    auth.UserQuery
			want func(i int) bool
		}{
			{"default limit", auth.UserQuery{}, func(int) bool { return true }},
			{"search in name, any case", auth.UserQuery{Search: "PERSON 0042", Limit: 3}, func(i int) bool { return i/10 == 42 }},
			{"search in username", auth.UserQuery{Search: "user0999", Limit: 4}, func(i int) bool { return i/10 == 999 }},
			{"search in email", auth.UserQuery{Search: "77@example", Limit: 7}, func(i int) bool { return i%100 == 77 }},
			{"role", auth.UserQuery{Role: auth.RoleOperator, Limit: 99}, func(i int) bool { return i%10 == 0 }},
			{"role and search", auth.UserQuery{Role: auth.RoleOperator, Search: "user01", Limit: 7}, func(i int) bool { return i%10 == 0 && i/1000 == 1 }},
			{"no match", auth.UserQuery{Search: "zzz"}, func(int) bool { return false }},
			{"wildcards are literal", auth.UserQuery{Search: "user_"}, func(int) bool { return false }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var want []string
				for i, name := range all {
					if tt.want(i) {
						want = append(want, name)
					}
				}
				got, _ := listAll(t, e.st, tt.q)
				if !slices.Equal(got, want) {
					t.Errorf("got %d users %.5v…, want %d %.5v…", len(got), got, len(want), want)
				}
			})
		}

		// Users created between pages neither shift nor repeat the rest:
		// one before the cursor is not seen, one after it appears once, in
		// its place.
		page, err := e.st.ListUsers(ctx, auth.UserQuery{Limit: 10})
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		e.mustCreate(t, "user00005a")
		e.mustCreate(t, "user00015a")
		rest, _ := listAll(t, e.st, auth.UserQuery{Limit: 500, After: page.Next})
		want := slices.Insert(slices.Clone(all[10:]), 6, "user00015a")
		if !slices.Equal(rest, want) {
			t.Errorf("after the cursor: %d users %.8v…, want %d %.8v…", len(rest), rest, len(want), want)
		}
	})
}

func TestListUsersInvalid(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		tests := []struct {
			q    auth.UserQuery
			want []string
		}{
			{auth.UserQuery{After: "!!not base64"}, []string{"after"}},
			{auth.UserQuery{After: "YQA"}, []string{"after"}}, // base64 of "a\x00"
			{auth.UserQuery{Search: "a\x00"}, []string{"search"}},
			{auth.UserQuery{Role: "root"}, []string{"role"}},
			{auth.UserQuery{Limit: -1}, []string{"limit"}},
			{auth.UserQuery{Limit: 501}, []string{"limit"}},
		}
		for _, tt := range tests {
			_, err := e.st.ListUsers(context.Background(), tt.q)
			if got := fields(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("ListUsers(%+v): fields %v, want %v", tt.q, got, tt.want)
			}
		}
	})
}

// BenchmarkListUsers reads a page of 50 from the middle of 10,000 users,
// with and without a search.
func BenchmarkListUsers(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			base := store.Config{Dir: b.TempDir()}
			if dialect == "postgres" {
				base = store.Config{DSN: storetest.PostgresSchema(b)}
			}
			e := newEnv(b, base)
			seedUsers(b, e.db, 10000)
			ctx := context.Background()
			if e.db.Dialect == store.Postgres {
				// What autovacuum does soon after a bulk load.
				if _, err := e.db.ExecContext(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			first, err := e.st.ListUsers(ctx, auth.UserQuery{Limit: 500})
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range []auth.UserQuery{
				{After: first.Next, Limit: 50},
				{After: first.Next, Limit: 50, Search: "person 0"},
				{After: first.Next, Limit: 50, Role: auth.RoleOperator},
			} {
				b.Run(fmt.Sprintf("search=%q,role=%q", q.Search, q.Role), func(b *testing.B) {
					for b.Loop() {
						page, err := e.st.ListUsers(ctx, q)
						if err != nil || len(page.Users) != 50 {
							b.Fatalf("ListUsers: %d users, %v", len(page.Users), err)
						}
					}
				})
			}
		})
	}
}
