package web

import (
	"fmt"
	"go/ast"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every field error format of the ticketing, payment and gate services
// (each invalid.New, checker Add and waiting-room refuse in their source)
// has an Indonesian wording that takes its values: a new message without
// one fails here.
func TestFieldTextEveryFormat(t *testing.T) {
	formats := map[string]string{} // format → where
	serviceCalls(t, []string{"../../ticketing"}, func(path string, pos token.Position, call *ast.CallExpr) {
		i := -1
		switch callee(call) {
		case "invalid.New":
			i = 2
		case "c.Add", "refuse":
			i = 1
		}
		if i < 0 || len(call.Args) <= i {
			return
		}
		if _, ok := call.Args[i].(*ast.Ident); ok && call.Ellipsis.IsValid() {
			return // a wrapper passing on its own format, checked where it is called
		}
		lit, ok := call.Args[i].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("%s: a field error's format must be written out", pos)
			return
		}
		f, _ := strconv.Unquote(lit.Value)
		formats[f] = pos.String()
	})
	if len(formats) < 60 {
		t.Fatalf("found %d field error formats; the walk misses some", len(formats))
	}
	for f, where := range formats {
		id, ok := fieldText[f]
		if !ok {
			t.Errorf("%s: field error %q has no Indonesian wording in fieldText", where, f)
			continue
		}
		n := len(fieldVerb.FindAllString(f, -1))
		if strings.Count(f, "%") != n {
			t.Errorf("field error %q has a verb other than %%d, %%q, %%s and %%v", f)
		}
		args := make([]any, n)
		for i := range args {
			args[i] = fmt.Sprintf("<%d>", i)
		}
		if got := fill(id, args...); strings.Contains(got, "%!") {
			t.Errorf("field error %q in Indonesian with %d values: %q", f, n, got)
		}
	}
}

func TestFieldMsg(t *testing.T) {
	for _, c := range []struct{ en, id string }{
		{"is required", "wajib diisi"},
		{`"x" is not a whole number`, `"x" bukan bilangan bulat`},
		{"must be after starts", "harus setelah starts"},
		{"ticket tk_1 is named twice", "tiket tk_1 disebut dua kali"},
		{"ticket tk_1 is revoked", "tiket tk_1 berstatus dicabut"},
		{"600000 is less than the 750000 due", "600.000 kurang dari tagihan 750.000"},
		{`"vip" is not one of ga, vip2`, `"vip" bukan salah satu dari ga, vip2`},
		{"something else", "something else"},
	} {
		if got := (view{Lang: "id"}).FieldMsg(c.en); got != c.id {
			t.Errorf("FieldMsg(%q) = %q, want %q", c.en, got, c.id)
		}
		if got := (view{Lang: "en"}).FieldMsg(c.en); got != c.en {
			t.Errorf("English FieldMsg(%q) = %q", c.en, got)
		}
	}
}

// The scanner words the gate service's field errors (the only field errors
// the gate API answers without a code) from fieldText: every format of
// the gate's source is in gateFieldFormats, which names no other, and
// each has an Indonesian wording that the page gets, matched as FieldMsg
// matches it. In English the page gets none.
func TestScannerFieldFormats(t *testing.T) {
	inSource := map[string]string{} // format → where
	serviceCalls(t, []string{"../../ticketing/gate"}, func(path string, pos token.Position, call *ast.CallExpr) {
		i := -1
		switch name := callee(call); {
		case name == "invalid.New":
			i = 2
		case strings.HasSuffix(name, ".Add") && len(call.Args) >= 2:
			i = 1
		}
		if i < 0 || len(call.Args) <= i {
			return
		}
		lit, ok := call.Args[i].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("%s: a field error's format must be written out", pos)
			return
		}
		f, _ := strconv.Unquote(lit.Value)
		if f == "%s" && strings.HasSuffix(callee(call), ".Add") {
			return // a message made elsewhere, passed on under another name
		}
		inSource[f] = pos.String()
	})
	if len(inSource) < 20 {
		t.Fatalf("found %d field error formats in the gate; the walk misses some", len(inSource))
	}
	listed := map[string]bool{}
	for _, f := range gateFieldFormats {
		listed[f] = true
		if _, ok := inSource[f]; !ok {
			t.Errorf("gateFieldFormats names %q, which the gate does not write", f)
		}
		if _, ok := fieldText[f]; !ok {
			t.Errorf("the gate's field error %q has no Indonesian wording in fieldText", f)
		}
	}
	for f, where := range inSource {
		if !listed[f] {
			t.Errorf("%s: the gate's field error %q is not in gateFieldFormats", where, f)
		}
	}

	shipped := scanFields("id")
	if len(shipped) != len(gateFieldFormats) {
		t.Errorf("the Indonesian scanner gets %d field wordings, want %d", len(shipped), len(gateFieldFormats))
	}
	sample := map[string]any{"%d": 7, "%s": "g1", "%q": "x", "%v": "v"}
	for _, f := range gateFieldFormats {
		var args []any
		for _, verb := range fieldVerb.FindAllString(f, -1) {
			args = append(args, sample[verb])
		}
		msg := fmt.Sprintf(f, args...)
		got := msg
		for _, s := range shipped {
			if m := regexp.MustCompile(s[0]).FindStringSubmatch(msg); m != nil {
				vals := make([]any, len(m)-1)
				for i, v := range m[1:] {
					vals[i] = v
				}
				got = fill(s[1], vals...)
				break
			}
		}
		if want := (view{Lang: "id"}).FieldMsg(msg); got != want || got == msg {
			t.Errorf("the scanner words %q as %q, want %q", msg, got, want)
		}
	}
	if en := scanFields("en"); len(en) != 0 {
		t.Errorf("the English scanner gets %d field wordings, want none", len(en))
	}
}
