#!/usr/bin/env bash
# One table of netready's costs, in one command: make bench-table.
#
#   - wall time of "netready wait" (default policy, network already up) and
#     of "netready check" beside "true", all through "ip netns exec" in a
#     lab this script makes: medians of $RUNS runs with hyperfine;
#   - "check" wall time for 1, 100 and 1,000 tcp:// targets on loopback
#     listeners (a small Go helper this script builds) in that lab;
#   - event-to-ready latency, idle CPU and context switches per 10 s, rounds
#     during a 2,000-change storm: from bench_test.go's benchmarks;
#   - peak RSS (/usr/bin/time's maximum resident set) of check with 1,000
#     targets, of the already-up wait and of a wait idling 10 s;
#   - the size of make build's static binary.
#
# The lab is two namespaces joined by a veth pair (10.213.3.0/24), with
# dnsmasq as the resolver; the host's network and resolv.conf are not
# touched, and everything is removed at the end. Needs root. Timings are
# noisy on a shared 2-core machine: the load average is printed before and
# after, and "true", run the same way in the same hyperfine run, is the
# floor to compare with.
#
# Knobs: RUNS (hyperfine runs, default 30), EVENT_N (EventToReady trials,
# 50), IDLE_N (BenchmarkIdle runs of 10 s each, per kind, 3), STORM_N
# (storms, 5).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
RUNS=${RUNS:-30}
EVENT_N=${EVENT_N:-50}
IDLE_N=${IDLE_N:-3}
STORM_N=${STORM_N:-5}

command -v hyperfine >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
scripts/install-test-deps.sh
make -s build

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
c=nrbt-c-$$ s=nrbt-s-$$
tmp=$(mktemp -d)
listener_pid=
cleanup() {
	[ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
	for ns in "$c" "$s"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "/etc/netns/$c" "$tmp"
}
trap cleanup EXIT

echo "== lab $c / $s (10.213.3.0/24)" >&2
ip netns add "$c"
ip netns add "$s"
ip -n "$c" link set lo up
ip -n "$s" link set lo up
ip -n "$c" link add veth0 type veth peer name veth1 netns "$s"
ip -n "$c" addr add 10.213.3.2/24 dev veth0
ip -n "$s" addr add 10.213.3.1/24 dev veth1
ip -n "$s" link set veth1 up
ip -n "$c" link set veth0 up
ip -n "$c" route add default via 10.213.3.1
mkdir -p "/etc/netns/$c"
echo "nameserver 10.213.3.1" >"/etc/netns/$c/resolv.conf"
ip netns exec "$s" dnsmasq --conf-file=/dev/null --pid-file="$tmp/dnsmasq.pid" --user=root --group=root \
	--no-resolv --no-hosts --bind-interfaces --listen-address=10.213.3.1 \
	--auth-server=ns.test,veth1 --auth-zone=. --host-record=ns.test,10.213.3.1
for _ in $(seq 100); do
	ip netns exec "$c" ./netready check -q && break
	sleep 0.05
done
ip netns exec "$c" ./netready check >&2

# Loopback listeners in the client namespace for the N-target checks: 16
# ports, so that 1,000 connections spread their 4-tuples; each connection
# is closed only after the client's close, as in probe/bench_test.go (a
# server-side TIME_WAIT would make the kernel drop a later SYN reusing its
# 4-tuple). The helper exits by itself after 10 minutes at most.
cat >"$tmp/listen.go" <<'GO'
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	for range 16 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
	}
	os.Stdout.Close()
	time.Sleep(10 * time.Minute)
}
GO
(cd "$tmp" && CGO_ENABLED=0 go build -o listen listen.go)
ip netns exec "$c" "$tmp/listen" >"$tmp/ports" &
listener_pid=$!
for _ in $(seq 100); do
	[ "$(wc -l <"$tmp/ports")" -ge 16 ] && break
	sleep 0.05
done
mapfile -t ports <"$tmp/ports"
[ ${#ports[@]} -eq 16 ] || { echo "listener helper did not start" >&2; exit 1; }
targets() { # targets N: N tcp:// targets over the 16 listeners
	local i out=()
	for ((i = 0; i < $1; i++)); do out+=("tcp://127.0.0.1:${ports[i % 16]}"); done
	echo "${out[*]}"
}
t1=$(targets 1) t100=$(targets 100) t1000=$(targets 1000)
ip netns exec "$c" ./netready check -q $t1000 || { echo "check of 1000 loopback targets failed" >&2; exit 1; }

echo "== hyperfine, $RUNS runs each" >&2
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$tmp/h.json" --style basic \
	-n true "ip netns exec $c true" \
	-n wait "ip netns exec $c ./netready wait -q" \
	-n check "ip netns exec $c ./netready check -q" \
	-n check1 "ip netns exec $c ./netready check -q $t1" \
	-n check100 "ip netns exec $c ./netready check -q $t100" \
	-n check1000 "ip netns exec $c ./netready check -q $t1000" >&2

echo "== peak RSS" >&2
rss() { ip netns exec "$c" /usr/bin/time -f 'RSS %M' "$@" 2>&1 >/dev/null | sed -n 's/^RSS //p'; }
rss_check1000=$(rss ./netready check -q $t1000)
rss_wait=$(rss ./netready wait -q)
rss_idle=$(rss ./netready wait -q --timeout 10s tcp://10.213.3.1:9 || true)

echo "== go test -bench (EventToReady ${EVENT_N}x, Idle ${IDLE_N}x, Storm ${STORM_N}x)" >&2
go test -run '^$' -bench 'EventToReady' -benchtime "${EVENT_N}x" . | tee "$tmp/bench.txt" >&2
go test -run '^$' -bench 'Idle' -benchtime "${IDLE_N}x" . | tee -a "$tmp/bench.txt" >&2
go test -run '^$' -bench 'Storm' -benchtime "${STORM_N}x" . | tee -a "$tmp/bench.txt" >&2

size=$(stat -c %s netready)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$tmp/h.json" "$tmp/bench.txt" "$size" "$rss_check1000" "$rss_wait" "$rss_idle" "$load_before" "$load_after" "$RUNS" <<'PY'
import json, re, sys
hj, bench, size, rss_c, rss_w, rss_i, lb, la, runs = sys.argv[1:]
h = {r["command"]: r for r in json.load(open(hj))["results"]}
floor = h["true"]["median"] * 1e3

def wall(name):
    r = h[name]
    m = r["median"] * 1e3
    lo, hi = min(r["times"]) * 1e3, max(r["times"]) * 1e3
    return f"{m:.2f} ms", f"{m / floor:.2f}x true (+{m - floor:.2f} ms); min {lo:.2f}, max {hi:.2f}"

metrics = {}
for line in open(bench):
    m = re.match(r"^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$", line)
    if not m:
        continue
    vals = re.findall(r"([\d.]+) (\S+)", m.group(3))
    metrics[m.group(1)] = {unit: float(v) for v, unit in vals}

def bm(name, unit, fmt="{:.1f}"):
    v = metrics.get(name, {}).get(unit)
    return "n/a" if v is None else fmt.format(v)

def ratio(name, base, unit):
    v, b = metrics.get(name, {}).get(unit), metrics.get(base, {}).get(unit)
    return "n/a x" if not v or not b else f"{v / b:.2f}x"

rows = [
    ("`true` via ip netns exec (floor)", f"{floor:.2f} ms", f"median of {runs}", "hyperfine -N"),
    ("`wait`, default policy, already up", *wall("wait"), "hyperfine -N"),
    ("`check`, default policy", *wall("check"), "hyperfine -N"),
    ("`check`, 1 tcp:// target (loopback)", *wall("check1"), "hyperfine -N"),
    ("`check`, 100 tcp:// targets", *wall("check100"), "hyperfine -N"),
    ("`check`, 1,000 tcp:// targets", *wall("check1000"), "hyperfine -N"),
    ("event→ready latency (route added → exit)",
     f"p50 {bm('BenchmarkEventToReady', 'p50-ms')} ms", f"p90 {bm('BenchmarkEventToReady', 'p90-ms')} ms, max {bm('BenchmarkEventToReady', 'max-ms')} ms",
     "BenchmarkEventToReady"),
    ("idle 10 s, remote target (backoff)", f"{bm('BenchmarkIdle/remote', 'cpu-ms/10s', '{:.2f}')} ms CPU",
     f"{bm('BenchmarkIdle/remote', 'ctxsw/10s', '{:.0f}')} context switches (median)", "BenchmarkIdle"),
    *[(f"idle 10 s, local target {what} (every 250 ms)", f"{bm('BenchmarkIdle/' + name, 'cpu-ms/10s', '{:.2f}')} ms CPU",
       f"{bm('BenchmarkIdle/' + name, 'ctxsw/10s', '{:.0f}')} context switches (median); "
       f"{ratio('BenchmarkIdle/' + name, 'BenchmarkIdle/floor', 'cpu-ms/10s')} the floor", "BenchmarkIdle")
      for name, what in (("local-route", "route:default4"), ("local-tcp", "tcp://127.0.0.1:9"))],
    ("idle 10 s, floor: bare Go dialing 127.0.0.1:9 every 250 ms", f"{bm('BenchmarkIdle/floor', 'cpu-ms/10s', '{:.2f}')} ms CPU",
     f"{bm('BenchmarkIdle/floor', 'ctxsw/10s', '{:.0f}')} context switches (median)", "internal/idlefloor"),
    ("rounds during a 2,000-change storm", bm("BenchmarkStorm", "storm-rounds", "{:.0f}"), "median", "BenchmarkStorm"),
    ("peak RSS, `check` 1,000 targets", f"{int(rss_c) / 1024:.1f} MiB", "", "/usr/bin/time %M"),
    ("peak RSS, `wait` already up", f"{int(rss_w) / 1024:.1f} MiB", "", "/usr/bin/time %M"),
    ("peak RSS, `wait` idling 10 s", f"{int(rss_i) / 1024:.1f} MiB", "", "/usr/bin/time %M"),
    ("binary size (make build, static)", f"{int(size) / 1048576:.2f} MiB", f"{int(size)} bytes", "stat"),
]
print(f"load average before: {lb}; after: {la} (2 cores, shared)")
print()
print("| measure | value | detail | from |")
print("|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
PY
