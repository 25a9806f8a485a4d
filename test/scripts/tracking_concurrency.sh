#!/usr/bin/env bash
# Concurrency of a loader and an application on ONE tracked table (record
# mode), in one pgbench run with 6 clients:
#  - loader (weight 2): a batch INSERT ... ON CONFLICT DO UPDATE of 20 rows
#    (keys in order, as loaders sort their batches), new keys and existing
#    ones, stage values drawn from the funnel's labels, canonical names, an
#    unknown label and moves the funnel refuses;
#  - application (weight 4): single-row UPDATEs of the stage of a hot set of
#    rows, the same rows the loader writes;
#  - reader (weight 1): verify_model() in its snapshot.
# Checks: no client fails (record mode refuses nothing: no 23514, no 23503,
# no deadlock); afterwards the model mirrors the table exactly (plain SQL
# over the table and resolve_stage() against the leads), every invariant
# holds, every unknown label is listed by tracking_check().  Then, in two
# sessions: a batch's new leads keep their account locked against a DELETE
# until the batch commits.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
db=leadfunnel_tracking_conc
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('conc');
SELECT leadfunnel.apply_preset('deals', 'hubspot_deal');
CREATE TABLE public.deals (id text PRIMARY KEY, dealstage text, amount numeric, synced_at timestamptz);
INSERT INTO public.deals SELECT 'D' || lpad(g::text, 4, '0'), 'appointmentscheduled', g, now() FROM generate_series(1, 200) g;
SELECT leadfunnel.track('public.deals', 'conc', 'deals', 'id', 'dealstage', amount_column => 'amount');
CREATE TABLE public.snapshot_violations (lead_id bigint, problem text);
SQL
stages="ARRAY['appointmentscheduled','qualifiedtobuy','presentationscheduled','decisionmakerboughtin','contractsent','closedwon','closedlost','sql','opportunity','Contract Sent']"
cat > "$LF_TMP/loader.sql" <<EOF
\set base random(1, 280)
INSERT INTO public.deals AS d (id, dealstage, amount, synced_at)
SELECT 'D' || lpad((:base + g)::text, 4, '0'), ($stages)[1 + (random() * 9)::int], (random() * 1000)::int, now()
  FROM generate_series(0, 19) g ORDER BY 1
ON CONFLICT (id) DO UPDATE SET dealstage = excluded.dealstage, amount = excluded.amount, synced_at = excluded.synced_at;
EOF
cat > "$LF_TMP/app.sql" <<EOF
\set id random(1, 40)
UPDATE public.deals SET dealstage = ($stages)[1 + (random() * 8)::int] WHERE id = 'D' || lpad(:id::text, 4, '0');
EOF
cat > "$LF_TMP/reader.sql" <<'EOF'
INSERT INTO public.snapshot_violations SELECT lead_id, problem FROM leadfunnel.verify_model('conc') WHERE problem NOT LIKE 'tracked %';
EOF
status=0
out=$("$LF_BINDIR/pgbench" -n -c 6 -j 2 -T "${LF_CONC_SECONDS:-15}" -f "$LF_TMP/loader.sql@2" -f "$LF_TMP/app.sql@4" -f "$LF_TMP/reader.sql@1" "$db" 2>&1) || true
echo "$out" | grep -E '^(number of (transactions actually processed|failed transactions)|tps)' || true
echo "$out" | grep -qiE 'deadlock|error|aborted' && { echo "$out" | grep -iE 'deadlock|error|aborted' | head -5; echo "FAIL: a client failed"; status=1; }
checks=$(lf_psql -d "$db" -At <<'SQL'
SELECT 'rows=' || (SELECT count(*) FROM public.deals)
    || ' mirror_differences=' || (SELECT count(*) FROM (
           (SELECT d.id, r.stage, r.label, d.amount FROM public.deals d CROSS JOIN LATERAL leadfunnel.resolve_stage('deals', d.dealstage) r
             WHERE r.stage IS NOT NULL
            EXCEPT SELECT external_id, stage, stage_label, amount FROM conc.lead WHERE external_id IN
                   (SELECT d.id FROM public.deals d WHERE (leadfunnel.resolve_stage('deals', d.dealstage)).stage IS NOT NULL))) x)
    || ' violations=' || (SELECT count(*) FROM leadfunnel.verify_model('conc') WHERE problem NOT LIKE 'tracked %')
    || ' snapshot_violations=' || (SELECT count(*) FROM public.snapshot_violations)
    || ' unknown_listed=' || ((SELECT count(*) FROM public.deals WHERE dealstage = 'Contract Sent') =
                              coalesce((SELECT rows FROM leadfunnel.tracking_check('public.deals') WHERE kind = 'unmapped_label'), 0))
    || ' refused_recorded=' || (SELECT count(*) > 0 FROM conc.tracking_issue WHERE kind = 'refused_move');
SQL
)
echo "$checks"
case "$checks" in
    *" mirror_differences=0 violations=0 snapshot_violations=0 unknown_listed=true refused_recorded=true") ;;
    *) echo "FAIL: model and table disagree, or invariants broken"; status=1 ;;
esac

# The sync checks the accounts of a batch's new leads with one locking read
# (FOR KEY SHARE) instead of a foreign-key check per lead: the lock must hold
# until the batch commits, as the per-row check's does.  Session 1 syncs two
# new leads of an existing account and stays open; session 2's DELETE of that
# account must wait for it (here: time out), and once session 1 committed,
# fail on the leads (23503) -- it must never leave leads without an account.
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE TABLE public.opps (id text PRIMARY KEY, account_id bigint, stage text);
SELECT leadfunnel.track('public.opps', 'conc', 'deals', 'id', 'stage', account_column => 'account_id');
INSERT INTO conc.account (account_id) VALUES (900001);
SQL
lf_psql -d "$db" > "$LF_TMP/batch.out" 2>&1 <<'SQL' &
BEGIN;
INSERT INTO public.opps VALUES ('O1', 900001, 'appointmentscheduled'), ('O2', 900001, 'qualifiedtobuy');
SELECT pg_sleep(6);
COMMIT;
SQL
batch=$!
for _ in $(seq 1 100); do
    [ "$(lf_psql -d "$db" -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(6)%' AND state = 'active'")" = 1 ] && break
    sleep 0.2
done
held=$(lf_psql -d "$db" -v ON_ERROR_STOP=0 -c "SET lock_timeout = '1s'" -c "DELETE FROM conc.account WHERE account_id = 900001" 2>&1 || true)
wait $batch || { cat "$LF_TMP/batch.out"; echo "FAIL: the batch failed"; status=1; }
after=$(lf_psql -d "$db" -v ON_ERROR_STOP=0 -c "DELETE FROM conc.account WHERE account_id = 900001" 2>&1 || true)
leads=$(lf_psql -d "$db" -At -c "SELECT count(*) FROM conc.lead l JOIN conc.account a USING (account_id) WHERE l.external_id IN ('O1', 'O2')")
echo "delete during the batch: $(echo "$held" | grep -o 'lock timeout' || echo "$held"); after it: $(echo "$after" | grep -o 'violates foreign key constraint "lead_account_id_fkey"' || echo "$after"); leads with their account: $leads"
case "$held|$after|$leads" in
    *"canceling statement due to lock timeout"*"|"*'violates foreign key constraint "lead_account_id_fkey" on table "lead"'*"|2") ;;
    *) echo "FAIL: the batch's new leads did not keep their account locked"; status=1 ;;
esac
[ -n "${LF_KEEP_DB:-}" ] || lf_psql -d postgres -c "DROP DATABASE $db" >/dev/null
[ "$status" = 0 ] && echo "tracking concurrency: ok"
exit $status
