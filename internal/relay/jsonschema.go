package relay

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/arus-platform/arus/internal/filter"
	"github.com/arus-platform/arus/invalid"
)

var schemaPrinter = message.NewPrinter(language.English)

const schemaURL = "mem:///dataset.json"

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("references to other documents are not supported; put shared definitions under $defs")
}

// compileSchema compiles a dataset's JSON Schema (draft 2020-12 unless it
// says otherwise; references only inside the document).
func compileSchema(doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	switch v.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("a JSON Schema is an object or a boolean")
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaURL, v); err != nil {
		return nil, err
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, err
	}
	return sch, nil
}

// schemaErrors validates v against sch and returns field errors with
// paths like price or items[2].name, prefixed by prefix.
func schemaErrors(sch *jsonschema.Schema, v any, prefix string) []invalid.Field {
	err := sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []invalid.Field{{Name: fieldPath(prefix, nil), Message: err.Error()}}
	}
	var out []invalid.Field
	collectSchemaErrors(ve, prefix, &out)
	if len(out) == 0 {
		out = append(out, invalid.Field{Name: fieldPath(prefix, ve.InstanceLocation), Message: ve.Error()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func collectSchemaErrors(e *jsonschema.ValidationError, prefix string, out *[]invalid.Field) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectSchemaErrors(c, prefix, out)
		}
		return
	}
	*out = append(*out, invalid.Field{Name: fieldPath(prefix, e.InstanceLocation), Message: e.ErrorKind.LocalizedString(schemaPrinter)})
}

// fieldPath renders a location as prefix.a[2].b; "(record)" for the
// record itself without prefix.
func fieldPath(prefix string, loc []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range loc {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && strconv.Itoa(n) == s {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if filter.PlainName(s) {
			b.WriteString(s)
		} else {
			b.WriteString(strconv.Quote(s))
		}
	}
	if b.Len() == 0 {
		return "(record)"
	}
	return b.String()
}
