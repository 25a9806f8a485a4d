#!/usr/bin/env bash
# pg_cron for real: a cluster of its own with pg_cron preloaded and
# cron.database_name set to a fresh database, a model whose stored lifecycle
# statuses are stale (customer_term shortened after the wins), the DBA recipe
# of doc/leadfunnel.md run as it stands there (extracted from the doc: one
# source), its job then rescheduled to run now; waits (bounded) for
# cron.job_run_details to show the run succeeded and checks that the stored
# statuses changed exactly as the account_lifecycle view says they should.
#
# pg_cron runs the job in a background worker (cron.use_background_workers):
# the throwaway clusters listen on a socket only.  pg_cron < 1.5 (Debian 12's
# 1.4) schedules by the minute, so the wait is up to a minute there; with 1.5+
# the job is rescheduled to every second.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
cd "$LF_ROOT"
db=leadfunnel_cron

[ -f "$("$(lf_pg_config)" --pkglibdir)/pg_cron.so" ] \
    || { echo "cron: pg_cron is not installed (postgresql-$PG_MAJOR-cron)" >&2; exit 1; }

# The recipe: the sql block after the marker in doc/leadfunnel.md.
recipe=$(awk '/<!-- pg_cron recipe:/ {m=1; next} m && /^```sql/ {b=1; next} b && /^```/ {exit} b {print}' doc/leadfunnel.md)
grep -q 'cron.schedule' <<<"$recipe" || { echo "cron: no pg_cron recipe found in doc/leadfunnel.md" >&2; exit 1; }

# A cluster of our own (shared_preload_libraries needs a restart, and the
# main cluster runs other tests); the database must exist before the
# launcher starts, so it is created first and the server restarted.
lf_cluster_start || exit 1
lf_psql -d postgres -c "CREATE DATABASE $db"
lf_as_owner "$LF_BINDIR/pg_ctl" -D "$LF_TMP/data" -m fast -w stop >/dev/null
LF_PGOPTS="$LF_PGOPTS -c shared_preload_libraries=pg_cron -c cron.database_name=$db -c cron.use_background_workers=on -c max_worker_processes=16"
lf_cluster_resume || exit 1

lf_psql -d "$db" >/dev/null <<'SQL'
SET TimeZone = 'UTC';
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('crm');
INSERT INTO leadfunnel.funnel (name, stages, allow_skip, description) VALUES ('direct', '{lead,sql,opportunity,won}', true, 'direct deals');
INSERT INTO crm.account (account_id, name) VALUES (1, 'won 200 days ago'), (2, 'won 50 days ago'), (3, 'prospect');
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at) VALUES
    (1, 1, 'direct', now() - interval '250 days'), (2, 2, 'direct', now() - interval '80 days'),
    (3, 3, 'direct', now() - interval '10 days');
UPDATE crm.lead SET stage = 'won', stage_entered_at = now() - interval '200 days' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'won', stage_entered_at = now() - interval '50 days' WHERE lead_id = 2;
-- the term shortened after the wins: account 1's stored status is stale
SELECT leadfunnel.set_setting('customer_term', '100 days');
SQL
stale=$(lf_psql -d "$db" -At -c "
    SELECT string_agg(account_id::text, ',' ORDER BY account_id) FROM crm.account a JOIN crm.account_lifecycle v USING (account_id)
     WHERE (a.status, a.status_since) IS DISTINCT FROM (v.status, v.status_since)")
before=$(lf_psql -d "$db" -At -c "SELECT string_agg(format('%s:%s', account_id, status), ',' ORDER BY account_id) FROM crm.account")
echo "cron: stored statuses before: $before; stale: ${stale:-none}"
[ "$stale" = "1" ] || { echo "cron: expected exactly account 1 to be stale before the job, got '${stale}'" >&2; exit 1; }

cron_version=$(lf_psql -d "$db" -At -c "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_cron'")
echo "cron: pg_cron $cron_version; running the recipe of doc/leadfunnel.md:"
sed 's/^/    /' <<<"$recipe"
lf_psql -d "$db" -c "$recipe" >/dev/null
every='* * * * *'
if [ "$(printf '%s\n1.5\n' "${cron_version%%-*}" | sort -V | head -1)" = "1.5" ]; then every='1 seconds'; fi
lf_psql -d "$db" -At -c "SELECT cron.alter_job(jobid, schedule => '$every') FROM cron.job WHERE jobname = 'leadfunnel-lifecycle'" >/dev/null
echo "cron: job rescheduled to '$every'; waiting for its run"

status=; t0=$SECONDS
while [ $((SECONDS - t0)) -lt 150 ]; do
    status=$(lf_psql -d "$db" -At -c "
        SELECT d.status || ' ' || coalesce(d.return_message, '') FROM cron.job_run_details d JOIN cron.job j USING (jobid)
         WHERE j.jobname = 'leadfunnel-lifecycle' AND d.status IN ('succeeded', 'failed') ORDER BY d.start_time LIMIT 1")
    [ -n "$status" ] && break
    sleep 1
done
echo "cron: first run after $((SECONDS - t0)) s: ${status:-none}"
lf_psql -d "$db" -c "SELECT cron.unschedule('leadfunnel-lifecycle')" >/dev/null
case "$status" in succeeded*) ;; *) echo "cron: the job did not succeed within 150 s" >&2; tail -20 "$LF_TMP/server.log" >&2; exit 1 ;; esac

# After the run: every stored status equals the view's, account 1 became
# former_customer when its term ran out (won + 100 days), the others are as before.
check=$(lf_psql -d "$db" -At <<'SQL'
SET TimeZone = 'UTC';
SELECT (SELECT count(*) FROM crm.account a JOIN crm.account_lifecycle v USING (account_id)
         WHERE (a.status, a.status_since) IS DISTINCT FROM (v.status, v.status_since)) = 0
   AND (SELECT status = 'former_customer' AND status_since = l.stage_entered_at + interval '100 days'
          FROM crm.account a JOIN crm.lead l USING (account_id) WHERE account_id = 1);
SQL
)
after=$(lf_psql -d "$db" -At -c "SELECT string_agg(format('%s:%s', account_id, status), ',' ORDER BY account_id) FROM crm.account")
echo "cron: stored statuses after: $after"
[ "$check" = t ] || { echo "cron: the stored statuses are not what the lifecycle rule says after the job" >&2; exit 1; }
[ "${after#*,}" = "${before#*,}" ] || { echo "cron: accounts other than 1 changed ($before -> $after)" >&2; exit 1; }
echo "cron: ok"
