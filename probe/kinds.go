package probe

import (
	"context"
	"slices"
	"strings"
)

// KindDef is one kind of target: the URI schemes it is written with, how
// such a target is parsed, written back and probed, and what --help, the
// man page and the shell completions say of it. Each kind's file defines
// its KindDef; Kinds lists them.
type KindDef struct {
	// Schemes are the URI schemes of the kind, lower-case: "http",
	// "https". The first names the kind in messages.
	Schemes []Kind
	// Usage are the kind's forms for --help, each with what makes it pass.
	Usage []Usage
	// ManTitle and Man are the man page's section on the kind: its
	// heading and its text, in the Markdown urfave/cli renders.
	ManTitle, Man string
	// Authority says that every target of the kind is written
	// scheme://HOST...
	Authority bool
	// Complete are the prefixes completion offers where a target may be
	// typed.
	Complete []string

	// parse parses what follows "scheme:" in raw; Parse sets Kind.
	parse func(raw, rest string) (Target, error)
	// format is the canonical form of a Target of the kind.
	format func(Target) string
	// probe makes one attempt; it fills in Err (nil for success), Detail,
	// Phases and Local.
	probe func(ctx context.Context, env *Env, t Target) Result
}

// Usage is one form of a target and what makes it pass, for --help.
type Usage struct{ Syntax, Passes string }

// Kinds is the one table of target kinds, in the order help lists them.
// Adding a kind is a file that defines its KindDef, and a row here.
var Kinds = []*KindDef{
	&linkKind,
	&routeKind,
	&dnsKind,
	&tcpKind,
	&httpKind,
	&tlsKind,
	&icmpKind,
	&clockKind,
}

// kindOf returns the definition of the kind with that scheme, or nil.
func kindOf(scheme Kind) *KindDef {
	for _, d := range Kinds {
		if slices.Contains(d.Schemes, scheme) {
			return d
		}
	}
	return nil
}

// schemeList is every scheme, as "link, route, ... or icmp", each written
// by form (e.g. adding "://" or ":").
func schemeList(form func(d *KindDef, s Kind) string) string {
	var words []string
	for _, d := range Kinds {
		for _, s := range d.Schemes {
			words = append(words, form(d, s))
		}
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// schemes is every scheme, in the order of Kinds.
func schemes() []string {
	var ss []string
	for _, d := range Kinds {
		for _, s := range d.Schemes {
			ss = append(ss, string(s))
		}
	}
	return ss
}

// prefix is how a target of scheme s begins: "tcp://", or "dns:" for a
// kind whose forms need no authority.
func prefix(d *KindDef, s Kind) string {
	if d.Authority {
		return string(s) + "://"
	}
	return string(s) + ":"
}
