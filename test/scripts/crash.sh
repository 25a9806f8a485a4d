#!/usr/bin/env bash
# Crash: kill -9 the postmaster and its backends while 4 clients move leads,
# restart (crash recovery replays the WAL), and check every invariant of the
# model.  Committed moves survive with their history; the moves in flight
# leave nothing behind.
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
sleep 3
pm=$(head -1 "$LF_TMP/data/postmaster.pid")
kill -9 $(pgrep -P "$pm") "$pm" 2>/dev/null || true
wait "$bench" 2>/dev/null || true
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
status=0
[ "$violations" = 0 ] || { echo "FAIL: invariants violated after crash recovery"; status=1; }
[ "$after" -gt "$before" ] || { echo "FAIL: no committed move survived the crash"; status=1; }
# the model keeps working after recovery
lf_psql -d "$db" -c "UPDATE crash.lead SET stage = 'lost' WHERE lead_id = 1 AND stage < 'won'" >/dev/null
[ "$(lf_psql -d "$db" -At -c "SELECT count(*) FROM leadfunnel.verify_model('crash')")" = 0 ] || status=1
lf_psql -d postgres -c "DROP DATABASE $db" >/dev/null
[ "$status" = 0 ] && echo "crash: ok"
exit $status
