// Command gendocs writes netready's man page, netready(8), and its bash,
// zsh and fish completions from the command-line definition itself (package
// cli: its flags and tables of exit codes, variables and examples; package
// probe: the table of target kinds), so that neither can disagree with
// --help; and it writes the sections of README.md that list the same
// things. It runs at build time, on the build host: the netready binary
// carries no document generator, and a binary built for another
// architecture need not run to be documented.
//
//	cd tools && go run ./gendocs -o DIR [FILE...]   # all four files, or those named
//	cd tools && go run ./gendocs -readme ../README.md
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"

	nrcli "github.com/netready/netready/cli"
	"github.com/netready/netready/probe"
)

// manSection is the section netready's man page is installed in: it is a
// system administration command (netready(8)); the units' Documentation=
// must agree.
const manSection = 8

func main() {
	out := flag.String("o", ".", "directory to write netready.8, netready.bash, _netready and netready.fish (or the FILEs named) into")
	readme := flag.String("readme", "", "rewrite the generated sections of this README.md instead")
	flag.Parse()
	err := func() error {
		if *readme != "" {
			return updateREADME(*readme)
		}
		return generate(*out, flag.Args()...)
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// newApp is netready's command-line definition as a run sees it: with the
// help flags it adds.
func newApp() *cli.App {
	app := nrcli.App()
	app.Setup()
	return app
}

// generate writes the man page and the completions into dir: all of them,
// or only the files named.
func generate(dir string, only ...string) error {
	app := newApp()
	files := map[string]func() (string, error){
		"netready.8":    func() (string, error) { return manPage(app) },
		"netready.bash": func() (string, error) { return completion(app, "bash") },
		"_netready":     func() (string, error) { return completion(app, "zsh") },
		"netready.fish": func() (string, error) { return completion(app, "fish") },
	}
	for _, name := range only {
		if files[name] == nil {
			return fmt.Errorf("no file %q to generate (want netready.8, netready.bash, _netready or netready.fish)", name)
		}
	}
	for name, make := range files {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		content, err := make()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// option is a flag as one or more commands have it: the same names,
// value, meaning and default.
type option struct {
	nrcli.FlagDoc
	Commands []string
}

// optionGroup is every form of one flag: --timeout is check's with one
// meaning and default, wait's with another.
type optionGroup struct {
	Name  string
	Forms []option
}

// options lists the flags of the visible commands, in the order of the
// commands and of their flags, each with its forms.
func options(app *cli.App) []optionGroup {
	var groups []optionGroup
	for _, cmd := range app.VisibleCommands() {
		for _, d := range nrcli.FlagDocs(cmd) {
			i := slices.IndexFunc(groups, func(g optionGroup) bool { return g.Name == d.Name })
			if i < 0 {
				groups = append(groups, optionGroup{Name: d.Name})
				i = len(groups) - 1
			}
			g := &groups[i]
			j := slices.IndexFunc(g.Forms, func(o option) bool {
				return o.Synopsis() == d.Synopsis() && o.Usage == d.Usage && o.Default == d.Default && slices.Equal(o.Env, d.Env)
			})
			if j < 0 {
				g.Forms = append(g.Forms, option{FlagDoc: d})
				j = len(g.Forms) - 1
			}
			g.Forms[j].Commands = append(g.Forms[j].Commands, cmd.Name)
		}
	}
	return groups
}

// exitGroup is the rows of the table of exit codes that share their codes.
type exitGroup struct {
	Codes string // "126, 127"
	Rows  []nrcli.ExitDoc
}

func exitGroups() []exitGroup {
	var groups []exitGroup
	for _, r := range nrcli.ExitCodes() {
		codes := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(r.Codes)), ", "), "[]")
		if len(groups) == 0 || groups[len(groups)-1].Codes != codes {
			groups = append(groups, exitGroup{Codes: codes})
		}
		groups[len(groups)-1].Rows = append(groups[len(groups)-1].Rows, r)
	}
	return groups
}

// md escapes text for Markdown: what the help prints as it is.
func md(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdIndent is md for the definition of a list: its later paragraphs
// indented, so that they stay in the definition.
func mdIndent(s string) string {
	return strings.ReplaceAll(md(s), "\n\n", "\n\n    ")
}

// manFlag is a flag as a man page's term: **--timeout** *DURATION*.
func manFlag(d nrcli.FlagDoc) string {
	s := "**--" + d.Name + "**"
	if d.Short != "" {
		s = "**-" + d.Short + "**, " + s
	}
	if d.Placeholder != "" {
		s += " *" + md(d.Placeholder) + "*"
	}
	return s
}

// forCommands is "check, wait: " before a meaning, or "" when every
// command that probes has it.
func forCommands(cmds []string) string {
	if slices.Equal(cmds, []string{"check", "wait", "watch"}) {
		return ""
	}
	return "*" + strings.Join(cmds, "*, *") + "*: "
}

// withDefault is a flag's meaning followed by its default, if any.
func withDefault(o option) string {
	s := md(o.Usage)
	if o.Default != "" {
		s += " (default: " + md(o.Default) + ")"
	}
	return s
}

// manTemplate is the man page in the Markdown md2man renders (after the
// title block, "#" and "##" are sections, "###" subsections), sections in
// the order of man-pages(7): NAME, SYNOPSIS, DESCRIPTION, COMMANDS,
// OPTIONS, TARGETS (a subsection per kind), ENVIRONMENT, FILES, EXIT
// STATUS, EXAMPLES, SEE ALSO.
const manTemplate = `% netready {{.Section}}

# NAME

netready - {{md .App.Usage}}

# SYNOPSIS
{{range .Commands}}
**netready {{.Name}}**{{if .Flags}} [*FLAGS*]{{end}}{{if .ArgsUsage}} {{md .ArgsUsage}}{{end}}
{{end}}
# DESCRIPTION

{{md .App.Description}}

{{.Pacing}}

# COMMANDS
{{range .Commands}}
**{{.Name}}**
: {{md .Usage}}.{{if .Description}} {{mdIndent .Description}}{{end}}
{{end}}
# OPTIONS

A flag may come before or after the targets. Every flag can also be set by a variable
(see ENVIRONMENT); a flag on the command line wins.
{{range .Options}}
{{manFlag (index .Forms 0).FlagDoc}}
: {{range $i, $o := .Forms}}{{if $i}} {{end}}{{forCommands $o.Commands}}{{withDefault $o}}.{{end}}
{{end}}
**-h**, **--help**
: show the help of netready or of a command, as **netready help** [*COMMAND*] does.
{{range .RootOptions}}
{{manFlag .}}
: before any command: {{md .Usage}}.
{{end}}
# TARGETS

Targets are URIs given as arguments (or in NETREADY_TARGETS). A malformed target is a
usage error (exit 2) whose message names it, before any probing. Reports name each target
as written.
{{range .Kinds}}
### {{md .ManTitle}}

{{.Man}}
{{end}}
### Parameters

A query string refines a target: **tcp://db.internal:5432?via=eth1&family=6**. A parameter
that the kind does not take, one given twice, or a value that can never be valid is a usage
error naming the target and the parameter; an interface or a source address that does not
exist yet is not (the target fails, naming it, and **wait** waits for it). Values are
percent-decoded.
{{range .Params}}
**{{md .Syntax}}** ({{kinds .Kinds}})
: {{md .Help}}
{{end}}
Host names in tcp, http, tls and icmp targets are resolved on every attempt (hosts file,
then resolv.conf), never cached.

# ENVIRONMENT

A variable sets a flag of the commands that have it; a flag on the command line wins. A
boolean variable takes 1/0, true/false, yes/no or on/off.
{{range .Options}}{{$g := .}}{{range (index .Forms 0).Env}}
**{{md .}}**
: sets **--{{$g.Name}}**: {{range $i, $o := $g.Forms}}{{if $i}} {{end}}{{forCommands $o.Commands}}{{withDefault $o}}.{{end}}
{{end}}{{end}}{{range .Env}}
**{{join .Names "**, **"}}**
: {{forCommands .Commands}}{{md .Meaning}}.
{{end}}
# FILES

*/etc/resolv.conf*, */etc/hosts*
: the resolvers and the host names, unless --resolv-conf and --hosts-file name others.

*/etc/default/netready*
: the environment of **netready-wait-online.service**, which holds network-online.target
back until netready wait succeeds, and of **netready-watch.service**.

*/usr/share/doc/netready/examples*
: a drop-in gating one service with ExecStartPre=, a unit ordered after
network-online.target, the ICMP options, Prometheus rules and Kubernetes manifests.

# EXIT STATUS
{{range .Exit}}
**{{.Codes}}**
: {{range $i, $r := .Rows}}{{if $i}} {{end}}{{forCommands $r.Commands}}{{md $r.Meaning}}.{{end}}
{{end}}
# EXAMPLES
{{range .Examples}}
{{md .What}}

    {{.Line}}
{{end}}
# SEE ALSO

systemd-networkd-wait-online(8), NetworkManager-wait-online.service(8), systemd.special(7),
resolv.conf(5)
`

// manPage is netready(8), in roff.
func manPage(app *cli.App) (string, error) {
	var commands []*cli.Command
	for _, c := range app.VisibleCommands() {
		commands = append(commands, c)
	}
	var examples []nrcli.Example
	for _, c := range commands {
		for _, e := range nrcli.Examples(c.Name) {
			if !slices.ContainsFunc(examples, func(x nrcli.Example) bool { return x.Line == e.Line }) {
				examples = append(examples, e)
			}
		}
	}
	t := template.Must(template.New("man").Funcs(template.FuncMap{
		"md":          md,
		"mdIndent":    mdIndent,
		"kinds":       probe.KindList,
		"join":        strings.Join,
		"manFlag":     manFlag,
		"forCommands": forCommands,
		"withDefault": withDefault,
	}).Parse(manTemplate))
	var b strings.Builder
	err := t.Execute(&b, struct {
		Section     int
		App         *cli.App
		Pacing      string
		Commands    []*cli.Command
		Options     []optionGroup
		RootOptions []nrcli.FlagDoc
		Kinds       []*probe.KindDef
		Params      []probe.ParamDoc
		Env         []nrcli.EnvDoc
		Exit        []exitGroup
		Examples    []nrcli.Example
	}{
		manSection, app,
		"Between failed rounds, **wait** and **watch** back off exponentially (" + nrcli.BackoffSchedule() +
			"), and re-probe at once when the kernel reports a link, address or route change or " +
			"resolv.conf changes. A failing target's report names the first broken hop on its path " +
			"(the route, the link, the address, the gateway, the resolver) with a cause word and a hint.",
		commands, options(app), nrcli.FlagDocs(&cli.Command{Flags: app.Flags}), probe.Kinds, probe.ParamDocs(), nrcli.EnvDocs(""), exitGroups(), examples,
	})
	if err != nil {
		return "", err
	}
	page := string(md2man.Render([]byte(b.String())))
	// No hyphenation (a metric's or a variable's name cut in two is
	// misread: md2man's .nh comes before .TH, which undoes it) and a
	// ragged right margin, after the title.
	th, rest, ok := strings.Cut(page, "\n.SH ")
	if !ok || !strings.Contains(th, ".TH ") {
		return "", fmt.Errorf("md2man wrote no .TH before the first section")
	}
	return th + "\n.nh\n.ad l\n.SH " + rest, nil
}

// readmeSections are the sections of README.md that gendocs writes,
// between "<!-- gendocs:NAME -->" and "<!-- /gendocs:NAME -->".
func readmeSections(app *cli.App) map[string]string {
	var flags strings.Builder
	flags.WriteString("| flag | commands | default | variable | meaning |\n|---|---|---|---|---|\n")
	for _, g := range options(app) {
		for _, o := range g.Forms {
			def := "—"
			if o.Default != "" {
				def = "`" + o.Default + "`"
			}
			names := "`--" + o.Name
			if o.Placeholder != "" {
				names += " " + o.Placeholder
			}
			names += "`"
			if o.Short != "" {
				names = "`-" + o.Short + "`, " + names
			}
			fmt.Fprintf(&flags, "| %s | %s | %s | `%s` | %s |\n", names, strings.Join(o.Commands, ", "), def, strings.Join(o.Env, "`, `"), cell(o.Usage))
		}
	}
	var env strings.Builder
	env.WriteString("| variable | commands | meaning |\n|---|---|---|\n")
	for _, g := range options(app) {
		for _, e := range g.Forms[0].Env {
			var cmds []string
			for _, o := range g.Forms {
				cmds = append(cmds, o.Commands...)
			}
			fmt.Fprintf(&env, "| `%s` | %s | sets `--%s` |\n", e, strings.Join(cmds, ", "), g.Name)
		}
	}
	for _, d := range nrcli.EnvDocs("") {
		fmt.Fprintf(&env, "| `%s` | %s | %s |\n", strings.Join(d.Names, "`, `"), strings.Join(d.Commands, ", "), cell(d.Meaning))
	}
	var exit strings.Builder
	exit.WriteString("| code | command | meaning |\n|---|---|---|\n")
	for _, g := range exitGroups() {
		for _, r := range g.Rows {
			fmt.Fprintf(&exit, "| %s | %s | %s |\n", g.Codes, strings.Join(r.Commands, ", "), cell(r.Meaning))
		}
	}
	var causes strings.Builder
	causes.WriteString("| cause | where | what it means |\n|---|---|---|\n")
	for _, d := range probe.CauseDocs() {
		fmt.Fprintf(&causes, "| `%s` | %s | %s |\n", d.Cause, d.Area, cell(d.Doc))
	}
	return map[string]string{"flags": flags.String(), "environment": env.String(), "exit-status": exit.String(), "causes": causes.String()}
}

// cell escapes text for a cell of a Markdown table.
func cell(s string) string { return strings.NewReplacer("|", "\\|", "*", "\\*").Replace(s) }

var sectionRE = regexp.MustCompile(`(?s)(<!-- gendocs:([a-z-]+) -->\n).*?(<!-- /gendocs:([a-z-]+) -->)`)

// generatedREADME is readme with its generated sections written anew. A
// section gendocs does not know, or one left open, is an error.
func generatedREADME(readme string) (string, error) {
	sections := readmeSections(newApp())
	seen := map[string]bool{}
	var err error
	out := sectionRE.ReplaceAllStringFunc(readme, func(m string) string {
		g := sectionRE.FindStringSubmatch(m)
		name := g[2]
		content, ok := sections[name]
		switch {
		case g[4] != name:
			err = fmt.Errorf("section %q closed as %q", name, g[4])
		case !ok:
			err = fmt.Errorf("no section %q to generate", name)
		}
		seen[name] = true
		return g[1] + content + g[3]
	})
	if err != nil {
		return "", err
	}
	for name := range sections {
		if !seen[name] {
			return "", fmt.Errorf("README has no section %q (<!-- gendocs:%s --> ... <!-- /gendocs:%s -->)", name, name, name)
		}
	}
	return out, nil
}

// updateREADME rewrites the generated sections of the README at path.
func updateREADME(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := generatedREADME(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// commandWords returns the visible commands and, for each, its flags.
func commandWords(app *cli.App) (cmds []string, flags map[string][]string) {
	flags = map[string][]string{}
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		cmds = append(cmds, c.Name)
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if len(n) == 1 {
					flags[c.Name] = append(flags[c.Name], "-"+n)
				} else {
					flags[c.Name] = append(flags[c.Name], "--"+n)
				}
			}
		}
	}
	return cmds, flags
}

// targetPrefixes are offered where a target may be typed.
func targetPrefixes() []string {
	var ps []string
	for _, k := range probe.Kinds {
		ps = append(ps, k.Complete...)
	}
	return ps
}

// The completion scripts are static: they never run netready, so a TAB can
// never start a probe or a wait (urfave/cli v2's own bash completion runs a
// command's action when TAB follows "--", its issue #1993). After "--" of
// wait, the shell completes the command as usual.
const bashCompletion = `# bash completion for netready; generated by "netready completion bash"
_netready() {
	local cur words cword cmd="" i
	if declare -F _init_completion >/dev/null; then
		_init_completion -n : || return
	else
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]}
	fi
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--)
			# wait's command: complete it as the shell would, never run netready.
			declare -F _command_offset >/dev/null && _command_offset $((i + 1))
			return ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "{{join .Cmds " "}} --help" -- "$cur"))
		return
	fi
	local flags
	case $cmd in
{{- range $c, $f := .Flags}}
	{{$c}}) flags="{{join $f " "}} --help" ;;
{{- end}}
	*) return ;;
	esac
	case $cur in
	-*) COMPREPLY=($(compgen -W "$flags" -- "$cur")) ;;
	*[?\&\;]*)
		# A target's parameters: the names its scheme takes.
		local base=${cur%[?&;]*} names=""
		local sep=${cur:${#base}:1} part=${cur##*[?&;]}
		case ${cur%%:*} in
{{- range .Params}}
		{{.Scheme}}) names="{{join .Names " "}}" ;;
{{- end}}
		esac
		compopt -o nospace 2>/dev/null
		COMPREPLY=($(compgen -P "$base$sep" -W "$names" -- "$part")) ;;
	link:*) COMPREPLY=($(compgen -P link: -W "any $(ls /sys/class/net 2>/dev/null)" -- "${cur#link:}")) ;;
	*) compopt -o nospace 2>/dev/null; COMPREPLY=($(compgen -W "{{join .Targets " "}}" -- "$cur")) ;;
	esac
	declare -F __ltrim_colon_completions >/dev/null && __ltrim_colon_completions "$cur"
	return 0
}
complete -F _netready netready
`

const zshCompletion = `#compdef netready
# zsh completion for netready; generated by "netready completion zsh".
# Install as _netready in a directory of $fpath.
local -a cmds targets
cmds=({{join .Cmds " "}})
targets=({{join .Targets " "}})
local i cmd
for ((i = 2; i < CURRENT; i++)); do
	case ${words[i]} in
	--) shift $i words; (( CURRENT -= i )); _normal; return ;;
	-*) ;;
	*) [[ -z $cmd ]] && cmd=${words[i]} ;;
	esac
done
if [[ -z $cmd ]]; then
	compadd -a cmds
	return
fi
local -a flags
case $cmd in
{{- range $c, $f := .Flags}}
{{$c}}) flags=({{join $f " "}} --help) ;;
{{- end}}
esac
local cur=${words[CURRENT]}
if [[ $cur == -* ]]; then
	compadd -a flags
elif [[ $cur == *[?\&\;]* ]]; then
	# A target's parameters: the names its scheme takes.
	local base=${cur%[?&;]*} part=${cur##*[?&;]}
	local -a names
	case ${cur%%:*} in
{{- range .Params}}
	{{.Scheme}}) names=({{join .Names " "}}) ;;
{{- end}}
	esac
	compadd -S '' -P "$base${cur:${#base}:1}" -a names
elif [[ ${words[CURRENT]} == link:* ]]; then
	compadd -P link: any /sys/class/net/*(N:t)
else
	compadd -S '' -a targets
fi
`

func completion(app *cli.App, shell string) (string, error) {
	cmds, flags := commandWords(app)
	type schemeParams struct {
		Scheme string
		Names  []string
	}
	var params []schemeParams
	for _, k := range probe.Kinds {
		for _, s := range k.Schemes {
			if names := probe.ParamNames(s); len(names) > 0 {
				params = append(params, schemeParams{string(s), names})
			}
		}
	}
	data := struct {
		Cmds    []string
		Flags   map[string][]string
		Targets []string
		Params  []schemeParams
	}{cmds, flags, targetPrefixes(), params}
	var tmpl string
	switch shell {
	case "bash":
		tmpl = bashCompletion
	case "zsh":
		tmpl = zshCompletion
	case "fish":
		return app.ToFishCompletion()
	default:
		return "", fmt.Errorf("unknown shell %q (want bash, zsh or fish)", shell)
	}
	var b strings.Builder
	t := template.Must(template.New(shell).Funcs(template.FuncMap{"join": strings.Join}).Parse(tmpl))
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
