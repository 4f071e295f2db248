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

.PHONY: build test deps lint bench bench-probe bench-wait bench-check fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o netready .

deps:
	@scripts/install-test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

# The suite needs root: it creates network namespaces (10.213.0.0/16,
# fd00:213::/64 inside them only) and never touches the host's network.
test: deps lint
	$(GO) test -race -count=1 -timeout 15m ./...

bench: bench-probe bench-wait bench-check

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

# Wall time of "netready check" (default policy) beside starting "true".
bench-check: deps
	scripts/bench-check.sh

fuzz:
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe/ -run '^$$' -fuzz '^FuzzParseResolvConf$$' -fuzztime $(FUZZTIME)

clean:
	rm -f netready
