package packaging

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// extractDeb unpacks a .deb's files into a new temporary directory (never
// towards /) and returns it.
func extractDeb(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	command(t, "dpkg-deb", "-x", deb, dir)
	return dir
}

// TestPackageArchitectures checks each architecture's .deb as a machine of
// that architecture would see it: dpkg's Architecture field, and the binary
// it installs: the staged binary, static, of the right ELF machine and
// class, built by Go for that GOARCH (and GOARM=7 for armhf) without cgo.
// The .rpm's architecture and file digests are TestRPM's.
func TestPackageArchitectures(t *testing.T) {
	needTools(t, "dpkg-deb")
	a := build(t)
	for _, pa := range pkgArches {
		t.Run(pa.deb, func(t *testing.T) {
			aa := a.arches[pa.deb]
			fields := map[string]string{"Package": "netready", "Architecture": pa.deb, "Version": a.version}
			for field, want := range fields {
				if got := strings.TrimSpace(command(t, "dpkg-deb", "-f", aa.deb, field)); got != want {
					t.Errorf("dpkg-deb -f %s %s: got %q, want %q", filepath.Base(aa.deb), field, got, want)
				}
			}
			bin := filepath.Join(extractDeb(t, aa.deb), "usr", "bin", "netready")
			got, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(aa.bin)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the .deb's /usr/bin/netready differs from %s", aa.bin)
			}
			checkELF(t, bin, pa)
		})
	}
}

// checkELF checks that the binary at path is a static Linux executable for
// pa, built by Go for pa without cgo.
func checkELF(t *testing.T, path string, pa pkgArch) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != pa.machine || f.Class != pa.class || f.Type != elf.ET_EXEC {
		t.Errorf("%s: got ELF %v %v %v, want %v %v %v", path, f.Machine, f.Class, f.Type, pa.machine, pa.class, elf.ET_EXEC)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header, want a static binary", path, p.Type)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{"GOOS": "linux", "GOARCH": pa.goarch, "CGO_ENABLED": "0", "-trimpath": "true"}
	if pa.goarm != "" {
		want["GOARM"] = pa.goarm
	}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("%s: build setting %s: got %q, want %q", path, k, settings[k], v)
		}
	}
}

// archLab is two network namespaces joined by a veth pair: the client,
// 10.213.11.2/24 with its default route through the server, 10.213.11.1,
// which listens on port.
type archLab struct {
	client *netnstest.NS
	port   int
}

const (
	archLabServer = "10.213.11.1"
	// closedPort has nothing listening in the lab's server namespace: a
	// connection to it is refused at once.
	closedPort = "9"
)

func newArchLab(t *testing.T) archLab {
	t.Helper()
	c, s := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, c, "veth0", s, "veth1")
	c.IP(t, "addr", "add", "10.213.11.2/24", "dev", "veth0")
	s.IP(t, "addr", "add", archLabServer+"/24", "dev", "veth1")
	s.IP(t, "link", "set", "veth1", "up")
	c.IP(t, "link", "set", "veth0", "up")
	c.IP(t, "route", "add", "default", "via", archLabServer)
	// No resolver and no hosts: nothing here needs a name, and nothing
	// may leave the lab.
	c.WriteEtc(t, "resolv.conf", "")
	c.WriteEtc(t, "hosts", "")
	l := s.Listen(t, net.JoinHostPort(archLabServer, "0"))
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, conn); conn.Close() }()
		}
	}()
	// The default route passes only once veth0 is operationally up.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(c.IP(t, "-o", "link", "show", "veth0"), "state UP") {
		if time.Now().After(deadline) {
			t.Fatal("veth0 did not come up in 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return archLab{client: c, port: l.Addr().(*net.TCPAddr).Port}
}

// checkReport is the part of "check --json" these tests read.
type checkReport struct {
	Ready   bool `json:"ready"`
	Targets []struct {
		Target string `json:"target"`
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		Cause  string `json:"cause"`
	} `json:"targets"`
}

// TestIntegrationPackageArchRun runs the binary each architecture's .deb installs, the
// foreign ones under qemu-user (Debian's qemu-user-static, called
// explicitly: no binfmt handler is needed): "version" names the
// architecture, and in a lab of two network namespaces a "check" passes
// (route:default4 and a TCP listener, exit 0) and one fails (a refused
// port, exit 1). The netlink route queries and the sockets of a 32-bit ARM
// binary go through qemu's syscall translation, as they would not on
// native hardware; the answers must be the same.
func TestIntegrationPackageArchRun(t *testing.T) {
	roottest.Require(t) // creates network namespaces
	needTools(t, "dpkg-deb", "ip", "qemu-aarch64-static", "qemu-arm-static")
	a := build(t)
	lab := newArchLab(t)
	pass := []string{"route:default4", "tcp://" + net.JoinHostPort(archLabServer, strconv.Itoa(lab.port))}
	fail := "tcp://" + net.JoinHostPort(archLabServer, closedPort)
	for _, pa := range pkgArches {
		t.Run(pa.deb, func(t *testing.T) {
			bin := filepath.Join(extractDeb(t, a.arches[pa.deb].deb), "usr", "bin", "netready")
			run := func(args ...string) (stdout string, code int) {
				t.Helper()
				argv := append([]string{bin}, args...)
				if pa.qemu != "" && pa.deb != hostArch() {
					argv = append([]string{pa.qemu}, argv...)
				}
				cmd := lab.client.Command(t.Context(), argv[0], argv[1:]...)
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				var ee *exec.ExitError
				switch {
				case err == nil:
				case errors.As(err, &ee):
					code = ee.ExitCode()
				default:
					t.Fatalf("%s: %v", strings.Join(argv, " "), err)
				}
				if errOut.Len() > 0 {
					t.Logf("%s: stderr: %s", strings.Join(args, " "), &errOut)
				}
				return out.String(), code
			}

			out, code := run("version")
			if code != 0 || !strings.Contains(out, "linux/"+pa.goarch+")") {
				t.Errorf("version: exit %d, stdout %q; want exit 0 and linux/%s", code, out, pa.goarch)
			}

			out, code = run(append([]string{"check", "--json"}, pass...)...)
			var r checkReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("check %s: %v in %q", strings.Join(pass, " "), err, out)
			}
			if code != 0 || !r.Ready || len(r.Targets) != len(pass) {
				t.Errorf("check %s: exit %d, %s; want exit 0, ready, %d targets", strings.Join(pass, " "), code, out, len(pass))
			}

			out, code = run("check", "--json", fail)
			r = checkReport{}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("check %s: %v in %q", fail, err, out)
			}
			if code != 1 || r.Ready || len(r.Targets) != 1 || r.Targets[0].OK {
				t.Fatalf("check %s: exit %d, %s; want exit 1, not ready", fail, code, out)
			}
			// A refusal, as the kernel reported it: the cause word once
			// causes are reported, the socket's error until then.
			if tg := r.Targets[0]; tg.Cause != "port-closed" && !strings.Contains(tg.Error, "connection refused") {
				t.Errorf("check %s: got cause %q, error %q; want port-closed (connection refused)", fail, tg.Cause, tg.Error)
			}
		})
	}
}
