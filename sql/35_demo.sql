-- The demo generator: deterministic for a seed, consistent, and refusing bad arguments.
SELECT leadfunnel.create_model('demo_a');
SELECT leadfunnel.create_model('demo_b');
SELECT * FROM leadfunnel.generate_demo('demo_a', 400, 0.5);
SELECT sum(rows_added) AS rows_added FROM leadfunnel.generate_demo('demo_b', 400, 0.5);
-- same seed, same data
SELECT count(*) AS differing_leads FROM (
    (SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_a.lead
     EXCEPT SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_b.lead)
    UNION ALL
    (SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_b.lead
     EXCEPT SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_a.lead)) d;
SELECT count(*) AS differing_history FROM (
    SELECT lead_id, seq, from_stage, to_stage, entered_at, left_at FROM demo_a.lead_stage_history
    EXCEPT SELECT lead_id, seq, from_stage, to_stage, entered_at, left_at FROM demo_b.lead_stage_history) d;
-- every funnel, every outcome, all through the trigger
SELECT funnel, count(*) > 0 AS has_leads, bool_or(stage = 'won') AS some_won,
       bool_or(stage IN ('recycled', 'disqualified', 'lost')) AS some_lost, bool_or(stage < 'won') AS some_open
  FROM demo_a.lead GROUP BY funnel ORDER BY funnel;
SELECT count(*) AS violations FROM leadfunnel.verify_model('demo_a');
-- a second run adds rows after the existing ones
SELECT * FROM leadfunnel.generate_demo('demo_a', 30, 0.1);
SELECT count(*) AS leads, count(DISTINCT lead_id) AS distinct_ids FROM demo_a.lead;
SELECT try($$SELECT leadfunnel.generate_demo('demo_a', 0)$$);
SELECT try($$SELECT leadfunnel.generate_demo('demo_a', 10, 2)$$);
SELECT try($$SELECT leadfunnel.generate_demo('nosuch', 10)$$);

-- Since 0.3.0 generate_demo inserts the leads set-based and keeps statistics
-- fresh; its data are those of the row-by-row generator of 0.2.0: the
-- fingerprints below (md5 of every row of each table, account events without
-- their recording time, lead and history rows in 0.2.0's columns) were computed from 0.2.0's generate_demo for the same
-- call on a new model, not from this build.
-- The model's owner gets the set-based path (history written in one
-- statement, no row of it updated: the trigger appends a row and closes the
-- previous one per move); a role that may only write the tables gets the
-- trigger path.  Both are compared below: the set-based one with 0.2.0's
-- fingerprints, the trigger path with the set-based one, every column.
SELECT leadfunnel.create_model('demo_fp');
SET TimeZone = 'UTC';   -- the demo's dates are computed in the session's time zone
SET DateStyle = 'ISO, MDY';
BEGIN;
SELECT count(*) FROM leadfunnel.generate_demo('demo_fp', 1500, 0.3);
SELECT n_tup_ins AS history_rows_inserted, n_tup_upd AS history_rows_updated
  FROM pg_stat_xact_user_tables WHERE relid = 'demo_fp.lead_stage_history'::regclass;
-- the columns 0.2.0 did not have: recorded now, current, validated
SELECT count(*) AS rows, count(*) FILTER (WHERE recorded_at = now() AND superseded_at IS NULL AND superseded_by IS NULL
                                          AND superseded_reason IS NULL AND flag IS NULL) AS as_the_trigger_writes
  FROM demo_fp.lead_stage_history;
COMMIT;
-- the triggers are enabled again and the foreign keys are back, validated
SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'demo_fp'::regnamespace AND NOT t.tgisinternal
 ORDER BY 1, 2;
SELECT conrelid::regclass, conname, convalidated FROM pg_constraint
 WHERE connamespace = 'demo_fp'::regnamespace AND contype = 'f' ORDER BY 1, 2;
SELECT try($$INSERT INTO demo_fp.lead_stage_history (lead_id, account_id, seq, to_stage, entered_at, recorded_at)
             VALUES (1, 1, 99, 'won', now(), now())$$);
SELECT try($$UPDATE demo_fp.lead SET stage = 'won' WHERE lead_id = (SELECT min(lead_id) FROM demo_fp.lead WHERE stage = 'visitor')$$);
SELECT try($$INSERT INTO demo_fp.touch (touch_id, campaign_id, account_id, touched_at) VALUES (-1, -1, 1, now())$$);

-- the trigger path: a role that may write the tables but does not own them
CREATE ROLE lf_demo_writer;
SELECT leadfunnel.create_model('demo_tp');
GRANT USAGE ON SCHEMA demo_tp TO lf_demo_writer;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA demo_tp TO lf_demo_writer;
BEGIN;
SET LOCAL ROLE lf_demo_writer;
SET LOCAL client_min_messages = error;   -- ANALYZE skips tables it does not own
SELECT count(*) FROM leadfunnel.generate_demo('demo_tp', 1500, 0.3);
RESET client_min_messages;
SELECT n_tup_upd > 0 AS history_rows_updated FROM pg_stat_xact_user_tables WHERE relid = 'demo_tp.lead_stage_history'::regclass;
COMMIT;
SELECT t, count(*) AS differing_rows FROM (
    (SELECT 'lead' AS t, (l.*)::text FROM demo_fp.lead l EXCEPT ALL SELECT 'lead', (l.*)::text FROM demo_tp.lead l)
    UNION ALL (SELECT 'lead', (l.*)::text FROM demo_tp.lead l EXCEPT ALL SELECT 'lead', (l.*)::text FROM demo_fp.lead l)
    UNION ALL (SELECT 'history', row(h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at, h.reason,
                                     h.superseded_at, h.superseded_by, h.superseded_reason, h.flag)::text FROM demo_fp.lead_stage_history h
               EXCEPT ALL
               SELECT 'history', row(h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at, h.reason,
                                     h.superseded_at, h.superseded_by, h.superseded_reason, h.flag)::text FROM demo_tp.lead_stage_history h)
    UNION ALL (SELECT 'history', row(h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at, h.reason,
                                     h.superseded_at, h.superseded_by, h.superseded_reason, h.flag)::text FROM demo_tp.lead_stage_history h
               EXCEPT ALL
               SELECT 'history', row(h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at, h.reason,
                                     h.superseded_at, h.superseded_by, h.superseded_reason, h.flag)::text FROM demo_fp.lead_stage_history h)
    UNION ALL (SELECT 'account', (a.*)::text FROM demo_fp.account a EXCEPT ALL SELECT 'account', (a.*)::text FROM demo_tp.account a)
    UNION ALL (SELECT 'contact', (c.*)::text FROM demo_fp.contact c EXCEPT ALL SELECT 'contact', (c.*)::text FROM demo_tp.contact c)
    UNION ALL (SELECT 'touch', (x.*)::text FROM demo_fp.touch x EXCEPT ALL SELECT 'touch', (x.*)::text FROM demo_tp.touch x)
    UNION ALL (SELECT 'lead_label_history', (x.*)::text FROM demo_fp.lead_label_history x
               UNION ALL SELECT 'lead_label_history', (x.*)::text FROM demo_tp.lead_label_history x)
    UNION ALL (SELECT 'lead_value_history', (x.*)::text FROM demo_fp.lead_value_history x
               UNION ALL SELECT 'lead_value_history', (x.*)::text FROM demo_tp.lead_value_history x)
    ) d
 GROUP BY t ORDER BY t;
SELECT count(*) AS rows, count(*) FILTER (WHERE changed_by = 'lf_demo_writer') AS changed_by_the_writer
  FROM demo_tp.lead_stage_history;
SELECT count(*) AS violations FROM leadfunnel.verify_model('demo_tp');
-- account.status/status_since and contact.status are the lifecycle rule
-- evaluated at now() (the generator refreshes them), so they change with the
-- date the test runs (a demo customer's term runs out on some day of every
-- month since the demo's anchor, 2025-12-31): they are left out of the
-- fingerprints and checked against the rule at now() instead.  The
-- fingerprints of the other columns were taken on 2026-12-02, when every
-- column of every row was equal to 0.2.0's (the whole-row md5s of 0.2.0 then
-- matched), and are the same with the server's clock 60 days later.
SELECT t, md5(string_agg(r, E'\n' ORDER BY r)) AS fingerprint, count(*) AS rows,
       md5(string_agg(r, E'\n' ORDER BY r)) = CASE t
           WHEN 'account' THEN 'af8083aab20f9bf04a2e854e1c225d43' WHEN 'account_event' THEN '7d83ce8221de931b03515e59e1c1ecf8'
           WHEN 'campaign' THEN '8332e8c492f77eecfb35018f155e6ce2' WHEN 'contact' THEN 'c6c067bebd3630b3bb23509f5d8210ed'
           WHEN 'lead' THEN 'a6cbf4d5c2c772569141b92bcf1ed47d' WHEN 'lead_stage_history' THEN '1316006421b8830dcb3df248bcd02ad3'
           WHEN 'touch' THEN 'a7458705b2615f1bfc5e74dca172e6b7' END AS same_as_0_2_0
  FROM (SELECT 'account' AS t, row(a.account_id, a.name, a.region, a.segment, a.is_advocate, a.churned_at)::text AS r FROM demo_fp.account a
        UNION ALL SELECT 'contact', row(c.contact_id, c.account_id, c.email, c.opt_in)::text FROM demo_fp.contact c
        UNION ALL SELECT 'campaign', (c.*)::text FROM demo_fp.campaign c
        UNION ALL SELECT 'lead', row(l.lead_id, l.account_id, l.contact_id, l.funnel, l.product_area, l.region, l.source_campaign_id, l.amount, l.stage,
                                     l.max_stage, l.motion, l.created_at, l.stage_entered_at, l.closed_at, l.close_reason)::text FROM demo_fp.lead l
        UNION ALL SELECT 'lead_stage_history', row(h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at,
                                                   h.changed_by, h.reason)::text FROM demo_fp.lead_stage_history h
        UNION ALL SELECT 'touch', (x.*)::text FROM demo_fp.touch x
        UNION ALL SELECT 'account_event', row(e.account_id, e.event_at, e.event, e.recorded_by)::text FROM demo_fp.account_event e) d
 GROUP BY t ORDER BY t;
SELECT count(*) FILTER (WHERE (a.status, a.status_since) IS DISTINCT FROM (s.status, s.status_since)) AS accounts_not_at_the_rule_now
  FROM demo_fp.account a
 CROSS JOIN LATERAL leadfunnel.lifecycle_status('demo_fp.lead_stage_history'::regclass, 'demo_fp.account_event'::regclass,
                                                a.account_id, now()) s;
SELECT count(*) FILTER (WHERE c.status IS DISTINCT FROM leadfunnel.contact_status_rule(
           s.status IN ('new_customer', 'active_customer', 'advocate'),
           EXISTS (SELECT FROM demo_fp.lead l WHERE l.contact_id = c.contact_id AND l.stage <= 'opportunity'),
           c.opt_in)) AS contacts_not_at_the_rule_now
  FROM demo_fp.contact c
 CROSS JOIN LATERAL leadfunnel.lifecycle_status('demo_fp.lead_stage_history'::regclass, 'demo_fp.account_event'::regclass,
                                                c.account_id, now()) s;
-- the generator's lifecycle refresh is lifecycle_refresh_batch (one pass over
-- all accounts): the per-account refresh behind refresh_lifecycle finds
-- nothing left to change, neither statuses nor motions (rows updated by it:
-- the transaction's counts after it minus those before)
BEGIN;
CREATE TEMP TABLE lf_upd ON COMMIT DROP AS
    SELECT relname, n_tup_upd FROM pg_stat_xact_user_tables
     WHERE relid IN ('demo_fp.account'::regclass, 'demo_fp.contact'::regclass, 'demo_fp.lead'::regclass);
SELECT leadfunnel.refresh_lifecycle('demo_fp', true) AS accounts_changed_by_the_per_account_refresh;
SELECT s.relname, s.n_tup_upd - coalesce(u.n_tup_upd, 0) AS rows_updated
  FROM pg_stat_xact_user_tables s LEFT JOIN lf_upd u USING (relname)
 WHERE s.relid IN ('demo_fp.account'::regclass, 'demo_fp.contact'::regclass, 'demo_fp.lead'::regclass) ORDER BY 1;
ROLLBACK;
-- and with other windows, where statuses, contacts and motions change: the
-- batch refresh changes some, and the per-account one nothing after it.  The
-- windows are made longer, not shorter: every demo win is then a customer
-- episode that has not run out, whatever the date the test runs, so the
-- former customers of the default term (more of them every day since the
-- demo's anchor) always change, with their contacts and the win-back motions.
BEGIN;
SELECT leadfunnel.set_setting('new_customer_window', '50 years'), leadfunnel.set_setting('customer_term', '100 years');
SELECT leadfunnel.lifecycle_refresh_batch('demo_fp.account', 'demo_fp.contact', 'demo_fp.lead', 'demo_fp.lead_stage_history',
                                          'demo_fp.account_event', true) > 0 AS batch_changed_some_accounts;
CREATE TEMP TABLE lf_upd ON COMMIT DROP AS
    SELECT relname, n_tup_upd FROM pg_stat_xact_user_tables
     WHERE relid IN ('demo_fp.account'::regclass, 'demo_fp.contact'::regclass, 'demo_fp.lead'::regclass);
SELECT relname, n_tup_upd > 0 AS batch_updated_some FROM lf_upd ORDER BY 1;
SELECT leadfunnel.refresh_lifecycle('demo_fp', true) AS accounts_changed_by_the_per_account_refresh;
SELECT s.relname, s.n_tup_upd - coalesce(u.n_tup_upd, 0) AS rows_updated
  FROM pg_stat_xact_user_tables s LEFT JOIN lf_upd u USING (relname)
 WHERE s.relid IN ('demo_fp.account'::regclass, 'demo_fp.contact'::regclass, 'demo_fp.lead'::regclass) ORDER BY 1;
ROLLBACK;
RESET TimeZone;
RESET DateStyle;
SELECT count(*) AS violations FROM leadfunnel.verify_model('demo_fp');

SET client_min_messages = warning;
DROP SCHEMA demo_a, demo_b, demo_fp, demo_tp CASCADE;
DROP ROLE lf_demo_writer;
RESET client_min_messages;
