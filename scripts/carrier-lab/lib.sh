# shellcheck shell=bash
# lib.sh -- the bench-peers sandbox (shared/bench-peers/lib.sh, sourced as is)
# plus IPv6, for the research on links whose carrier comes late. With IPV6=1 both namespaces
# also get addresses in fd00:213::/64 (link prefix fd00:213::/120: A fd00:213::2, B's gateway fd00:213::1, B's lo
# fd00:213::200 and ::201), a TCP listener on [fd00:213::200]:8080 and dnsmasq
# on fd00:213::200 as well. Addresses are added "nodad" (so is networkd's
# config) unless DAD=1. With BRIDGE=1, B's gateway addresses are on a bridge
# (bpbr, kept up by a second port, a veth pair inside B) and bpb0 is its port, like a switch port.
# A_NO_IPV6=1 disables IPv6 in A. URGENT=1 gives the two veth ends different
# ifindexes, so that the kernel handles their carrier changes at once (see
# bp_setup). Nothing outside the two namespaces is touched.
BP_PEERS=${BP_PEERS:-/work/shared/bench-peers}
. "$BP_PEERS/lib.sh"

IPV6=${IPV6:-0}
export BP_ADDR6=fd00:213::2 BP_GW6=fd00:213::1 BP_TARGET6=fd00:213::200 BP_DNS6=fd00:213::200 BP_DNS6_DEAD=fd00:213::201
bp6_nodad() { [ "${DAD:-0}" = 1 ] || echo nodad; }

eval "bp_orig_setup() $(declare -f bp_setup | tail -n +2)"
eval "bp_orig_state() $(declare -f bp_state | tail -n +2)"

bp_setup() {
	bp_orig_setup
	if [ "${URGENT:-0}" = 1 ]; then
		# Give bpb0 an ifindex other than bpa0's (both are 2 otherwise).
		# A veth whose ifindex equals its peer's (its iflink) has its
		# carrier changes handled by linkwatch as "not urgent": at most
		# one such run per second, for the whole kernel. Both ends being
		# in one kernel, B's carrier-up then waits behind A's (or any
		# other link event on the host) for up to 1 s, and until it is
		# handled B does not answer neighbour solicitations (ARP is
		# answered). Two real hosts do not share that pacing.
		ip -n "$BP_NSB" link add bppad0 type veth peer name bppad1
		ip -n "$BP_NSB" link set "$BP_PEER_IFACE" netns "$BP_NSA"
		ip -n "$BP_NSA" link set "$BP_PEER_IFACE" netns "$BP_NSB"
		ip -n "$BP_NSB" addr add "$BP_GW/25" dev "$BP_PEER_IFACE"
		ip -n "$BP_NSB" link set "$BP_PEER_IFACE" up
	fi
	if [ "${A_NO_IPV6:-0}" = 1 ]; then
		# no IPv6 at all in A (no link-local address, so no DAD event
		# 1-2 s after carrier)
		ip netns exec "$BP_NSA" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 "net.ipv6.conf.$BP_IFACE.disable_ipv6=1"
	fi
	if [ "${BRIDGE:-0}" = 1 ]; then
		# B's side as a switch port: the gateway's addresses live on a
		# bridge that keeps carrier (a dummy port), and bpb0 is a port of
		# it. Taking bpb0 down/up takes A's carrier away/back without
		# resetting B's own addresses (a router whose interface went down
		# and up itself rejoins its IPv6 groups asynchronously, and the
		# first neighbour solicitation after is not answered).
		local B=$BP_NSB
		ip -n "$B" link add bpbr type bridge stp_state 0 forward_delay 0 mcast_snooping 0
		# (no dummy module here: a veth pair inside B keeps the bridge's carrier)
		ip -n "$B" link add bpdum type veth peer name bpdum1
		ip -n "$B" link set bpdum1 up
		ip -n "$B" link set bpdum master bpbr up
		ip -n "$B" addr del "$BP_GW/25" dev "$BP_PEER_IFACE"
		ip -n "$B" link set "$BP_PEER_IFACE" master bpbr
		ip -n "$B" addr add "$BP_GW/25" dev bpbr
		ip -n "$B" link set bpbr up
		BP_GW_DEV=bpbr
	fi
	[ "$IPV6" = 1 ] || return 0
	# B keeps its static addresses when bpb0 goes down (the default flushes them)
	ip netns exec "$BP_NSB" sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.bpb0.keep_addr_on_down=1
	ip -n "$BP_NSB" -6 addr add "$BP_GW6/120" dev "${BP_GW_DEV:-$BP_PEER_IFACE}" nodad
	ip -n "$BP_NSB" -6 addr add "$BP_TARGET6/128" dev lo
	ip -n "$BP_NSB" -6 addr add "$BP_DNS6_DEAD/128" dev lo
	echo "listen-address=$BP_DNS6" >>"$BP_STATE/dnsmasq.conf"
	ip netns exec "$BP_NSB" bphelper tcpserve "[$BP_TARGET6]:$BP_PORT" >"$BP_STATE/tcpserve6.log" 2>&1 &
	bp_pid_add tcpserve $!
}

bp_state() {
	bp_orig_state "$@"
	[ "$IPV6" = 1 ] && [ "$NETWORKD" != 1 ] || return 0
	local A=$BP_NSA
	case $1 in
	configured|nocarrier)
		ip -n "$A" -6 addr add "$BP_ADDR6/120" dev "$BP_IFACE" $(bp6_nodad)
		ip -n "$A" -6 route add default via "$BP_GW6" dev "$BP_IFACE" ;;
	noroute) ip -n "$A" -6 addr add "$BP_ADDR6/120" dev "$BP_IFACE" $(bp6_nodad) ;;
	esac
}

# bp_networkd_start, as lib.sh's, with the IPv6 address and gateway when IPV6=1.
bp_networkd_start() {
	local root; root=$(bp_a_root)
	local dad=none; [ "${DAD:-0}" = 1 ] && dad=ipv6
	{
		printf '[Match]\nName=%s\n\n[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' "$BP_IFACE"
		case $1 in
		addr) printf 'Address=%s/25\n' "$BP_ADDR" ;;
		gw) printf 'Address=%s/25\nGateway=%s\n' "$BP_ADDR" "$BP_GW" ;;
		none) ;;
		*) bp_die "bp_networkd_start: bad arg $1" ;;
		esac
		if [ "$IPV6" = 1 ]; then
			case $1 in
			addr|gw) printf '\n[Address]\nAddress=%s/120\nDuplicateAddressDetection=%s\n' "$BP_ADDR6" "$dad" ;;
			esac
			if [ "$1" = gw ]; then printf '\n[Route]\nGateway=%s\n' "$BP_GW6"; fi
		fi
	} >"$root/run/systemd/network/50-bench.network"
	rm -rf "$root/run/systemd/netif"
	SYSTEMD_LOG_LEVEL="${NETWORKD_LOG_LEVEL:-info}" SYSTEMD_LOG_TARGET=console \
		nsenter -t "$BP_HOLDER_PID" -n -m -- "$BP_NETWORKD" >>"$BP_STATE/networkd.log" 2>&1 &
	echo $! >"$BP_STATE/networkd.pid"; bp_pid_add networkd $!
}
