// Command gendocs writes netready's man page, netready(8), and its bash,
// zsh and fish completions from the command-line definition itself (package
// cli and the table of target kinds), so that neither can disagree with
// --help. It runs at build time, on the build host: the netready binary
// carries no document generator, and a binary built for another
// architecture need not run to be documented.
//
//	cd tools && go run ./gendocs -o DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	nrcli "github.com/netready/netready/cli"
	"github.com/netready/netready/probe"
)

// manSection is the section netready's man page is installed in: it is a
// system administration command (netready(8)), as urfave/cli's ToMan
// assumes; the units' Documentation= must agree.
const manSection = 8

func main() {
	out := flag.String("o", ".", "directory to write netready.8, netready.bash, _netready and netready.fish into")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// generate writes the man page and the completions into dir.
func generate(dir string) error {
	app := nrcli.App()
	app.Setup() // as a run would: the help flags join the definition
	page, err := manPage(app)
	if err != nil {
		return fmt.Errorf("man page: %w", err)
	}
	files := map[string]string{"netready.8": page}
	for file, shell := range map[string]string{"netready.bash": "bash", "_netready": "zsh", "netready.fish": "fish"} {
		script, err := completion(app, shell)
		if err != nil {
			return fmt.Errorf("%s completion: %w", shell, err)
		}
		files[file] = script
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manExtra are the sections of the man page that --help leaves out, in
// the Markdown that urfave/cli's ToMan renders (a level-one heading becomes
// a section).
const manExtra = `

# TARGETS

Targets are URIs given as arguments (or in NETREADY_TARGETS). A malformed target is a
usage error (exit 2) whose message names it, before any probing. Reports name each target
as written.

{{range .Kinds}}
## {{.ManTitle}}

{{.Man}}
{{end}}
## Parameters

A query string refines a target: **tcp://db.internal:5432?via=eth1&family=6**. A parameter
that the kind does not take, one given twice, or a value that can never be valid is a usage
error naming the target and the parameter; an interface or a source address that does not
exist yet is not (the target fails, naming it, and **wait** waits for it). Values are
percent-decoded.
{{range .Params}}
**{{.Syntax}}** ({{kinds .Kinds}})
: {{.Help}}
{{end}}
Host names in tcp, http, tls and icmp targets are resolved on every attempt (hosts file,
then resolv.conf), never cached.

# EXIT STATUS

**0** ready (every target passes; with --any, one does). **1** not ready (check: some
target fails; wait: at --timeout). **2** usage error. **126**, **127** the command after
**--** cannot be executed, or is not found. **130**, **143** interrupted by SIGINT,
SIGTERM. After **wait -- CMD**, the exit status is CMD's own.

# ENVIRONMENT

Every flag can be set from the environment; a flag on the command line wins.
{{range .Env}}
**{{.Env}}**
: {{.Usage}}
{{end}}
**NETREADY_TARGETS**
: the targets, separated by spaces, when none are given as arguments.

**SSL_CERT_FILE**, **SSL_CERT_DIR**
: trust roots for https and tls targets instead of the system's (ca= overrides them).

**HTTPS_PROXY**, **HTTP_PROXY**, **NO_PROXY** (or lower case)
: the proxy of http and https targets, unless proxy= says otherwise.

# EXAMPLES

In a systemd unit:

    ExecStartPre=/usr/bin/netready wait --timeout 60s dns:api.example.com tcp://db.internal:5432

In a script, replacing netready with the command once ready:

    netready wait https://registry.internal/health -- ./deploy.sh

What is wrong with the network right now:

    netready check

The default policy, as JSON:

    netready check --json link:any route:default dns:.

# FILES

*/etc/resolv.conf*, */etc/hosts*

*/etc/default/netready*
: the environment of **netready-wait-online.service**, which holds network-online.target
back until netready wait succeeds.

*/usr/share/doc/netready/examples*
: a drop-in gating one service with ExecStartPre=, a unit ordered after
network-online.target, and the ICMP options.

# SEE ALSO

systemd-networkd-wait-online(8), NetworkManager-wait-online.service(8), systemd.special(7),
resolv.conf(5)
`

type envDoc struct{ Env, Usage string }

// envDocs lists every NETREADY_* variable of the visible commands, once.
func envDocs(app *cli.App) []envDoc {
	seen := map[string]bool{}
	var docs []envDoc
	for _, cmd := range app.Commands {
		for _, f := range cmd.Flags {
			df, ok := f.(cli.DocGenerationFlag)
			if !ok {
				continue
			}
			for _, e := range df.GetEnvVars() {
				if !seen[e] {
					seen[e] = true
					docs = append(docs, envDoc{e, "--" + f.Names()[0] + ": " + df.GetUsage()})
				}
			}
		}
	}
	slices.SortFunc(docs, func(a, b envDoc) int { return strings.Compare(a.Env, b.Env) })
	return docs
}

// synopsis is the man page's SYNOPSIS: one line per command, where
// urfave/cli would print only the root's own flags.
const synopsis = "```" + `
netready check [FLAGS] [TARGET...]
netready wait [FLAGS] [TARGET...] [-- COMMAND [ARG...]]
netready watch [FLAGS] [TARGET...]
netready version
` + "```\n"

// init gives urfave/cli's man page template netready's SYNOPSIS, and drops
// the "Usage" block it would print after the description, which the
// synopsis says already. If a new urfave/cli changed the template, the
// replacements miss and TestManPage says so.
func init() {
	t := cli.MarkdownDocTemplate
	t = strings.Replace(t, "{{ .App.Name }}\n{{ if .SynopsisArgs }}\n```\n{{ range $v := .SynopsisArgs }}{{ $v }}{{ end }}```\n{{ end }}", synopsis, 1)
	t = strings.Replace(t, "**Usage**:\n\n```{{ if .App.UsageText }}\n{{ .App.UsageText }}\n{{ else }}\n{{ .App.Name }} [GLOBAL OPTIONS] command [COMMAND OPTIONS] [ARGUMENTS...]\n{{ end }}```\n", "", 1)
	cli.MarkdownDocTemplate = t
}

func manPage(app *cli.App) (string, error) {
	var extra strings.Builder
	if err := template.Must(template.New("man").Funcs(template.FuncMap{"kinds": probe.KindList}).Parse(manExtra)).Execute(&extra, struct {
		Env    []envDoc
		Kinds  []*probe.KindDef
		Params []probe.ParamDoc
	}{envDocs(app), probe.Kinds, probe.ParamDocs()}); err != nil {
		return "", err
	}
	doc := *app
	doc.Description = "netready probes what a service needs from the network: a link with an address, a route, " +
		"a DNS resolver that answers, a TCP/HTTP/TLS/ICMP endpoint. **check** probes every target once and reports; " +
		"**wait** probes in rounds until all pass, backing off exponentially between failed rounds and re-probing at " +
		"once when the kernel reports a link, address or route change or resolv.conf changes. With no target, the " +
		"policy is **" + strings.Join(nrcli.DefaultTargets, " ") + "**" + extra.String()
	return doc.ToManWithSection(manSection)
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
