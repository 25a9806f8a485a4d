#!/usr/bin/env bash
# generate_demo, two ways on the same call in one run:
#   (a) 0.2.0 — the generator as released in 0.2.0 (sql/releases/leadfunnel--0.2.0.sql,
#               loaded as public.generate_demo_0_2_0): one dynamic INSERT per lead,
#               statistics as autovacuum leaves them
#   (b) now   — leadfunnel.generate_demo: the same random draws; as the model's owner, each lead
#               inserted as its moves leave it and the whole stage history in one INSERT
#               (triggers of lead and the history guard disabled in the transaction, foreign
#               keys dropped and added again, the lifecycle refreshed once in one pass over all
#               accounts by lifecycle_refresh_batch; contacts without the per-row status trigger)
# Each into a new model, in alternating order, ROUNDS rounds; checks that both
# wrote the same rows (md5 of every table; without the recording time of
# account events and the advocate marks, which both generators date now())
# and that verify_model() is clean; prints the times, medians and the ratio.  Only (b) with SKIP_OLD=1 (for the large sizes).
# Usage: bench/generate_demo/run.sh [leads] [rounds] [seed]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
LEADS=${1:-20000}; ROUNDS=${2:-1}; SEED=${3:-0.42}; SKIP_OLD=${SKIP_OLD:-0}

lf_install_deps
lf_build_install
lf_cluster_start "shared_buffers=1GB" "max_wal_size=8GB" "checkpoint_timeout=30min"
db=leadfunnel_bench_demo
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" -c "CREATE EXTENSION leadfunnel" -c "SET TimeZone = 'UTC'" >/dev/null
# 0.2.0's generate_demo, renamed, from the frozen install script
awk '/^CREATE FUNCTION @extschema@\.generate_demo\(/,/^\$fn\$;/' "$here/../../sql/releases/leadfunnel--0.2.0.sql" \
    | sed 's/@extschema@\.generate_demo(/public.generate_demo_0_2_0(/; s/@extschema@/leadfunnel/g' \
    | lf_psql -d "$db" >/dev/null

fingerprint() {
    lf_psql -d "$db" -At <<SQL
SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY';
SELECT string_agg(t || ':' || f, ' ' ORDER BY t) FROM (
  SELECT t, md5(string_agg(r, E'\n' ORDER BY r)) AS f FROM (
    SELECT 'account' AS t, row(a.account_id, a.name, a.region, a.segment, a.is_advocate, a.churned_at, a.status,
                               CASE WHEN a.status_since < '2026-01-01' THEN a.status_since END)::text AS r FROM $1.account a
    UNION ALL SELECT 'contact', (c.*)::text FROM $1.contact c
    UNION ALL SELECT 'campaign', (c.*)::text FROM $1.campaign c
    UNION ALL SELECT 'lead', row(l.lead_id, l.account_id, l.contact_id, l.funnel, l.product_area, l.region, l.source_campaign_id, l.amount, l.stage,
                                     l.max_stage, l.motion, l.created_at, l.stage_entered_at, l.closed_at, l.close_reason)::text FROM $1.lead l
    UNION ALL SELECT 'lead_stage_history', row(h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at,
                                                   h.changed_by, h.reason)::text FROM $1.lead_stage_history h
    UNION ALL SELECT 'touch', (x.*)::text FROM $1.touch x
    UNION ALL SELECT 'account_event', row(e.account_id, CASE WHEN e.event_at < '2026-01-01' THEN e.event_at END, e.event,
                                          e.recorded_by)::text FROM $1.account_event e) d
  GROUP BY t) s;
SQL
}

run() {   # $1 = way, $2 = model schema; prints the run time in ms
    local fn=leadfunnel.generate_demo
    [ "$1" = old ] && fn=public.generate_demo_0_2_0
    lf_psql -d "$db" -At -c "SELECT leadfunnel.create_model('$2')" >/dev/null
    lf_psql -d "$db" -At <<SQL | tail -1
SET TimeZone = 'UTC';
\timing on
SELECT count(*) FROM $fn('$2', $LEADS, $SEED);
SQL
}

declare -a t_old t_new
for r in $(seq 1 "$ROUNDS"); do
    ways="new old"; [ $((r % 2)) = 0 ] && ways="old new"
    [ "$SKIP_OLD" = 1 ] && ways="new"
    for w in $ways; do
        ms=$(run "$w" "${w}_$r" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        lf_log "round $r: $w ${ms} ms"
        if [ "$w" = old ]; then t_old+=("$ms"); else t_new+=("$ms"); fi
    done
done

violations=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM leadfunnel.verify_model('new_1')")
lf_log "verify_model(new_1): $violations violations"
lf_log "load average: $(cut -d" " -f1-3 /proc/loadavg)"
lf_psql -d "$db" -At -c "SELECT format('new_1: %s leads, %s history rows, %s touches', (SELECT count(*) FROM new_1.lead),
                                       (SELECT count(*) FROM new_1.lead_stage_history), (SELECT count(*) FROM new_1.touch))"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m_new=$(median "${t_new[@]}")
if [ "$SKIP_OLD" != 1 ]; then
    f_old=$(fingerprint old_1); f_new=$(fingerprint new_1)
    if [ "$f_old" = "$f_new" ]; then lf_log "same rows: yes"; else lf_log "same rows: NO"; echo "old: $f_old"; echo "new: $f_new"; fi
    m_old=$(median "${t_old[@]}")
    printf 'generate_demo(%s leads, seed %s), %s round(s): 0.2.0 median %.1f s, now median %.1f s, %.1fx faster\n' \
        "$LEADS" "$SEED" "$ROUNDS" "$(echo "$m_old / 1000" | bc -l)" "$(echo "$m_new / 1000" | bc -l)" "$(echo "$m_old / $m_new" | bc -l)"
else
    printf 'generate_demo(%s leads, seed %s), %s round(s): now median %.1f s\n' "$LEADS" "$SEED" "$ROUNDS" "$(echo "$m_new / 1000" | bc -l)"
fi
lf_cluster_stop
