-- Dashboard rollups: the rollup-backed campaign_attribution, campaign_pipeline,
-- dropoff and cycle_times give exactly the rows of the plain views (copies of
-- their definitions taken before enable_rollups) with every bucket stale (all
-- live), all fresh (all stored), and mixed after stage moves, amount changes,
-- new leads, new and deleted touches, bulk loads under replica mode, a change
-- of the attribution settings and a TRUNCATE; and refresh_rollups brings
-- the stale buckets back.
SET TimeZone = 'UTC';
SET client_min_messages = warning;
SELECT leadfunnel.create_model('ru');
SELECT count(*) > 0 AS generated FROM leadfunnel.generate_demo('ru', 400, 0.37);

-- the plain views, as they are before enable_rollups
CREATE SCHEMA ru_ref;
DO $$
DECLARE v text;
BEGIN
    PERFORM set_config('search_path', 'pg_catalog', true);
    FOREACH v IN ARRAY ARRAY['campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times'] LOOP
        EXECUTE format('CREATE VIEW ru_ref.%I AS %s', v, pg_get_viewdef(format('ru.%I', v)::regclass));
    END LOOP;
END $$;
CREATE FUNCTION ru_ref.rows_of(s text, v text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN RETURN QUERY EXECUTE format('SELECT x::text FROM %I.%I x', s, v); END $$;
-- rows differing between the rollup-backed view and its plain copy (0 = same)
CREATE VIEW ru_ref.diff AS
SELECT v AS view,
       (SELECT count(*) FROM (SELECT ru_ref.rows_of('ru', v) EXCEPT ALL SELECT ru_ref.rows_of('ru_ref', v)) x)
     + (SELECT count(*) FROM (SELECT ru_ref.rows_of('ru_ref', v) EXCEPT ALL SELECT ru_ref.rows_of('ru', v)) x) AS differing,
       (SELECT count(*) FROM ru_ref.rows_of('ru', v)) > 0 AS has_rows
  FROM unnest(ARRAY['campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times']) v;
-- a fingerprint of the answers, to show that the changes below change them
CREATE TABLE ru_ref.before AS
SELECT v, md5(string_agg(r, '|' ORDER BY r)) AS h FROM unnest(ARRAY['campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times']) v,
       ru_ref.rows_of('ru_ref', v) r GROUP BY v;

-- errors
SELECT try($$SELECT leadfunnel.enable_rollups('ru', 0)$$);
SELECT try($$SELECT leadfunnel.refresh_rollups('ru')$$);
SELECT try($$SELECT leadfunnel.disable_rollups('ru')$$);

-- enabled without a refresh: every bucket stale, the views compute them live
SELECT leadfunnel.enable_rollups('ru', 8, refresh => false) AS refreshed;
CREATE VIEW ru_ref.buckets AS
SELECT count(*) > 1 AS several, count(*) FILTER (WHERE fresh) = count(*) AS all_fresh,
       count(*) FILTER (WHERE NOT fresh) AS stale
  FROM ru.rollup_bucket_state;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
SELECT try($$SELECT leadfunnel.enable_rollups('ru')$$);
-- the views stay security_invoker and keep their comments
SELECT c.relname, c.reloptions, obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
  FROM pg_class c
 WHERE c.relnamespace = 'ru'::regnamespace
   AND c.relname IN ('campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times', 'rollup_bucket_state')
 ORDER BY 1;

-- refreshed in two steps (max_buckets), then all stored
SELECT leadfunnel.refresh_rollups('ru', 3) AS refreshed;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
SELECT leadfunnel.refresh_rollups('ru') > 0 AS refreshed;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
SELECT leadfunnel.refresh_rollups('ru') AS nothing_to_do;
-- at REPEATABLE READ (or SERIALIZABLE): refused
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT try($$SELECT leadfunnel.refresh_rollups('ru')$$);
ROLLBACK;

-- changes: stage moves (closing some open leads, winning opportunities),
-- amount changes, a new lead, touches added (lead-level and account-level)
-- and deleted: only the changed buckets turn stale; the answers stay exact
UPDATE ru.lead SET stage = 'lost' WHERE lead_id IN (SELECT lead_id FROM ru.lead WHERE stage < 'opportunity' ORDER BY lead_id LIMIT 5);
UPDATE ru.lead SET stage = 'won' WHERE lead_id IN (SELECT lead_id FROM ru.lead WHERE stage = 'opportunity' ORDER BY lead_id LIMIT 3);
UPDATE ru.lead SET amount = amount + 1000 WHERE lead_id IN (SELECT lead_id FROM ru.lead WHERE max_stage >= 'opportunity' ORDER BY lead_id DESC LIMIT 4);
INSERT INTO ru.touch (touch_id, campaign_id, account_id, lead_id, touched_at)
SELECT 1000000 + l.lead_id, (SELECT min(campaign_id) FROM ru.campaign), l.account_id, l.lead_id, l.created_at + interval '1 hour'
  FROM ru.lead l WHERE l.lead_id IN (SELECT lead_id FROM ru.lead ORDER BY lead_id LIMIT 3);
INSERT INTO ru.touch (touch_id, campaign_id, account_id, touched_at)
SELECT 2000000 + l.account_id, (SELECT max(campaign_id) FROM ru.campaign), l.account_id, l.created_at + interval '2 hours'
  FROM ru.lead l WHERE l.lead_id = (SELECT max(lead_id) FROM ru.lead);
DELETE FROM ru.touch WHERE touch_id IN (SELECT touch_id FROM ru.touch WHERE lead_id IS NOT NULL ORDER BY touch_id LIMIT 2);
INSERT INTO ru.lead (lead_id, account_id, funnel, stage, amount, source_campaign_id, created_at, stage_entered_at)
SELECT 900001, min(account_id), 'self_serve', 'visitor', 5000, min(campaign_id), '2025-06-01', '2025-06-01' FROM ru.account, ru.campaign;
UPDATE ru.lead SET stage = 'lead', stage_entered_at = '2025-06-02' WHERE lead_id = 900001;
SELECT several, all_fresh, stale > 0 AS some_stale FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
-- the changes did change the answers
SELECT b.v, b.h <> md5(string_agg(r, '|' ORDER BY r)) AS changed
  FROM ru_ref.before b, ru_ref.rows_of('ru_ref', b.v) r GROUP BY b.v, b.h ORDER BY 1;
-- a bulk load under session_replication_role = replica marks its buckets too
SET session_replication_role = replica;
SELECT leadfunnel.refresh_rollups('ru') > 0 AS refreshed;
INSERT INTO ru.touch (touch_id, campaign_id, account_id, lead_id, touched_at)
SELECT 3000000 + l.lead_id, (SELECT max(campaign_id) FROM ru.campaign), l.account_id, l.lead_id, l.created_at + interval '3 hours'
  FROM ru.lead l WHERE l.lead_id % 97 = 0;
RESET session_replication_role;
SELECT several, stale > 0 AS some_stale FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
SELECT leadfunnel.refresh_rollups('ru') > 0 AS refreshed;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;

-- another attribution setting: every bucket stale at once, still exact; the
-- refresh recomputes them with the new setting
SELECT leadfunnel.set_setting('time_decay_half_life', '3 days') IS NOT NULL AS set;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
SELECT leadfunnel.refresh_rollups('ru') > 0 AS refreshed;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;
DELETE FROM leadfunnel.setting WHERE name = 'time_decay_half_life';
SELECT leadfunnel.refresh_rollups('ru') > 0 AS refreshed;

-- a user attribution model (leadfunnel.attribution_model_def): its rows are
-- computed live, as in the plain view
INSERT INTO leadfunnel.attribution_model_def (name, first_touch, other_touches, is_default) VALUES ('ru_half', 0.5, 0.5, true);
SELECT count(*) > 0 AS user_model_rows FROM ru.campaign_attribution WHERE model_name = 'ru_half';
SELECT * FROM ru_ref.diff;
DELETE FROM leadfunnel.attribution_model_def WHERE name = 'ru_half';

-- upgrade_model keeps the rollup-backed views
SELECT array_length(leadfunnel.upgrade_model('ru'), 1) > 0 AS upgraded;
SELECT c.relname, pg_get_viewdef(c.oid) LIKE '%rollup_bucket_state%' AS rollup_backed
  FROM pg_class c
 WHERE c.relnamespace = 'ru'::regnamespace AND c.relname IN ('campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times')
 ORDER BY 1;
SELECT * FROM ru_ref.diff;

-- TRUNCATE of the touches: every bucket stale
TRUNCATE ru.touch;
SELECT * FROM ru_ref.buckets;
SELECT * FROM ru_ref.diff;

-- disabled: the plain views are back, the rollup objects gone
DROP VIEW ru_ref.buckets;
SELECT leadfunnel.disable_rollups('ru');
SELECT c.relname, pg_get_viewdef(c.oid) LIKE '%rollup%' AS rollup_backed
  FROM pg_class c
 WHERE c.relnamespace = 'ru'::regnamespace AND c.relname IN ('campaign_attribution', 'campaign_pipeline', 'dropoff', 'cycle_times')
 ORDER BY 1;
SELECT count(*) AS rollup_objects FROM pg_class WHERE relnamespace = 'ru'::regnamespace AND relname LIKE 'rollup%';
SELECT count(*) AS rollup_triggers FROM pg_trigger WHERE tgname LIKE 'rollup%' AND tgrelid::regclass::text LIKE 'ru.%';
SELECT * FROM ru_ref.diff;
DROP SCHEMA ru_ref CASCADE;
DROP SCHEMA ru CASCADE;
