package gate_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// issueMany issues n tickets of area ga in orders of 500.
func issueMany(b *testing.B, s *gate.Service, n int) []string {
	b.Helper()
	var qrs []string
	for o := 0; len(qrs) < n; o++ {
		m := messages.TicketsIssued{OrderID: fmt.Sprintf("o%d", o), EventID: "ev1", Starts: t0, Ends: t0.Add(5 * time.Hour)}
		for i := 0; i < 500 && len(qrs)+i < n; i++ {
			m.Tickets = append(m.Tickets, messages.Ticket{TicketID: fmt.Sprintf("o%d-t%d", o, i), AreaID: "ga"})
		}
		a, err := s.IssueTickets(context.Background(), m)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range a.Passes {
			qrs = append(qrs, p.QR)
		}
	}
	if _, err := s.Project(context.Background()); err != nil {
		b.Fatal(err)
	}
	return qrs
}

// cpuTime is the process's CPU time (user and system) so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRedeemOnline: validations per second of distinct tickets on
// SQLite (the embedded engine) and PostgreSQL, from 32 goroutines per CPU
// (64 on two cores), as many devices scanning at once: their scans commit
// in groups. cpu-µs/redeem is this process's CPU time per scan (on
// PostgreSQL the server's own CPU is not in it), what the figure would be
// bound by on idle cores.
func BenchmarkRedeemOnline(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRedeemOnline(b, store.Config{Dir: b.TempDir()}) })
	b.Run("postgres", func(b *testing.B) { benchRedeemOnline(b, store.Config{DSN: storetest.PostgresSchema(b)}) })
}

func benchRedeemOnline(b *testing.B, base store.Config) {
	s := openService(b, base)
	qrs := issueMany(b, s, max(b.N, 1))
	var next atomic.Int64
	cpu := cpuTime(b)
	b.ResetTimer()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			res, err := s.Redeem(context.Background(), gate.Redeem{EventID: "ev1", Secret: qrs[i], GateID: "main", Direction: gate.DirectionEntry, At: t0.Add(time.Minute)})
			if err != nil || !res.OK {
				b.Errorf("redeem: %+v %v", res, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "redeems/s")
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/redeem")
}

// BenchmarkVerifyOffline: one device-side check of a pass with the public
// key alone.
func BenchmarkVerifyOffline(b *testing.B) {
	key := testKeyB(b)
	keys := map[uint16]ed25519.PublicKey{1: key.Public().(ed25519.PublicKey)}
	qr, err := gate.Sign(gate.Pass{Kind: gate.KindTicket, KeyID: 1, EventID: "ev1", PassID: "o123-t45", AreaID: "ga", NotBefore: t0, NotAfter: t0.Add(time.Hour)}, key)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := gate.Verify(qr, "ev1", keys); err != nil {
			b.Fatal(err)
		}
	}
}

func testKeyB(b *testing.B) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

// BenchmarkBundle100k: downloading the offline bundle of an event of
// 100,000 tickets with the whole list over loopback HTTP, built from the
// access list and encoded as JSON per request, as the API serves it; its
// size as sent and gzip-compressed.
func BenchmarkBundle100k(b *testing.B) {
	s := openService(b, store.Config{Dir: b.TempDir()})
	start := time.Now()
	issueMany(b, s, 100_000)
	issued := time.Since(start)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bundle, err := s.Bundle(r.Context(), "ev1", true)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bundle)
	}))
	defer srv.Close()
	var body []byte
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("download: %d %v", resp.StatusCode, err)
		}
	}
	b.StopTimer()
	var bundle gate.Bundle
	if err := json.Unmarshal(body, &bundle); err != nil || len(bundle.Passes) != 100_000 {
		b.Fatalf("bundle of %d passes (%v), want 100000", len(bundle.Passes), err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(body)
	_ = w.Close()
	b.ReportMetric(float64(len(body)), "bytes")
	b.ReportMetric(float64(gz.Len()), "gzip-bytes")
	b.ReportMetric(issued.Seconds(), "s-to-issue")
}
