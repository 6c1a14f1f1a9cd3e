package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/browsertest"
)

type css = chromedp.CSS

// A person signs in, creates a user and an API key, and signs out, in a real
// browser.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	f, _ := newStreamsFixture(t)
	ctx := browsertest.New(t)
	base := f.srv.URL

	browsertest.Do(t, ctx, "open the console", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(css(`#username`)))
	title := browsertest.Get(t, ctx, "title", chromedp.Title())
	location := browsertest.Get(t, ctx, "location", chromedp.Location())
	if !strings.HasPrefix(title, "Sign in") || !strings.Contains(location, "/login?next=") {
		t.Fatalf("anonymous visit landed on %q (%s), want the sign-in page", title, location)
	}
	browsertest.Screenshot(t, ctx, "console-login")
	browsertest.CheckAccessibility(t, ctx, "login")
	browsertest.Do(t, ctx, "sign in",
		chromedp.SendKeys(css(`#username`), "admin"),
		chromedp.SendKeys(css(`#password`), adminPassword),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`a[href="/users/new"]`)),
	)
	if location := browsertest.Get(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(location, "/users") {
		t.Errorf("after sign-in at %s, want /users (the page asked for)", location)
	}

	browsertest.Do(t, ctx, "create a user",
		chromedp.Click(css(`a[href="/users/new"]`)),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "olga"),
		chromedp.SendKeys(css(`#name`), "Olga Operator"),
		chromedp.SendKeys(css(`#email`), "olga@example.com"),
		chromedp.Click(css(`input[name=roles][value=operator]`)),
		chromedp.Click(css(`input[name=roles][value=viewer]`)), // untick the default
		chromedp.Submit(css(`#username`)),
		chromedp.WaitVisible(css(`#new-password`)),
	)
	olgaPassword := browsertest.Get(t, ctx, "shown password", chromedp.Text(css(`#new-password`)))
	if len(olgaPassword) < 12 {
		t.Errorf("generated password %q looks too short", olgaPassword)
	}
	browsertest.Screenshot(t, ctx, "console-user")
	browsertest.CheckAccessibility(t, ctx, "user")
	u, err := f.auth.UserByUsername(t.Context(), "olga")
	if err != nil {
		t.Fatalf("user not stored: %v", err)
	}
	if len(u.Roles) != 1 || u.Roles[0] != "operator" || u.Email != "olga@example.com" {
		t.Errorf("stored user %+v, want olga with only the operator role", u)
	}

	browsertest.Do(t, ctx, "create an API key",
		chromedp.Click(css(`a[href="/keys"]`)),
		chromedp.WaitVisible(css(`#key-name`)),
		chromedp.SendKeys(css(`#key-name`), "cars importer"),
		chromedp.Click(css(`input[name=scopes][value="relay.ingest"]`)),
		chromedp.Submit(css(`#key-name`)),
		chromedp.WaitVisible(css(`#new-key`)),
	)
	secret := browsertest.Get(t, ctx, "shown key", chromedp.Text(css(`#new-key`)))
	if !strings.HasPrefix(secret, "arus_") {
		t.Fatalf("shown key %q does not look like an Arus key", secret)
	}
	k, err := f.auth.VerifyAPIKey(t.Context(), secret)
	if err != nil || k.Name != "cars importer" {
		t.Errorf("shown key verifies as %+v, %v", k, err)
	}
	browsertest.Screenshot(t, ctx, "console-keys")
	browsertest.CheckAccessibility(t, ctx, "keys")

	browsertest.Do(t, ctx, "create a topic",
		chromedp.Click(css(`a[href="/topics"]`)),
		chromedp.WaitVisible(css(`#topic-name`)),
		chromedp.SendKeys(css(`#topic-name`), "cars"),
		chromedp.Submit(css(`#topic-name`)),
		chromedp.WaitVisible(css(`#confirm`)),
	)
	if h1 := browsertest.Get(t, ctx, "topic title", chromedp.Text(css(`h1`))); h1 != "cars" {
		t.Errorf("after creating a topic the page is %q, want the topic cars", h1)
	}
	browsertest.Screenshot(t, ctx, "console-topic")
	browsertest.CheckAccessibility(t, ctx, "topic")

	browsertest.Do(t, ctx, "open the overview", chromedp.Navigate(base+"/overview"), chromedp.WaitVisible(css(`[data-live="lag"]`)))
	browsertest.Screenshot(t, ctx, "console-overview")
	browsertest.CheckAccessibility(t, ctx, "overview")

	browsertest.Do(t, ctx, "sign out",
		chromedp.Click(css(`header form button[type=submit]`)),
		chromedp.WaitVisible(css(`#password`)),
	)
	if title := browsertest.Get(t, ctx, "title", chromedp.Title()); !strings.HasPrefix(title, "Sign in") {
		t.Errorf("after sign-out the page is %q, want the sign-in page", title)
	}

	// Olga's password was generated: she chooses her own before anything
	// else.
	browsertest.Do(t, ctx, "sign in with a generated password",
		chromedp.SendKeys(css(`#username`), "olga"),
		chromedp.SendKeys(css(`#password`), olgaPassword),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`#current-password`)),
	)
	browsertest.Screenshot(t, ctx, "console-change-password")
	browsertest.CheckAccessibility(t, ctx, "change password")
	browsertest.Do(t, ctx, "choose her own password",
		chromedp.SendKeys(css(`#current-password`), olgaPassword),
		chromedp.SendKeys(css(`#new-password`), "olga's own passphrase"),
		chromedp.SendKeys(css(`#confirm-password`), "olga's own passphrase"),
		chromedp.Submit(css(`#confirm-password`)),
		chromedp.WaitVisible(css(`[role=status]`)),
	)
	if notice := browsertest.Get(t, ctx, "notice", chromedp.Text(css(`[role=status]`))); !strings.Contains(notice, "Password changed") {
		t.Errorf("after the change the notice is %q, want it to say the password changed", notice)
	}
	if _, err := f.auth.Authenticate(t.Context(), "olga", "olga's own passphrase", ""); err != nil {
		t.Errorf("olga's own password: %v", err)
	}
}

// signInAsAdmin signs in to the console at base as admin in the browser,
// and waits for the top bar of the first page.
func signInAsAdmin(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	browsertest.Do(t, ctx, "sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "admin"),
		chromedp.SendKeys(css(`#password`), adminPassword),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`.topbar`)),
	)
}
