package sink

import (
	"strings"
	"testing"
)

func TestCheckIdent(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"items", true},
		{"Order Lines", true},
		{"größe", true},
		{`a""b`, true},
		{"a``b", true},
		{"x]; DROP TABLE t; --", true}, // harmless once quoted; the catalogue decides
		{"", false},
		{"a\x00b", false},
		{"a\nb", false},
		{`a"; DROP TABLE x; --`, false},
		{"a`; DROP TABLE x; --", false},
		{"\xff", false},
		{strings.Repeat("x", 129), false},
	} {
		if err := checkIdent(tc.name); (err == nil) != tc.ok {
			t.Errorf("checkIdent(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		quote func(string) string
		in    string
		want  string
	}{
		{quoteDouble, `a""b`, `"a""""b"`},
		{quoteDouble, "x", `"x"`},
		{quoteBacktick, "a``b", "`a````b`"},
		{quoteBracket, "a]b[", "[a]]b[]"},
	} {
		if got := tc.quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// unquote reads one quoted identifier from the start of s the way a SQL
// lexer does and returns it and the rest of s.
func unquote(s string, open, close byte) (name, rest string, ok bool) {
	if s == "" || s[0] != open {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != close {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == close {
			b.WriteByte(close)
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

// FuzzQuote: a valid name, quoted for any dialect and followed by more
// SQL, lexes back to exactly that name with the rest of the statement
// untouched: no name can end its quoting early.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"items", `a"; DROP TABLE x; --`, "a`b`", "x]; --", `""`, "[]", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkIdent(name) != nil {
			return
		}
		if strings.ContainsRune(name, 0) {
			t.Fatalf("checkIdent accepted a NUL in %q", name)
		}
		for _, q := range []struct {
			quote       func(string) string
			open, close byte
		}{{quoteDouble, '"', '"'}, {quoteBacktick, '`', '`'}, {quoteBracket, '[', ']'}} {
			const tail = " = 1; SELECT 2"
			got, rest, ok := unquote(q.quote(name)+tail, q.open, q.close)
			if !ok || got != name || rest != tail {
				t.Errorf("quote(%q) lexes as %q + %q (ok %v)", name, got, rest, ok)
			}
		}
	})
}
