#!/usr/bin/env bash
# Installs, from Debian's repositories, what the test suite runs besides Go:
# iproute2 (ip, ss) for network namespaces and veth pairs, dnsmasq-base for
# the interoperability test, util-linux (setpriv) and procps (sysctl); for
# the packaging tests systemd (systemd-analyze verify/security), man-db, rpm
# (rpm -qlp) and init-system-helpers (deb-systemd-helper); for the end-to-end
# tests systemd-container (systemd-nspawn boots the host's /usr); nftables
# for the fault test of a blackholed port; man-db's man and lexgrog check
# the man page; curl prints README's sample of /ready; lintian and rpmlint,
# which check the packages as a distribution would, and cpio (rpm2cpio comes
# with rpm) to list and unpack the .rpm's payload; diffoscope-minimal, which
# shows what differs when two builds are not byte-identical; tmux, the
# terminal the terminal tests drive (a server on a socket of their own,
# nothing of the user's).
# Only what is missing is installed; dnsmasq-base ships the binary without a
# system service, so nothing starts listening on the host.
# The network stacks the end-to-end tests boot (systemd-resolved,
# network-manager, ifupdown, isc-dhcp-client) are never installed here: their
# maintainer scripts would take over the host's network and resolv.conf. The
# tests unpack them for the container only with scripts/container-root.sh.
set -euo pipefail

declare -A pkg=(
	[ip]=iproute2
	[ss]=iproute2
	[dnsmasq]=dnsmasq-base
	[setpriv]=util-linux
	[sysctl]=procps
	[systemd-analyze]=systemd
	[man]=man-db
	[lexgrog]=man-db
	[curl]=curl
	[rpm]=rpm
	[deb-systemd-helper]=init-system-helpers
	[systemd-nspawn]=systemd-container
	[nsenter]=util-linux
	[nft]=nftables
	[lintian]=lintian
	[rpmlint]=rpmlint
	[cpio]=cpio
	[diffoscope]=diffoscope-minimal
	[tmux]=tmux
)
missing=()
for cmd in "${!pkg[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
