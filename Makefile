# netready — build, test, benchmark.
#   make build    static binary ./netready, version stamped from git
#   make test     everything CI runs: deps, gofmt, vet, the race-enabled suite
#   make bench    benchmarks of the probes and of wait (not part of make test)
#   make fuzz     each fuzz target for FUZZTIME (default 1m)

GO        ?= go
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME  ?= 1m

.PHONY: build test deps lint bench bench-probe bench-wait fuzz clean
.PHONY: package package-stage package-deb package-rpm clean-dist

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o netready .

# The suite's tools from Debian (only what is missing); the fleet tools
# (issue 11: prometheus and promtool, node_exporter, podman, qemu-user-static,
# tinyproxy) are installed with no daemon left running on the host.
deps:
	@scripts/install-test-deps.sh
	@scripts/install-fleet-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

# The suite needs root: it creates network namespaces (10.213.0.0/16,
# fd00:213::/64 inside them only) and never touches the host's network.
test: deps lint
	$(GO) test -race -count=1 -timeout 15m ./...

bench: bench-probe bench-wait bench-table

# One check round over 1, 100 and 1,000 TCP targets on loopback.
bench-probe:
	$(GO) test -run '^$$' -bench Round -benchmem -count 5 ./probe/

# netready wait in network namespaces: change-to-exit latency over 50
# trials (p50/p90/max), CPU and context switches idling 10 s, rounds during
# a storm of 2,000 route changes.
bench-wait: deps
	$(GO) test -run '^$$' -bench EventToReady -benchtime 50x .
	$(GO) test -run '^$$' -bench Idle -benchtime 3x .
	$(GO) test -run '^$$' -bench Storm -benchtime 5x .


fuzz:
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzParseResolvConf$$' -fuzztime $(FUZZTIME)

clean:
	rm -f netready

# Packages: $(DIST)/netready_<version>_amd64.deb and
# $(DIST)/netready-<version>.x86_64.rpm, built by nfpm (packaging/nfpm.yaml)
# from the tools module: "go run" of the version tools/go.mod pins, never a
# downloaded binary. The version comes from git (packaging/version.sh).
# SOURCE_DATE_EPOCH (the last commit's time), -trimpath and gzip -n make two
# builds of one tree byte-identical (the .rpm also records the build host's
# name).
DIST       ?= dist
PKGVERSION ?= $(shell packaging/version.sh)
PKGSTAGE    = $(DIST)/stage
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# "go run" must run in tools/ to use its go.mod; -exec starts nfpm back in
# this directory, which the paths in packaging/nfpm.yaml are relative to.
NFPM        = cd tools && NETREADY_PKG_VERSION='$(PKGVERSION)' NETREADY_PKG_STAGE='$(PKGSTAGE)' \
	SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' $(GO) run -exec 'env -C ..' github.com/goreleaser/nfpm/v2/cmd/nfpm

package: package-deb package-rpm

# The static binary (CGO_ENABLED=0, linux/amd64 like the packages), and the
# man page and completions it generates from its own CLI definition.
package-stage:
	rm -rf $(PKGSTAGE)
	mkdir -p $(PKGSTAGE)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(PKGSTAGE)/netready .
	$(PKGSTAGE)/netready man >$(PKGSTAGE)/netready.8
	gzip -9n $(PKGSTAGE)/netready.8
	$(PKGSTAGE)/netready completion bash >$(PKGSTAGE)/netready.bash
	$(PKGSTAGE)/netready completion zsh >$(PKGSTAGE)/_netready
	$(PKGSTAGE)/netready completion fish >$(PKGSTAGE)/netready.fish

package-deb: package-stage
	$(NFPM) pkg --config packaging/nfpm.yaml --packager deb --target $(DIST)/netready_$(PKGVERSION)_amd64.deb

package-rpm: package-stage
	$(NFPM) pkg --config packaging/nfpm.yaml --packager rpm --target $(DIST)/netready-$(PKGVERSION).x86_64.rpm

clean-dist:
	rm -rf $(DIST)

# Issue 5: stress runs, the command-line fuzzer, one table of benchmarks.
.PHONY: stress fuzz-cli bench-table

# Thousands of netready wait runs in namespaces (stress_test.go): 1,000
# ready runs, 1,000 randomized trials, and the same with CPU 1 kept busy at
# --probe-timeout 100ms and 1s. The tests skip unless NETREADY_STRESS is
# set; NETREADY_STRESS_N, _WORKERS and _SEED tune them.
stress: deps
	NETREADY_STRESS=1 $(GO) test -count=1 -v -timeout 120m -run '^TestStress' .

# The flag and environment layer, fuzzed without probing (fuzz_cli_test.go).
fuzz-cli:
	$(GO) test . -run '^$$' -fuzz '^FuzzCommandLine$$' -fuzztime $(FUZZTIME)

# One table: wait/check wall time beside true, check over 1/100/1,000
# targets, event-to-ready latency, idle CPU, storm rounds, peak RSS, size.
bench-table: deps
	scripts/bench-table.sh
