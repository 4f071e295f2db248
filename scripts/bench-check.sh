#!/usr/bin/env bash
# Wall time of "netready check" with the default policy (link:any
# route:default dns:.) on a network that is up, beside the floor of starting
# any process the same way ("true"). Runs in two network namespaces it makes
# (10.213.2.0/24), with dnsmasq as the resolver; the host's network is not
# touched. Needs root. Prints hyperfine's table and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}

command -v hyperfine >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
scripts/install-test-deps.sh
make -s build

c=nrb-c-$$ s=nrb-s-$$
cleanup() {
	ip netns pids "$s" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$c" 2>/dev/null || true
	ip netns del "$s" 2>/dev/null || true
	rm -rf "/etc/netns/$c" "$tmp"
}
tmp=$(mktemp -d)
trap cleanup EXIT
ip netns add "$c"
ip netns add "$s"
ip -n "$c" link set lo up
ip -n "$s" link set lo up
ip -n "$c" link add veth0 type veth peer name veth1 netns "$s"
ip -n "$c" addr add 10.213.2.2/24 dev veth0
ip -n "$s" addr add 10.213.2.1/24 dev veth1
ip -n "$s" link set veth1 up
ip -n "$c" link set veth0 up
ip -n "$c" route add default via 10.213.2.1
mkdir -p "/etc/netns/$c"
echo "nameserver 10.213.2.1" >"/etc/netns/$c/resolv.conf"
ip netns exec "$s" dnsmasq --conf-file=/dev/null --pid-file="$tmp/dnsmasq.pid" --user=root --group=root \
	--no-resolv --no-hosts --bind-interfaces --listen-address=10.213.2.1 \
	--auth-server=ns.test,veth1 --auth-zone=. --host-record=ns.test,10.213.2.1
for _ in $(seq 100); do
	ip netns exec "$c" ./netready check -q && break
	sleep 0.05
done
ip netns exec "$c" ./netready check

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$tmp/h.json" \
	-n true "ip netns exec $c true" \
	-n "netready check" "ip netns exec $c ./netready check -q"
python3 - "$tmp/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
t, n = r["true"]["median"] * 1e3, r["netready check"]["median"] * 1e3
print(f"median wall time: true {t:.2f} ms, netready check {n:.2f} ms, difference {n - t:.2f} ms ({n / t:.2f}x)")
PY
