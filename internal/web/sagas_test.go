package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/arus-platform/arus/saga"
)

func TestSagaPages(t *testing.T) {
	_, b := newStreamsFixture(t)
	ctx := context.Background()
	o, err := saga.New(ctx, saga.Config{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, b,
		saga.Definition{Name: "checkout", Steps: []saga.Step{
			{Name: "reserve", Command: saga.Command{Topic: "stock.commands"}, ReplyTopic: "stock.replies"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	id, err := o.Start(ctx, "checkout", "", []byte(`{"sku":"A1"}`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWithSagas(t, b, o)
	br := f.browser()
	br.login("admin", adminPassword)
	resp, body := br.get("/sagas")
	wantStatus(t, "sagas", resp, http.StatusOK)
	if !strings.Contains(body, id) || !strings.Contains(body, `<span class="pill info">running</span>`) {
		t.Errorf("sagas page lacks the running instance %s", id)
	}
	resp, body = br.get("/sagas/" + id)
	wantStatus(t, "saga", resp, http.StatusOK)
	if !strings.Contains(body, "reserve") {
		t.Errorf("saga page lacks its step")
	}
	resp, _ = br.get("/sagas?state=sideways")
	wantStatus(t, "bad state", resp, http.StatusBadRequest)
	resp, _ = br.get("/sagas/not-an-id")
	wantStatus(t, "unknown saga", resp, http.StatusNotFound)
}
