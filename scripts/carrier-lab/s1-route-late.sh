#!/usr/bin/env bash
# (copy of shared/bench-peers/s1-route-late.sh with IPV6=1; see lib.sh here)
# S1 "route appears late": start the waiter while A cannot reach the target,
# make the network usable 2 s (+ jitter) later, time trigger-done -> waiter exit.
#
#   WAITER='wait4x tcp $BP_TARGET:$BP_PORT -t 60s' ./s1-route-late.sh
#   ./s1-route-late.sh -- /path/to/netready wait tcp://10.213.0.200:8080
#
# MODE (what is missing before the trigger, and what the trigger does):
#   route    (default) link up with carrier and 10.213.0.2/25, no default route;
#            trigger: ip route add default via 10.213.0.1
#   carrier  peer veth down, so no carrier; trigger: peer veth up.
#            NETWORKD=0: address + default route were configured up front.
#            NETWORKD=1: networkd configures address + gateway once carrier appears.
#   address  link up with carrier, no IPv4 address, no route;
#            trigger: address + default route added in one netlink batch
#            (with NETWORKD=1 they are "foreign" to networkd's empty .network)
# Other knobs: N=20 DELAY=2s JITTER=1s TIMEOUT=30s NETWORKD=0|1 LABEL=...
# Output: one line "S1 ..." with p50/p90/max of (waiter exit - trigger done).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODE=${MODE:-route}; N=${N:-20}; DELAY=${DELAY:-2s}; JITTER=${JITTER:-1s}; TIMEOUT=${TIMEOUT:-30s}
[ "${1:-}" = -- ] && shift
bp_parse_waiter "$@"
bp_setup

case $MODE in
# (nsenter --net is cheaper than "ip -n", which also makes a mount namespace)
# With IPV6=1 (lib.sh here), the route and address triggers do both families
# in one netlink batch.
route)   PRE=noroute
	if [ "$IPV6" = 1 ]; then
		TRIGGER="printf 'route add default via $BP_GW dev $BP_IFACE\nroute add default via $BP_GW6 dev $BP_IFACE\n' | $BP_NETA ip -batch -"
	else
		TRIGGER="exec $BP_NETA ip route add default via $BP_GW dev $BP_IFACE"
	fi ;;
carrier) PRE=nocarrier; TRIGGER="exec $BP_NETB ip link set $BP_PEER_IFACE up" ;;
address) PRE=noaddr
	if [ "$IPV6" = 1 ]; then
		TRIGGER="printf 'addr add $BP_ADDR/25 dev $BP_IFACE\nroute add default via $BP_GW dev $BP_IFACE\naddr add $BP_ADDR6/120 dev $BP_IFACE $(bp6_nodad)\nroute add default via $BP_GW6 dev $BP_IFACE\n' | $BP_NETA ip -batch -"
	else
		TRIGGER="printf 'addr add $BP_ADDR/25 dev $BP_IFACE\nroute add default via $BP_GW dev $BP_IFACE\n' | $BP_NETA ip -batch -"
	fi ;;
*) bp_die "MODE must be route|carrier|address" ;;
esac

bp_dns_start   # the resolver is up all along; only A's connectivity is missing
OUT=$BP_LOGDIR/s1-$MODE-$(date +%Y%m%d-%H%M%S)-$BP_ID
: >"$OUT.trials"
for i in $(seq 1 "$N"); do
	bp_state "$PRE"
	line=$(bphelper race --delay "$DELAY" --jitter "$JITTER" --timeout "$TIMEOUT" \
		--trigger "$TRIGGER" --log "$OUT.waiter.log" -- "${BP_A_PREFIX[@]}" "${BP_WAITER_ARGV[@]}")
	echo "$line" >>"$OUT.trials"
	bp_log "S1 $MODE trial $i/$N: $line"
done
echo "S1 mode=$MODE networkd=$NETWORKD ipv6=$IPV6 waiter=\"$BP_LABEL\" $(bp_summary_from_races "$OUT.trials")"
