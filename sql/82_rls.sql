-- Privileges of BI and application roles on a whole model (lifecycle,
-- analytics and attribution included), and row-level security seen through
-- every view: the views are security_invoker, so a reader's grants and
-- policies apply to the tables beneath them.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('rls');
SELECT sum(rows_added) > 0 AS generated FROM leadfunnel.generate_demo('rls', 400, 0.55);
-- a few lifecycle facts: churns and advocates in every region
UPDATE rls.account SET churned_at = '2025-11-01' WHERE account_id IN (SELECT account_id FROM rls.account_lifecycle WHERE status IN ('new_customer', 'active_customer') ORDER BY account_id LIMIT 6);
UPDATE rls.account SET is_advocate = true WHERE account_id IN (SELECT account_id FROM rls.account_lifecycle WHERE status = 'active_customer' ORDER BY account_id DESC LIMIT 4);
SELECT count(*) AS views FROM pg_views WHERE schemaname = 'rls';

-- (a) A role with SELECT on the views only: every view refuses with 42501
-- (permission denied on a table beneath it), never an empty or partial answer.
CREATE ROLE regress_lf_viewer;
GRANT USAGE ON SCHEMA rls TO regress_lf_viewer;
DO $$ DECLARE v record; BEGIN
    FOR v IN SELECT viewname FROM pg_views WHERE schemaname = 'rls' LOOP
        EXECUTE format('GRANT SELECT ON rls.%I TO regress_lf_viewer', v.viewname);
    END LOOP;
END $$;
SET ROLE regress_lf_viewer;
SELECT viewname, split_part(try(format('SELECT count(*) FROM rls.%I', viewname)), ' ', 1) AS sqlstate,
       try(format('SELECT count(*) FROM rls.%I', viewname)) LIKE '%permission denied for table%' AS names_a_table
  FROM pg_views WHERE schemaname = 'rls' ORDER BY viewname;
RESET ROLE;

-- What a BI role needs: USAGE on the schema and SELECT on the model's tables
-- and views (GRANT SELECT ON ALL TABLES IN SCHEMA covers both) — no write
-- privilege, nothing in schema leadfunnel beyond what PUBLIC has.
CREATE ROLE regress_lf_bi;
GRANT USAGE ON SCHEMA rls TO regress_lf_bi;
GRANT SELECT ON ALL TABLES IN SCHEMA rls TO regress_lf_bi;
SET ROLE regress_lf_bi;
SELECT viewname, try(format('SELECT count(*) FROM rls.%I', viewname)) AS outcome
  FROM pg_views WHERE schemaname = 'rls' ORDER BY viewname;
-- and it writes nothing
SELECT try($$UPDATE rls.lead SET stage = 'lost' WHERE lead_id = 1$$);
SELECT try($$UPDATE rls.account SET churned_at = '2025-01-01' WHERE account_id = 1$$);
SELECT try($$SELECT leadfunnel.refresh_lifecycle('rls')$$);
RESET ROLE;
SELECT c.relname, p.priv
  FROM pg_class c, unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(priv)
 WHERE c.relnamespace = 'rls'::regnamespace AND c.relkind IN ('r', 'v')
   AND has_table_privilege('regress_lf_bi', c.oid, p.priv);

-- (b) A role that may move leads (SELECT, INSERT, UPDATE on lead) but write
-- nothing else: winning a lead updates the account's and its contacts'
-- statuses through the triggers (as the table owner), yet the role cannot
-- write account.status, account_event or the history itself.
CREATE ROLE regress_lf_mover;
GRANT USAGE ON SCHEMA rls TO regress_lf_mover;
GRANT SELECT, INSERT, UPDATE ON rls.lead TO regress_lf_mover;
INSERT INTO rls.account (account_id, name, region) VALUES (9001, 'Mover Ltd', 'EMEA');
INSERT INTO rls.contact (contact_id, account_id, email, opt_in) VALUES (9001, 9001, 'buyer@mover.example', true);
SET ROLE regress_lf_mover;
INSERT INTO rls.lead (lead_id, account_id, contact_id, funnel, region, created_at) VALUES (9001, 9001, 9001, 'self_serve', 'EMEA', '2024-03-01');
UPDATE rls.lead SET stage = 'mql', stage_entered_at = '2024-03-02' WHERE lead_id = 9001;
UPDATE rls.lead SET stage = 'won', stage_entered_at = '2024-03-10' WHERE lead_id = 9001;
SELECT lead_id, stage, motion FROM rls.lead WHERE lead_id = 9001;
SELECT try($$SELECT status FROM rls.account WHERE account_id = 9001$$);
SELECT try($$UPDATE rls.account SET status = 'advocate' WHERE account_id = 9001$$);
SELECT try($$INSERT INTO rls.account_event (account_id, event_at, event) VALUES (9001, '2025-04-01', 'churned')$$);
SELECT try($$INSERT INTO rls.lead_stage_history (lead_id, account_id, seq, to_stage, entered_at) VALUES (9001, 9001, 4, 'won', '2025-04-01')$$);
SELECT try($$UPDATE rls.lead SET motion = 'win_back' WHERE lead_id = 9001$$);
RESET ROLE;
SELECT account_id, status, status_since FROM rls.account WHERE account_id = 9001;
SELECT contact_id, status FROM rls.contact WHERE contact_id = 9001;
SELECT lead_id, seq, to_stage, changed_by FROM rls.lead_stage_history WHERE lead_id = 9001 ORDER BY seq;
-- With UPDATE on account too, it may record a churn (the trigger writes
-- account_event as the owner) but still not the maintained status.
GRANT SELECT, UPDATE ON rls.account TO regress_lf_mover;
SET ROLE regress_lf_mover;
SELECT try($$UPDATE rls.account SET status = 'new_customer', status_since = '2024-06-01' WHERE account_id = 9001$$);
UPDATE rls.account SET churned_at = '2024-06-01' WHERE account_id = 9001;
SELECT try($$DELETE FROM rls.account_event WHERE account_id = 9001$$);
RESET ROLE;
SELECT account_id, status, status_since FROM rls.account WHERE account_id = 9001;
SELECT account_id, event_at, event, recorded_by FROM rls.account_event WHERE account_id = 9001;
SELECT contact_id, status FROM rls.contact WHERE contact_id = 9001;
SELECT count(*) AS violations FROM leadfunnel.verify_model('rls');

-- (c) Row-level security: the BI role sees the accounts of one region
-- (app.region) and only their leads, history, contacts, touches and events.
-- Every view of the model read by it must equal the same view over a second
-- model holding exactly the visible rows.
ALTER TABLE rls.account ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls.lead ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls.lead_stage_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls.contact ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls.touch ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls.account_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_region ON rls.account TO regress_lf_bi USING (region = current_setting('app.region'));
CREATE POLICY by_region ON rls.lead TO regress_lf_bi USING (region = current_setting('app.region'));
CREATE POLICY by_lead ON rls.lead_stage_history TO regress_lf_bi
    USING (EXISTS (SELECT 1 FROM rls.lead l WHERE l.account_id = lead_stage_history.account_id AND l.lead_id = lead_stage_history.lead_id));
CREATE POLICY by_account ON rls.contact TO regress_lf_bi USING (account_id IN (SELECT account_id FROM rls.account));
CREATE POLICY by_account ON rls.touch TO regress_lf_bi USING (account_id IN (SELECT account_id FROM rls.account));
CREATE POLICY by_account ON rls.account_event TO regress_lf_bi USING (account_id IN (SELECT account_id FROM rls.account));
-- the demo's leads carry their account's region, so the policies agree
SELECT count(*) AS leads_in_another_region_than_account
  FROM rls.lead l JOIN rls.account a USING (account_id) WHERE l.region IS DISTINCT FROM a.region;

CREATE FUNCTION rls_compare(region text) RETURNS TABLE (view_name name, visible_rows bigint, differing_rows bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    t text;
    v record;
    n bigint;
    d bigint;
BEGIN
    -- the rows the BI role sees, read as that role
    PERFORM set_config('app.region', region, true);
    SET LOCAL ROLE regress_lf_bi;
    FOREACH t IN ARRAY ARRAY['account', 'contact', 'campaign', 'lead', 'lead_stage_history', 'touch', 'account_event'] LOOP
        EXECUTE format('CREATE TEMP TABLE vis_%s ON COMMIT DROP AS SELECT * FROM rls.%I', t, t);
    END LOOP;
    -- each view's answer, read as that role
    FOR v IN SELECT viewname FROM pg_views WHERE schemaname = 'rls' LOOP
        EXECUTE format('CREATE TEMP TABLE ans_%s ON COMMIT DROP AS SELECT * FROM rls.%I', v.viewname, v.viewname);
    END LOOP;
    RESET ROLE;
    -- a model with exactly those rows (loaded as a restore would, triggers off)
    PERFORM leadfunnel.create_model('rls_copy');
    SET LOCAL session_replication_role = replica;
    FOREACH t IN ARRAY ARRAY['account', 'contact', 'campaign', 'lead', 'lead_stage_history', 'touch', 'account_event'] LOOP
        EXECUTE format('INSERT INTO rls_copy.%I SELECT * FROM vis_%s', t, t);
    END LOOP;
    SET LOCAL session_replication_role = origin;
    -- compared row by row; fractional credit (float8 sums whose order depends
    -- on the plan) to 9 decimal places
    FOR v IN SELECT c.relname AS viewname,
                    string_agg(CASE WHEN a.atttypid IN ('numeric'::regtype, 'float8'::regtype)
                                    THEN format('round(%I::numeric, 9)', a.attname) ELSE quote_ident(a.attname) END,
                               ', ' ORDER BY a.attnum) AS cols
               FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
              WHERE c.relnamespace = 'rls'::regnamespace AND c.relkind = 'v'
              GROUP BY c.relname ORDER BY c.relname LOOP
        EXECUTE format('SELECT count(*) FROM ans_%s', v.viewname) INTO n;
        EXECUTE format('SELECT count(*) FROM ((SELECT %3$s FROM ans_%1$s EXCEPT ALL SELECT %3$s FROM rls_copy.%2$I)
                                    UNION ALL (SELECT %3$s FROM rls_copy.%2$I EXCEPT ALL SELECT %3$s FROM ans_%1$s)) x',
                       v.viewname, v.viewname, v.cols) INTO d;
        view_name := v.viewname; visible_rows := n; differing_rows := d;
        RETURN NEXT;
    END LOOP;
    EXECUTE 'DROP SCHEMA rls_copy CASCADE';
END $fn$;
SET client_min_messages = warning;
BEGIN;
SELECT * FROM rls_compare('EMEA');
ROLLBACK;
BEGIN;
SELECT view_name, differing_rows FROM rls_compare('APAC') WHERE differing_rows <> 0 OR visible_rows = 0;
ROLLBACK;
RESET client_min_messages;
-- the filtered answers really are smaller than the whole: the role sees one region
SET app.region = 'EMEA';
SET ROLE regress_lf_bi;
SELECT (SELECT count(*) FROM rls.lead) AS emea_leads, (SELECT count(DISTINCT region) FROM rls.lead) AS regions_seen,
       (SELECT sum(reached) FROM rls.funnel_summary WHERE stage = 'visitor' OR stage = 'lead') > 0 AS funnel_not_empty;
RESET ROLE;
SELECT count(*) AS all_leads, count(*) FILTER (WHERE region = 'EMEA') AS emea_leads FROM rls.lead;
RESET app.region;
-- an empty app.region: the role sees nothing, and every view answers over nothing
SET ROLE regress_lf_bi;
SELECT (SELECT count(*) FROM rls.lead) AS leads, (SELECT count(*) FROM rls.funnel_summary) AS funnel_rows,
       (SELECT count(*) FROM rls.account_lifecycle) AS accounts, (SELECT count(*) FROM rls.lead_touch_path) AS paths,
       (SELECT sum(sourced_leads) FROM rls.campaign_pipeline) AS sourced, (SELECT sum(attributed_leads) FROM rls.campaign_attribution) AS attributed;
RESET ROLE;

DROP FUNCTION rls_compare(text);
SET client_min_messages = warning;
DROP SCHEMA rls CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_lf_viewer, regress_lf_bi, regress_lf_mover;
DROP ROLE regress_lf_viewer, regress_lf_bi, regress_lf_mover;
