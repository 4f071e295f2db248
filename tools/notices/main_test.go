package main

import (
	"debug/buildinfo"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	mitText = `Copyright (c) 2016 Some One
All rights reserved.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.
`
	bsd3Text = `Copyright 2009 The Go Authors.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are
met:
   * Neither the name of Google LLC nor the names of its
contributors may be used to endorse or promote products derived from
this software without specific prior written permission.
`
	bsd2Text = `Copyright (C) 2011 Somebody

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice.
`
	apacheText = `
                                 Apache License
                           Version 2.0, January 2004

   2. Grant of Copyright License. Subject to the terms and conditions of

   Copyright [yyyy] [name of copyright owner]
`
)

func TestClassify(t *testing.T) {
	tests := map[string]string{
		mitText:    "MIT",
		bsd3Text:   "BSD-3-Clause",
		bsd2Text:   "BSD-2-Clause",
		apacheText: "Apache-2.0",
		"This program is free software; you can redistribute it under the GPL.": "",
	}
	for text, want := range tests {
		if got := classify(text); got != want {
			t.Errorf("classify(%.40q): got %q, want %q", text, got, want)
		}
	}
}

func TestCopyrights(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{mitText, []string{"2016 Some One"}},
		{bsd3Text, []string{"2009 The Go Authors."}},
		{bsd2Text, []string{"2011 Somebody"}},
		{apacheText, nil}, // the appendix's template and "Grant of Copyright License" are none
		{"Copyright © 2012 The Go Authors. All rights reserved.\nCopyright © fsnotify Authors. All rights reserved.\n", []string{"2012 The Go Authors.", "fsnotify Authors."}},
	}
	for _, tt := range tests {
		if got := copyrights(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("copyrights(%.40q): got %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestReadComponent reads license files as a module has them, and refuses a
// module without one or with an unknown license.
func TestReadComponent(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("apache/LICENSE", apacheText)
	write("apache/NOTICE", "The Thing\nCopyright 2014-2015 The Thing Authors\n")
	write("mit/LICENSE.txt", mitText)
	write("gpl/COPYING", "GNU GENERAL PUBLIC LICENSE\n")
	if err := os.MkdirAll(filepath.Join(dir, "none"), 0o755); err != nil {
		t.Fatal(err)
	}

	c, err := readComponent("example.com/apache", "v1.0.0", filepath.Join(dir, "apache"))
	if err != nil {
		t.Fatal(err)
	}
	if c.license != "Apache-2.0" || !slices.Equal(c.copyright, []string{"2014-2015 The Thing Authors"}) || !strings.Contains(c.notice, "The Thing") {
		t.Errorf("apache: got %+v, want Apache-2.0 with the NOTICE's copyright", c)
	}
	c, err = readComponent("example.com/mit", "v1.0.0", filepath.Join(dir, "mit"))
	if err != nil || c.license != "MIT" {
		t.Errorf("mit (LICENSE.txt): got %+v, %v", c, err)
	}
	if _, err := readComponent("example.com/gpl", "v1.0.0", filepath.Join(dir, "gpl")); err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Errorf("gpl: got %v, want an error saying the license is unknown", err)
	}
	if _, err := readComponent("example.com/none", "v1.0.0", filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "no license file") {
		t.Errorf("none: got %v, want an error saying there is no license file", err)
	}

	// The Debian paragraphs: Apache-2.0 named only, MIT as Expat with its
	// text, each line of a field's continuation indented, empty lines ".".
	apache, _ := readComponent("example.com/apache", "v1.0.0", filepath.Join(dir, "apache"))
	mit, _ := readComponent("example.com/mit", "v1.0.0", filepath.Join(dir, "mit"))
	got := debian("Format: x\n", []component{apache, mit})
	for _, want := range []string{
		"\nFiles: example.com/apache@v1.0.0/*\nCopyright: 2014-2015 The Thing Authors\nLicense: Apache-2.0\nComment:\n example.com/apache v1.0.0, built into /usr/bin/netready.\n .\n Its NOTICE file:\n .\n The Thing\n",
		"\nFiles: example.com/mit@v1.0.0/*\nCopyright: 2016 Some One\nLicense: Expat\n Copyright (c) 2016 Some One\n All rights reserved.\n .\n Permission is hereby granted",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain\n%s", got, want)
		}
	}
	if strings.Contains(got, "Grant of Copyright License") {
		t.Errorf("got the Apache license's text in\n%s\nwant it named only", got)
	}
}

// TestRun writes the notices of this test binary, whose modules are in the
// module cache: every module it links has a paragraph.
func TestRun(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	header := filepath.Join(dir, "header")
	if err := os.WriteFile(header, []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deb, txt := filepath.Join(dir, "copyright"), filepath.Join(dir, "NOTICES")
	if err := run([]string{"-bin", exe, "-header", header, "-deb", deb, "-text", txt}, io.Discard); err != nil {
		t.Fatal(err)
	}
	d, _ := os.ReadFile(deb)
	n, _ := os.ReadFile(txt)
	if !strings.Contains(string(d), "\nFiles: "+bi.GoVersion+"/src/*\n") {
		t.Errorf("no paragraph for the standard library in\n%s", d)
	}
	if len(bi.Deps) == 0 {
		t.Fatal("premise: the test binary links no module")
	}
	for _, m := range bi.Deps {
		if !strings.Contains(string(d), "\nFiles: "+m.Path+"@"+m.Version+"/*\n") {
			t.Errorf("no paragraph for %s %s in the copyright file", m.Path, m.Version)
		}
		if !strings.Contains(string(n), "\n"+m.Path+" "+m.Version+"\nLicense: ") {
			t.Errorf("no notice for %s %s in NOTICES", m.Path, m.Version)
		}
	}
	for _, p := range strings.Split(string(d), "\n\n")[1:] {
		for _, field := range []string{"Files: ", "\nCopyright: ", "\nLicense: "} {
			if !strings.Contains(p, field) {
				t.Errorf("paragraph without %q:\n%s", strings.TrimSpace(field), p)
			}
		}
	}
}
