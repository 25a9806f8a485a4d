-- Tracked tables: a table the user already has, attached to a model with
-- track(); every batch shape of a loader (multi-row INSERT ... ON CONFLICT DO
-- UPDATE, MERGE, COPY, UPDATE ... FROM), record and enforce mode, DELETE and
-- TRUNCATE, the daily check, untrack().  Every expectation is checked against
-- the source table itself with plain SQL.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('trk');
SELECT leadfunnel.apply_preset('sf', 'salesforce_opportunity');

-- A CRM-synced opportunities table with Salesforce ids (text keys).
CREATE SCHEMA crm_sync;
CREATE TABLE crm_sync.opportunity (
    id             text PRIMARY KEY,
    account_id     bigint,
    name           text,
    stage_name     text,
    amount         numeric(12,2),
    last_stage_change timestamptz
);
INSERT INTO crm_sync.opportunity VALUES
    ('006A', 1, 'Acme renewal', 'Prospecting', 1000, '2024-01-01'),
    ('006B', 1, 'Acme upsell', 'Qualification', 2000, '2024-01-02'),
    ('006C', 2, 'Globex', 'Closed Won', 3000, '2024-01-03');   -- not an entry stage: flagged, recorded

-- argument errors
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'nosuch', 'id', 'stage_name')$$);
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'nosuch', 'sf', 'id', 'stage_name')$$);
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'id', 'stage')$$);
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'name', 'stage_name')$$);
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'id', 'stage_name', account_column => 'name')$$);
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'id', 'stage_name', changed_at_column => 'amount')$$);
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'id', 'stage_name', mode => 'strict')$$);
SELECT try($$SELECT leadfunnel.track(NULL, 'trk', 'sf', 'id', 'stage_name')$$);

SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'id', 'stage_name',
                        account_column => 'account_id', amount_column => 'amount',
                        changed_at_column => 'last_stage_change') AS initial_leads;
SELECT try($$SELECT leadfunnel.track('crm_sync.opportunity', 'trk', 'sf', 'id', 'stage_name')$$);
SELECT source, target_schema, funnel, id_column, stage_column, account_column, amount_column, changed_at_column, mode, source_name
  FROM leadfunnel.tracked_table;

-- The model mirrors the table: compared with the table through plain SQL.
CREATE VIEW public.trk_expected AS
SELECT o.id, o.account_id, r.stage, r.label, o.amount
  FROM crm_sync.opportunity o CROSS JOIN LATERAL leadfunnel.resolve_stage('sf', o.stage_name) r
 WHERE r.stage IS NOT NULL;
CREATE VIEW public.trk_mirror AS
SELECT l.external_id AS id, l.account_id, l.stage, l.stage_label AS label, l.amount
  FROM trk.lead l WHERE l.external_source = 'crm_sync.opportunity';
CREATE FUNCTION public.trk_diff() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM ((TABLE public.trk_expected EXCEPT TABLE public.trk_mirror)
                          UNION ALL (TABLE public.trk_mirror EXCEPT TABLE public.trk_expected)) d $$;
SELECT public.trk_diff() AS differences;
SELECT lead_id < 0 AS negative_id, external_id, account_id, stage, stage_label, amount, created_at, stage_entered_at
  FROM trk.lead ORDER BY external_id;

-- 1. A loader's batch: multi-row INSERT ... ON CONFLICT DO UPDATE with new rows,
--    moves, a move the funnel refuses (won -> Prospecting), an unknown label
--    (new and existing row), a backdated move.  All rows land.
INSERT INTO crm_sync.opportunity AS o VALUES
    ('006A', 1, 'Acme renewal', 'Needs Analysis', 1100, '2024-02-01'),
    ('006B', 1, 'Acme upsell', 'Closed Lost', 2000, '2024-02-02'),
    ('006C', 2, 'Globex', 'Prospecting', 3000, '2024-02-03'),
    ('006D', 3, 'Initech', 'Discovery', 500, '2024-02-04'),
    ('006E', 3, 'Initech 2', 'Qualification', 700, '2024-02-05')
ON CONFLICT (id) DO UPDATE SET stage_name = excluded.stage_name, amount = excluded.amount,
                               last_stage_change = excluded.last_stage_change;
UPDATE crm_sync.opportunity SET stage_name = 'Qualifcation', last_stage_change = '2024-02-06' WHERE id = '006E';
SELECT count(*) AS source_rows FROM crm_sync.opportunity;
-- one difference: 006E's new label is unknown, its lead keeps the last state it could read
SELECT public.trk_diff() AS differences;
SELECT external_id, stage, stage_label, amount, stage_entered_at FROM trk.lead ORDER BY external_id;
SELECT source, external_key, kind, stage_value, from_stage, to_stage FROM trk.tracking_issue ORDER BY issue_id;
SELECT kind, stage_value, from_stage, to_stage, rows, first_seen <= last_seen AS seen, example_key
  FROM leadfunnel.tracking_check('crm_sync.opportunity');
-- the refused start and move were recorded, the history rows flagged with the reason, and verify_model reports the issues
SELECT l.external_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.flag FROM trk.lead_stage_history h JOIN trk.lead l USING (account_id, lead_id)
 WHERE l.external_id = '006C' ORDER BY h.seq;
SELECT count(*) FILTER (WHERE h.flag IS NOT NULL) AS flagged_rows, count(*) FILTER (WHERE h.flag IS NULL) AS validated_rows FROM trk.lead_stage_history h;
SELECT lead_id < 0 AS negative_id, problem FROM leadfunnel.verify_model('trk') ORDER BY problem;

-- The DBA maps the unknown labels and resyncs; the lead appears and moves.
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability) VALUES
    ('sf', 'Discovery', 'sql', 11, 0.15), ('sf', 'Qualifcation', 'sql', 12, 0.10);
SELECT leadfunnel.track_resync('crm_sync.opportunity') > 0 AS resynced;
SELECT public.trk_diff() AS differences;
SELECT kind, stage_value, rows FROM leadfunnel.tracking_check('crm_sync.opportunity') WHERE kind = 'unmapped_label';
SELECT leadfunnel.tracking_acknowledge('crm_sync.opportunity') AS acknowledged;
SELECT count(*) AS open_issues FROM leadfunnel.tracking_check('crm_sync.opportunity');
SELECT * FROM leadfunnel.verify_model('trk');

-- 2. MERGE (PostgreSQL 15): updates, an insert, a label move within a stage.
MERGE INTO crm_sync.opportunity o
USING (VALUES ('006A', 'Value Proposition', 1200::numeric), ('006D', 'Needs Analysis', 600), ('006F', 'Prospecting', 50)) AS v(id, stage, amount)
   ON o.id = v.id
 WHEN MATCHED THEN UPDATE SET stage_name = v.stage, amount = v.amount, last_stage_change = '2024-03-01'
 WHEN NOT MATCHED THEN INSERT VALUES (v.id, 4, 'new', v.stage, v.amount, '2024-03-01');
SELECT public.trk_diff() AS differences;

-- 3. COPY, as bulk loaders do.
COPY crm_sync.opportunity FROM STDIN;
006G	5	copy one	Prospecting	10.00	2024-03-02 00:00:00+00
006H	5	copy two	Qualification	20.00	2024-03-02 00:00:00+00
006I	5	copy three	Negotiation/Review	30.00	2024-03-02 00:00:00+00
006J	5	copy four	Closed Lost	40.00	2024-03-02 00:00:00+00
\.
SELECT public.trk_diff() AS differences;

-- 4. UPDATE ... FROM a staging table.
CREATE TEMP TABLE staging (id text, stage_name text, amount numeric);
INSERT INTO staging VALUES ('006G', 'Qualification', 11), ('006H', 'Needs Analysis', 22), ('006I', 'Closed Won', 33), ('006A', 'Value Proposition', 1250),
                           ('006J', 'Needs Analysis', 44);
UPDATE crm_sync.opportunity o SET stage_name = s.stage_name, amount = s.amount, last_stage_change = '2024-03-03'
  FROM staging s WHERE s.id = o.id;
SELECT public.trk_diff() AS differences;
-- 006J started closed (record mode let it, flagged): no stage reached until it reopened
SELECT external_id, stage, stage_label, amount, max_stage, closed_at FROM trk.lead WHERE external_id IN ('006A', '006G', '006H', '006I', '006J') ORDER BY 1;
SELECT l.external_id, h.from_stage, h.to_stage, h.entered_at, h.flag FROM trk.lead_stage_history h JOIN trk.lead l USING (account_id, lead_id)
 WHERE l.external_id = '006J' ORDER BY h.seq;
SELECT kind, stage_value, from_stage, to_stage FROM trk.tracking_issue WHERE external_key = '006J' ORDER BY issue_id;
SELECT * FROM leadfunnel.verify_model('trk') WHERE problem NOT LIKE 'tracked %';
-- label history of 006A: Prospecting, Needs Analysis, Value Proposition; no row for an unchanged label
SELECT h.seq, h.stage, h.label, CASE WHEN h.entered_at > '2025-01-01' THEN 'now' ELSE h.entered_at::text END AS entered_at
  FROM trk.lead_label_history h JOIN trk.lead l USING (account_id, lead_id)
 WHERE l.external_id = '006A' ORDER BY h.seq;
-- an UPDATE that changes no mirrored column writes nothing
SELECT count(*) AS history_rows_before FROM trk.lead_stage_history \gset
UPDATE crm_sync.opportunity SET name = name || ' (renamed)';
SELECT count(*) - :history_rows_before AS new_history_rows FROM trk.lead_stage_history;
SELECT public.trk_diff() AS differences;

-- 5. DELETE and TRUNCATE of the table never delete history.
SELECT count(*) AS leads, (SELECT count(*) FROM trk.lead_stage_history) AS history FROM trk.lead \gset
DELETE FROM crm_sync.opportunity WHERE id = '006B';
TRUNCATE crm_sync.opportunity;
SELECT count(*) = :leads AS leads_kept, (SELECT count(*) FROM trk.lead_stage_history) = :history AS history_kept FROM trk.lead;
SELECT * FROM leadfunnel.verify_model('trk') WHERE problem NOT LIKE 'tracked %';

-- Enforce mode: an application table with integer keys and canonical stage
-- names; moves are refused exactly as in the model.
CREATE TABLE public.app_leads (id bigint PRIMARY KEY, company_id int, status text, value int);
INSERT INTO public.app_leads VALUES (501, 7, 'lead', 100);
SELECT leadfunnel.track('public.app_leads', 'trk', 'inside_sales', 'id', 'status', account_column => 'company_id',
                        amount_column => 'value', mode => 'enforce') AS initial_leads;
SELECT lead_id, account_id, funnel, stage, amount, external_source, external_id FROM trk.lead WHERE lead_id = 501;
UPDATE public.app_leads SET status = 'mql' WHERE id = 501;
SELECT try($$UPDATE public.app_leads SET status = 'won' WHERE id = 501$$);
SELECT try($$UPDATE public.app_leads SET status = 'Working' WHERE id = 501$$);
SELECT try($$INSERT INTO public.app_leads VALUES (502, 7, 'opportunity', 1)$$);
SELECT try($$INSERT INTO public.app_leads VALUES (502, 7, 'Demo', 1)$$);
-- the refused statements left nothing behind, in the table or the model
SELECT (SELECT status FROM public.app_leads WHERE id = 501) AS app_status, stage, max_stage FROM trk.lead WHERE lead_id = 501;
SELECT count(*) AS app_rows, (SELECT count(*) FROM trk.lead WHERE lead_id = 502) AS model_rows FROM public.app_leads WHERE id = 502;
-- labels of the funnel work in enforce mode too
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('inside_sales', 'Working', 'tal', 1);
UPDATE public.app_leads SET status = 'Working' WHERE id = 501;
SELECT stage, stage_label FROM trk.lead WHERE lead_id = 501;
-- uuid keys
CREATE TABLE public.uuid_leads (id uuid PRIMARY KEY, status text);
SELECT leadfunnel.track('public.uuid_leads', 'trk', 'self_serve', 'id', 'status') AS initial_leads;
INSERT INTO public.uuid_leads VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'visitor'), ('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'lead');
UPDATE public.uuid_leads SET status = 'won' WHERE status = 'lead';
SELECT external_id, stage, max_stage, account_id = hashtextextended('public.uuid_leads:' || external_id, 0) AS own_account
  FROM trk.lead WHERE external_source = 'public.uuid_leads' ORDER BY external_id;
SELECT kind, stage_value, from_stage, to_stage FROM leadfunnel.tracking_check('public.uuid_leads');

-- untrack keeps the model as it is; the table is plain again
SELECT leadfunnel.untrack('public.app_leads');
UPDATE public.app_leads SET status = 'lead' WHERE id = 501;
SELECT stage FROM trk.lead WHERE lead_id = 501;
SELECT try($$SELECT leadfunnel.untrack('public.app_leads')$$);
SELECT try($$SELECT leadfunnel.tracking_check('public.app_leads')$$);
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'public.app_leads'::regclass;
SELECT leadfunnel.untrack('public.uuid_leads');

-- a loader without any privilege on the model writes its table; the sync runs as the model's owner
CREATE ROLE regress_lf_loader;
GRANT USAGE ON SCHEMA crm_sync TO regress_lf_loader;
GRANT INSERT, UPDATE, SELECT ON crm_sync.opportunity TO regress_lf_loader;
SET ROLE regress_lf_loader;
INSERT INTO crm_sync.opportunity VALUES ('006Z', 9, 'by loader', 'Prospecting', 1, '2024-04-01');
SELECT try($$SELECT count(*) FROM trk.lead$$);
SELECT try($$SELECT leadfunnel.track_resync('crm_sync.opportunity')$$);
RESET ROLE;
SELECT external_id, stage, changed_by FROM trk.lead l JOIN trk.lead_stage_history h USING (account_id, lead_id) WHERE external_id = '006Z';
-- the leads of the rows deleted and truncated above are all still there
SELECT count(*) AS leads_of_removed_rows FROM trk.lead l
 WHERE l.external_source = 'crm_sync.opportunity'
   AND NOT EXISTS (SELECT 1 FROM crm_sync.opportunity o WHERE o.id = l.external_id);

SELECT leadfunnel.untrack('crm_sync.opportunity');

-- New leads of a statement: their history and lifecycle are written
-- set-based by the sync (leadfunnel.tracking_batch_insert, on by default),
-- not by the row triggers (off).  The same batches, in one transaction (one
-- now()), through both paths into two models; every table of the models
-- compared row for row (EXCEPT ALL both ways; leads by their key, since the
-- lead_id of a text key is a sequence's).
SELECT leadfunnel.create_model('bat_a'), leadfunnel.create_model('bat_b');
CREATE TABLE public.bat_src_a (id text PRIMARY KEY, account_id bigint, stage_name text, amount numeric, changed timestamptz);
CREATE TABLE public.bat_src_b (LIKE public.bat_src_a INCLUDING ALL);
SELECT leadfunnel.track(format('public.%s', t)::regclass, m, 'sf', 'id', 'stage_name', account_column => 'account_id',
                        amount_column => 'amount', changed_at_column => 'changed')
  FROM (VALUES ('bat_src_a', 'bat_a'), ('bat_src_b', 'bat_b')) v(t, m);
-- which path wrote the history: the row trigger writes it one trigger level deeper than the sync
CREATE TABLE public.bat_depth (model text, depth int);
CREATE FUNCTION public.bat_note_depth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.bat_depth VALUES (TG_TABLE_SCHEMA, pg_trigger_depth()); RETURN NEW; END $$;
CREATE TRIGGER note_depth BEFORE INSERT ON bat_a.lead_stage_history FOR EACH ROW EXECUTE FUNCTION public.bat_note_depth();
CREATE TRIGGER note_depth BEFORE INSERT ON bat_b.lead_stage_history FOR EACH ROW EXECUTE FUNCTION public.bat_note_depth();
CREATE FUNCTION public.bat_batch(src regclass, base int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- 60 rows: every label of the preset (closed ones are refused starts), a
    -- canonical name, an unknown label; dated in the past, in the future or
    -- not at all; accounts shared by several rows, account 100 a customer
    -- already (its new leads are expansion: the motion trigger reads the facts)
    EXECUTE format($q$
        INSERT INTO %s
        SELECT 'B' || lpad((%s + g)::text, 4, '0'), CASE WHEN g %% 5 = 0 THEN 100 ELSE 1 + g %% 7 END,
               (ARRAY['Prospecting', 'Qualification', 'Needs Analysis', 'Value Proposition', 'Id. Decision Makers',
                      'Perception Analysis', 'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost',
                      'opportunity', 'Contract Sent'])[1 + g %% 12],
               g * 10, CASE g %% 3 WHEN 0 THEN NULL WHEN 1 THEN timestamptz '2024-05-01' + g * interval '1 hour'
                                  ELSE now() + interval '1 day' END
          FROM generate_series(1, 60) g$q$, src, base);
END $$;
BEGIN;
INSERT INTO public.bat_src_a VALUES ('W1', 100, 'Closed Won', 5, '2024-04-01');
SET LOCAL leadfunnel.tracking_batch_insert = off;
INSERT INTO public.bat_src_b VALUES ('W1', 100, 'Closed Won', 5, '2024-04-01');
SET LOCAL leadfunnel.tracking_batch_insert = on;
SELECT public.bat_batch('public.bat_src_a', 0);
-- a second batch: its leads land in accounts the first batch created and won
SELECT public.bat_batch('public.bat_src_a', 100);
SET LOCAL leadfunnel.tracking_batch_insert = off;
SELECT public.bat_batch('public.bat_src_b', 0);
SELECT public.bat_batch('public.bat_src_b', 100);
COMMIT;
-- Updated leads of a statement: their stage and label history, value
-- history and lifecycle are written set-based by the sync
-- (leadfunnel.tracking_batch_update, on by default), not by the row
-- triggers (off).  The same updates on both sides, in one transaction:
-- moves through labels and canonical names, moves the funnel refuses
-- (backwards, out of closed stages), moves between labels of one stage,
-- unknown labels, amounts changed alone, wins (accounts become customers),
-- losses; dated in the past, in the future or not at all; as UPDATE and as
-- an upsert that also inserts.
CREATE FUNCTION public.bat_update(src regclass, k int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($q$
        UPDATE %1$s s
           SET stage_name = (ARRAY['Needs Analysis', 'Value Proposition', 'Prospecting', 'Closed Won', 'Closed Lost',
                                   'Negotiation/Review', 'sql', 'Contract Sent', 'Perception Analysis', 'won'])[1 + (x.n + %2$s) %% 10],
               amount = CASE WHEN x.n %% 4 = 0 THEN s.amount ELSE s.amount + %2$s END,
               changed = CASE x.n %% 3 WHEN 0 THEN NULL WHEN 1 THEN timestamptz '2024-06-01' + (x.n + %2$s) * interval '1 hour'
                                       ELSE s.changed END
          FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM %1$s) x
         WHERE x.id = s.id AND x.n %% 7 <> 3$q$, src, k);
    -- amounts alone, stage names unchanged
    EXECUTE format($q$UPDATE %s SET amount = amount * 2 WHERE id LIKE 'B01%%'$q$, src);
    EXECUTE format($q$
        INSERT INTO %1$s
        SELECT id, account_id, 'Id. Decision Makers', amount + 1, NULL::timestamptz FROM %1$s WHERE id LIKE 'B00%%'
        UNION ALL SELECT 'U' || %2$s, 3, 'Value Proposition', 7, NULL
        ON CONFLICT (id) DO UPDATE SET stage_name = excluded.stage_name, amount = excluded.amount, changed = excluded.changed$q$,
        src, k);
END $$;
BEGIN;
SELECT public.bat_update('public.bat_src_a', 1), public.bat_update('public.bat_src_a', 2);
SET LOCAL leadfunnel.tracking_batch_update = off;
SELECT public.bat_update('public.bat_src_b', 1), public.bat_update('public.bat_src_b', 2);
COMMIT;
SELECT model, depth, count(*) AS history_rows FROM public.bat_depth GROUP BY 1, 2 ORDER BY 1, 2;
-- (the value history's recorded_at is the clock when the row was written, left out)
CREATE FUNCTION public.bat_rows(m name) RETURNS TABLE (kind text, r jsonb) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT 'lead', to_jsonb(l) - 'lead_id' - 'external_source' FROM %1$I.lead l
        UNION ALL
        SELECT 'stage history', to_jsonb(h) - 'lead_id' || jsonb_build_object('key', l.external_id)
          FROM %1$I.lead_stage_history h JOIN %1$I.lead l USING (account_id, lead_id)
        UNION ALL
        SELECT 'label history', to_jsonb(h) - 'lead_id' || jsonb_build_object('key', l.external_id)
          FROM %1$I.lead_label_history h JOIN %1$I.lead l USING (account_id, lead_id)
        UNION ALL
        SELECT 'value history', to_jsonb(h) - 'lead_id' - 'recorded_at' || jsonb_build_object('key', l.external_id)
          FROM %1$I.lead_value_history h JOIN %1$I.lead l USING (account_id, lead_id)
        UNION ALL
        SELECT 'account', to_jsonb(a) FROM %1$I.account a
        UNION ALL
        SELECT 'account event', to_jsonb(e) FROM %1$I.account_event e
        UNION ALL
        SELECT 'issue', to_jsonb(i) - 'issue_id' - 'source' - 'lead_id' FROM %1$I.tracking_issue i$q$, m);
END $$;
SELECT kind, count(*) AS rows_a FROM public.bat_rows('bat_a') GROUP BY kind ORDER BY kind;
SELECT count(*) AS differences
  FROM ((SELECT * FROM public.bat_rows('bat_a') EXCEPT ALL SELECT * FROM public.bat_rows('bat_b'))
        UNION ALL
        (SELECT * FROM public.bat_rows('bat_b') EXCEPT ALL SELECT * FROM public.bat_rows('bat_a'))) d;
-- not trivially equal: motions, flags, statuses, closed leads
SELECT r->>'motion' AS motion, count(*) FROM public.bat_rows('bat_a') WHERE kind = 'lead' GROUP BY 1 ORDER BY 1;
SELECT r->>'flag' AS flag, count(*) FROM public.bat_rows('bat_a') WHERE kind = 'stage history' GROUP BY 1 ORDER BY 1;
SELECT r->>'status' AS status, count(*) FROM public.bat_rows('bat_a') WHERE kind = 'account' GROUP BY 1 ORDER BY 1;
SELECT m, count(*) AS problems FROM unnest(ARRAY['bat_a', 'bat_b']) m, leadfunnel.verify_model(m) v
 WHERE v.problem NOT LIKE 'tracked %' GROUP BY m;
SELECT leadfunnel.untrack('public.bat_src_a'), leadfunnel.untrack('public.bat_src_b');

-- The sync inserts a statement's new leads itself, not through an INSERT
-- statement: no AFTER INSERT events for what it writes set-based, the
-- foreign-key check of the account done once for the batch (a locking read
-- of its accounts), the other keys' checks only for rows that have a key.
-- Every check fails as the row path's foreign-key triggers fail; where the
-- lead table has a statement trigger the sync runs the INSERT statement.
SELECT leadfunnel.create_model('fk_a');
CREATE TABLE public.fk_src (id text PRIMARY KEY, account_id bigint, stage_name text);
SELECT leadfunnel.track('public.fk_src', 'fk_a', 'sf', 'id', 'stage_name', account_column => 'account_id');
INSERT INTO fk_a.account (account_id) VALUES (778);
INSERT INTO fk_a.contact (contact_id, account_id) VALUES (6, 778);
-- a BEFORE trigger on lead deletes the account the sync created for a row
-- (as a concurrent transaction could, before the check), or gives a lead a
-- contact (missing for account 777, existing for 778)
CREATE FUNCTION public.fk_meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.account_id = 666 THEN
        DELETE FROM fk_a.account WHERE account_id = 666;
    ELSIF NEW.account_id IN (777, 778) THEN
        NEW.contact_id := NEW.account_id - 772;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fk_meddle BEFORE INSERT ON fk_a.lead FOR EACH ROW EXECUTE FUNCTION public.fk_meddle();
-- (the row path's errors come from inside its INSERT statement: its text, left out)
\set SHOW_CONTEXT never
INSERT INTO public.fk_src VALUES ('F1', 1, 'Prospecting'), ('F2', 666, 'Prospecting'), ('F3', 2, 'Prospecting');
INSERT INTO public.fk_src VALUES ('F1', 1, 'Prospecting'), ('F4', 777, 'Prospecting');
BEGIN;
SET LOCAL leadfunnel.tracking_batch_insert = off;
INSERT INTO public.fk_src VALUES ('F1', 1, 'Prospecting'), ('F2', 666, 'Prospecting'), ('F3', 2, 'Prospecting');
ROLLBACK;
BEGIN;
SET LOCAL leadfunnel.tracking_batch_insert = off;
INSERT INTO public.fk_src VALUES ('F1', 1, 'Prospecting'), ('F4', 777, 'Prospecting');
ROLLBACK;
-- an existing contact passes; rows without one are not checked
INSERT INTO public.fk_src VALUES ('F1', 1, 'Prospecting'), ('F5', 778, 'Prospecting'), ('F6', 3, 'Qualification');
SELECT external_id, account_id, contact_id, stage, stage_label FROM fk_a.lead ORDER BY external_id;
SELECT l.external_id, h.seq, h.to_stage FROM fk_a.lead_stage_history h JOIN fk_a.lead l USING (account_id, lead_id)
 ORDER BY 1;
-- the batch locks the accounts of its new leads (here one that existed
-- before) FOR KEY SHARE until it commits, as the per-row check does: the
-- lock is in the row's xmax (test/scripts/tracking_concurrency.sh has a
-- second session wait on it)
BEGIN;
INSERT INTO public.fk_src VALUES ('F7', 778, 'Prospecting'), ('F8', 778, 'Qualification');
SELECT account_id, xmax::text::bigint = txid_current() % 4294967296 AS locked_by_the_batch
  FROM fk_a.account WHERE account_id IN (1, 778) ORDER BY 1;
ROLLBACK;
BEGIN;
SET LOCAL leadfunnel.tracking_batch_insert = off;
INSERT INTO public.fk_src VALUES ('F7', 778, 'Prospecting'), ('F8', 778, 'Qualification');
SELECT account_id, xmax::text::bigint = txid_current() % 4294967296 AS locked_by_the_batch
  FROM fk_a.account WHERE account_id IN (1, 778) ORDER BY 1;
ROLLBACK;
-- a statement trigger on lead: the sync inserts through the INSERT statement, which fires it
CREATE TABLE public.fk_statements (n int);
CREATE FUNCTION public.fk_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.fk_statements VALUES (1); RETURN NULL; END $$;
CREATE TRIGGER fk_count AFTER INSERT ON fk_a.lead FOR EACH STATEMENT EXECUTE FUNCTION public.fk_count();
INSERT INTO public.fk_src VALUES ('F8', 4, 'Prospecting'), ('F9', 4, 'Needs Analysis');
INSERT INTO public.fk_src VALUES ('F10', 666, 'Prospecting');
\set SHOW_CONTEXT errors
SELECT count(*) AS statements FROM public.fk_statements;
SELECT count(*) AS leads, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM fk_a.lead_stage_history h
                                                         WHERE h.lead_id = l.lead_id)) AS with_history
  FROM fk_a.lead l;
SELECT leadfunnel.untrack('public.fk_src');

-- Record mode gives the model's lead fillfactor 50 (unless its owner chose
-- one): a re-sync that moves every lead in one statement updates each lead on
-- its page (HOT: none of the columns the sync sets is indexed).  With lead's
-- default fillfactor (100) the pages are full and almost none would be HOT.
SELECT leadfunnel.create_model('hot_a'), leadfunnel.create_model('hot_b');
ALTER TABLE hot_b.lead SET (fillfactor = 80);
CREATE TABLE public.hot_src (id text PRIMARY KEY, account_id bigint, stage_name text, amount numeric);
CREATE TABLE public.hot_src_b (LIKE public.hot_src INCLUDING ALL);
SELECT leadfunnel.track(format('public.%s', t)::regclass, m, 'sf', 'id', 'stage_name', account_column => 'account_id',
                        amount_column => 'amount')
  FROM (VALUES ('hot_src', 'hot_a'), ('hot_src_b', 'hot_b')) v(t, m);
SELECT c.oid::regclass AS lead_table, c.reloptions FROM pg_class c
 WHERE c.oid IN ('hot_a.lead'::regclass, 'hot_b.lead'::regclass, 'trk.lead'::regclass) ORDER BY 1::text;
-- the same 1,000 rows into both; then one statement moves every row.  The
-- label grows by two bytes, so about one lead per page (the last) finds no
-- room at fillfactor 50: at least 90 % HOT there, far fewer at 80.
INSERT INTO public.hot_src SELECT 'H' || g, 1 + g % 20, 'Prospecting', g FROM generate_series(1, 1000) g;
INSERT INTO public.hot_src_b SELECT * FROM public.hot_src;
SELECT m, pg_relation_size(format('%s.lead', m)) / current_setting('block_size')::int > 10 AS several_pages
  FROM unnest(ARRAY['hot_a', 'hot_b']) m;
BEGIN;
UPDATE public.hot_src SET stage_name = 'Qualification', amount = amount + 1;
UPDATE public.hot_src_b SET stage_name = 'Qualification', amount = amount + 1;
SELECT m, pg_stat_get_xact_tuples_updated(format('%s.lead', m)::regclass) AS leads_updated,
       pg_stat_get_xact_tuples_hot_updated(format('%s.lead', m)::regclass) * 10
           >= pg_stat_get_xact_tuples_updated(format('%s.lead', m)::regclass) * 9 AS at_least_90_percent_hot
  FROM unnest(ARRAY['hot_a', 'hot_b']) m;
COMMIT;
SELECT count(*) FILTER (WHERE stage = 'sql') AS moved, count(*) AS leads FROM hot_a.lead;
SELECT leadfunnel.untrack('public.hot_src'), leadfunnel.untrack('public.hot_src_b');

SET client_min_messages = warning;
DROP SCHEMA trk, crm_sync, bat_a, bat_b, hot_a, hot_b, fk_a CASCADE;
DROP TABLE public.app_leads, public.uuid_leads, public.bat_src_a, public.bat_src_b, public.bat_depth, public.hot_src, public.hot_src_b,
    public.fk_src, public.fk_statements;
DROP FUNCTION public.bat_rows(name), public.bat_batch(regclass, int), public.bat_update(regclass, int), public.bat_note_depth(),
    public.fk_meddle(), public.fk_count();
DROP VIEW IF EXISTS public.trk_expected, public.trk_mirror;
DROP FUNCTION IF EXISTS public.trk_diff();
RESET client_min_messages;
DROP ROLE regress_lf_loader;
DELETE FROM leadfunnel.stage_label WHERE funnel = 'inside_sales';
DELETE FROM leadfunnel.funnel WHERE name = 'sf';
