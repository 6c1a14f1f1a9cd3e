package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestShopMoneyAndDates(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "Rp 0"}, {999, "Rp 999"}, {150000, "Rp 150.000"}, {1500000, "Rp 1.500.000"}} {
		if got := formatIDR(c.n); got != c.want {
			t.Errorf("formatIDR(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	at := time.Date(2026, 8, 17, 11, 20, 0, 0, time.UTC)
	for _, c := range []struct{ lang, zone, want string }{
		{"id", "Asia/Jakarta", "17 Agu, 2026 18:20 WIB"},
		{"en", "Asia/Jakarta", "17 Aug, 2026 18:20 WIB"},
		{"id", "Asia/Makassar", "17 Agu, 2026 19:20 WITA"},
		{"en", "", "17 Aug, 2026 18:20 WIB"},
	} {
		if got := formatWhen(c.lang, at, c.zone); got != c.want {
			t.Errorf("formatWhen(%s, %s) = %q, want %q", c.lang, c.zone, got, c.want)
		}
	}
}

func TestShopLanguage(t *testing.T) {
	s := &shop{}
	for _, c := range []struct{ accept, cookie, want string }{
		{"", "", "id"},
		{"en-US,en;q=0.9", "", "en"},
		{"id-ID,id;q=0.9,en;q=0.8", "", "id"},
		{"fr-FR", "", "id"},
		{"en-GB", "id", "id"},
		{"id", "en", "en"},
		{"en", "xx", "en"},
	} {
		r := httptest.NewRequest("GET", "/shop/", nil)
		r.Header.Set("Accept-Language", c.accept)
		if c.cookie != "" {
			r.Header.Set("Cookie", shopLang.cookie+"="+c.cookie)
		}
		if got := s.lang(r); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", c.accept, c.cookie, got, c.want)
		}
	}
	for key, text := range texts {
		if text[0] == "" || text[1] == "" {
			t.Errorf("%s has no text in one of the languages: %q", key, text)
		}
	}
}

func TestShopPostLimits(t *testing.T) {
	l := newPostLimits(30)
	now := time.Unix(1_700_000_000, 0)
	for i := range 10 {
		if _, ok := l.allow("a", now); !ok {
			t.Fatalf("POST %d of a burst of 10 refused", i+1)
		}
	}
	wait, ok := l.allow("a", now)
	if ok || wait <= 0 || wait > 2*time.Second {
		t.Errorf("the 11th POST at once: allowed %v, wait %s; want refused with a wait of about 2 s", ok, wait)
	}
	if _, ok := l.allow("b", now); !ok {
		t.Error("another address was refused")
	}
	if _, ok := l.allow("a", now.Add(2*time.Second)); !ok {
		t.Error("a refilled token was refused")
	}
}
