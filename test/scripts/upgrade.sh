#!/usr/bin/env bash
# Upgrades: for every earlier release frozen in sql/releases/, install it, fill
# a model (demo data, a user's funnel and rules), run ALTER EXTENSION leadfunnel
# UPDATE and check that
#  (a) the extension's objects are exactly those of a fresh install of the
#      current version (pg_dump --binary-upgrade --schema-only dumps extension
#      members one by one: definitions, comments, grants, triggers; normalized
#      for OIDs and xids), with the same configuration tables (extconfig) and
#      the same shipped configuration rows;
#  (b) data and answers of the extension's functions are unchanged, the model
#      is consistent and its triggers still guard moves;
#  (c) after leadfunnel.upgrade_model() the model's DDL equals that of a model
#      created by the current version (pg_dump -s of the schema), and running
#      upgrade_model() on a current model changes nothing (idempotent).
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
cd "$LF_ROOT"
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" leadfunnel.control)
out=$LF_TMP/upgrade
mkdir -p "$out"
fresh=leadfunnel_upgrade_fresh

fill_sql="
INSERT INTO leadfunnel.funnel (name, stages, allow_skip, description) VALUES ('partner', '{lead,sql,opportunity,won}', true, 'partner deals');
INSERT INTO leadfunnel.funnel_transition VALUES ('partner', 'opportunity', 'sql', 're-qualified'), ('enterprise', 'sql', 'sal', 'back to field sales');
SELECT leadfunnel.create_model('crm');
SELECT count(*) FROM leadfunnel.generate_demo('crm', 300, 0.3);
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at) VALUES (100000, 1, 'partner', '2024-01-01');
UPDATE crm.lead SET stage = 'opportunity', stage_entered_at = '2024-02-01' WHERE lead_id = 100000;
INSERT INTO crm.touch (touch_id, campaign_id, account_id, lead_id, touched_at, channel)
SELECT 1000000 + row_number() OVER (ORDER BY lead_id), source_campaign_id, account_id, CASE WHEN lead_id % 3 = 0 THEN NULL ELSE lead_id END,
       created_at - interval '2 days', 'web'
  FROM crm.lead WHERE source_campaign_id IS NOT NULL;
"
# every row of the users' data and of the configuration
fingerprint_sql="
SELECT x FROM (
    SELECT format('funnel %s %s %s %s %s %s', name, stages, entry_stages, reopen_stages, allow_skip, builtin) FROM leadfunnel.funnel
    UNION ALL SELECT format('rule %s %s %s %s', funnel, from_stage, to_stage, description) FROM leadfunnel.funnel_transition
    UNION ALL SELECT format('acct %s', a) FROM crm.account a
    UNION ALL SELECT format('contact %s', c) FROM crm.contact c
    UNION ALL SELECT format('campaign %s', c) FROM crm.campaign c
    UNION ALL SELECT format('lead %s', l) FROM crm.lead l
    UNION ALL SELECT format('hist %s', h) FROM crm.lead_stage_history h
    UNION ALL SELECT format('touch %s', t) FROM crm.touch t) t(x)
ORDER BY x;
"
# the same rows without the columns a later version derives from them (the
# lifecycle's account.status/status_since, contact.status, lead.motion; the
# stage labels' lead.stage_label, NULL for funnels without labels; the tracked
# tables' lead.external_source/external_id, NULL for leads not mirrored) or adds
# to them (the history's bitemporal columns, checked apart), which
# upgrade_model may fill in
user_rows_sql=$(printf '%s' "$fingerprint_sql" | sed \
    -e "s/format('acct %s', a) FROM/format('acct %s', (a.account_id, a.name, a.region, a.segment, a.is_advocate, a.churned_at)) FROM/" \
    -e "s/format('contact %s', c) FROM crm.contact/format('contact %s', (c.contact_id, c.account_id, c.email, c.opt_in)) FROM crm.contact/" \
    -e "s/format('lead %s', l) FROM/format('lead %s', (SELECT to_jsonb(l) - 'motion' - 'stage_label' - 'expected_close_date' - 'external_source' - 'external_id')) FROM/" \
    -e "s/format('hist %s', h) FROM/format('hist %s', (SELECT to_jsonb(h) - 'recorded_at' - 'superseded_at' - 'superseded_by' - 'superseded_reason' - 'flag')) FROM/")
# answers of the extension's functions on that data
answers_sql="
SELECT format('allowed_next %s %s %s', f.name, s, leadfunnel.allowed_next(f.name, s))
  FROM leadfunnel.funnel f, unnest(enum_range(NULL::leadfunnel.lead_stage)) s
UNION ALL SELECT format('entry %s %s stages %s', f.name, leadfunnel.entry_stages(f.name), leadfunnel.funnel_stages(f.name)) FROM leadfunnel.funnel f
UNION ALL SELECT format('reached %s %s %s', funnel, max_stage, count(*)) FROM crm.lead GROUP BY funnel, max_stage
UNION ALL SELECT format('verify %s', v) FROM leadfunnel.verify_model('crm') v
ORDER BY 1;
"
# the extension's objects, one by one, without OIDs and transaction ids
ext_ddl() {
    # one object per "-- Name:" block, blocks sorted: pg_dump's order of equal-priority objects
    # follows their dependencies and creation order, which an upgrade (new objects last) and a
    # fresh install may not share (seen for the tables of 95_pipeline.sql)
    "$LF_BINDIR/pg_dump" --binary-upgrade --schema-only -N crm -d "$1" \
        | grep -v -e '^\\restrict' -e '^\\unrestrict' -e '^-- Dumped' -e 'binary_upgrade_set_next_' \
                  -e 'binary_upgrade_create_empty_extension' -e 'relfrozenxid' -e "^WHERE oid = '[0-9]*';" \
                  -e '^--$' -e '^$' -e '^-- PostgreSQL database dump' \
        | awk '/^-- Name: /{ if (b != "") print b; b = "" } { b = b $0 "\\n" } END { if (b != "") print b }' \
        | sort | sed 's/\\n/\n/g'
    lf_psql -d "$1" -At <<'SQL'
SELECT format('extension %s %s %s', extname, extversion, extrelocatable) FROM pg_extension WHERE extname = 'leadfunnel';
SELECT format('config table %s %s', c::regclass, cond)
  FROM pg_extension, unnest(extconfig, extcondition) u(c, cond) WHERE extname = 'leadfunnel' ORDER BY 1;
-- the rows of the extension's tables (shipped rows, and the same user rows in both)
SELECT format('SELECT %L || '' '' || t::text FROM %s t ORDER BY 1', c.oid::regclass, c.oid::regclass)
  FROM pg_class c
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'leadfunnel'
 WHERE c.relkind = 'r' ORDER BY 1 \gexec
SQL
}
model_ddl() {
    "$LF_BINDIR/pg_dump" --schema-only -n crm -d "$1" | grep -v -e '^\\restrict' -e '^\\unrestrict' -e '^-- Dumped'
}
move_checks() {   # triggers still guard and record moves
    lf_psql -d "$1" -At <<'SQL'
CREATE TEMP TABLE outcome (what text);
DO $$
BEGIN
    BEGIN
        UPDATE crm.lead SET stage = 'visitor' WHERE lead_id = 100000;
        INSERT INTO outcome VALUES ('backward move accepted');
    EXCEPTION WHEN check_violation THEN
        INSERT INTO outcome VALUES ('backward move refused');
    END;
    BEGIN
        DELETE FROM crm.lead_stage_history WHERE lead_id = 100000;
        INSERT INTO outcome VALUES ('history deleted');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO outcome VALUES ('history append-only');
    END;
END $$;
UPDATE crm.lead SET stage = 'sql', stage_entered_at = '2024-03-01' WHERE lead_id = 100000;
SELECT what FROM outcome ORDER BY what;
SELECT format('moves recorded: %s', count(*)) FROM crm.lead_stage_history WHERE lead_id = 100000;
SELECT format('violations: %s', count(*)) FROM leadfunnel.verify_model('crm');
SQL
}
views_readable() {   # every view of the model answers
    local v
    for v in $(lf_psql -d "$1" -At -c "SELECT format('%I.%I', schemaname, viewname) FROM pg_views WHERE schemaname = 'crm' ORDER BY 1"); do
        lf_psql -d "$1" -At -c "SELECT '$v', count(*) FROM $v" >/dev/null || return 1
    done
}

lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $fresh" -c "CREATE DATABASE $fresh" >/dev/null
lf_psql -d "$fresh" -c "CREATE EXTENSION leadfunnel" >/dev/null
lf_psql -d "$fresh" >/dev/null <<<"$fill_sql"
ext_ddl "$fresh" > "$out/fresh.ext"
model_ddl "$fresh" > "$out/fresh.model"
lf_psql -d "$fresh" -At -c "SELECT leadfunnel.upgrade_model('crm')" > "$out/fresh.upgrade_model"
model_ddl "$fresh" > "$out/fresh.model.again"

status=0
fail() { echo "FAIL: $*"; status=1; }
cmp -s "$out/fresh.model" "$out/fresh.model.again" \
    || { diff -u "$out/fresh.model" "$out/fresh.model.again" | head -40; fail "upgrade_model() changed a current model (model_add_* functions must be idempotent)"; }

olds=$(ls sql/releases/ | sed -n 's/^leadfunnel--\([0-9.]*\)\.sql$/\1/p' | sort -V)
[ -n "$olds" ] || fail "no released version in sql/releases"
for old in $olds; do
    [ "$old" = "$current" ] && continue
    db=leadfunnel_upgrade_${old//./_}
    echo "upgrade $old -> $current"
    lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    lf_psql -d "$db" -c "CREATE EXTENSION leadfunnel VERSION '$old'" >/dev/null
    lf_psql -d "$db" >/dev/null <<<"$fill_sql"
    lf_psql -d "$db" -At <<<"$fingerprint_sql" > "$out/$old.rows.before"
    lf_psql -d "$db" -At <<<"$user_rows_sql" > "$out/$old.rows.user"
    lf_psql -d "$db" -At <<<"$answers_sql" > "$out/$old.answers.before"

    lf_psql -d "$db" -c "ALTER EXTENSION leadfunnel UPDATE" >/dev/null || { fail "ALTER EXTENSION UPDATE from $old"; continue; }

    # (a) the same objects as a fresh install
    ext_ddl "$db" > "$out/$old.ext"
    if ! cmp -s "$out/fresh.ext" "$out/$old.ext"; then
        diff -u "$out/fresh.ext" "$out/$old.ext" | head -60
        fail "extension objects after upgrade from $old differ from a fresh install of $current (- fresh, + upgraded)"
    fi
    # (b) data and answers unchanged, model consistent, moves guarded
    lf_psql -d "$db" -At <<<"$fingerprint_sql" > "$out/$old.rows.after"
    lf_psql -d "$db" -At <<<"$answers_sql" > "$out/$old.answers.after"
    cmp -s "$out/$old.rows.before" "$out/$old.rows.after" \
        || { diff "$out/$old.rows.before" "$out/$old.rows.after" | head -20; fail "rows changed by the upgrade from $old"; }
    cmp -s "$out/$old.answers.before" "$out/$old.answers.after" \
        || { diff "$out/$old.answers.before" "$out/$old.answers.after" | head -20; fail "answers changed by the upgrade from $old"; }
    grep -q '^verify' "$out/$old.answers.after" && fail "verify_model reports violations after the upgrade from $old"
    echo "  rows: $(wc -l < "$out/$old.rows.after"), answers: $(wc -l < "$out/$old.answers.after"), unchanged"

    # (c) upgrade_model gives the model the current version's objects
    ran=$(lf_psql -d "$db" -At -c "SELECT leadfunnel.upgrade_model('crm')")
    echo "  upgrade_model ran: $ran"
    model_ddl "$db" > "$out/$old.model"
    if ! cmp -s "$out/fresh.model" "$out/$old.model"; then
        diff -u "$out/fresh.model" "$out/$old.model" | head -60
        fail "model DDL after upgrade_model differs from a model created by $current (- fresh, + upgraded)"
    fi
    lf_psql -d "$db" -At <<<"$user_rows_sql" > "$out/$old.rows.model"
    cmp -s "$out/$old.rows.user" "$out/$old.rows.model" || fail "upgrade_model changed the users' rows of the model"
    # the history rows of the earlier version: recorded when they took effect, current
    [ "$(lf_psql -d "$db" -At -c "SELECT count(*) FILTER (WHERE recorded_at IS DISTINCT FROM entered_at OR superseded_at IS NOT NULL
                                                             OR superseded_by IS NOT NULL OR superseded_reason IS NOT NULL OR flag IS NOT NULL)
                                     FROM crm.lead_stage_history")" = 0 ] \
        || fail "upgrade_model did not record the existing history as recorded_at = entered_at, current"
    # what upgrade_model derived is what the rules say: a full refresh changes nothing
    [ "$(lf_psql -d "$db" -At -c "SELECT leadfunnel.refresh_lifecycle('crm', recompute_motion => true)")" = 0 ] \
        || fail "statuses derived by upgrade_model differ from the lifecycle rules"
    views_readable "$db" || fail "a view of the upgraded model cannot be read"
    checks=$(move_checks "$db" 2>&1)
    expected="backward move refused
history append-only
moves recorded: 3
violations: 0"
    [ "$checks" = "$expected" ] || { echo "$checks"; fail "triggers of the upgraded model do not guard moves"; }
    lf_psql -d postgres -c "DROP DATABASE $db" >/dev/null
done
lf_psql -d postgres -c "DROP DATABASE $fresh" >/dev/null
[ "$status" = 0 ] && echo "upgrade: ok"
exit $status
