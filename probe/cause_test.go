package probe

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// declaredCauses reads the package's source, not the table, for the
// constants of type Cause: the words of the vocabulary as declared.
func declaredCauses(t *testing.T) map[string]Cause {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]Cause{}
	for _, f := range pkgs["probe"].Files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Cause" {
					continue
				}
				for i, name := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						t.Errorf("%s: not a string literal", name.Name)
						continue
					}
					w, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					words[name.Name] = Cause(w)
				}
			}
		}
	}
	if len(words) < 40 {
		t.Fatalf("found %d Cause constants in the source: the parse is wrong", len(words))
	}
	return words
}

// Every cause declared has its row in the table, and every row is a
// declared cause; no two constants say the same word.
func TestCauseTable(t *testing.T) {
	declared := declaredCauses(t)
	seen := map[Cause]string{}
	for name, c := range declared {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s are both %q", name, other, c)
		}
		seen[c] = name
		if c == CauseNone {
			if _, ok := causes[c]; ok {
				t.Errorf("CauseNone (a passing target) has a row")
			}
			continue
		}
		if row, ok := causes[c]; !ok {
			t.Errorf("%s (%q) has no row in causes", name, c)
		} else if row.doc == "" {
			t.Errorf("%s (%q) has no doc: README's table of causes would miss it", name, c)
		}
	}
	if docs := CauseDocs(); len(docs) != len(causes) || docs[0].Area != "this host" || docs[len(docs)-1].Area != "any" {
		t.Errorf("CauseDocs: %d rows from %v to %v, want %d from this host to any", len(docs), docs[0], docs[len(docs)-1], len(causes))
	}
	for c := range causes {
		if _, ok := seen[c]; !ok {
			t.Errorf("causes has a row for %q, which no constant declares", c)
		}
	}
}

// The flags and ranks the rest of the package relies on, spelled out.
func TestCauseTableRows(t *testing.T) {
	for _, c := range []Cause{CauseNoLink, CauseLinkDown, CauseNoCarrier, CauseNoAddress, CauseAddressTentative, CauseAddressDADFailed, CauseNoRoute} {
		if !c.Announced() {
			t.Errorf("%s: not announced", c)
		}
	}
	for _, c := range []Cause{CauseGatewayUnreachable, CauseTimeout, CauseFiltered, CausePortClosed, CauseResolverRefused} {
		if c.Announced() {
			t.Errorf("%s: announced", c)
		}
	}
	// Of several addresses, the one that got furthest explains.
	order := []Cause{CauseLinkDown, CauseNoRoute, CauseHostUnreachable, CauseFiltered, CausePortClosed, CauseReset, CauseResolverServfail, CauseNXDomain}
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		fs := []*Failure{fail(b, PhaseConnect, "", nil), fail(a, PhaseConnect, "", nil)}
		if got := furthest(fs).Cause; got != b {
			t.Errorf("furthest(%s, %s) = %s, want %s", b, a, got, b)
		}
		fs = []*Failure{fail(a, PhaseConnect, "", nil), fail(b, PhaseConnect, "", nil)}
		if got := furthest(fs).Cause; got != b {
			t.Errorf("furthest(%s, %s) = %s, want %s", a, b, got, b)
		}
	}
	// A resolver that answers REFUSED got further than one where nothing
	// listens: of two resolvers, the one that answered explains.
	for _, fs := range [][]*Failure{
		{fail(CauseResolverDown, PhaseQuery, "a", nil), fail(CauseResolverRefused, PhaseAnswer, "b", nil)},
		{fail(CauseResolverRefused, PhaseAnswer, "b", nil), fail(CauseResolverDown, PhaseQuery, "a", nil)},
	} {
		if got := furthest(fs); got.Cause != CauseResolverRefused {
			t.Errorf("furthest(%s, %s) = %s, want resolver-refused", fs[0].Cause, fs[1].Cause, got.Cause)
		}
	}
	if got := furthest([]*Failure{fail(CauseTimeout, PhaseConnect, "a", nil), fail(CauseFiltered, PhaseConnect, "b", nil)}); got.Hop != "a" {
		t.Errorf("of equal ranks furthest kept %q, want the first", got.Hop)
	}
	for c, info := range causes {
		if info.pathLike && info.rank > causes[CauseFiltered].rank {
			t.Errorf("%s is path-like but got further than silence: the path worked", c)
		}
	}
}

// A resolver where nothing listens and one that answers REFUSED are told
// apart in their hints: start it, or fix its access list.
func TestResolverHints(t *testing.T) {
	for _, c := range []struct {
		cause Cause
		phase PhaseName
		hop   string
		want  string
	}{
		{CauseResolverDown, PhaseQuery, "127.0.0.53:53", "is systemd-resolved running?"},
		{CauseResolverDown, PhaseQuery, "127.0.0.1:53", "no resolver listens on 127.0.0.1:53: is the local resolver (dnsmasq, unbound) running?"},
		{CauseResolverDown, PhaseQuery, "10.213.1.1:53", "no resolver listens on 10.213.1.1:53 (port unreachable): is it running?"},
		{CauseResolverRefused, PhaseAnswer, "10.213.1.1:53", "the resolver refuses to answer this host: check its access control (allow-query, access-control)"},
		{CauseResolverRefused, PhaseAnswer, "127.0.0.1:53", "the resolver refuses to answer this host: check its access control (allow-query, access-control)"},
	} {
		f := fail(c.cause, c.phase, c.hop, errors.New("x"))
		if got := f.Hint(); got != c.want {
			t.Errorf("%s at %s: hint %q, want %q", c.cause, c.hop, got, c.want)
		}
	}
}
