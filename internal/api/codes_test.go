package api

import (
	"go/ast"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/gosource"
)

// Every code the API gives its own problems (Coded, invalidFields, a Code
// or code set to a literal, problemKinds) is in docs/api.md's tables of
// codes.
func TestProblemCodesDocumented(t *testing.T) {
	codes := map[string]string{} // code → where
	lit := func(pos token.Position, e ast.Expr) {
		if l, ok := e.(*ast.BasicLit); ok && l.Kind == token.STRING {
			if c, _ := strconv.Unquote(l.Value); c != "" {
				codes[c] = pos.String()
			}
		}
	}
	fset, files := gosource.Files(t, ".")
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok {
					switch {
					case id.Name == "Coded" && len(n.Args) > 1:
						lit(fset.Position(n.Pos()), n.Args[1])
					case id.Name == "invalidFields":
						lit(fset.Position(n.Pos()), n.Args[0])
					}
				}
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Code" {
					lit(fset.Position(n.Pos()), n.Value)
				}
			case *ast.AssignStmt:
				if id, ok := n.Lhs[0].(*ast.Ident); ok && id.Name == "code" {
					lit(fset.Position(n.Pos()), n.Rhs[0])
				}
			}
			return true
		})
	}
	for _, k := range problemKinds {
		codes[k.code] = "problemKinds"
	}
	if len(codes) < 30 {
		t.Fatalf("found %d codes; the walk misses some", len(codes))
	}
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d codes", len(codes))
	for code, where := range codes {
		if !strings.Contains(string(doc), "| `"+code+"` |") {
			t.Errorf("%s: code %s is not in docs/api.md's tables of codes", where, code)
		}
	}
}
