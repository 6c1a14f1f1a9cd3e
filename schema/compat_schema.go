package schema

import (
	"encoding/json"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Helpers that read the compiled form of a schema for the checker. A nil
// *jsonschema.Schema stands for the schema true: no constraint.

func boolSchema(v bool) *jsonschema.Schema { return &jsonschema.Schema{Bool: &v} }

// trueSchema and falseSchema are never modified.
var (
	trueSchema  = boolSchema(true)
	falseSchema = boolSchema(false)
)

// deref follows $ref while it is the only constraint of a schema, and
// turns the schema true into nil.
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for range 32 {
		if s == nil {
			return nil
		}
		if s.Bool != nil {
			if *s.Bool {
				return nil
			}
			return s
		}
		if s.Ref == nil || hasConstraint(s, false) {
			return s
		}
		s = s.Ref
	}
	return s
}

func isFalse(s *jsonschema.Schema) bool { return s != nil && s.Bool != nil && !*s.Bool }

// unconstrained reports whether every value is valid under s.
func unconstrained(s *jsonschema.Schema) bool {
	if s == nil {
		return true
	}
	if s.Bool != nil {
		return *s.Bool
	}
	return !hasConstraint(s, true)
}

// hasConstraint reports whether s has any keyword that can reject a value
// (annotations such as title, description and default cannot).
func hasConstraint(s *jsonschema.Schema, withRef bool) bool {
	return (withRef && s.Ref != nil) || s.RecursiveRef != nil || s.DynamicRef != nil ||
		s.Types != nil || s.Enum != nil || s.Const != nil ||
		s.Not != nil || len(s.AllOf) > 0 || len(s.AnyOf) > 0 || len(s.OneOf) > 0 || s.If != nil || s.Format != nil ||
		s.MaxProperties != nil || s.MinProperties != nil || len(s.Required) > 0 || s.PropertyNames != nil ||
		len(s.Properties) > 0 || len(s.PatternProperties) > 0 ||
		(s.AdditionalProperties != nil && s.AdditionalProperties != true) ||
		len(s.Dependencies) > 0 || len(s.DependentRequired) > 0 || len(s.DependentSchemas) > 0 || s.UnevaluatedProperties != nil ||
		s.MinItems != nil || s.MaxItems != nil || s.UniqueItems || s.Contains != nil ||
		s.Items != nil || s.PrefixItems != nil || s.Items2020 != nil || s.UnevaluatedItems != nil ||
		s.MinLength != nil || s.MaxLength != nil || s.Pattern != nil ||
		s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil ||
		s.Maximum != nil || s.Minimum != nil || s.ExclusiveMaximum != nil || s.ExclusiveMinimum != nil || s.MultipleOf != nil ||
		len(s.Extensions) > 0
}

// without returns a copy of s changed by f; s itself is left alone.
func without(s *jsonschema.Schema, f func(*jsonschema.Schema)) *jsonschema.Schema {
	c := *s
	f(&c)
	return &c
}

// withoutImplied drops from b the applicator keywords a holds identically:
// a value valid under a satisfies them already.
func withoutImplied(eq *equality, a, b *jsonschema.Schema) *jsonschema.Schema {
	var drop []func(*jsonschema.Schema)
	if b.Ref != nil && eq.equal(a.Ref, b.Ref) {
		drop = append(drop, func(s *jsonschema.Schema) { s.Ref = nil })
	}
	if len(b.AllOf) > 0 && eq.equalList(a.AllOf, b.AllOf) {
		drop = append(drop, func(s *jsonschema.Schema) { s.AllOf = nil })
	}
	if len(b.AnyOf) > 0 && eq.equalList(a.AnyOf, b.AnyOf) {
		drop = append(drop, func(s *jsonschema.Schema) { s.AnyOf = nil })
	}
	if len(b.OneOf) > 0 && eq.equalList(a.OneOf, b.OneOf) {
		drop = append(drop, func(s *jsonschema.Schema) { s.OneOf = nil })
	}
	if b.Not != nil && eq.equal(a.Not, b.Not) {
		drop = append(drop, func(s *jsonschema.Schema) { s.Not = nil })
	}
	if b.If != nil && eq.equal(a.If, b.If) && eq.equal(a.Then, b.Then) && eq.equal(a.Else, b.Else) {
		drop = append(drop, func(s *jsonschema.Schema) { s.If, s.Then, s.Else = nil, nil, nil })
	}
	if b.PropertyNames != nil && eq.equal(a.PropertyNames, b.PropertyNames) {
		drop = append(drop, func(s *jsonschema.Schema) { s.PropertyNames = nil })
	}
	if len(drop) == 0 {
		return b
	}
	return without(b, func(s *jsonschema.Schema) {
		for _, f := range drop {
			f(s)
		}
	})
}

// conjuncts splits a schema with $ref or allOf into the parts that all
// apply: the schema without them, the $ref target and each allOf entry.
func conjuncts(s *jsonschema.Schema) []*jsonschema.Schema {
	if s.Ref == nil && len(s.AllOf) == 0 {
		return nil
	}
	parts := []*jsonschema.Schema{without(s, func(c *jsonschema.Schema) { c.Ref, c.AllOf = nil, nil })}
	if s.Ref != nil {
		parts = append(parts, s.Ref)
	}
	return append(parts, s.AllOf...)
}

// alternativesOf returns the alternatives of a schema with anyOf or oneOf;
// every valid value is valid under one of them.
func alternativesOf(s *jsonschema.Schema) []*jsonschema.Schema {
	if len(s.AnyOf) > 0 {
		return s.AnyOf
	}
	if len(s.OneOf) > 0 {
		return s.OneOf
	}
	return nil
}

// finite returns the values of a schema with const or enum: no other value
// is valid under it.
func finite(s *jsonschema.Schema) ([]any, bool) {
	if s == nil {
		return nil, false
	}
	if s.Const != nil {
		return []any{*s.Const}, true
	}
	if s.Enum != nil {
		return s.Enum.Values, true
	}
	return nil, false
}

// types is a set of JSON types, numbers split into integers and the rest
// so that "integer" is a subset of "number".
type types uint8

const (
	tNull types = 1 << iota
	tBoolean
	tInteger
	tFraction
	tString
	tArray
	tObject
	tAny = tNull | tBoolean | tInteger | tFraction | tString | tArray | tObject
)

func typesOf(s *jsonschema.Schema) types {
	if s == nil {
		return tAny
	}
	if s.Bool != nil {
		if *s.Bool {
			return tAny
		}
		return 0
	}
	if vals, ok := finite(s); ok {
		var t types
		for _, v := range vals {
			t |= typeOfValue(v)
		}
		return t
	}
	if s.Types == nil {
		return tAny
	}
	var t types
	for _, name := range s.Types.ToStrings() {
		switch name {
		case "null":
			t |= tNull
		case "boolean":
			t |= tBoolean
		case "integer":
			t |= tInteger
		case "number":
			t |= tInteger | tFraction
		case "string":
			t |= tString
		case "array":
			t |= tArray
		case "object":
			t |= tObject
		}
	}
	return t
}

func typeOfValue(v any) types {
	switch v := v.(type) {
	case nil:
		return tNull
	case bool:
		return tBoolean
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok && r.IsInt() {
			return tInteger
		}
		return tFraction
	case float64:
		if v == float64(int64(v)) {
			return tInteger
		}
		return tFraction
	case string:
		return tString
	case []any:
		return tArray
	case map[string]any:
		return tObject
	}
	return 0
}

func (t types) String() string {
	if t == tAny {
		return "any"
	}
	var names []string
	if t&tNull != 0 {
		names = append(names, "null")
	}
	if t&tBoolean != 0 {
		names = append(names, "boolean")
	}
	switch {
	case t&tInteger != 0 && t&tFraction != 0:
		names = append(names, "number")
	case t&tInteger != 0:
		names = append(names, "integer")
	case t&tFraction != 0:
		names = append(names, "number")
	}
	if t&tString != 0 {
		names = append(names, "string")
	}
	if t&tArray != 0 {
		names = append(names, "array")
	}
	if t&tObject != 0 {
		names = append(names, "object")
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, " or ")
}

// bound is one end of a numeric range.
type bound struct {
	val  *big.Rat
	excl bool
}

func lower(s *jsonschema.Schema) *bound {
	var b *bound
	if s.Minimum != nil {
		b = &bound{s.Minimum, false}
	}
	if s.ExclusiveMinimum != nil && (b == nil || s.ExclusiveMinimum.Cmp(b.val) >= 0) {
		b = &bound{s.ExclusiveMinimum, true}
	}
	return b
}

func upper(s *jsonschema.Schema) *bound {
	var b *bound
	if s.Maximum != nil {
		b = &bound{s.Maximum, false}
	}
	if s.ExclusiveMaximum != nil && (b == nil || s.ExclusiveMaximum.Cmp(b.val) <= 0) {
		b = &bound{s.ExclusiveMaximum, true}
	}
	return b
}

// within reports whether bound x is at least as tight as y: a value that
// passes x passes y.
func (x *bound) within(y *bound, isLower bool) bool {
	c := x.val.Cmp(y.val)
	if !isLower {
		c = -c
	}
	return c > 0 || (c == 0 && (x.excl || !y.excl))
}

// describe writes the bound as a comparison with op, "" for no bound.
func (x *bound) describe(op string) string {
	if x == nil {
		return ""
	}
	if !x.excl {
		op += "="
	}
	return op + " " + ratString(x.val)
}

func ratOrNil(r *big.Rat) string {
	if r == nil {
		return ""
	}
	return ratString(r)
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func intString(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func patternString(r jsonschema.Regexp) string {
	if r == nil {
		return ""
	}
	return strconv.Quote(r.String())
}

func formatString(f *jsonschema.Format) string {
	if f == nil {
		return ""
	}
	return strconv.Quote(f.Name)
}

// items returns the schemas of an array's leading items and of the rest,
// whichever draft's keywords declared them.
func items(s *jsonschema.Schema) (prefix []*jsonschema.Schema, rest *jsonschema.Schema) {
	if s.PrefixItems != nil || s.Items2020 != nil {
		return s.PrefixItems, s.Items2020
	}
	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		return nil, it
	case []*jsonschema.Schema:
		return it, additionalSchema(s.AdditionalItems)
	}
	return nil, nil
}

func itemAt(prefix []*jsonschema.Schema, rest *jsonschema.Schema, i int) *jsonschema.Schema {
	if i < len(prefix) {
		return prefix[i]
	}
	return rest
}

// additionalSchema reads additionalProperties or additionalItems: nil, a
// boolean or a schema.
func additionalSchema(v any) *jsonschema.Schema {
	switch v := v.(type) {
	case bool:
		if !v {
			return falseSchema
		}
	case *jsonschema.Schema:
		return v
	}
	return nil
}

func additional(s *jsonschema.Schema) *jsonschema.Schema {
	return additionalSchema(s.AdditionalProperties)
}

type patternSchema struct {
	re     string
	schema *jsonschema.Schema
}

func patternsOf(s *jsonschema.Schema) []patternSchema {
	var out []patternSchema
	for re, sch := range s.PatternProperties {
		out = append(out, patternSchema{re.String(), sch})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].re < out[j].re })
	return out
}

func hasPattern(eq *equality, s *jsonschema.Schema, p patternSchema) bool {
	for re, sch := range s.PatternProperties {
		if re.String() == p.re && eq.equal(sch, p.schema) {
			return true
		}
	}
	return false
}

func matchesAny(s *jsonschema.Schema, name string) bool {
	for re := range s.PatternProperties {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// undeclared is the schema a property not in s's properties must match:
// that of a matching pattern (the others are left out, which only loosens
// it), else additionalProperties.
func undeclared(s *jsonschema.Schema, name string) *jsonschema.Schema {
	for _, p := range patternsOf(s) {
		for re, sch := range s.PatternProperties {
			if re.String() == p.re && re.MatchString(name) {
				return sch
			}
		}
	}
	return additional(s)
}

// propertyNames returns the names either schema declares, sorted.
func propertyNames(a, b *jsonschema.Schema) []string {
	var names []string
	for n := range a.Properties {
		names = append(names, n)
	}
	for n := range b.Properties {
		if _, dup := a.Properties[n]; !dup {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// dependentRequired merges dependentRequired and the list form of draft-7
// dependencies.
func dependentRequired(s *jsonschema.Schema) map[string][]string {
	out := map[string][]string{}
	for k, v := range s.DependentRequired {
		out[k] = append(out[k], v...)
	}
	for k, v := range s.Dependencies {
		if names, ok := v.([]string); ok {
			out[k] = append(out[k], names...)
		}
	}
	return out
}

// dependentSchemas merges dependentSchemas and the schema form of draft-7
// dependencies.
func dependentSchemas(s *jsonschema.Schema) map[string]*jsonschema.Schema {
	out := map[string]*jsonschema.Schema{}
	for k, v := range s.DependentSchemas {
		out[k] = v
	}
	for k, v := range s.Dependencies {
		if sch, ok := v.(*jsonschema.Schema); ok {
			out[k] = sch
		}
	}
	return out
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
