package filter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxPathLen bounds a field path, maxPathSegments its segments.
const (
	maxPathLen      = 512
	maxPathSegments = 32
)

// Path is a compiled field path into a JSON record: names and array
// indexes, written like a.b[0].c or ["odd key"].x.
type Path struct {
	text string
	segs []pathSeg
}

type pathSeg struct {
	name  string
	index int // used when isIdx
	isIdx bool
}

// String returns the path as written canonically.
func (p Path) String() string { return p.text }

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ParsePath parses a field path: a name, then any of .name, [index] or
// ["quoted name"]. Names are letters, digits, '_' and '-'.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, fmt.Errorf("empty field path")
	}
	if len(s) > maxPathLen {
		return Path{}, fmt.Errorf("field path longer than %d bytes", maxPathLen)
	}
	var segs []pathSeg
	i := 0
	first := true
	for i < len(s) {
		if len(segs) == maxPathSegments {
			return Path{}, fmt.Errorf("field path %q has more than %d parts", s, maxPathSegments)
		}
		switch {
		case s[i] == '[':
			j := strings.IndexByte(s[i:], ']')
			if i+1 < len(s) && s[i+1] == '"' {
				end, name, err := scanString(s, i+1)
				if err != nil {
					return Path{}, fmt.Errorf("field path %q: %v", s, err)
				}
				if end >= len(s) || s[end] != ']' {
					return Path{}, fmt.Errorf("field path %q: expected ] at byte %d", s, end)
				}
				segs = append(segs, pathSeg{name: name})
				i = end + 1
				break
			}
			if j < 0 {
				return Path{}, fmt.Errorf("field path %q: [ at byte %d is not closed", s, i)
			}
			num := s[i+1 : i+j]
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n > 1<<20 || strconv.Itoa(n) != num {
				return Path{}, fmt.Errorf("field path %q: index %q must be a whole number from 0", s, num)
			}
			segs = append(segs, pathSeg{index: n, isIdx: true})
			i += j + 1
		case s[i] == '.' && !first:
			i++
			fallthrough
		case first:
			j := i
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			if j == i {
				return Path{}, fmt.Errorf("field path %q: expected a name at byte %d", s, i)
			}
			segs = append(segs, pathSeg{name: s[i:j]})
			i = j
		default:
			return Path{}, fmt.Errorf("field path %q: unexpected %q at byte %d", s, s[i], i)
		}
		first = false
	}
	p := Path{segs: segs}
	p.text = p.render()
	return p, nil
}

func (p Path) render() string {
	var b strings.Builder
	for i, sg := range p.segs {
		switch {
		case sg.isIdx:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(sg.index))
			b.WriteByte(']')
		case PlainName(sg.name):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(sg.name)
		default:
			q, _ := json.Marshal(sg.name)
			b.WriteByte('[')
			b.Write(q)
			b.WriteByte(']')
		}
	}
	return b.String()
}

// PlainName reports whether s is written bare in a path: letters, digits,
// '_' and '-'. Other names are quoted.
func PlainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// Lookup returns the value at p in v and whether it exists.
func (p Path) Lookup(v any) (any, bool) {
	for _, sg := range p.segs {
		if sg.isIdx {
			a, ok := v.([]any)
			if !ok || sg.index >= len(a) {
				return nil, false
			}
			v = a[sg.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = m[sg.name]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// scanString reads a JSON string starting at s[i] == '"' and returns the
// index after its closing quote and its value.
func scanString(s string, i int) (int, string, error) {
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '\\':
			j += 2
			continue
		case '"':
			var out string
			if err := json.Unmarshal([]byte(s[i:j+1]), &out); err != nil {
				return 0, "", fmt.Errorf("bad string at byte %d", i)
			}
			return j + 1, out, nil
		}
		j++
	}
	return 0, "", fmt.Errorf("string at byte %d is not closed", i)
}
