#!/usr/bin/env bash
# pg_dump / pg_restore of a database with a model, generated data, a user's
# funnel and rules: the restored database has the same rows, the same answers
# from every view, the built-in funnels exactly once, consistent history, and
# triggers that still guard moves.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib.sh"
src=leadfunnel_dump_src; dst=leadfunnel_dump_dst
lf_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" \
    -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst" >/dev/null
lf_psql -d "$src" >/dev/null <<'SQL'
CREATE EXTENSION leadfunnel;
INSERT INTO leadfunnel.funnel (name, stages, allow_skip, description) VALUES ('partner', '{lead,sql,opportunity,won}', true, 'partner deals');
INSERT INTO leadfunnel.funnel_transition VALUES ('partner', 'opportunity', 'sql', 're-qualified'), ('enterprise', 'sql', 'sal', 'back to field sales');
SELECT leadfunnel.set_setting('customer_term', '500 days');
SELECT leadfunnel.create_model('crm');
SELECT * FROM leadfunnel.generate_demo('crm', 500, 0.3);
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at) VALUES (100000, 1, 'partner', '2024-01-01');
UPDATE crm.lead SET stage = 'opportunity', stage_entered_at = '2024-02-01' WHERE lead_id = 100000;
-- stage labels: a preset (creates funnel "deals"; its rows are the user's and
-- are dumped) and labels of a user's own on a built-in funnel
SELECT leadfunnel.apply_preset('deals', 'hubspot_deal');
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability, forecast_category)
VALUES ('enterprise', 'Demo', 'opportunity', 1, 0.3, 'best_case'), ('enterprise', 'Proposal', 'opportunity', 2, 0.6, 'commit');
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at, stage_label) VALUES (100001, 1, 'deals', '2024-01-01', 'appointmentscheduled');
UPDATE crm.lead SET stage_label = 'presentationscheduled', stage_entered_at = '2024-01-05' WHERE lead_id = 100001;
UPDATE crm.lead SET stage_label = 'contractsent' WHERE lead_id = 100001;
-- a tracked table (text keys, record mode) with a flagged move and an unknown label
CREATE SCHEMA sync;
CREATE TABLE sync.deals (id text PRIMARY KEY, dealstage text, amount numeric);
SELECT leadfunnel.track('sync.deals', 'crm', 'deals', 'id', 'dealstage', amount_column => 'amount');
INSERT INTO sync.deals VALUES ('h1', 'appointmentscheduled', 10), ('h2', 'closedwon', 20), ('h3', 'Contract Sent', 30);
UPDATE sync.deals SET dealstage = 'qualifiedtobuy' WHERE id = 'h1';
-- superseded rows: a correction of the history (they must survive the restore)
SELECT leadfunnel.correct_history('crm', 100000, ARRAY[('opportunity', '2024-01-25')]::leadfunnel.stage_move[], 'dump test');
-- superseded rows of both histories, each step its own transaction (so each
-- has its own recorded_at): a labelled lead moved, then corrected (its stage
-- and label rows from then on superseded), then an import that merges moves
-- before and between its rows (the rows after them re-recorded), then a
-- second correction of rows that the first one recorded
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at, stage_label) VALUES (100002, 1, 'deals', '2024-02-01', 'appointmentscheduled');
UPDATE crm.lead SET stage_label = 'qualifiedtobuy', stage_entered_at = '2024-02-10' WHERE lead_id = 100002;
UPDATE crm.lead SET stage_label = 'presentationscheduled', stage_entered_at = '2024-02-20' WHERE lead_id = 100002;
UPDATE crm.lead SET stage_label = 'decisionmakerboughtin' WHERE lead_id = 100002;
SELECT leadfunnel.correct_history('crm', 100002, ARRAY[('sql', '2024-02-08'), ('opportunity', '2024-02-25')]::leadfunnel.stage_move[],
                                  'qualified earlier');
CREATE TABLE public.dump_export (lead_id bigint, stage text, changed_at timestamptz);
INSERT INTO public.dump_export VALUES (100002, 'appointmentscheduled', '2024-01-20'), (100002, 'contractsent', '2024-03-01'),
                                      (100000, 'lead', '2023-12-01');
SELECT * FROM leadfunnel.import_history('crm', 'public.dump_export');
SELECT leadfunnel.correct_history('crm', 100002, ARRAY[('opportunity', '2024-02-22')]::leadfunnel.stage_move[], 'opportunity two days earlier');
SQL
"$LF_BINDIR/pg_dump" -Fc -f "$LF_TMP/dump.pgc" "$src"
"$LF_BINDIR/pg_restore" --exit-on-error -d "$dst" "$LF_TMP/dump.pgc"

fingerprint='
SELECT md5(string_agg(x, E'"'"'\n'"'"' ORDER BY x)) FROM (
    SELECT format('"'"'funnel %s %s %s %s %s %s'"'"', name, stages, entry_stages, reopen_stages, allow_skip, builtin) FROM leadfunnel.funnel
    UNION ALL SELECT format('"'"'rule %s %s %s'"'"', funnel, from_stage, to_stage) FROM leadfunnel.funnel_transition
    UNION ALL SELECT format('"'"'label %s'"'"', l) FROM leadfunnel.stage_label l
    UNION ALL SELECT format('"'"'labelhist %s'"'"', h) FROM crm.lead_label_history h
    UNION ALL SELECT format('"'"'tracked %s'"'"', t) FROM leadfunnel.tracked_table t
    UNION ALL SELECT format('"'"'issue %s'"'"', (i.source, i.external_key, i.kind, i.stage_value)) FROM crm.tracking_issue i
    UNION ALL SELECT format('"'"'synced %s'"'"', d) FROM sync.deals d
    UNION ALL SELECT format('"'"'setting %s'"'"', s) FROM leadfunnel.settings s
    UNION ALL SELECT format('"'"'lead %s'"'"', l) FROM crm.lead l
    UNION ALL SELECT format('"'"'hist %s'"'"', h) FROM crm.lead_stage_history h
    UNION ALL SELECT format('"'"'acct %s'"'"', a) FROM crm.account a) t(x)'
a=$(lf_psql -d "$src" -At -c "$fingerprint")
b=$(lf_psql -d "$dst" -At -c "$fingerprint")
status=0
[ "$a" = "$b" ] || { echo "FAIL: restored rows differ ($a vs $b)"; status=1; }
superseded=$(lf_psql -d "$dst" -At -c "SELECT count(*) FROM crm.lead_stage_history WHERE superseded_at IS NOT NULL")
[ "$superseded" -gt 0 ] || { echo "FAIL: the restored history has no superseded rows"; status=1; }
echo "superseded history rows restored: $superseded"

# Both histories, superseded rows and their recorded and superseded times
# included, equal the original's: the restored rows copied next to the
# original ones and compared, EXCEPT ALL both ways.
for t in lead_stage_history lead_label_history; do
    lf_psql -d "$src" -c "CREATE TABLE public.restored_$t (LIKE crm.$t)"
    "$LF_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$dst" -c "COPY crm.$t TO STDOUT" \
        | lf_psql -d "$src" -c "COPY public.restored_$t FROM STDIN"
    diffs=$(lf_psql -d "$src" -At -c "
        SELECT count(*) || ' ' || (SELECT count(*) FROM crm.$t WHERE superseded_at IS NOT NULL)
                        || ' ' || (SELECT count(*) FROM public.restored_$t WHERE superseded_at IS NOT NULL)
          FROM ((TABLE crm.$t EXCEPT ALL TABLE public.restored_$t)
                UNION ALL (TABLE public.restored_$t EXCEPT ALL TABLE crm.$t)) d")
    read -r ndiff nsup nsup_restored <<< "$diffs"
    echo "$t: $ndiff rows differ after the restore; superseded rows $nsup, restored $nsup_restored"
    [ "$ndiff" = 0 ] || { echo "FAIL: the restored $t differs from the original"; status=1; }
    [ "$nsup" -gt 0 ] && [ "$nsup" = "$nsup_restored" ] || { echo "FAIL: superseded rows of $t not restored ($nsup, $nsup_restored)"; status=1; }
done

# "What did we believe then" answers the same before and after: the stage
# history as of every moment a row was recorded or superseded (and just
# before it), and the label history as of the same moments.
as_of_answers() {
    lf_psql -d "$1" -At <<'SQL'
WITH t AS (
    SELECT DISTINCT x AS at FROM (
        SELECT unnest(ARRAY[recorded_at, recorded_at - interval '1 microsecond', superseded_at, superseded_at - interval '1 microsecond'])
          FROM crm.lead_stage_history
        UNION ALL
        SELECT unnest(ARRAY[recorded_at, recorded_at - interval '1 microsecond', superseded_at, superseded_at - interval '1 microsecond'])
          FROM crm.lead_label_history) u(x)
     WHERE x IS NOT NULL)
SELECT t.at || ' stage ' || count(h.*) || ' ' || coalesce(md5(string_agg(h::text, E'\n' ORDER BY h::text)), '')
  FROM t LEFT JOIN LATERAL crm.lead_stage_history_as_of_record(t.at) h ON true
 GROUP BY t.at
UNION ALL
SELECT t.at || ' label ' || count(c.*) || ' ' || coalesce(md5(string_agg(c::text, E'\n' ORDER BY c::text)), '')
  FROM t LEFT JOIN crm.lead_label_history c ON c.recorded_at <= t.at AND (c.superseded_at IS NULL OR c.superseded_at > t.at)
 GROUP BY t.at
ORDER BY 1;
SQL
}
as_of_answers "$src" > "$LF_TMP/asof.src"
as_of_answers "$dst" > "$LF_TMP/asof.dst"
echo "as-of-record moments compared: $(grep -c ' stage ' "$LF_TMP/asof.src"), distinct answers: $(cut -d' ' -f3- "$LF_TMP/asof.src" | sort -u | wc -l)"
[ "$(grep -c ' stage ' "$LF_TMP/asof.src")" -gt 3 ] || { echo "FAIL: too few moments to compare"; status=1; }
cmp -s "$LF_TMP/asof.src" "$LF_TMP/asof.dst" \
    || { diff "$LF_TMP/asof.src" "$LF_TMP/asof.dst" | head -20; echo "FAIL: as-of-record answers differ after the restore"; status=1; }

# Every view of the model and of the extension (found in the catalog, so views
# that later concerns add are compared too) gives the same answer.
view_answers() {
    lf_psql -d "$1" -At <<'SQL'
SET max_parallel_workers_per_gather = 0;
-- every column but those that depend on the clock (pipeline's age in stage, now() - stage_entered_at)
SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), '''') FROM (SELECT %s FROM %I.%I) t',
              schemaname || '.' || viewname,
              (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                WHERE attrelid = format('%I.%I', schemaname, viewname)::regclass AND attnum > 0 AND NOT attisdropped
                  AND attname <> 'age_in_stage_p50'),
              schemaname, viewname)
  FROM pg_views WHERE schemaname IN ('crm', 'leadfunnel') ORDER BY schemaname, viewname \gexec
SELECT 'as_of_record ' || count(*) || ' ' || md5(string_agg(h::text, E'\\n' ORDER BY h::text))
  FROM crm.lead_stage_history_as_of_record('2026-01-01') h;
SQL
}
view_answers "$src" > "$LF_TMP/views.src"
view_answers "$dst" > "$LF_TMP/views.dst"
echo "views compared: $(wc -l < "$LF_TMP/views.src") ($(cut -d' ' -f1 "$LF_TMP/views.src" | paste -sd' '))"
[ -s "$LF_TMP/views.src" ] || { echo "FAIL: no view found to compare"; status=1; }
cmp -s "$LF_TMP/views.src" "$LF_TMP/views.dst" \
    || { diff "$LF_TMP/views.src" "$LF_TMP/views.dst"; echo "FAIL: views answer differently after the restore"; status=1; }
checks=$(lf_psql -d "$dst" -At <<'SQL'
SELECT (SELECT count(*) FROM leadfunnel.funnel WHERE builtin) = 3
   AND (SELECT count(*) FROM leadfunnel.funnel) = 5
   AND (SELECT count(*) FROM leadfunnel.stage_label) = 9
   AND (SELECT count(*) FROM crm.lead_label_history WHERE lead_id = 100001) = 3
   AND (SELECT count(*) FROM leadfunnel.tracked_table) = 1
   AND leadfunnel.setting_value('customer_term') = '500 days'
   AND (SELECT count(*) FROM leadfunnel.verify_model('crm') WHERE problem NOT LIKE 'tracked %') = 0;
SQL
)
[ "$checks" = t ] || { echo "FAIL: built-ins duplicated or model inconsistent after restore"; status=1; }
# the restored triggers still guard moves and record them, with the user's rules
refused=$(lf_psql -d "$dst" -At -c "DO \$\$ BEGIN UPDATE crm.lead SET stage = 'visitor' WHERE lead_id = 100000; RAISE EXCEPTION 'not refused'; EXCEPTION WHEN check_violation THEN RAISE NOTICE 'refused'; END \$\$" 2>&1)
echo "$refused" | grep -q refused || { echo "FAIL: restored trigger did not refuse a backward move: $refused"; status=1; }
moved=$(lf_psql -d "$dst" -At -c "UPDATE crm.lead SET stage = 'sql', stage_entered_at = '2024-03-01' WHERE lead_id = 100000" \
              -c "SELECT count(*) FROM crm.lead_stage_history WHERE lead_id = 100000 AND superseded_at IS NULL")
[ "$moved" = 3 ] || { echo "FAIL: restored user rule opportunity -> sql did not record the move ($moved)"; status=1; }
# labels still move leads after the restore (the label cache is filled from the restored rows)
labelled=$(lf_psql -d "$dst" -At -c "UPDATE crm.lead SET stage_label = 'closedwon', stage_entered_at = '2024-03-01' WHERE lead_id = 100001" \
              -c "SELECT stage || ' ' || (SELECT count(*) FROM crm.lead_label_history WHERE lead_id = 100001) FROM crm.lead WHERE lead_id = 100001")
[ "$labelled" = "won 4" ] || { echo "FAIL: restored labels did not move the lead ($labelled)"; status=1; }
# the restored table is still tracked: its trigger mirrors a new row and a move, and the unknown label is listed
tracked=$(lf_psql -d "$dst" -At -c "INSERT INTO sync.deals VALUES ('h4', 'qualifiedtobuy', 40)" \
              -c "UPDATE sync.deals SET dealstage = 'contractsent' WHERE id = 'h1'" \
              -c "SELECT string_agg(external_id || ':' || stage, ' ' ORDER BY external_id) FROM crm.lead WHERE external_source = 'sync.deals'" \
              -c "SELECT stage_value FROM leadfunnel.tracking_check('sync.deals') WHERE kind = 'unmapped_label'")
[ "$tracked" = "$(printf 'h1:opportunity h2:won h4:sql\nContract Sent')" ] || { echo "FAIL: restored tracked table does not sync ($tracked)"; status=1; }
appendonly=$(lf_psql -d "$dst" -At -c "DO \$\$ BEGIN DELETE FROM crm.lead_stage_history; EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE 'guarded'; END \$\$" 2>&1)
echo "$appendonly" | grep -q guarded || { echo "FAIL: restored history is not append-only"; status=1; }
lf_psql -d postgres -c "DROP DATABASE $src" -c "DROP DATABASE $dst" >/dev/null
[ "$status" = 0 ] && echo "dump and restore: ok"
exit $status
