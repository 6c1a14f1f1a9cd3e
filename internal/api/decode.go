package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/invalid"
)

// decode reads a JSON request body of at most limit bytes into v, a
// pointer to a struct. It answers a body over the limit with 413, malformed
// JSON with 400 naming the byte offset, and unknown fields or values of the
// wrong type with 422 naming the field path (records[2].key).
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) *Problem {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return bodyError(err)
	}
	return decodeBytes(body, v)
}

// decodeBytes is decode on a body already read.
func decodeBytes(body []byte, v any) *Problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return emptyBody()
	}
	// Fast path: a well-formed request decodes once. Only a bad one pays
	// for the second pass that names the offending field.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err == nil && len(bytes.TrimSpace(body[dec.InputOffset():])) == 0 {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	var generic any
	if err := json.Unmarshal(body, &generic); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return syntaxError(body, se)
		}
		return truncated(err)
	}
	if errs := checkValue(generic, reflect.TypeOf(v).Elem(), ""); len(errs) > 0 {
		return invalidFields("body_invalid", errs)
	}
	if err := json.Unmarshal(body, v); err != nil {
		// checkValue has seen every field; what is left is a value that
		// decodes but does not fit, reported as well as encoding/json can.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalidFields("body_invalid", []invalid.Field{{Name: te.Field, Message: fmt.Sprintf("a JSON %s does not fit here (byte %d)", te.Value, te.Offset)}})
		}
		return Coded(Invalid(err.Error()), "body_invalid", "(body)")
	}
	return nil
}

// position returns the 1-based line and column of byte offset off.
func position(body []byte, off int64) (line, col int) {
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	before := body[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// checker is implemented by request types that accept more than one JSON
// shape; they check a decoded value themselves.
type checker interface {
	checkJSON(v any, path string) []invalid.Field
}

var (
	checkerType     = reflect.TypeFor[checker]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// checkValue compares a value decoded into any with the Go type it will be
// decoded into, and reports unknown object fields and values of the wrong
// JSON kind with their full path.
func checkValue(v any, t reflect.Type, path string) []invalid.Field {
	if v == nil {
		return nil // null leaves the zero value, whatever the type
	}
	if reflect.PointerTo(t).Implements(checkerType) {
		return reflect.New(t).Interface().(checker).checkJSON(v, path)
	}
	if t == rawMessageType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkValue(v, t.Elem(), path)
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return kindError(path, "an object", v)
		}
		var errs []invalid.Field
		for _, name := range sortedKeys(obj) {
			f, ok := jsonField(t, name)
			if !ok {
				errs = append(errs, invalid.Field{Name: join(path, name), Message: fmt.Sprintf("unknown field %q; known fields: %s", name, strings.Join(jsonFields(t), ", "))})
				continue
			}
			errs = append(errs, checkValue(obj[name], f.Type, join(path, name))...)
		}
		return errs
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return kindError(path, "an array", v)
		}
		var errs []invalid.Field
		for i, e := range arr {
			errs = append(errs, checkValue(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return kindError(path, "an object", v)
		}
		var errs []invalid.Field
		for _, k := range sortedKeys(obj) {
			errs = append(errs, checkValue(obj[k], t.Elem(), join(path, k))...)
		}
		return errs
	case reflect.String:
		if _, ok := v.(string); !ok {
			return kindError(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return kindError(path, "true or false", v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := v.(float64)
		if !ok {
			return kindError(path, "an integer", v)
		}
		bits := t.Bits()
		lo, hi := -math.Pow(2, float64(bits-1)), math.Pow(2, float64(bits-1))
		if f != math.Trunc(f) || f < lo || f >= hi {
			return []invalid.Field{{Name: path, Message: fmt.Sprintf("%s is not an integer of %d bits", strconv.FormatFloat(f, 'f', -1, 64), bits)}}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(float64); !ok {
			return kindError(path, "a number", v)
		}
	}
	return nil
}

func kindError(path, want string, got any) []invalid.Field {
	return []invalid.Field{{Name: path, Message: fmt.Sprintf("want %s, got %s", want, jsonKind(got))}}
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "the number " + strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// jsonField finds the struct field that JSON name decodes into. Names
// match exactly: the API documents its field names, and a field spelt with
// other capitals is reported as unknown instead of silently accepted.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if n, ok := fieldName(f); ok && n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonFields(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n, ok := fieldName(t.Field(i)); ok {
			names = append(names, n)
		}
	}
	return names
}

func fieldName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}
