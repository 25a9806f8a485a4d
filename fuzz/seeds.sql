-- The seed corpus of the fuzzers (tools/fuzz.sh) and of the SQL-level
-- mutation step of `make test` (tools/mutate-states.py): valid states of every
-- state type, made by the extension's own aggregates over demo data on a real
-- server, written out with the type's output and send functions by
-- tools/fuzz-seeds.sh into fuzz/seeds/<type>.in/ and fuzz/seeds/<type>.recv/.
--
-- ONE LINE PER STATE TYPE: pg_temp.seeds('<type>', $$<query whose one column
-- is states of that type>$$).  pg_temp.<aggregate>_state(...) is each
-- aggregate of the extension without its final function (its state), made
-- below from the catalog.  tools/fuzz.sh and the mutation step refuse to run
-- while a CREATE TYPE ... INPUT of src/sql/*.sql has no line here.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
DO $$
DECLARE a record;
BEGIN
    FOR a IN
        SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
               g.aggtransfn::regproc AS sfunc, g.aggtranstype::regtype AS stype, g.agginitval
          FROM pg_catalog.pg_aggregate g JOIN pg_catalog.pg_proc p ON p.oid = g.aggfnoid
         WHERE p.pronamespace = 'leadfunnel'::regnamespace
    LOOP
        EXECUTE format('CREATE AGGREGATE pg_temp.%I(%s) (SFUNC = %s, STYPE = %s%s)', a.proname || '_state', a.args,
                       a.sfunc, a.stype, CASE WHEN a.agginitval IS NOT NULL THEN format(', INITCOND = %L', a.agginitval) ELSE '' END);
    END LOOP;
END $$;
CREATE TEMP TABLE seed (typname text, ord int, out text, bin bytea);
CREATE FUNCTION pg_temp.seeds(typname text, query text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('INSERT INTO seed SELECT %L, row_number() OVER (), s::text, leadfunnel.%I(s) FROM (%s) x(s) WHERE s IS NOT NULL',
                   typname, typname || '_send', query);
END $f$;
SELECT leadfunnel.create_model('seeds');
SELECT count(*) > 0 FROM leadfunnel.generate_demo('seeds', 300, 0.4);
CREATE TEMP VIEW hist AS SELECT lead_id, to_stage, entered_at, left_at FROM seeds.lead_stage_history;

SELECT pg_temp.seeds('funnel_reach_state', $$SELECT pg_temp.funnel_reach_state(to_stage) FROM hist GROUP BY GROUPING SETS ((), (lead_id % 5), (lead_id))$$);
SELECT pg_temp.seeds('cycle_time_sketch', $$SELECT pg_temp.cycle_time_state(entered_at, left_at) FROM hist WHERE left_at IS NOT NULL GROUP BY GROUPING SETS ((), (to_stage), (lead_id % 50)) UNION ALL SELECT leadfunnel.cycle_time_sketch(make_interval(secs => g * 37.5)) FROM generate_series(1, 20000) g$$);
SELECT pg_temp.seeds('window_funnel_state', $$SELECT pg_temp.window_funnel_state('7 days', entered_at, to_stage) FROM hist GROUP BY GROUPING SETS ((), (lead_id % 7), (lead_id)) UNION ALL SELECT pg_temp.window_funnel_state('14 days', entered_at, to_stage, m) FROM hist, unnest(ARRAY['strict_order', 'strict_deduplication', 'strict_increase', 'strict_order,allow_reentry', 'skip_allowed', 'until=sql', 'strict_order,strict_deduplication,strict_increase,until=opportunity']) m WHERE lead_id % 3 = 0 GROUP BY GROUPING SETS ((m), (m, lead_id % 7), (m, lead_id))$$);
SELECT pg_temp.seeds('cycle_time_by_stage_state', $$SELECT pg_temp.cycle_time_by_stage_state(to_stage, entered_at, left_at) FROM hist WHERE left_at IS NOT NULL GROUP BY GROUPING SETS ((), (lead_id % 4), (lead_id % 60))$$);
SELECT pg_temp.seeds('attribution_totals_state', $$SELECT pg_temp.attribution_totals_state(p.touched_at, p.touch_id, p.campaign_id, p.lead_created_at, p.opportunity_created_at, p.closed_at, interval '7 days', l.amount::float8, CASE WHEN l.stage = 'won' THEN l.amount::float8 END) FROM seeds.lead_touch_path p JOIN seeds.lead l USING (account_id, lead_id) GROUP BY GROUPING SETS ((), (p.lead_id % 3), (p.lead_id))$$);
SELECT pg_temp.seeds('markov_attribution_state', $$SELECT pg_temp.markov_attribution_state(CASE WHEN lead_id % 2 = 0 THEN channels ELSE campaigns END, won, amount) FROM seeds.lead_channel_path GROUP BY GROUPING SETS ((), (lead_id % 3), (lead_id)) UNION ALL SELECT pg_temp.markov_attribution_state(ARRAY['a "q"', 'b\s', 'é'], g % 2 = 0, g) FROM generate_series(1, 3) g$$);
SELECT pg_temp.seeds('shapley_attribution_state', $$SELECT pg_temp.shapley_attribution_state(CASE WHEN lead_id % 2 = 0 THEN channels ELSE campaigns END, pipeline, amount) FROM seeds.lead_channel_path GROUP BY GROUPING SETS ((), (lead_id % 3), (lead_id)) UNION ALL SELECT pg_temp.shapley_attribution_state(ARRAY['a "q"', 'b\s', 'é'], g % 2 = 0, g) FROM generate_series(1, 3) g$$);
