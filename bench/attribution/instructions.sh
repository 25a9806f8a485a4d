#!/usr/bin/env bash
# CPU instructions per lead of campaign_attribution (and of its aggregate
# attribution_totals alone), counted by valgrind's callgrind in a single-user
# backend: leadfunnel 0.2.0 (commit 8dc9b90) and this checkout built side by
# side in private copies of PostgreSQL, as bench/stage_moves/instructions.sh.
# The data are bench/attribution/data.sql with LEADS leads (for 0.2.0 without
# the history's recorded_at, which it does not have); one and three executions
# of each query, (count(3) - count(1)) / 2 / LEADS per lead.  A count, not a
# time: the same whatever else the machine is doing.  Note that 0.2.0 computes
# seven models and this checkout nine (j_shaped, inverse_j).
#   Usage: bench/attribution/instructions.sh [leads]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
LEADS=${1:-30000}
. "$here/../instructions_lib.sh"
lfi_build

# The data: bench/attribution/data.sql with LEADS leads; 0.2.0's history has no recorded_at.
setup() {
    { echo "CREATE EXTENSION leadfunnel;"
      if [ "$1" = 0.2.0 ]; then
          sed 's/, recorded_at)$/)/; s/, created_at, created_at FROM bench.lead;/, created_at FROM bench.lead;/; s/, e, e$/, e/' "$here/data.sql"
      else cat "$here/data.sql"; fi; } | lfi_psql -v leads="$LEADS"
}

queries=(
  "scan|SELECT count(*) FROM bench.touch"
  "campaign_attribution|SELECT count(*) FROM bench.campaign_attribution"
)

results=$work/results.txt; : > "$results"
for v in "${LFI_VERSIONS[@]}"; do
    lfi_cluster "$v" setup
    for q in "${queries[@]}"; do
        name=${q%%|*}; sql=${q#*|}
        lf_log "$v $name: 1 and 3 executions under callgrind"
        echo "$sql" > "$work/one.sql"
        printf '%s\n%s\n%s\n' "$sql" "$sql" "$sql" > "$work/three.sql"
        one=$(lfi_count "$v" "$work/one.sql" -c jit=off -c max_parallel_workers_per_gather=0 -c work_mem=64MB)
        three=$(lfi_count "$v" "$work/three.sql" -c jit=off -c max_parallel_workers_per_gather=0 -c work_mem=64MB)
        echo "$v $name $(( (three - one) / 2 / LEADS ))" | tee -a "$results" >&2
    done
done

get() { awk -v v="$1" -v s="$2" '$1 == v && $2 == s { print $3 }' "$results"; }
echo
echo "Instructions per lead (callgrind, single-user backend, $LEADS leads, serial, work_mem 64MB):"
echo
echo "| query | 0.2.0 | now | now / 0.2.0 |"
echo "|---|---|---|---|"
for q in "${queries[@]}"; do
    name=${q%%|*}
    awk -v n="$name" -v a="$(get 0.2.0 "$name")" -v b="$(get now "$name")" 'BEGIN { printf "| %s | %d | %d | %.3fx |\n", n, a, b, b / a }'
done
