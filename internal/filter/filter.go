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

// Tokens.
type tokKind int

const (
	tEOF tokKind = iota
	tPath
	tString
	tNumber
	tWord // true false null and or not in
	tOp   // == != < <= > >=
	tPunct
)

type token struct {
	kind tokKind
	text string
	val  any
	path Path
	pos  int
}

func (t token) describe() string {
	if t.kind == tEOF {
		return "end of filter"
	}
	return strconv.Quote(t.text)
}

type parser struct {
	src    string
	pos    int
	tok    token
	exists bool // a field on its own tests that it exists
}

func (p *parser) next() error {
	s := p.src
	for p.pos < len(s) && (s[p.pos] == ' ' || s[p.pos] == '\t' || s[p.pos] == '\n' || s[p.pos] == '\r') {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(s) {
		p.tok = token{kind: tEOF, pos: start}
		return nil
	}
	c := s[p.pos]
	switch {
	case c == '"':
		end, v, err := scanString(s, p.pos)
		if err != nil {
			return fmt.Errorf("filter: %v", err)
		}
		p.pos = end
		p.tok = token{kind: tString, text: s[start:end], val: v, pos: start}
		return nil
	case c == '-' || c >= '0' && c <= '9':
		end := p.pos + 1
		for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || s[end] == 'e' || s[end] == 'E' || s[end] == '+' || s[end] == '-') {
			end++
		}
		text := s[start:end]
		if !validNumber(text) {
			return fmt.Errorf("filter: %q at byte %d is not a JSON number", text, start)
		}
		p.pos = end
		p.tok = token{kind: tNumber, text: text, val: json.Number(text), pos: start}
		return nil
	case c == '=' || c == '!' || c == '<' || c == '>':
		op := string(c)
		if p.pos+1 < len(s) && s[p.pos+1] == '=' {
			op += "="
		}
		if op == "=" || op == "!" {
			return fmt.Errorf("filter: %q at byte %d: use == or !=, and not for negation", op, start)
		}
		p.pos += len(op)
		p.tok = token{kind: tOp, text: op, pos: start}
		return nil
	case c == '(' || c == ')' || c == '[' && !p.quotedKeyAhead() || c == ']' || c == ',':
		p.pos++
		p.tok = token{kind: tPunct, text: string(c), pos: start}
		return nil
	case c == '$':
		// A JSONPath-style root: $.a.b and $["k"] are the paths a.b and ["k"].
		from := p.pos + 1
		if from < len(s) && s[from] == '.' {
			from++
		}
		if from >= len(s) || !isNameByte(s[from]) && s[from] != '[' {
			return fmt.Errorf("filter: expected a field after $ at byte %d", start)
		}
		return p.scanPath(start, from, false)
	case isNameByte(c) || c == '[':
		return p.scanPath(start, start, true)
	}
	return fmt.Errorf("filter: unexpected %q at byte %d", c, start)
}

// scanPath reads the path written from s[from], a token starting at
// start; keywords count as such only when words is set.
func (p *parser) scanPath(start, from int, words bool) error {
	s := p.src
	end := from
scan:
	for end < len(s) {
		switch {
		case isNameByte(s[end]) || s[end] == '.':
			end++
			continue
		case s[end] == '[':
			if end+1 < len(s) && s[end+1] == '"' {
				e, _, err := scanString(s, end+1)
				if err != nil {
					return fmt.Errorf("filter: %v", err)
				}
				if e < len(s) && s[e] == ']' {
					end = e + 1
					continue
				}
			}
			if j := strings.IndexByte(s[end:], ']'); j > 0 {
				end += j + 1
				continue
			}
		}
		break scan
	}
	text := s[from:end]
	p.pos = end
	if words && isKeyword(text) {
		p.tok = token{kind: tWord, text: text, pos: start}
		return nil
	}
	path, err := ParsePath(text)
	if err != nil {
		return fmt.Errorf("filter: at byte %d: %v", start, err)
	}
	p.tok = token{kind: tPath, text: s[start:end], path: path, pos: start}
	return nil
}

// quotedKeyAhead reports whether '[' at pos starts a ["quoted"] path.
func (p *parser) quotedKeyAhead() bool {
	return p.pos+1 < len(p.src) && p.src[p.pos+1] == '"' && !(p.tok.kind == tWord && p.tok.text == "in")
}

func validNumber(s string) bool {
	var n json.Number
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		return false
	}
	return string(n) == s
}

func (p *parser) expect(kind tokKind, text string) error {
	if p.tok.kind != kind || p.tok.text != text {
		return fmt.Errorf("filter: expected %q at byte %d, found %s", text, p.tok.pos, p.tok.describe())
	}
	return p.next()
}

// endsTerm reports whether the current token ends a comparison: the end,
// a closing parenthesis, and or or.
func (p *parser) endsTerm() bool {
	return p.tok.kind == tEOF || p.tok.kind == tPunct && p.tok.text == ")" || p.word("and") || p.word("or")
}

func (p *parser) word(w string) bool { return p.tok.kind == tWord && p.tok.text == w }

func (p *parser) expr(depth int) (node, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("filter: nested deeper than %d at byte %d", maxFilterDepth, p.tok.pos)
	}
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.word("or") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.word("and") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("filter: nested deeper than %d at byte %d", maxFilterDepth, p.tok.pos)
	}
	switch {
	case p.word("not"):
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case p.tok.kind == tPunct && p.tok.text == "(":
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ")"); err != nil {
			return nil, err
		}
		return x, nil
	}
	return p.compare()
}

func (p *parser) operand() (operand, error) {
	t := p.tok
	var o operand
	switch {
	case t.kind == tPath:
		path := t.path
		o = operand{path: &path}
	case t.kind == tString || t.kind == tNumber:
		o = operand{lit: t.val}
	case t.kind == tWord && (t.text == "true" || t.text == "false"):
		o = operand{lit: t.text == "true"}
	case t.kind == tWord && t.text == "null":
		o = operand{}
	default:
		return operand{}, fmt.Errorf("filter: expected a field or a value at byte %d, found %s", t.pos, t.describe())
	}
	return o, p.next()
}

func (p *parser) compare() (node, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == tOp:
		op := p.tok.text
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		if l.path == nil && r.path == nil {
			return nil, fmt.Errorf("filter: %s %s %s compares two constants; compare a field", l, op, r)
		}
		return cmpNode{op: op, l: l, r: r}, nil
	case p.word("in"):
		if l.path == nil {
			return nil, fmt.Errorf("filter: %s in [...]: the left side of in must be a field", l)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, "["); err != nil {
			return nil, err
		}
		var list []any
		for {
			if len(list) == maxInItems {
				return nil, fmt.Errorf("filter: more than %d values in a list at byte %d", maxInItems, p.tok.pos)
			}
			v, err := p.operand()
			if err != nil {
				return nil, err
			}
			if v.path != nil {
				return nil, fmt.Errorf("filter: list of in holds values only, not the field %s", v.path)
			}
			list = append(list, v.lit)
			if p.tok.kind == tPunct && p.tok.text == "," {
				if err := p.next(); err != nil {
					return nil, err
				}
				continue
			}
			break
		}
		if err := p.expect(tPunct, "]"); err != nil {
			return nil, err
		}
		return inNode{x: l, list: list}, nil
	}
	if p.exists && l.path != nil && p.endsTerm() {
		return existsNode{path: *l.path}, nil
	}
	return nil, fmt.Errorf("filter: expected a comparison (==, !=, <, <=, >, >=, in) after %s at byte %d, found %s", l, p.tok.pos, p.tok.describe())
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
