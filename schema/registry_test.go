package schema_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
)

// openRegistry opens a registry in a fresh store of the dialect base names.
func openRegistry(t testing.TB, base store.Config, cfg schema.Config) *schema.Registry {
	t.Helper()
	ctx := context.Background()
	base.Component = "schema"
	db, err := store.Open(ctx, base)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := schema.Open(ctx, db, cfg)
	if err != nil {
		t.Fatalf("schema.Open: %v", err)
	}
	return r
}

func mustRegister(t *testing.T, r *schema.Registry, subject, doc string) schema.Version {
	t.Helper()
	v, _, err := r.Register(context.Background(), subject, []byte(doc))
	if err != nil {
		t.Fatalf("Register(%s, %s): %v", subject, doc, err)
	}
	return v
}

const (
	v1 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}},"required":["id"]}`
	// v2 drops a required property: backward compatible.
	v2 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}}}`
	// v3 changes total's type: incompatible both ways.
	v3 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"string"}}}`
)

func TestRegistry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		m, err := schema.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		r := openRegistry(t, base, schema.Config{Metrics: m})

		first := mustRegister(t, r, "orders-value", v1)
		if first.Version != 1 || first.ID < 1 {
			t.Fatalf("first version: got version %d id %d, want version 1 and an id", first.Version, first.ID)
		}
		again, created, err := r.Register(ctx, "orders-value", []byte(` { "required": ["id"], "type": "object", "properties": {"total": {"type": "number"}, "id": {"type": "string"}} }`))
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("same schema again: got %+v created %v err %v, want version 1 unchanged", again, created, err)
		}
		second := mustRegister(t, r, "orders-value", v2)
		if second.Version != 2 || second.ID == first.ID {
			t.Fatalf("second version: got version %d id %d", second.Version, second.ID)
		}
		other := mustRegister(t, r, "payments-value", v1)
		if other.ID == first.ID || other.Version != 1 {
			t.Fatalf("another subject: got %+v, want version 1 with its own id", other)
		}

		_, _, err = r.Register(ctx, "orders-value", []byte(v3))
		var ie *schema.IncompatibleError
		if !errors.As(err, &ie) || !errors.Is(err, schema.ErrIncompatible) {
			t.Fatalf("incompatible version: got %v, want an IncompatibleError", err)
		}
		if got, want := ie.Problems[0].String(), "/total: type changed from number to string (breaks BACKWARD against version 2: new readers cannot read old data)"; got != want {
			t.Errorf("reason: got %q, want %q", got, want)
		}

		latest, err := r.Version(ctx, "orders-value", schema.Latest)
		if err != nil || latest.Version != 2 || string(latest.Schema) != v2 {
			t.Fatalf("latest: got %+v, %v", latest, err)
		}
		byID, err := r.ByID(ctx, first.ID)
		if err != nil || byID.Subject != "orders-value" || byID.Version != 1 {
			t.Fatalf("by id: got %+v, %v", byID, err)
		}
		subjects, err := r.Subjects(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(subjects); got != fmt.Sprintf("[{orders-value 2 2 %d BACKWARD false false} {payments-value 1 1 %d BACKWARD false false}]", second.ID, other.ID) {
			t.Errorf("subjects: got %s", got)
		}
		versions, err := r.Versions(ctx, "orders-value", false)
		if err != nil || len(versions) != 2 || versions[0].Version != 1 || versions[1].ID != second.ID || versions[0].Schema != nil {
			t.Errorf("versions: got %+v, %v", versions, err)
		}

		if got := counter(t, reg, "arus_schema_registrations_total", map[string]string{"subject": "orders-value"}); got != 2 {
			t.Errorf("registrations: got %v, want 2", got)
		}
		if got := counter(t, reg, "arus_schema_compatibility_rejections_total", map[string]string{"subject": "orders-value", "mode": "BACKWARD"}); got != 1 {
			t.Errorf("rejections: got %v, want 1", got)
		}
	})
}

func TestRegistryModes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		r := openRegistry(t, base, schema.Config{})
		mustRegister(t, r, "s", `{"type":"integer"}`)

		if m, set, err := r.Mode(ctx, "s"); err != nil || m != schema.ModeBackward || set {
			t.Fatalf("mode: got %s %v %v, want the default BACKWARD", m, set, err)
		}
		// Widening is backward compatible but not forward.
		if err := r.SetMode(ctx, "s", schema.ModeForward); err != nil {
			t.Fatal(err)
		}
		if m, set, _ := r.Mode(ctx, "s"); m != schema.ModeForward || !set {
			t.Fatalf("mode after set: got %s %v", m, set)
		}
		if _, _, err := r.Register(ctx, "s", []byte(`{"type":"number"}`)); !errors.Is(err, schema.ErrIncompatible) {
			t.Fatalf("widening under FORWARD: got %v, want ErrIncompatible", err)
		}
		if err := r.SetMode(ctx, "s", ""); err != nil {
			t.Fatal(err)
		}
		mustRegister(t, r, "s", `{"type":"number"}`)

		// Transitive modes compare with every live version.
		if err := r.SetMode(ctx, "s", schema.ModeBackwardTransitive); err != nil {
			t.Fatal(err)
		}
		mustRegister(t, r, "s", `{"type":["number","string"]}`)
		c, err := r.Check(ctx, "s", []byte(`{"type":["number","string"],"not":{"type":"integer"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.Compatible || !slices.Equal(c.Versions, []int{3, 2, 1}) {
			t.Errorf("transitive check: got compatible %v against %v, want incompatible against [3 2 1]", c.Compatible, c.Versions)
		}

		// The default mode applies to subjects without their own.
		if err := r.SetDefaultMode(ctx, schema.ModeNone); err != nil {
			t.Fatal(err)
		}
		if m, err := r.DefaultMode(ctx); err != nil || m != schema.ModeNone {
			t.Fatalf("default mode: got %s %v", m, err)
		}
		mustRegister(t, r, "t", `{"type":"string"}`)
		mustRegister(t, r, "t", `{"type":"boolean"}`)
		if err := r.SetMode(ctx, "new-subject", schema.ModeFull); err != nil {
			t.Fatal(err)
		}
		if m, set, _ := r.Mode(ctx, "new-subject"); m != schema.ModeFull || !set {
			t.Errorf("mode of a subject without versions: got %s %v", m, set)
		}
		if subjects, _ := r.Subjects(ctx, true); len(subjects) != 2 {
			t.Errorf("a subject with a mode but no versions is listed: %+v", subjects)
		}
		if err := r.SetMode(ctx, "s", "SIDEWAYS"); !errors.Is(err, schema.ErrInvalid) {
			t.Errorf("unknown mode: got %v, want ErrInvalid", err)
		}
	})
}

func TestRegistryDelete(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		r := openRegistry(t, base, schema.Config{DefaultMode: schema.ModeNone})
		a := mustRegister(t, r, "s", `{"type":"string"}`)
		b := mustRegister(t, r, "s", `{"type":"integer"}`)

		got, err := r.DeleteVersion(ctx, "s", schema.Latest)
		if err != nil || got.ID != b.ID || !got.Deleted {
			t.Fatalf("delete latest: got %+v, %v", got, err)
		}
		if latest, _ := r.Version(ctx, "s", schema.Latest); latest.ID != a.ID {
			t.Errorf("latest after delete: got %+v, want version 1", latest)
		}
		if _, err := r.Version(ctx, "s", 2); !errors.Is(err, schema.ErrNotFound) {
			t.Errorf("deleted version: got %v, want ErrNotFound", err)
		}
		if v, err := r.ByID(ctx, b.ID); err != nil || !v.Deleted {
			t.Errorf("deleted version by id: got %+v, %v, want it, marked deleted", v, err)
		}
		if all, _ := r.Versions(ctx, "s", true); len(all) != 2 || !all[1].Deleted {
			t.Errorf("versions with deleted: got %+v", all)
		}
		// The same document again is a new version: the deleted one is
		// not reused, nor its number.
		c := mustRegister(t, r, "s", `{"type":"integer"}`)
		if c.Version != 3 || c.ID == b.ID {
			t.Errorf("re-registered: got version %d id %d, want version 3 and a new id", c.Version, c.ID)
		}

		nums, err := r.DeleteSubject(ctx, "s")
		if err != nil || !slices.Equal(nums, []int{1, 3}) {
			t.Fatalf("delete subject: got %v, %v", nums, err)
		}
		if subjects, _ := r.Subjects(ctx, false); len(subjects) != 0 {
			t.Errorf("subjects after delete: %+v", subjects)
		}
		if subjects, _ := r.Subjects(ctx, true); len(subjects) != 1 || !subjects[0].Deleted {
			t.Errorf("subjects with deleted: %+v", subjects)
		}
		if _, err := r.DeleteSubject(ctx, "s"); !errors.Is(err, schema.ErrNotFound) {
			t.Errorf("delete again: got %v, want ErrNotFound", err)
		}
		if _, err := r.Versions(ctx, "s", false); !errors.Is(err, schema.ErrNotFound) {
			t.Errorf("versions of a deleted subject: got %v, want ErrNotFound", err)
		}
		d := mustRegister(t, r, "s", `{"type":"boolean"}`)
		if d.Version != 4 {
			t.Errorf("after deleting the subject: got version %d, want 4", d.Version)
		}
	})
}

func TestRegistryErrors(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		r := openRegistry(t, base, schema.Config{MaxSchemaBytes: 64})
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"bad subject", func() error { _, _, err := r.Register(ctx, "bad/subject", []byte(`{}`)); return err }, schema.ErrInvalid},
			{"not JSON", func() error { _, _, err := r.Register(ctx, "s", []byte(`{"type":`)); return err }, schema.ErrInvalidSchema},
			{"not a schema", func() error { _, _, err := r.Register(ctx, "s", []byte(`{"minimum":"zero"}`)); return err }, schema.ErrInvalidSchema},
			{"a string", func() error { _, _, err := r.Register(ctx, "s", []byte(`"x"`)); return err }, schema.ErrInvalidSchema},
			{"external ref", func() error {
				_, _, err := r.Register(ctx, "s", []byte(`{"$ref":"file:///etc/passwd"}`))
				return err
			}, schema.ErrInvalidSchema},
			{"too large", func() error {
				_, _, err := r.Register(ctx, "s", []byte(`{"description":"`+string(make([]byte, 64))+`"}`))
				return err
			}, schema.ErrInvalidSchema},
			{"unknown subject", func() error { _, err := r.Version(ctx, "nope", schema.Latest); return err }, schema.ErrNotFound},
			{"version 0", func() error { _, err := r.Version(ctx, "nope", 0); return err }, schema.ErrInvalid},
			{"unknown id", func() error { _, err := r.ByID(ctx, 999); return err }, schema.ErrNotFound},
			{"delete unknown", func() error { _, err := r.DeleteVersion(ctx, "nope", 1); return err }, schema.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, tt.want) {
					t.Errorf("got %v, want %v", err, tt.want)
				}
			})
		}
	})
}

// TestRegistryConcurrent registers versions to one subject at once. Each
// "a" version is compatible with v1 and the other "a" versions but not with
// any "b" version, and the other way round: the lock on the subject makes
// each registration see those before it, so only the versions of whichever
// kind came first are accepted, all of them, numbered without gaps.
func TestRegistryConcurrent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		r := openRegistry(t, base, schema.Config{})
		mustRegister(t, r, "s", `{"type":"integer","minimum":0,"maximum":10}`)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := map[string][]int{}
		refused := 0
		for i := range 8 {
			kind := []string{"a", "b"}[i%2]
			doc := fmt.Sprintf(`{"type":"integer","minimum":0,"description":"a%d"}`, i)
			if kind == "b" {
				doc = fmt.Sprintf(`{"type":"integer","maximum":10,"description":"b%d"}`, i)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, _, err := r.Register(ctx, "s", []byte(doc))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won[kind] = append(won[kind], v.Version)
				case errors.Is(err, schema.ErrIncompatible):
					refused++
				default:
					t.Errorf("register: %v", err)
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 || refused != 4 {
			t.Fatalf("got wins %v and %d refusals, want four wins of one kind and four refusals", won, refused)
		}
		for _, numbers := range won {
			slices.Sort(numbers)
			if !slices.Equal(numbers, []int{2, 3, 4, 5}) {
				t.Errorf("versions: got %v, want 2 to 5", numbers)
			}
		}
	})
}

// counter returns the value of a counter series in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
