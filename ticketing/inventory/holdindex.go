package inventory

import (
	"container/heap"
	"time"
)

// holdIndex answers "how many tickets are held at now" without looking at
// every hold: the holds not yet past their expiry as of the last question
// sit in a heap by expiry with the sum of their quantities, and a later
// question only pops the holds that expired since. A question about an
// earlier moment than the last rebuilds it.
type holdIndex struct {
	entries expiryHeap
	live    int       // quantity of the active holds expiring after asOf
	asOf    time.Time // the moment of the last question
	seq     uint64
	current map[string]uint64 // order -> seq of its entry in the heap
}

type expiryEntry struct {
	at    time.Time
	order string
	qty   int
	seq   uint64
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newHoldIndex(holds map[string]hold, now time.Time) *holdIndex {
	ix := &holdIndex{asOf: now, current: make(map[string]uint64, len(holds))}
	for order, h := range holds {
		ix.add(order, h)
	}
	return ix
}

// add indexes an active hold.
func (ix *holdIndex) add(order string, h hold) {
	if !h.ExpiresAt.After(ix.asOf) {
		return // already past its expiry: not held
	}
	ix.seq++
	heap.Push(&ix.entries, expiryEntry{at: h.ExpiresAt, order: order, qty: h.Quantity, seq: ix.seq})
	ix.current[order] = ix.seq
	ix.live += h.Quantity
}

// remove forgets an active hold that an event ended.
func (ix *holdIndex) remove(order string, h hold) {
	if _, ok := ix.current[order]; ok {
		ix.live -= h.Quantity
		delete(ix.current, order) // its heap entry is now stale
	}
}

// held returns the quantity of active holds expiring after now.
func (ix *holdIndex) held(now time.Time) int {
	for len(ix.entries) > 0 && !ix.entries[0].at.After(now) {
		e := heap.Pop(&ix.entries).(expiryEntry)
		if ix.current[e.order] == e.seq {
			ix.live -= e.qty
			delete(ix.current, e.order)
		}
	}
	ix.asOf = now
	return ix.live
}
