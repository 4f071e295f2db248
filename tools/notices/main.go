// Command notices writes the license notices of what a static Go binary is
// built from: the Go standard library and every module its build
// information lists, read from the Go toolchain's and the module cache's
// LICENSE and NOTICE files (a binary built here has them all in the cache).
// MIT and BSD licenses ask that a binary distribution reproduce their
// notice, and Apache-2.0 that it pass on a NOTICE file; a statically linked
// binary is such a distribution.
//
//	-deb FILE   the .deb's /usr/share/doc/netready/copyright: -header (the
//	            Debian machine-readable copyright file of netready's own
//	            code) followed by a paragraph per module, in the same format
//	            (DEP-5). Apache-2.0 is named, not copied: its text is
//	            /usr/share/common-licenses/Apache-2.0 on Debian.
//	-text FILE  the .rpm's /usr/share/licenses/netready/NOTICES: each
//	            module's license and notice as plain text, beside the
//	            package's LICENSE (Apache-2.0).
//
// A module whose license is none of Apache-2.0, MIT (Expat), BSD-2-Clause
// and BSD-3-Clause, or that has no license file, stops the build: a new
// dependency's license needs a person to read it.
package main

import (
	"bytes"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/module"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("notices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "the static Go `binary`")
	header := fs.String("header", "", "netready's own copyright `file` (DEP-5), which -deb begins with")
	debOut := fs.String("deb", "", "write the Debian copyright file to `file`")
	textOut := fs.String("text", "", "write the plain-text notices to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *bin == "":
		return fmt.Errorf("-bin is required")
	case *debOut != "" && *header == "":
		return fmt.Errorf("-deb needs -header")
	}
	mods, err := components(*bin)
	if err != nil {
		return err
	}
	if *debOut != "" {
		h, err := os.ReadFile(*header)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*debOut, []byte(debian(string(h), mods)), 0o644); err != nil {
			return err
		}
	}
	if *textOut != "" {
		if err := os.WriteFile(*textOut, []byte(text(mods)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// component is one part of the binary with a license of its own: the Go
// standard library or a module.
type component struct {
	name, version string
	license       string // the SPDX identifier
	copyright     []string
	licenseText   string // the license file, as the module has it
	notice        string // the NOTICE file, if any
}

// components reads the binary's build information and each part's license
// files: the standard library's from `go env GOROOT` (which must be the Go
// that built the binary), the modules' from `go env GOMODCACHE`.
func components(bin string) ([]component, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("build information of %s: %w", bin, err)
	}
	env, err := goEnv("GOROOT", "GOMODCACHE", "GOVERSION")
	if err != nil {
		return nil, err
	}
	if env["GOVERSION"] != bi.GoVersion {
		return nil, fmt.Errorf("%s was built by %s, but the go command here is %s, whose standard library's license would be read", bin, bi.GoVersion, env["GOVERSION"])
	}
	std, err := readComponent("Go standard library", bi.GoVersion, env["GOROOT"])
	if err != nil {
		return nil, err
	}
	comps := []component{std}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		p, err := module.EscapePath(d.Path)
		if err != nil {
			return nil, err
		}
		v, err := module.EscapeVersion(d.Version)
		if err != nil {
			return nil, err
		}
		c, err := readComponent(d.Path, d.Version, filepath.Join(env["GOMODCACHE"], p+"@"+v))
		if err != nil {
			return nil, err
		}
		comps = append(comps, c)
	}
	return comps, nil
}

// goEnv is `go env NAME...`.
func goEnv(names ...string) (map[string]string, error) {
	out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(names) {
		return nil, fmt.Errorf("go env %s: got %d lines, want %d", strings.Join(names, " "), len(lines), len(names))
	}
	env := map[string]string{}
	for i, n := range names {
		env[n] = lines[i]
	}
	return env, nil
}

// licenseFiles are the names a license file goes by, in the order looked for.
var licenseFiles = []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING"}

// readComponent reads the license and notice of the component in dir.
func readComponent(name, version, dir string) (component, error) {
	c := component{name: name, version: version}
	for _, f := range licenseFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil {
			c.licenseText = string(b)
			break
		}
	}
	if c.licenseText == "" {
		return c, fmt.Errorf("%s %s: no license file (%s) in %s", name, version, strings.Join(licenseFiles, ", "), dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "NOTICE")); err == nil {
		c.notice = string(b)
	}
	c.license = classify(c.licenseText)
	if c.license == "" {
		return c, fmt.Errorf("%s %s: a license this tool does not know (not Apache-2.0, MIT, BSD-2-Clause or BSD-3-Clause): read %s/%s and extend classify", name, version, dir, licenseFiles[0])
	}
	c.copyright = append(copyrights(c.licenseText), copyrights(c.notice)...)
	if len(c.copyright) == 0 {
		c.copyright = []string{"the authors of " + name}
	}
	return c, nil
}

// classify names the license of text by its operative sentences, or "" for
// one it does not know.
func classify(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0"
	case strings.Contains(t, "Permission is hereby granted, free of charge, to any person obtaining a copy of this software"):
		return "MIT"
	case strings.Contains(t, "Redistribution and use in source and binary forms, with or without modification, are permitted"):
		if strings.Contains(t, "may be used to endorse or promote products derived from this software without specific prior written permission") {
			return "BSD-3-Clause"
		}
		return "BSD-2-Clause"
	}
	return ""
}

// copyrightRE is a copyright notice line; the template line of the Apache
// license's appendix ("[yyyy] [name of copyright owner]") is not one.
var copyrightRE = regexp.MustCompile(`^\s*Copyright\s+(?:\([cC]\)\s*|©\s*)?(.+?)\s*$`)

// copyrights are the copyright notices of text, without the word
// "Copyright" and "(c)" and without "All rights reserved".
func copyrights(text string) []string {
	var cs []string
	for _, line := range strings.Split(text, "\n") {
		m := copyrightRE.FindStringSubmatch(line)
		if m == nil || strings.Contains(m[1], "[yyyy]") {
			continue
		}
		c := strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(m[1], "All rights reserved."), "All Rights Reserved."))
		if c != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

// debianNames are Debian's short names of the licenses (DEP-5 section 7),
// where they differ from SPDX's.
var debianNames = map[string]string{"MIT": "Expat", "BSD-3-Clause": "BSD-3-clause", "BSD-2-Clause": "BSD-2-clause"}

// debian is header followed by a Files paragraph per component. A
// component's Files pattern names its source as the build read it: Go's
// module cache path MODULE@VERSION, or goVERSION/src for the standard
// library. Apache-2.0 is defined once, by header; any other license's text
// is given in the component's paragraph, as the component has it; a NOTICE
// file goes in its Comment.
func debian(header string, comps []component) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(header, "\n") + "\n")
	for _, c := range comps {
		b.WriteString("\n")
		files := c.name + "@" + c.version + "/*"
		if c.name == "Go standard library" {
			files = c.version + "/src/*"
		}
		fmt.Fprintf(&b, "Files: %s\n", files)
		fmt.Fprintf(&b, "Copyright: %s\n", strings.Join(c.copyright, "\n "))
		name := c.license
		if n, ok := debianNames[name]; ok {
			name = n
		}
		fmt.Fprintf(&b, "License: %s\n", name)
		if c.license != "Apache-2.0" {
			b.WriteString(indent(c.licenseText))
		}
		comment := fmt.Sprintf("%s %s, built into /usr/bin/netready.", c.name, c.version)
		if c.notice != "" {
			comment += "\n.\nIts NOTICE file:\n.\n" + strings.TrimSpace(c.notice)
		}
		fmt.Fprintf(&b, "Comment:\n%s", indent(comment))
	}
	return b.String()
}

// indent is text as the continuation lines of a DEP-5 field: each line
// after one space, an empty line as " .".
func indent(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.Trim(text, "\n"), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			line = "."
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}

// text is the plain-text notices: each component's name, version, license
// and copyright, then its license file (but Apache-2.0's, which is the
// package's own LICENSE) and its NOTICE file.
func text(comps []component) string {
	var b bytes.Buffer
	rule := strings.Repeat("=", 72)
	b.WriteString("netready's binary, /usr/bin/netready, is built with the Go standard library\n" +
		"and the Go modules below. Their licenses and notices follow; the Apache\n" +
		"License 2.0 is in LICENSE, beside this file.\n")
	for _, c := range comps {
		fmt.Fprintf(&b, "\n%s\n%s %s\nLicense: %s\n", rule, c.name, c.version, c.license)
		for _, cr := range c.copyright {
			fmt.Fprintf(&b, "Copyright %s\n", cr)
		}
		if c.license != "Apache-2.0" {
			fmt.Fprintf(&b, "\n%s\n", strings.Trim(c.licenseText, "\n"))
		}
		if c.notice != "" {
			fmt.Fprintf(&b, "\nNOTICE:\n\n%s\n", strings.Trim(c.notice, "\n"))
		}
	}
	return b.String()
}
