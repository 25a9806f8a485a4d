-- pgTAP: the catalog contract of tracked tables and the errors of both modes.
BEGIN;
CREATE EXTENSION leadfunnel;
SELECT plan(19);

SELECT has_function('leadfunnel', 'track', ARRAY['regclass', 'name', 'text', 'name', 'name', 'name', 'name', 'name', 'text'], 'track() with the contract''s parameters');
SELECT has_function('leadfunnel', 'untrack', ARRAY['regclass'], 'untrack(source)');
SELECT is((SELECT pronargdefaults::int FROM pg_proc WHERE oid = 'leadfunnel.track(regclass, name, text, name, name, name, name, name, text)'::regprocedure), 4,
          'account, amount, changed_at and mode are optional');
SELECT is((SELECT pg_get_expr(proargdefaults, 0) FROM pg_proc WHERE oid = 'leadfunnel.track(regclass, name, text, name, name, name, name, name, text)'::regprocedure),
          'NULL::name, NULL::name, NULL::name, ''record''::text', 'mode defaults to record');
SELECT has_table('leadfunnel', 'tracked_table', 'tracked tables configuration');
SELECT col_is_pk('leadfunnel', 'tracked_table', 'source', 'one row per tracked table');
SELECT ok((SELECT 'leadfunnel.tracked_table'::regclass = ANY (extconfig) FROM pg_extension WHERE extname = 'leadfunnel'), 'tracked_table is dumped');

SELECT leadfunnel.create_model('tap');
SELECT has_column('tap', 'lead', 'external_id', 'lead has external_id');
SELECT has_table('tap', 'tracking_issue', 'tracking_issue');

CREATE TABLE public.crm_deals (id text PRIMARY KEY, stage text);
CREATE TABLE public.app_leads (id bigint PRIMARY KEY, status text);
SELECT leadfunnel.apply_preset('deals', 'hubspot_deal');
SELECT is(leadfunnel.track('public.crm_deals', 'tap', 'deals', 'id', 'stage'), 0::bigint, 'track() an empty table');
SELECT is(leadfunnel.track('public.app_leads', 'tap', 'self_serve', 'id', 'status', mode => 'enforce'), 0::bigint, 'track() in enforce mode');
INSERT INTO public.app_leads VALUES (1, 'lead');
INSERT INTO public.crm_deals VALUES ('a', 'closedwon');
SELECT lives_ok($$UPDATE public.crm_deals SET stage = 'appointmentscheduled'$$, 'record: a refused move lands');
SELECT lives_ok($$UPDATE public.crm_deals SET stage = 'Contract Sent'$$, 'record: an unknown label lands');
SELECT throws_ok($$UPDATE public.app_leads SET status = 'won'$$, '23514', NULL, 'enforce: a refused move is 23514');
SELECT throws_ok($$UPDATE public.app_leads SET status = 'Qualified'$$, '23503', NULL, 'enforce: an unknown label is 23503');
SELECT set_eq($$SELECT kind FROM tap.tracking_issue$$, ARRAY['refused_start', 'refused_move', 'unknown_label'], 'record mode flagged all three');
SELECT results_eq($$SELECT h.from_stage::text, h.to_stage::text, h.flag FROM tap.lead_stage_history h JOIN tap.lead l USING (account_id, lead_id) WHERE l.external_id = 'a' ORDER BY h.seq$$,
                  $$VALUES (NULL, 'won', 'stage won is not an entry stage of funnel deals'),
                           ('won', 'sal', 'funnel deals does not allow the move from won to sal')$$,
                  'record mode: the refused start and move are in the history, each row flagged with the reason');
SELECT set_eq($$SELECT kind FROM leadfunnel.tracking_check('public.crm_deals')$$, ARRAY['refused_start', 'refused_move', 'unknown_label', 'unmapped_label'],
              'the daily check lists them');
SELECT set_eq($$SELECT problem FROM leadfunnel.verify_model('tap')$$,
              ARRAY['tracked public.crm_deals: refused_start closedwon (new -> won) (key a)',
                    'tracked public.crm_deals: refused_move appointmentscheduled (won -> sal) (key a)',
                    'tracked public.crm_deals: unknown_label Contract Sent (key a)'],
              'verify_model lists them, and nothing else');

SELECT * FROM finish();
ROLLBACK;
