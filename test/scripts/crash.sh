#!/usr/bin/env bash
# Crash: kill -9 the postmaster and its backends while 4 clients move leads
# and an import_history() of 160,000 rows for the same leads runs, restart
# (crash recovery replays the WAL), and check every invariant of the model.
# Committed moves survive with their history; the moves in flight leave
# nothing behind; the import is there entirely or not at all.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
db=leadfunnel_crash
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('crash');
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('cycle', '{lead,mql,opportunity,won}');
INSERT INTO leadfunnel.funnel_transition VALUES ('cycle', 'won', 'lead'), ('cycle', 'lost', 'lead');
INSERT INTO crash.account (account_id) SELECT g FROM generate_series(1, 20) g;
INSERT INTO crash.lead (lead_id, account_id, funnel, created_at)
SELECT g, 1 + g % 20, 'cycle', '2024-01-01' FROM generate_series(1, 200) g;
-- an import that merges 800 earlier entries before each lead's history:
-- lead, mql, lead, mql, ... (refused backward moves, loaded and flagged),
-- ending in mql before the lead's first row (lead, 2024-01-01)
CREATE TABLE public.crash_export AS
SELECT l AS lead_id, CASE WHEN k % 2 = 1 THEN 'mql' ELSE 'lead' END AS stage,
       timestamptz '2024-01-01' - k * interval '1 minute' AS changed_at, 'crash_import'::name AS changed_by
  FROM generate_series(1, 200) l, generate_series(1, 800) k;
SQL
cat > "$LF_TMP/crash.sql" <<'EOF2'
\set id random(1, 200)
UPDATE crash.lead SET stage = CASE stage WHEN 'lead' THEN 'mql'::leadfunnel.lead_stage WHEN 'mql' THEN 'opportunity'
                                         WHEN 'opportunity' THEN (CASE WHEN random() < 0.5 THEN 'won' ELSE 'lost' END)::leadfunnel.lead_stage
                                         ELSE 'lead' END
 WHERE lead_id = :id;
EOF2
before=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM crash.lead_stage_history")
"$LF_BINDIR/pgbench" -n -c 4 -j 2 -T 20 -f "$LF_TMP/crash.sql" "$db" > "$LF_TMP/crash-pgbench.log" 2>&1 &
bench=$!
lf_psql -d "$db" -c "SELECT * FROM leadfunnel.import_history('crash', 'public.crash_export')" > "$LF_TMP/crash-import.log" 2>&1 &
import=$!
sleep 3
import_in_flight=$(kill -0 "$import" 2>/dev/null && echo yes || echo no)
pm=$(head -1 "$LF_TMP/data/postmaster.pid")
kill -9 $(pgrep -P "$pm") "$pm" 2>/dev/null || true
wait "$bench" 2>/dev/null || true
wait "$import" 2>/dev/null || true
# wait for the killed processes to be gone; where nobody reaps them (a container's
# init), a zombie postmaster keeps its PID and its lock file looks live
for _ in $(seq 1 50); do
    state=$(ps -o stat= -p "$pm" 2>/dev/null || true)
    case "$state" in ""|Z*) break ;; esac
    sleep 0.1
done
case "$(ps -o stat= -p "$pm" 2>/dev/null || true)" in Z*) rm -f "$LF_TMP/data/postmaster.pid" "$LF_TMP/.s.PGSQL.$PGPORT.lock" ;; esac
lf_cluster_resume
grep -q "database system was interrupted\|not properly shut down" "$LF_TMP/server.log" \
    && echo "crash recovery ran" || echo "note: no crash-recovery message in the server log"
after=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM crash.lead_stage_history")
violations=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM leadfunnel.verify_model('crash')")
lf_psql -d "$db" -At -c "SELECT * FROM leadfunnel.verify_model('crash') LIMIT 5"
echo "history rows before $before, after recovery $after, violations $violations"
imported=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM crash.lead_stage_history WHERE changed_by = 'crash_import' AND superseded_at IS NULL")
echo "import in flight at the kill: $import_in_flight; its rows after recovery: $imported of 160000"
status=0
[ "$imported" = 0 ] || [ "$imported" = 160000 ] || { echo "FAIL: half an import after the crash"; status=1; }
[ "$violations" = 0 ] || { echo "FAIL: invariants violated after crash recovery"; status=1; }
[ "$after" -gt "$before" ] || { echo "FAIL: no committed move survived the crash"; status=1; }
# the model keeps working after recovery
lf_psql -d "$db" -c "UPDATE crash.lead SET stage = 'lost' WHERE lead_id = 1 AND stage < 'won'" >/dev/null
[ "$(lf_psql -d "$db" -At -c "SELECT count(*) FROM leadfunnel.verify_model('crash')")" = 0 ] || status=1
lf_psql -d postgres -c "DROP DATABASE $db" >/dev/null
[ "$status" = 0 ] && echo "crash: ok"
exit $status
