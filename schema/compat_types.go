package schema

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The rules for the keywords of one JSON type each: numbers, strings,
// arrays and objects. sub calls each only for the types both schemas allow.

// numbers compares the bounds and multipleOf of numbers.
func (c *checker) numbers(a, b *jsonschema.Schema, common types, path string) []Incompatibility {
	var out []Incompatibility
	aLo, bLo := lower(a), lower(b)
	aHi, bHi := upper(a), upper(b)
	if bLo != nil && !(aLo != nil && aLo.within(bLo, true)) {
		out = append(out, c.boundChange(path, "minimum", aLo, bLo, ">")...)
	}
	if bHi != nil && !(aHi != nil && aHi.within(bHi, false)) {
		out = append(out, c.boundChange(path, "maximum", aHi, bHi, "<")...)
	}
	if b.MultipleOf != nil {
		ok := a.MultipleOf != nil && new(big.Rat).Quo(a.MultipleOf, b.MultipleOf).IsInt()
		if !ok && common&tFraction == 0 && b.MultipleOf.Cmp(big.NewRat(1, 1)) == 0 {
			ok = true // every integer is a multiple of 1
		}
		if !ok {
			out = append(out, c.change(path, "multiple-of", "multipleOf", ratOrNil(a.MultipleOf), ratOrNil(b.MultipleOf))...)
		}
	}
	return out
}

func (c *checker) boundChange(path, rule string, a, b *bound, op string) []Incompatibility {
	what := "lower bound"
	if op == "<" {
		what = "upper bound"
	}
	return c.change(path, rule, what, a.describe(op), b.describe(op))
}

// change words a keyword whose value moved from a's to b's, where ""
// means absent.
func (c *checker) change(path, rule, what, aVal, bVal string) []Incompatibility {
	from, to := c.oldNew(aVal, bVal)
	switch {
	case from == "":
		return problem(path, rule, "%s %s added", what, to)
	case to == "":
		return problem(path, rule, "%s %s removed", what, from)
	}
	return problem(path, rule, "%s changed from %s to %s", what, from, to)
}

// strings compares lengths, pattern and format.
func (c *checker) strings(a, b *jsonschema.Schema, path string) []Incompatibility {
	var out []Incompatibility
	if b.MinLength != nil && intOr(a.MinLength, 0) < *b.MinLength {
		out = append(out, c.change(path, "min-length", "minLength", intString(a.MinLength), intString(b.MinLength))...)
	}
	if b.MaxLength != nil && (a.MaxLength == nil || *a.MaxLength > *b.MaxLength) {
		out = append(out, c.change(path, "max-length", "maxLength", intString(a.MaxLength), intString(b.MaxLength))...)
	}
	if b.Pattern != nil && (a.Pattern == nil || a.Pattern.String() != b.Pattern.String()) {
		out = append(out, c.change(path, "pattern", "pattern", patternString(a.Pattern), patternString(b.Pattern))...)
	}
	if b.Format != nil && (a.Format == nil || a.Format.Name != b.Format.Name) {
		out = append(out, c.change(path, "format", "format", formatString(a.Format), formatString(b.Format))...)
	}
	return out
}

// arrays compares items position by position, and the array keywords.
func (c *checker) arrays(a, b *jsonschema.Schema, path string, depth int) []Incompatibility {
	var out []Incompatibility
	aPrefix, aRest := items(a)
	bPrefix, bRest := items(b)
	for i := range max(len(aPrefix), len(bPrefix)) {
		out = append(out, c.sub(itemAt(aPrefix, aRest, i), itemAt(bPrefix, bRest, i), path+"/"+strconv.Itoa(i), depth+1)...)
	}
	out = append(out, c.sub(aRest, bRest, path+"/*", depth+1)...)
	if b.MinItems != nil && intOr(a.MinItems, 0) < *b.MinItems {
		out = append(out, c.change(path, "min-items", "minItems", intString(a.MinItems), intString(b.MinItems))...)
	}
	if b.MaxItems != nil && (a.MaxItems == nil || *a.MaxItems > *b.MaxItems) {
		out = append(out, c.change(path, "max-items", "maxItems", intString(a.MaxItems), intString(b.MaxItems))...)
	}
	if b.UniqueItems && !a.UniqueItems {
		out = append(out, problem(path, "unique-items", "%s", c.pick("uniqueItems added", "uniqueItems removed"))...)
	}
	if b.Contains != nil && !(c.eq.equal(a.Contains, b.Contains) &&
		intOr(a.MinContains, 1) >= intOr(b.MinContains, 1) &&
		(b.MaxContains == nil || (a.MaxContains != nil && *a.MaxContains <= *b.MaxContains))) {
		out = append(out, problem(path, "unprovable", "contains, minContains or maxContains changed; the checker cannot prove such a change compatible")...)
	}
	if b.UnevaluatedItems != nil && !unconstrained(b.UnevaluatedItems) {
		out = append(out, problem(path, "unprovable", "the schema around unevaluatedItems changed; the checker cannot prove such a change compatible")...)
	}
	return out
}

// objects compares properties name by name, then the names neither
// schema declares, and the object keywords.
func (c *checker) objects(a, b *jsonschema.Schema, path string, depth int) []Incompatibility {
	var out []Incompatibility
	// Patterns b holds identically to a are implied for every name.
	var bPatterns []patternSchema
	for _, p := range patternsOf(b) {
		if !hasPattern(c.eq, a, p) {
			bPatterns = append(bPatterns, p)
		}
	}
	if len(bPatterns) > 0 {
		out = append(out, problem(path, "unprovable", "patternProperties added or changed; the checker cannot prove such a change compatible")...)
	}

	for _, name := range propertyNames(a, b) {
		p := path + "/" + escape(name)
		aS, aDeclared := a.Properties[name]
		if !aDeclared {
			aS = undeclared(a, name)
		}
		bS, bDeclared := b.Properties[name]
		if !bDeclared {
			if matchesAny(b, name) {
				continue // b constrains it only through patterns a holds too
			}
			bS = additional(b)
		}
		ps := c.sub(aS, bS, p, depth+1)
		if len(ps) == 0 {
			continue
		}
		switch {
		case aDeclared && !bDeclared && isFalse(deref(bS)):
			out = append(out, problem(p, c.pick("property-removed", "property-added"), "%s", c.pick(
				"property removed, and the new schema allows no other properties",
				"property added, but the old schema allows no other properties"))...)
		case !aDeclared && bDeclared:
			out = append(out, problem(p, c.pick("property-added", "property-removed"), "%s", c.pick(
				"property added with constraints, but the old schema allows other properties, so old data may hold any value here",
				"property removed, but the new schema allows other properties, so new data may hold any value here"))...)
		default:
			out = append(out, ps...)
		}
	}

	for _, name := range b.Required {
		if slices.Contains(a.Required, name) {
			continue
		}
		if s := deref(b.Properties[name]); s != nil && s.Default != nil {
			continue // the reader fills in the default
		}
		out = append(out, problem(path+"/"+escape(name), "required", "%s", c.pick(
			"became required without a default",
			"is no longer required, and the old schema gives it no default"))...)
	}

	if bAdd := additional(b); !unconstrained(deref(bAdd)) {
		var ps []Incompatibility
		ps = append(ps, c.sub(additional(a), bAdd, path+"/*", depth+1)...)
		for _, p := range patternsOf(a) {
			if !hasPattern(c.eq, b, p) {
				ps = append(ps, c.sub(p.schema, bAdd, path+"/*", depth+1)...)
			}
		}
		if len(ps) > 0 && isFalse(deref(bAdd)) {
			ps = problem(path, "additional-properties", "%s", c.pick(
				"additionalProperties became false: old data may hold properties the new schema does not name",
				"additionalProperties is false in the old schema only: new data may hold properties the old schema does not name"))
		}
		out = append(out, ps...)
	}

	if b.MinProperties != nil && intOr(a.MinProperties, 0) < *b.MinProperties {
		out = append(out, c.change(path, "min-properties", "minProperties", intString(a.MinProperties), intString(b.MinProperties))...)
	}
	if b.MaxProperties != nil && (a.MaxProperties == nil || *a.MaxProperties > *b.MaxProperties) {
		out = append(out, c.change(path, "max-properties", "maxProperties", intString(a.MaxProperties), intString(b.MaxProperties))...)
	}
	if b.PropertyNames != nil && !unconstrained(b.PropertyNames) && !c.eq.equal(a.PropertyNames, b.PropertyNames) {
		out = append(out, problem(path, "unprovable", "propertyNames changed; the checker cannot prove such a change compatible")...)
	}
	for _, dep := range sortedKeys(dependentRequired(b)) {
		aReq := dependentRequired(a)[dep]
		for _, name := range dependentRequired(b)[dep] {
			if !slices.Contains(a.Required, name) && !slices.Contains(aReq, name) {
				out = append(out, problem(path+"/"+escape(dep), "dependent-required", "%s", c.pick(
					fmt.Sprintf("now requires property %q when present", name),
					fmt.Sprintf("no longer requires property %q when present", name)))...)
			}
		}
	}
	bDeps, aDeps := dependentSchemas(b), dependentSchemas(a)
	for _, dep := range sortedKeys(bDeps) {
		if !c.eq.equal(aDeps[dep], bDeps[dep]) {
			out = append(out, problem(path+"/"+escape(dep), "unprovable", "dependentSchemas changed; the checker cannot prove such a change compatible")...)
		}
	}
	if b.UnevaluatedProperties != nil && !unconstrained(b.UnevaluatedProperties) {
		out = append(out, problem(path, "unprovable", "the schema around unevaluatedProperties changed; the checker cannot prove such a change compatible")...)
	}
	return out
}
