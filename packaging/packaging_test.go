package packaging

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netready/netready/internal/hostlock"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

const unitName = "netready-wait-online.service"

// watchUnit is the unit of netready watch: metrics and /ready.
const watchUnit = "netready-watch.service"

// watchWantsLink is where enabling watchUnit links it.
const watchWantsLink = "/etc/systemd/system/multi-user.target.wants/" + watchUnit

// metricsListen is the unit's default NETREADY_METRICS_LISTEN: loopback,
// and netready's default port (see packaging/default/netready).
const metricsListen = "127.0.0.1:10213"

// wantsLink is where enabling the unit links it (WantedBy=network-online.target).
const wantsLink = "/etc/systemd/system/network-online.target.wants/" + unitName

// maxExposure is the highest overall exposure "systemd-analyze security"
// may give the unit, with or without the ICMP drop-in.
const maxExposure = 2.0

// repoRoot is the repository, the parent of this package's directory.
var repoRoot string

// distDir receives what "make package" builds; TestMain removes it.
var distDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "netready-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	distDir = dir
	return roottest.Wrap(m).Run()
}

// artifacts are what one "make package" run produced.
type artifacts struct {
	version string // the package version, from version.sh
	docs    string // the man page and completions packaged
	bin     string // the binary of the build host's architecture
	deb     string // the .deb and .rpm of the build host's architecture
	rpm     string
	arches  map[string]archArtifacts // by Debian's architecture name
}

// archArtifacts are one architecture's binary and packages.
type archArtifacts struct {
	bin, deb, rpm string
}

// pkgArch is an architecture the packages are built for: its names for Go,
// dpkg and rpm, the ELF header its binary must have, and the qemu-user
// binary that runs it on an amd64 host ("" when it runs natively).
type pkgArch struct {
	deb, rpm      string
	goarch, goarm string
	machine       elf.Machine
	class         elf.Class
	qemu          string
}

var pkgArches = []pkgArch{
	{deb: "amd64", rpm: "x86_64", goarch: "amd64", machine: elf.EM_X86_64, class: elf.ELFCLASS64},
	{deb: "arm64", rpm: "aarch64", goarch: "arm64", machine: elf.EM_AARCH64, class: elf.ELFCLASS64, qemu: "qemu-aarch64-static"},
	{deb: "armhf", rpm: "armv7hl", goarch: "arm", goarm: "7", machine: elf.EM_ARM, class: elf.ELFCLASS32, qemu: "qemu-arm-static"},
}

// hostArch is Debian's name for the architecture this test runs on.
func hostArch() string {
	for _, pa := range pkgArches {
		if pa.goarch == runtime.GOARCH {
			return pa.deb
		}
	}
	return runtime.GOARCH
}

var (
	buildOnce sync.Once
	built     artifacts
	errBuild  error
)

// build runs "make package" once per test binary, into distDir, and
// returns what it built. The first run ever compiles nfpm (about 30s);
// later ones come from the build cache.
func build(t *testing.T) artifacts {
	t.Helper()
	buildOnce.Do(func() { built, errBuild = makePackage() })
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return built
}

func makePackage() (artifacts, error) {
	cmd := exec.Command("packaging/version.sh")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		return artifacts{}, fmt.Errorf("packaging/version.sh: %w", err)
	}
	version := strings.TrimSpace(string(out))
	cmd = exec.Command("make", "-C", repoRoot, "package", "DIST="+distDir, "PKGVERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		return artifacts{}, fmt.Errorf("make package: %w\n%s", err, out)
	}
	a := artifacts{
		version: version,
		docs:    filepath.Join(distDir, "stage", "docs"),
		arches:  map[string]archArtifacts{},
	}
	for _, pa := range pkgArches {
		aa := archArtifacts{
			bin: filepath.Join(distDir, "stage", pa.deb, "netready"),
			deb: filepath.Join(distDir, "netready_"+version+"_"+pa.deb+".deb"),
			rpm: filepath.Join(distDir, "netready-"+version+"-1."+pa.rpm+".rpm"),
		}
		for _, p := range []string{aa.bin, aa.deb, aa.rpm} {
			if _, err := os.Stat(p); err != nil {
				return artifacts{}, fmt.Errorf("make package did not build %s: %w", filepath.Base(p), err)
			}
		}
		a.arches[pa.deb] = aa
	}
	host, ok := a.arches[hostArch()]
	if !ok {
		return artifacts{}, fmt.Errorf("make package built no package for this machine's architecture, %s", runtime.GOARCH)
	}
	a.bin, a.deb, a.rpm = host.bin, host.deb, host.rpm
	return a, nil
}

// contents maps every file a package installs (directories aside) to the
// file it was made from, for packager "deb" or "rpm" and architecture arch
// (Debian's name).
func contents(t *testing.T, a artifacts, packager, arch string) map[string]string {
	t.Helper()
	src := func(p string) string { return filepath.Join(repoRoot, p) }
	stage := func(p string) string { return filepath.Join(a.docs, p) }
	m := map[string]string{
		"/usr/bin/netready":                                  a.arches[arch].bin,
		"/usr/lib/systemd/system/" + unitName:                src("packaging/systemd/" + unitName),
		"/usr/lib/systemd/system/" + watchUnit:               src("packaging/systemd/" + watchUnit),
		"/etc/default/netready":                              src("packaging/default/netready"),
		"/usr/share/man/man8/netready.8.gz":                  stage("netready.8.gz"),
		"/usr/share/bash-completion/completions/netready":    stage("netready.bash"),
		"/usr/share/fish/vendor_completions.d/netready.fish": stage("netready.fish"),
		"/usr/share/doc/netready/README.md":                  src("README.md"),
	}
	notices := filepath.Join(filepath.Dir(a.docs), "notices", arch)
	switch packager {
	case "deb":
		m["/usr/share/zsh/vendor-completions/_netready"] = stage("_netready")
		m["/usr/share/doc/netready/copyright"] = filepath.Join(notices, "copyright")
		m["/usr/share/doc/netready/changelog.gz"] = stage("changelog.gz")
		m["/usr/share/lintian/overrides/netready"] = src("packaging/deb/lintian-overrides")
	case "rpm":
		m["/usr/share/zsh/site-functions/_netready"] = stage("_netready")
		m["/usr/share/licenses/netready/LICENSE"] = src("LICENSE")
		m["/usr/share/licenses/netready/NOTICES"] = filepath.Join(notices, "NOTICES")
	}
	examples := src("packaging/examples")
	err := filepath.WalkDir(examples, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(examples, p)
		m["/usr/share/doc/netready/examples/"+rel] = p
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// command runs name with args and returns its combined output, failing the
// test if it cannot run or exits non-zero.
func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
}

// unitDirs are copies of the shipped unit and the examples, in unit
// directories systemd-analyze can read, with /usr/bin/netready replaced by
// the staged binary and the example's application by a stub: verify wants
// every Exec path to exist, and nothing is installed here.
type unitDirs struct {
	shipped  string // netready-wait-online.service as shipped
	icmp     string // the unit with examples/netready-wait-online.service.d/icmp.conf
	examples string // myapp.service; foo.service (a stub) with foo.service.d/netready.conf
	enabled  string // the unit linked into network-online.target.wants, as enabled
	man      string // a MANPATH holding man8/netready.8.gz, for Documentation=

	watch         string // netready-watch.service as shipped
	watchTextfile string // it with examples/netready-watch.service.d/textfile.conf
	watchWeb      string // it with examples/netready-watch.service.d/web.conf
	watchEnabled  string // it linked into multi-user.target.wants, as enabled
}

func newUnitDirs(t *testing.T) unitDirs {
	t.Helper()
	a := build(t)
	tmp := t.TempDir()
	d := unitDirs{
		shipped:  filepath.Join(tmp, "shipped"),
		icmp:     filepath.Join(tmp, "icmp"),
		examples: filepath.Join(tmp, "examples"),
		enabled:  filepath.Join(tmp, "enabled"),
		man:      filepath.Join(tmp, "man"),

		watch:         filepath.Join(tmp, "watch"),
		watchTextfile: filepath.Join(tmp, "watch-textfile"),
		watchWeb:      filepath.Join(tmp, "watch-web"),
		watchEnabled:  filepath.Join(tmp, "watch-enabled"),
	}
	stub := filepath.Join(tmp, "myapp")
	writeFile(t, stub, "#!/bin/sh\nexit 0\n", 0o755)
	rewrite := strings.NewReplacer(
		"/usr/bin/netready", a.bin,
		"/usr/local/bin/myapp", stub,
	)
	copyUnit := func(src, dst string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(repoRoot, "packaging", src))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dst, rewrite.Replace(string(b)), 0o644)
	}
	unit := "systemd/" + unitName
	copyUnit(unit, filepath.Join(d.shipped, unitName))
	copyUnit(unit, filepath.Join(d.icmp, unitName))
	copyUnit("examples/"+unitName+".d/icmp.conf", filepath.Join(d.icmp, unitName+".d", "icmp.conf"))
	copyUnit("examples/myapp.service", filepath.Join(d.examples, "myapp.service"))
	writeFile(t, filepath.Join(d.examples, "foo.service"), "[Service]\nExecStart="+stub+"\n", 0o644)
	copyUnit("examples/foo.service.d/netready.conf", filepath.Join(d.examples, "foo.service.d", "netready.conf"))
	copyUnit(unit, filepath.Join(d.enabled, unitName))
	enable := func(dir, target, name string) {
		t.Helper()
		link := filepath.Join(dir, target+".wants", name)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", name), link); err != nil {
			t.Fatal(err)
		}
	}
	enable(d.enabled, "network-online.target", unitName)
	watch := "systemd/" + watchUnit
	copyUnit(watch, filepath.Join(d.watch, watchUnit))
	copyUnit(watch, filepath.Join(d.watchTextfile, watchUnit))
	copyUnit("examples/"+watchUnit+".d/textfile.conf", filepath.Join(d.watchTextfile, watchUnit+".d", "textfile.conf"))
	copyUnit(watch, filepath.Join(d.watchWeb, watchUnit))
	copyUnit("examples/"+watchUnit+".d/web.conf", filepath.Join(d.watchWeb, watchUnit+".d", "web.conf"))
	// Enabled beside the enabled wait-online unit: the boot wants both.
	copyUnit(watch, filepath.Join(d.watchEnabled, watchUnit))
	copyUnit(unit, filepath.Join(d.watchEnabled, unitName))
	enable(d.watchEnabled, "multi-user.target", watchUnit)
	enable(d.watchEnabled, "network-online.target", unitName)
	page, err := os.ReadFile(filepath.Join(a.docs, "netready.8.gz"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d.man, "man8", "netready.8.gz"), string(page), 0o644)
	return d
}

func writeFile(t *testing.T, name, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

// analyze runs systemd-analyze with extra environment and returns its
// combined output and exit error.
func analyze(env []string, args ...string) (string, error) {
	cmd := exec.Command("systemd-analyze", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestUnitVerify runs "systemd-analyze verify" on the shipped unit and the
// examples. verify exits 0 even when it prints an ordering cycle or an
// unknown key, so any output fails; the controls show it does print them.
func TestUnitVerify(t *testing.T) {
	needTools(t, "systemd-analyze", "man")
	d := newUnitDirs(t)
	unit := func(dir string) string { return filepath.Join(dir, unitName) }

	bogus := filepath.Join(t.TempDir(), unitName)
	b, err := os.ReadFile(unit(d.shipped))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bogus, string(b)+"[Service]\nBogusKey=1\n", 0o644)
	cycle := t.TempDir()
	writeFile(t, filepath.Join(cycle, unitName),
		strings.Replace(string(b), "\nAfter=network.target\n", "\nAfter=network-online.target\n", 1), 0o644)
	if err := os.MkdirAll(filepath.Join(cycle, "network-online.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", unitName), filepath.Join(cycle, "network-online.target.wants", unitName)); err != nil {
		t.Fatal(err)
	}

	manpath := "MANPATH=" + d.man
	tests := []struct {
		name string
		env  []string
		args []string
		want string // "": no output at all; else a substring of the output
	}{
		{"shipped unit", []string{manpath}, []string{unit(d.shipped)}, ""},
		{"unit with the ICMP drop-in", []string{manpath}, []string{unit(d.icmp)}, ""},
		{"service ordered after network-online.target", []string{manpath}, []string{filepath.Join(d.examples, "myapp.service")}, ""},
		{"service gated by the ExecStartPre drop-in", []string{manpath}, []string{filepath.Join(d.examples, "foo.service")}, ""},
		// Only once enabled does network-online.target want the unit: a
		// cycle between them shows up in the start of the target.
		{"enabled, no ordering cycle", []string{"SYSTEMD_UNIT_PATH=" + d.enabled + ":"},
			[]string{"--man=no", "network-online.target", unitName}, ""},
		{"watch unit", []string{manpath}, []string{filepath.Join(d.watch, watchUnit)}, ""},
		{"watch unit with the textfile drop-in", []string{manpath}, []string{filepath.Join(d.watchTextfile, watchUnit)}, ""},
		{"watch unit with the web drop-in", []string{manpath}, []string{filepath.Join(d.watchWeb, watchUnit)}, ""},
		{"watch and wait-online enabled, no ordering cycle", []string{"SYSTEMD_UNIT_PATH=" + d.watchEnabled + ":"},
			[]string{"--man=no", "multi-user.target", "network-online.target", watchUnit, unitName}, ""},
		{"control: an unknown key is printed", []string{manpath}, []string{bogus}, "Unknown key"},
		{"control: an ordering cycle is printed", []string{"SYSTEMD_UNIT_PATH=" + cycle + ":"},
			[]string{"--man=no", "network-online.target", unitName}, "ordering cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := analyze(tt.env, append([]string{"verify"}, tt.args...)...)
			if tt.want == "" {
				if err != nil || out != "" {
					t.Errorf("systemd-analyze verify %s: %v, output:\n%s\nwant no output", strings.Join(tt.args, " "), err, out)
				}
				return
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("systemd-analyze verify %s: got output:\n%s\nwant it to contain %q", strings.Join(tt.args, " "), out, tt.want)
			}
		})
	}
}

var (
	exposureRE = regexp.MustCompile(`Overall exposure level for (\S+): (\d+\.\d+)`)
	failedRE   = regexp.MustCompile(`(?m)^✗ (\S+)`)
)

// TestUnitSecurity runs "systemd-analyze security --offline" on the units,
// as shipped and with the ICMP and textfile drop-ins: the overall exposure must stay at
// or below maxExposure, and every setting it counts against the unit must
// be one the unit needs (so a lost hardening line fails here by name, even
// while the total stays under the threshold).
func TestUnitSecurity(t *testing.T) {
	needTools(t, "systemd-analyze")
	d := newUnitDirs(t)
	// What netready cannot do without: sockets to talk to the network and
	// to the kernel's routing tables (and systemd's notify socket), the
	// host's network, any destination address; ProtectClock= itself grants
	// read access to the RTC device.
	needed := []string{
		"RestrictAddressFamilies=~AF_NETLINK",
		"RestrictAddressFamilies=~AF_UNIX",
		"RestrictAddressFamilies=~AF_(INET|INET6)",
		"PrivateNetwork=",
		"IPAddressDeny=",
		"DeviceAllow=",
	}
	tests := []struct {
		name    string
		unit    string
		granted []string // counted against the unit on purpose, besides needed
	}{
		{"shipped", filepath.Join(d.shipped, unitName), nil},
		{"with the ICMP drop-in", filepath.Join(d.icmp, unitName), []string{
			"AmbientCapabilities=",
			"CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)",
			"PrivateUsers=",
		}},
		// A long-running service (not a unit of the early boot, which is
		// exempt) is counted for running in the host's root directory:
		// netready reads the host's resolv.conf, hosts file and
		// certificate store, which are the point.
		{"watch", filepath.Join(d.watch, watchUnit), []string{"RootDirectory=/RootImage="}},
		{"watch with the textfile drop-in", filepath.Join(d.watchTextfile, watchUnit), []string{"RootDirectory=/RootImage="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := analyze(nil, "security", "--offline=true", "--threshold=20", tt.unit)
			if err != nil {
				t.Fatalf("systemd-analyze security --threshold=20: %v\n%s", err, out)
			}
			m := exposureRE.FindStringSubmatch(out)
			if m == nil || m[1] != filepath.Base(tt.unit) {
				t.Fatalf("no overall exposure level for %s in:\n%s", filepath.Base(tt.unit), out)
			}
			score, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("overall exposure %.1f", score)
			if score > maxExposure {
				t.Errorf("got exposure %.1f, want ≤ %.1f", score, maxExposure)
			}
			allowed := append(slices.Clone(needed), tt.granted...)
			for _, m := range failedRE.FindAllStringSubmatch(out, -1) {
				if !slices.Contains(allowed, m[1]) {
					t.Errorf("systemd-analyze security counts %s against the unit; want it hardened", m[1])
				}
			}
		})
	}
}

// unitFile is a unit file's settings: section, then key, then every value
// assigned, space-separated lists split.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, name string) unitFile {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot parse %q", name, line)
			}
			u[section][k] = append(u[section][k], strings.Fields(v)...)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUnitFile checks what verify cannot see. netready-wait-online.service
// is a network-online gate: where it is ordered, how it runs, and that its
// paths and Documentation= agree with what the packages ship.
// netready-watch.service is a long-running notify service that serves its
// metrics on loopback unless /etc/default/netready says otherwise (the
// address is a variable the file overrides, not a flag, which would win
// over it), with wait-online's least privilege.
func TestUnitFile(t *testing.T) {
	a := build(t)
	type setting struct {
		section, key string
		has          []string // values that must be set
		hasNot       []string // values that must not
		exact        []string // if not nil, the only values (empty: set to nothing)
	}
	leastPrivilege := []setting{
		{"Service", "DynamicUser", []string{"yes"}, nil, nil},
		{"Service", "PrivateNetwork", nil, []string{"yes", "true"}, nil},
		{"Service", "CapabilityBoundingSet", nil, nil, []string{}},
		{"Service", "AmbientCapabilities", nil, nil, []string{}},
		{"Service", "NoNewPrivileges", nil, nil, []string{"yes"}},
		{"Service", "ProtectSystem", nil, nil, []string{"strict"}},
		{"Service", "RestrictAddressFamilies", nil, nil, []string{"AF_NETLINK", "AF_INET", "AF_INET6", "AF_UNIX"}},
		{"Service", "EnvironmentFile", nil, nil, []string{"-/etc/default/netready"}},
		{"Unit", "Documentation", []string{"man:netready(8)"}, nil, nil},
	}
	units := []struct {
		name     string
		settings []setting
	}{
		{unitName, append(slices.Clone(leastPrivilege), []setting{
			{"Unit", "DefaultDependencies", []string{"no"}, nil, nil},
			{"Unit", "Before", []string{"network-online.target", "shutdown.target"}, nil, nil},
			{"Unit", "Conflicts", []string{"shutdown.target"}, nil, nil},
			{"Unit", "After", nil, []string{"network-online.target"}, nil},
			{"Unit", "Wants", nil, []string{"network-online.target"}, nil},
			{"Service", "Type", []string{"oneshot"}, nil, nil},
			{"Service", "RemainAfterExit", []string{"yes"}, nil, nil},
			{"Service", "ExecStart", []string{"/usr/bin/netready", "wait"}, nil, nil},
			{"Install", "WantedBy", []string{"network-online.target"}, nil, nil},
		}...)},
		{watchUnit, append(slices.Clone(leastPrivilege), []setting{
			{"Unit", "After", []string{"network.target"}, []string{"network-online.target"}, nil},
			{"Unit", "Wants", nil, []string{"network-online.target"}, nil},
			{"Service", "Type", nil, nil, []string{"notify"}},
			{"Service", "NotifyAccess", nil, nil, []string{"main"}},
			// READY=1 waits for the network: no start timeout kills it.
			{"Service", "TimeoutStartSec", nil, nil, []string{"infinity"}},
			{"Service", "Environment", nil, nil, []string{"NETREADY_METRICS_LISTEN=" + metricsListen}},
			{"Service", "ExecStart", nil, nil, []string{"/usr/bin/netready", "watch"}},
			{"Service", "Restart", nil, nil, []string{"on-failure"}},
			{"Install", "WantedBy", nil, nil, []string{"multi-user.target"}},
		}...)},
	}
	for _, unit := range units {
		t.Run(unit.name, func(t *testing.T) {
			u := parseUnit(t, filepath.Join(repoRoot, "packaging", "systemd", unit.name))
			for _, tt := range unit.settings {
				got, set := u[tt.section][tt.key]
				for _, v := range tt.has {
					if !slices.Contains(got, v) {
						t.Errorf("[%s] %s: got %q, want it to include %q", tt.section, tt.key, got, v)
					}
				}
				for _, v := range tt.hasNot {
					if slices.Contains(got, v) {
						t.Errorf("[%s] %s: got %q, want no %q", tt.section, tt.key, got, v)
					}
				}
				if tt.exact != nil && (!set || !slices.Equal(got, tt.exact)) {
					t.Errorf("[%s] %s: got %q (set: %v), want exactly %q", tt.section, tt.key, got, set, tt.exact)
				}
			}
		})
	}
	// Documentation=man:netready(8) must name the section the page is in.
	if page := manSource(t, a); !regexp.MustCompile(`(?m)^\.TH "?netready"? "?8"?`).MatchString(page) {
		t.Errorf("the man page's .TH line does not say section 8:\n%.200s", page)
	}
}

// manSource is the roff source of the packaged man page.
func manSource(t *testing.T, a artifacts) string {
	t.Helper()
	return string(gunzip(t, filepath.Join(a.docs, "netready.8.gz")))
}

// gunzip is the uncompressed content of the gzip file at path.
func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// watchOnly are the variables of /etc/default/netready that only netready
// watch (netready-watch.service) reads, by the flag they set.
var watchOnly = map[string]string{
	"NETREADY_METRICS_LISTEN": "metrics-listen",
	"NETREADY_TEXTFILE":       "textfile",
	"NETREADY_ON_CHANGE":      "on-change",
	"NETREADY_RECHECK":        "recheck",
}

// TestDefaultFile checks /etc/default/netready: it sets nothing (the units
// run with netready's defaults until an administrator edits it), and every
// commented example names a variable the man page documents and has a value
// netready wait (netready watch, for watch's own variables) accepts.
func TestDefaultFile(t *testing.T) {
	a := build(t)
	bin := a.bin
	_, env, ok := strings.Cut(manSource(t, a), "\n.SH ENVIRONMENT\n")
	if !ok {
		t.Fatal("the man page has no ENVIRONMENT section")
	}
	env, _, _ = strings.Cut(env, "\n.SH ")
	b, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "default", "netready"))
	if err != nil {
		t.Fatal(err)
	}
	ns := netnstest.New(t)
	emptyConf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(emptyConf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	example := regexp.MustCompile(`^#(NETREADY_[A-Z_]+)=(.*)$`)
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		if line != "" && line[0] != '#' {
			t.Errorf("line %d: got %q, want the file to set nothing", i+1, line)
			continue
		}
		m := example.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		name, value := m[1], m[2]
		if v, err := strconv.Unquote(value); err == nil {
			value = v
		}
		if _, ok := watchOnly[name]; ok {
			if !strings.Contains(env, `\fB`+name+`\fP`) {
				t.Errorf("line %d: %s is not in the man page's ENVIRONMENT section", i+1, name)
			}
			if name == "NETREADY_TEXTFILE" {
				value = filepath.Join(t.TempDir(), "netready.prom")
			}
			checkWatchAccepts(t, ns, bin, emptyConf, name, value, i+1)
			continue
		}
		// A term in bold: \fBNETREADY_X\fP.
		if !strings.Contains(env, `\fB`+name+`\fP`) {
			t.Errorf("line %d: %s is not in the man page's ENVIRONMENT section", i+1, name)
			continue
		}
		// --timeout 1ms wins over NETREADY_TIMEOUT: the value is parsed, then
		// one short round either passes (0) or not (1); 2 is a usage error.
		// The round runs in an empty network namespace (loopback only) with
		// an empty resolv.conf unless the example sets one, so no probe of
		// an example target can leave this test.
		cmd := ns.Command(t.Context(), bin, "wait", "--timeout", "1ms", "--quiet")
		cmd.Env = append(os.Environ(), "NETREADY_RESOLV_CONF="+emptyConf, "NETREADY_HOSTS_FILE=", name+"="+value)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
			t.Errorf("line %d: %s=%s: netready wait: %v: %s", i+1, name, value, err, out)
		}
	}
	if n == 0 {
		t.Error("got no commented NETREADY_ example, want them")
	}
}

// checkWatchAccepts runs netready watch for a second in an empty network
// namespace with name=value in its environment: a value watch rejects ends
// it at once with exit 2 (a usage error); an accepted one leaves it
// watching until it is killed.
func checkWatchAccepts(t *testing.T, ns *netnstest.NS, bin, resolvConf, name, value string, line int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	cmd := ns.Command(ctx, bin, "watch", "--quiet")
	cmd.Env = append(os.Environ(), "NETREADY_RESOLV_CONF="+resolvConf, "NETREADY_HOSTS_FILE=", name+"="+value)
	out, err := cmd.CombinedOutput()
	if ctx.Err() == nil {
		t.Errorf("line %d: %s=%s: netready watch exited (%v), want it watching: %s", line, name, value, err, out)
	}
}

// TestMaintainerScripts checks the scripts' syntax with the shell dpkg and
// rpm run them with.
func TestMaintainerScripts(t *testing.T) {
	for _, name := range []string{"deb/postinst", "deb/prerm", "deb/postrm", "rpm/post", "rpm/preun", "rpm/postun", "version.sh"} {
		p := filepath.Join(repoRoot, "packaging", name)
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v: %s", name, err, out)
		}
		if fi, err := os.Stat(p); err != nil {
			t.Error(err)
		} else if fi.Mode()&0o111 == 0 {
			t.Errorf("%s: got mode %v, want it executable", name, fi.Mode())
		}
	}
}

// TestPackageVersion runs version.sh in throwaway repositories: the
// version is derived from git describe, valid for dpkg and rpm, and orders
// as the history does.
func TestPackageVersion(t *testing.T) {
	needTools(t, "git", "dpkg")
	script := filepath.Join(repoRoot, "packaging", "version.sh")
	git := func(t *testing.T, dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "tag.gpgSign=false", "-c", "commit.gpgSign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(t *testing.T, dir string) {
		t.Helper()
		f := filepath.Join(dir, "f")
		b, _ := os.ReadFile(f)
		writeFile(t, f, string(b)+"x\n", 0o644)
		git(t, dir, "add", "f")
		git(t, dir, "commit", "-q", "-m", "x")
	}
	dirty := func(t *testing.T, dir string) {
		t.Helper()
		writeFile(t, filepath.Join(dir, "f"), "dirty\n", 0o644)
	}
	type step func(t *testing.T, dir string)
	tag := func(name string) step {
		return func(t *testing.T, dir string) { git(t, dir, "tag", name) }
	}
	tests := []struct {
		name  string
		steps []step
		want  string // %s: the abbreviated commit
	}{
		{"no tag", []step{commit, commit}, "0.0.0~git2.%s"},
		{"no tag, dirty", []step{commit, dirty}, "0.0.0~git1.%s.dirty"},
		{"tag", []step{commit, tag("v1.2.3")}, "1.2.3"},
		{"tag, dirty", []step{commit, tag("v1.2.3"), dirty}, "1.2.3+dirty"},
		{"after a tag", []step{commit, tag("v1.2.3"), commit, commit}, "1.2.3+git2.%s"},
		{"after a tag, dirty", []step{commit, tag("v1.2.3"), commit, dirty}, "1.2.3+git1.%s.dirty"},
		{"pre-release tag", []step{commit, tag("v2.0.0-rc.1")}, "2.0.0~rc.1"},
		{"after a pre-release tag", []step{commit, tag("v2.0.0-rc1"), commit}, "2.0.0~rc1+git1.%s"},
		{"tag without v", []step{commit, tag("1.0")}, "1.0"},
		{"a tag that is no version", []step{commit, tag("v1.2.3"), commit, tag("deployed")}, "1.2.3+git1.%s"},
		{"only tags that are no version", []step{commit, tag("deployed"), commit}, "0.0.0~git2.%s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			git(t, dir, "init", "-q")
			for _, s := range tt.steps {
				s(t, dir)
			}
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, git(t, dir, "rev-parse", "--short", "HEAD"))
			}
			cmd := exec.Command(script)
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("version.sh: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if out, err := exec.Command("dpkg", "--validate-version", want).CombinedOutput(); err != nil {
				t.Errorf("dpkg --validate-version %s: %v: %s", want, err, out)
			}
		})
	}

	// Oldest first: before any tag, a pre-release and commits after it, the
	// release, commits after it, the next release's candidate, the next
	// release.
	order := []string{"0.0.0~git5.abc1234", "1.0.0~rc1", "1.0.0~rc1+git1.abc1234", "1.0.0", "1.0.0+git1.abc1234", "1.0.0+git10.abc1234", "1.0.1~rc1", "1.0.1"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command("dpkg", "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg: got %s not older than %s, want older", order[i-1], order[i])
		}
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		for i := 1; i < len(order); i++ {
			got := command(t, "rpm", "--eval", fmt.Sprintf(`%%{lua: print(rpm.vercmp(%q, %q))}`, order[i-1], order[i]))
			if strings.TrimSpace(got) != "-1" {
				t.Errorf("rpm: got vercmp(%s, %s) = %s, want -1", order[i-1], order[i], strings.TrimSpace(got))
			}
		}
	}
}

// TestRPM inspects each architecture's .rpm (they are not installed: this
// is a Debian machine): its metadata, file list and the digest of every
// file against what it was made from, config file and scriptlets.
func TestRPM(t *testing.T) {
	needTools(t, "rpm")
	a := build(t)
	for _, pa := range pkgArches {
		t.Run(pa.rpm, func(t *testing.T) { testRPM(t, a, pa) })
	}
}

func testRPM(t *testing.T, a artifacts, pa pkgArch) {
	rpmFile := a.arches[pa.deb].rpm
	query := func(args ...string) string {
		t.Helper()
		return command(t, "rpm", append([]string{"-qp"}, append(args, rpmFile)...)...)
	}
	if got, want := query("--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{OS} %{LICENSE}"), "netready "+a.version+" 1 "+pa.rpm+" linux Apache-2.0"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	files := contents(t, a, "rpm", pa.deb)
	digests := query("--qf", `[%{FILENAMES} %{FILEDIGESTS}\n]`)
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s %x\n", dst, sha256.Sum256(b)); !strings.Contains(digests, want) {
			t.Errorf("rpm: %s does not hold %s (sha256 %x)", dst, src, sha256.Sum256(b))
		}
	}

	want := slices.Collect(maps.Keys(files))
	// rpm owns only the directories it lists.
	want = append(want, "/usr/share/doc/netready", "/usr/share/licenses/netready")
	examples := filepath.Join(repoRoot, "packaging", "examples")
	err := filepath.WalkDir(examples, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			rel, _ := filepath.Rel(examples, p)
			want = append(want, filepath.Join("/usr/share/doc/netready/examples", rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	got := strings.Fields(query("--list"))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("rpm -qlp: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// %config(noreplace): FILEFLAGS c (config) and n (noreplace).
	flags := query("--qf", `[%{FILENAMES} %{FILEFLAGS:fflags}\n]`)
	if !strings.Contains(flags, "/etc/default/netready cn\n") {
		t.Errorf("got file flags\n%s\nwant /etc/default/netready cn (config, noreplace)", flags)
	}
	// Documentation, as rpmbuild flags it: every file under /usr/share/doc
	// and /usr/share/man (d), the license file as such (l).
	for dst := range files {
		want := ""
		switch {
		case strings.HasPrefix(dst, "/usr/share/licenses/"):
			want = "l"
		case strings.HasPrefix(dst, "/usr/share/doc/"), strings.HasPrefix(dst, "/usr/share/man/"):
			want = "d"
		case dst == "/etc/default/netready":
			continue
		}
		if !strings.Contains(flags, "\n"+dst+" "+want+"\n") && !strings.HasPrefix(flags, dst+" "+want+"\n") {
			t.Errorf("rpm: %s: want file flags %q in\n%s", dst, want, flags)
		}
	}

	scripts := query("--scripts")
	for _, s := range []string{
		"postinstall scriptlet",
		"systemctl --no-reload preset " + unitName,
		"preuninstall scriptlet",
		"systemctl --no-reload disable " + unitName + " " + watchUnit,
		"systemctl stop " + unitName + " " + watchUnit,
		"postuninstall scriptlet",
		"systemctl daemon-reload",
		"systemctl try-restart " + watchUnit,
	} {
		if !strings.Contains(scripts, s) {
			t.Errorf("rpm --scripts: got\n%s\nwant it to contain %q", scripts, s)
		}
	}
}

// TestIntegrationDebInstall installs the .deb into this machine's filesystem with
// dpkg, checks that every file landed and the unit is enabled, then walks
// through what an administrator does: reinstall, remove, disable, purge.
// At the end, and whenever it fails, netready is purged: nothing it
// installed, enabled or recorded is left.
func TestIntegrationDebInstall(t *testing.T) {
	roottest.Require(t) // installs the .deb with dpkg into this machine's filesystem
	needTools(t, "dpkg", "dpkg-deb", "dpkg-query", "deb-systemd-helper", "systemctl", "man")
	hostlock.UsrBin(t) // not while an end-to-end test's container overlays /usr/bin
	a := build(t)
	files := contents(t, a, "deb", hostArch())

	// Refuse to touch a netready this test did not install.
	if status := debStatus(t); status != "not-installed" {
		t.Fatalf("dpkg: netready is %s here; this test installs and purges it: run dpkg --purge netready first", status)
	}
	for dst := range files {
		if _, err := os.Lstat(dst); err == nil {
			t.Fatalf("%s exists before the test installed anything; this test would remove it", dst)
		}
	}

	// What must be as it was once netready is purged.
	var dirs []string
	for dst := range files {
		for d := filepath.Dir(dst); d != "/"; d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, filepath.Dir(wantsLink))
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	existed := map[string]bool{}
	for _, d := range dirs {
		_, err := os.Lstat(d)
		existed[d] = err == nil
	}
	dangling := danglingLinks(t, "/etc/systemd/system")

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "netready").CombinedOutput(); err != nil {
			t.Errorf("cleanup: dpkg --purge netready: %v\n%s", err, out)
		}
	})

	dpkg := func(t *testing.T, args ...string) {
		t.Helper()
		cmd := exec.Command("dpkg", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// gone checks that the package's files are gone, but the conffile
	// while keep is true, and that no symlink was left dangling.
	gone := func(t *testing.T, keepConffile bool) {
		t.Helper()
		for dst := range files {
			_, err := os.Lstat(dst)
			if dst == "/etc/default/netready" && keepConffile {
				if err != nil {
					t.Errorf("conffile %s: %v, want it kept until purge", dst, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s is still there, want it removed", dst)
			}
		}
		for _, l := range []string{wantsLink, watchWantsLink} {
			if _, err := os.Lstat(l); err == nil {
				t.Errorf("%s is still there, want it removed", l)
			}
		}
		for _, l := range danglingLinks(t, "/etc/systemd/system") {
			if !slices.Contains(dangling, l) {
				t.Errorf("%s is left dangling", l)
			}
		}
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"install", func(t *testing.T) {
			dpkg(t, "-i", a.deb)
			checkInstalled(t, a, files)
			checkEnabled(t, true)
			checkWatchEnabled(t, false)
		}},
		// netready-watch.service is the administrator's to enable; once
		// enabled, removing the package disables it (no dangling link)
		// and a new install leaves it disabled.
		{"an enabled watch unit is disabled on remove", func(t *testing.T) {
			command(t, "systemctl", "enable", watchUnit)
			checkWatchEnabled(t, true)
			dpkg(t, "-r", "netready")
			gone(t, true)
			dpkg(t, "-i", a.deb)
			checkEnabled(t, true)
			checkWatchEnabled(t, false)
		}},
		{"reinstall keeps it enabled", func(t *testing.T) {
			dpkg(t, "-i", a.deb)
			checkEnabled(t, true)
		}},
		{"remove leaves the conffile and nothing dangling", func(t *testing.T) {
			dpkg(t, "-r", "netready")
			if got := debStatus(t); got != "config-files" {
				t.Errorf("dpkg: got status %s, want config-files", got)
			}
			gone(t, true)
		}},
		{"install after remove enables it again", func(t *testing.T) {
			dpkg(t, "-i", a.deb)
			checkEnabled(t, true)
		}},
		{"disable survives reinstall", func(t *testing.T) {
			command(t, "systemctl", "disable", unitName)
			dpkg(t, "-i", a.deb)
			checkEnabled(t, false)
		}},
		{"disable survives remove and install", func(t *testing.T) {
			dpkg(t, "-r", "netready")
			gone(t, true)
			dpkg(t, "-i", a.deb)
			checkEnabled(t, false)
		}},
		{"purge leaves nothing", func(t *testing.T) {
			dpkg(t, "--purge", "netready")
			if got := debStatus(t); got != "not-installed" {
				t.Errorf("dpkg: got status %s, want not-installed", got)
			}
			gone(t, false)
			for _, d := range dirs {
				_, err := os.Lstat(d)
				if exists := err == nil; exists != existed[d] {
					t.Errorf("%s: got exists=%v after purge, want %v as before install", d, exists, existed[d])
				}
			}
			// deb-systemd-helper's enable state.
			filepath.WalkDir("/var/lib/systemd", func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), "netready") {
					t.Errorf("%s is left after purge", p)
				}
				return nil
			})
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

// debStatus is dpkg's status of the netready package: not-installed,
// installed, config-files, ...
func debStatus(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "netready").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return "not-installed" // dpkg has never heard of it
		}
		t.Fatalf("dpkg-query: %v", err)
	}
	return string(out)
}

// checkInstalled checks every installed file against where it came from,
// the package's own file list, the conffile, the binary and the man page.
func checkInstalled(t *testing.T, a artifacts, files map[string]string) {
	t.Helper()
	for dst, src := range files {
		fi, err := os.Lstat(dst)
		if err != nil {
			t.Errorf("%s did not land: %v", dst, err)
			continue
		}
		wantMode := fs.FileMode(0o644)
		if dst == "/usr/bin/netready" {
			wantMode = 0o755
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != wantMode {
			t.Errorf("%s: got mode %v, want a regular file with %v", dst, fi.Mode(), wantMode)
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Error(err)
			continue
		}
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", dst, src)
		}
	}

	var listed []string
	for _, p := range strings.Split(strings.TrimSpace(command(t, "dpkg", "-L", "netready")), "\n") {
		if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
			listed = append(listed, p)
		}
	}
	slices.Sort(listed)
	want := slices.Sorted(maps.Keys(files))
	if !slices.Equal(listed, want) {
		t.Errorf("dpkg -L netready: got files\n%s\nwant\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}
	if got, want := command(t, "dpkg-query", "-W", "-f=${Version} ${Architecture}", "netready"), a.version+" "+hostArch(); got != want {
		t.Errorf("dpkg-query: got %q, want %q", got, want)
	}
	if got := command(t, "dpkg-query", "-W", "-f=${Conffiles}", "netready"); !strings.Contains(got, "/etc/default/netready ") {
		t.Errorf("conffiles: got %q, want /etc/default/netready", got)
	}

	if got := command(t, "/usr/bin/netready", "version"); !strings.HasPrefix(got, "netready ") {
		t.Errorf("netready version: got %q, want \"netready VERSION ...\"", got)
	}
	f, err := elf.Open("/usr/bin/netready")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/usr/bin/netready has an ELF interpreter, want a static binary")
		}
	}

	if got := strings.TrimSpace(command(t, "man", "-w", "8", "netready")); got != "/usr/share/man/man8/netready.8.gz" {
		t.Errorf("man -w 8 netready: got %q, want /usr/share/man/man8/netready.8.gz", got)
	}
	cmd := exec.Command("man", "-P", "cat", "-l", "/usr/share/man/man8/netready.8.gz")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("man -l netready.8.gz: %v, stderr:\n%s\nwant no error", err, &stderr)
	}
	for _, section := range []string{"NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES"} {
		if !regexp.MustCompile(`(?m)^` + section + `$`).Match(stdout.Bytes()) {
			t.Errorf("man page: no %s section", section)
		}
	}
}

// checkEnabled checks the unit's enablement, as systemctl and
// deb-systemd-helper see it.
func checkEnabled(t *testing.T, want bool) {
	t.Helper()
	out, _ := exec.Command("systemctl", "is-enabled", unitName).Output()
	wantState := map[bool]string{true: "enabled", false: "disabled"}[want]
	if got := strings.TrimSpace(string(out)); got != wantState {
		t.Errorf("systemctl is-enabled: got %q, want %q", got, wantState)
	}
	target, err := os.Readlink(wantsLink)
	if !want {
		if err == nil {
			t.Errorf("%s -> %s exists, want no link", wantsLink, target)
		}
		return
	}
	if err != nil {
		t.Errorf("want the link %s: %v", wantsLink, err)
		return
	}
	if _, err := os.Stat(wantsLink); err != nil || filepath.Base(target) != unitName {
		t.Errorf("%s -> %s: %v, want a link to the installed unit", wantsLink, target, err)
	}
	state, err := os.ReadFile("/var/lib/systemd/deb-systemd-helper-enabled/" + unitName + ".dsh-also")
	if err != nil || !strings.Contains(string(state), wantsLink) {
		t.Errorf("deb-systemd-helper state: got %q (%v), want it to record %s", state, err, wantsLink)
	}
}

// checkWatchEnabled checks whether netready-watch.service is enabled, as
// systemctl sees it and by its link in multi-user.target.wants.
func checkWatchEnabled(t *testing.T, want bool) {
	t.Helper()
	out, _ := exec.Command("systemctl", "is-enabled", watchUnit).Output()
	wantState := map[bool]string{true: "enabled", false: "disabled"}[want]
	if got := strings.TrimSpace(string(out)); got != wantState {
		t.Errorf("systemctl is-enabled %s: got %q, want %q", watchUnit, got, wantState)
	}
	if _, err := os.Lstat(watchWantsLink); (err == nil) != want {
		t.Errorf("%s: got exists=%v, want %v", watchWantsLink, err == nil, want)
	}
}

// danglingLinks lists the symlinks under dir whose target does not exist.
func danglingLinks(t *testing.T, dir string) []string {
	t.Helper()
	var links []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				links = append(links, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return links
}
