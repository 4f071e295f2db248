package packaging

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/netnstest"
)

// productMetrics are the metric names PRODUCT.md promises for netready
// watch --metrics-listen and --textfile.
var productMetrics = []string{
	"netready_ready",
	"netready_target_up",
	"netready_target_latency_seconds",
	"netready_target_cause",
	"netready_transitions_total",
	"netready_last_transition_timestamp_seconds",
	"netready_network_changes_total",
}

// TestPrometheusExamples checks the shipped Prometheus examples with
// Debian's promtool: the configuration (and the rule file it loads) is
// valid, the rules are, and their unit tests pass; a control shows that
// the unit tests do test the rules (a rule changed the wrong way fails
// them). The rules use only the metrics PRODUCT.md names, and the scrape
// configuration the unit's default port.
func TestPrometheusExamples(t *testing.T) {
	needTools(t, "promtool")
	dir := filepath.Join(repoRoot, "packaging", "examples", "prometheus")
	promtool := func(dir string, args ...string) (string, error) {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "netready.rules.yml"},
		{"test", "rules", "netready.rules.test.yml"},
	} {
		if out, err := promtool(dir, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	rules, err := os.ReadFile(filepath.Join(dir, "netready.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("control: a changed rule fails its unit tests", func(t *testing.T) {
		tmp := t.TempDir()
		changed := strings.Replace(string(rules), "expr: netready_ready == 0\n        for: 5m", "expr: netready_ready == 0\n        for: 10m", 1)
		if changed == string(rules) {
			t.Fatal("the rule to change is not in netready.rules.yml")
		}
		writeFile(t, filepath.Join(tmp, "netready.rules.yml"), changed, 0o644)
		tests, err := os.ReadFile(filepath.Join(dir, "netready.rules.test.yml"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tmp, "netready.rules.test.yml"), string(tests), 0o644)
		out, err := promtool(tmp, "test", "rules", "netready.rules.test.yml")
		if err == nil || !strings.Contains(out, "NetreadyNotReady") {
			t.Errorf("promtool test rules with NetreadyNotReady's for: 10m: %v\n%s\nwant it to fail on NetreadyNotReady", err, out)
		}
	})

	// Every netready_ name in an expression or a template is one of
	// PRODUCT.md's.
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bnetready_[a-z_]+`).FindAllString(string(rules), -1) {
		used[m] = true
	}
	for m := range used {
		if !slices.Contains(productMetrics, m) {
			t.Errorf("netready.rules.yml uses %s, which PRODUCT.md does not name", m)
		}
	}
	for _, m := range []string{"netready_ready", "netready_target_up", "netready_target_cause", "netready_transitions_total", "netready_last_transition_timestamp_seconds"} {
		if !used[m] {
			t.Errorf("netready.rules.yml does not use %s", m)
		}
	}

	_, port, _ := net.SplitHostPort(metricsListen)
	cfg, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "- localhost:"+port+"\n") {
		t.Errorf("prometheus.yml does not scrape localhost:%s, the unit's default", port)
	}
}

// k8sDeployment is the part of a Deployment the Kubernetes examples are
// checked on.
type k8sDeployment struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Template struct {
			Spec struct {
				InitContainers []k8sContainer `json:"initContainers"`
				Containers     []k8sContainer `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type k8sPort struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
}

type k8sContainer struct {
	Name           string    `json:"name"`
	Image          string    `json:"image"`
	Args           []string  `json:"args"`
	Ports          []k8sPort `json:"ports"`
	ReadinessProbe *struct {
		HTTPGet struct {
			Path string `json:"path"`
			Port string `json:"port"`
		} `json:"httpGet"`
	} `json:"readinessProbe"`
	SecurityContext struct {
		RunAsNonRoot             bool  `json:"runAsNonRoot"`
		RunAsUser                int   `json:"runAsUser"`
		RunAsGroup               int   `json:"runAsGroup"`
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `json:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
}

// readYAML decodes a YAML file into v, through python3's yaml module
// (Debian's python3-yaml) and JSON: Go's standard library has no YAML.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	cmd := exec.Command("python3", "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", path)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s: %v\n%s", path, err, ee.Stderr)
		}
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestKubernetesExamples checks the init-container and sidecar examples
// against the image and the binary: they run the netready image as its
// nonroot user, unprivileged; the sidecar's port and readiness probe are
// netready's metrics port and /ready; and netready accepts the arguments
// each gives it (run in an empty network namespace: the init container's
// wait fails at a 1ms timeout with exit 1, not 2; the sidecar's watch
// keeps watching, serving metrics).
func TestKubernetesExamples(t *testing.T) {
	needTools(t, "python3")
	a := build(t)
	dir := filepath.Join(repoRoot, "packaging", "examples", "kubernetes")
	_, port, _ := net.SplitHostPort(metricsListen)
	ns := netnstest.New(t)
	ns.WriteEtc(t, "resolv.conf", "")
	ns.WriteEtc(t, "hosts", "")
	tests := []struct {
		file, container string
		init            bool
		command         string
	}{
		{"init-container.yaml", "wait-for-network", true, "wait"},
		{"sidecar.yaml", "netready", false, "watch"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var d k8sDeployment
			readYAML(t, filepath.Join(dir, tt.file), &d)
			if d.APIVersion != "apps/v1" || d.Kind != "Deployment" {
				t.Errorf("got %s %s, want apps/v1 Deployment", d.APIVersion, d.Kind)
			}
			list := d.Spec.Template.Spec.Containers
			if tt.init {
				list = d.Spec.Template.Spec.InitContainers
			}
			i := slices.IndexFunc(list, func(c k8sContainer) bool { return c.Name == tt.container })
			if i < 0 {
				t.Fatalf("no container %s", tt.container)
			}
			c := list[i]
			if !regexp.MustCompile(`/netready:[\w][\w.-]*$`).MatchString(c.Image) {
				t.Errorf("image %q: want the netready image (REGISTRY/netready:TAG)", c.Image)
			}
			sc := c.SecurityContext
			if !sc.RunAsNonRoot || sc.RunAsUser != 65532 || sc.RunAsGroup != 65532 || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				!sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
				t.Errorf("securityContext: got %+v, want nonroot 65532:65532, no privilege escalation, read-only root, all capabilities dropped", sc)
			}
			if len(c.Args) == 0 || c.Args[0] != tt.command {
				t.Fatalf("args %q: want netready %s", c.Args, tt.command)
			}
			if tt.init {
				args := slices.Clone(c.Args)
				j := slices.IndexFunc(args, func(s string) bool { return strings.HasPrefix(s, "--timeout=") })
				if j < 0 {
					t.Fatal("the init container's wait has no --timeout=")
				}
				args[j] = "--timeout=1ms"
				cmd := ns.Command(t.Context(), a.bin, args...)
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Errorf("netready %s: %v, want exit 1 (not ready at the timeout): %s", strings.Join(args, " "), err, out)
				}
				return
			}

			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/ready" {
				t.Errorf("readinessProbe: got %+v, want an HTTP GET of /ready", c.ReadinessProbe)
			} else if k := slices.IndexFunc(c.Ports, func(p k8sPort) bool {
				return p.Name == c.ReadinessProbe.HTTPGet.Port
			}); k < 0 || port != strconv.Itoa(c.Ports[k].ContainerPort) {
				t.Errorf("readinessProbe port %q: want a container port named so, %s", c.ReadinessProbe.HTTPGet.Port, port)
			}
			if !slices.Contains(c.Args, "--metrics-listen=0.0.0.0:"+port) {
				t.Errorf("args %q: want --metrics-listen=0.0.0.0:%s (the kubelet probes the pod's address)", c.Args, port)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			out, err := ns.Command(ctx, a.bin, c.Args...).CombinedOutput()
			if ctx.Err() == nil {
				t.Errorf("netready %s exited (%v), want it watching: %s", strings.Join(c.Args, " "), err, out)
			}
		})
	}
}
