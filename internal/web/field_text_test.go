package web

import (
	"fmt"
	"go/ast"
	"go/token"
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
