#!/usr/bin/env bash
# Issue 12 (your CRM), in one run on one throwaway cluster:
#  1. stage moves through a label vs through the canonical stage (pgbench,
#     ROUNDS alternating rounds of SECS seconds, synchronous_commit off):
#       (a) canonical move, funnel without labels  -- what 0.2 did
#       (b) canonical move, funnel with labels      -- the label follows (label history written)
#       (c) label move, same funnel                 -- the stage follows the label
#     target: (c) costs at most 1.1x (b), i.e. tps(b)/tps(c) <= 1.1;
#  2. a loader's batch upsert of ROWS rows into a tracked table (record mode)
#     vs the same table untracked; target: at most 3x.  A third side runs the
#     tracked upserts with leadfunnel.tracking_batch_insert = off and
#     leadfunnel.tracking_batch_update = off (new and updated leads' history,
#     value history and lifecycle through the row triggers), to show what the
#     batch paths save.
#  Environment: LEAD_FF="100 70" adds one tracked side per fillfactor, whose
#  model's lead table gets ALTER TABLE ... SET (fillfactor = N) before track()
#  (which keeps a fillfactor the owner set; without one, record mode sets 50),
#  to measure HOT updates of the leads in the re-sync; LEAD_FF=100 is the
#  model's lead as before track() set 50.  ROWPATH=0 leaves out the
#  row-trigger side.
# Usage: bench/crm/run.sh [seconds-per-run] [rounds] [batch-rows]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
SECS=${1:-10}; ROUNDS=${2:-3}; ROWS=${3:-100000}; LEADS=20000; CLIENTS=2
LEAD_FF=${LEAD_FF:-}; ROWPATH=${ROWPATH:-1}

echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uptime | sed 's/.*load average/load average/'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null)"
lf_install_deps
lf_build_install
lf_cluster_start "fsync=on" "shared_buffers=256MB" "max_wal_size=4GB" "checkpoint_timeout=30min"
db=leadfunnel_bench_crm
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null

# ---- 1. label moves -------------------------------------------------------
lf_psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION leadfunnel;
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('plain', '{visitor,lead,mql,tal,tql,sal,sql,opportunity,won}'),
                                                    ('labelled', '{visitor,lead,mql,tal,tql,sal,sql,opportunity,won}');
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES
    ('labelled', 'New', 'lead', 1), ('labelled', 'Engaged', 'mql', 2), ('labelled', 'Working', 'tal', 3),
    ('labelled', 'Demo', 'opportunity', 4), ('labelled', 'Proposal', 'opportunity', 5),
    ('labelled', 'Closed Won', 'won', 6), ('labelled', 'Nurture', 'recycled', 7), ('labelled', 'Closed Lost', 'lost', 8);
SELECT leadfunnel.create_model(s) FROM unnest(ARRAY['m_plain', 'm_canon', 'm_label']) s;
SELECT format('INSERT INTO %I.account (account_id) SELECT g FROM generate_series(1, 2000) g', s)
  FROM unnest(ARRAY['m_plain', 'm_canon', 'm_label']) s \gexec
SELECT format('INSERT INTO %I.lead (lead_id, account_id, funnel, created_at) SELECT g, 1 + g %% 2000, %L, %L FROM generate_series(1, $LEADS) g',
              s, f, '2024-01-01') FROM (VALUES ('m_plain', 'plain'), ('m_canon', 'labelled'), ('m_label', 'labelled')) v(s, f) \gexec
VACUUM ANALYZE;
SQL
# lead -> mql -> recycled -> lead: a forward move, a close and a reopen, all valid
for s in m_plain m_canon; do
    cat > "$LF_TMP/$s.sql" <<EOF2
\set id random(1, $LEADS)
UPDATE $s.lead SET stage = CASE stage WHEN 'lead' THEN 'mql'::leadfunnel.lead_stage
                                     WHEN 'mql' THEN 'recycled'::leadfunnel.lead_stage
                                     ELSE 'lead'::leadfunnel.lead_stage END
 WHERE lead_id = :id;
EOF2
done
cat > "$LF_TMP/m_label.sql" <<EOF2
\set id random(1, $LEADS)
UPDATE m_label.lead SET stage_label = CASE stage_label WHEN 'New' THEN 'Engaged' WHEN 'Engaged' THEN 'Nurture' ELSE 'New' END
 WHERE lead_id = :id;
EOF2
results="$LF_TMP/results.txt"; : > "$results"
for round in $(seq 1 "$ROUNDS"); do
    order="m_plain m_canon m_label"
    [ $((round % 2)) = 0 ] && order="m_label m_canon m_plain"
    for s in $order; do
        tps=$(PGOPTIONS="-c synchronous_commit=off" "$LF_BINDIR/pgbench" -n -c $CLIENTS -j $CLIENTS -T "$SECS" \
                -f "$LF_TMP/$s.sql" "$db" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        echo "$s $tps" >> "$results"
        echo "round $round ${s#m_}: $tps tps" >&2
    done
done
lf_psql -d "$db" -At -c "SELECT 'models consistent: ' || (sum(n) = 0) FROM (SELECT count(*) n FROM unnest(ARRAY['m_plain','m_canon','m_label']) s, leadfunnel.verify_model(s)) v"
lf_psql -d "$db" -At -c "SELECT 'label rows per move (label side): ' || round((SELECT count(*) FROM m_label.lead_label_history)::numeric / (SELECT count(*) FROM m_label.lead_stage_history), 2)"
med() { grep "^$1 " "$results" | awk '{print $2}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
a=$(med m_plain); b=$(med m_canon); c=$(med m_label)
echo
echo "Stage moves, synchronous_commit off, median of $ROUNDS rounds of ${SECS}s, $CLIENTS clients:"
echo "| (a) canonical, no labels | (b) canonical, labelled funnel | (c) through the label | cost (c)/(b) | cost (b)/(a) |"
echo "|---|---|---|---|---|"
awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "| %.0f tps | %.0f tps | %.0f tps | %.3fx | %.3fx |\n", a, b, c, b/c, a/b }'

# ---- 2. a loader's batch upsert into a tracked table ----------------------
# A Salesforce-like opportunity table (18-character text ids, 16 columns,
# indexes on key, account, owner and modification time), the
# same table twice: opp_plain untracked, opp_tracked tracked in record mode
# into model m_track.  Each round: (i) initial load, ROWS new rows upserted
# from a staging table; (ii) re-sync, the same ROWS keys upserted again with
# 30% of the stages moved (some moves refused by the funnel, 1% unknown
# labels) and every row's LastModifiedDate changed.  Timed with psql's
# \timing; rounds alternate the order.
lf_psql -d "$db" >/dev/null <<SQL
SELECT leadfunnel.apply_preset('sf', 'salesforce_opportunity');
-- without the preset's backward moves, so that the re-sync has refused moves
DELETE FROM leadfunnel.funnel_transition WHERE funnel = 'sf';
-- indexed as synced CRM tables are: the key, the account, the owner, the modification time
CREATE TABLE opp_template (
    id text PRIMARY KEY, account_id bigint, name text, stage_name text, amount numeric(14,2), probability numeric,
    close_date date, owner_id text, type text, lead_source text, next_step text, description text,
    created_date timestamptz, last_modified timestamptz, is_closed boolean, forecast_category text);
CREATE INDEX ON opp_template (account_id);
CREATE INDEX ON opp_template (owner_id);
CREATE INDEX ON opp_template (last_modified);
CREATE UNLOGGED TABLE staging_load AS
SELECT '006' || lpad(to_hex(g), 12, '0') || 'AAB' AS id, 1 + g % 10000 AS account_id, 'Opportunity ' || g AS name,
       (ARRAY['Prospecting','Qualification','Needs Analysis','Value Proposition'])[1 + g % 4] AS stage_name,
       (g % 997) * 100.0 AS amount, 0.1 AS probability, date '2025-06-30' AS close_date, '005' || (g % 50) AS owner_id,
       'New Business' AS type, 'Web' AS lead_source, 'call back' AS next_step, repeat('x', 80) AS description,
       timestamptz '2024-01-01' + (g % 1000) * interval '1 hour' AS created_date,
       timestamptz '2024-03-01' AS last_modified, false AS is_closed, 'Pipeline' AS forecast_category
  FROM generate_series(1, $ROWS) g;
CREATE UNLOGGED TABLE staging_resync AS
SELECT id, account_id, name,
       CASE WHEN h < 20 THEN (ARRAY['Id. Decision Makers','Proposal/Price Quote','Negotiation/Review','Closed Won','Closed Lost'])[1 + h % 5]
            WHEN h < 29 THEN 'Prospecting'           -- back from a later stage: some refused
            WHEN h < 30 THEN 'Contract Sent'         -- unknown label
            ELSE stage_name END AS stage_name,
       amount + 1 AS amount, probability, close_date, owner_id, type, lead_source, next_step, description, created_date,
       timestamptz '2024-04-01' AS last_modified, is_closed, forecast_category
  FROM (SELECT s.*, abs(hashtext(s.id)) % 100 AS h FROM staging_load s) x;
ANALYZE staging_load, staging_resync;
SQL
upsert() { # table staging
    cat <<EOF
INSERT INTO $1 SELECT * FROM $2
ON CONFLICT (id) DO UPDATE SET stage_name = excluded.stage_name, amount = excluded.amount, probability = excluded.probability,
    close_date = excluded.close_date, next_step = excluded.next_step, last_modified = excluded.last_modified,
    is_closed = excluded.is_closed, forecast_category = excluded.forecast_category;
EOF
}
timed() { # sql [setting] -> milliseconds
    PGOPTIONS="${2:-}" lf_psql -d "$db" -c '\timing on' -c "$1" 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
reset_side() { # plain|tracked
    lf_psql -d "$db" >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS opp_$1;
CREATE TABLE opp_$1 (LIKE opp_template INCLUDING ALL);
DROP SCHEMA IF EXISTS m_track CASCADE;
DELETE FROM leadfunnel.tracked_table;
SQL
    if [ "$1" != plain ]; then
        lf_psql -d "$db" -At -c "SELECT leadfunnel.create_model('m_track')" \
            -c "$(case $1 in ff*) echo "ALTER TABLE m_track.lead SET (fillfactor = ${1#ff})";; *) echo "SELECT 1";; esac)" \
            -c "SELECT leadfunnel.track('opp_$1', 'm_track', 'sf', 'id', 'stage_name', account_column => 'account_id', amount_column => 'amount', changed_at_column => 'last_modified')" >/dev/null
    fi
    lf_psql -d "$db" -c "CHECKPOINT" >/dev/null
}
up="$LF_TMP/upserts.txt"; : > "$up"
for round in $(seq 1 "$ROUNDS"); do
    order="plain tracked"; for f in $LEAD_FF; do order="$order ff$f"; done
    [ "$ROWPATH" = 1 ] && order="$order rowpath"
    [ $((round % 2)) = 0 ] && order=$(echo $order | tr ' ' '\n' | tac | tr '\n' ' ')
    for side in $order; do
        reset_side "$side"
        opt=; [ "$side" = rowpath ] && opt="-c leadfunnel.tracking_batch_insert=off -c leadfunnel.tracking_batch_update=off"
        t1=$(timed "$(upsert opp_$side staging_load)" "$opt")
        t2=$(timed "$(upsert opp_$side staging_resync)" "$opt")
        echo "$side $t1 $t2" >> "$up"
        echo "round $round $side: load ${t1} ms, resync ${t2} ms" >&2
    done
done
others="tracked"; for f in $LEAD_FF; do others="$others ff$f"; done
[ "$ROWPATH" = 1 ] && others="$others rowpath"
for o in $others; do
    lf_psql -d "$db" -At -c "SELECT 'tables equal (untracked = $o): '
        || (NOT EXISTS (SELECT * FROM opp_plain EXCEPT ALL SELECT * FROM opp_$o)
            AND NOT EXISTS (SELECT * FROM opp_$o EXCEPT ALL SELECT * FROM opp_plain))"
done
lf_psql -d "$db" -At <<'SQL'
-- the same answer: the sides' tables hold the same rows (above), and the
-- model (of the side that ran last) mirrors the table's stages
SELECT 'last model''s lead: fillfactor ' || coalesce((SELECT option_value FROM pg_options_to_table((SELECT reloptions FROM pg_class WHERE oid = 'm_track.lead'::regclass)) WHERE option_name = 'fillfactor'), 'default (100)')
    || ', HOT updates ' || n_tup_hot_upd || ' of ' || n_tup_upd FROM pg_stat_user_tables WHERE relid = 'm_track.lead'::regclass;
SELECT 'model mirrors the table (leads whose label differs from the row''s known label): '
    || count(*) FILTER (WHERE l.stage_label IS DISTINCT FROM r.label)
  FROM opp_plain o CROSS JOIN LATERAL leadfunnel.resolve_stage('sf', o.stage_name) r
  JOIN m_track.lead l ON l.external_id = o.id
 WHERE r.stage IS NOT NULL;
SELECT 'tracked model: ' || (SELECT count(*) FROM m_track.lead) || ' leads, '
    || (SELECT count(*) FROM m_track.lead_stage_history) || ' stage rows, '
    || (SELECT count(*) FROM m_track.tracking_issue) || ' issues ('
    || (SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) n FROM m_track.tracking_issue GROUP BY kind) k)
    || '), invariants hold: ' || ((SELECT count(*) FROM leadfunnel.verify_model('m_track') WHERE problem NOT LIKE 'tracked %') = 0);
SQL
med2() { { grep "^$1 " "$up" || true; } | awk -v c="$2" '{print $c}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
pl=$(med2 plain 2); tl=$(med2 tracked 2); pr=$(med2 plain 3); tr=$(med2 tracked 3); rl=$(med2 rowpath 2); rr=$(med2 rowpath 3)
echo
echo "Batch upsert of $ROWS rows (INSERT ... SELECT ... ON CONFLICT DO UPDATE), median of $ROUNDS rounds:"
echo "| batch | untracked | tracked (record) | cost tracked/untracked | tracked, row triggers (tracking_batch_insert, _update off) | cost |"
echo "|---|---|---|---|---|---|"
[ "$ROWPATH" = 1 ] || { rl=NaN; rr=NaN; }
awk -v a="$pl" -v b="$tl" -v c="$rl" 'BEGIN { printf "| initial load (all new) | %.0f ms | %.0f ms | %.2fx | %.0f ms | %.2fx |\n", a, b, b/a, c, c/a }'
awk -v a="$pr" -v b="$tr" -v c="$rr" 'BEGIN { printf "| re-sync (30%% moved, 1%% unknown label) | %.0f ms | %.0f ms | %.2fx | %.0f ms | %.2fx |\n", a, b, b/a, c, c/a }'
for f in $LEAD_FF; do
    fl=$(med2 ff$f 2); fr=$(med2 ff$f 3)
    awk -v f="$f" -v a="$pl" -v b="$fl" -v c="$pr" -v d="$fr" 'BEGIN { printf "tracked, model lead fillfactor %s: initial load %.0f ms (%.2fx), re-sync %.0f ms (%.2fx)\n", f, b, b/a, d, d/c }'
done
echo "end: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uptime | sed 's/.*load average/load average/')"
