package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	nrcli "github.com/netready/netready/cli"
	"github.com/netready/netready/probe"
)

// generated runs generate into a temporary directory and returns the
// contents of file.
func generated(t *testing.T, file string) string {
	t.Helper()
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// complete sources the bash completion script and returns what it offers
// for the command line words (the last one is being typed).
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	var sh strings.Builder
	sh.WriteString("source " + script + "\n")
	sh.WriteString("COMP_WORDS=(")
	for _, w := range words {
		sh.WriteString("'" + w + "' ")
	}
	sh.WriteString(")\nCOMP_CWORD=" + string(rune('0'+len(words)-1)) + "\n")
	sh.WriteString("_netready\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
	out, err := exec.Command("bash", "--norc", "--noprofile", "-c", sh.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	script := filepath.Join(t.TempDir(), "netready.bash")
	if err := os.WriteFile(script, []byte(generated(t, "netready.bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		words []string
		want  []string // each must be offered
		not   []string // none may be offered
	}{
		{"commands", []string{"netready", ""}, []string{"check", "wait", "watch", "version"}, []string{"man", "completion"}},
		{"wait flags", []string{"netready", "wait", "--ba"}, []string{"--backoff-initial", "--backoff-max", "--backoff-multiplier"}, []string{"--timeout"}},
		{"check has no wait flags", []string{"netready", "check", "--"}, []string{"--probe-timeout", "--json"}, []string{"--backoff-initial", "--settle"}},
		{"watch has no --timeout", []string{"netready", "watch", "--t"}, nil, []string{"--timeout"}},
		{"target schemes", []string{"netready", "wait", "t"}, []string{"tcp://", "tls://"}, []string{"dns:"}},
		{"every kind's prefixes", []string{"netready", "check", ""}, targetPrefixes(), nil},
		{"a target's parameters", []string{"netready", "check", "tcp://db:5432?"}, []string{"tcp://db:5432?via=", "tcp://db:5432?src=", "tcp://db:5432?family="}, []string{"tcp://db:5432?status="}},
		{"the next parameter", []string{"netready", "wait", "https://x/?status=204&c"}, []string{"https://x/?status=204&ca="}, nil},
		{"http takes no ca=", []string{"netready", "wait", "http://x/?c"}, nil, []string{"http://x/?ca="}},
		{"dns parameters", []string{"netready", "check", "dns:vpn.internal?a"}, []string{"dns:vpn.internal?answer="}, nil},
		{"after -- it is the command's turn", []string{"netready", "wait", "route:default", "--", "t"}, nil, []string{"tcp://", "tls://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := complete(t, script, tt.words...)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("got %v, want it to offer %q", got, w)
				}
			}
			for _, w := range tt.not {
				if slices.Contains(got, w) {
					t.Errorf("got %v, want it not to offer %q", got, w)
				}
			}
		})
	}
}

func TestManPage(t *testing.T) {
	page := generated(t, "netready.8")
	for _, s := range []string{
		`.TH netready 8`,
		"NETREADY_PROBE_TIMEOUT", "NETREADY_BACKOFF_INITIAL", "NETREADY_TARGETS", "NETREADY_EXPLAIN", "NETREADY_EXTEND_TIMEOUT",
		"\\fBnetready check\\fP [\\fIFLAGS\\fP] [TARGET...]",
		"\\fBnetready wait\\fP [\\fIFLAGS\\fP] [TARGET...] [-- CMD [ARGS...]]",
		nrcli.BackoffSchedule(),
	} {
		if !strings.Contains(page, s) {
			t.Errorf("man page lacks %q", s)
		}
	}
	// Every parameter has its entry.
	for _, p := range probe.ParamDocs() {
		if !strings.Contains(page, p.Syntax) {
			t.Errorf("man page lacks the parameter %s", p.Syntax)
		}
	}
	// Every kind of the table is a subsection of TARGETS.
	_, targets, _ := strings.Cut(page, "\n.SH TARGETS\n")
	targets, _, _ = strings.Cut(targets, "\n.SH ")
	for _, k := range probe.Kinds {
		if !strings.Contains(targets, ".SS "+k.ManTitle+"\n") {
			t.Errorf("man page lacks the subsection %q of TARGETS", k.ManTitle)
		}
	}
	// Every flag of every command is in the page, in bold with its
	// dashes, and every variable.
	app := newApp()
	for _, cmd := range app.VisibleCommands() {
		for _, d := range nrcli.FlagDocs(cmd) {
			if !strings.Contains(page, `\fB--`+d.Name+`\fP`) {
				t.Errorf("man page lacks flag --%s of %s", d.Name, cmd.Name)
			}
			for _, e := range d.Env {
				if !strings.Contains(page, `\fB`+e+`\fP`) {
					t.Errorf("man page lacks variable %s of --%s", e, d.Name)
				}
			}
		}
	}
}

// The sections come in the conventional order.
func TestManPageSections(t *testing.T) {
	page := generated(t, "netready.8")
	var got []string
	for _, line := range strings.Split(page, "\n") {
		if h, ok := strings.CutPrefix(line, ".SH "); ok {
			got = append(got, strings.Trim(h, `"`))
		}
	}
	want := []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "TARGETS", "ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "SEE ALSO"}
	i := 0
	for _, h := range got {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("got sections %q, want %q in this order", got, want)
	}
	if !slices.Contains(got, "FILES") {
		t.Errorf("got sections %q, want FILES too", got)
	}
}

// A variable that means one thing for check and another for wait says
// both, with each command's default.
func TestManPageEnvironmentPerCommand(t *testing.T) {
	page := manText(t)
	_, env, _ := strings.Cut(page, "\nENVIRONMENT\n")
	env, _, _ = strings.Cut(env, "\nFILES\n")
	env = strings.Join(strings.Fields(env), " ")
	for _, s := range []string{
		"NETREADY_TIMEOUT sets --timeout: check: give up after this long in all (0: no limit beyond --probe-timeout). wait: give up after this long (0: wait forever) (default: 2m).",
		"NETREADY_QUIET sets --quiet: check, wait: print nothing; the exit status says it all. watch: print no transitions",
		"NETREADY_EXPLAIN sets --explain: check:",
		"NETREADY_EXTEND_TIMEOUT sets --extend-timeout: wait:",
		"NETREADY_TARGETS the targets",
		"yes/no",
	} {
		if !strings.Contains(env, s) {
			t.Errorf("ENVIRONMENT lacks %q:\n%s", s, env)
		}
	}
	_, desc, _ := strings.Cut(page, "\nDESCRIPTION\n")
	desc, _, _ = strings.Cut(desc, "\nCOMMANDS\n")
	if !strings.Contains(desc, "watch") {
		t.Errorf("DESCRIPTION does not mention watch:\n%s", desc)
	}
}

// manText is the man page as man(1) formats it for an 80-column terminal.
// man-db's man is also the check: with --warnings, groff's warnings about
// the page go to stderr, and there must be none.
func manText(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "netready.8")
	if err := os.WriteFile(file, []byte(generated(t, "netready.8")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-l", file)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "LC_ALL=C.UTF-8", "MANPAGER=cat", "PAGER=cat")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man --warnings -l %s: %v\n%s", file, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man --warnings: %s", stderr.String())
	}
	// man prints bold and underlining with backspaces when its output is
	// not a terminal, unless told not to: take them out.
	return regexp.MustCompile(".\b").ReplaceAllString(stdout.String(), "")
}

// man-db's checks: man formats the page without a warning, lexgrog reads
// its NAME section (what mandb and apropos index).
func TestManPageManDB(t *testing.T) {
	text := manText(t)
	if !strings.Contains(text, "netready - wait until the network is actually usable") {
		t.Errorf("man's text lacks the NAME line:\n%s", text)
	}
	file := filepath.Join(t.TempDir(), "netready.8")
	if err := os.WriteFile(file, []byte(generated(t, "netready.8")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("lexgrog", file).CombinedOutput()
	if err != nil {
		t.Fatalf("lexgrog %s: %v\n%s", file, err, out)
	}
	if want := file + `: "netready - wait until the network is actually usable"` + "\n"; string(out) != want {
		t.Errorf("lexgrog: got %q, want %q", out, want)
	}
	for i, line := range strings.Split(text, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line %d of the formatted page is %d columns: %q", i+1, n, line)
		}
	}
}

// README's generated sections are what gendocs writes now ("make docs"
// writes them).
func TestREADMEGenerated(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := generatedREADME(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(b) {
		t.Errorf("README.md's generated sections are out of date: run make docs\n%s", diffLines(string(b), got))
	}
}

// Where README's prose names a flag's default, "`--flag` (default X", X
// is that flag's default (one of them, for a flag whose default depends on
// the command), and the backoff schedule it writes is the one the defaults
// make.
func TestREADMEDefaults(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	defaults := map[string][]string{}
	for _, g := range options(newApp()) {
		for _, o := range g.Forms {
			defaults[g.Name] = append(defaults[g.Name], o.Default)
		}
	}
	mentions := regexp.MustCompile("`--([a-z-]+)[^`]*` \\(default ([^ ),;]+)").FindAllStringSubmatch(readme, -1)
	if len(mentions) < 4 {
		t.Errorf("got %d defaults named in README's prose, want the 4 or more it names", len(mentions))
	}
	for _, m := range mentions {
		if !slices.Contains(defaults[m[1]], m[2]) {
			t.Errorf("README says %q: --%s's default is %q", m[0], m[1], defaults[m[1]])
		}
	}
	if !strings.Contains(readme, nrcli.BackoffSchedule()) {
		t.Errorf("README does not write the backoff schedule as the defaults make it, %q", nrcli.BackoffSchedule())
	}
}

// README's first screen is a quick start, then its contents; usage comes
// before the internals, which are CONTRIBUTING.md's.
func TestREADMEShape(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	at := map[string]int{}
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") {
			at[l] = i + 1
		}
	}
	if n := at["## Quick start"]; n == 0 || n > 12 {
		t.Errorf("## Quick start at line %d, want it in the first screen (line 12 at most)", n)
	}
	for _, s := range []string{"netready check\n", "netready check --explain", "ExecStartPre=/usr/bin/netready wait", " -- ./deploy.sh", "dpkg -i"} {
		i := strings.Index(string(b), s)
		if i < 0 || strings.Count(string(b)[:i], "\n") > 45 {
			t.Errorf("the quick start's first 45 lines lack %q", s)
		}
	}
	for _, order := range [][2]string{{"## Quick start", "## Contents"}, {"## Contents", "## Usage"}, {"## Usage", "## Install"}, {"## Usage", "## Build and test"}} {
		if at[order[0]] == 0 || at[order[1]] == 0 || at[order[0]] > at[order[1]] {
			t.Errorf("got %s at line %d and %s at line %d, want both, in this order", order[0], at[order[0]], order[1], at[order[1]])
		}
	}
	for _, internal := range []string{"## Run the tests", "## Layout", "Startup cost", "init-cost.sh"} {
		if strings.Contains(string(b), internal) {
			t.Errorf("README has %q: the internals are CONTRIBUTING.md's", internal)
		}
	}
}

// Every NETREADY_* variable netready's code names (but those it sets for
// --on-change's command) is in the man page's ENVIRONMENT and README's
// table of variables.
func TestEnvironmentComplete(t *testing.T) {
	read := map[string]bool{}
	literal := regexp.MustCompile(`"(NETREADY_[A-Z_]+)"`)
	for _, dir := range []string{"cli", "probe", "gate", "netwatch", "backoff", "report", "metrics", "."} {
		files, err := filepath.Glob(filepath.Join("../..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
				read[m[1]] = true
			}
		}
	}
	if !read["NETREADY_TARGETS"] || !read["NETREADY_EXPLAIN"] {
		t.Fatalf("found %v in the code, want NETREADY_TARGETS and NETREADY_EXPLAIN among them", read)
	}
	page := generated(t, "netready.8")
	_, env, _ := strings.Cut(page, "\n.SH ENVIRONMENT\n")
	env, _, _ = strings.Cut(env, "\n.SH ")
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(b), "<!-- gendocs:environment -->")
	table, _, _ = strings.Cut(table, "<!-- /gendocs:environment -->")
	for v := range read {
		if !strings.Contains(env, `\fB`+v+`\fP`) {
			t.Errorf("the man page's ENVIRONMENT lacks %s", v)
		}
		if !strings.Contains(table, "`"+v+"`") {
			t.Errorf("README's table of variables lacks %s", v)
		}
	}
}

// diffLines shows the first lines where a and b differ.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}
