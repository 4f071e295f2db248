package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/netready/netready/"

// sourceFiles parses the non-test Go files of the package in dir.
func sourceFiles(t *testing.T, dir string) (*token.FileSet, []*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return fset, files
}

// imports are the import paths of the package in dir, netready's own
// shortened to their directory ("probe", "gate").
func imports(t *testing.T, dir string) []string {
	t.Helper()
	_, files := sourceFiles(t, dir)
	var out []string
	for _, f := range files {
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out = append(out, strings.TrimPrefix(p, module))
		}
	}
	return out
}

// The package graph of ARCHITECTURE.md: imports run one way.
func TestArchitectureImports(t *testing.T) {
	own := []string{"cli", "gate", "probe", "probegate", "netwatch", "backoff", "report", "metrics", "hook"}
	rules := map[string]func(string) bool{ // what each package must not import
		"gate": func(p string) bool {
			return strings.Contains(p, ".") || slices.Contains(own, p) || p == "net" || strings.HasPrefix(p, "net/") || p == "syscall"
		},
		"probe": func(p string) bool {
			return slices.Contains([]string{"cli", "gate", "probegate", "netwatch", "report", "metrics", "hook", "backoff"}, p)
		},
		"netwatch":  func(p string) bool { return slices.Contains(own, p) },
		"report":    func(p string) bool { return slices.Contains(own, p) },
		"metrics":   func(p string) bool { return slices.Contains(own, p) && p != "report" },
		"hook":      func(p string) bool { return slices.Contains(own, p) },
		"backoff":   func(p string) bool { return slices.Contains(own, p) },
		"probegate": func(p string) bool { return slices.Contains(own, p) && p != "gate" && p != "probe" },
	}
	for _, pkg := range own {
		is := imports(t, pkg)
		for _, p := range is {
			if p == "cli" {
				t.Errorf("%s imports cli: nothing does", pkg)
			}
			if forbidden, ok := rules[pkg]; ok && forbidden(p) {
				t.Errorf("%s imports %s", pkg, p)
			}
		}
		if pkg != "probegate" && pkg != "cli" && slices.Contains(is, "gate") && slices.Contains(is, "probe") {
			t.Errorf("%s imports both gate and probe: only probegate does", pkg)
		}
	}
}

// Below cli nothing prints to stdout or stderr, or exits.
func TestArchitectureOnlyCLISpeaks(t *testing.T) {
	for _, pkg := range []string{"gate", "probe", "probegate", "netwatch", "backoff", "report", "metrics", "hook"} {
		fset, files := sourceFiles(t, pkg)
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				switch name := x.Name + "." + sel.Sel.Name; {
				case name == "os.Exit", name == "os.Stdout", name == "os.Stderr",
					x.Name == "fmt" && strings.HasPrefix(sel.Sel.Name, "Print"),
					x.Name == "log" && (strings.HasPrefix(sel.Sel.Name, "Print") || strings.HasPrefix(sel.Sel.Name, "Fatal")):
					t.Errorf("%s: %s below cli", fset.Position(n.Pos()), name)
				}
				return true
			})
		}
	}
}

// Every file ARCHITECTURE.md names exists, so the map stays true.
func TestArchitectureMap(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`([a-z]+/)?([a-z_]+\\.go)`").FindAllStringSubmatch(string(doc), -1)
	if len(named) < 20 {
		t.Fatalf("ARCHITECTURE.md names %d files: the pattern is wrong", len(named))
	}
	dir := ""
	for _, m := range named {
		if m[1] != "" {
			dir = m[1] // a bare file name is in the directory named last
		}
		path := filepath.Join(dir, m[2])
		if m[1] == "" && m[2] == "main.go" || m[2] == "architecture_test.go" {
			path = m[2]
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("ARCHITECTURE.md names %s: %v", path, err)
		}
	}
}
