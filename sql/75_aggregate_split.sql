-- Aggregates split and combined as Citus does it: a partial aggregate per
-- shard (the transition function, no final function), the state shipped as
-- text (output, then input function of the state type), and on the
-- coordinator the combine function over the partial states, then the final
-- function.  The answer must not depend on how the rows were split.  And the
-- same through parallel query.
SET TimeZone = 'UTC';

-- check_split(agg, sample): for each split of the sample's rows into k
-- partitions (k = 1, 2, 3, 7, 50, one row against the rest, with empty
-- partitions), whether partial-combine-final gives the answer of agg over all
-- rows.  sample is a query returning the aggregate's arguments as a1, a2, ...
CREATE FUNCTION pg_temp.check_split(agg regprocedure, sample text)
    RETURNS TABLE (split text, same boolean, shipped_as_text boolean)
    LANGUAGE plpgsql AS $$
DECLARE
    a pg_aggregate;
    argtypes oidvector;
    nargs int;
    args text;
    sig text;
    whole text;
    combined text;
    k int;
    part_expr text;
BEGIN
    SELECT * INTO a FROM pg_aggregate WHERE aggfnoid = agg;
    SELECT p.proargtypes, p.pronargs INTO argtypes, nargs FROM pg_proc p WHERE p.oid = agg;
    IF a.aggcombinefn = 0 THEN
        RAISE EXCEPTION 'aggregate % has no combine function', agg;
    END IF;
    IF a.aggtranstype = 'internal'::regtype THEN
        RAISE EXCEPTION 'aggregate % has an internal state: Citus cannot push it down', agg;
    END IF;
    SELECT string_agg('a' || i, ', ' ORDER BY i), string_agg(format_type(argtypes[i - 1], NULL), ', ' ORDER BY i)
      INTO args, sig FROM generate_series(1, nargs) i;
    EXECUTE format('CREATE AGGREGATE pg_temp.lf_partial(%s) (SFUNC = %s, STYPE = %s%s)',
                   sig, a.aggtransfn::regproc, format_type(a.aggtranstype, NULL),
                   CASE WHEN a.agginitval IS NOT NULL THEN format(', INITCOND = %L', a.agginitval) ELSE '' END);
    EXECUTE format('CREATE AGGREGATE pg_temp.lf_combine(%2$s) (SFUNC = %1$s, STYPE = %2$s%3$s%4$s)',
                   a.aggcombinefn::regproc, format_type(a.aggtranstype, NULL),
                   CASE WHEN a.agginitval IS NOT NULL THEN format(', INITCOND = %L', a.agginitval) ELSE '' END,
                   CASE WHEN a.aggfinalfn <> 0 THEN format(', FINALFUNC = %s', a.aggfinalfn::regproc) ELSE '' END);
    EXECUTE format('SELECT %s(%s)::text FROM (%s) s', agg::regproc, args, sample) INTO whole;
    FOREACH k IN ARRAY ARRAY[1, 2, 3, 7, 50, -1, -2] LOOP
        part_expr := CASE k WHEN -1 THEN 'rn = 1'            -- one row against the rest
                            WHEN -2 THEN 'rn % 5 = 0'        -- uneven
                            ELSE format('rn %% %s', k) END;
        EXECUTE format($q$
            WITH rows AS (SELECT row_number() OVER () AS rn, * FROM (%1$s) s),
                 partials AS (SELECT pg_temp.lf_partial(%2$s) AS st FROM rows GROUP BY %3$s
                              UNION ALL   -- a shard without rows
                              SELECT pg_temp.lf_partial(%2$s) FROM rows WHERE false)
            SELECT pg_temp.lf_combine(st::text::%4$s)::text FROM partials
        $q$, sample, args, part_expr, format_type(a.aggtranstype, NULL)) INTO combined;
        split := CASE k WHEN -1 THEN 'first row alone' WHEN -2 THEN 'uneven' ELSE k || ' partitions' END;
        same := whole IS NOT DISTINCT FROM combined;
        EXECUTE format($q$
            SELECT bool_and(st::text::%3$s::text = st::text)
              FROM (SELECT pg_temp.lf_partial(%2$s) AS st FROM (SELECT row_number() OVER () AS rn, * FROM (%1$s) s) r
                     GROUP BY rn %% 3) p
        $q$, sample, args, format_type(a.aggtranstype, NULL)) INTO shipped_as_text;
        RETURN NEXT;
    END LOOP;
    EXECUTE format('DROP AGGREGATE pg_temp.lf_partial(%s)', sig);
    EXECUTE format('DROP AGGREGATE pg_temp.lf_combine(%s)', format_type(a.aggtranstype, NULL));
END $$;

-- RETURN QUERY may run its query in parallel workers (EXECUTE ... INTO does not).
CREATE FUNCTION pg_temp.run_query(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE q;
END $$;

-- check_parallel(agg, sample): whether a forced parallel plan aggregates in
-- partial mode in launched workers, and gives the serial answer.
CREATE FUNCTION pg_temp.check_parallel(agg regprocedure, sample text)
    RETURNS TABLE (partial_in_workers boolean, same boolean)
    LANGUAGE plpgsql AS $$
DECLARE
    nargs int;
    args text;
    serial text;
    parallel text;
    plan json;
BEGIN
    SELECT p.pronargs INTO nargs FROM pg_proc p WHERE p.oid = agg;
    SELECT string_agg('a' || i, ', ' ORDER BY i) INTO args FROM generate_series(1, nargs) i;
    EXECUTE format('CREATE TABLE public.lf_split_sample AS %s', sample);
    -- repeat the sample so that every worker gets pages of its own
    FOR i IN 1 .. 5 LOOP
        EXECUTE 'INSERT INTO public.lf_split_sample SELECT * FROM public.lf_split_sample';
    END LOOP;
    ANALYZE public.lf_split_sample;
    SET LOCAL max_parallel_workers_per_gather = 0;
    SELECT r INTO serial
      FROM pg_temp.run_query(format('SELECT %s(%s)::text FROM public.lf_split_sample', agg::regproc, args)) r;
    SET LOCAL max_parallel_workers_per_gather = 2;
    SET LOCAL parallel_setup_cost = 0;
    SET LOCAL parallel_tuple_cost = 0;
    SET LOCAL min_parallel_table_scan_size = 0;
    SET LOCAL parallel_leader_participation = off;
    EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) SELECT %s(%s) FROM public.lf_split_sample',
                   agg::regproc, args) INTO plan;
    partial_in_workers := plan::text LIKE '%"Partial Mode": "Finalize"%' AND plan::text LIKE '%"Partial Mode": "Partial"%'
                          AND plan::text ~ '"Workers Launched": [1-9]';
    SELECT r INTO parallel
      FROM pg_temp.run_query(format('SELECT %s(%s)::text FROM public.lf_split_sample', agg::regproc, args)) r;
    same := serial IS NOT DISTINCT FROM parallel;
    DROP TABLE public.lf_split_sample;
    RETURN NEXT;
END $$;

-- The checks themselves, on built-in aggregates: avg(int4) has a real
-- array state (int8[]) and a final function in every supported major
-- (avg(interval)'s became internal in PostgreSQL 17); a combine function that is
-- wrong (the larger of two counts instead of their sum) is caught.
CREATE FUNCTION pg_temp.count_step(int8, int4) RETURNS int8 LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
CREATE AGGREGATE pg_temp.wrong_count(int4) (SFUNC = pg_temp.count_step, STYPE = int8, INITCOND = '0',
                                            COMBINEFUNC = int8larger);
SELECT 'avg(int4)' AS agg, * FROM pg_temp.check_split('avg(int4)',
    $$SELECT (g * 37) % 400 - 100 AS a1 FROM generate_series(1, 500) g ORDER BY g$$);
SELECT 'max(text)' AS agg, * FROM pg_temp.check_split('max(text)',
    $$SELECT md5(g::text) AS a1 FROM generate_series(1, 100) g ORDER BY g$$);
SELECT 'wrong_count(int4)' AS agg, * FROM pg_temp.check_split('pg_temp.wrong_count(int4)',
    $$SELECT g AS a1 FROM generate_series(1, 100) g ORDER BY g$$);
SELECT 'avg(interval)' AS agg, * FROM pg_temp.check_parallel('avg(interval)',
    $$SELECT make_interval(days => (g * 37) % 400, hours => g % 24) AS a1 FROM generate_series(1, 2000) g$$);

-- leadfunnel's aggregates: every one has a combine function and a real
-- (not internal) state type, so that Citus can push partial aggregation to
-- the workers ... except lead_stage_entries (stage_entries.c): it aggregates
-- one lead's history, whose rows one process (one Citus shard: the lead's
-- account) holds, so the views group it by lead and nothing is combined
SELECT a.aggfnoid::regprocedure AS aggregate,
       CASE WHEN a.aggcombinefn = 0 THEN 'no combine function'
            WHEN a.aggtranstype = 'internal'::regtype THEN 'internal state type'
            WHEN a.aggfinalextra THEN 'final function takes extra arguments (not checked here)' END AS problem
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'leadfunnel'::regnamespace
   AND (a.aggcombinefn = 0 OR a.aggtranstype = 'internal'::regtype OR a.aggfinalextra)
 ORDER BY 1;

-- ... and each gives the same answer however its rows are split, serially
-- combined or in parallel workers.  Sample rows by argument types.
CREATE TEMP TABLE agg_samples (sig text PRIMARY KEY, sample text);
INSERT INTO agg_samples VALUES
    ('leadfunnel.lead_stage',
     $$SELECT (enum_range(NULL::leadfunnel.lead_stage))[1 + (g * 7) % 12] AS a1 FROM generate_series(1, 500) g ORDER BY g$$),
    ('interval',
     $$SELECT make_interval(days => (g * 37) % 400, hours => g % 24, mins => g % 60) AS a1 FROM generate_series(1, 500) g ORDER BY g$$),
    ('interval, timestamp with time zone, leadfunnel.lead_stage',
     $$SELECT interval '30 days' AS a1, timestamptz '2024-01-01' + (g % 90) * interval '1 day' AS a2,
              (enum_range(NULL::leadfunnel.lead_stage))[1 + (g * 5) % 9] AS a3
         FROM generate_series(1, 500) g ORDER BY g$$),
    ('interval, timestamp with time zone, leadfunnel.lead_stage, text',
     $$SELECT interval '30 days' AS a1, timestamptz '2024-01-01' + (g % 90) * interval '1 day' AS a2,
              (enum_range(NULL::leadfunnel.lead_stage))[1 + (g * 5) % 12] AS a3, 'strict_order, allow_reentry' AS a4
         FROM generate_series(1, 500) g ORDER BY g$$),
    -- cycle_time(started, ended) and cycle_time_sketch(started, ended), NULLs and zeros included
    ('started timestamp with time zone, ended timestamp with time zone',
     $$SELECT timestamptz '2024-01-01' + (g % 90) * interval '1 day' AS a1,
              CASE WHEN g % 17 <> 0 THEN timestamptz '2024-01-01' + (g % 90) * interval '1 day'
                                         + make_interval(days => (g * 37) % 400 * (g % 5), hours => g % 24) END AS a2
         FROM generate_series(1, 500) g ORDER BY g$$),
    ('started timestamp without time zone, ended timestamp without time zone',
     $$SELECT timestamp '2024-01-01' + (g % 90) * interval '1 day' AS a1,
              CASE WHEN g % 17 <> 0 THEN timestamp '2024-01-01' + (g % 90) * interval '1 day'
                                         + make_interval(days => (g * 37) % 400 * (g % 5), hours => g % 24) END AS a2
         FROM generate_series(1, 500) g ORDER BY g$$),
    -- cycle_time_by_stage: stages (NULL included), NULL ends, zeros, durations from seconds to a year
    ('stage leadfunnel.lead_stage, started timestamp with time zone, ended timestamp with time zone',
     $$SELECT CASE WHEN g % 23 <> 0 THEN (enum_range(NULL::leadfunnel.lead_stage))[1 + (g * 7) % 12] END AS a1,
              timestamptz '2024-01-01' + (g % 90) * interval '1 day' AS a2,
              CASE WHEN g % 17 <> 0 THEN timestamptz '2024-01-01' + (g % 90) * interval '1 day'
                                         + make_interval(days => (g * 37) % 400 * (g % 5), secs => g % 61) END AS a3
         FROM generate_series(1, 500) g ORDER BY g$$),
    ('stage leadfunnel.lead_stage, started timestamp without time zone, ended timestamp without time zone',
     $$SELECT CASE WHEN g % 23 <> 0 THEN (enum_range(NULL::leadfunnel.lead_stage))[1 + (g * 7) % 12] END AS a1,
              timestamp '2024-01-01' + (g % 90) * interval '1 day' AS a2,
              CASE WHEN g % 17 <> 0 THEN timestamp '2024-01-01' + (g % 90) * interval '1 day'
                                         + make_interval(days => (g * 37) % 400 * (g % 5), secs => g % 61) END AS a3
         FROM generate_series(1, 500) g ORDER BY g$$),
    ('stage leadfunnel.lead_stage, duration interval',
     $$SELECT CASE WHEN g % 23 <> 0 THEN (enum_range(NULL::leadfunnel.lead_stage))[1 + (g * 5) % 12] END AS a1,
              CASE WHEN g % 19 <> 0 THEN make_interval(days => (g * 37) % 400 * (g % 3), hours => g % 24) END AS a2
         FROM generate_series(1, 500) g ORDER BY g$$),
    -- stored sketches, one per day of durations, rolled up
    ('leadfunnel.cycle_time_sketch',
     $$SELECT leadfunnel.cycle_time_sketch(make_interval(days => (g * 37) % 400, hours => g % 24)) AS a1
         FROM generate_series(1, 500) g GROUP BY g % 50 ORDER BY g % 50$$),
    -- attribution_totals: one row per lead, its touch path (1..5 touches,
    -- some without a campaign, some after closing), milestones, amounts
    ('touched_at timestamp with time zone[], touch_id bigint[], campaign_id bigint[], lead_created_at timestamp with time zone, opportunity_created_at timestamp with time zone, closed_at timestamp with time zone, half_life interval, pipeline_amount double precision, won_amount double precision',
     $$SELECT array_agg(timestamptz '2024-01-01' + ((g * 13 + k * 7) % 60) * interval '1 day' ORDER BY k) AS a1,
              array_agg(g * 10 + k ORDER BY k) AS a2,
              array_agg(CASE WHEN (g + k) % 11 = 0 THEN NULL ELSE 1 + (g * 3 + k) % 6 END ORDER BY k) AS a3,
              timestamptz '2024-01-20' + (g % 10) * interval '1 day' AS a4,
              CASE WHEN g % 3 = 0 THEN timestamptz '2024-02-10' END AS a5,
              CASE WHEN g % 4 = 0 THEN timestamptz '2024-02-25' END AS a6,
              interval '7 days' AS a7,
              CASE WHEN g % 3 = 0 THEN 1000.5 * g END::float8 AS a8,
              CASE WHEN g % 12 = 0 THEN 999.25 * g END::float8 AS a9
         FROM generate_series(1, 300) g, generate_series(1, 1 + g % 5) k
        GROUP BY g ORDER BY g$$),
    -- markov_attribution, shapley_attribution: one row per lead, its path of
    -- channels (repeats, NULL elements, some empty or NULL), converted, value
    ('path text[], converted boolean, value numeric',
     $$SELECT CASE WHEN g % 29 = 0 THEN NULL
                   ELSE ARRAY(SELECT CASE WHEN (g + k) % 13 = 0 THEN NULL ELSE 'ch ' || ((g * 7 + k * k) % 9) END
                                FROM generate_series(1, g % 6) k) END AS a1,
              CASE WHEN g % 31 = 0 THEN NULL ELSE (g * 11) % 5 < 2 END AS a2,
              CASE WHEN g % 7 = 0 THEN NULL ELSE round((g * 97) % 10000 / 3.0, 2) END AS a3
         FROM generate_series(1, 400) g ORDER BY g$$),
    -- stored attribution_totals states (attribution_totals_partial), one per
    -- bucket of leads, merged (attribution_totals_merge, as the rollups do)
    ('leadfunnel.attribution_totals_state',
     $$SELECT leadfunnel.attribution_totals_partial(a1, a2, a3, a4, a5, a6, a7, a8, a9) AS a1
         FROM (SELECT g, array_agg(timestamptz '2024-01-01' + ((g * 13 + k * 7) % 60) * interval '1 day' ORDER BY k) AS a1,
                      array_agg(g * 10 + k ORDER BY k) AS a2,
                      array_agg(CASE WHEN (g + k) % 11 = 0 THEN NULL ELSE 1 + (g * 3 + k) % 6 END ORDER BY k) AS a3,
                      timestamptz '2024-01-20' + (g % 10) * interval '1 day' AS a4,
                      CASE WHEN g % 3 = 0 THEN timestamptz '2024-02-10' END AS a5,
                      CASE WHEN g % 4 = 0 THEN timestamptz '2024-02-25' END AS a6,
                      interval '7 days' AS a7,
                      CASE WHEN g % 3 = 0 THEN 1000.5 * g END::float8 AS a8,
                      CASE WHEN g % 12 = 0 THEN 999.25 * g END::float8 AS a9
                 FROM generate_series(1, 300) g, generate_series(1, 1 + g % 5) k
                GROUP BY g) l
        GROUP BY g % 30 ORDER BY g % 30$$);
CREATE TEMP VIEW lf_aggregates AS
SELECT p.oid::regprocedure AS agg, pg_get_function_identity_arguments(p.oid) AS sig, s.sample
  FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid
  LEFT JOIN agg_samples s ON s.sig = pg_get_function_identity_arguments(p.oid)
 WHERE p.pronamespace = 'leadfunnel'::regnamespace
   AND a.aggcombinefn <> 0 AND a.aggtranstype <> 'internal'::regtype AND NOT a.aggfinalextra;
SELECT agg, sig AS no_sample_rows_for FROM lf_aggregates WHERE sample IS NULL ORDER BY 1;
SELECT l.agg, c.* FROM lf_aggregates l, pg_temp.check_split(l.agg, l.sample) c
 WHERE l.sample IS NOT NULL ORDER BY 1, 2;
SELECT l.agg, c.* FROM lf_aggregates l, pg_temp.check_parallel(l.agg, l.sample) c
 WHERE l.sample IS NOT NULL ORDER BY 1;
