package main

// README.md's samples of output are netready's: each is printed again in a
// lab that makes it true, and compared with README with its timings and
// timestamps masked. "make docs" (go test -run TestIntegrationDocSamples
// -update) writes them anew.

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
)

var update = flag.Bool("update", false, "write what the tests compare with from what netready prints now: README.md's samples of output, the goldens in testdata/terminal")

// docSample is a sample of output in README.md: the fenced block after a
// line "<!-- sample: NAME -->", whose first line is "$ COMMAND" and whose
// other lines are what COMMAND printed (stdout and stderr, as a terminal
// shows them).
type docSample struct {
	name, command, output string
	start, end            int // the output's bytes in README.md
}

var sampleRE = regexp.MustCompile("(?m)^<!-- sample: ([a-z0-9-]+) -->\n```[a-z]*\n\\$ ([^\n]*)\n")

// docSamples finds the samples of readme.
func docSamples(t *testing.T, readme string) []docSample {
	t.Helper()
	var samples []docSample
	for _, m := range sampleRE.FindAllStringSubmatchIndex(readme, -1) {
		s := docSample{name: readme[m[2]:m[3]], command: readme[m[4]:m[5]], start: m[1]}
		n := strings.Index(readme[s.start:], "```\n")
		if n < 0 {
			t.Fatalf("README.md: sample %s has no end", s.name)
		}
		s.end = s.start + n
		s.output = readme[s.start:s.end]
		samples = append(samples, s)
	}
	return samples
}

// docScene is where a sample's command runs: a namespace, what to add to
// the environment, and, for a command that runs until stopped, what to do
// while it runs (ending with stopping it).
type docScene struct {
	ns    *netnstest.NS
	env   []string
	drive func(t *testing.T, p *proc)
}

// docScenes make each sample true, by its name.
var docScenes = map[string]func(t *testing.T) docScene{
	// A host whose link is up, but which has no default route and whose
	// resolv.conf names no nameserver: the default policy.
	"quick-start": noLease,
	// The same host, and a service on the network that is not running.
	"troubleshoot": noLease,
	// The endpoints of a service: a database that answers, a registry
	// over https with a certificate for its name (SSL_CERT_FILE trusts
	// its CA), both named in /etc/hosts, and a name that the stub
	// resolver would resolve, were it running.
	"check": func(t *testing.T) docScene {
		l := newLab(t)
		l.client.WriteEtc(t, "hosts", "127.0.0.1 localhost\n"+serverIP4+" db.internal registry.internal\n")
		l.client.WriteEtc(t, "resolv.conf", "nameserver 127.0.0.53\n")
		l.server.Listen(t, serverIP4+":5432")
		ca := certtest.NewCA(t)
		cert := ca.Valid(t, "registry.internal")
		l.serveHTTP(t, serverIP4+":443", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), &cert)
		return docScene{ns: l.client, env: []string{"SSL_CERT_FILE=" + ca.WriteFile(t)}}
	},
	// Three targets, three broken hops: a port nothing listens on, a
	// default gateway that does not answer ARP, a resolver reachable only
	// through a link that is down.
	"first-broken-hop": brokenHops,
	"explain":          brokenHops,
	// A resolver that refuses to answer.
	"json": func(t *testing.T) docScene {
		l := newLab(t)
		l.dnsServer(t, serverIP4, dnstest.Refused)
		return docScene{ns: l.client}
	},
	// A service that starts while watch watches.
	"watch": func(t *testing.T) docScene {
		l := newLab(t)
		return docScene{ns: l.client, drive: func(t *testing.T, p *proc) {
			poll(t, "a first transition", 5*time.Millisecond, func() bool { return strings.Contains(p.stdout.String(), "not ready") })
			l.server.Listen(t, serverIP4+":8080")
			poll(t, "a transition to ready", 5*time.Millisecond, func() bool { return strings.Contains(p.stdout.String(), " ready\n") })
			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t); code != 0 {
				t.Errorf("watch: exit %d after SIGTERM, want 0\n%s", code, p)
			}
		}}
	},
	// watch serving /ready on loopback while a target fails.
	"ready-endpoint": func(t *testing.T) docScene {
		l := newLab(t)
		w := startNetready(t, l.client, nil, "watch", "--metrics-listen", "127.0.0.1:10213", "route:default", "tcp://"+serverIP4+":8080")
		client := l.client.HTTPClient()
		poll(t, "/ready answering 503", 5*time.Millisecond, func() bool {
			resp, err := client.Get("http://127.0.0.1:10213/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 503 && strings.Contains(w.stdout.String(), "not ready")
		})
		return docScene{ns: l.client}
	},
}

// noLease is a host whose link is up, but which has no default route and
// whose resolv.conf names no nameserver, as before a DHCP lease.
func noLease(t *testing.T) docScene {
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	l.client.IP(t, "-6", "route", "del", "default")
	l.client.WriteEtc(t, "resolv.conf", "# written by the network manager once it has a lease\n")
	return docScene{ns: l.client}
}

// brokenHops is the lab of "first-broken-hop" and "explain": the
// client's route to 10.213.50.0/24 goes through 10.213.1.99, which nobody
// is; it has no default route; and its resolver, 10.213.2.1, is on the
// network of veth2, which is down.
func brokenHops(t *testing.T) docScene {
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	l.client.IP(t, "-6", "route", "del", "default")
	l.client.IP(t, "route", "add", "10.213.50.0/24", "via", "10.213.1.99")
	other := netnstest.New(t)
	netnstest.Veth(t, l.client, "veth2", other, "veth3")
	l.client.IP(t, "addr", "add", "10.213.2.2/24", "dev", "veth2")
	other.IP(t, "addr", "add", "10.213.2.1/24", "dev", "veth3")
	other.IP(t, "link", "set", "veth3", "up")
	l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.2.1\n")
	return docScene{ns: l.client}
}

// TestIntegrationDocSamples checks that every sample of output in
// README.md is what netready prints, up to timings, timestamps and the
// spaces that align columns; with -update it writes what netready prints.
func TestIntegrationDocSamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	samples := docSamples(t, readme)
	if len(samples) < len(docScenes) {
		t.Errorf("README.md has %d samples, want one for each of the %d scenes", len(samples), len(docScenes))
	}
	got := make([]string, len(samples))
	t.Run("samples", func(t *testing.T) {
		for i, s := range samples {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				scene := docScenes[s.name]
				if scene == nil {
					t.Fatalf("README.md has a sample %q that no scene makes true", s.name)
				}
				got[i] = runSample(t, scene(t), s.command)
				if !*update && masked(got[i]) != masked(s.output) {
					t.Errorf("README.md's sample %s is not what netready prints now (make docs writes it):\n$ %s\n--- README.md\n%s--- netready\n%s", s.name, s.command, s.output, got[i])
				}
			})
		}
	})
	if !*update || t.Failed() {
		return
	}
	var out strings.Builder
	last := 0
	for i, s := range samples {
		out.WriteString(readme[last:s.start])
		out.WriteString(got[i])
		last = s.end
	}
	out.WriteString(readme[last:])
	if err := os.WriteFile("README.md", []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runSample runs command in scene and returns what it printed, each line
// without trailing spaces.
func runSample(t *testing.T, scene docScene, command string) string {
	t.Helper()
	if strings.ContainsAny(command, `"'\$`+"`") {
		t.Fatalf("sample command %q: write it without quotes or expansions, it is split at spaces", command)
	}
	args := strings.Fields(command)
	bin := args[0]
	if bin == "netready" {
		var err error
		if bin, err = exec.LookPath("netready"); err != nil {
			t.Fatal(err)
		}
	}
	var text string
	if scene.drive != nil {
		p := startProc(t, scene.ns, scene.env, bin, args[1:]...)
		scene.drive(t, p)
		p.wait(t)
		text = p.stdout.String() + p.stderr.String()
	} else {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := scene.ns.Command(ctx, bin, args[1:]...)
		cmd.Env = append(os.Environ(), scene.env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("%s: %v", command, err)
			}
		}
		text = out.String()
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		b.WriteString(strings.TrimRight(line, " \r\n") + "\n")
	}
	return b.String()
}

var (
	stampRE    = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	httpDateRE = regexp.MustCompile(`(?m)^(Date|Content-Length): .*$`)
	jsonMSRE   = regexp.MustCompile(`("[a-z_]*ms"\s*:\s*)[0-9.e+-]+`)
	durationRE = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)\b`)
	spacesRE   = regexp.MustCompile(` +`)
)

// masked is a sample with what changes from run to run taken out: the
// timestamps, durations and the spaces that align the columns they are
// in.
func masked(s string) string {
	s = stampRE.ReplaceAllString(s, "TIME")
	s = httpDateRE.ReplaceAllString(s, "$1: …")
	s = jsonMSRE.ReplaceAllString(s, "${1}N")
	s = durationRE.ReplaceAllString(s, "D")
	return spacesRE.ReplaceAllString(s, " ")
}

// TestMasked checks what the comparison of samples ignores, and that it
// ignores nothing else.
func TestMasked(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"link:any  ok    0.53ms  veth0 up", "link:any  ok    12.1ms  veth0 up", true},
		{"not ready: 1/4 targets pass (2.16ms)", "not ready: 1/4 targets pass (3001ms)", true},
		{"2026-12-07T10:00:00Z ready", "2027-01-01T23:59:59Z ready", true},
		{`{"elapsed_ms":3001.2,"ms":0.5}`, `{"elapsed_ms":1,"ms":12.25}`, true},
		{"Date: Mon, 07 Dec 2026 10:00:00 GMT", "Date: Tue, 08 Dec 2026 11:00:00 GMT", true},
		{"link:any ok", "link:any FAIL", false},
		{"10.213.1.1:53", "10.213.1.2:53", false},
		{"1/4 targets pass", "2/4 targets pass", false},
		{"resolver-refused", "resolver-down", false},
	} {
		if got := masked(tt.a) == masked(tt.b); got != tt.same {
			t.Errorf("masked(%q) == masked(%q): got %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}
