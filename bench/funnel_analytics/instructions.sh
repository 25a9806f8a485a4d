#!/usr/bin/env bash
# CPU instructions per input row of the analytic aggregates, counted by
# valgrind's callgrind (a count, not a time: the same whatever else the machine
# is doing), leadfunnel 0.2.0 (commit 8dc9b90, the last whose control file says
# 0.2.0) and this checkout built side by side in private copies of PostgreSQL,
# as bench/stage_moves/instructions.sh does.  In each, a table of ROWS stays
# (stage, entered_at, left_at) shaped like bench/funnel_analytics/run.sh's, and
# in a single-user backend under callgrind one and three executions of each
# query; (count(3) - count(1)) / 2 / ROWS is the cost per row, the backend's
# start and the first plans left out.  Queries: count(*) (the scan), and
# cycle_time_by_stage, cycle_time(started, ended) and funnel_reach over it.
# Prints instructions per row per query and build, and now / 0.2.0.
#   Usage: bench/funnel_analytics/instructions.sh [rows]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
ROWS=${1:-200000}
. "$here/../instructions_lib.sh"
lfi_build

# The data: ROWS completed stays, stages and durations spread as in run.sh.
setup() { lfi_psql <<SQL
CREATE EXTENSION leadfunnel;
CREATE TABLE h AS
SELECT (ARRAY['visitor','lead','mql','tal','tql','sal','sql','opportunity']::leadfunnel.lead_stage[])[1 + g % 8] AS to_stage,
       timestamptz '2024-01-01' + make_interval(mins => g) AS entered_at,
       timestamptz '2024-01-01' + make_interval(mins => g) + make_interval(secs => 60 + (g * 7919) % 9000000) AS left_at
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE h;
SQL
}

queries=(
  "scan|SELECT count(*) FROM h"
  "cycle_time_by_stage|SELECT count(*) FROM unnest((SELECT leadfunnel.cycle_time_by_stage(to_stage, entered_at, left_at) FROM h))"
  "cycle_time|SELECT count(*) FROM (SELECT leadfunnel.cycle_time(entered_at, left_at) FROM h GROUP BY to_stage) s"
  "funnel_reach|SELECT leadfunnel.funnel_reach(to_stage) IS NOT NULL FROM h"
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
        echo "$v $name $(( (three - one) / 2 / ROWS ))" | tee -a "$results" >&2
    done
done

get() { awk -v v="$1" -v s="$2" '$1 == v && $2 == s { print $3 }' "$results"; }
echo
echo "Instructions per input row (callgrind, single-user backend, $ROWS rows, serial):"
echo
echo "| query | 0.2.0 | now | now / 0.2.0 |"
echo "|---|---|---|---|"
for q in "${queries[@]}"; do
    name=${q%%|*}
    awk -v n="$name" -v a="$(get 0.2.0 "$name")" -v b="$(get now "$name")" 'BEGIN { printf "| %s | %d | %d | %.3fx |\n", n, a, b, b / a }'
done
