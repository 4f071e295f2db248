#!/usr/bin/env bash
# One instrumented carrier (or route/address) trial: netready -v in A, and
# beside it "ip -ts monitor" (link/addr/route/neigh) in A, tcpdump on both
# ends of the veth, and "ip neigh" sampled every 50 ms. Prints everything
# merged by time. Same sandbox as s1-route-late.sh (lib.sh here).
#   MODE=carrier|route|address IPV6=0|1 NETWORKD=0|1 DELAY=2.5 ./diag.sh -- WAITER ARGV...
#   B_EXTRA='python3 -m http.server --bind 10.213.0.200 8081' also runs that in B.
#   POISON=1 has another process (bash /dev/udp) send to the gateway 1 s before the
#   trigger, making an INCOMPLETE neighbour entry (POISON6=1: the IPv6 one).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${MODE:-carrier}; DELAY=${DELAY:-2.5}
[ "${1:-}" = -- ] && shift
bp_parse_waiter "$@"
bp_setup
bp_dns_start
case $MODE in
route) PRE=noroute ;; carrier) PRE=nocarrier ;; address) PRE=noaddr ;; *) bp_die "bad MODE" ;;
esac
bp_state "$PRE"
D=$BP_STATE
# B_EXTRA: a command to run in the background in B, e.g. an HTTP server
if [ -n "${B_EXTRA:-}" ]; then
	ip netns exec "$BP_NSB" sh -c "exec $B_EXTRA" >"$D/b_extra.log" 2>&1 & bp_pid_add b_extra $!
fi
ip -n "$BP_NSA" -ts monitor link address route neigh >"$D/mon.A" 2>&1 & bp_pid_add mon $!
ip netns exec "$BP_NSA" tcpdump -l -n -tt -i "$BP_IFACE" >"$D/dump.A" 2>/dev/null & bp_pid_add tcpdumpA $!
ip netns exec "$BP_NSB" tcpdump -l -n -tt -i any >"$D/dump.B" 2>/dev/null & bp_pid_add tcpdumpB $!
( while :; do printf '%s %s\n' "$(date +%s.%N)" "$(ip -n "$BP_NSA" neigh show dev "$BP_IFACE" | tr '\n' '|')"; sleep 0.05; done ) >"$D/neigh.A" & bp_pid_add neighpoll $!
sleep 0.5
t0=$(date +%s.%N)
"${BP_A_PREFIX[@]}" "${BP_WAITER_ARGV[@]}" >"$D/waiter.out" 2>"$D/waiter.err" & WPID=$!
if [ -n "${POISON:-}" ]; then
	# another process sends to the gateway POISON seconds before the
	# trigger, while there is no carrier: an INCOMPLETE neighbour entry
	sleep "$(echo "$DELAY - $POISON" | bc)"
	g=$BP_GW; [ "$IPV6" = 1 ] && [ "${POISON6:-0}" = 1 ] && g=$BP_GW6
	ip netns exec "$BP_NSA" bash -c "echo x >/dev/udp/$g/9" 2>/dev/null
	sleep "$POISON"
else
	sleep "$DELAY"
fi
ttrig=$(date +%s.%N)
case $MODE in
route) ip -n "$BP_NSA" route add default via "$BP_GW" dev "$BP_IFACE"
	[ "$IPV6" = 1 ] && ip -n "$BP_NSA" -6 route add default via "$BP_GW6" dev "$BP_IFACE" ;;
carrier) ip -n "$BP_NSB" link set "$BP_PEER_IFACE" up ;;
address) ip -n "$BP_NSA" addr add "$BP_ADDR/25" dev "$BP_IFACE"; ip -n "$BP_NSA" route add default via "$BP_GW" dev "$BP_IFACE"
	if [ "$IPV6" = 1 ]; then ip -n "$BP_NSA" -6 addr add "$BP_ADDR6/120" dev "$BP_IFACE" $(bp6_nodad); ip -n "$BP_NSA" -6 route add default via "$BP_GW6" dev "$BP_IFACE"; fi ;;
esac
tdone=$(date +%s.%N)
rc=0; wait $WPID || rc=$?
tend=$(date +%s.%N)
sleep 0.3
echo "start=$t0 trigger=$ttrig trigger_done=$tdone exit=$tend rc=$rc latency_ms=$(echo "($tend-$tdone)*1000" | bc)"
{
	sed 's/^\([0-9.]*\) /\1 [dumpA] /' "$D/dump.A"
	sed 's/^\([0-9.]*\) /\1 [dumpB] /' "$D/dump.B"
	# neigh lines only when they change
	awk '{t=$1; $1=""; if ($0!=last) print t" [neigh] "$0; last=$0}' "$D/neigh.A"
	# ip -ts monitor: "[2026-12-02T14:53:05.667] ..." -> epoch
	while IFS= read -r l; do
		ts=${l%%]*}; ts=${ts#\[}; rest=${l#*] }
		printf '%s [mon] %s\n' "$(date -d "${ts/T/ } UTC" +%s.%N 2>/dev/null || echo 0)" "$rest"
	done <"$D/mon.A"
	while IFS= read -r l; do
		ts=$(sed -n 's/^time=\([^ ]*\) .*/\1/p' <<<"$l"); [ -n "$ts" ] || continue
		printf '%s [netready] %s\n' "$(date -d "$ts" +%s.%N)" "${l#* }"
	done <"$D/waiter.err"
	printf '%s [script] waiter started\n%s [script] trigger\n%s [script] trigger done\n%s [script] waiter exited rc=%s\n' "$t0" "$ttrig" "$tdone" "$tend" "$rc"
} | sort -n -k1,1 | awk -v t0="$ttrig" '{ printf "%+9.3f ms %s\n", ($1-t0)*1000, substr($0, index($0," ")+1) }'
