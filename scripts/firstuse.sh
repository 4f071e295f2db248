#!/usr/bin/env bash
# scripts/firstuse.sh BINARY OUTDIR: the first five minutes of a new user,
# captured from BINARY in a namespace lab, into OUTDIR (one file per task),
# so that two builds can be compared side by side:
#
#   1-check      check, default policy and a few targets (80-column terminal)
#   2-late-name  wait for a name created 6 s in (NXDOMAIN until then): the
#                terminal while it waits, and the exit latency after the
#                name appeared (timed in a pipe, 10 trials, the name written
#                5.05 ... 5.95 s in)
#   3-wrap       wait for an HTTP server started 4 s in, then run a command
#   4-link-down  the only link administratively down: check, default policy
#                and route:default
#   5-watch      watch while the resolver stops, then the link goes down,
#                then both come back (text and --json)
#   6-ctrl-c     wait interrupted with Ctrl-C (80-column terminal)
#
# The lab: namespaces nrfu-c (netready; veth0 10.213.90.2/24, default route
# via 10.213.90.1, resolv.conf naming 10.213.90.1) and nrfu-s (veth1
# 10.213.90.1/24; dnsmasq serving the zone lab. from a hosts directory and
# refusing everything else; python3's http.server on port 8080). The
# terminal is a tmux server on a socket of its own, 80x60. Nothing touches
# the host's namespace; everything is removed on exit. Needs root, iproute2,
# dnsmasq, python3 and tmux.
set -euo pipefail
BIN=$(realpath "$1")
OUT=$(realpath -m "$2")
mkdir -p "$OUT"
C=nrfu-c S=nrfu-s
W=$(mktemp -d /tmp/nrfu.XXXXXX)
TM=(tmux -S "$W/tmux.sock" -f /dev/null)
pids=()

cleanup() {
	"${TM[@]}" kill-server 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for ns in $C $S; do
		for p in $(ip netns pids $ns 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		ip netns del $ns 2>/dev/null || true
		rm -rf /etc/netns/$ns
	done
	rm -rf "$W"
}
trap cleanup EXIT

ip netns add $C
ip netns add $S
ip -n $C link set lo up
ip -n $S link set lo up
ip -n $C link add veth0 type veth peer name veth1 netns $S
ip -n $C addr add 10.213.90.2/24 dev veth0
ip -n $S addr add 10.213.90.1/24 dev veth1
ip -n $S link set veth1 up
ip -n $C link set veth0 up
sleep 1
ip -n $C route add default via 10.213.90.1
mkdir -p /etc/netns/$C "$W/hosts"
echo "nameserver 10.213.90.1" >/etc/netns/$C/resolv.conf
printf '127.0.0.1 localhost\n' >/etc/netns/$C/hosts
echo "10.213.90.1 svc.lab" >"$W/hosts/svc"
chmod -R a+rX "$W"

dnsmasq_start() {
	ip netns exec $S dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
		--listen-address=10.213.90.1 --local=/lab/ --hostsdir="$W/hosts" --user=root \
		--pid-file= --log-facility=/dev/null &
	echo $! >"$W/dnsmasq.pid"
	pids+=($!)
	sleep 0.3
}
dnsmasq_stop() { kill "$(cat "$W/dnsmasq.pid")"; sleep 0.2; }
http_start() { # PORT
	ip netns exec $S python3 -m http.server --bind 10.213.90.1 "$1" >/dev/null 2>&1 &
	pids+=($!)
	echo $! >"$W/http$1.pid"
}
dnsmasq_start
http_start 8080
sleep 1

# term NAME CMD: run CMD in the client namespace in a fresh 80x60 terminal.
term() {
	local cmd="printf '\\033[H\\033[2J'; cd $W; ip netns exec $C env -u NO_COLOR TERM=xterm-256color $2; echo \"[exit \$?]\"; sleep 3600"
	if "${TM[@]}" has-session -t fu 2>/dev/null; then
		"${TM[@]}" respawn-pane -k -t fu "$cmd"
		"${TM[@]}" clear-history -t fu
	else
		"${TM[@]}" new-session -d -x 80 -y 60 -s fu "$cmd"
	fi
}
# snap FILE TITLE: append what the terminal shows now, with escapes (colour).
snap() {
	{
		echo "---- $2"
		"${TM[@]}" capture-pane -p -e -t fu | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	} >>"$1"
}
# rel START: seconds since START (date +%s.%N), 2 decimals.
rel() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN{printf "%6.2f", n-s}'; }
# stamp START: prefix each line read with the seconds since START.
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(rel "$1")" "$l"; done; }

NR=$BIN
N="ip netns exec $C $NR"
# SECTIONS, e.g. "2 5", runs only those tasks (default: all).
want() { [ -z "${SECTIONS:-}" ] || [[ " $SECTIONS " == *" $1 "* ]]; }

if want 1; then
# 1. check
f=$OUT/1-check.txt; : >"$f"
term fu "$NR check"; sleep 4; snap "$f" "\$ netready check"
term fu "$NR check dns:svc.lab http://svc.lab:8080/ https://svc.lab:8080/ tcp://svc.lab:9 dns:nosuch.lab"
sleep 5; snap "$f" "\$ netready check dns:svc.lab http://svc.lab:8080/ https://svc.lab:8080/ tcp://svc.lab:9 dns:nosuch.lab"
term fu "$NR check --resolv-conf /nonexistent dns:svc.lab"; sleep 2; snap "$f" "\$ netready check --resolv-conf /nonexistent dns:svc.lab"
: >"$W/empty.conf"
term fu "$NR check --resolv-conf $W/empty.conf dns:svc.lab"; sleep 2; snap "$f" "\$ netready check --resolv-conf empty.conf dns:svc.lab"

fi

if want 2; then
# 2. a late name: the terminal, then the timing in a pipe.
f=$OUT/2-late-name.txt; : >"$f"
rm -f "$W/hosts/late"
term fu "$NR wait --timeout 40s dns:late.lab"
sleep 1; snap "$f" "\$ netready wait --timeout 40s dns:late.lab   (1 s in)"
sleep 2.5; snap "$f" "(3.5 s in)"
sleep 2.5; echo "10.213.90.1 late.lab" >"$W/hosts/late"
sleep 0.5; snap "$f" "(6.5 s in; late.lab exists since 6 s)"
sleep 20; snap "$f" "(26.5 s in)"
# Written at 5.05, 5.15 ... 5.95 s: rounds a second apart would otherwise
# fall in step with a write at a whole second.
for n in 0 1 2 3 4 5 6 7 8 9; do
	at=5.${n}5
	{
		echo
		echo "---- in a pipe, timed (trial $n): late$n.lab created $at s after the start"
		t0=$(date +%s.%N)
		( sleep "$at"; echo "10.213.90.1 late$n.lab" >"$W/hosts/late$n"; date +%s.%N >"$W/late.at" ) &
		bg=$!
		$N wait --timeout 40s dns:late$n.lab 2>&1 | stamp "$t0" || true
		t1=$(date +%s.%N)
		wait $bg
		echo "$(rel "$t0") exit"
		awk -v s="$t0" -v w="$(cat "$W/late.at")" -v e="$t1" 'BEGIN{printf "late'$n'.lab written at %.2f s; exit %.2f s after it\n", w-s, e-w}'
	} >>"$f" 2>&1
done

fi

if want 3; then
# 3. wrap a command: the server starts 4 s in.
f=$OUT/3-wrap.txt; : >"$f"
{
	echo "---- \$ netready wait --timeout 30s http://10.213.90.1:8081/ -- echo deployed   (server on :8081 from 4 s; in a pipe)"
	t0=$(date +%s.%N)
	( sleep 4; http_start 8081; echo "$(rel "$t0") server started" >"$W/srv.at" ) &
	bg=$!
	$N wait --timeout 30s http://10.213.90.1:8081/ -- echo deployed 2>&1 | stamp "$t0" || true
	echo "$(rel "$t0") exit"
	cat "$W/srv.at"
} >>"$f" 2>&1
wait $bg
kill "$(cat "$W/http8081.pid")" 2>/dev/null || true
term fu "$NR wait --timeout 30s http://10.213.90.1:8082/ -- echo deployed"
sleep 3; snap "$f" "\$ netready wait --timeout 30s http://10.213.90.1:8082/ -- echo deployed   (terminal, 3 s in; no server)"
"${TM[@]}" send-keys -t fu C-c; sleep 1; snap "$f" "(after Ctrl-C)"

fi

if want 4; then
# 4. the only link down.
f=$OUT/4-link-down.txt; : >"$f"
ip -n $C link set veth0 down
term fu "$NR check"; sleep 4; snap "$f" "\$ netready check   (veth0 down)"
term fu "$NR check route:default dns:svc.lab tcp://10.213.90.1:8080"; sleep 4; snap "$f" "\$ netready check route:default dns:svc.lab tcp://10.213.90.1:8080"
ip -n $C link set veth0 up; sleep 1
ip -n $C route replace default via 10.213.90.1

fi

if want 5; then
# 5. watch a break.
f=$OUT/5-watch.txt; : >"$f"
for mode in text json; do
	flag=; [ $mode = json ] && flag=--json
	echo "---- \$ netready watch $flag --recheck 2s dns:svc.lab tcp://10.213.90.1:8080   (stdout and stderr, in a pipe)" >>"$f"
	t0=$(date +%s.%N)
	( $N watch $flag --recheck 2s dns:svc.lab tcp://10.213.90.1:8080 2>&1 | stamp "$t0" >>"$f" ) &
	wp=$!
	sleep 3; echo "$(rel "$t0") -- dnsmasq stopped" >>"$f"; dnsmasq_stop
	sleep 5; echo "$(rel "$t0") -- veth0 down" >>"$f"; ip -n $C link set veth0 down
	sleep 5; echo "$(rel "$t0") -- veth0 up" >>"$f"; ip -n $C link set veth0 up; sleep 0.5; ip -n $C route replace default via 10.213.90.1
	sleep 5; echo "$(rel "$t0") -- dnsmasq started" >>"$f"; dnsmasq_start
	sleep 6
	for p in $(ip netns pids $C); do kill -TERM "$p" 2>/dev/null || true; done
	wait $wp || true
	echo >>"$f"
done
term fu "$NR watch --recheck 1s dns:svc.lab tcp://10.213.90.1:8080"
sleep 2; dnsmasq_stop; sleep 4; snap "$f" "\$ netready watch --recheck 1s dns:svc.lab tcp://10.213.90.1:8080   (terminal, --recheck 1s; dnsmasq stopped 2 s in)"
dnsmasq_start

fi

if want 6; then
# 6. Ctrl-C
f=$OUT/6-ctrl-c.txt; : >"$f"
term fu "$NR wait dns:never.lab tcp://10.213.90.1:8083"
sleep 4; snap "$f" "\$ netready wait dns:never.lab tcp://10.213.90.1:8083   (4 s in)"
"${TM[@]}" send-keys -t fu C-c; sleep 1; snap "$f" "(after Ctrl-C)"
fi
echo "captures in $OUT"
