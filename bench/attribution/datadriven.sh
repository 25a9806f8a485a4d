#!/usr/bin/env bash
# Data-driven attribution over 1M lead paths, beside the rule-based aggregate,
# in one run on the same rows:
#   (r) rule     — leadfunnel.attribution_totals over each lead's touch path
#                  (all nine built-in models; the engine of campaign_attribution)
#   (m) markov   — leadfunnel.markov_attribution(channels, won, amount)
#   (s) shapley  — leadfunnel.shapley_attribution(channels, won, amount)
#   (c) count    — count(*) over the same rows (what a parallel scan gains by itself)
# The paths table is generated directly with SQL (bench/attribution/paths.sql:
# one row per lead with its arrays), not through a model and generate_demo, so
# the aggregates' own cost is what is measured.  Each query runs ROUNDS times in
# rotating order, serial (max_parallel_workers_per_gather = 0) and with 2
# parallel workers; prints medians, the cost of (m) and (s) relative to (r),
# and each one's parallel speed-up relative to count(*)'s.
# Usage: bench/attribution/datadriven.sh [leads] [rounds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
LEADS=${1:-1000000}; ROUNDS=${2:-3}

lf_install_deps
lf_build_install
lf_cluster_start "shared_buffers=1GB" "max_wal_size=8GB" "checkpoint_timeout=30min" "max_parallel_workers=2" \
                 "max_worker_processes=8" "jit=off"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" -c "CREATE EXTENSION leadfunnel" >/dev/null
lf_log "generating $LEADS lead paths"
lf_psql -d "$db" -v leads="$LEADS" -f "$here/paths.sql" >/dev/null
lf_psql -d "$db" -At -c "SELECT format('%s paths, %s touches, %s won, %s distinct channel sets, table %s',
                                       count(*), sum(cardinality(touched_at)), count(*) FILTER (WHERE won),
                                       count(DISTINCT (SELECT array_agg(DISTINCT c ORDER BY c) FROM unnest(channels) c)),
                                       pg_size_pretty(pg_table_size('paths'))) FROM paths"

declare -A query
query[rule]="SELECT leadfunnel.attribution_totals(touched_at, touch_id, campaign_id, created_at, opportunity_at, closed_at, '7 days', pipeline_amount, won_amount) FROM paths"
query[markov]="SELECT leadfunnel.markov_attribution(channels, won, amount) FROM paths"
query[shapley]="SELECT leadfunnel.shapley_attribution(channels, won, amount) FROM paths"
query[count]="SELECT count(*) FROM paths"
serial="SET max_parallel_workers_per_gather = 0; SET work_mem = '256MB';"
parallel="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET work_mem = '256MB';"

lf_log "checking: serial and parallel answers identical, parallel plans use 2 workers"
for q in rule markov shapley count; do
    a=$(printf '%s\n%s;\n' "$serial" "${query[$q]}" | lf_psql -d "$db" -At | md5sum)
    b=$(printf '%s\n%s;\n' "$parallel" "${query[$q]}" | lf_psql -d "$db" -At | md5sum)
    w=$(printf '%s\nEXPLAIN %s;\n' "$parallel" "${query[$q]}" | lf_psql -d "$db" -At | sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p')
    echo "$q: serial = parallel: $([ "$a" = "$b" ] && echo yes || echo NO); workers planned: ${w:-0}"
done

run() {   # prints the run time in ms of one query in one mode
    local settings; if [ "$2" = serial ]; then settings=$serial; else settings=$parallel; fi
    printf '%s\n\\timing on\n\\o /dev/null\n%s;\n' "$settings" "${query[$1]}" \
        | lf_psql -d "$db" 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
results="$LF_TMP/results.txt"; : > "$results"
ways=(rule markov shapley count)
for round in $(seq 1 "$ROUNDS"); do
    for mode in serial parallel; do
        for i in 0 1 2 3; do
            q=${ways[$(( (i + round) % 4 ))]}
            ms=$(run "$q" "$mode"); echo "$q $mode $ms" >> "$results"
            echo "round $round $mode $q: $ms ms" >&2
        done
    done
done

med() { grep "^$1 $2 " "$results" | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo
echo "| aggregate | serial | 2 workers | speed-up | speed-up / count(*)'s | serial cost / attribution_totals |"
echo "|---|---|---|---|---|---|"
cs=$(med count serial); cp=$(med count parallel); rs=$(med rule serial)
for q in rule markov shapley count; do
    s=$(med "$q" serial); p=$(med "$q" parallel)
    awk -v q="$q" -v s="$s" -v p="$p" -v cs="$cs" -v cp="$cp" -v rs="$rs" 'BEGIN {
        printf "| %s | %.2f s | %.2f s | %.2fx | %.2f | %.2fx |\n", q, s/1000, p/1000, s/p, (s/p)/(cs/cp), s/rs }'
done
