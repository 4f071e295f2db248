#!/usr/bin/env bash
# Runs the carrier matrix: each line "ENV... -- WAITER" of $1 is one
# s1-route-late.sh run; summary lines are appended to $2.
set -uo pipefail
cd "$(dirname "$0")"
while IFS= read -r line; do
	[ -n "$line" ] && [ "${line:0:1}" != "#" ] || continue
	envs=${line%% -- *}; waiter=${line#* -- }
	echo "# $(date +%T) $envs -- $waiter" >>"$2"
	env $envs WAITER="$waiter" ./s1-route-late.sh 2>/dev/null >>"$2" || echo "FAILED: $line" >>"$2"
done <"$1"
