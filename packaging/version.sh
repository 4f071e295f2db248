#!/bin/sh
# Prints the package version of the checkout, derived from
# "git describe --tags --always --dirty" and made valid for both dpkg and
# rpm (no "-", which both reserve for the release; "~" sorts before
# everything, "+" after):
#   v1.2.3                 -> 1.2.3
#   v1.2.3-rc1             -> 1.2.3~rc1
#   v1.2.3-4-gabc1234      -> 1.2.3+git4.abc1234
#   abc1234 (no tag)       -> 0.0.0~git<commits>.abc1234
# and ".dirty" appended (after "+dirty" for an exact tag) when the tree has
# uncommitted changes. Only tags that name a version (v1.2.3, 1.2.3) count:
# another tag (a "deployed" marker, say) is not a release.
# A build N commits after release X.Y.Z is X.Y.Z+gitN.SHA: after X.Y.Z and
# before X.Y.(Z+1) and X.Y.(Z+1)~rc1, for dpkg and rpm alike. A checkout
# with no version tag at all (a clone without tags, or before the first
# release was tagged) is 0.0.0~gitN.SHA, N counted from the first commit:
# before every release.
set -eu

match="--match v[0-9]* --match [0-9]*"
# shellcheck disable=SC2086 # $match is split on purpose, never globbed:
set -f
d=$(git describe --tags $match --always --dirty 2>/dev/null) || {
	echo "version.sh: not a git checkout" >&2
	exit 1
}
dirty=
case $d in
*-dirty)
	dirty=1
	d=${d%-dirty}
	;;
esac

# shellcheck disable=SC2086
if git describe --tags $match >/dev/null 2>&1; then
	suffix=
	# A commit after the tag: TAG-N-gSHA.
	if expr "$d" : '.*-[0-9][0-9]*-g[0-9a-f][0-9a-f]*$' >/dev/null; then
		sha=${d##*-g}
		d=${d%-g*}
		n=${d##*-}
		d=${d%-*}
		suffix=+git$n.$sha
	fi
	v=$(printf '%s\n' "${d#v}" | tr -- - '~')
	v=$v$suffix
	if [ -n "$dirty" ]; then
		case $v in
		*+*) v=$v.dirty ;;
		*) v=$v+dirty ;;
		esac
	fi
else
	v=0.0.0~git$(git rev-list --count HEAD).$d
	if [ -n "$dirty" ]; then
		v=$v.dirty
	fi
fi

case $v in
[0-9]*) ;;
*)
	echo "version.sh: tag \"$d\" does not start with a digit (or v and a digit)" >&2
	exit 1
	;;
esac
printf '%s\n' "$v"
