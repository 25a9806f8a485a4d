#!/usr/bin/env bash
# Concurrency: 4 pgbench clients make random valid and invalid stage moves on
# 300 leads, hot leads drawn more often (zipfian) so that clients collide; afterwards every
# invariant of the model holds, and each accepted move wrote exactly one
# history row.  Run by `make test` against its throwaway cluster.
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
INSERT INTO conc.contact (contact_id, account_id, opt_in) SELECT g, g, g % 2 = 0 FROM generate_series(1, 50) g;
INSERT INTO conc.lead (lead_id, account_id, contact_id, funnel, created_at)
SELECT g, 1 + g % 50, 1 + g % 50, (ARRAY['enterprise', 'inside_sales', 'loop', 'loop'])[1 + g % 4], '2024-01-01'
  FROM generate_series(1, 300) g;
CREATE SEQUENCE public.accepted_moves;
CREATE SEQUENCE public.refused_moves;
CREATE FUNCTION public.try_move(id bigint, target leadfunnel.lead_stage) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conc.lead SET stage = target WHERE lead_id = id AND stage IS DISTINCT FROM target;
    IF FOUND THEN PERFORM nextval('public.accepted_moves'); END IF;
EXCEPTION WHEN check_violation OR not_null_violation THEN
    PERFORM nextval('public.refused_moves');
END $$;
SQL

cat > "$LF_TMP/moves.sql" <<'EOF2'
\set id random_zipfian(1, 300, 1.2)
\set pick random(1, 100)
SELECT public.try_move(:id,
    CASE WHEN :pick <= 75 THEN
        (SELECT a[1 + floor(random() * cardinality(a))::int]
           FROM (SELECT leadfunnel.allowed_next(funnel, stage) AS a FROM conc.lead WHERE lead_id = :id) x)
    ELSE (enum_range(NULL::leadfunnel.lead_stage))[1 + floor(random() * 12)::int] END);
EOF2
"$LF_BINDIR/pgbench" -n -c 4 -j 2 -t 1500 -f "$LF_TMP/moves.sql" "$db" > "$LF_TMP/pgbench.log" 2>&1 \
    || { cat "$LF_TMP/pgbench.log"; echo "pgbench failed"; exit 1; }
grep -E "number of (transactions actually processed|failed)" "$LF_TMP/pgbench.log" || true

result=$(lf_psql -d "$db" -At <<'SQL'
SELECT format('accepted=%s refused=%s history_rows=%s leads=%s violations=%s lifecycle_mismatches=%s',
    (SELECT last_value FROM public.accepted_moves),
    (SELECT last_value FROM public.refused_moves),
    (SELECT count(*) FROM conc.lead_stage_history),
    (SELECT count(*) FROM conc.lead),
    (SELECT count(*) FROM leadfunnel.verify_model('conc')),
    -- lifecycle: the stored statuses written by concurrent wins and closes match the rule
    (SELECT count(*) FROM conc.account a JOIN conc.account_lifecycle v USING (account_id)
      WHERE (a.status, a.status_since) IS DISTINCT FROM (v.status, v.status_since))
  + (SELECT count(*) FROM conc.contact c JOIN conc.account_lifecycle v USING (account_id)
      WHERE c.status <> leadfunnel.contact_status_rule(v.status IN ('new_customer', 'active_customer', 'advocate'),
                EXISTS (SELECT 1 FROM conc.lead l WHERE l.account_id = c.account_id AND l.contact_id = c.contact_id AND l.stage < 'won'),
                c.opt_in)));
SELECT * FROM leadfunnel.verify_model('conc') LIMIT 10;
SQL
)
echo "$result"
line=$(echo "$result" | head -1)
eval "$(echo "$line" | tr ' ' '\n' | sed 's/^/r_/')"
status=0
[ "$r_violations" = 0 ] || { echo "FAIL: invariants violated"; status=1; }
[ "$r_lifecycle_mismatches" = 0 ] || { echo "FAIL: stored account or contact statuses do not match the rule"; status=1; }
[ "$r_accepted" -gt 500 ] || { echo "FAIL: too few accepted moves ($r_accepted)"; status=1; }
[ "$r_refused" -gt 100 ] || { echo "FAIL: too few refused moves ($r_refused)"; status=1; }
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
lf_psql -d postgres -c "DROP DATABASE $db"
[ "$status" = 0 ] && echo "concurrency: ok"
exit $status
