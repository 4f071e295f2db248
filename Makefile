# netready — build, test, benchmark.
#   make build    static binary ./netready, version stamped from git
#   make test     everything CI runs: deps, gofmt, vet, the race-enabled suite
#   make package  .deb and .rpm for amd64, arm64 and armhf in dist/
#   make image    the OCI image (linux/amd64, linux/arm64) in dist/
#   make release  packages, image, SBOMs and SHA256SUMS in dist/
#   make reproduce  two builds of every artifact, compared byte for byte
#   make bench    benchmarks of the probes and of wait (not part of make test)
#   make fuzz     each fuzz target for FUZZTIME (default 1m)
#   make soak     watch through every kind of change for SOAK (default 30m)
#   make man      the man page, dist/netready.8 (man -l dist/netready.8)
#   make docs     README.md's generated sections (flags, variables, exit
#                 codes) and its samples of output (needs root: a lab)

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

.PHONY: build test deps lint bench bench-probe bench-wait fuzz soak clean man docs
.PHONY: package clean-dist

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o netready .

# The suite's tools from Debian (only what is missing); the fleet tools
# (prometheus and promtool, node_exporter, podman, qemu-user-static,
# tinyproxy) are installed with no daemon left running on the host; Unbound,
# whose package would start a resolver on the host, is only unpacked (cached
# in /var/cache/netready-e2e) for the labs of Extended DNS Errors.
deps:
	@scripts/install-test-deps.sh
	@scripts/install-fleet-deps.sh
	@scripts/container-root.sh unbound >/dev/null

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	cd tools && $(GO) vet ./gendocs/ ./changelog/ ./mkpkg/ ./notices/

# The suite needs root: it creates network namespaces (10.213.0.0/16,
# fd00:213::/64 inside them only) and never touches the host's network.
# NETREADY_INTEGRATION=1: the tests that need root never skip here.
test: deps lint
	NETREADY_INTEGRATION=1 $(GO) test -race -count=1 -timeout 15m ./...
	cd tools && $(GO) test -count=1 ./gendocs/ ./changelog/ ./mkpkg/ ./notices/

# netready(8), generated from the CLI definition by tools/gendocs, for
# readers without the packages.
man:
	mkdir -p $(DIST)
	cd tools && $(GO) run ./gendocs -o $(abspath $(DIST)) netready.8

# README.md from the CLI definition (its tables of flags, variables and
# exit codes) and from netready itself (its samples of output, printed in
# namespace labs: TestIntegrationDocSamples). make test fails when either
# is out of date.
docs: deps
	cd tools && $(GO) run ./gendocs -readme ../README.md
	NETREADY_INTEGRATION=1 $(GO) test -count=1 -run '^TestIntegrationDocSamples$$' . -update

bench: bench-probe bench-wait bench-table

# One check round over 1, 100 and 1,000 TCP targets on loopback.
bench-probe:
	$(GO) test -run '^$$' -bench Round -benchmem -count 5 ./probe/

# netready wait in network namespaces: change-to-exit latency over 50
# trials (p50/p90/max), SLAAC-address-usable-to-exit latency on an
# IPv6-only host over 20 trials, CPU and context switches idling 10 s,
# rounds during a storm of 2,000 route changes.
bench-wait: deps
	$(GO) test -run '^$$' -bench EventToReady -benchtime 50x .
	$(GO) test -run '^$$' -bench SLAACToReady -benchtime 20x .
	$(GO) test -run '^$$' -bench Idle -benchtime 3x .
	$(GO) test -run '^$$' -bench Storm -benchtime 5x .


fuzz:
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzParseResolvConf$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzDNSReply$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzHTTPResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzExtendedErrors$$' -fuzztime $(FUZZTIME)

# The soak (soak_test.go): netready watch --metrics-listen --textfile
# --on-change, under -race, through route, link and carrier flaps, address
# changes, resolv.conf rewrites, a resolver restarting, a service hanging
# and one refusing, one at a time, with /metrics and /ready scraped 20
# times a second each, for SOAK. It fails on a transition missing or
# doubled on stdout, on /metrics, in the textfile or in the on-change runs,
# on one slower than the pacing allows, and on RSS, Go heap, goroutines or
# open files (sampled every minute) trending up after the warm-up; it
# prints the figures (NETREADY_SOAK_REPORT=FILE writes them there too).
# make test runs a smoke run of 40s. Every wait in it is bounded (20s), so
# it needs no go test timeout.
SOAK ?= 30m
soak: deps
	NETREADY_INTEGRATION=1 NETREADY_SOAK=$(SOAK) $(GO) test -race -count=1 -v -timeout 0 -run '^TestIntegrationSoak$$' .

clean:
	rm -f netready

# Packages, for each architecture of PKG_ARCHES (Debian's names: amd64,
# arm64, armhf): $(DIST)/netready_<version>_<arch>.deb and
# $(DIST)/netready-<version>-1.<rpm arch>.rpm (x86_64, aarch64, armv7hl),
# built by tools/mkpkg with nfpm's library (packaging/nfpm.yaml) from the
# tools module: "go run" of the version tools/go.mod pins, never a
# downloaded binary. The version comes from git (packaging/version.sh),
# the packages' changelogs from CHANGELOG.md (tools/changelog).
# SOURCE_DATE_EPOCH (the last commit's time), -trimpath, gzip -n and a
# fixed build host name make two builds of one tree byte-identical.
DIST       ?= dist
PKGVERSION ?= $(shell packaging/version.sh)
PKGSTAGE    = $(DIST)/stage
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PKG_ARCHES ?= amd64 arm64 armhf
# Per architecture (Debian's name): Go's GOARCH and GOARM, nfpm's arch
# (which nfpm turns into dpkg's and rpm's names) and rpm's name.
GOARCH_amd64 = amd64
GOARCH_arm64 = arm64
GOARCH_armhf = arm
GOARM_armhf  = 7
NFPMARCH_amd64 = amd64
NFPMARCH_arm64 = arm64
NFPMARCH_armhf = arm7
RPMARCH_amd64 = x86_64
RPMARCH_arm64 = aarch64
RPMARCH_armhf = armv7hl
# Where each architecture's static binary is staged, and the license
# notices of what it is built from (tools/notices): the .deb's copyright
# file, packaging/deb/copyright followed by a paragraph per Go module, and
# the .rpm's NOTICES.
pkgbin = $(PKGSTAGE)/$(1)/netready
# (Not beside the binary: building a binary empties its directory.)
pkgnotices = $(PKGSTAGE)/notices/$(1)

# The man page, the completions and the changelogs, generated once on the
# build host and shared by every architecture's packages, in DOCS_STAGE:
# netready.8.gz, netready.bash, _netready, netready.fish (tools/gendocs
# writes them from the CLI definition itself: no netready binary is run, of
# any architecture), and changelog.gz (the .deb's) and changelog.yml (the
# .rpm's %changelog), which tools/changelog writes from CHANGELOG.md.
DOCS_STAGE = $(PKGSTAGE)/docs
MAINTAINER = netready maintainers <maintainers@netready.invalid>

# "go run" must run in tools/ to use its go.mod; -exec starts mkpkg back in
# this directory, which the paths in packaging/nfpm.yaml are relative to.
# NETREADY_PKG_ARCH, _BIN, _NOTICES and _DOCS say which architecture to
# package, its binary, its license notices and the shared docs.
MKPKG = cd tools && NETREADY_PKG_VERSION='$(PKGVERSION)' NETREADY_PKG_ARCH='$(NFPMARCH_$(1))' \
	NETREADY_PKG_BIN='$(abspath $(call pkgbin,$(1)))' NETREADY_PKG_DOCS='$(abspath $(DOCS_STAGE))' \
	NETREADY_PKG_NOTICES='$(abspath $(call pkgnotices,$(1)))' \
	SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' $(GO) run -exec 'env -C ..' ./mkpkg

PKG_TARGETS = $(addprefix package-,$(PKG_ARCHES))
# Every architecture's binary can be built, whatever PKG_ARCHES: the image
# needs amd64's and arm64's.
BIN_TARGETS = $(addprefix package-bin-,amd64 arm64 armhf)
.PHONY: package-docs $(PKG_TARGETS) $(BIN_TARGETS)

package: $(PKG_TARGETS)

# The static binary of one architecture (CGO_ENABLED=0; GOARM=7 for armhf).
$(BIN_TARGETS): package-bin-%:
	rm -rf $(PKGSTAGE)/$*
	mkdir -p $(PKGSTAGE)/$*
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_$*) GOARM=$(GOARM_$*) \
		$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(call pkgbin,$*) .

package-docs:
	rm -rf $(DOCS_STAGE)
	mkdir -p $(DOCS_STAGE)
	cd tools && $(GO) run ./gendocs -o $(abspath $(DOCS_STAGE))
	gzip -9n $(DOCS_STAGE)/netready.8
	cd tools && $(GO) run ./changelog -changelog ../CHANGELOG.md -version '$(PKGVERSION)' \
		-epoch '$(SOURCE_DATE_EPOCH)' -maintainer '$(MAINTAINER)' \
		-deb $(abspath $(DOCS_STAGE))/changelog.gz -rpm $(abspath $(DOCS_STAGE))/changelog.yml

# One architecture's .deb and .rpm.
$(PKG_TARGETS): package-%: package-bin-% package-docs
	rm -rf $(call pkgnotices,$*)
	mkdir -p $(call pkgnotices,$*)
	cd tools && $(GO) run ./notices -bin '$(abspath $(call pkgbin,$*))' -header ../packaging/deb/copyright \
		-deb '$(abspath $(call pkgnotices,$*))/copyright' -text '$(abspath $(call pkgnotices,$*))/NOTICES'
	$(call MKPKG,$*) -packager deb -bin '$(abspath $(call pkgbin,$*))' \
		-target '$(abspath $(DIST))/netready_$(PKGVERSION)_$*.deb'
	$(call MKPKG,$*) -packager rpm -changelog '$(abspath $(DOCS_STAGE))/changelog.yml' \
		-target '$(abspath $(DIST))/netready-$(PKGVERSION)-1.$(RPMARCH_$*).rpm'

# The OCI image (tools/ociimage, with go-containerregistry; no container
# daemon): linux/amd64 and linux/arm64 in one index, each a single layer
# with the static binary, the CA bundle and passwd/group entries for the
# nonroot user 65532; no shell. Written as an OCI layout, $(IMAGE_LAYOUT),
# and as an OCI archive, $(IMAGE_ARCHIVE) ("podman load -i", or
# "skopeo copy --all oci-archive:..." to a registry). Its name is
# netready:$(IMAGE_TAG): the package version with "~" and "+" made valid
# in a tag.
IMAGE_ARCHES  ?= amd64 arm64
IMAGE_TAG      = $(subst +,.,$(subst ~,-,$(PKGVERSION)))
IMAGE_LAYOUT   = $(DIST)/oci
IMAGE_ARCHIVE  = $(DIST)/netready_$(PKGVERSION)_oci.tar
CA_CERTS      ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: image
image: $(addprefix package-bin-,$(IMAGE_ARCHES))
	cd tools && SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' $(GO) run -exec 'env -C ..' ./ociimage \
		$(foreach a,$(IMAGE_ARCHES),-bin linux/$(GOARCH_$(a))=$(call pkgbin,$(a))) \
		-ca-certs '$(CA_CERTS)' -version '$(PKGVERSION)' -revision '$(COMMIT)' -ref-name 'netready:$(IMAGE_TAG)' \
		-layout '$(IMAGE_LAYOUT)' -archive '$(IMAGE_ARCHIVE)'

# A release in $(DIST): the packages of every architecture of PKG_ARCHES,
# the OCI image, a software bill of materials per binary and SHA256SUMS
# over all of them ("sha256sum -c SHA256SUMS" in a directory of downloads).
# Each SBOM is CycloneDX JSON, written by cyclonedx-gomod (pinned in
# tools/go.mod, run with "go run") from the build information of the
# binary itself: the modules and the Go standard library linked in, their
# versions and module hashes, the binary's own hashes. Its purls name the
# binary's GOOS/GOARCH, which cyclonedx-gomod reads from "go env", hence the
# environment -exec gives it. No serial number and no timestamp: one tree
# gives the same bytes.
RELEASE_FILES = $(foreach a,$(PKG_ARCHES),netready_$(PKGVERSION)_$(a).deb \
	netready-$(PKGVERSION)-1.$(RPMARCH_$(a)).rpm netready_$(PKGVERSION)_$(a).cdx.json) \
	netready_$(PKGVERSION)_oci.tar
SBOM_TARGETS = $(addprefix sbom-,$(PKG_ARCHES))
.PHONY: release sbom $(SBOM_TARGETS) reproduce

release: package image sbom
	cd $(DIST) && sha256sum $(RELEASE_FILES) > SHA256SUMS
	@echo "$(DIST): $(RELEASE_FILES) SHA256SUMS"

sbom: $(SBOM_TARGETS)

$(SBOM_TARGETS): sbom-%: package-bin-%
	cd tools && $(GO) run -exec 'env GOOS=linux GOARCH=$(GOARCH_$*) GOARM=$(GOARM_$*) CGO_ENABLED=0' \
		github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod bin -json -std -noserial -notimestamp \
		-version 'v$(PKGVERSION)' -output '$(abspath $(DIST))/netready_$(PKGVERSION)_$*.cdx.json' \
		'$(abspath $(call pkgbin,$*))'

# Two releases of this tree, in two copies of it in different directories,
# one after the other, with a different umask, time zone and locale, the
# second with a Go build cache of its own (everything compiled afresh),
# compared file by file: every binary, package, SBOM, the image and its
# digest (packaging's TestReproducible, for every architecture; make test
# runs it for this machine's only, with the shared cache). A difference
# fails and is shown, with diffoscope where it is installed.
reproduce: deps
	NETREADY_REPRO_ARCHES='amd64 arm64 armhf' NETREADY_REPRO_COLD=1 \
		$(GO) test -count=1 -v -timeout 30m -run '^TestReproducible$$' ./packaging/

clean-dist:
	rm -rf $(DIST)

# Stress runs, the command-line fuzzer, one table of benchmarks.
.PHONY: stress fuzz-cli bench-table bench-peers

# Thousands of netready wait runs in namespaces (stress_test.go): 1,000
# ready runs, 1,000 route-late trials, 1,000 randomized trials, and the same with CPU 1 kept busy at
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

# netready beside systemd-networkd-wait-online (and wait4x, if built) in the
# same namespace scenarios: late route, carrier, address+route (tcp and dns,
# IPv4 and IPv6), a refusing resolver, already up, idle; one table of
# medians and ratios to the peer of the same run (scripts/bench-peers.sh;
# about 20 minutes).
bench-peers: deps build
	scripts/bench-peers.sh
