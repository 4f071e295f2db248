#!/usr/bin/env bash
# container-root.sh PKG... — Debian packages for a test container only.
#
# Prints the path of a directory holding PKG and every dependency of it that
# the host lacks, unpacked with "dpkg -x" and merged into usr/ (the
# container's /lib, /bin and /sbin are symlinks into /usr), plus their etc/
# and var/ trees. The end-to-end tests lay its usr/ over the host's /usr and
# start the container's /etc from its etc/, inside systemd-nspawn only.
#
# Nothing is installed on the host: no maintainer script runs, so nothing
# rewrites /etc/resolv.conf or takes over the host's network (which is what
# installing systemd-resolved, network-manager, ifupdown or isc-dhcp-client
# would do). The set of packages is what "apt-get install --simulate" would
# install here; the directory is keyed on their names and versions, so it
# is built once and rebuilt when the host or the archive changes. Cache:
# $NETREADY_E2E_CACHE, default /var/cache/netready-e2e.
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 PKG..." >&2
	exit 2
fi
self=$(readlink -f "$0")
cache=${NETREADY_E2E_CACHE:-/var/cache/netready-e2e}
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock 9

# What would be installed, as "name=version" lines. No lock on dpkg's
# database: this only reads it.
simulate() {
	LC_ALL=C apt-get install --simulate --no-install-recommends -o Debug::NoLocking=1 "$@" 2>&1
}
if ! out=$(simulate "$@") || grep -q '^E: ' <<<"$out"; then
	# A fresh machine has no package lists yet.
	echo "container-root: apt-get update" >&2
	apt-get update -qq >&2
	out=$(simulate "$@") || {
		echo "$out" >&2
		exit 1
	}
fi
mapfile -t pkgs < <(awk '/^Inst /{
	# "Inst NAME [OLD] (NEW ARCHIVE [ARCH])": the version is after "(".
	for (i = 3; i <= NF; i++) if (substr($i, 1, 1) == "(") { print $2 "=" substr($i, 2); break }
}' <<<"$out" | sort)
# A package asked for that the host has already is unpacked all the same, at
# the host's version: the container's /etc starts from the packages' etc/,
# not from the host's.
for p in "$@"; do
	if ! printf '%s\n' "${pkgs[@]}" | grep -q "^$p="; then
		v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || v=
		if [ -z "$v" ]; then
			echo "container-root: apt-get would not install $p, and the host does not have it:" >&2
			echo "$out" >&2
			exit 1
		fi
		pkgs+=("$p=$v")
	fi
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort)

key=$(printf '%s\n' "${pkgs[@]}" | sha256sum | cut -c1-16)
root="$cache/root-$key"
if [ -d "$root" ]; then
	echo "$root"
	exit 0
fi

cd "$cache/debs"
# "'URI' FILE SIZE HASH" for each package; FILE is NAME_VERSION_ARCH.deb.
# Asked from an empty directory: apt-get leaves out of the list a file the
# current directory already holds (one another set of packages shares).
empty=$(mktemp -d)
mapfile -t files < <(cd "$empty" && apt-get download --print-uris "${pkgs[@]}" | awk '{print $2}')
rmdir "$empty"
if [ ${#files[@]} -ne ${#pkgs[@]} ]; then
	echo "container-root: apt-get download --print-uris ${pkgs[*]} named ${#files[@]} files for ${#pkgs[@]} packages" >&2
	exit 1
fi
missing=()
for f in "${files[@]}"; do
	if [ ! -s "$f" ]; then
		for p in "${pkgs[@]}"; do
			[ "${p%%=*}" = "${f%%_*}" ] && missing+=("$p")
		done
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "container-root: downloading ${missing[*]}" >&2
	if ! apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}" >&2; then
		if [ -n "${CONTAINER_ROOT_UPDATED:-}" ]; then
			exit 1
		fi
		# Package lists older than the archive name versions it no
		# longer has: update them and start again.
		echo "container-root: apt-get update" >&2
		apt-get update -qq >&2
		CONTAINER_ROOT_UPDATED=1 exec "$self" "$@"
	fi
fi
debs=()
for f in "${files[@]}"; do
	if [ ! -s "$f" ]; then
		echo "container-root: $f was not downloaded" >&2
		exit 1
	fi
	debs+=("$cache/debs/$f")
done

tmp="$root.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/usr"
trap 'rm -rf "$tmp"' EXIT
for d in "${debs[@]}"; do
	dpkg -x "$d" "$tmp"
done
# Merged /usr, as on the host and in the container.
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -d "$tmp/$d" ] && [ ! -L "$tmp/$d" ]; then
		mkdir -p "$tmp/usr/$d"
		cp -a "$tmp/$d/." "$tmp/usr/$d/"
		rm -rf "${tmp:?}/$d"
	fi
done
mkdir -p "$tmp/etc" "$tmp/var"
printf '%s\n' "${pkgs[@]}" >"$tmp/PACKAGES"
mv "$tmp" "$root"
trap - EXIT
echo "$root"
