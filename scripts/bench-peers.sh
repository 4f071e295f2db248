#!/usr/bin/env bash
# make bench-peers: netready beside systemd-networkd-wait-online (from the
# base system) and, when it is there, wait4x (a 1 s poller; $WAIT4X, default
# /tmp/bench-peers/bin/wait4x, built out of tree from its v3.7.1 source) in
# the same namespace scenarios, in one run:
#
#   S1 the network becomes usable late: a default route added; carrier
#      appearing (peer link up; address and route already there, or
#      configured by systemd-networkd); an address and a route added
#      together (a DHCP lease); tcp and dns targets, IPv4 and IPv6.
#   S2 a resolver that refuses, then starts.
#   S3 already up: whole-process wall time, CPU and peak RSS (tcp to an
#      address; a name through resolv.conf. The default policy's dns:. is
#      refused by the scenarios' dnsmasq, which answers only its own zone).
#   S4 idle 10 s waiting for what never comes: CPU and context switches.
#
# The scenarios are the shared bench-peers scripts ($BP_PEERS, default
# ../shared/bench-peers) through scripts/carrier-lab (IPv6, and URGENT=1: the
# two veth ends on different ifindexes, so that the peer sees its carrier
# at once, as two real hosts do). Everything happens in two namespaces the
# scripts make and remove (10.213.0.0/24, fd00:213::/120); nothing else is
# touched. Needs root. Summary lines go to stdout and to
# $OUT (default /tmp/bench-peers/results/netready-<date>.txt); then one table
# of medians with the ratio to the peer of the same row.
#
# Knobs: N (S1/S2 trials, 20; S3 makes 30 runs, S4 3 × 10 s), NETREADY (binary, default ./netready from make
# build), ONLY (a regexp of row ids). "scripts/bench-peers.sh --table FILE"
# prints the table of an earlier run's results again.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
export BP_PEERS=${BP_PEERS:-$(cd .. && pwd)/shared/bench-peers}
[ -f "$BP_PEERS/lib.sh" ] || { echo "bench-peers not found at $BP_PEERS (set BP_PEERS)" >&2; exit 1; }
NR=${NETREADY:-$PWD/netready}
[ -x "$NR" ] || { echo "no netready at $NR: run make build" >&2; exit 1; }
W4X=${WAIT4X:-/tmp/bench-peers/bin/wait4x}
N=${N:-20}
ONLY=${ONLY:-.}
mkdir -p /tmp/bench-peers/results
OUT=${OUT:-/tmp/bench-peers/results/netready-$(date +%Y%m%d-%H%M%S).txt}
WO='exec $BP_WAIT_ONLINE -i $BP_IFACE --timeout=0'
LAB=scripts/carrier-lab

# id | script | env | waiter
rows=(
"s1-route-nr|$LAB/s1-route-late.sh|MODE=route URGENT=1|exec $NR wait --timeout 60s route:default tcp://\$BP_TARGET:\$BP_PORT"
"s1-route-w4x|$LAB/s1-route-late.sh|MODE=route URGENT=1|exec $W4X tcp \$BP_TARGET:\$BP_PORT -t 60s"
"s1-carrier-nr-tcp4|$LAB/s1-route-late.sh|MODE=carrier URGENT=1|exec $NR wait --timeout 60s route:default tcp://\$BP_TARGET:\$BP_PORT"
"s1-carrier-nr-dns4|$LAB/s1-route-late.sh|MODE=carrier URGENT=1|exec $NR wait --timeout 60s route:default dns://\$BP_DNS/\$BP_NAME"
"s1-carrier-nr-tcp6|$LAB/s1-route-late.sh|MODE=carrier URGENT=1 IPV6=1|exec $NR wait --timeout 60s route:default6 tcp://[\$BP_TARGET6]:\$BP_PORT"
"s1-carrier-nr-dns6|$LAB/s1-route-late.sh|MODE=carrier URGENT=1 IPV6=1|exec $NR wait --timeout 60s route:default6 dns://[\$BP_DNS6]/\$BP_NAME"
"s1-carrier-wo|$LAB/s1-route-late.sh|MODE=carrier URGENT=1 NETWORKD=1|$WO"
"s1-carrier-networkd-nr|$LAB/s1-route-late.sh|MODE=carrier URGENT=1 NETWORKD=1|exec $NR wait --timeout 60s route:default tcp://\$BP_TARGET:\$BP_PORT"
"s1-carrier-w4x|$LAB/s1-route-late.sh|MODE=carrier URGENT=1|exec $W4X tcp \$BP_TARGET:\$BP_PORT -t 60s"
"s1-address-nr|$LAB/s1-route-late.sh|MODE=address URGENT=1|exec $NR wait --timeout 60s route:default tcp://\$BP_TARGET:\$BP_PORT"
"s1-address-wo|$LAB/s1-route-late.sh|MODE=address URGENT=1 NETWORKD=1|$WO"
"s2-refused-nr|$BP_PEERS/s2-resolver-late.sh|MODE=refused|exec $NR wait --timeout 60s dns://\$BP_DNS/\$BP_NAME"
"s2-refused-w4x|$BP_PEERS/s2-resolver-late.sh|MODE=refused|exec $W4X dns A \$BP_NAME -n \$BP_DNS:53 -t 60s"
"s3-nr|$BP_PEERS/s3-already-up.sh||exec $NR wait tcp://\$BP_TARGET:\$BP_PORT"
"s3-nr-dns|$BP_PEERS/s3-already-up.sh||exec $NR wait dns:\$BP_NAME"
"s3-wo|$BP_PEERS/s3-already-up.sh|NETWORKD=1|$WO"
"s3-w4x|$BP_PEERS/s3-already-up.sh||exec $W4X tcp \$BP_TARGET:\$BP_PORT"
"s4-noroute-nr|$LAB/s4-idle.sh|MODE=noroute|exec $NR wait --timeout 0 route:default tcp://\$BP_TARGET:\$BP_PORT"
"s4-nocarrier-nr|$LAB/s4-idle.sh|MODE=nocarrier|exec $NR wait --timeout 0 route:default tcp://\$BP_TARGET:\$BP_PORT"
"s4-nocarrier-wo|$LAB/s4-idle.sh|MODE=nocarrier NETWORKD=1|$WO"
"s4-noroute-w4x|$LAB/s4-idle.sh|MODE=noroute|exec $W4X tcp \$BP_TARGET:\$BP_PORT -t 0"
"s4-refused-nr|$LAB/s4-idle.sh|MODE=refused|exec $NR wait --timeout 0 dns://\$BP_DNS/\$BP_NAME"
"s4-refused-w4x|$LAB/s4-idle.sh|MODE=refused|exec $W4X dns A \$BP_NAME -n \$BP_DNS:53 -t 0"
)

if [ "${1:-}" = --table ]; then
	OUT=${2:?--table FILE: the results of an earlier run}
else
	echo "# bench-peers $(date -Is) netready=$($NR version 2>/dev/null) load=$(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT"
	for row in "${rows[@]}"; do
		IFS='|' read -r id script envs waiter <<<"$row"
		[[ $id =~ $ONLY ]] || continue
		case $waiter in *"$W4X"*) [ -x "$W4X" ] || { echo "$id | (no wait4x at $W4X)" | tee -a "$OUT"; continue; } ;; esac
		n=$N
		case $id in s3-*|s4-*) n= ;; esac # their own defaults: 30 runs, 3 × 10 s
		line=$(env ${n:+N=$n} $envs WAITER="$waiter" "$script" 2>/dev/null | tail -1)
		echo "$id | $line" | tee -a "$OUT"
	done
	echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"
fi

# One table: the figure that matters per scenario, and its ratio to the
# peer's in the same run (netready / peer; below 1 is faster or cheaper).
awk -F' [|] ' '
function val(line, key,   m) { if (match(line, key "=[0-9.]+")) { m = substr(line, RSTART, RLENGTH); sub(/.*=/, "", m); return m } return "" }
/^#/ { next }
{ id = $1; line = $2
  if (id ~ /^s[12]-/) { v[id] = val(line, "p50_ms"); v90[id] = val(line, "p90_ms"); what[id] = "p50/p90 ms" }
  if (id ~ /^s3-/) { v[id] = val(line, "wall_p50_ms"); v90[id] = val(line, "cpu_p50_ms"); what[id] = "wall/cpu p50 ms" }
  if (id ~ /^s4-/) { v[id] = val(line, "steady_cpu_ms_per_s"); v90[id] = val(line, "steady_csw_per_s"); what[id] = "cpu ms/s, csw/s" }
  order[++n] = id }
END {
  peer["s1-route-nr"] = "s1-route-w4x"; peer["s1-carrier-nr-tcp4"] = "s1-carrier-wo"; peer["s1-carrier-nr-dns4"] = "s1-carrier-wo"
  peer["s1-carrier-nr-tcp6"] = "s1-carrier-wo"; peer["s1-carrier-nr-dns6"] = "s1-carrier-wo"; peer["s1-carrier-networkd-nr"] = "s1-carrier-wo"
  peer["s1-address-nr"] = "s1-address-wo"; peer["s2-refused-nr"] = "s2-refused-w4x"; peer["s3-nr"] = "s3-wo"; peer["s3-nr-dns"] = "s3-wo"
  peer["s4-noroute-nr"] = "s4-noroute-w4x"; peer["s4-nocarrier-nr"] = "s4-nocarrier-wo"; peer["s4-refused-nr"] = "s4-refused-w4x"
  printf "\n%-24s %-16s %-18s %-16s %-10s\n", "row", "measure", "value", "peer", "ratio"
  for (i = 1; i <= n; i++) { id = order[i]; p = peer[id]
    r = (p in v && v[p] + 0 > 0) ? sprintf("%.3g", v[id] / v[p]) : "-"
    printf "%-24s %-16s %-18s %-16s %-10s\n", id, what[id], v[id] "/" v90[id], (p ? p : "-"), (p ? r : "") }
}' "$OUT"
