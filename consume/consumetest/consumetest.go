// Package consumetest helps test code built on the consumer runtime: an
// in-memory [consume.Inbox] and a wait for a condition.
package consumetest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Inbox is an in-memory consume.Inbox for tests: it remembers ids in a
// map and counts how often each was handled.
type Inbox struct {
	mu   sync.Mutex
	seen map[string]bool
}

// NewInbox returns an empty inbox.
func NewInbox() *Inbox { return &Inbox{seen: map[string]bool{}} }

// NewInboxSize returns an empty inbox with room for n ids before its map
// grows, for benchmarks that know how many records they handle.
func NewInboxSize(n int) *Inbox { return &Inbox{seen: make(map[string]bool, n)} }

// Once calls fn unless id was handled before, and marks id when fn
// succeeds.
func (in *Inbox) Once(ctx context.Context, id string, fn func(ctx context.Context) error) error {
	in.mu.Lock()
	done := in.seen[id]
	in.mu.Unlock()
	if done {
		return nil
	}
	if err := fn(ctx); err != nil {
		return err
	}
	in.mu.Lock()
	in.seen[id] = true
	in.mu.Unlock()
	return nil
}

// Seen reports whether id was marked.
func (in *Inbox) Seen(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seen[id]
}

// Eventually polls cond every 10ms until it holds or timeout passes, and
// fails the test with msg then.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
