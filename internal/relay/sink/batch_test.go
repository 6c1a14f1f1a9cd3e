package sink

import (
	"errors"
	"fmt"
	"testing"
)

func TestCollapse(t *testing.T) {
	up := func(i int, id int64, name string) pending {
		return pending{index: i, op: Upsert, row: map[string]any{"id": id, "name": name}}
	}
	del := func(i int, id int64) pending { return pending{index: i, op: Delete, row: map[string]any{"id": id}} }
	show := func(gs []group) string {
		s := ""
		for _, g := range gs {
			s += g.op.String() + "["
			for _, c := range g.changes {
				s += fmt.Sprint(c.index, " ")
			}
			s += "]"
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		target  Target
		changes []pending
		want    string
	}{
		{"last upsert wins", items, []pending{up(0, 1, "a"), up(1, 2, "b"), up(2, 1, "c")}, "upsert[2 1 ]"},
		{"delete after upsert wins", items, []pending{up(0, 1, "a"), del(1, 1)}, "delete[1 ]"},
		{"upsert after delete wins", items, []pending{del(0, 1), up(1, 1, "a")}, "upsert[1 ]"},
		{"different column sets", items, []pending{up(0, 1, "a"), {index: 1, op: Upsert, row: map[string]any{"id": int64(2)}}, up(2, 3, "c")}, "upsert[0 2 ]upsert[1 ]"},
		{"insert mode keeps order and repeats", Target{Table: items.Table, Key: []string{"id"}, Mode: Insert},
			[]pending{{index: 0, op: Insert, row: map[string]any{"id": int64(1)}}, {index: 1, op: Insert, row: map[string]any{"id": int64(1)}}, del(2, 1), {index: 3, op: Insert, row: map[string]any{"id": int64(1)}}},
			"insert[0 1 ]delete[2 ]insert[3 ]"},
	} {
		gs, err := collapse(tc.target, tc.changes)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := show(gs); got != tc.want {
			t.Errorf("%s: groups = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCollapseNeedsKeyValues(t *testing.T) {
	_, err := collapse(items, []pending{{index: 3, op: Upsert, row: map[string]any{"name": "x"}}})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Index != 3 || ve.Column != "id" {
		t.Errorf("collapse without the key = %v, want a *ValueError for id of change 3", err)
	}
}

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		n, width, limit int
		want            string
	}{
		{0, 3, 10, "[]"},
		{5, 3, 10, "[[0 3] [3 5]]"},
		{5, 20, 10, "[[0 1] [1 2] [2 3] [3 4] [4 5]]"},
		{500, 10, 65535, "[[0 500]]"},
		{500, 10, 2099, "[[0 209] [209 418] [418 500]]"},
	} {
		if got := fmt.Sprint(chunks(tc.n, tc.width, tc.limit)); got != tc.want {
			t.Errorf("chunks(%d, %d, %d) = %s, want %s", tc.n, tc.width, tc.limit, got, tc.want)
		}
	}
}
