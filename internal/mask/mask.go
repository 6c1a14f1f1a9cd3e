// Package mask hides sensitive fields of records from the people and logs
// that see them. A policy names, per topic, the fields to hide or to show
// in part; the server applies it wherever records are shown (the console,
// the API's reads, dead letters) to anyone without the records.unmask
// permission on the topic. The records themselves are never changed: a
// consumer reading the backbone gets them whole.
package mask

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// ErrInvalid is the kind of a policy's input errors.
var ErrInvalid = errors.New("mask: invalid policy")

// Mode says how a field is masked.
type Mode string

const (
	// Hide replaces the value with "•••".
	Hide Mode = "hide"
	// Partial keeps the last four characters of the value and replaces the
	// rest with "•": "•••••••••••4242".
	Partial Mode = "partial"
	// Hash replaces the value with the first 12 hex digits of its SHA-256,
	// so that equal values can still be matched without being read.
	Hash Mode = "hash"
)

// Hidden is what a hidden value shows.
const Hidden = "•••"

// Field is one masked field of a record. Path is a dot-separated path
// into the record's JSON value ("card.number"; an array's elements are
// passed through, so "items.card" masks the card of every item), or one
// of "@key" (the record's key), "@value" (the whole value, JSON or not)
// and "@header.NAME" (a header's value).
type Field struct {
	Path string `json:"path"`
	Mode Mode   `json:"mode"`
}

// Policy is the masking of one topic.
type Policy struct {
	Topic  string  `json:"topic"`
	Fields []Field `json:"fields"`
}

// Validate checks the policy's fields: a path and a known mode each, no
// path twice.
func (p Policy) Validate() error {
	errs := invalid.Fields{Kind: ErrInvalid}
	if err := stream.ValidateTopicName(p.Topic); err != nil {
		errs.Add("topic", "%s", err.Error())
	}
	if len(p.Fields) == 0 {
		errs.Add("fields", "%s", "required: at least one field to mask; delete the policy to mask nothing")
	}
	seen := map[string]bool{}
	for i, f := range p.Fields {
		name := fmt.Sprintf("fields[%d]", i)
		switch {
		case f.Path == "":
			errs.Add(name+".path", "%s", `required: a dot-separated path such as "card.number", or "@key", "@value" or "@header.NAME"`)
		case strings.HasPrefix(f.Path, "@") && f.Path != "@key" && f.Path != "@value" && (!strings.HasPrefix(f.Path, "@header.") || f.Path == "@header."):
			errs.Add(name+".path", "%s", fmt.Sprintf(`%q is not a record part; use "@key", "@value" or "@header.NAME"`, f.Path))
		case !strings.HasPrefix(f.Path, "@") && slices.Contains(strings.Split(f.Path, "."), ""):
			errs.Add(name+".path", "%s", fmt.Sprintf("%q has an empty step; separate field names with single dots", f.Path))
		case seen[f.Path]:
			errs.Add(name+".path", "%s", fmt.Sprintf("%q is masked twice", f.Path))
		}
		seen[f.Path] = true
		switch f.Mode {
		case Hide, Partial, Hash:
		default:
			errs.Add(name+".mode", "%s", fmt.Sprintf(`%q is not a mode; use "hide", "partial" or "hash"`, f.Mode))
		}
	}
	return errs.Err()
}

// Record returns a copy of r with the policy's fields masked, and whether
// anything was masked. r itself is not changed. A value that is not JSON
// is masked only by "@value".
func (p Policy) Record(r *stream.Record) (*stream.Record, bool) {
	if len(p.Fields) == 0 {
		return r, false
	}
	out := *r
	masked, cloned := false, false
	var paths []Field
	for _, f := range p.Fields {
		switch {
		case f.Path == "@key":
			if r.Key != nil {
				out.Key, masked = []byte(apply(f.Mode, string(r.Key))), true
			}
		case f.Path == "@value":
			if r.Value != nil {
				out.Value, masked = []byte(apply(f.Mode, string(r.Value))), true
			}
		case strings.HasPrefix(f.Path, "@header."):
			name := strings.TrimPrefix(f.Path, "@header.")
			for i, h := range out.Headers {
				if h.Key == name && h.Value != nil {
					if !cloned {
						out.Headers, cloned = slices.Clone(out.Headers), true
					}
					out.Headers[i].Value, masked = []byte(apply(f.Mode, string(h.Value))), true
				}
			}
		default:
			paths = append(paths, f)
		}
	}
	if len(paths) > 0 && !p.wholeValueMasked() {
		if v, ok := maskJSON(out.Value, paths); ok {
			out.Value, masked = v, true
		}
	}
	return &out, masked
}

func (p Policy) wholeValueMasked() bool {
	return slices.ContainsFunc(p.Fields, func(f Field) bool { return f.Path == "@value" })
}

// maskJSON rewrites value with the fields at paths masked, keeping the
// order of its members. It reports false when value is not JSON or no
// path matched.
func maskJSON(value []byte, fields []Field) ([]byte, bool) {
	trimmed := bytes.TrimSpace(value)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return nil, false
	}
	rules := make([]rule, len(fields))
	for i, f := range fields {
		rules[i] = rule{steps: strings.Split(f.Path, "."), mode: f.Mode}
	}
	var buf bytes.Buffer
	d := jsontext.NewDecoder(bytes.NewReader(trimmed))
	e := jsontext.NewEncoder(&buf)
	w := walker{d: d, e: e, rules: rules}
	if err := w.value(nil); err != nil || !w.masked {
		return nil, false
	}
	if _, err := d.ReadToken(); err == nil {
		return nil, false // more than one value: not a record we understand
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}

type rule struct {
	steps []string
	mode  Mode
}

type walker struct {
	d      *jsontext.Decoder
	e      *jsontext.Encoder
	rules  []rule
	masked bool
}

// value copies the next value, masking it or its members where a rule's
// path is path (or goes through it).
func (w *walker) value(path []string) error {
	under := false
	for _, r := range w.rules {
		if len(r.steps) == len(path) && slices.Equal(r.steps, path) {
			raw, err := w.d.ReadValue()
			if err != nil {
				return err
			}
			w.masked = true
			return w.e.WriteToken(jsontext.String(apply(r.mode, plain(raw))))
		}
		if len(r.steps) > len(path) && slices.Equal(r.steps[:len(path)], path) {
			under = true
		}
	}
	kind := w.d.PeekKind()
	if !under || (kind != '{' && kind != '[') {
		raw, err := w.d.ReadValue()
		if err != nil {
			return err
		}
		return w.e.WriteValue(raw)
	}
	open, err := w.d.ReadToken()
	if err != nil {
		return err
	}
	if err := w.e.WriteToken(open); err != nil {
		return err
	}
	for w.d.PeekKind() != kind+2 { // '}' is '{'+2, ']' is '['+2
		next := path
		if kind == '{' {
			name, err := w.d.ReadToken()
			if err != nil {
				return err
			}
			if err := w.e.WriteToken(name); err != nil {
				return err
			}
			next = append(slices.Clip(path), name.String())
		}
		if err := w.value(next); err != nil {
			return err
		}
	}
	end, err := w.d.ReadToken()
	if err != nil {
		return err
	}
	return w.e.WriteToken(end)
}

// plain is the text of a JSON value: a string's contents, any other
// value's JSON.
func plain(raw jsontext.Value) string {
	if raw.Kind() == '"' {
		var s string
		if err := jsonString(raw, &s); err == nil {
			return s
		}
	}
	return string(raw)
}

func jsonString(raw jsontext.Value, s *string) error {
	tok, err := jsontext.NewDecoder(bytes.NewReader(raw)).ReadToken()
	if err != nil {
		return err
	}
	*s = tok.String()
	return nil
}

// apply masks one value.
func apply(mode Mode, s string) string {
	switch mode {
	case Partial:
		n := utf8.RuneCountInString(s)
		if n <= 4 {
			return Hidden
		}
		keep := []rune(s)[n-4:]
		return strings.Repeat("•", max(n-4, 3)) + string(keep)
	case Hash:
		sum := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(sum[:6])
	default:
		return Hidden
	}
}
