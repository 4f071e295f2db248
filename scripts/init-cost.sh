#!/bin/sh
# init-cost.sh BINARY [RUNS]: what every netready command pays before main
# runs, the package initialisers. Runs "BINARY version" RUNS times (default
# 31) with GODEBUG=inittrace=1, sums each run's per-package lines (clock,
# bytes, allocations) and prints the median of each sum. Bytes and
# allocations are the same from run to run; the clock is wall time, and
# varies with the machine's load.
set -eu
bin=${1:?usage: init-cost.sh BINARY [RUNS]}
runs=${2:-31}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
i=0
while [ "$i" -lt "$runs" ]; do
	GODEBUG=inittrace=1 "$bin" version 2>&1 >/dev/null |
		awk '/^init /{c+=$5; b+=$8; a+=$10} END{printf "%.3f %d %d\n", c, b, a}' >>"$tmp"
	i=$((i + 1))
done
median() { cut -d' ' -f"$1" "$tmp" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo "$bin: init, median of $runs runs: $(median 1) ms clock, $(median 2) bytes, $(median 3) allocs"
