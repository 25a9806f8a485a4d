#!/usr/bin/env bash
# Dashboard rollups (doc/rollups.md) over a model of LEADS leads: the dashboard queries of the four
# rollup-backed views (campaign_attribution, campaign_pipeline, dropoff, cycle_times; whole view
# and filtered) with the plain views (before enable_rollups) and with rollups (all buckets fresh,
# and after MOVES single-lead stage moves spread over the accounts, before the next refresh), side
# by side in one run on the same data; checks that every rollup-backed answer equals the plain
# view's row for row (at every stage: all fresh, mixed); times enable_rollups (the full refresh)
# and the refresh of the stale buckets.  Serial (no parallel workers), warm, ROUNDS rounds in
# rotating order; prints medians.
# Usage: bench/funnel_analytics/rollups.sh [rounds] [leads] [moves]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
ROUNDS=${1:-3}; LEADS=${2:-1000000}; MOVES=${3:-100}

lf_install_deps
lf_build_install
lf_cluster_start "shared_buffers=1GB" "work_mem=64MB" "max_wal_size=4GB" "checkpoint_timeout=30min" "jit=off"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null

lf_log "generating a model with $LEADS leads, 60 campaigns and their touches (set-based, triggers off)"
t0=$(date +%s)
lf_psql -d "$db" -v leads="$LEADS" -f "$here/rollups_data.sql" >/dev/null
lf_log "generated in $(( $(date +%s) - t0 )) s"
lf_psql -d "$db" -At -c "SELECT format('%s leads, %s accounts, %s history rows, %s touches; problems: %s',
    (SELECT count(*) FROM b.lead), (SELECT count(*) FROM b.account), (SELECT count(*) FROM b.lead_stage_history),
    (SELECT count(*) FROM b.touch), (SELECT count(*) FROM leadfunnel.verify_model('b')))" >&2

# copies of the plain views, to compare with after enable_rollups
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE SCHEMA plain;
DO $$
DECLARE v text;
BEGIN
    PERFORM set_config('search_path', 'pg_catalog', true);
    FOREACH v IN ARRAY ARRAY['campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times'] LOOP
        EXECUTE format('CREATE VIEW plain.%I AS %s', v, pg_get_viewdef(format('b.%I', v)::regclass));
    END LOOP;
END $$;
SQL

declare -A Q=(
  [attribution]="SELECT * FROM %s.campaign_attribution"
  [attribution_one]="SELECT * FROM %s.campaign_attribution WHERE campaign_id = 7"
  [campaign_pipeline]="SELECT * FROM %s.campaign_pipeline"
  [campaign_pipeline_one]="SELECT * FROM %s.campaign_pipeline WHERE campaign_id = 7"
  [dropoff]="SELECT * FROM %s.dropoff"
  [dropoff_funnel]="SELECT * FROM %s.dropoff WHERE funnel = 'enterprise'"
  [cycle_times]="SELECT * FROM %s.cycle_times"
  [cycle_times_funnel]="SELECT * FROM %s.cycle_times WHERE funnel = 'enterprise'"
)
names="attribution attribution_one campaign_pipeline campaign_pipeline_one dropoff dropoff_funnel cycle_times cycle_times_funnel"
results="$LF_TMP/results.txt"; : > "$results"
run() {   # $1 query name, $2 schema -> ms
    lf_psql -d "$db" -c "SET max_parallel_workers_per_gather = 0" -c '\timing on' -c '\o /dev/null' -c "$(printf "${Q[$1]}" "$2")" \
        | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1
}
timeall() {   # $1 label, $2 schema
    for n in $names; do run "$n" "$2" >/dev/null; done   # warm
    for round in $(seq 1 "$ROUNDS"); do
        order=$names; [ $((round % 2)) = 0 ] && order=$(echo $names | tr ' ' '\n' | tac | tr '\n' ' ')
        for n in $order; do
            ms=$(run "$n" "$2"); echo "$1 $n $ms" >> "$results"; echo "$1 round $round: $n $ms ms" >&2
        done
    done
}
check() {   # rows differing between the rollup-backed views and the plain copies
    lf_psql -d "$db" -At <<'SQL'
SET max_parallel_workers_per_gather = 0;
SELECT string_agg(v || ' ' || (
         (SELECT count(*) FROM (SELECT x::text FROM (SELECT * FROM plain_rows(v)) x EXCEPT ALL SELECT y::text FROM (SELECT * FROM cur_rows(v)) y) d)
       + (SELECT count(*) FROM (SELECT y::text FROM (SELECT * FROM cur_rows(v)) y EXCEPT ALL SELECT x::text FROM (SELECT * FROM plain_rows(v)) x) d)), ', ')
  FROM unnest(ARRAY['campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times']) v;
SQL
}
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE FUNCTION plain_rows(v text) RETURNS SETOF text LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE format('SELECT x::text FROM plain.%I x', v); END $$;
CREATE FUNCTION cur_rows(v text) RETURNS SETOF text LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE format('SELECT x::text FROM b.%I x', v); END $$;
SQL

timeall plain plain

lf_log "enable_rollups (full refresh)"
ms=$(lf_psql -d "$db" -c '\timing on' -c "SELECT leadfunnel.enable_rollups('b')" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
echo "enable_rollups: $ms ms" | tee -a "$LF_TMP/events.txt" >&2
lf_psql -d "$db" -At -c "SELECT format('buckets: %s (%s accounts each)', count(*), (SELECT accounts_per_bucket FROM b.rollup_config)) FROM b.rollup_bucket" | tee -a "$LF_TMP/events.txt" >&2
echo "rows differing, all fresh: $(check)" | tee -a "$LF_TMP/events.txt" >&2
timeall fresh b

lf_log "$MOVES stage moves on leads spread over the accounts (one statement each)"
lf_psql -d "$db" -At -c "SELECT lead_id FROM b.lead WHERE stage < 'opportunity' ORDER BY hashint8(lead_id) LIMIT $MOVES" \
    | while read -r id; do echo "UPDATE b.lead SET stage = 'lost' WHERE lead_id = $id;"; done > "$LF_TMP/moves.sql"
ms=$(lf_psql -d "$db" -c '\timing on' -f "$LF_TMP/moves.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{s += $1} END {printf "%.0f", s}')
echo "$MOVES moves: $ms ms in all" | tee -a "$LF_TMP/events.txt" >&2
lf_psql -d "$db" -At -c "SELECT format('stale buckets after the moves: %s of %s', count(*) FILTER (WHERE NOT fresh), count(*)) FROM b.rollup_bucket_state" | tee -a "$LF_TMP/events.txt" >&2
echo "rows differing, mixed: $(check)" | tee -a "$LF_TMP/events.txt" >&2
timeall stale b

ms=$(lf_psql -d "$db" -c '\timing on' -c "SELECT leadfunnel.refresh_rollups('b')" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
echo "refresh_rollups of the stale buckets: $ms ms" | tee -a "$LF_TMP/events.txt" >&2
echo "rows differing, refreshed: $(check)" | tee -a "$LF_TMP/events.txt" >&2

med() { grep "^$1 $2 " "$results" | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo
cat "$LF_TMP/events.txt"
echo
echo "| dashboard query | plain view | rollups, all fresh | rollups, $MOVES moves since the refresh | plain / fresh |"
echo "|---|---|---|---|---|"
for n in $names; do
    awk -v n="$(printf "${Q[$n]}" "…")" -v p="$(med plain "$n")" -v f="$(med fresh "$n")" -v s="$(med stale "$n")" \
        'BEGIN { printf "| `%s` | %.0f ms | %.0f ms | %.0f ms | %.0fx |\n", n, p, f, s, p/f }'
done
