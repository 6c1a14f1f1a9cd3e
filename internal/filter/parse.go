package filter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The filter language's tokenizer and recursive-descent parser.

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
