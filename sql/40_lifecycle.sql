-- Lifecycle: account status, lead motion, contact status; as-of answers
-- before and after each change; backfills in any order; several buying
-- processes on one account.  Default windows: new_customer_window 90 days,
-- customer_term 365 days.  All facts are dated years ago, so "now" answers do
-- not depend on the day the test runs.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('lc');

SELECT tgname, tgrelid::regclass FROM pg_trigger
 WHERE tgrelid IN ('lc.lead'::regclass, 'lc.account'::regclass, 'lc.contact'::regclass) AND NOT tgisinternal
 ORDER BY 2, 1;

INSERT INTO lc.account (account_id, name) VALUES
    (1, 'Acme'), (2, 'Globex'), (3, 'Initech'), (4, 'Umbrella'), (5, 'Hooli'), (6, 'Stark');
INSERT INTO lc.contact (contact_id, account_id, email, opt_in) VALUES
    (11, 1, 'ann@acme', true), (12, 1, 'bob@acme', false),
    (21, 2, 'cy@globex', true), (51, 5, 'di@hooli', true), (52, 5, 'ed@hooli', false),
    (53, 5, 'flo@hooli', true), (61, 6, 'gus@stark', false);
-- no lead yet: subscriber (opted in) or contact
SELECT contact_id, opt_in, status FROM lc.contact ORDER BY contact_id;
SELECT account_id, status, status_since FROM lc.account ORDER BY account_id;

-- Account 1: prospect -> new_customer -> active_customer -> (term runs out)
-- former_customer -> win-back -> new_customer -> active -> advocate -> active -> churn.
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (101, 1, 11, 'self_serve', '2020-01-01');
SELECT lead_id, motion FROM lc.lead WHERE lead_id = 101;
SELECT contact_id, status FROM lc.contact WHERE account_id = 1 ORDER BY contact_id;
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2020-01-10' WHERE lead_id = 101;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2020-02-01' WHERE lead_id = 101;
-- stored status as evaluated at the move (today): the 2020 win's term ran out on 2021-01-31
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 1;
SELECT * FROM lc.account_status_history(1);
SELECT t, lc.account_status_at(1, t) FROM unnest(ARRAY[
    '2020-01-31 23:59:59', '2020-02-01', '2020-04-30 23:59:59', '2020-05-01',
    '2021-01-30 23:59:59', '2021-01-31']::timestamptz[]) t;
-- an expansion lead while a customer extends the term from its win
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (102, 1, 12, 'self_serve', '2020-06-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2020-07-10' WHERE lead_id = 102;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2020-12-01' WHERE lead_id = 102;
SELECT t, lc.account_status_at(1, t) FROM unnest(ARRAY[
    '2021-01-31', '2021-11-30 23:59:59', '2021-12-01']::timestamptz[]) t;
-- a win-back: the former customer wins again and is onboarded again (new_customer)
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (103, 1, 12, 'self_serve', '2022-03-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2022-03-10' WHERE lead_id = 103;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2022-04-01' WHERE lead_id = 103;
SELECT lead_id, created_at, motion FROM lc.lead WHERE account_id = 1 ORDER BY lead_id;
-- advocate changes backfilled as facts, then the stored statuses refreshed
INSERT INTO lc.account_event (account_id, event_at, event) VALUES
    (1, '2022-08-01', 'advocate'), (1, '2022-10-01', 'not_advocate');
SELECT leadfunnel.refresh_lifecycle('lc') AS accounts_changed;
SELECT * FROM lc.account_status_history(1);
SELECT t, lc.account_status_at(1, t) FROM unnest(ARRAY[
    '2022-03-31', '2022-04-01', '2022-06-29 23:59:59', '2022-06-30', '2022-08-01',
    '2022-09-30 23:59:59', '2022-10-01', '2023-03-31 23:59:59', '2023-04-01']::timestamptz[]) t;
-- an explicit churn before the term runs out
UPDATE lc.account SET churned_at = '2022-12-01' WHERE account_id = 1;
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 1;
SELECT t, lc.account_status_at(1, t) FROM unnest(ARRAY[
    '2022-11-30 23:59:59', '2022-12-01', '2023-06-01']::timestamptz[]) t;
SELECT count(*) AS status_stretches FROM lc.account_status_history(1);

-- Account 2: churn, win-back, churn again.  A churned_at changed after a
-- later win records a second churn; the first stays in the history.
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (201, 2, 21, 'self_serve', '2021-01-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2021-02-01' WHERE lead_id = 201;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2021-03-01' WHERE lead_id = 201;
UPDATE lc.account SET churned_at = '2021-06-01' WHERE account_id = 2;
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (202, 2, 21, 'self_serve', '2021-09-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2021-09-10' WHERE lead_id = 202;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2021-10-01' WHERE lead_id = 202;
UPDATE lc.account SET churned_at = '2022-01-15' WHERE account_id = 2;
SELECT lead_id, motion FROM lc.lead WHERE account_id = 2 ORDER BY lead_id;
SELECT event_at, event FROM lc.account_event WHERE account_id = 2 ORDER BY event_at;
SELECT * FROM lc.account_status_history(2);

-- Account 3: a churned_at corrected (no win in between) replaces the churn;
-- cleared, it is gone and the term decides.
INSERT INTO lc.lead (lead_id, account_id, funnel, created_at) VALUES (301, 3, 'self_serve', '2021-01-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2021-01-01' WHERE lead_id = 301;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2021-01-01' WHERE lead_id = 301;
UPDATE lc.account SET churned_at = '2021-03-01' WHERE account_id = 3;
SELECT lc.account_status_at(3, '2021-03-15') AS mid_march;
UPDATE lc.account SET churned_at = '2021-04-01' WHERE account_id = 3;
SELECT lc.account_status_at(3, '2021-03-15') AS mid_march, lc.account_status_at(3, '2021-04-01') AS april;
SELECT event_at, event FROM lc.account_event WHERE account_id = 3;
UPDATE lc.account SET churned_at = NULL WHERE account_id = 3;
SELECT * FROM lc.account_status_history(3);
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 3;

-- Account 4: a CRM import in any order.  The 2023 buying process is loaded
-- first; the 2021 win is backfilled afterwards.  History and as-of answers
-- follow the facts; motion was fixed at insert and is recomputed on request.
INSERT INTO lc.lead (lead_id, account_id, funnel, created_at) VALUES (402, 4, 'self_serve', '2022-12-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2022-12-20' WHERE lead_id = 402;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2023-01-10' WHERE lead_id = 402;
SELECT * FROM lc.account_status_history(4);
INSERT INTO lc.lead (lead_id, account_id, funnel, created_at) VALUES (401, 4, 'self_serve', '2021-01-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2021-01-15' WHERE lead_id = 401;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2021-02-01' WHERE lead_id = 401;
SELECT * FROM lc.account_status_history(4);
SELECT t, lc.account_status_at(4, t) FROM unnest(ARRAY[
    '2021-01-31', '2021-02-01', '2022-02-01', '2023-01-10', '2024-01-10']::timestamptz[]) t;
SELECT lead_id, created_at, motion FROM lc.lead WHERE account_id = 4 ORDER BY lead_id;
SELECT leadfunnel.refresh_lifecycle('lc', recompute_motion => true) AS accounts_changed;
SELECT lead_id, created_at, motion FROM lc.lead WHERE account_id = 4 ORDER BY lead_id;

-- Account 5: three buying processes at once, in three funnels, three contacts.
-- The customer term is set long, so the account is a customer now.
SELECT leadfunnel.set_setting('customer_term', '100 years');
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES
    (501, 5, 51, 'enterprise', '2023-01-01'), (502, 5, 52, 'inside_sales', '2023-02-01'),
    (503, 5, 53, 'self_serve', '2023-03-01');
SELECT contact_id, status FROM lc.contact WHERE account_id = 5 ORDER BY contact_id;
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2023-03-05' WHERE lead_id = 503;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2023-04-01' WHERE lead_id = 503;
-- the won process makes the account a customer, and every contact a customer,
-- while the other processes stay open
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 5;
SELECT contact_id, status FROM lc.contact WHERE account_id = 5 ORDER BY contact_id;
SELECT * FROM lc.account_lifecycle WHERE account_id = 5;
-- a lead created now is expansion; one closing lost leaves its contact a customer
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel) VALUES (504, 5, 51, 'enterprise');
SELECT lead_id, motion FROM lc.lead WHERE account_id = 5 ORDER BY lead_id;
UPDATE lc.lead SET stage = 'lost', stage_entered_at = '2023-05-01' WHERE lead_id = 502;
SELECT contact_id, status FROM lc.contact WHERE account_id = 5 ORDER BY contact_id;
SELECT * FROM lc.account_lifecycle WHERE account_id = 5;
-- is_advocate set on a customer: advocate from now on; cleared: active again
UPDATE lc.account SET is_advocate = true WHERE account_id = 5;
SELECT a.status, a.status_since = e.event_at AS since_the_flag
  FROM lc.account a JOIN lc.account_event e USING (account_id) WHERE account_id = 5 AND e.event = 'advocate';
SELECT lc.account_status_at(5, '2023-12-01') AS before_the_flag;
-- set and cleared within one transaction: one fact at that moment, the last one
BEGIN;
UPDATE lc.account SET is_advocate = false WHERE account_id = 5;
UPDATE lc.account SET is_advocate = true WHERE account_id = 5;
UPDATE lc.account SET is_advocate = false WHERE account_id = 5;
SELECT event, event_at = now() AS at_now FROM lc.account_event WHERE account_id = 5 ORDER BY event_at;
COMMIT;
SELECT a.status, a.status_since = e.event_at AS since_the_flag_cleared
  FROM lc.account a JOIN lc.account_event e USING (account_id) WHERE account_id = 5 AND e.event = 'not_advocate';
-- the stored status is as of the last event; now-status honours the windows
SELECT leadfunnel.set_setting('customer_term', '1 year');
SELECT a.status AS stored, v.status AS now, v.status_since AS now_since
  FROM lc.account a JOIN lc.account_lifecycle v USING (account_id) WHERE account_id = 5;
SELECT leadfunnel.refresh_lifecycle('lc') AS accounts_changed;
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 5;
SELECT contact_id, status FROM lc.contact WHERE account_id = 5 ORDER BY contact_id;
DELETE FROM leadfunnel.setting WHERE name = 'customer_term';

-- Account 6: contact status follows the contact's open leads while the
-- account is a prospect; an explicit churn before any win is ignored.
INSERT INTO lc.lead (lead_id, account_id, contact_id, created_at) VALUES (601, 6, 61, '2024-01-01');
SELECT contact_id, status FROM lc.contact WHERE contact_id = 61;
UPDATE lc.lead SET stage = 'recycled', stage_entered_at = '2024-02-01' WHERE lead_id = 601;
SELECT contact_id, status FROM lc.contact WHERE contact_id = 61;
UPDATE lc.contact SET opt_in = true WHERE contact_id = 61;
SELECT contact_id, status FROM lc.contact WHERE contact_id = 61;
UPDATE lc.lead SET stage = 'lead', stage_entered_at = '2024-03-01' WHERE lead_id = 601;
SELECT contact_id, status FROM lc.contact WHERE contact_id = 61;
UPDATE lc.lead SET contact_id = NULL WHERE lead_id = 601;
SELECT contact_id, status FROM lc.contact WHERE contact_id = 61;
UPDATE lc.account SET churned_at = '2024-01-15' WHERE account_id = 6;
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 6;
SELECT lc.account_status_at(6, '2025-01-01') AS after_churn, lc.account_status_at(99, '2025-01-01') AS unknown_account;

-- A role that may only move leads wins one: statuses are written on its behalf.
CREATE ROLE regress_lf_seller;
GRANT USAGE ON SCHEMA lc TO regress_lf_seller;
GRANT SELECT, INSERT, UPDATE ON lc.lead TO regress_lf_seller;
SET ROLE regress_lf_seller;
INSERT INTO lc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (602, 6, 61, 'self_serve', '2024-06-01');
UPDATE lc.lead SET stage = 'mql', stage_entered_at = '2024-06-02' WHERE lead_id = 602;
UPDATE lc.lead SET stage = 'won', stage_entered_at = '2024-06-03' WHERE lead_id = 602;
SELECT try($$UPDATE lc.account SET churned_at = '2024-07-01' WHERE account_id = 6$$);
RESET ROLE;
SELECT lc.account_status_at(6, '2024-06-03') AS after_win;
SELECT contact_id, status FROM lc.contact WHERE contact_id = 61;
DROP OWNED BY regress_lf_seller;
DROP ROLE regress_lf_seller;

-- Maintained columns and bad facts.
SELECT try($$UPDATE lc.account SET status = 'advocate' WHERE account_id = 1$$);
SELECT try($$UPDATE lc.account SET status_since = '2020-01-01' WHERE account_id = 1$$);
SELECT try($$UPDATE lc.contact SET status = 'customer' WHERE contact_id = 12$$);
SELECT try($$UPDATE lc.lead SET motion = 'expansion' WHERE lead_id = 101$$);
SELECT try($$INSERT INTO lc.lead (lead_id, account_id, motion, created_at) VALUES (701, 3, 'expansion', '2020-01-01')$$);
SELECT try($$UPDATE lc.account SET churned_at = '2999-01-01' WHERE account_id = 3$$);
SELECT try($$UPDATE lc.account SET churned_at = 'infinity' WHERE account_id = 3$$);
SELECT try($$INSERT INTO lc.account_event (account_id, event_at, event, recorded_at, recorded_by) VALUES (3, '2021-01-01', 'bankrupt', '2021-01-01', 'crm')$$);
-- writing the same values (as ORMs do) is fine; a new account is a prospect whatever it says
UPDATE lc.account SET status = status, status_since = status_since, name = 'Acme Inc' WHERE account_id = 1;
INSERT INTO lc.account (account_id, status, status_since) VALUES (7, 'advocate', '2020-01-01');
SELECT account_id, status, status_since FROM lc.account WHERE account_id = 7;
SELECT try($$SELECT leadfunnel.refresh_lifecycle('nosuch')$$);

-- Every view column carries a comment; the view runs with the invoker's rights.
SELECT a.attname FROM pg_attribute a
 WHERE a.attrelid = 'lc.account_lifecycle'::regclass AND a.attnum > 0
   AND col_description(a.attrelid, a.attnum) IS NULL;
SELECT reloptions FROM pg_class WHERE oid = 'lc.account_lifecycle'::regclass;

SELECT * FROM leadfunnel.verify_model('lc');
