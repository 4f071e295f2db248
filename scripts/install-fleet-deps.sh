#!/usr/bin/env bash
# Installs, from Debian's repositories, what the fleet tests (metrics, the image,
# other architectures, proxies, Kubernetes examples) run besides Go, and only what is missing:
#   prometheus                the server and promtool (check rules, test
#                             rules, check metrics)
#   prometheus-node-exporter  reads the textfile netready watch writes
#   podman, runc, conmon      load and run the OCI image, rootful, with its
#                             state under a temporary --root/--runroot
#                             (runc: podman's default, crun, refuses a
#                             host whose cgroups are in hybrid mode)
#   ca-certificates           the CA bundle the image ships
#   qemu-user-static          runs the arm64 and armhf binaries, called
#                             explicitly (qemu-aarch64-static ./netready)
#   tinyproxy-bin             the proxy binary alone, without a service
#   python3-yaml              reads the Kubernetes examples in their test
# All with --no-install-recommends: the recommends would bring netavark,
# aardvark-dns, slirp4netns, fuse-overlayfs, buildah, binfmt-support and
# node_exporter's collector timers, none of which the tests need.
#
# Two of these packages start a daemon from their postinst (prometheus and
# prometheus-node-exporter, through invoke-rc.d or deb-systemd-invoke): a
# policy-rc.d that answers 101 ("action forbidden") is in place for the
# install, so neither starts, and the host's services are then disabled so
# that none starts at the next boot either. The tests run their own
# instances in network namespaces, with their own configuration and data
# under temporary directories. Nothing here touches the host's network:
# the packages bring files, users (prometheus) and disabled units;
# qemu-user-static registers no binfmt handler without binfmt-support (not
# installed) and never inside a container.
#
# At the end, it checks that no process of these daemons is running that
# was not running before, and fails if one is.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

# command -> package
declare -A pkg=(
	[prometheus]=prometheus
	[promtool]=prometheus
	[prometheus-node-exporter]=prometheus-node-exporter
	[podman]=podman
	[runc]=runc
	[conmon]=conmon
	[update-ca-certificates]=ca-certificates
	[qemu-aarch64-static]=qemu-user-static
	[qemu-arm-static]=qemu-user-static
	[tinyproxy]=tinyproxy-bin
)
# package -> the units its postinst would start now or enable for the next
# boot: the two daemons (also sysvinit scripts of the same name), and
# podman's daily auto-update timer and boot-time restart service, with the
# units deb-systemd-helper enables along with them (their Also=: the API
# service and socket).
declare -A units=(
	[prometheus]=prometheus.service
	[prometheus-node-exporter]=prometheus-node-exporter.service
	[podman]="podman-auto-update.timer podman-auto-update.service podman-restart.service podman.service podman.socket"
)

missing=()
for cmd in "${!pkg[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}")
done
# The Kubernetes examples' test reads YAML through python3's yaml module.
python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

# The daemons' processes running before: they are not this script's.
# (The kernel's comm name is cut to 15 characters.)
daemons() {
	for name in prometheus prometheus-node node_exporter; do
		pgrep -x "$name" || true
	done | sort
}
before=$(daemons)

policy=/usr/sbin/policy-rc.d
saved=
restore_policy() {
	if [ -n "$saved" ]; then
		mv -f "$saved" "$policy"
	else
		rm -f "$policy"
	fi
}
if [ -e "$policy" ]; then
	saved=$(mktemp /usr/sbin/.policy-rc.d.XXXXXX)
	cp -p "$policy" "$saved"
fi
trap restore_policy EXIT
printf '#!/bin/sh\n# scripts/install-fleet-deps.sh: no service starts during its install.\nexit 101\n' >"$policy"
chmod 755 "$policy"

echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Disabled at boot too: systemd's links (systemctl works offline when
# systemd is not running) and sysvinit's rc links.
for p in "${missing[@]}"; do
	for u in ${units[$p]:-}; do
		if [ -d /run/systemd/system ]; then
			systemctl disable --now "$u" >/dev/null 2>&1 || true
		elif command -v systemctl >/dev/null 2>&1; then
			systemctl disable "$u" >/dev/null 2>&1 || true
		fi
		if [ -x "/etc/init.d/${u%.service}" ]; then
			update-rc.d "${u%.service}" disable >/dev/null 2>&1 || true
		fi
	done
done

after=$(daemons)
started=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')
if [ -n "$started" ]; then
	echo "install-fleet-deps.sh: a daemon started despite policy-rc.d (pids $(echo $started)); stop it" >&2
	exit 1
fi
