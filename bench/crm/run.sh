#!/usr/bin/env bash
# Issue 12 (your CRM), in one run on one throwaway cluster:
#  1. stage moves through a label vs through the canonical stage (pgbench,
#     ROUNDS alternating rounds of SECS seconds, synchronous_commit off):
#       (a) canonical move, funnel without labels  -- what 0.2 did
#       (b) canonical move, funnel with labels      -- the label follows (label history written)
#       (c) label move, same funnel                 -- the stage follows the label
#     target: (c) costs at most 1.1x (b), i.e. tps(b)/tps(c) <= 1.1;
#  2. (see below) a loader's batch upsert into a tracked table vs untracked.
# Usage: bench/crm/run.sh [seconds-per-run] [rounds] [batch-rows]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
SECS=${1:-10}; ROUNDS=${2:-3}; ROWS=${3:-100000}; LEADS=20000; CLIENTS=2

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
