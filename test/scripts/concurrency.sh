#!/usr/bin/env bash
# Concurrency: 6 pgbench clients in one run, each transaction one of
#  - a stage move (weight 6): random valid and invalid moves on 300 leads, a hot
#    set of 20 drawn half of the time so that writers collide on the SAME leads,
#    closing them, reopening recycled ones, looping through won/lost in a
#    funnel whose rules allow it;
#  - a touch (weight 2): lead-level and account-level (ABM) touches inserted
#    while those leads move;
#  - a read (weight 1): every view of the model schema and of schema leadfunnel,
#    discovered from the catalog (views other concerns add are read
#    automatically), and verify_model() in the reader's snapshot, which must
#    find every invariant holding at every moment.
# Checks: the only errors are the refused moves (SQLSTATE 23514, counted by a
# wrapper that records any other SQLSTATE); pgbench reports no failed
# transaction, no deadlock and no serialization failure; afterwards every
# invariant holds and each accepted move wrote exactly one history row.
# Then the same with imports and corrections of the hot leads (see below).
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
db=leadfunnel_concurrency
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('conc');
-- A funnel whose closed leads come back, so moves go on for the whole run.
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('loop', '{visitor,lead,mql,tql,opportunity,won}');
INSERT INTO leadfunnel.funnel_transition (funnel, from_stage, to_stage)
VALUES ('loop', 'won', 'lead'), ('loop', 'lost', 'lead'), ('loop', 'disqualified', 'visitor'),
       ('loop', 'opportunity', 'mql');
INSERT INTO conc.account (account_id, name) SELECT g, 'account ' || g FROM generate_series(1, 50) g;
INSERT INTO conc.contact (contact_id, account_id, email, opt_in) SELECT g, g, 'c' || g || '@example.com', g % 2 = 0 FROM generate_series(1, 50) g;
INSERT INTO conc.campaign (campaign_id, name) SELECT g, 'campaign ' || g FROM generate_series(1, 6) g;
INSERT INTO conc.lead (lead_id, account_id, contact_id, funnel, source_campaign_id, amount, created_at)
SELECT g, 1 + g % 50, 1 + g % 50, (ARRAY['enterprise', 'inside_sales', 'loop', 'loop'])[1 + g % 4], 1 + g % 6, 1000 * g, '2024-01-01'
  FROM generate_series(1, 300) g;
CREATE SEQUENCE public.accepted_moves;
CREATE SEQUENCE public.refused_moves;
CREATE SEQUENCE public.touch_ids;
CREATE SEQUENCE public.snapshot_checks;
CREATE TABLE public.unexpected (sqlstate text, message text);
CREATE TABLE public.snapshot_violations (lead_id bigint, problem text);
-- A move as an application makes it: refused moves (23514) are expected and
-- counted; any other error is recorded, so the test sees it with its SQLSTATE.
CREATE FUNCTION public.try_move(id bigint, target leadfunnel.lead_stage) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text;
BEGIN
    UPDATE conc.lead SET stage = target WHERE lead_id = id AND stage IS DISTINCT FROM target;
    IF FOUND THEN PERFORM nextval('public.accepted_moves'); END IF;
EXCEPTION
    WHEN check_violation THEN
        PERFORM nextval('public.refused_moves');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        INSERT INTO public.unexpected VALUES (state, msg);
END $$;
-- A reader: the invariants hold in its snapshot, whatever the writers do.
CREATE FUNCTION public.check_snapshot() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.snapshot_violations SELECT v.lead_id, v.problem FROM leadfunnel.verify_model('conc') v;
    PERFORM nextval('public.snapshot_checks');
END $$;
SQL

# half of the moves hit the 20 hot leads, the rest spread (zipfian) over all
cat > "$LF_TMP/moves.sql" <<'EOF2'
\set coin random(0, 1)
\set id :coin * random(1, 20) + (1 - :coin) * random_zipfian(1, 300, 1.2)
\set pick random(1, 100)
-- 75%: one of the allowed next stages (if any); else any stage, mostly refused
SELECT public.try_move(:id, coalesce(
    CASE WHEN :pick <= 75 THEN
        (SELECT a[1 + floor(random() * cardinality(a))::int]
           FROM (SELECT leadfunnel.allowed_next(funnel, stage) AS a FROM conc.lead WHERE lead_id = :id) x) END,
    (enum_range(NULL::leadfunnel.lead_stage))[1 + floor(random() * 12)::int]));
EOF2
cat > "$LF_TMP/touches.sql" <<'EOF2'
\set id random(1, 20) + random(0, 1) * random(0, 280)
\set abm random(0, 3)
INSERT INTO conc.touch (touch_id, campaign_id, account_id, contact_id, lead_id, touched_at, channel)
SELECT nextval('public.touch_ids'), 1 + (:id % 6), account_id, contact_id,
       CASE WHEN :abm = 0 THEN NULL ELSE lead_id END, now(), CASE WHEN :abm = 0 THEN 'abm' ELSE 'web' END
  FROM conc.lead WHERE lead_id = :id;
EOF2
{
    echo "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
    lf_psql -d "$db" -At -c "SELECT format('SELECT count(*) FROM %I.%I;', schemaname, viewname) FROM pg_views
                             WHERE schemaname IN ('conc', 'leadfunnel') ORDER BY schemaname, viewname"
    echo "COMMIT;"
    echo "SELECT public.check_snapshot();"
} > "$LF_TMP/reads.sql"
views=$(grep -c '^SELECT count' "$LF_TMP/reads.sql" || true)
echo "views read concurrently: $views"

"$LF_BINDIR/pgbench" -n -c 6 -j 2 -t 1000 --max-tries=1 --failures-detailed \
    -f "$LF_TMP/moves.sql@6" -f "$LF_TMP/touches.sql@2" -f "$LF_TMP/reads.sql@1" "$db" > "$LF_TMP/pgbench.log" 2>&1 \
    || { cat "$LF_TMP/pgbench.log"; echo "FAIL: pgbench failed (an error escaped to a client)"; exit 1; }
grep -E "number of (transactions actually processed|failed transactions|serialization failures|deadlock failures)" "$LF_TMP/pgbench.log" | head -4 || true
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$LF_TMP/pgbench.log" | head -1)
deadlocks=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$LF_TMP/pgbench.log" | head -1)

result=$(lf_psql -d "$db" -At <<'SQL'
SELECT format('accepted=%s refused=%s history_rows=%s leads=%s reopened=%s touches=%s abm_touches=%s snapshot_checks=%s snapshot_violations=%s unexpected=%s violations=%s lifecycle_mismatches=%s',
    (SELECT last_value FROM public.accepted_moves),
    (SELECT last_value FROM public.refused_moves),
    (SELECT count(*) FROM conc.lead_stage_history WHERE superseded_at IS NULL),
    (SELECT count(*) FROM conc.lead),
    (SELECT count(*) FROM conc.lead_stage_history WHERE from_stage >= 'won' AND superseded_at IS NULL),
    (SELECT count(*) FROM conc.touch),
    (SELECT count(*) FROM conc.touch WHERE lead_id IS NULL),
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.snapshot_checks),
    (SELECT count(*) FROM public.snapshot_violations),
    (SELECT count(*) FROM public.unexpected),
    (SELECT count(*) FROM leadfunnel.verify_model('conc')),
    -- lifecycle: the stored statuses written by concurrent wins and closes match the rule
    (SELECT count(*) FROM conc.account a JOIN conc.account_lifecycle v USING (account_id)
      WHERE (a.status, a.status_since) IS DISTINCT FROM (v.status, v.status_since))
  + (SELECT count(*) FROM conc.contact c JOIN conc.account_lifecycle v USING (account_id)
      WHERE c.status <> leadfunnel.contact_status_rule(v.status IN ('new_customer', 'active_customer', 'advocate'),
                EXISTS (SELECT 1 FROM conc.lead l WHERE l.account_id = c.account_id AND l.contact_id = c.contact_id AND l.stage < 'won'),
                c.opt_in)));
SELECT format('unexpected error %s: %s (%s times)', sqlstate, message, count(*)) FROM public.unexpected GROUP BY sqlstate, message ORDER BY sqlstate, message LIMIT 10;
SELECT * FROM leadfunnel.verify_model('conc') LIMIT 10;
SQL
)
echo "$result"
line=$(echo "$result" | head -1)
eval "$(echo "$line" | tr ' ' '\n' | sed 's/^/r_/')"
status=0
[ "${failed:-x}" = 0 ] || { echo "FAIL: pgbench reports failed transactions (${failed:-none reported})"; status=1; }
[ "${deadlocks:-x}" = 0 ] || { echo "FAIL: deadlocks (${deadlocks:-none reported})"; status=1; }
[ "$r_unexpected" = 0 ] || { echo "FAIL: moves failed with other errors than refused moves (23514)"; status=1; }
[ "$r_violations" = 0 ] || { echo "FAIL: invariants violated"; status=1; }
[ "$r_lifecycle_mismatches" = 0 ] || { echo "FAIL: stored account or contact statuses do not match the rule"; status=1; }
[ "$r_snapshot_violations" = 0 ] || { echo "FAIL: a reader saw invariants violated"; status=1; }
[ "$r_snapshot_checks" -gt 50 ] || { echo "FAIL: too few concurrent reads ($r_snapshot_checks)"; status=1; }
[ "$r_accepted" -gt 500 ] || { echo "FAIL: too few accepted moves ($r_accepted)"; status=1; }
[ "$r_refused" -gt 100 ] || { echo "FAIL: too few refused moves ($r_refused)"; status=1; }
[ "$r_reopened" -gt 10 ] || { echo "FAIL: too few closed leads reopened ($r_reopened)"; status=1; }
[ "$r_abm_touches" -gt 10 ] && [ "$r_touches" -gt "$r_abm_touches" ] || { echo "FAIL: too few lead and account touches"; status=1; }
[ "$r_history_rows" = $((r_leads + r_accepted)) ] || { echo "FAIL: history rows != leads + accepted moves"; status=1; }
# Lifecycle under concurrency: 4 clients open and win leads of the same 3
# accounts at once (every win locks the account row, then its contacts); the
# stored statuses must match the rule, and each account's status_since must be
# its first win, whichever transaction committed first.
lf_psql -d "$db" >/dev/null <<'SQL'
INSERT INTO conc.account (account_id, name) SELECT g, 'hot ' || g FROM generate_series(101, 103) g;
INSERT INTO conc.contact (contact_id, account_id, opt_in) SELECT g * 10 + k, g, k = 1 FROM generate_series(101, 103) g, generate_series(1, 2) k;
CREATE SEQUENCE public.hot_leads START 100000;
SQL
cat > "$LF_TMP/wins.sql" <<'EOF2'
\set acc random(101, 103)
\set k random(1, 2)
SELECT nextval('public.hot_leads') AS id \gset
INSERT INTO conc.lead (lead_id, account_id, contact_id, funnel) VALUES (:id, :acc, :acc * 10 + :k, 'self_serve');
UPDATE conc.lead SET stage = 'mql' WHERE lead_id = :id;
UPDATE conc.lead SET stage = CASE WHEN :k = 1 THEN 'won' ELSE 'lost' END::leadfunnel.lead_stage WHERE lead_id = :id;
EOF2
"$LF_BINDIR/pgbench" -n -c 4 -j 2 -t 150 -f "$LF_TMP/wins.sql" "$db" > "$LF_TMP/pgbench2.log" 2>&1 \
    || { cat "$LF_TMP/pgbench2.log"; echo "pgbench (lifecycle) failed"; exit 1; }
hot=$(lf_psql -d "$db" -At <<'SQL'
SELECT format('hot_mismatches=%s hot_wins=%s',
    (SELECT count(*) FROM conc.account a JOIN conc.account_lifecycle v USING (account_id)
      WHERE a.account_id > 100
        AND ((a.status, a.status_since) IS DISTINCT FROM (v.status, v.status_since)
             OR a.status <> 'new_customer' OR a.status_since <> v.first_won_at))
  + (SELECT count(*) FROM conc.contact WHERE account_id > 100 AND status <> 'customer'),
    (SELECT count(*) FROM conc.lead WHERE account_id > 100 AND stage = 'won'));
SQL
)
echo "$hot"
eval "$(echo "$hot" | tr ' ' '\n' | sed 's/^/r_/')"
[ "$r_hot_mismatches" = 0 ] || { echo "FAIL: concurrent wins left wrong statuses"; status=1; }
[ "$r_hot_wins" -gt 50 ] || { echo "FAIL: too few concurrent wins ($r_hot_wins)"; status=1; }

# Imports and corrections of the same hot leads while they move: 4 clients
# move the 20 hot leads (every accepted move noted with its time), correct
# one of them (restating its whole current history, read after locking the
# lead, so every row is superseded and recorded again) or import an earlier
# visitor entry for all 20 at once (merged before their history, the
# previous one superseded); readers check the invariants in their snapshots.
# No deadlock, no error but refused moves, no lost move: every accepted move
# is in the current truth afterwards with its time (moves that share a time,
# one having waited for the other, included: a rewrite that put them in stage
# order instead of the order made lost one, 68 of 2423 in a run with 3 hot
# leads; sql/29_import_history has the deterministic case).
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE TABLE public.moves_done (lead_id bigint, to_stage leadfunnel.lead_stage, at timestamptz);
CREATE SEQUENCE public.import_runs;
CREATE SEQUENCE public.rewrites;
CREATE FUNCTION public.try_move_noted(id bigint, target leadfunnel.lead_stage) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; at timestamptz;
BEGIN
    -- (a moment between the transaction's start and its move, as in an
    -- application: moves that commit meanwhile make this one inherit their
    -- time, and a rewrite must keep such moves in the order they were made)
    PERFORM pg_sleep(random() * 0.005);
    UPDATE conc.lead SET stage = target WHERE lead_id = id AND stage IS DISTINCT FROM target
    RETURNING stage_entered_at INTO at;
    IF FOUND THEN INSERT INTO public.moves_done VALUES (id, target, at); END IF;
EXCEPTION
    WHEN check_violation THEN NULL;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        INSERT INTO public.unexpected VALUES (state, msg);
END $$;
CREATE FUNCTION public.try_rewrite(what text, id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text;
BEGIN
    IF what = 'correct' THEN
        PERFORM 1 FROM conc.lead WHERE lead_id = id FOR NO KEY UPDATE;
        PERFORM leadfunnel.correct_history('conc', id,
                    ARRAY(SELECT (h.to_stage, h.entered_at)::leadfunnel.stage_move FROM conc.lead_stage_history h
                           WHERE h.lead_id = id AND h.superseded_at IS NULL ORDER BY h.seq),
                    'concurrency test: restated');
    ELSE
        CREATE TEMP TABLE import_src ON COMMIT DROP AS
        SELECT g::bigint AS lead_id, 'visitor'::text AS stage,
               timestamptz '2023-12-01' - nextval('public.import_runs') * interval '1 minute' AS changed_at
          FROM generate_series(1, 20) g;
        PERFORM * FROM leadfunnel.import_history('conc', 'pg_temp.import_src');
    END IF;
    PERFORM nextval('public.rewrites');
EXCEPTION
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        INSERT INTO public.unexpected VALUES (state, msg);
END $$;
SQL
cat > "$LF_TMP/hot_moves.sql" <<'EOF2'
\set id random(1, 20)
SELECT public.try_move_noted(:id, coalesce(
    (SELECT a[1 + floor(random() * cardinality(a))::int]
       FROM (SELECT leadfunnel.allowed_next(funnel, stage) AS a FROM conc.lead WHERE lead_id = :id) x),
    'lost'));
EOF2
cat > "$LF_TMP/corrections.sql" <<'EOF2'
\set id random(1, 20)
SELECT public.try_rewrite('correct', :id);
EOF2
cat > "$LF_TMP/imports.sql" <<'EOF2'
SELECT public.try_rewrite('import', NULL);
EOF2
"$LF_BINDIR/pgbench" -n -c 4 -j 2 -t 120 --max-tries=1 --failures-detailed \
    -f "$LF_TMP/hot_moves.sql@6" -f "$LF_TMP/corrections.sql@2" -f "$LF_TMP/imports.sql@1" -f "$LF_TMP/reads.sql@1" \
    "$db" > "$LF_TMP/pgbench3.log" 2>&1 \
    || { cat "$LF_TMP/pgbench3.log"; echo "FAIL: pgbench (imports and corrections) failed"; exit 1; }
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$LF_TMP/pgbench3.log" | head -1)
deadlocks=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$LF_TMP/pgbench3.log" | head -1)
rewrite=$(lf_psql -d "$db" -At <<'SQL'
SELECT format('noted_moves=%s lost_moves=%s rewrites=%s superseded=%s rewrite_unexpected=%s rewrite_violations=%s rewrite_snapshot_violations=%s',
    (SELECT count(*) FROM public.moves_done),
    (SELECT count(*) FROM public.moves_done d
      WHERE NOT EXISTS (SELECT 1 FROM conc.lead_stage_history h
                         WHERE h.superseded_at IS NULL AND h.lead_id = d.lead_id AND h.to_stage = d.to_stage AND h.entered_at = d.at)),
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.rewrites),
    (SELECT count(*) FROM conc.lead_stage_history WHERE superseded_at IS NOT NULL),
    (SELECT count(*) FROM public.unexpected),
    (SELECT count(*) FROM leadfunnel.verify_model('conc')),
    (SELECT count(*) FROM public.snapshot_violations));
SELECT format('unexpected error %s: %s (%s times)', sqlstate, message, count(*)) FROM public.unexpected GROUP BY sqlstate, message ORDER BY sqlstate, message LIMIT 10;
SQL
)
echo "$rewrite"
eval "$(echo "$rewrite" | head -1 | tr ' ' '\n' | sed 's/^/r_/')"
[ "${failed:-x}" = 0 ] || { echo "FAIL: pgbench reports failed transactions with imports and corrections (${failed:-none reported})"; status=1; }
[ "${deadlocks:-x}" = 0 ] || { echo "FAIL: deadlocks with imports and corrections (${deadlocks:-none reported})"; status=1; }
[ "$r_rewrite_unexpected" = 0 ] || { echo "FAIL: errors other than refused moves with imports and corrections"; status=1; }
[ "$r_rewrite_violations" = 0 ] || { echo "FAIL: invariants violated after imports and corrections"; status=1; }
[ "$r_rewrite_snapshot_violations" = 0 ] || { echo "FAIL: a reader saw invariants violated during imports and corrections"; status=1; }
[ "$r_lost_moves" = 0 ] || { echo "FAIL: moves lost under imports and corrections"; status=1; }
[ "$r_noted_moves" -gt 50 ] || { echo "FAIL: too few moves during imports and corrections ($r_noted_moves)"; status=1; }
[ "$r_rewrites" -gt 20 ] && [ "$r_superseded" -gt 100 ] || { echo "FAIL: too few imports and corrections ($r_rewrites, $r_superseded rows superseded)"; status=1; }
lf_psql -d postgres -c "DROP DATABASE $db"
[ "$status" = 0 ] && echo "concurrency: ok"
exit $status
