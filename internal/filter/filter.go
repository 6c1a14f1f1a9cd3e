// Package filter is the small expression language that picks records by
// their fields: a relay route's filter, and the filter of the console's
// message browser. It also holds the field paths (a.b[0].c) the language
// and the relay's mappings read records with.
//
// Nothing in it executes: a filter can only read the record.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// Filter limits.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
	maxInItems     = 256
)

// Filter is a compiled route filter: a small expression over a record's
// fields that only compares values. The grammar:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | "(" expr ")" | compare
//	compare = operand ( ("==" | "!=" | "<" | "<=" | ">" | ">=") operand
//	                  | "in" "[" literal { "," literal } "]" )
//	        | path                (ParseMatch only)
//	operand = path | literal
//	literal = string | number | "true" | "false" | "null"
//
// Strings and numbers are written as in JSON; paths as in [ParsePath],
// optionally after a JSONPath-style root: $.order.status is order.status,
// $["odd key"] is ["odd key"]. A missing field is null. == and != compare
// JSON values (numbers by value); <, <=, > and >= hold only between two
// numbers or two strings. Nothing is executed: a filter can only read the
// record.
//
// A route filter refuses a field on its own, so that "not used" cannot be
// misread; a browsing filter ([ParseMatch]) takes it as a test that the
// field exists and is not null.
type Filter struct {
	text string
	root node
}

// String returns the filter in canonical form ("" for none).
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

// Match reports whether the record (decoded with json.Number) passes.
// A nil filter passes everything.
func (f *Filter) Match(record any) bool {
	if f == nil {
		return true
	}
	return f.root.eval(record)
}

// MatchJSON reports whether a JSON document passes. A document that is not
// JSON passes only a nil filter.
func (f *Filter) MatchJSON(doc []byte) bool {
	if f == nil {
		return true
	}
	v, err := DecodeJSON(doc)
	return err == nil && f.root.eval(v)
}

// ParseFilter compiles a filter expression. An empty expression is no
// filter (nil).
func ParseFilter(s string) (*Filter, error) { return parseFilter(s, false) }

// ParseMatch compiles a filter for browsing records: the grammar of
// [ParseFilter], where a field on its own, like $.customer.email, holds
// when the field exists and is not null. An empty expression is no filter
// (nil).
func ParseMatch(s string) (*Filter, error) { return parseFilter(s, true) }

func parseFilter(s string, exists bool) (*Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("filter longer than %d bytes", maxFilterLen)
	}
	p := &parser{src: s, exists: exists}
	if err := p.next(); err != nil {
		return nil, err
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, fmt.Errorf("filter: unexpected %s at byte %d", p.tok.describe(), p.tok.pos)
	}
	return &Filter{text: n.String(), root: n}, nil
}

type node interface {
	eval(rec any) bool
	String() string
}

type orNode struct{ l, r node }
type andNode struct{ l, r node }
type notNode struct{ x node }
type cmpNode struct {
	op   string
	l, r operand
}
type inNode struct {
	x    operand
	list []any
}

// existsNode holds when its path leads to a value other than null.
type existsNode struct{ path Path }

func (n existsNode) eval(rec any) bool {
	v, ok := n.path.Lookup(rec)
	return ok && v != nil
}

func (n existsNode) String() string { return pathString(n.path) }

func (n orNode) eval(rec any) bool  { return n.l.eval(rec) || n.r.eval(rec) }
func (n andNode) eval(rec any) bool { return n.l.eval(rec) && n.r.eval(rec) }
func (n notNode) eval(rec any) bool { return !n.x.eval(rec) }
func (n orNode) String() string     { return "(" + n.l.String() + " or " + n.r.String() + ")" }
func (n andNode) String() string    { return "(" + n.l.String() + " and " + n.r.String() + ")" }
func (n notNode) String() string    { return "not " + n.x.String() }

func (n cmpNode) eval(rec any) bool {
	a, b := n.l.value(rec), n.r.value(rec)
	switch n.op {
	case "==":
		return jsonEqual(a, b)
	case "!=":
		return !jsonEqual(a, b)
	}
	c, ok := order(a, b)
	if !ok {
		return false
	}
	switch n.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default:
		return c >= 0
	}
}

func (n cmpNode) String() string { return n.l.String() + " " + n.op + " " + n.r.String() }

func (n inNode) eval(rec any) bool {
	v := n.x.value(rec)
	for _, it := range n.list {
		if jsonEqual(v, it) {
			return true
		}
	}
	return false
}

func (n inNode) String() string {
	parts := make([]string, len(n.list))
	for i, v := range n.list {
		parts[i] = literalString(v)
	}
	return n.x.String() + " in [" + strings.Join(parts, ", ") + "]"
}

// operand is a path or a literal.
type operand struct {
	path *Path
	lit  any
}

func (o operand) value(rec any) any {
	if o.path == nil {
		return o.lit
	}
	v, _ := o.path.Lookup(rec)
	return v
}

func (o operand) String() string {
	if o.path != nil {
		return pathString(*o.path)
	}
	return literalString(o.lit)
}

// pathString writes a path so that the filter lexer reads it back as the
// same path: with a $ root where the bare form would read as a keyword, a
// number or an opening bracket.
func pathString(p Path) string {
	t := p.String()
	switch {
	case isKeyword(t), t[0] == '-' || t[0] >= '0' && t[0] <= '9': // would read as a keyword or a number
		return "$." + t
	case strings.HasPrefix(t, "[") && !strings.HasPrefix(t, `["`):
		return "$" + t
	}
	return t
}

func isKeyword(s string) bool {
	switch s {
	case "true", "false", "null", "and", "or", "not", "in":
		return true
	}
	return false
}

func literalString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonEqual compares two decoded JSON values; numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		c, ok := compareNumbers(x, y)
		return ok && c == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

func order(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return 0, false
		}
		return compareNumbers(x, y)
	}
	return 0, false
}

func compareNumbers(a, b json.Number) (int, bool) {
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if y, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	if !ok1 || !ok2 {
		return 0, false
	}
	return x.Cmp(y), true
}

// DecodeJSON decodes one JSON value as filters and paths read it, keeping
// numbers as json.Number; data after the value is an error.
func DecodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the value")
	}
	return v, nil
}
