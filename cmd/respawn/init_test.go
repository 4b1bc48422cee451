package main

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// initCompiles are calls that do real work: made in a package-level var's
// initialiser, they run at every start of the binary, respawn status and
// respawn version included, whatever the command needs.
var initCompiles = map[string]bool{
	"regexp.MustCompile": true, "regexp.Compile": true,
	"regexp.MustCompilePOSIX": true, "regexp.CompilePOSIX": true,
	"template.Must": true, "template.New": true,
}

// No package of the binary compiles a regular expression or a template
// while it is initialised: such work is done on first use, so that a quick
// command does not pay for every other command's (a lazy value built by a
// func literal, as in internal/importer: sync.OnceValue's closures are
// themselves allocated at every start).
func TestNoCompileAtPackageInit(t *testing.T) {
	fset := token.NewFileSet()
	for _, root := range []string{".", "../../internal"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					for _, v := range spec.(*ast.ValueSpec).Values {
						ast.Inspect(v, func(n ast.Node) bool {
							switch n := n.(type) {
							case *ast.FuncLit:
								return false // runs when called, not at init
							case *ast.CallExpr:
								if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
									if x, ok := sel.X.(*ast.Ident); ok && initCompiles[x.Name+"."+sel.Sel.Name] {
										t.Errorf("%s: %s.%s in a package-level var runs at every start: compile it on first use (internal/lazy)",
											fset.Position(n.Pos()), x.Name, sel.Sel.Name)
									}
								}
							}
							return true
						})
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// leftOut are packages whose initialisation costs every start of the
// binary something and that it does without: encoding/xml (the launchd
// plist escapes its text itself), the Kubernetes and Nomad API types (the
// exporters write their own).
var leftOut = []string{"encoding/xml", "k8s.io/", "github.com/hashicorp/nomad/"}

func TestBinaryLeavesOutCostlyPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, p := range leftOut {
			if dep := sc.Text(); dep == p || strings.HasSuffix(p, "/") && strings.HasPrefix(dep, p) {
				t.Errorf("the binary links %s: its package initialisation runs at every start", dep)
			}
		}
	}
}

// internal/mainstack grows the main goroutine's stack before the other
// packages' initialisation only while it imports nothing: a package is
// initialised after those it imports.
func TestMainStackImportsNothing(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Imports}}", "../../internal/mainstack").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "[]" {
		t.Errorf("internal/mainstack imports %s", got)
	}
}
