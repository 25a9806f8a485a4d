-- pgTAP: the catalog contract of the analytic aggregates and the funnel views.
BEGIN;
CREATE EXTENSION leadfunnel;
SELECT plan(44);

SELECT is_aggregate('leadfunnel', 'funnel_reach', ARRAY['leadfunnel.lead_stage'], 'funnel_reach(lead_stage) is an aggregate');
SELECT is_aggregate('leadfunnel', 'cycle_time', ARRAY['interval'], 'cycle_time(interval) is an aggregate');
SELECT is_aggregate('leadfunnel', 'window_funnel', ARRAY['interval', 'timestamp with time zone', 'leadfunnel.lead_stage'], 'window_funnel is an aggregate');
SELECT is_aggregate('leadfunnel', 'window_funnel', ARRAY['interval', 'timestamp with time zone', 'leadfunnel.lead_stage', 'text'], 'window_funnel with a mode is an aggregate');
SELECT function_returns('leadfunnel', 'window_funnel', ARRAY['interval', 'timestamp with time zone', 'leadfunnel.lead_stage', 'text'], 'leadfunnel.lead_stage');
SELECT is_aggregate('leadfunnel', 'cycle_time_sketch', ARRAY['interval'], 'cycle_time_sketch(interval) is an aggregate');
SELECT is_aggregate('leadfunnel', 'cycle_time_merge', ARRAY['leadfunnel.cycle_time_sketch'], 'cycle_time_merge is an aggregate');
SELECT function_returns('leadfunnel', 'funnel_reach', ARRAY['leadfunnel.lead_stage'], 'bigint[]');
SELECT function_returns('leadfunnel', 'cycle_time', ARRAY['interval'], 'leadfunnel.cycle_time_stats');
SELECT function_returns('leadfunnel', 'window_funnel', ARRAY['interval', 'timestamp with time zone', 'leadfunnel.lead_stage'], 'leadfunnel.lead_stage');
SELECT has_type('leadfunnel', 'cycle_time_sketch', 'state type cycle_time_sketch');
SELECT has_type('leadfunnel', 'funnel_reach_state', 'state type funnel_reach_state');
SELECT has_type('leadfunnel', 'window_funnel_state', 'state type window_funnel_state');

-- what Citus needs to push partial aggregation down: a combine function, a real state type
SELECT is(count(*), 18::bigint, 'every leadfunnel aggregate (window_funnel with a mode, attribution_totals, cycle_time_by_stage, markov_attribution, shapley_attribution, attribution_totals_partial and _merge too) has a combine function, a non-internal state type, no serial/deserial')
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'leadfunnel'::regnamespace
   AND a.aggcombinefn <> 0 AND a.aggtranstype <> 'internal'::regtype AND a.aggserialfn = 0;
SELECT is(count(*), 0::bigint, 'every aggregate and support function is PARALLEL SAFE')
  FROM pg_proc p
 WHERE p.pronamespace = 'leadfunnel'::regnamespace AND p.proparallel <> 's'
   AND (p.prokind = 'a' OR p.proname ~ '^(funnel_reach|cycle_time|window_funnel)');
SELECT is(count(*), 4::bigint, 'funnel_reach and cycle_time (interval; timestamptz and timestamp pairs) have moving-aggregate forms')
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'leadfunnel'::regnamespace AND a.aggminvtransfn <> 0;
SELECT is(count(*) FILTER (WHERE t.typsend <> 0 AND t.typreceive <> 0), 7::bigint, 'the 7 state types exist and have send and receive functions')
  FROM pg_type t WHERE t.typnamespace = 'leadfunnel'::regnamespace
   AND t.typname IN ('cycle_time_sketch', 'funnel_reach_state', 'window_funnel_state', 'cycle_time_by_stage_state',
                     'attribution_totals_state', 'markov_attribution_state', 'shapley_attribution_state');
SELECT is(count(*), 0::bigint, 'every type of the extension has a comment')
  FROM pg_type t WHERE t.typnamespace = 'leadfunnel'::regnamespace AND t.typtype IN ('b', 'c', 'e') AND t.typcategory <> 'A'
   AND obj_description(t.oid, 'pg_type') IS NULL
   AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c');
SELECT volatility_is('leadfunnel', 'cycle_time_quantile', ARRAY['leadfunnel.cycle_time_sketch', 'double precision'], 'immutable');

-- the views of a model
SELECT leadfunnel.create_model('tap_views');
SELECT ok(array_agg(relname::text) @> ARRAY['funnel_summary', 'conversion_by_segment', 'cycle_times', 'dropoff'], 'the model has the four funnel views')
  FROM pg_class WHERE relnamespace = 'tap_views'::regnamespace AND relkind = 'v';
SELECT columns_are('tap_views', 'funnel_summary', ARRAY['funnel', 'stage', 'reached', 'conversion_from_previous', 'conversion_from_top', 'entered']);
-- pipeline and waterfall (0.3)
SELECT columns_are('tap_views', 'waterfall', ARRAY['funnel', 'period', 'stage', 'entered', 'advanced', 'won', 'conversion',
    'conversion_low', 'conversion_high', 'days_to_next_p50', 'days_to_next_p90', 'amount']);
SELECT columns_are('tap_views', 'pipeline', ARRAY['funnel', 'stage', 'stage_label', 'forecast_category', 'leads', 'amount',
    'weighted_amount', 'age_in_stage_p50']);
SELECT columns_are('tap_views', 'conversion_by_cohort', ARRAY['funnel', 'cohort', 'from_stage', 'to_stage', 'entered',
    'within_30d', 'within_60d', 'within_90d', 'ever']);
SELECT has_function('tap_views', 'pipeline_at', ARRAY['timestamp with time zone'], 'pipeline_at(at timestamptz)');
SELECT has_function('tap_views', 'pipeline_movement', ARRAY['timestamp with time zone', 'timestamp with time zone'],
    'pipeline_movement(from_at timestamptz, to_at timestamptz)');
SELECT has_column('tap_views', 'lead', 'expected_close_date', 'lead.expected_close_date');
SELECT throws_ok($$TRUNCATE tap_views.lead_value_history$$, '42501', NULL, 'value history is append-only');
SELECT columns_are('tap_views', 'conversion_by_segment',
    ARRAY['period', 'funnel', 'campaign_id', 'product_area', 'region', 'stage', 'reached', 'conversion_from_previous']);
SELECT columns_are('tap_views', 'cycle_times', ARRAY['funnel', 'measure', 'stage', 'n', 'mean', 'p50', 'p90', 'p95', 'max']);
SELECT columns_are('tap_views', 'dropoff', ARRAY['funnel', 'last_open_stage', 'outcome', 'leads', 'share']);
SELECT col_type_is('tap_views', 'funnel_summary', 'conversion_from_top', 'numeric', 'conversions are numeric');
SELECT col_type_is('tap_views', 'conversion_by_segment', 'period', 'date', 'period is a date');
SELECT col_type_is('tap_views', 'cycle_times', 'p95', 'interval', 'durations are intervals');
SELECT col_type_is('tap_views', 'dropoff', 'share', 'numeric', 'share is numeric');
SELECT is(count(*) FILTER (WHERE reloptions @> '{security_invoker=true}'), count(*), 'the views are security_invoker')
  FROM pg_class WHERE relnamespace = 'tap_views'::regnamespace AND relkind = 'v';

-- a recycled lead that was reopened and lost: last_open_stage is where it closed from the last time
INSERT INTO tap_views.account (account_id) VALUES (1);
INSERT INTO tap_views.lead (lead_id, account_id, created_at) VALUES (1, 1, '2025-01-01');
UPDATE tap_views.lead SET stage = 'mql', stage_entered_at = '2025-01-02' WHERE lead_id = 1;
UPDATE tap_views.lead SET stage = 'recycled', stage_entered_at = '2025-01-03' WHERE lead_id = 1;
UPDATE tap_views.lead SET stage = 'visitor', stage_entered_at = '2025-02-01' WHERE lead_id = 1;
UPDATE tap_views.lead SET stage = 'lost', stage_entered_at = '2025-02-02' WHERE lead_id = 1;
SELECT results_eq($$SELECT last_open_stage::text, outcome::text, leads, share FROM tap_views.dropoff$$,
                  $$VALUES ('visitor', 'lost', 1::bigint, 1::numeric)$$, 'dropoff: last open stage before the final close');
SELECT results_eq($$SELECT stage::text, n FROM tap_views.cycle_times WHERE measure = 'time_in_stage' ORDER BY stage$$,
                  $$VALUES ('lead', 1::bigint), ('mql', 1::bigint), ('recycled', 1::bigint), ('visitor', 1::bigint)$$,
                  'cycle_times: completed stays per stage, the recycled stay included');
SELECT is((SELECT mean FROM tap_views.cycle_times WHERE measure = 'lead_duration'), interval '32 days', 'lead_duration: created to closed');

-- errors
SELECT throws_ok($$SELECT leadfunnel.cycle_time(interval '-1 hour')$$, '22023', NULL, 'negative duration: 22023');
SELECT throws_ok($$SELECT 'v9'::leadfunnel.cycle_time_sketch$$, '22P02', NULL, 'bad sketch text: 22P02');
SELECT throws_ok($$SELECT leadfunnel.window_funnel(NULL, now(), 'lead')$$, '22004', NULL, 'NULL window: 22004');
SELECT throws_ok($$SELECT leadfunnel.window_funnel('1 day', now(), 'lead', 'strict')$$, '22023', NULL, 'unknown window_funnel mode: 22023');
SELECT throws_ok($$SELECT leadfunnel.cycle_time_quantile(leadfunnel.cycle_time_sketch(interval '1 day'), -0.1)$$, '22023', NULL,
                 'quantile outside 0..1: 22023');

SELECT * FROM finish();
ROLLBACK;
