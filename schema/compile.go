package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer renders the compiler's messages that have no wording of ours.
var printer = message.NewPrinter(language.English)

// docURL is the address a schema document is compiled under. References
// resolve inside the document only: loading any other address fails.
const docURL = "mem:///schema.json"

// noLoader refuses every document the compiler asks for: a schema may only
// refer inside itself, never to files on the server or to the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("references to other documents are not supported; put shared definitions under $defs")
}

// parseJSON decodes one JSON document, keeping numbers exact, and words
// its errors for people.
func parseJSON(raw []byte) (any, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err == nil {
		return doc, nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, fmt.Errorf("not JSON: %v (at byte %d)", se, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return nil, errors.New("not JSON: it ends too early")
	}
	return nil, fmt.Errorf("not JSON: %v", err)
}

// parse decodes a schema document.
func parse(raw []byte) (any, error) {
	doc, err := parseJSON(raw)
	if err != nil {
		return nil, &CompileError{Reason: err.Error()}
	}
	switch doc.(type) {
	case map[string]any, bool:
		return doc, nil
	}
	return nil, &CompileError{Reason: fmt.Sprintf("a JSON Schema is an object or a boolean, not %s", jsonKind(doc))}
}

// compile compiles a schema document. Schemas without $schema follow draft
// 2020-12; "format" is asserted, not only annotated, so that a value
// claiming to be a date-time must be one.
func compile(raw []byte) (*jsonschema.Schema, error) {
	doc, err := parse(raw)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, &CompileError{Reason: err.Error()}
	}
	sch, err := c.Compile(docURL)
	if err != nil {
		return nil, compileError(err)
	}
	return sch, nil
}

// compileError turns a compiler error into a *CompileError, naming the bad
// keywords when the meta-schema rejected the document.
func compileError(err error) *CompileError {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			errs := fieldErrors(ve)
			return &CompileError{Reason: "not valid against its meta-schema: " + joinFieldErrors(errs), Errors: errs}
		}
	}
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		return &CompileError{Reason: fmt.Sprintf("reference to %s: %v", le.URL, le.Err)}
	}
	msg := strings.ReplaceAll(err.Error(), docURL, "")
	return &CompileError{Reason: msg}
}

// canonical returns the compact form of a schema document, which the
// registry stores, and a fingerprint of its content that ignores key order
// and spacing, by which it recognises a schema registered before.
func canonical(raw []byte) (compact []byte, fingerprint string, err error) {
	doc, err := parse(raw)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, "", &CompileError{Reason: "not JSON: " + err.Error()}
	}
	// encoding/json writes map keys sorted and json.Number as written.
	sorted, err := json.Marshal(doc)
	if err != nil {
		return nil, "", &CompileError{Reason: err.Error()}
	}
	sum := sha256.Sum256(sorted)
	return buf.Bytes(), hex.EncodeToString(sum[:]), nil
}

// fieldErrors flattens a validation error into one FieldError per failing
// place, with messages written for people, sorted by path.
func fieldErrors(ve *jsonschema.ValidationError) []FieldError {
	var out []FieldError
	collect(ve, &out)
	if len(out) == 0 {
		out = append(out, FieldError{Path: pointer(ve.InstanceLocation), Message: ve.ErrorKind.LocalizedString(printer)})
	}
	// The validator visits properties in map order; sorting makes the
	// answer the same every time.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func collect(e *jsonschema.ValidationError, out *[]FieldError) {
	path := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf:
		*out = append(*out, FieldError{Path: path, Message: "must match one of the anyOf alternatives" + alternatives(e)})
		return
	case *kind.OneOf:
		if len(k.Subschemas) >= 2 {
			*out = append(*out, FieldError{Path: path, Message: fmt.Sprintf("must match exactly one of the oneOf alternatives, but matches alternatives %d and %d", k.Subschemas[0], k.Subschemas[1])})
		} else {
			*out = append(*out, FieldError{Path: path, Message: "must match one of the oneOf alternatives" + alternatives(e)})
		}
		return
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, FieldError{Path: path + "/" + escape(name), Message: "is required"})
		}
		return
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, FieldError{Path: path + "/" + escape(name), Message: "is not allowed"})
		}
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, out)
		}
		return
	}
	*out = append(*out, FieldError{Path: path, Message: describe(e.ErrorKind)})
}

// alternatives lists why each alternative of an anyOf or oneOf failed.
func alternatives(e *jsonschema.ValidationError) string {
	path := pointer(e.InstanceLocation)
	var parts []string
	for _, c := range e.Causes {
		var errs []FieldError
		collect(c, &errs)
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
		for _, fe := range errs {
			if fe.Path == path {
				parts = append(parts, fe.Message)
			} else {
				parts = append(parts, fe.String())
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// describe says what a failed keyword wants, in the words of the field
// errors of the API ("must be >= 0").
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratString(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratString(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %s long", plural(k.Want, "character"))
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %s long", plural(k.Want, "character"))
	case *kind.MinItems:
		return "must have at least " + plural(k.Want, "item")
	case *kind.MaxItems:
		return "must have at most " + plural(k.Want, "item")
	case *kind.MinProperties:
		return "must have at least " + plural(k.Want, "property")
	case *kind.MaxProperties:
		return "must have at most " + plural(k.Want, "property")
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %s", strconv.Quote(k.Want))
	case *kind.Format:
		if k.Err != nil {
			return fmt.Sprintf("must be a valid %s (%v)", k.Want, k.Err)
		}
		return fmt.Sprintf("must be a valid %s", k.Want)
	case *kind.Enum:
		shown := make([]string, len(k.Want))
		for i, v := range k.Want {
			shown[i] = display(v)
		}
		return "must be one of " + strings.Join(shown, ", ")
	case *kind.Const:
		return "must be " + display(k.Want)
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "must not match the schema under \"not\""
	}
	return k.LocalizedString(printer)
}

// plural writes a count of things: 1 item, 2 items, 3 properties.
func plural(n int, thing string) string {
	switch {
	case n == 1:
		return "1 " + thing
	case strings.HasSuffix(thing, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// ratString writes an exact number as JSON would: an integer, or a
// decimal when it has no exact short form.
func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// pointer builds a JSON Pointer from its reference tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escape(token string) string { return pointerEscaper.Replace(token) }

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
