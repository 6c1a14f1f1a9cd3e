package schema

import (
	"math/big"
	"reflect"
	"slices"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// equality reports whether two compiled schemas constrain values
// identically keyword by keyword: the same assertions with the same
// values, the same sub-schemas. Annotations (title, description, default,
// examples, ...) are ignored. Schemas that differ only in how they are
// written (a reordered enum, 1 for 1.0) may compare unequal; the checker
// then falls back to its rules, so such a miss costs precision, never
// soundness.
//
// It remembers its answers, so that a checker comparing the same pairs
// again and again does the work once.
type equality struct {
	// active holds the pairs being compared: meeting one again (a
	// recursive schema) assumes it equal, which is what equality of
	// recursive structures means.
	active map[[2]*jsonschema.Schema]bool
	// visited are the pairs compared during the current top-level call.
	visited [][2]*jsonschema.Schema
	// known are settled answers. An unequal pair is unequal whatever was
	// assumed; pairs found equal are settled only when the top-level
	// comparison holds, since they may rest on an assumption.
	known map[[2]*jsonschema.Schema]bool
}

func newEquality() *equality {
	return &equality{active: map[[2]*jsonschema.Schema]bool{}, known: map[[2]*jsonschema.Schema]bool{}}
}

// equal compares two schemas.
func (e *equality) equal(x, y *jsonschema.Schema) bool {
	return e.settle(e.schemas(x, y))
}

// equalList compares two lists of schemas, position by position.
func (e *equality) equalList(x, y []*jsonschema.Schema) bool {
	return e.settle(e.lists(x, y))
}

func (e *equality) settle(eq bool) bool {
	if eq {
		for _, key := range e.visited {
			e.known[key] = true
		}
	}
	e.visited = e.visited[:0]
	return eq
}

func (e *equality) schemas(x, y *jsonschema.Schema) bool {
	x, y = deref(x), deref(y)
	if x == y {
		return true
	}
	if x == nil || y == nil {
		return unconstrained(x) && unconstrained(y)
	}
	key := [2]*jsonschema.Schema{x, y}
	if eq, ok := e.known[key]; ok {
		return eq
	}
	if e.active[key] {
		return true
	}
	e.active[key] = true
	defer delete(e.active, key)
	e.visited = append(e.visited, key)
	eq := e.fields(x, y)
	if !eq {
		e.known[key] = false
	}
	return eq
}

func (e *equality) fields(x, y *jsonschema.Schema) bool {
	return e.bools(x.Bool, y.Bool) &&
		e.schemas(x.Ref, y.Ref) && e.schemas(x.RecursiveRef, y.RecursiveRef) && x.RecursiveAnchor == y.RecursiveAnchor &&
		e.dynamicRefs(x.DynamicRef, y.DynamicRef) && x.DynamicAnchor == y.DynamicAnchor &&
		e.typeSets(x.Types, y.Types) && e.enums(x.Enum, y.Enum) && e.values(x.Const, y.Const) &&
		e.schemas(x.Not, y.Not) && e.lists(x.AllOf, y.AllOf) && e.lists(x.AnyOf, y.AnyOf) && e.lists(x.OneOf, y.OneOf) &&
		e.schemas(x.If, y.If) && e.schemas(x.Then, y.Then) && e.schemas(x.Else, y.Else) &&
		e.formats(x.Format, y.Format) &&
		e.ints(x.MaxProperties, y.MaxProperties) && e.ints(x.MinProperties, y.MinProperties) &&
		e.nameSets(x.Required, y.Required) && e.schemas(x.PropertyNames, y.PropertyNames) &&
		e.schemaMaps(x.Properties, y.Properties) && e.patterns(x.PatternProperties, y.PatternProperties) &&
		e.anys(x.AdditionalProperties, y.AdditionalProperties) && e.dependencies(x.Dependencies, y.Dependencies) &&
		e.requiredMaps(x.DependentRequired, y.DependentRequired) && e.schemaMaps(x.DependentSchemas, y.DependentSchemas) &&
		e.schemas(x.UnevaluatedProperties, y.UnevaluatedProperties) &&
		e.ints(x.MinItems, y.MinItems) && e.ints(x.MaxItems, y.MaxItems) && x.UniqueItems == y.UniqueItems &&
		e.schemas(x.Contains, y.Contains) && e.ints(x.MinContains, y.MinContains) && e.ints(x.MaxContains, y.MaxContains) &&
		e.anys(x.Items, y.Items) && e.anys(x.AdditionalItems, y.AdditionalItems) &&
		e.lists(x.PrefixItems, y.PrefixItems) && e.schemas(x.Items2020, y.Items2020) &&
		e.schemas(x.UnevaluatedItems, y.UnevaluatedItems) &&
		e.ints(x.MinLength, y.MinLength) && e.ints(x.MaxLength, y.MaxLength) && e.regexps(x.Pattern, y.Pattern) &&
		x.ContentEncoding == y.ContentEncoding && x.ContentMediaType == y.ContentMediaType &&
		e.schemas(x.ContentSchema, y.ContentSchema) &&
		e.rats(x.Maximum, y.Maximum) && e.rats(x.Minimum, y.Minimum) &&
		e.rats(x.ExclusiveMaximum, y.ExclusiveMaximum) && e.rats(x.ExclusiveMinimum, y.ExclusiveMinimum) &&
		e.rats(x.MultipleOf, y.MultipleOf) &&
		len(x.Extensions) == 0 && len(y.Extensions) == 0
}

func (e *equality) lists(x, y []*jsonschema.Schema) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !e.schemas(x[i], y[i]) {
			return false
		}
	}
	return true
}

func (e *equality) schemaMaps(x, y map[string]*jsonschema.Schema) bool {
	if len(x) != len(y) {
		return false
	}
	for k, xs := range x {
		ys, ok := y[k]
		if !ok || !e.schemas(xs, ys) {
			return false
		}
	}
	return true
}

func (e *equality) patterns(x, y map[jsonschema.Regexp]*jsonschema.Schema) bool {
	if len(x) != len(y) {
		return false
	}
	byText := make(map[string]*jsonschema.Schema, len(y))
	for re, s := range y {
		byText[re.String()] = s
	}
	for re, xs := range x {
		ys, ok := byText[re.String()]
		if !ok || !e.schemas(xs, ys) {
			return false
		}
	}
	return true
}

// anys compares the keywords that hold a boolean, a schema or a list of
// schemas (additionalProperties, items, additionalItems).
func (e *equality) anys(x, y any) bool {
	switch xv := x.(type) {
	case nil:
		return y == nil
	case bool:
		yv, ok := y.(bool)
		return ok && xv == yv
	case *jsonschema.Schema:
		yv, ok := y.(*jsonschema.Schema)
		return ok && e.schemas(xv, yv)
	case []*jsonschema.Schema:
		yv, ok := y.([]*jsonschema.Schema)
		return ok && e.lists(xv, yv)
	}
	return false
}

func (e *equality) dependencies(x, y map[string]any) bool {
	if len(x) != len(y) {
		return false
	}
	for k, xv := range x {
		yv, ok := y[k]
		if !ok {
			return false
		}
		switch xv := xv.(type) {
		case []string:
			ys, ok := yv.([]string)
			if !ok || !e.nameSets(xv, ys) {
				return false
			}
		case *jsonschema.Schema:
			ys, ok := yv.(*jsonschema.Schema)
			if !ok || !e.schemas(xv, ys) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (e *equality) requiredMaps(x, y map[string][]string) bool {
	if len(x) != len(y) {
		return false
	}
	for k, xv := range x {
		yv, ok := y[k]
		if !ok || !e.nameSets(xv, yv) {
			return false
		}
	}
	return true
}

func (e *equality) dynamicRefs(x, y *jsonschema.DynamicRef) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x.Anchor == y.Anchor && e.schemas(x.Ref, y.Ref)
}

func (e *equality) bools(x, y *bool) bool {
	if x == nil || y == nil {
		return x == y
	}
	return *x == *y
}

func (e *equality) ints(x, y *int) bool {
	if x == nil || y == nil {
		return x == y
	}
	return *x == *y
}

func (e *equality) rats(x, y *big.Rat) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x.Cmp(y) == 0
}

func (e *equality) typeSets(x, y *jsonschema.Types) bool {
	if x == nil || y == nil {
		return x == y
	}
	return *x == *y
}

func (e *equality) enums(x, y *jsonschema.Enum) bool {
	if x == nil || y == nil {
		return x == y
	}
	return reflect.DeepEqual(x.Values, y.Values)
}

func (e *equality) values(x, y *any) bool {
	if x == nil || y == nil {
		return x == y
	}
	return reflect.DeepEqual(*x, *y)
}

func (e *equality) formats(x, y *jsonschema.Format) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x.Name == y.Name
}

func (e *equality) regexps(x, y jsonschema.Regexp) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return x.String() == y.String()
}

// nameSets compares lists of property names as sets.
func (e *equality) nameSets(x, y []string) bool {
	xs, ys := slices.Clone(x), slices.Clone(y)
	slices.Sort(xs)
	slices.Sort(ys)
	return slices.Equal(slices.Compact(xs), slices.Compact(ys))
}
