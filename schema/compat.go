package schema

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Incompatibility is one reason a new schema version breaks a
// compatibility mode against an existing version.
type Incompatibility struct {
	// Path is where in the data the change bites: a JSON Pointer over
	// values, with "*" standing for every item of an array or every
	// property the schema does not name ("/items/*/price"). "" is the
	// whole value.
	Path string `json:"path"`
	// Rule names the rule that found it; docs/schemas.md lists them
	// (type, enum, required, property-added, minimum, unprovable, ...).
	Rule string `json:"rule"`
	// Change says what changed, from the existing version to the new one.
	Change string `json:"change"`
	// Mode is the direction that breaks: BACKWARD (new readers cannot read
	// old data) or FORWARD (old readers cannot read new data).
	Mode Mode `json:"mode"`
	// Version is the existing version the new one was compared with; 0
	// when the comparison was not against a registered version.
	Version int `json:"version,omitempty"`
}

func (p Incompatibility) String() string {
	where := p.Path
	if where == "" {
		where = "(root)"
	}
	why := "new readers cannot read old data"
	if p.Mode == ModeForward {
		why = "old readers cannot read new data"
	}
	against := ""
	if p.Version > 0 {
		against = " against version " + strconv.Itoa(p.Version)
	}
	return fmt.Sprintf("%s: %s (breaks %s%s: %s)", where, p.Change, p.Mode, against, why)
}

// Compare reports the changes from old to new that break mode, comparing
// the two documents only: a transitive mode compares like its plain one.
// No result means compatible under the rules in docs/schemas.md. It fails
// with a [*CompileError] when either document does not compile.
func Compare(old, new []byte, mode Mode) ([]Incompatibility, error) {
	if !mode.Valid() {
		return nil, invalidf("compatibility mode %q is unknown", mode)
	}
	o, err := compile(old)
	if err != nil {
		return nil, fmt.Errorf("old schema: %w", err)
	}
	n, err := compile(new)
	if err != nil {
		return nil, fmt.Errorf("new schema: %w", err)
	}
	return compareCompiled(o, n, mode, 0), nil
}

// compareCompiled checks new against one old version in the directions
// mode asks for.
func compareCompiled(old, new *jsonschema.Schema, mode Mode, version int) []Incompatibility {
	var out []Incompatibility
	if mode.backward() {
		c := newChecker(true)
		for _, p := range c.sub(old, new, "", 0) {
			p.Mode, p.Version = ModeBackward, version
			out = append(out, p)
		}
	}
	if mode.forward() {
		c := newChecker(false)
		for _, p := range c.sub(new, old, "", 0) {
			p.Mode, p.Version = ModeForward, version
			out = append(out, p)
		}
	}
	return dedupe(out)
}

func dedupe(ps []Incompatibility) []Incompatibility {
	seen := map[Incompatibility]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Limits that keep a comparison of pathological schemas bounded; past
// them the checker gives up and says so (rule "unprovable").
const (
	maxDepth = 64
	maxSteps = 200_000
)

// checker proves that every value valid under one schema (a) is valid
// under another (b): a ⊆ b. BACKWARD compares old ⊆ new, FORWARD new ⊆
// old. It is sound and incomplete: it reports a problem wherever it cannot
// prove the inclusion, and each problem names the rule that failed.
type checker struct {
	// backward is true when a is the old schema and b the new one.
	backward bool
	// active holds the pairs being compared, with the path at which each
	// was entered, to stop on recursive schemas.
	active map[[2]*jsonschema.Schema]string
	// steps counts the work done, to give up past maxSteps.
	steps int
	// eq compares sub-schemas, remembering its answers.
	eq *equality
}

func newChecker(backward bool) *checker {
	return &checker{backward: backward, active: map[[2]*jsonschema.Schema]string{}, eq: newEquality()}
}

// oldNew orders a pair of descriptions of a and b as (old, new).
func (c *checker) oldNew(a, b string) (string, string) {
	if c.backward {
		return a, b
	}
	return b, a
}

// pick returns the message for the direction being checked.
func (c *checker) pick(backward, forward string) string {
	if c.backward {
		return backward
	}
	return forward
}

func problem(path, rule, format string, args ...any) []Incompatibility {
	return []Incompatibility{{Path: path, Rule: rule, Change: fmt.Sprintf(format, args...)}}
}

// sub returns the reasons why a value valid under a may be invalid under b;
// none when a ⊆ b is proven. A nil schema stands for true (no constraint).
func (c *checker) sub(a, b *jsonschema.Schema, path string, depth int) []Incompatibility {
	c.steps++
	if depth > maxDepth || c.steps > maxSteps {
		return problem(path, "unprovable", "the schemas nest too deeply or are too complex to compare")
	}
	a, b = deref(a), deref(b)
	if unconstrained(b) || isFalse(a) || c.eq.equal(a, b) {
		return nil
	}
	key := [2]*jsonschema.Schema{a, b}
	if at, ok := c.active[key]; ok {
		if len(path) > len(at) {
			// A recursive schema compared with itself one level deeper
			// into the value: values are finite, so by induction on
			// their depth this pair holds if everything else does.
			return nil
		}
		return problem(path, "unprovable", "a reference cycle that does not descend into the value")
	}
	c.active[key] = path
	defer delete(c.active, key)

	if isFalse(b) {
		return problem(path, "false-schema", "%s", c.pick("the new schema allows no value here", "the old schema allows no value here"))
	}
	if a == nil {
		a = trueSchema
	}

	// Keywords of b that a holds identically are implied: drop them.
	b = withoutImplied(c.eq, a, b)
	if unconstrained(b) {
		return nil
	}
	// b is a conjunction: a must be within each part.
	if parts := conjuncts(b); parts != nil {
		var out []Incompatibility
		for _, part := range parts {
			out = append(out, c.sub(a, part, path, depth+1)...)
		}
		return out
	}
	// a is a conjunction: it is within b if any one part is.
	if parts := conjuncts(a); parts != nil {
		return c.best(parts, b, path, depth)
	}
	// a is a union: within b if every alternative is, or if what a
	// requires besides its alternatives is.
	if arms := alternativesOf(a); arms != nil {
		var out []Incompatibility
		for _, arm := range arms {
			out = append(out, c.sub(arm, b, path, depth+1)...)
		}
		if len(out) == 0 {
			return nil
		}
		base := c.sub(without(a, func(s *jsonschema.Schema) { s.AnyOf, s.OneOf = nil, nil }), b, path, depth+1)
		if len(base) == 0 {
			return nil
		}
		if len(base) < len(out) {
			return base
		}
		return out
	}

	if vals, ok := finite(a); ok {
		return c.values(vals, b, path)
	}
	if _, ok := finite(b); ok {
		return c.enumAdded(a, b, path)
	}

	ta, tb := typesOf(a), typesOf(b)
	var out []Incompatibility
	if ta&^tb != 0 {
		from, to := c.oldNew(ta.String(), tb.String())
		out = append(out, problem(path, "type", "type changed from %s to %s", from, to)...)
	}
	common := ta & tb
	if common&(tInteger|tFraction) != 0 {
		out = append(out, c.numbers(a, b, common, path)...)
	}
	if common&tString != 0 {
		out = append(out, c.strings(a, b, path)...)
	}
	if common&tArray != 0 {
		out = append(out, c.arrays(a, b, path, depth)...)
	}
	if common&tObject != 0 {
		out = append(out, c.objects(a, b, path, depth)...)
	}
	out = append(out, c.combinators(a, b, path, depth)...)
	return out
}

// best returns nil when any candidate is within b, else the problems of
// the candidate with the fewest.
func (c *checker) best(candidates []*jsonschema.Schema, b *jsonschema.Schema, path string, depth int) []Incompatibility {
	var least []Incompatibility
	for _, cand := range candidates {
		if unconstrained(cand) {
			// b is constrained (sub checked), so this part cannot be
			// within it, and its problems would say nothing useful.
			continue
		}
		ps := c.sub(cand, b, path, depth+1)
		if len(ps) == 0 {
			return nil
		}
		// On a tie the later part wins: allOf entries, which say more
		// than the schema around them.
		if least == nil || len(ps) <= len(least) {
			least = ps
		}
	}
	if least == nil {
		return c.sub(trueSchema, b, path, depth+1)
	}
	return least
}

// values checks each value of a finite set against b exactly, with b's own
// validator.
func (c *checker) values(vals []any, b *jsonschema.Schema, path string) []Incompatibility {
	var out []Incompatibility
	bvals, bFinite := finite(b)
	for _, v := range vals {
		err := validate(b, v)
		if err == nil {
			continue
		}
		shown := display(v)
		if bFinite && !containsValue(bvals, v) {
			out = append(out, problem(path, "enum", "%s", c.pick("enum value "+shown+" removed", "enum value "+shown+" added"))...)
			continue
		}
		out = append(out, problem(path, "enum", "%s", c.pick(
			"value "+shown+" of the old enum is not valid under the new schema: "+err.Error(),
			"value "+shown+" of the new enum is not valid under the old schema: "+err.Error()))...)
	}
	return out
}

// enumAdded handles a b that allows finitely many values while a is not
// an enum: only a with finitely many values itself (null, booleans) can be
// within it.
func (c *checker) enumAdded(a, b *jsonschema.Schema, path string) []Incompatibility {
	ta := typesOf(a)
	if ta&^(tNull|tBoolean) == 0 {
		var vals []any
		if ta&tNull != 0 {
			vals = append(vals, nil)
		}
		if ta&tBoolean != 0 {
			vals = append(vals, true, false)
		}
		return c.values(vals, b, path)
	}
	bvals, _ := finite(b)
	shown := make([]string, len(bvals))
	for i, v := range bvals {
		shown[i] = display(v)
	}
	list := strings.Join(shown, ", ")
	return problem(path, "enum", "%s", c.pick("enum added: only "+list+" allowed", "enum removed: values besides "+list+" allowed"))
}

// combinators checks b's anyOf, oneOf, not, if/then/else and dynamic
// references, which withoutImplied left only where they differ from a's.
// a has no alternatives of its own here: sub split them off already.
func (c *checker) combinators(a, b *jsonschema.Schema, path string, depth int) []Incompatibility {
	var out []Incompatibility
	if len(b.AnyOf) > 0 {
		var closest []Incompatibility
		ok := false
		for _, alt := range b.AnyOf {
			ps := c.sub(a, alt, path, depth+1)
			if len(ps) == 0 {
				ok = true
				break
			}
			if closest == nil || len(ps) < len(closest) {
				closest = ps
			}
		}
		if !ok {
			out = append(out, problem(path, "any-of", "%s may match no alternative of the %s anyOf (closest: %s)",
				c.pick("old values", "new values"), c.pick("new", "old"), closest[0].Change)...)
		}
	}
	if len(b.OneOf) > 0 {
		ok := false
		for j, alt := range b.OneOf {
			if len(c.sub(a, alt, path, depth+1)) > 0 {
				continue
			}
			ok = true
			for k, other := range b.OneOf {
				c.steps++
				if k != j && !disjoint(a, other, 0) {
					ok = false
					break
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			out = append(out, problem(path, "one-of", "%s may match no alternative, or more than one, of the %s oneOf",
				c.pick("old values", "new values"), c.pick("new", "old"))...)
		}
	}
	if b.Not != nil && !disjoint(a, b.Not, 0) {
		out = append(out, problem(path, "unprovable", "\"not\" changed; the checker cannot prove such a change compatible")...)
	}
	if b.If != nil {
		out = append(out, problem(path, "unprovable", "if/then/else changed; the checker cannot prove such a change compatible")...)
	}
	if b.DynamicRef != nil || b.RecursiveRef != nil {
		out = append(out, problem(path, "unprovable", "a dynamic reference changed; the checker cannot prove such a change compatible")...)
	}
	return out
}

// disjoint reports whether no value can be valid under both x and y,
// proven by types, by enums, or by a property both require whose schemas
// are disjoint (a discriminator such as "kind": {"const": "refund"}).
func disjoint(x, y *jsonschema.Schema, depth int) bool {
	x, y = deref(x), deref(y)
	if isFalse(x) || isFalse(y) {
		return true
	}
	if x == nil || y == nil || depth > 8 {
		return false
	}
	for _, p := range [][2]*jsonschema.Schema{{x, y}, {y, x}} {
		if vals, ok := finite(p[0]); ok {
			all := true
			for _, v := range vals {
				if validate(p[1], v) == nil {
					all = false
					break
				}
			}
			if all {
				return true
			}
		}
	}
	common := typesOf(x) & typesOf(y)
	if common == 0 {
		return true
	}
	if common&^tObject != 0 {
		return false
	}
	for _, name := range x.Required {
		if slices.Contains(y.Required, name) && disjoint(x.Properties[name], y.Properties[name], depth+1) {
			return true
		}
	}
	return false
}

// validate runs s's validator on v, turning a panic of the validator on
// an odd sub-schema into an error.
func validate(s *jsonschema.Schema, v any) (err error) {
	if s == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot validate here: %v", r)
		}
	}()
	if err := s.Validate(v); err != nil {
		ve, ok := err.(*jsonschema.ValidationError)
		if !ok {
			return err
		}
		var msgs []string
		for _, fe := range fieldErrors(ve) {
			if fe.Path == "" {
				msgs = append(msgs, fe.Message)
			} else {
				msgs = append(msgs, fe.String())
			}
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

func display(v any) string {
	b, err := jsonMarshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func containsValue(vals []any, v any) bool {
	d := display(v)
	for _, x := range vals {
		if display(x) == d {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
