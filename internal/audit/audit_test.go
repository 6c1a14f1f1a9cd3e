package audit

import (
	"context"
	"fmt"
	"testing"

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
