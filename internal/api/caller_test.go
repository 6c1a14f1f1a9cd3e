package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

func TestCaller(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			if r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"q":"` + r.URL.Query().Get("q") + `"}`))
		case "/invalid":
			api.WriteJSON(w, http.StatusUnprocessableEntity, api.Invalid("name: is required",
				invalid.Field{Name: "name", Message: "is required"}, invalid.Field{Name: "kind", Message: "must be one of a, b"}))
		default:
			http.Error(w, "gateway down", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := api.NewCaller(strings.TrimPrefix(srv.URL, "http://"), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Q string }
	if err := c.Do(ctx, "POST", "/echo", map[string][]string{"q": {"a b"}}, struct{}{}, &out); err != nil || out.Q != "a b" {
		t.Errorf("echo: got %+v, %v; want q \"a b\"", out, err)
	}

	err = c.Do(ctx, "GET", "/invalid", nil, nil, nil)
	var re *api.ResponseError
	if !errors.As(err, &re) || re.Status != 422 || len(re.Problem.Errors) != 2 || !errors.Is(err, stream.ErrInvalid) {
		t.Fatalf("422: got %#v, want a ResponseError with two field errors matching stream.ErrInvalid", err)
	}
	if got, want := err.Error(), "name: is required; kind: must be one of a, b"; got != want {
		t.Errorf("422 error reads %q, want %q", got, want)
	}

	err = c.Do(ctx, "GET", "/other", nil, nil, nil)
	if !errors.As(err, &re) || re.Status != 502 || !strings.Contains(err.Error(), "gateway down") || !errors.Is(err, stream.ErrUnavailable) {
		t.Errorf("502 with a text body: got %v, want a ResponseError holding the text, matching ErrUnavailable", err)
	}

	srv.Close()
	if err := c.Do(ctx, "GET", "/echo", nil, nil, nil); !errors.Is(err, stream.ErrUnavailable) {
		t.Errorf("server gone: got %v, want ErrUnavailable", err)
	}
	for _, bad := range []string{"", "ftp://host", "http://host/path", "http://host?x=1"} {
		if _, err := api.NewCaller(bad, "", nil); !errors.Is(err, stream.ErrInvalid) {
			t.Errorf("NewCaller(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}
