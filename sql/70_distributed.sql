-- The distributed model on plain PostgreSQL: create_model(..., distributed =>
-- true) without Citus makes the keys Citus needs and stays local; it must be
-- the single-node model except for its keys, and behave the same.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('dist', distributed => true);
SELECT leadfunnel.create_model('single');
SELECT try($$SELECT leadfunnel.create_model('dist2', distributed => NULL)$$);
SELECT to_regnamespace('dist2') IS NULL AS nothing_created;
SELECT leadfunnel.model_is_distributed('dist') AS dist, leadfunnel.model_is_distributed('single') AS single;
SELECT try($$SELECT leadfunnel.model_is_distributed('nosuch')$$);
-- without Citus there is nothing to distribute
SELECT leadfunnel.model_distribute_table('dist', 'lead') AS distributed_now;

-- Keys: every primary and unique key of the distributed model includes account_id.
CREATE TEMP VIEW model_keys AS
SELECT n.nspname AS model, c.relname AS tbl, k.conname, k.contype,
       (SELECT array_agg(a.attname ORDER BY u.ord)
          FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS cols,
       k.confrelid::regclass AS refs,
       (SELECT array_agg(a.attname ORDER BY u.ord)
          FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum) AS ref_cols
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('dist', 'single') AND k.contype IN ('p', 'u', 'f')
UNION ALL
-- unique indexes that are no constraint (the history's key of the current truth, partial)
SELECT n.nspname, c.relname, ic.relname, 'u',
       (SELECT array_agg(a.attname ORDER BY u.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY u(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum), NULL, NULL
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('dist', 'single') AND i.indisunique
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid);

SELECT tbl, conname, contype, cols FROM model_keys
 WHERE model = 'dist' AND contype IN ('p', 'u') ORDER BY tbl, conname;
SELECT tbl, conname, cols FROM model_keys
 WHERE model = 'dist' AND contype IN ('p', 'u') AND tbl NOT IN ('campaign', 'tracking_issue')  -- a reference table; a coordinator-local table (doc/citus.md)
   AND NOT 'account_id' = ANY (cols);

-- Foreign keys: the same in both models; between the account's tables they
-- include account_id on both sides; only campaign (a reference table on
-- Citus) is referenced without it; none leaves the model's schema.
SELECT tbl, conname, cols, refs, ref_cols FROM model_keys
 WHERE model = 'dist' AND contype = 'f' ORDER BY tbl, conname;
(SELECT tbl, conname, cols, ref_cols FROM model_keys WHERE model = 'dist' AND contype = 'f'
 EXCEPT
 SELECT tbl, conname, cols, ref_cols FROM model_keys WHERE model = 'single' AND contype = 'f')
UNION ALL
(SELECT tbl, conname, cols, ref_cols FROM model_keys WHERE model = 'single' AND contype = 'f'
 EXCEPT
 SELECT tbl, conname, cols, ref_cols FROM model_keys WHERE model = 'dist' AND contype = 'f');
SELECT tbl, conname FROM model_keys
 WHERE model = 'dist' AND contype = 'f'
   AND NOT ('account_id' = ANY (cols) AND 'account_id' = ANY (ref_cols))
   AND refs <> 'dist.campaign'::regclass;
SELECT k.conrelid::regclass, k.conname FROM pg_constraint k
 WHERE k.contype = 'f' AND k.conrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'dist'::regnamespace)
   AND (SELECT relnamespace FROM pg_class WHERE oid = k.confrelid) <> 'dist'::regnamespace;

-- Columns: the same names, order, types, nullability and defaults.
CREATE TEMP VIEW model_columns AS
SELECT table_schema AS model, table_name, ordinal_position, column_name, data_type, udt_schema, udt_name,
       is_nullable, column_default
  FROM information_schema.columns WHERE table_schema IN ('dist', 'single');
SELECT count(*) AS columns, count(DISTINCT table_name) AS tables FROM model_columns WHERE model = 'dist';
(SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default
   FROM model_columns WHERE model = 'dist'
 EXCEPT
 SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default
   FROM model_columns WHERE model = 'single')
UNION ALL
(SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default
   FROM model_columns WHERE model = 'single'
 EXCEPT
 SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default
   FROM model_columns WHERE model = 'dist');

-- Indexes and triggers: the only differences are the keys (and the lead_id
-- index that keeps lookups by lead_id alone cheap on every shard).
CREATE TEMP VIEW model_objects AS
SELECT schemaname AS model, 'index' AS kind, indexname AS name,
       replace(indexdef, schemaname || '.', '<model>.') AS def
  FROM pg_indexes WHERE schemaname IN ('dist', 'single')
UNION ALL
SELECT n.nspname, 'trigger', t.tgname, replace(pg_get_triggerdef(t.oid), n.nspname || '.', '<model>.')
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('dist', 'single') AND NOT t.tgisinternal;
SELECT 'only distributed' AS model, kind, name, def FROM
  (SELECT kind, name, def FROM model_objects WHERE model = 'dist'
   EXCEPT SELECT kind, name, def FROM model_objects WHERE model = 'single') d
UNION ALL
SELECT 'only single-node', kind, name, def FROM
  (SELECT kind, name, def FROM model_objects WHERE model = 'single'
   EXCEPT SELECT kind, name, def FROM model_objects WHERE model = 'dist') s
ORDER BY 1, 2, 3;
SELECT count(*) AS common_objects FROM
  (SELECT kind, name, def FROM model_objects WHERE model = 'dist'
   INTERSECT SELECT kind, name, def FROM model_objects WHERE model = 'single') c;

-- Lookups by lead_id alone stay index scans in both models.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM single.lead WHERE lead_id = 1;
EXPLAIN (COSTS OFF) SELECT * FROM dist.lead WHERE lead_id = 1;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- The same moves and the same errors, constraint names included.
CREATE TEMP TABLE moves (model text, step int, stmt text, outcome text);
CREATE FUNCTION pg_temp.play(m text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    steps text[] := ARRAY[
        $q$INSERT INTO %1$s.account (account_id, name) VALUES (1, 'Acme'), (2, 'Globex')$q$,
        $q$INSERT INTO %1$s.contact (contact_id, account_id, opt_in) VALUES (11, 1, true), (21, 2, false)$q$,
        $q$INSERT INTO %1$s.campaign (campaign_id, name) VALUES (100, 'Webinar')$q$,
        $q$INSERT INTO %1$s.lead (lead_id, account_id, contact_id, funnel, created_at, stage, source_campaign_id)
           VALUES (1, 1, 11, 'enterprise', '2024-01-01 09:00', 'visitor', 100)$q$,
        $q$INSERT INTO %1$s.lead (lead_id, account_id, contact_id, funnel, created_at)
           VALUES (2, 2, 21, 'self_serve', '2024-01-02 09:00')$q$,
        $q$UPDATE %1$s.lead SET stage = 'lead', stage_entered_at = '2024-01-05' WHERE account_id = 1 AND lead_id = 1$q$,
        $q$UPDATE %1$s.lead SET stage = 'mql', stage_entered_at = '2024-01-09' WHERE lead_id = 1$q$,
        $q$UPDATE %1$s.lead SET stage = 'won' WHERE lead_id = 1$q$,
        $q$UPDATE %1$s.lead SET stage = 'tal', stage_entered_at = '2024-01-08' WHERE lead_id = 1$q$,
        $q$UPDATE %1$s.lead SET stage = 'mql', stage_entered_at = '2024-02-01' WHERE lead_id = 2$q$,
        $q$UPDATE %1$s.lead SET stage = 'won', stage_entered_at = '2024-03-01', close_reason = 'signed' WHERE lead_id = 2$q$,
        $q$UPDATE %1$s.lead SET stage = 'lost', stage_entered_at = '2024-03-02' WHERE lead_id = 2$q$,
        $q$UPDATE %1$s.lead SET max_stage = 'won' WHERE lead_id = 1$q$,
        $q$INSERT INTO %1$s.lead (lead_id, account_id, created_at) VALUES (3, 77, '2024-01-01')$q$,
        $q$INSERT INTO %1$s.lead (lead_id, account_id, contact_id, created_at) VALUES (3, 2, 11, '2024-01-01')$q$,
        $q$INSERT INTO %1$s.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01')$q$,
        $q$DELETE FROM %1$s.lead_stage_history WHERE lead_id = 1$q$,
        $q$INSERT INTO %1$s.touch (touch_id, campaign_id, account_id, lead_id, touched_at) VALUES (1, 100, 2, 1, '2024-01-03')$q$,
        $q$INSERT INTO %1$s.touch (touch_id, campaign_id, account_id, lead_id, touched_at) VALUES (1, 100, 1, 1, '2024-01-03')$q$];
BEGIN
    FOR i IN 1 .. cardinality(steps) LOOP
        INSERT INTO moves VALUES (m, i, format(steps[i], m), try(format(steps[i], m)));
    END LOOP;
END $$;
SELECT pg_temp.play('dist');
SELECT pg_temp.play('single');
SELECT step, outcome FROM moves WHERE model = 'dist' ORDER BY step;
SELECT d.step, d.outcome AS distributed, s.outcome AS single_node
  FROM moves d JOIN moves s ON s.step = d.step AND s.model = 'single'
 WHERE d.model = 'dist' AND d.outcome IS DISTINCT FROM s.outcome;
SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason
  FROM dist.lead_stage_history ORDER BY account_id, lead_id, seq;
(SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason FROM dist.lead_stage_history
 EXCEPT SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason FROM single.lead_stage_history)
UNION ALL
(SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason FROM single.lead_stage_history
 EXCEPT SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, reason FROM dist.lead_stage_history);
SELECT * FROM leadfunnel.verify_model('dist');

-- The one behaviour that differs by design: lead_id is unique per account in
-- the distributed model (Citus cannot enforce global uniqueness), globally
-- in the single-node model.
SELECT try($$INSERT INTO dist.lead (lead_id, account_id, created_at) VALUES (1, 2, '2024-01-01')$$) AS distributed,
       try($$INSERT INTO single.lead (lead_id, account_id, created_at) VALUES (1, 2, '2024-01-01')$$) AS single_node;

-- Both models run the same demo generator to the same data.
SET client_min_messages = warning;
DROP SCHEMA dist, single CASCADE;
RESET client_min_messages;
SELECT leadfunnel.create_model('dist', distributed => true);
SELECT leadfunnel.create_model('single');
SELECT * FROM leadfunnel.generate_demo('dist', 300, 0.1);
SELECT * FROM leadfunnel.generate_demo('single', 300, 0.1);
SELECT (SELECT md5(string_agg(l::text, ',' ORDER BY lead_id)) FROM dist.lead l)
     = (SELECT md5(string_agg(l::text, ',' ORDER BY lead_id)) FROM single.lead l) AS same_leads,
       -- (recorded_at: when each model's transaction ran)
       (SELECT md5(string_agg((to_jsonb(h) - 'recorded_at')::text, ',' ORDER BY lead_id, seq)) FROM dist.lead_stage_history h)
     = (SELECT md5(string_agg((to_jsonb(h) - 'recorded_at')::text, ',' ORDER BY lead_id, seq)) FROM single.lead_stage_history h) AS same_history;
SELECT count(*) AS problems FROM leadfunnel.verify_model('dist');

-- Every analytics and attribution view gives the same rows in both models on
-- the same data (multiset difference both ways), also in another time zone
-- (conversion_by_segment's period is the month in the session's TimeZone).
CREATE FUNCTION pg_temp.view_diff(v text) RETURNS TABLE (view text, rows bigint, only_dist bigint, only_single bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT %1$L::text, (SELECT count(*) FROM dist.%1$I),
               (SELECT count(*) FROM (SELECT * FROM dist.%1$I EXCEPT ALL SELECT * FROM single.%1$I) d),
               (SELECT count(*) FROM (SELECT * FROM single.%1$I EXCEPT ALL SELECT * FROM dist.%1$I) s)$q$, v);
END $$;
CREATE TEMP VIEW model_views AS
SELECT d.* FROM unnest(ARRAY['funnel_summary', 'conversion_by_segment', 'cycle_times', 'dropoff', 'campaign_pipeline',
                             'campaign_attribution', 'lead_touch', 'lead_touch_path', 'touch_attribution',
                             'account_lifecycle', 'waterfall', 'conversion_by_cohort', 'pipeline',
                             'lead_channel_path', 'channel_attribution', 'attribution_coverage']) v, pg_temp.view_diff(v) d;
SELECT * FROM model_views;
SET TimeZone = 'Asia/Tokyo';
SELECT * FROM model_views WHERE view IN ('conversion_by_segment', 'waterfall', 'conversion_by_cohort', 'attribution_coverage');
SET TimeZone = 'UTC';
-- the pipeline functions too, with amounts and close dates changed the same
-- way in both (dated by the moves of the same UPDATE)
CREATE FUNCTION pg_temp.change_values(m text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($q$UPDATE %s.lead SET amount = amount * 2, expected_close_date = '2026-03-31' WHERE lead_id %% 5 = 0$q$, m);
    EXECUTE format($q$UPDATE %s.lead SET expected_close_date = '2026-01-31' WHERE lead_id %% 10 = 0$q$, m);
END $$;
SELECT pg_temp.change_values('dist'), pg_temp.change_values('single');
CREATE TEMP VIEW model_functions AS
SELECT 'dist' AS model, 'pipeline_at ' || t AS what, f::text AS row FROM unnest(ARRAY['2024-06-01', '2025-01-01', '2025-12-01']) t, dist.pipeline_at(t::timestamptz) f
UNION ALL SELECT 'single', 'pipeline_at ' || t, f::text FROM unnest(ARRAY['2024-06-01', '2025-01-01', '2025-12-01']) t, single.pipeline_at(t::timestamptz) f
UNION ALL SELECT 'dist', 'movement', f::text FROM dist.pipeline_movement('2024-06-01', '2025-12-01') f
UNION ALL SELECT 'single', 'movement', f::text FROM single.pipeline_movement('2024-06-01', '2025-12-01') f
UNION ALL SELECT 'dist', 'movement to now', f::text FROM dist.pipeline_movement('2025-06-01', now()) f
UNION ALL SELECT 'single', 'movement to now', f::text FROM single.pipeline_movement('2025-06-01', now()) f
UNION ALL SELECT 'dist', 'time_to_convert', f::text FROM dist.time_to_convert('lead', 'opportunity') f
UNION ALL SELECT 'single', 'time_to_convert', f::text FROM single.time_to_convert('lead', 'opportunity') f;
SELECT what, count(*) FILTER (WHERE model = 'dist') AS rows,
       count(*) FILTER (WHERE model = 'dist') - count(*) FILTER (WHERE model = 'single') AS rows_differ
  FROM model_functions GROUP BY what ORDER BY what;
(SELECT what, row FROM model_functions WHERE model = 'dist' EXCEPT ALL SELECT what, row FROM model_functions WHERE model = 'single')
UNION ALL
(SELECT what, row FROM model_functions WHERE model = 'single' EXCEPT ALL SELECT what, row FROM model_functions WHERE model = 'dist');

-- The lifecycle in both models.  account_event is keyed by account_id (its
-- key and foreign key are listed above with the others: the key starts with
-- account_id, the foreign key points at the model's account).  The demo's
-- churns and advocates, and every status derived from them, are the same.
CREATE TEMP VIEW lifecycle_state AS
SELECT 'dist' AS model, 'account' AS what, account_id AS id, (status, status_since, churned_at, is_advocate)::text AS state FROM dist.account
UNION ALL SELECT 'single', 'account', account_id, (status, status_since, churned_at, is_advocate)::text FROM single.account
UNION ALL SELECT 'dist', 'contact', contact_id, status::text FROM dist.contact
UNION ALL SELECT 'single', 'contact', contact_id, status::text FROM single.contact
UNION ALL SELECT 'dist', 'lead', lead_id, motion::text FROM dist.lead
UNION ALL SELECT 'single', 'lead', lead_id, motion::text FROM single.lead
UNION ALL SELECT 'dist', 'event', account_id, (event_at, event)::text FROM dist.account_event
UNION ALL SELECT 'single', 'event', account_id, (event_at, event)::text FROM single.account_event
UNION ALL SELECT 'dist', 'status at ' || t, account_id, dist.account_status_at(account_id, t::timestamptz)::text
  FROM dist.account, unnest(ARRAY['2024-01-01', '2024-09-01', '2025-06-01', '2025-12-31']) t
UNION ALL SELECT 'single', 'status at ' || t, account_id, single.account_status_at(account_id, t::timestamptz)::text
  FROM single.account, unnest(ARRAY['2024-01-01', '2024-09-01', '2025-06-01', '2025-12-31']) t
UNION ALL SELECT 'dist', 'history', a.account_id, h::text FROM dist.account a, dist.account_status_history(a.account_id) h
UNION ALL SELECT 'single', 'history', a.account_id, h::text FROM single.account a, single.account_status_history(a.account_id) h
UNION ALL SELECT 'dist', 'view', account_id, v::text FROM dist.account_lifecycle v
UNION ALL SELECT 'single', 'view', account_id, v::text FROM single.account_lifecycle v;
CREATE TEMP VIEW lifecycle_diff AS
(SELECT 'only distributed' AS side, what, id, state FROM lifecycle_state WHERE model = 'dist'
 EXCEPT ALL SELECT 'only distributed', what, id, state FROM lifecycle_state WHERE model = 'single')
UNION ALL
(SELECT 'only single-node', what, id, state FROM lifecycle_state WHERE model = 'single'
 EXCEPT ALL SELECT 'only single-node', what, id, state FROM lifecycle_state WHERE model = 'dist');
SELECT what, count(*) FROM lifecycle_state WHERE model = 'dist' GROUP BY what ORDER BY what;
SELECT * FROM lifecycle_diff ORDER BY 1, 2, 3, 4;
-- the same wins, churns, advocate changes and new leads in both (one
-- transaction: the advocate changes are dated by its start in both)
-- (picked by facts, not by statuses, which depend on the clock)
CREATE TEMP TABLE picks AS
WITH won AS (SELECT DISTINCT account_id FROM single.lead_stage_history WHERE to_stage = 'won')
SELECT 'win' AS kind, account_id AS id
  FROM (SELECT account_id FROM single.account WHERE account_id NOT IN (SELECT account_id FROM won) ORDER BY account_id LIMIT 2) x
UNION ALL SELECT 'churn', account_id FROM (SELECT account_id FROM won ORDER BY account_id LIMIT 2) x
UNION ALL SELECT 'flip advocate', account_id FROM (SELECT account_id FROM won ORDER BY account_id DESC LIMIT 2) x
UNION ALL SELECT 'new lead', account_id FROM (SELECT account_id FROM won ORDER BY account_id OFFSET 2 LIMIT 3) x;
SELECT kind, count(*) FROM picks GROUP BY kind ORDER BY kind;
BEGIN;
CREATE FUNCTION pg_temp.live(m text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- prospects win a new self-serve lead (visitor, lead, mql, won)
    EXECUTE format($q$INSERT INTO %s.lead (lead_id, account_id, funnel, created_at, stage)
                      SELECT 2000 + id, id, 'self_serve', '2025-12-01', 'lead' FROM picks WHERE kind = 'win'$q$, m);
    EXECUTE format($q$UPDATE %s.lead SET stage = 'mql', stage_entered_at = '2025-12-10'
                       WHERE lead_id IN (SELECT 2000 + id FROM picks WHERE kind = 'win')$q$, m);
    EXECUTE format($q$UPDATE %s.lead SET stage = 'won', stage_entered_at = '2025-12-20'
                       WHERE lead_id IN (SELECT 2000 + id FROM picks WHERE kind = 'win')$q$, m);
    EXECUTE format($q$UPDATE %s.account SET churned_at = '2025-12-25'
                       WHERE account_id IN (SELECT id FROM picks WHERE kind = 'churn')$q$, m);
    EXECUTE format($q$UPDATE %s.account SET is_advocate = NOT is_advocate
                       WHERE account_id IN (SELECT id FROM picks WHERE kind = 'flip advocate')$q$, m);
    EXECUTE format($q$INSERT INTO %1$s.contact (contact_id, account_id, opt_in)
                      SELECT 1000 + id, id, true FROM picks WHERE kind = 'new lead'$q$, m);
    EXECUTE format($q$INSERT INTO %1$s.lead (lead_id, account_id, contact_id, funnel, created_at)
                      SELECT 1000 + id, id, 1000 + id, 'self_serve', '2025-12-28' FROM picks WHERE kind = 'new lead'$q$, m);
END $$;
SELECT pg_temp.live('dist');
SELECT pg_temp.live('single');
COMMIT;
SELECT * FROM lifecycle_diff ORDER BY 1, 2, 3, 4;
SELECT lead_id, account_id, created_at, motion FROM dist.lead WHERE lead_id > 1000 ORDER BY lead_id;
-- a refresh of the distributed model runs per account (on Citus, on the node
-- holding it): spoiled stored statuses come back as single node has them
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE dist.account SET status = 'prospect', status_since = NULL WHERE status <> 'prospect';
UPDATE dist.contact SET status = 'contact';
UPDATE dist.lead SET motion = NULL;
COMMIT;
SELECT count(*) > 0 AS spoiled FROM lifecycle_diff;
SELECT leadfunnel.refresh_lifecycle('dist', true) = (SELECT count(*) FROM single.account WHERE status <> 'prospect') AS all_changed_back;
SELECT * FROM lifecycle_diff ORDER BY 1, 2, 3, 4;
SELECT leadfunnel.refresh_lifecycle('dist') AS dist_again, leadfunnel.refresh_lifecycle('single') AS single_again;
SELECT dist.account_status_at(-1, now()) AS unknown_account, (SELECT count(*) FROM dist.account_status_history(-1)) AS no_history;

-- The co-location mapping of the triggers (colocation.c): without Citus, the
-- table named by the trigger's argument, also when the lead table is named
-- like a Citus shard.
SELECT leadfunnel.colocated_table('dist.lead', 'dist.lead_stage_history');
SELECT leadfunnel.create_model('shardlike');
ALTER TABLE shardlike.lead RENAME TO lead_102008;
-- as on a Citus worker, the distributed table's name still resolves (there to
-- an empty shell table) for the other tables' triggers, which name it
CREATE TABLE shardlike.lead (LIKE shardlike.lead_102008);
SELECT leadfunnel.colocated_table('shardlike.lead_102008', 'shardlike.lead_stage_history');
INSERT INTO shardlike.account (account_id) VALUES (5);
INSERT INTO shardlike.lead_102008 (lead_id, account_id, created_at) VALUES (50, 5, '2024-01-01');
UPDATE shardlike.lead_102008 SET stage = 'mql', stage_entered_at = '2024-01-02' WHERE lead_id = 50;
SELECT lead_id, seq, from_stage, to_stage FROM shardlike.lead_stage_history ORDER BY seq;
SELECT try($$DELETE FROM shardlike.lead_stage_history$$);
SELECT try($$SELECT leadfunnel.colocated_table(0, 'shardlike.lead_stage_history')$$);
SELECT try($$SELECT leadfunnel.colocated_table('shardlike.lead_102008', 0)$$);
SELECT leadfunnel.colocated_table(NULL, 'shardlike.lead_stage_history') IS NULL AS strict;
SET client_min_messages = warning;
DROP SCHEMA dist, single, shardlike CASCADE;
RESET client_min_messages;
