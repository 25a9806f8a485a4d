#!/usr/bin/env bash
# Attribution over 1M leads, two ways on the same data in one run:
#   (a) ours  — SELECT * FROM bench.campaign_attribution: per-lead touch paths
#               into the C aggregate leadfunnel.attribution_totals (all seven
#               models in one pass per lead)
#   (b) plain — the same seven models with window functions in plain SQL
#               (bench/attribution/plain.sql)
# ROUNDS rounds in alternating order, serial plans (max_parallel_workers_per_gather
# = 0) and work_mem = 256MB for both; checks that both agree, prints medians
# and the ratio.  Usage: bench/attribution/run.sh [leads] [rounds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
LEADS=${1:-1000000}; ROUNDS=${2:-3}

lf_install_deps
lf_build_install
lf_cluster_start "shared_buffers=1GB" "max_wal_size=8GB" "checkpoint_timeout=30min"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" -c "CREATE EXTENSION leadfunnel" >/dev/null
lf_log "generating $LEADS leads with their touches"
lf_psql -d "$db" -v leads="$LEADS" -f "$here/data.sql" >/dev/null
lf_psql -d "$db" -At -c "SELECT format('%s leads, %s touches (%s account-level), %s lead-touch pairs in the windows',
                                       (SELECT count(*) FROM bench.lead), (SELECT count(*) FROM bench.touch),
                                       (SELECT count(*) FROM bench.touch WHERE lead_id IS NULL),
                                       (SELECT count(*) FROM bench.lead_touch))"

settings="SET max_parallel_workers_per_gather = 0; SET work_mem = '256MB';"
lf_log "checking that both ways agree"
lf_psql -d "$db" -At <<SQL
$settings
SELECT 'max difference (leads, pipeline, won): ' || max(abs(a.attributed_leads - b.attributed_leads)) || ', '
       || max(abs(a.attributed_pipeline - b.attributed_pipeline)) || ', ' || max(abs(a.attributed_won - b.attributed_won))
  FROM bench.campaign_attribution a JOIN ($(cat "$here/plain.sql")) b USING (campaign_id, model);
SQL

run() {   # prints the run time in ms of one way
    local q
    if [ "$1" = ours ]; then q="SELECT * FROM bench.campaign_attribution;"; else q="$(cat "$here/plain.sql");"; fi
    printf '%s\n\\timing on\n\\o /dev/null\n%s\n' "$settings" "$q" \
        | lf_psql -d "$db" 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
results="$LF_TMP/results.txt"; : > "$results"
for round in $(seq 1 "$ROUNDS"); do
    order="ours plain"; [ $((round % 2)) = 0 ] && order="plain ours"
    for way in $order; do
        ms=$(run "$way"); echo "$way $ms" >> "$results"
        echo "round $round $way: $ms ms" >&2
    done
done

med() { grep "^$1 " "$results" | awk '{print $2}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
a=$(med ours); b=$(med plain)
echo
echo "| leads | (a) campaign_attribution (C) | (b) plain SQL window functions | (b)/(a) |"
echo "|---|---|---|---|"
awk -v n="$LEADS" -v a="$a" -v b="$b" 'BEGIN { printf "| %d | %.1f s | %.1f s | %.2fx |\n", n, a/1000, b/1000, b/a }'
