package schema_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/arus-platform/arus/schema"
)

// problems renders incompatibilities as "mode path rule" for comparison.
func problems(ps []schema.Incompatibility) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, string(p.Mode)+" "+p.Path+" "+p.Rule)
	}
	slices.Sort(out)
	return out
}

const order = `{
	"type": "object",
	"properties": {
		"id": {"type": "string"},
		"total": {"type": "number", "minimum": 0},
		"status": {"enum": ["new", "paid", "shipped"]},
		"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}
	},
	"required": ["id", "total"],
	"additionalProperties": false,
	"$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}, "price": {"type": "number"}}, "required": ["sku"]}}
}`

// compareCase is one pair of schemas and the problems Compare must find.
type compareCase struct {
	name     string
	mode     schema.Mode
	old, new string
	want     []string
}

var compareCases = []compareCase{
	{"identical", schema.ModeFull, order, order, nil},
	{"whitespace and key order", schema.ModeFull, `{"type":"string","minLength":1}`, `{ "minLength": 1, "type": "string" }`, nil},
	{"none checks nothing", schema.ModeNone, `{"type":"string"}`, `{"type":"number"}`, nil},

	// type
	{"type changed", schema.ModeBackward,
		`{"properties":{"total":{"type":"number"}}}`, `{"properties":{"total":{"type":"string"}}}`,
		[]string{"BACKWARD /total type"}},
	{"type widened is backward", schema.ModeBackward, `{"type":"integer"}`, `{"type":"number"}`, nil},
	{"type widened breaks forward", schema.ModeForward, `{"type":"integer"}`, `{"type":"number"}`, []string{"FORWARD  type"}},
	{"type narrowed breaks backward", schema.ModeBackward, `{"type":["string","null"]}`, `{"type":"string"}`, []string{"BACKWARD  type"}},
	{"type narrowed is forward", schema.ModeForward, `{"type":["string","null"]}`, `{"type":"string"}`, nil},
	{"type added breaks backward", schema.ModeBackward, `{}`, `{"type":"string"}`, []string{"BACKWARD  type"}},
	{"full sees both", schema.ModeFull, `{"type":"integer"}`, `{"type":"string"}`, []string{"BACKWARD  type", "FORWARD  type"}},

	// required
	{"required added", schema.ModeBackward,
		`{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}},"required":["a"]}`,
		[]string{"BACKWARD /a required"}},
	{"required added with default", schema.ModeBackward,
		`{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string","default":"x"}},"required":["a"]}`, nil},
	{"required dropped is backward", schema.ModeBackward,
		`{"properties":{"a":{"type":"string"}},"required":["a"]}`, `{"properties":{"a":{"type":"string"}}}`, nil},
	{"required dropped breaks forward", schema.ModeForward,
		`{"properties":{"a":{"type":"string"}},"required":["a"]}`, `{"properties":{"a":{"type":"string"}}}`,
		[]string{"FORWARD /a required"}},

	// properties in closed and open content models
	{"closed: property removed", schema.ModeBackward,
		`{"properties":{"a":{},"b":{}},"additionalProperties":false}`, `{"properties":{"a":{}},"additionalProperties":false}`,
		[]string{"BACKWARD /b property-removed"}},
	{"closed: optional property added is backward", schema.ModeBackward,
		`{"properties":{"a":{}},"additionalProperties":false}`, `{"properties":{"a":{},"b":{"type":"string"}},"additionalProperties":false}`, nil},
	{"closed: optional property added breaks forward", schema.ModeForward,
		`{"properties":{"a":{}},"additionalProperties":false}`, `{"properties":{"a":{},"b":{"type":"string"}},"additionalProperties":false}`,
		[]string{"FORWARD /b property-added"}},
	{"open: property removed is backward", schema.ModeBackward,
		`{"properties":{"a":{"type":"string"},"b":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}}}`, nil},
	{"open: property removed breaks forward", schema.ModeForward,
		`{"properties":{"a":{"type":"string"},"b":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}}}`,
		[]string{"FORWARD /b property-removed"}},
	{"open: property added breaks backward", schema.ModeBackward,
		`{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`,
		[]string{"BACKWARD /b property-added"}},
	{"open: property added is forward", schema.ModeForward,
		`{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`, nil},
	{"additionalProperties closed", schema.ModeBackward,
		`{"properties":{"a":{}}}`, `{"properties":{"a":{}},"additionalProperties":false}`,
		[]string{"BACKWARD  additional-properties"}},
	{"additionalProperties schema narrowed", schema.ModeBackward,
		`{"additionalProperties":{"type":["string","integer"]}}`, `{"additionalProperties":{"type":"string"}}`,
		[]string{"BACKWARD /* type"}},

	// enums
	{"enum narrowed", schema.ModeBackward, `{"enum":["a","b","c"]}`, `{"enum":["a","b"]}`, []string{"BACKWARD  enum"}},
	{"enum widened is backward", schema.ModeBackward, `{"enum":["a","b"]}`, `{"enum":["a","b","c"]}`, nil},
	{"enum widened breaks forward", schema.ModeForward, `{"enum":["a","b"]}`, `{"enum":["c","b","a"]}`, []string{"FORWARD  enum"}},
	{"enum added", schema.ModeBackward, `{"type":"string"}`, `{"enum":["a"]}`, []string{"BACKWARD  enum"}},
	{"enum removed is backward", schema.ModeBackward, `{"enum":["a"]}`, `{"type":"string"}`, nil},
	{"enum value checked against new keywords", schema.ModeBackward, `{"enum":["a","bbbb"]}`, `{"type":"string","maxLength":3}`,
		[]string{"BACKWARD  enum"}},
	{"const to enum", schema.ModeBackward, `{"const":"a"}`, `{"enum":["a","b"]}`, nil},
	{"boolean into enum", schema.ModeBackward, `{"type":"boolean"}`, `{"enum":[true,false]}`, nil},

	// numbers
	{"minimum raised", schema.ModeBackward, `{"type":"number","minimum":0}`, `{"type":"number","minimum":1}`,
		[]string{"BACKWARD  minimum"}},
	{"minimum lowered is backward", schema.ModeBackward, `{"type":"number","minimum":1}`, `{"type":"number","minimum":0}`, nil},
	{"minimum lowered breaks forward", schema.ModeForward, `{"type":"number","minimum":1}`, `{"type":"number","minimum":0}`,
		[]string{"FORWARD  minimum"}},
	{"minimum made exclusive", schema.ModeBackward, `{"type":"number","minimum":0}`, `{"type":"number","exclusiveMinimum":0}`,
		[]string{"BACKWARD  minimum"}},
	{"exclusive within inclusive", schema.ModeBackward, `{"type":"number","exclusiveMinimum":0}`, `{"type":"number","minimum":0}`, nil},
	{"maximum added", schema.ModeBackward, `{"type":"number"}`, `{"type":"number","maximum":100}`, []string{"BACKWARD  maximum"}},
	{"maximum removed is backward", schema.ModeBackward, `{"type":"number","maximum":100}`, `{"type":"number"}`, nil},
	{"draft-04 exclusive maximum", schema.ModeBackward,
		`{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":10,"exclusiveMaximum":true}`,
		`{"type":"number","maximum":10}`, nil},
	{"multipleOf coarser", schema.ModeBackward, `{"type":"number","multipleOf":0.5}`, `{"type":"number","multipleOf":1}`,
		[]string{"BACKWARD  multiple-of"}},
	{"multipleOf finer is backward", schema.ModeBackward, `{"type":"number","multipleOf":1}`, `{"type":"number","multipleOf":0.25}`, nil},
	{"integer is a multiple of 1", schema.ModeBackward, `{"type":"integer"}`, `{"type":"integer","multipleOf":1}`, nil},
	{"bounds ignored for other types", schema.ModeBackward, `{"type":"string"}`, `{"type":"string","minimum":5}`, nil},

	// strings
	{"maxLength tightened", schema.ModeBackward, `{"type":"string","maxLength":10}`, `{"type":"string","maxLength":5}`,
		[]string{"BACKWARD  max-length"}},
	{"minLength loosened", schema.ModeBackward, `{"type":"string","minLength":3}`, `{"type":"string","minLength":1}`, nil},
	{"pattern added", schema.ModeBackward, `{"type":"string"}`, `{"type":"string","pattern":"^[a-z]+$"}`, []string{"BACKWARD  pattern"}},
	{"pattern removed is backward", schema.ModeBackward, `{"type":"string","pattern":"^[a-z]+$"}`, `{"type":"string"}`, nil},
	{"pattern changed", schema.ModeFull, `{"type":"string","pattern":"^a"}`, `{"type":"string","pattern":"^b"}`,
		[]string{"BACKWARD  pattern", "FORWARD  pattern"}},
	{"format added", schema.ModeBackward, `{"type":"string"}`, `{"type":"string","format":"date-time"}`, []string{"BACKWARD  format"}},

	// arrays
	{"item type narrowed", schema.ModeBackward,
		`{"type":"array","items":{"type":"number"}}`, `{"type":"array","items":{"type":"integer"}}`,
		[]string{"BACKWARD /* type"}},
	{"item through $ref", schema.ModeBackward, order,
		strings.Replace(order, `"price": {"type": "number"}`, `"price": {"type": "number", "minimum": 0}`, 1),
		[]string{"BACKWARD /items/*/price minimum"}},
	{"minItems raised", schema.ModeBackward, `{"type":"array","minItems":1}`, `{"type":"array","minItems":2}`,
		[]string{"BACKWARD  min-items"}},
	{"uniqueItems added", schema.ModeBackward, `{"type":"array"}`, `{"type":"array","uniqueItems":true}`,
		[]string{"BACKWARD  unique-items"}},
	{"tuple position narrowed", schema.ModeBackward,
		`{"type":"array","prefixItems":[{"type":"string"},{"type":"number"}]}`,
		`{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]}`,
		[]string{"BACKWARD /1 type"}},
	{"draft-07 tuple", schema.ModeBackward,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"}],"additionalItems":false}`,
		`{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"number"}}`, nil},

	// objects
	{"maxProperties added", schema.ModeBackward, `{"type":"object"}`, `{"type":"object","maxProperties":3}`,
		[]string{"BACKWARD  max-properties"}},
	{"dependentRequired added", schema.ModeBackward,
		`{"type":"object"}`, `{"type":"object","dependentRequired":{"card":["cvv"]}}`,
		[]string{"BACKWARD /card dependent-required"}},
	{"nested change", schema.ModeBackward,
		`{"properties":{"customer":{"properties":{"zip":{"type":"string"}}}}}`,
		`{"properties":{"customer":{"properties":{"zip":{"type":"integer"}}}}}`,
		[]string{"BACKWARD /customer/zip type"}},

	// combinators
	{"nullable through anyOf", schema.ModeBackward,
		`{"anyOf":[{"type":"string"},{"type":"null"}]}`, `{"type":["string","null"]}`, nil},
	{"anyOf branch dropped", schema.ModeBackward,
		`{"anyOf":[{"type":"string"},{"type":"null"}]}`, `{"anyOf":[{"type":"string"}]}`,
		[]string{"BACKWARD  any-of"}},
	{"anyOf branch added is backward", schema.ModeBackward,
		`{"anyOf":[{"type":"string"}]}`, `{"anyOf":[{"type":"string"},{"type":"null"}]}`, nil},
	{"anyOf added around", schema.ModeBackward,
		`{"type":"string"}`, `{"anyOf":[{"type":"string"},{"type":"null"}]}`, nil},
	{"anyOf kept, base loosened", schema.ModeBackward,
		`{"anyOf":[{"required":["a"]},{"required":["b"]}],"maxProperties":2}`,
		`{"anyOf":[{"required":["a"]},{"required":["b"]}],"maxProperties":3}`, nil},
	{"oneOf with discriminator gains a branch", schema.ModeBackward,
		`{"oneOf":[{"properties":{"kind":{"const":"card"}},"required":["kind"],"type":"object"}]}`,
		`{"oneOf":[{"properties":{"kind":{"const":"card"}},"required":["kind"],"type":"object"},{"properties":{"kind":{"const":"cash"}},"required":["kind"],"type":"object"}]}`,
		nil},
	{"oneOf with overlapping branch", schema.ModeBackward,
		`{"oneOf":[{"type":"string"}]}`, `{"oneOf":[{"type":"string"},{"type":"string","maxLength":3}]}`,
		[]string{"BACKWARD  one-of"}},
	{"allOf conjunct narrowed", schema.ModeBackward,
		`{"allOf":[{"$ref":"#/$defs/base"},{"properties":{"n":{"type":"number"}}}],"$defs":{"base":{"required":["id"]}}}`,
		`{"allOf":[{"$ref":"#/$defs/base"},{"properties":{"n":{"type":"integer"}}}],"$defs":{"base":{"required":["id"]}}}`,
		[]string{"BACKWARD /n type"}},
	{"not changed", schema.ModeBackward, `{"not":{"type":"string"}}`, `{"not":{"type":"number"}}`,
		[]string{"BACKWARD  unprovable"}},
	{"not proven by types", schema.ModeBackward, `{"type":"integer"}`, `{"not":{"type":"string"}}`, nil},
	{"if/then/else added", schema.ModeBackward, `{}`, `{"if":{"required":["a"]},"then":{"required":["b"]}}`,
		[]string{"BACKWARD  unprovable"}},
	{"patternProperties added", schema.ModeBackward, `{"type":"object"}`, `{"type":"object","patternProperties":{"^x-":{"type":"string"}}}`,
		[]string{"BACKWARD  unprovable"}},
	{"unchanged not beside a change", schema.ModeBackward,
		`{"type":"string","not":{"const":"x"},"maxLength":5}`, `{"type":"string","not":{"const":"x"},"maxLength":6}`, nil},
	{"unchanged if/then beside a change", schema.ModeBackward,
		`{"if":{"required":["a"]},"then":{"required":["b"]},"maxProperties":2}`,
		`{"if":{"required":["a"]},"then":{"required":["b"]},"maxProperties":3}`, nil},
	{"unchanged contains beside a change", schema.ModeBackward,
		`{"type":"array","contains":{"const":1},"maxItems":2}`, `{"type":"array","contains":{"const":1},"maxItems":3}`, nil},
	{"contains added", schema.ModeBackward, `{"type":"array"}`, `{"type":"array","contains":{"const":1}}`,
		[]string{"BACKWARD  unprovable"}},
	{"unchanged propertyNames beside a change", schema.ModeBackward,
		`{"type":"object","propertyNames":{"maxLength":3},"minProperties":2}`, `{"type":"object","propertyNames":{"maxLength":3},"minProperties":1}`, nil},
	{"unchanged patternProperties beside a change", schema.ModeBackward,
		`{"type":"object","patternProperties":{"^x":{"type":"string"}},"properties":{"a":{"type":"integer"}}}`,
		`{"type":"object","patternProperties":{"^x":{"type":"string"}},"properties":{"a":{"type":"number"}}}`, nil},
	{"patternProperties removed", schema.ModeBackward,
		`{"type":"object","patternProperties":{"^x":{"type":"string"}}}`, `{"type":"object"}`, nil},
	{"draft-07 dependencies added", schema.ModeBackward,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","dependencies":{"card":["cvv"]}}`,
		[]string{"BACKWARD /card dependent-required"}},
	{"unevaluatedProperties beside a change", schema.ModeBackward,
		`{"type":"object","properties":{"a":{"type":"integer"}},"unevaluatedProperties":false}`,
		`{"type":"object","properties":{"a":{"type":"number"}},"unevaluatedProperties":false}`,
		[]string{"BACKWARD  unprovable"}},
	{"nullable enum", schema.ModeBackward, `{"enum":["a",null]}`, `{"type":["string","null"]}`, nil},
	{"false schema", schema.ModeBackward, `true`, `false`, []string{"BACKWARD  false-schema"}},
	{"recursive schema, compatible", schema.ModeBackward,
		`{"$defs":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`,
		`{"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"additionalProperties":true}},"$ref":"#/$defs/node"}`,
		[]string{"BACKWARD /name property-added"}},
	{"recursive schema, loosened", schema.ModeBackward,
		`{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`,
		`{"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`,
		nil},
	{"transitive mode compares like its plain one", schema.ModeBackwardTransitive, `{"type":"number"}`, `{"type":"integer"}`,
		[]string{"BACKWARD  type"}},
}

func TestCompare(t *testing.T) {
	for _, tt := range compareCases {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := schema.Compare([]byte(tt.old), []byte(tt.new), tt.mode)
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			got, want := problems(ps), tt.want
			if want == nil {
				want = []string{}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
				for _, p := range ps {
					t.Logf("  %s", p)
				}
			}
		})
	}
}

func TestCompareMessages(t *testing.T) {
	tests := []struct {
		name     string
		mode     schema.Mode
		old, new string
		want     string
	}{
		{"type", schema.ModeBackward,
			`{"properties":{"total":{"type":"number"}}}`, `{"properties":{"total":{"type":"string"}}}`,
			"/total: type changed from number to string (breaks BACKWARD: new readers cannot read old data)"},
		{"forward type", schema.ModeForward, `{"type":"integer"}`, `{"type":["integer","null"]}`,
			"(root): type changed from integer to null or integer (breaks FORWARD: old readers cannot read new data)"},
		{"required", schema.ModeBackward, `{}`, `{"required":["id"]}`,
			"/id: became required without a default (breaks BACKWARD: new readers cannot read old data)"},
		{"minimum", schema.ModeBackward, `{"type":"number","minimum":0}`, `{"type":"number","exclusiveMinimum":0}`,
			"(root): lower bound changed from >= 0 to > 0 (breaks BACKWARD: new readers cannot read old data)"},
		{"maximum removed", schema.ModeForward, `{"type":"number","maximum":9}`, `{"type":"number"}`,
			"(root): upper bound <= 9 removed (breaks FORWARD: old readers cannot read new data)"},
		{"enum", schema.ModeBackward, `{"enum":["a","b"]}`, `{"enum":["a"]}`,
			`(root): enum value "b" removed (breaks BACKWARD: new readers cannot read old data)`},
		{"property removed", schema.ModeBackward,
			`{"properties":{"a":{}},"additionalProperties":false}`, `{"additionalProperties":false}`,
			"/a: property removed, and the new schema allows no other properties (breaks BACKWARD: new readers cannot read old data)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := schema.Compare([]byte(tt.old), []byte(tt.new), tt.mode)
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if len(ps) != 1 {
				t.Fatalf("got %d problems %v, want 1", len(ps), ps)
			}
			if got := ps[0].String(); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCompareInvalid(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		mode     schema.Mode
		want     error
	}{
		{"old not JSON", `{`, `{}`, schema.ModeBackward, schema.ErrInvalidSchema},
		{"new not a schema", `{}`, `{"type":"strin"}`, schema.ModeBackward, schema.ErrInvalidSchema},
		{"unknown mode", `{}`, `{}`, "SIDEWAYS", schema.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.Compare([]byte(tt.old), []byte(tt.new), tt.mode)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}
