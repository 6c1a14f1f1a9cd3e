package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func TestRecordAndList(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		ctx := context.Background()
		cfg.Component = "audit"
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		l, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 120; i++ {
			actor := "admin"
			if i%3 == 0 {
				actor = "key:abcd1234"
			}
			if err := l.Record(ctx, Entry{Actor: actor, Method: "POST", Path: fmt.Sprintf("/topics/t%d", i), Route: "POST /topics", Status: 303, IP: "127.0.0.1", RequestID: "r"}); err != nil {
				t.Fatal(err)
			}
		}
		var all []Entry
		q := Query{Limit: 50}
		for {
			p, err := l.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p.Entries...)
			if p.Next == "" {
				break
			}
			q.Before = p.Next
		}
		if len(all) != 120 || all[0].Path != "/topics/t119" || all[119].Path != "/topics/t0" {
			t.Fatalf("paged through %d entries, first %q last %q; want 120 newest first", len(all), all[0].Path, all[len(all)-1].Path)
		}
		p, err := l.List(ctx, Query{Actor: "key:abcd1234", Limit: 500})
		if err != nil || len(p.Entries) != 40 {
			t.Errorf("entries of one actor: %d (%v), want 40", len(p.Entries), err)
		}
		if _, err := l.List(ctx, Query{Before: "x"}); err == nil {
			t.Errorf("a bad cursor was accepted")
		}
	})
}

// Entries stay small whatever the request carried, and pruning deletes
// exactly the entries older than the cut-off.
func TestClipAndPrune(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		ctx := context.Background()
		cfg.Component = "audit"
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		l, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		long := "/topics/" + strings.Repeat("é", 32<<10)
		start := time.Now()
		for i := range 3 {
			if err := l.Record(ctx, Entry{Actor: "admin", Method: strings.Repeat("M", 1000), Path: long, Route: "/", Status: 404 + i, IP: "::1", RequestID: "r"}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := l.List(ctx, Query{})
		if err != nil || len(p.Entries) != 3 {
			t.Fatalf("listed %d entries (%v), want 3", len(p.Entries), err)
		}
		e := p.Entries[0]
		if len(e.Path) > MaxPathBytes || !utf8.ValidString(e.Path) || !strings.HasSuffix(e.Path, "…") || !strings.HasPrefix(long, strings.TrimSuffix(e.Path, "…")) {
			t.Errorf("stored path of %d bytes (valid UTF-8 %v), want a prefix of at most %d bytes ending in …", len(e.Path), utf8.ValidString(e.Path), MaxPathBytes)
		}
		if len(e.Method) > 256 {
			t.Errorf("stored method of %d bytes, want at most 256", len(e.Method))
		}
		tests := []struct {
			before time.Time
			want   int64
		}{
			{start.Add(-time.Hour), 0},
			{start.Add(-time.Millisecond), 0},
			{time.Now().Add(time.Second), 3},
			{time.Now().Add(time.Hour), 0},
		}
		for _, tt := range tests {
			if n, err := l.Prune(ctx, tt.before); err != nil || n != tt.want {
				t.Errorf("Prune(%s) = %d, %v; want %d", tt.before.Format(time.RFC3339Nano), n, err, tt.want)
			}
		}
		if p, err := l.List(ctx, Query{}); err != nil || len(p.Entries) != 0 {
			t.Errorf("after pruning: %d entries (%v), want none", len(p.Entries), err)
		}
	})
}
