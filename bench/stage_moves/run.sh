#!/usr/bin/env bash
# Stage-move throughput, three ways on the same data in one run:
#   (a) plain  — the UPDATE with no trigger and no history (the limit)
#   (b) c      — leadfunnel's C triggers (validation, dating, history, append-only guard)
#   (c) plpgsql — the same validation, history and append-only guard as PL/pgSQL triggers (bench/stage_moves/plpgsql_trigger.sql)
#   (b0) c without the amount/close-date recording trigger lead_value_record (0.3), i.e. a
#        stage move as in 0.2.0: (b)/(b0) is what that trigger costs a stage move
# each with synchronous_commit on and off, ROUNDS rounds in alternating order;
# prints median TPS and the ratios.  Usage: bench/stage_moves/run.sh [seconds-per-run] [rounds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
SECS=${1:-10}; ROUNDS=${2:-3}; LEADS=20000; CLIENTS=2

lf_install_deps
lf_build_install
lf_cluster_start "fsync=on" "shared_buffers=256MB" "max_wal_size=4GB" "checkpoint_timeout=30min"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model(s) FROM unnest(ARRAY['bench_plain', 'bench_c', 'bench_plpgsql', 'bench_c0']) s;
-- (b0): the C triggers of 0.2.0, without the value recording trigger
DROP TRIGGER lead_value_record ON bench_c0.lead;
-- (a): no trigger, no history
DROP TRIGGER lead_stage_transition ON bench_plain.lead;
DROP TRIGGER lead_stage_record ON bench_plain.lead;
-- the lifecycle triggers (lead_motion, lead_to_lifecycle_*) stay only on the C side
SELECT format('DROP TRIGGER %I ON %I.lead', t, m) FROM unnest(ARRAY['bench_plain', 'bench_plpgsql']) m,
       unnest(ARRAY['lead_motion', 'lead_to_lifecycle_insert', 'lead_to_lifecycle_update']) t \gexec
-- (c): PL/pgSQL instead of the C triggers, guard included
DROP TRIGGER lead_stage_transition ON bench_plpgsql.lead;
DROP TRIGGER lead_stage_record ON bench_plpgsql.lead;
DROP TRIGGER lead_stage_history_append_only ON bench_plpgsql.lead_stage_history;
\i $here/plpgsql_trigger.sql
SELECT format('INSERT INTO %I.account (account_id) SELECT g FROM generate_series(1, 2000) g', s)
  FROM unnest(ARRAY['bench_plain', 'bench_c', 'bench_plpgsql', 'bench_c0']) s \gexec
SELECT format('INSERT INTO %I.lead (lead_id, account_id, created_at, stage_entered_at, max_stage) SELECT g, 1 + g %% 2000, %L, %L, %L FROM generate_series(1, $LEADS) g',
              s, '2024-01-01', '2024-01-01', 'lead') FROM unnest(ARRAY['bench_plain', 'bench_plpgsql']) s \gexec
INSERT INTO bench_c.lead (lead_id, account_id, created_at) SELECT g, 1 + g % 2000, '2024-01-01' FROM generate_series(1, $LEADS) g;
INSERT INTO bench_c0.lead (lead_id, account_id, created_at) SELECT g, 1 + g % 2000, '2024-01-01' FROM generate_series(1, $LEADS) g;
-- the PL/pgSQL side needs the first history rows the C trigger writes on insert
ALTER TABLE bench_plpgsql.lead_stage_history DISABLE TRIGGER USER;
INSERT INTO bench_plpgsql.lead_stage_history (lead_id, account_id, seq, to_stage, entered_at)
SELECT lead_id, account_id, 1, 'lead', created_at FROM bench_plpgsql.lead;
ALTER TABLE bench_plpgsql.lead_stage_history ENABLE TRIGGER USER;
CREATE TRIGGER lead_stage_transition BEFORE UPDATE ON bench_plpgsql.lead
    FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.lead_stage_transition();
CREATE TRIGGER lead_stage_history_append_only BEFORE INSERT OR UPDATE OR DELETE ON bench_plpgsql.lead_stage_history
    FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.history_append_only();
VACUUM ANALYZE;
SQL

# lead -> mql -> recycled -> lead: a forward move, a close and a reopen, all valid
for s in bench_plain bench_c bench_plpgsql bench_c0; do
    cat > "$LF_TMP/$s.sql" <<EOF2
\set id random(1, $LEADS)
UPDATE $s.lead SET stage = CASE stage WHEN 'lead' THEN 'mql'::leadfunnel.lead_stage
                                     WHEN 'mql' THEN 'recycled'::leadfunnel.lead_stage
                                     ELSE 'lead'::leadfunnel.lead_stage END
 WHERE lead_id = :id;
EOF2
done

results="$LF_TMP/results.txt"; : > "$results"
for sync in off on; do
    for round in $(seq 1 "$ROUNDS"); do
        order="bench_plain bench_c bench_plpgsql bench_c0"
        [ $((round % 2)) = 0 ] && order="bench_c0 bench_plpgsql bench_c bench_plain"
        for s in $order; do
            tps=$(PGOPTIONS="-c synchronous_commit=$sync" "$LF_BINDIR/pgbench" -n -c $CLIENTS -j $CLIENTS -T "$SECS" \
                    -f "$LF_TMP/$s.sql" "$db" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
            echo "$sync $s $tps" >> "$results"
            echo "synchronous_commit=$sync round $round ${s#bench_}: $tps tps" >&2
        done
    done
done
lf_psql -d "$db" -At -c "SELECT 'history consistent: ' || (count(*) = 0) FROM leadfunnel.verify_model('bench_c')"

echo
echo "| synchronous_commit | (a) plain UPDATE | (b) leadfunnel C | (c) PL/pgSQL | (b0) C without lead_value_record | (b)/(a) | (b)/(c) | (b0)/(b) cost of lead_value_record |"
echo "|---|---|---|---|---|---|---|---|"
for sync in off on; do
    med() { grep "^$sync $1 " "$results" | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
    a=$(med bench_plain); b=$(med bench_c); c=$(med bench_plpgsql); b0=$(med bench_c0)
    awk -v s="$sync" -v a="$a" -v b="$b" -v c="$c" -v b0="$b0" \
        'BEGIN { printf "| %s | %.0f tps | %.0f tps | %.0f tps | %.0f tps | %.2fx | %.2fx | %.2fx |\n", s, a, b, c, b0, b/a, b/c, b0/b }'
done
