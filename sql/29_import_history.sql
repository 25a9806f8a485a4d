-- leadfunnel.import_history(): CRM history rows in any order, with
-- duplicates, merged with the history there in time order.  Checked against
-- a reference model built by moving the same leads in time order with plain
-- UPDATEs (EXCEPT both ways on history, leads, accounts and every view).
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('imp');
SELECT leadfunnel.create_model('ref');
SELECT format('INSERT INTO %I.account (account_id, name) SELECT g, %L || g FROM generate_series(1, 40) g', m, 'account ')
  FROM unnest(ARRAY['imp', 'ref']) m \gexec
SELECT format('INSERT INTO %I.contact (contact_id, account_id, opt_in) SELECT g, g, g %% 3 = 0 FROM generate_series(1, 40) g', m)
  FROM unnest(ARRAY['imp', 'ref']) m \gexec

-- 300 leads, each a path through its funnel along its allowed moves (random
-- but fixed by setseed), dated at increasing times before 2026.
SELECT setseed(0.13);
CREATE TEMP TABLE path (lead_id bigint, account_id bigint, funnel text, seq int, stage leadfunnel.lead_stage, changed_at timestamptz);
DO $$
DECLARE
    f text; cur leadfunnel.lead_stage; nxt leadfunnel.lead_stage[]; t timestamptz; k int;
BEGIN
    FOR i IN 1..300 LOOP
        f := (ARRAY['enterprise', 'inside_sales', 'self_serve'])[1 + i % 3];
        cur := (leadfunnel.entry_stages(f))[1 + floor(random() * cardinality(leadfunnel.entry_stages(f)))::int];
        t := timestamptz '2024-01-01' + random() * interval '400 days';
        k := 1;
        INSERT INTO path VALUES (i, 1 + i % 40, f, k, cur, t);
        WHILE k < 7 AND random() < 0.8 LOOP
            nxt := leadfunnel.allowed_next(f, cur);
            EXIT WHEN cardinality(nxt) = 0;
            cur := nxt[1 + floor(random() * cardinality(nxt))::int];
            t := t + random() * interval '30 days' + interval '1 minute';
            k := k + 1;
            INSERT INTO path VALUES (i, 1 + i % 40, f, k, cur, t);
        END LOOP;
    END LOOP;
END $$;
SELECT count(*) AS moves, count(DISTINCT lead_id) AS leads, max(seq) AS longest FROM path;

-- The reference: insert each lead in its first stage, then move it in time order.
INSERT INTO ref.lead (lead_id, account_id, contact_id, funnel, stage, created_at)
SELECT lead_id, account_id, CASE WHEN lead_id % 2 = 0 THEN account_id END, funnel, stage, changed_at FROM path WHERE seq = 1;
DO $$
BEGIN
    FOR k IN 2..(SELECT max(seq) FROM path) LOOP
        UPDATE ref.lead l SET stage = p.stage, stage_entered_at = p.changed_at
          FROM path p WHERE p.lead_id = l.lead_id AND p.seq = k;
    END LOOP;
END $$;
-- (the leads were all inserted before any was moved: their motions as the final facts say)
SELECT leadfunnel.refresh_lifecycle('ref', true) IS NOT NULL AS refreshed;

-- The import: leads created from the first rows that name account and funnel;
-- first half of the moves (chosen at random), in random order.
CREATE TABLE public.crm_export (lead_id bigint, stage text, changed_at timestamptz, account_id bigint, funnel text,
                                changed_by name, reason text);
INSERT INTO public.crm_export
SELECT lead_id, stage::text, changed_at, account_id, funnel, NULL, NULL FROM path WHERE random() < 0.5 ORDER BY random();
-- half of the leads exist already, in their first stage
INSERT INTO imp.lead (lead_id, account_id, contact_id, funnel, stage, created_at)
SELECT lead_id, account_id, account_id, funnel, stage, changed_at FROM path WHERE seq = 1 AND lead_id % 2 = 0;
SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export');
SELECT count(*) AS violations FROM leadfunnel.verify_model('imp');
CREATE TEMP TABLE tx (step text, at timestamptz);
INSERT INTO tx SELECT 'after the first import', now();
SELECT pg_sleep(0.01);

-- Then all of them, shuffled, with 10 % duplicated: the rows already
-- there are dropped, the rest merged before, between and after them.
TRUNCATE public.crm_export;
INSERT INTO public.crm_export
SELECT lead_id, stage::text, changed_at, account_id, funnel, NULL, NULL
  FROM (SELECT * FROM path UNION ALL SELECT * FROM path WHERE random() < 0.1) p ORDER BY random();
SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export');
SELECT count(*) AS violations FROM leadfunnel.verify_model('imp');

-- Equal to the reference, both ways.
CREATE TEMP VIEW hist_cmp AS
SELECT 'imp' AS m, lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason, flag FROM imp.lead_stage_history WHERE superseded_at IS NULL
UNION ALL
SELECT 'ref', lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason, flag FROM ref.lead_stage_history WHERE superseded_at IS NULL;
SELECT count(*) AS history_differences FROM (
    (SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason, flag FROM hist_cmp WHERE m = 'imp'
     EXCEPT SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason, flag FROM hist_cmp WHERE m = 'ref')
    UNION ALL
    (SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason, flag FROM hist_cmp WHERE m = 'ref'
     EXCEPT SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason, flag FROM hist_cmp WHERE m = 'imp')) d;
SELECT count(*) AS lead_differences FROM ((TABLE imp.lead EXCEPT TABLE ref.lead) UNION ALL (TABLE ref.lead EXCEPT TABLE imp.lead)) d;
SELECT count(*) AS account_differences FROM ((TABLE imp.account EXCEPT TABLE ref.account) UNION ALL (TABLE ref.account EXCEPT TABLE imp.account)) d;
SELECT count(*) AS contact_differences FROM ((TABLE imp.contact EXCEPT TABLE ref.contact) UNION ALL (TABLE ref.contact EXCEPT TABLE imp.contact)) d;
-- every view of the model (found in the catalog)
CREATE TEMP TABLE view_diff (view text, differences bigint, rows bigint);
SELECT format('INSERT INTO view_diff SELECT %L, (SELECT count(*) FROM ((TABLE imp.%I EXCEPT ALL TABLE ref.%I) UNION ALL (TABLE ref.%I EXCEPT ALL TABLE imp.%I)) d), (SELECT count(*) FROM imp.%I)',
              viewname, viewname, viewname, viewname, viewname, viewname)
  FROM pg_views WHERE schemaname = 'imp' ORDER BY viewname \gexec
SELECT view, differences, rows > 0 AS has_rows FROM view_diff ORDER BY view;

-- Idempotent: the same import again loads nothing and writes nothing.
SELECT count(*) AS rows_before FROM imp.lead_stage_history \gset
SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export');
SELECT count(*) - :rows_before AS rows_written FROM imp.lead_stage_history;

-- As of record: before the second import, what the first had loaded.
SELECT (SELECT count(*) FROM imp.lead_stage_history_as_of_record((SELECT at FROM tx)))
     = (SELECT count(*) FROM imp.lead_stage_history WHERE recorded_at <= (SELECT at FROM tx)
                                                     AND (superseded_at IS NULL OR superseded_at > (SELECT at FROM tx))) AS as_of_first_import,
       (SELECT count(*) FROM imp.lead_stage_history WHERE superseded_at IS NOT NULL) > 0 AS rows_were_superseded,
       (SELECT bool_and(superseded_reason = 'import_history from public.crm_export' AND superseded_by = current_user)
          FROM imp.lead_stage_history WHERE superseded_at IS NOT NULL) AS superseded_with_who_and_why;

-- Rows that cannot be loaded go to the reject table with the reason; the
-- rest loads.  Refused moves are loaded and flagged.
TRUNCATE public.crm_export;
INSERT INTO public.crm_export (lead_id, stage, changed_at, account_id, funnel, changed_by, reason) VALUES
    (9001, 'mql', '2025-06-01', NULL, NULL, 'alice', 'unknown lead'),
    (9002, 'lead', '2025-06-01', 999, 'enterprise', 'alice', 'unknown account'),
    (9003, 'lead', '2025-06-01', 1, 'nosuch', 'alice', 'unknown funnel'),
    (3, 'Qualified', '2025-06-01', NULL, NULL, 'alice', 'a label the model does not know'),
    (3, 'mql', now() + interval '1 day', NULL, NULL, 'alice', 'in the future'),
    (3, 'mql', NULL, NULL, NULL, 'alice', 'no time'),
    (3, 'mql', '2025-06-01', 7, NULL, 'alice', 'another account'),
    (NULL, 'mql', '2025-06-01', NULL, NULL, 'alice', 'no lead'),
    (9004, 'lead', '2025-06-01', 4, 'enterprise', 'bob', 'created'),
    (9004, 'sql', '2025-06-03', NULL, NULL, 'bob', 'skips stages: refused, loaded, flagged'),
    (9004, 'mql', '2025-06-02', NULL, NULL, 'bob', 'in between');
SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export');
SELECT source, source_row IS NOT NULL AS has_row, lead_id, account_id, funnel, stage, changed_by, reason, problem
  FROM imp.lead_stage_history_reject WHERE problem NOT LIKE 'time in the future%' ORDER BY reason;
SELECT count(*) AS future_rows FROM imp.lead_stage_history_reject WHERE problem LIKE 'time in the future%';
SELECT seq, from_stage, to_stage, entered_at, changed_by, reason, flag FROM imp.lead_stage_history WHERE lead_id = 9004 ORDER BY seq;
SELECT stage, max_stage, created_at, stage_entered_at, motion FROM imp.lead WHERE lead_id = 9004;
SELECT count(*) AS violations FROM leadfunnel.verify_model('imp');

-- An earlier entry of a stage a lead is in supersedes the later one.
SELECT lead_id, entered_at AS mql_at FROM imp.lead_stage_history
 WHERE to_stage = 'mql' AND seq = 2 AND superseded_at IS NULL AND lead_id = (SELECT min(lead_id) FROM path WHERE stage = 'mql' AND seq = 2) \gset
TRUNCATE public.crm_export;
INSERT INTO public.crm_export (lead_id, stage, changed_at) VALUES (:lead_id, 'mql', timestamptz :'mql_at' - interval '1 hour');
SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export');
SELECT seq, to_stage, entered_at = timestamptz :'mql_at' - interval '1 hour' AS earlier, left_at IS NOT NULL AS closed, superseded_at IS NOT NULL AS superseded
  FROM imp.lead_stage_history WHERE lead_id = :lead_id AND seq <= 2 ORDER BY superseded_at IS NULL, seq, superseded_at, to_stage;
SELECT count(*) AS violations FROM leadfunnel.verify_model('imp');

-- Moves that share a time keep their order.  A move that waited for a
-- concurrent one enters at that one's time (stage_entered_at never goes
-- back); here both are made in one transaction, so they share now().  The
-- lead is lost, then reopened: in stage order "lost" would come after
-- "lead", the reopening would be dropped as no move and the lead left lost.
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('regress_reopen', '{visitor,lead,mql,won}');
INSERT INTO leadfunnel.funnel_transition (funnel, from_stage, to_stage) VALUES ('regress_reopen', 'lost', 'lead');
INSERT INTO imp.lead (lead_id, account_id, funnel, created_at) VALUES (9100, 5, 'regress_reopen', '2025-01-01');
BEGIN;
UPDATE imp.lead SET stage = 'lost' WHERE lead_id = 9100;
UPDATE imp.lead SET stage = 'lead' WHERE lead_id = 9100;
COMMIT;
CREATE TABLE public.tie_export AS SELECT 9100 AS lead_id, 'visitor' AS stage, timestamptz '2024-06-01' AS changed_at;
SELECT * FROM leadfunnel.import_history('imp', 'public.tie_export');
SELECT seq, from_stage, to_stage, entered_at > '2026-01-01' AS moved_lately
  FROM imp.lead_stage_history WHERE lead_id = 9100 AND superseded_at IS NULL ORDER BY seq;
SELECT stage FROM imp.lead WHERE lead_id = 9100;
SELECT count(*) AS violations FROM leadfunnel.verify_model('imp');

-- A source lacking a column, a source the caller cannot read, a role
-- without the privileges.
CREATE TABLE public.bad_export (lead_id bigint, changed_at timestamptz);
SELECT try($$SELECT * FROM leadfunnel.import_history('imp', 'public.bad_export')$$);
SELECT try($$SELECT * FROM leadfunnel.import_history('imp', NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.import_history('nosuch', 'public.crm_export')$$);
CREATE ROLE regress_lf_loader;
GRANT USAGE ON SCHEMA imp TO regress_lf_loader;
SET ROLE regress_lf_loader;
SELECT try($$SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION leadfunnel.import_history(name, regclass) TO regress_lf_loader;
SET ROLE regress_lf_loader;
SELECT try($$SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export')$$);
RESET ROLE;
GRANT UPDATE ON imp.lead TO regress_lf_loader;
SET ROLE regress_lf_loader;
SELECT try($$SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export')$$);
RESET ROLE;
GRANT SELECT ON public.crm_export TO regress_lf_loader;
INSERT INTO public.crm_export (lead_id, stage, changed_at, account_id, funnel) VALUES (9005, 'lead', '2025-07-01', 5, 'enterprise');
SET ROLE regress_lf_loader;
SELECT try($$SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export')$$);
RESET ROLE;
GRANT INSERT ON imp.lead TO regress_lf_loader;
SET ROLE regress_lf_loader;
SELECT * FROM leadfunnel.import_history('imp', 'public.crm_export');
RESET ROLE;
SELECT lead_id, to_stage, changed_by FROM imp.lead_stage_history WHERE lead_id = 9005;
SELECT count(*) AS violations FROM leadfunnel.verify_model('imp');

-- The history's constraints hold for the rows an import appends (in batches,
-- as COPY writes them): a CHECK its owner added refuses a row, and the whole
-- import with it.
ALTER TABLE imp.lead_stage_history ADD CONSTRAINT regress_no_robots CHECK (changed_by <> 'robot');
CREATE TABLE public.robot_export AS
SELECT 9005::bigint AS lead_id, 'mql'::text AS stage, timestamptz '2025-07-02' AS changed_at, 'robot'::name AS changed_by;
SELECT split_part(try($$SELECT * FROM leadfunnel.import_history('imp', 'public.robot_export')$$), E'\n', 1) AS refused;  -- (DETAIL has now())
SELECT count(*) AS robot_rows FROM imp.lead_stage_history WHERE lead_id = 9005 AND changed_by = 'robot';
ALTER TABLE imp.lead_stage_history DROP CONSTRAINT regress_no_robots;
SELECT * FROM leadfunnel.import_history('imp', 'public.robot_export');
SELECT count(*) AS robot_rows FROM imp.lead_stage_history WHERE lead_id = 9005 AND changed_by = 'robot';

SET client_min_messages = warning;
DROP SCHEMA imp, ref CASCADE;
DROP TABLE public.crm_export, public.bad_export, public.tie_export, public.robot_export;
DELETE FROM leadfunnel.funnel WHERE name = 'regress_reopen';
RESET client_min_messages;
DROP OWNED BY regress_lf_loader;
DROP ROLE regress_lf_loader;
