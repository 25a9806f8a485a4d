-- pgTAP: the lifecycle contract — objects, every transition of the account
-- status with as-of answers before and after each change, motion, contact
-- status, backfills out of order, the error contract.
BEGIN;
CREATE EXTENSION leadfunnel;
SET LOCAL TimeZone = 'UTC';
SELECT plan(57);

SELECT lives_ok($$SELECT leadfunnel.create_model('tlc')$$, 'create_model adds the lifecycle objects');
SELECT has_table('tlc', 'account_event', 'table account_event');
SELECT col_is_pk('tlc', 'account_event', ARRAY['account_id', 'event_at', 'event']::name[], 'account_event keyed by account first');
SELECT has_view('tlc', 'account_lifecycle', 'view account_lifecycle');
SELECT columns_are('tlc', 'account_lifecycle',
    ARRAY['account_id', 'status', 'status_since', 'open_leads', 'won_leads', 'closed_lost_leads', 'first_won_at', 'last_won_at'],
    'account_lifecycle has the contract columns');
SELECT has_function('tlc', 'account_status_at', ARRAY['bigint', 'timestamp with time zone'], 'account_status_at in the model schema');
SELECT function_returns('tlc', 'account_status_at', ARRAY['bigint', 'timestamp with time zone'], 'leadfunnel.account_status');
SELECT has_function('tlc', 'account_status_history', ARRAY['bigint']);
SELECT has_function('leadfunnel', 'refresh_lifecycle', ARRAY['name', 'boolean']);
SELECT has_function('leadfunnel', 'model_add_lifecycle', ARRAY['name']);
SELECT volatility_is('leadfunnel', 'contact_status_rule', ARRAY['boolean', 'boolean', 'boolean'], 'immutable');
SELECT has_trigger('tlc', 'lead', 'lead_motion', 'trigger lead_motion');
SELECT has_trigger('tlc', 'lead', 'lead_to_lifecycle_insert', 'trigger lead_to_lifecycle_insert');
SELECT has_trigger('tlc', 'lead', 'lead_to_lifecycle_update', 'trigger lead_to_lifecycle_update');
SELECT has_trigger('tlc', 'account', 'account_status_guard', 'trigger account_status_guard');
SELECT has_trigger('tlc', 'account', 'account_lifecycle_record', 'trigger account_lifecycle_record');
SELECT has_trigger('tlc', 'contact', 'contact_status_derive', 'trigger contact_status_derive');

SELECT results_eq(
    $$SELECT leadfunnel.contact_status_rule(c, l, o)::text
        FROM (VALUES (true, true, true), (true, false, false), (false, true, false),
                     (false, false, true), (false, false, false)) v(c, l, o)$$,
    ARRAY['customer', 'customer', 'lead', 'subscriber', 'contact'],
    'contact status rule: customer over lead over subscriber over contact');

-- Windows of this test: new customer for 30 days, customer term of 200 days.
SELECT FROM leadfunnel.set_setting('new_customer_window', '30 days');
SELECT FROM leadfunnel.set_setting('customer_term', '200 days');

INSERT INTO tlc.account (account_id, name) VALUES (1, 'one'), (2, 'two');
INSERT INTO tlc.contact (contact_id, account_id, opt_in) VALUES (10, 1, true), (20, 2, false);

-- every transition of account 1, backfilled:
--   2019-01-10 win          prospect -> new_customer
--   2019-02-09 (+30 days)   new_customer -> active_customer
--   2019-03-01 advocate     active_customer -> advocate
--   2019-04-01 not advocate advocate -> active_customer
--   2019-07-29 (+200 days)  active_customer -> former_customer
--   2019-09-01 win          former_customer -> new_customer (win-back)
--   2019-09-15 advocate     new_customer -> advocate
--   2019-11-01 churned_at   advocate -> former_customer
INSERT INTO tlc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (1, 1, 10, 'self_serve', '2019-01-01');
SELECT is(motion::text, 'new_business', 'a prospect''s lead is new business') FROM tlc.lead WHERE lead_id = 1;
SELECT is(status::text, 'lead', 'a contact with an open lead is a lead') FROM tlc.contact WHERE contact_id = 10;
UPDATE tlc.lead SET stage = 'mql', stage_entered_at = '2019-01-05' WHERE lead_id = 1;
SELECT is(tlc.account_status_at(1, '2019-01-09 23:59'), 'prospect', 'before the first win: prospect');
UPDATE tlc.lead SET stage = 'won', stage_entered_at = '2019-01-10' WHERE lead_id = 1;
SELECT is(tlc.account_status_at(1, '2019-01-09 23:59'), 'prospect', 'still prospect before the win, after it was recorded');
SELECT is(tlc.account_status_at(1, '2019-01-10'), 'new_customer', 'from the first win: new_customer');
SELECT is(tlc.account_status_at(1, '2019-02-08 23:59'), 'new_customer', 'new_customer during the window');
SELECT is(tlc.account_status_at(1, '2019-02-09'), 'active_customer', 'after the window: active_customer');
INSERT INTO tlc.account_event (account_id, event_at, event) VALUES (1, '2019-03-01', 'advocate'), (1, '2019-04-01', 'not_advocate');
SELECT is(tlc.account_status_at(1, '2019-02-28'), 'active_customer', 'before the advocate flag: active');
SELECT is(tlc.account_status_at(1, '2019-03-01'), 'advocate', 'advocate while the flag is set');
SELECT is(tlc.account_status_at(1, '2019-04-01'), 'active_customer', 'flag cleared: active again');
SELECT is(tlc.account_status_at(1, '2019-07-28 23:59'), 'active_customer', 'within the customer term: active');
SELECT is(tlc.account_status_at(1, '2019-07-29'), 'former_customer', 'no win within the customer term: former_customer');
INSERT INTO tlc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (2, 1, 10, 'self_serve', '2019-08-01');
SELECT is(motion::text, 'win_back', 'a former customer''s lead is a win-back') FROM tlc.lead WHERE lead_id = 2;
UPDATE tlc.lead SET stage = 'mql', stage_entered_at = '2019-08-15' WHERE lead_id = 2;
UPDATE tlc.lead SET stage = 'won', stage_entered_at = '2019-09-01' WHERE lead_id = 2;
SELECT is(tlc.account_status_at(1, '2019-08-31'), 'former_customer', 'former until the win-back');
SELECT is(tlc.account_status_at(1, '2019-09-01'), 'new_customer', 'won again: a new customer again');
INSERT INTO tlc.account_event (account_id, event_at, event) VALUES (1, '2019-09-15', 'advocate');
UPDATE tlc.account SET churned_at = '2019-11-01' WHERE account_id = 1;
SELECT is(tlc.account_status_at(1, '2019-09-15'), 'advocate', 'advocate also while new');
SELECT is(tlc.account_status_at(1, '2019-10-31 23:59'), 'advocate', 'advocate until the churn');
SELECT is(tlc.account_status_at(1, '2019-11-01'), 'former_customer', 'explicit churn: former_customer although the flag is set');
SELECT results_eq(
    $$SELECT status::text, valid_from FROM tlc.account_status_history(1)$$,
    $$VALUES ('prospect', NULL::timestamptz), ('new_customer', '2019-01-10'), ('active_customer', '2019-02-09'),
             ('advocate', '2019-03-01'), ('active_customer', '2019-04-01'), ('former_customer', '2019-07-29'),
             ('new_customer', '2019-09-01'), ('advocate', '2019-09-15'), ('former_customer', '2019-11-01')$$,
    'the status history holds every transition');
SELECT is((SELECT array_agg(lc.status::text) FROM tlc.account_status_history(1) h,
                  LATERAL (SELECT tlc.account_status_at(1, h.valid_from) AS status) lc WHERE h.valid_from IS NOT NULL),
          (SELECT array_agg(status::text) FROM tlc.account_status_history(1) WHERE valid_from IS NOT NULL),
          'account_status_at agrees with the history at every change');
SELECT results_eq($$SELECT status::text, status_since FROM tlc.account WHERE account_id = 1$$,
                  $$VALUES ('former_customer', '2019-11-01'::timestamptz)$$, 'stored status after the churn');

-- a win backfilled before all of that, after it was recorded, rewrites the history
INSERT INTO tlc.lead (lead_id, account_id, funnel, created_at) VALUES (3, 1, 'self_serve', '2018-06-01');
SELECT is(motion::text, 'new_business', 'motion is fixed at insert from the facts known then') FROM tlc.lead WHERE lead_id = 3;
UPDATE tlc.lead SET stage = 'mql', stage_entered_at = '2018-06-02' WHERE lead_id = 3;
UPDATE tlc.lead SET stage = 'won', stage_entered_at = '2018-07-01' WHERE lead_id = 3;
SELECT is(tlc.account_status_at(1, '2018-07-01'), 'new_customer', 'backfilled win: a customer from 2018-07-01');
SELECT is(tlc.account_status_at(1, '2018-07-31'), 'active_customer', 'backfilled win: active after its window');
SELECT is(tlc.account_status_at(1, '2019-01-10'), 'active_customer', 'the 2019-01-10 win now falls within the term of the backfilled one: no new episode');
SELECT results_eq($$SELECT status::text, valid_from FROM tlc.account_status_history(1) LIMIT 4$$,
    $$VALUES ('prospect', NULL::timestamptz), ('new_customer', '2018-07-01'), ('active_customer', '2018-07-31'), ('advocate', '2019-03-01')$$,
    'the history is rewritten from the facts');
SELECT is(leadfunnel.refresh_lifecycle('tlc', true), 0::bigint, 'refresh: the stored status of account 1 was already right');
SELECT is(motion::text, 'expansion', 'after refresh with recompute_motion, lead 1 (created 2019-01-01) is an expansion') FROM tlc.lead WHERE lead_id = 1;

-- several buying processes on account 2 at once
INSERT INTO tlc.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES
    (21, 2, 20, 'enterprise', '2024-01-01'), (22, 2, 20, 'inside_sales', '2024-01-02'), (23, 2, NULL, 'self_serve', '2024-01-03');
UPDATE tlc.lead SET stage = 'lost', stage_entered_at = '2024-02-01' WHERE lead_id = 21;
SELECT is(status::text, 'lead', 'one lead lost, another still open: still a lead') FROM tlc.contact WHERE contact_id = 20;
UPDATE tlc.lead SET stage = 'disqualified', stage_entered_at = '2024-02-02' WHERE lead_id = 22;
SELECT is(status::text, 'contact', 'last open lead closed without a win, no opt-in: contact') FROM tlc.contact WHERE contact_id = 20;
UPDATE tlc.contact SET opt_in = true WHERE contact_id = 20;
SELECT is(status::text, 'subscriber', 'opted in: subscriber') FROM tlc.contact WHERE contact_id = 20;
SELECT FROM leadfunnel.set_setting('customer_term', '100 years');
UPDATE tlc.lead SET stage = 'mql', stage_entered_at = '2024-03-01' WHERE lead_id = 23;
UPDATE tlc.lead SET stage = 'won', stage_entered_at = '2024-03-02' WHERE lead_id = 23;
SELECT is(status::text, 'customer', 'a won process of the account makes every contact a customer') FROM tlc.contact WHERE contact_id = 20;
SELECT results_eq($$SELECT status::text, open_leads, won_leads, closed_lost_leads, first_won_at FROM tlc.account_lifecycle WHERE account_id = 2$$,
                  $$VALUES ('active_customer', 0::bigint, 1::bigint, 2::bigint, '2024-03-02'::timestamptz)$$,
                  'account_lifecycle counts the account''s processes');
INSERT INTO tlc.lead (lead_id, account_id, funnel) VALUES (24, 2, 'enterprise');
SELECT is(motion::text, 'expansion', 'a customer''s new lead is expansion') FROM tlc.lead WHERE lead_id = 24;

-- the error contract
SELECT throws_ok($$UPDATE tlc.account SET status = 'advocate' WHERE account_id = 2$$, '428C9', NULL, 'account.status is maintained');
SELECT throws_ok($$UPDATE tlc.contact SET status = 'lead' WHERE contact_id = 20$$, '428C9', NULL, 'contact.status is maintained');
SELECT throws_ok($$UPDATE tlc.lead SET motion = 'win_back' WHERE lead_id = 24$$, '428C9', NULL, 'lead.motion is maintained');
SELECT throws_ok($$UPDATE tlc.account SET churned_at = 'infinity' WHERE account_id = 2$$, '23514', NULL, 'churned_at must be a finite past time');
SELECT throws_ok($$SELECT leadfunnel.refresh_lifecycle(NULL)$$, '22004', NULL, 'refresh_lifecycle(NULL)');

SELECT * FROM finish();
ROLLBACK;
