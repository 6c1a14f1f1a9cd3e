package sink

import (
	"fmt"
	"slices"
	"strings"
)

// pending is one change that survived the position filter, with its index
// in the batch as the relay gave it (for errors).
type pending struct {
	index int
	op    Op // Upsert, Insert or Delete after applying the target's mode
	row   map[string]any
}

// group is a run of changes written by the same statement shape: one op
// over one set of columns.
type group struct {
	op      Op
	columns []string // sorted; for Delete, the key
	changes []pending
}

// collapse keeps the last change of each key (a delete after an upsert
// wins, an upsert after a delete wins) and groups what is left by op and
// column set. With a key and upserts, the order between rows of different
// keys does not matter, so groups gather all alike changes; in insert
// mode it does (an insert, a delete of it, an insert again), so groups are
// runs of consecutive alike changes.
func collapse(t Target, changes []pending) ([]group, error) {
	if t.Mode == Upsert {
		last := make(map[string]int, len(changes))
		keep := changes[:0:0]
		for _, c := range changes {
			k, err := keyOf(t.Key, c)
			if err != nil {
				return nil, err
			}
			if i, ok := last[k]; ok {
				keep[i] = c
				continue
			}
			last[k] = len(keep)
			keep = append(keep, c)
		}
		changes = keep
	}
	var groups []group
	index := map[string]int{}
	for _, c := range changes {
		cols := t.Key
		if c.op != Delete {
			cols = make([]string, 0, len(c.row))
			for name := range c.row {
				cols = append(cols, name)
			}
			slices.Sort(cols)
		} else if _, err := keyOf(t.Key, c); err != nil {
			return nil, err
		}
		sig := c.op.String() + "\x00" + strings.Join(cols, "\x00")
		if t.Mode == Upsert {
			if i, ok := index[sig]; ok {
				groups[i].changes = append(groups[i].changes, c)
				continue
			}
			index[sig] = len(groups)
		} else if n := len(groups); n > 0 && groups[n-1].op == c.op && slices.Equal(groups[n-1].columns, cols) {
			groups[n-1].changes = append(groups[n-1].changes, c)
			continue
		}
		groups = append(groups, group{op: c.op, columns: cols, changes: []pending{c}})
	}
	return groups, nil
}

// keyOf renders the key values of a change as a map key.
func keyOf(key []string, c pending) (string, error) {
	if len(key) == 0 {
		return "", &PermanentError{Index: c.index, Err: fmt.Errorf("the route has no key columns, so it cannot %s", c.op)}
	}
	var b strings.Builder
	for _, k := range key {
		v, ok := c.row[k]
		if !ok || v == nil {
			return "", &ValueError{Index: c.index, Column: k, Type: "key", Value: v, Reason: "the key column is missing or null"}
		}
		fmt.Fprintf(&b, "%T:%v\x00", v, v)
	}
	return b.String(), nil
}

// chunks splits n rows of width parameters each so that no statement has
// more than limit parameters.
func chunks(n, width, limit int) [][2]int {
	per := limit / max(width, 1)
	if per < 1 {
		per = 1
	}
	var out [][2]int
	for lo := 0; lo < n; lo += per {
		out = append(out, [2]int{lo, min(lo+per, n)})
	}
	return out
}
