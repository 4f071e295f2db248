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
# urfave/cli's own man page and Markdown writers (and the Markdown library
# they initialise at every start) stay out of the binary: the man page and
# completions are generated at build time by tools/gendocs.
TAGS      := urfave_cli_no_docs
FUZZTIME  ?= 1m

.PHONY: build test deps lint bench bench-probe bench-wait fuzz clean
.PHONY: package package-stage package-deb package-rpm clean-dist

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o netready .

deps:
	@scripts/install-test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	cd tools && $(GO) vet ./gendocs/

# The suite needs root: it creates network namespaces (10.213.0.0/16,
# fd00:213::/64 inside them only) and never touches the host's network.
# NETREADY_INTEGRATION=1: the tests that need root never skip here.
test: deps lint
	NETREADY_INTEGRATION=1 $(GO) test -race -count=1 -timeout 15m ./...
	cd tools && $(GO) test -count=1 ./gendocs/

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
# man page and completions, generated on the build host from the CLI
# definition by tools/gendocs.
package-stage:
	rm -rf $(PKGSTAGE)
	mkdir -p $(PKGSTAGE)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(PKGSTAGE)/netready .
	cd tools && $(GO) run ./gendocs -o $(abspath $(PKGSTAGE))
	gzip -9n $(PKGSTAGE)/netready.8

package-deb: package-stage
	$(NFPM) pkg --config packaging/nfpm.yaml --packager deb --target $(DIST)/netready_$(PKGVERSION)_amd64.deb

package-rpm: package-stage
	$(NFPM) pkg --config packaging/nfpm.yaml --packager rpm --target $(DIST)/netready-$(PKGVERSION).x86_64.rpm

clean-dist:
	rm -rf $(DIST)

# Stress runs, the command-line fuzzer, one table of benchmarks.
.PHONY: stress fuzz-cli bench-table

# Thousands of netready wait runs in namespaces (stress_test.go): 1,000
# ready runs, 1,000 randomized trials, and the same with CPU 1 kept busy at
# --probe-timeout 100ms and 1s. The tests skip unless NETREADY_STRESS is
# set; NETREADY_STRESS_N, _WORKERS and _SEED tune them.
stress: deps
	NETREADY_STRESS=1 $(GO) test -count=1 -v -timeout 120m -run '^TestStress' .

# The flag and environment layer, fuzzed without probing (cli/fuzz_test.go).
fuzz-cli:
	$(GO) test ./cli/ -run '^$$' -fuzz '^FuzzCommandLine$$' -fuzztime $(FUZZTIME)

# One table: wait/check wall time beside true, check over 1/100/1,000
# targets, event-to-ready latency, idle CPU, storm rounds, peak RSS, size.
bench-table: deps
	scripts/bench-table.sh
