package schema_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arus-platform/arus/schema"
)

// values is a corpus of JSON values that the schemas of the tests can tell
// apart: each compatible pair must agree on them in the direction proven.
var values = []string{
	`null`, `true`, `false`, `0`, `1`, `-1`, `0.5`, `1.5`, `2`, `3`, `10`, `100`, `101`, `-5`,
	`""`, `"a"`, `"b"`, `"c"`, `"bb"`, `"bbbb"`, `"x"`, `"new"`, `"paid"`, `"shipped"`, `"refunded"`, `"2025-01-31T15:04:05Z"`,
	`[]`, `[1]`, `[1,1]`, `[1,2,3]`, `["a"]`, `["a",1]`, `["a",1.5]`, `[{"sku":"a","price":-1}]`,
	`{}`, `{"a":1}`, `{"a":"x"}`, `{"a":null}`, `{"b":"x"}`, `{"b":1}`, `{"a":1,"b":2,"c":3}`, `{"x-a":1}`, `{"x-a":"s"}`,
	`{"id":"o1"}`, `{"id":"o1","total":1}`, `{"id":"o1","total":"1"}`, `{"id":"o1","total":-1}`, `{"total":1}`,
	`{"id":"o1","total":1,"status":"shipped"}`, `{"id":"o1","total":1,"items":[{"sku":"a","price":-1}]}`,
	`{"id":"o1","total":1,"note":"n"}`, `{"kind":"card"}`, `{"kind":"cash"}`, `{"card":1}`, `{"card":1,"cvv":2}`,
	`{"n":1.5}`, `{"n":1}`, `{"v":1.5}`, `{"v":1,"children":[{"v":1.5}]}`, `{"customer":{"zip":"1"}}`, `{"customer":{"zip":1}}`,
	`{"name":1}`, `{"children":[{"name":1}]}`, `{"status":"shipped"}`, `{"note":"n"}`,
}

func compileForTest(t testing.TB, doc string) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("schema %s: %v", doc, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem:///s.json", v); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem:///s.json")
	if err != nil {
		t.Fatalf("schema %s: %v", doc, err)
	}
	return s
}

// checkSound fails when a corpus value is valid under the schema proven
// to be the smaller one but not under the other.
func checkSound(t *testing.T, small, large string) {
	t.Helper()
	s, l := compileForTest(t, small), compileForTest(t, large)
	for _, raw := range values {
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(raw)))
		if s.Validate(v) == nil && l.Validate(v) != nil {
			t.Errorf("proven %s ⊆ %s, but %s is valid only under the first", small, large, raw)
		}
	}
}

// TestCompareSound runs the pairs of TestCompare that were proven
// compatible against the corpus. Pairs that lean on the reader contract
// for defaults are left out: strict validation does not fill defaults.
func TestCompareSound(t *testing.T) {
	for _, tt := range compareCases {
		if tt.mode == schema.ModeNone || len(tt.want) > 0 || strings.Contains(tt.new, `"default"`) {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode != schema.ModeForward && tt.mode != schema.ModeForwardTransitive {
				checkSound(t, tt.old, tt.new)
			}
			if tt.mode != schema.ModeBackward && tt.mode != schema.ModeBackwardTransitive {
				checkSound(t, tt.new, tt.old)
			}
		})
	}
}

// FuzzCompare checks that the checker never panics and never proves an
// inclusion that a corpus value contradicts.
func FuzzCompare(f *testing.F) {
	for _, tt := range compareCases {
		f.Add(tt.old, tt.new)
	}
	f.Fuzz(func(t *testing.T, old, new string) {
		ps, err := schema.Compare([]byte(old), []byte(new), schema.ModeBackward)
		if err != nil || len(ps) > 0 || strings.Contains(new, `"default"`) {
			return
		}
		checkSound(t, old, new)
	})
}
