-- cycle_time(started, ended) and cycle_time_sketch(started, ended): the same
-- answers as cycle_time(ended - started), for timestamptz and timestamp, serial,
-- parallel and in window frames; NULLs, zeros, negative, infinite and
-- out-of-range durations.  Then the sketch's table lookup of a duration's bin
-- against the defining formula ceil(ln(d) / ln(gamma)) around every bin boundary.
SET TimeZone = 'UTC';

-- hand-checked: NULL start or end skipped, zero counted, the same as the interval form
SELECT (leadfunnel.cycle_time(s::timestamptz, e::timestamptz)).*
  FROM (VALUES ('2025-01-01', '2025-01-01 01:00'), ('2025-01-01', '2025-01-02'), ('2025-01-01', '2025-01-01'),
               (NULL, '2025-01-01'), ('2025-01-01', NULL), (NULL, NULL)) v(s, e);
SELECT (leadfunnel.cycle_time(e::timestamptz - s::timestamptz)).*
  FROM (VALUES ('2025-01-01', '2025-01-01 01:00'), ('2025-01-01', '2025-01-02'), ('2025-01-01', '2025-01-01'),
               (NULL, '2025-01-01'), ('2025-01-01', NULL), (NULL, NULL)) v(s, e);
SELECT leadfunnel.cycle_time_sketch(s::timestamp, e::timestamp)
  FROM (VALUES ('2025-01-01', '2025-01-01 01:00'), ('2025-01-01', '2025-01-01 02:00'), ('2025-01-01', '2025-01-01')) v(s, e);
-- no rows, only NULLs
SELECT (leadfunnel.cycle_time(s, e)).* FROM (SELECT now(), now() WHERE false) v(s, e);
SELECT (leadfunnel.cycle_time(s, e)).* FROM (VALUES (NULL::timestamptz, NULL::timestamptz)) v(s, e);
SELECT leadfunnel.cycle_time_sketch(s, e) IS NULL AS no_sketch FROM (VALUES (NULL::timestamp, now()::timestamp)) v(s, e);

-- errors: the same message as the interval form for an end before the start;
-- infinite times as timestamp subtraction refuses them; a difference beyond 64 bits
SELECT try($$SELECT leadfunnel.cycle_time(timestamptz '2025-01-02 00:00:01', timestamptz '2025-01-01')$$);
SELECT try($$SELECT leadfunnel.cycle_time(timestamptz '2025-01-01' - timestamptz '2025-01-02 00:00:01')$$);
SELECT try($$SELECT leadfunnel.cycle_time(timestamp '2025-01-01 00:00:00.000001', timestamp '2025-01-01')$$);
SELECT try($$SELECT leadfunnel.cycle_time(timestamptz '2025-01-01', 'infinity')$$);
SELECT try($$SELECT leadfunnel.cycle_time_sketch(timestamp '-infinity', timestamp '2025-01-01')$$);
SELECT try($$SELECT leadfunnel.cycle_time(timestamptz '4713-01-01 00:00 BC', timestamptz '294276-12-31')$$);
SELECT try($$SELECT leadfunnel.cycle_time_add(NULL, timestamptz '2025-01-02', timestamptz '2025-01-01')$$);

-- called directly: transition and inverse, NULLs keep the state
SELECT leadfunnel.cycle_time_add(NULL, timestamptz '2025-01-01', timestamptz '2025-01-01 00:00:01');
SELECT leadfunnel.cycle_time_add(NULL, NULL::timestamptz, timestamptz '2025-01-01') IS NULL AS still_null;
SELECT leadfunnel.cycle_time_add('v1 n=1 zero=0 max=1000000 max_n=1 sum=1000000 bins=698:1', timestamptz '2025-01-01', NULL);
SELECT leadfunnel.cycle_time_remove(leadfunnel.cycle_time_add(leadfunnel.cycle_time_add(NULL,
           timestamp '2025-01-01', timestamp '2025-01-01 00:00:01'), timestamp '2025-01-01', timestamp '2025-01-01 00:00:02'),
       timestamp '2025-01-01', timestamp '2025-01-01 00:00:01');

-- generated data: 40,000 stays (2 % zero, 3 % open), over 8 stages
SELECT setseed(0.5);
CREATE TABLE span_data AS
SELECT g AS id, (enum_range(NULL::leadfunnel.lead_stage))[1 + g % 8] AS stage, s AS started,
       CASE WHEN r < 0.03 THEN NULL WHEN r < 0.05 THEN s
            ELSE s + make_interval(secs => round(exp(random() * ln(94608000.0))::numeric, 6)::float8) END AS ended
  FROM (SELECT g, random() AS r,
               timestamptz '2024-01-01' + make_interval(secs => floor(random() * 86400 * 365)) AS s
          FROM generate_series(1, 40000) g) x;
ANALYZE span_data;

CREATE FUNCTION span_answers() RETURNS TABLE (stage leadfunnel.lead_stage, by_span text, by_interval text,
                                              sketch_by_span text, sketch_by_interval text,
                                              ts_by_span text, ts_by_interval text)
    LANGUAGE sql AS $$
    SELECT stage, leadfunnel.cycle_time(started, ended)::text, leadfunnel.cycle_time(ended - started)::text,
           leadfunnel.cycle_time_sketch(started, ended)::text, leadfunnel.cycle_time_sketch(ended - started)::text,
           leadfunnel.cycle_time(started::timestamp, ended::timestamp)::text,
           leadfunnel.cycle_time(ended::timestamp - started::timestamp)::text
      FROM span_data GROUP BY stage
$$;
-- serial
CREATE TEMP TABLE span_serial AS SELECT * FROM span_answers();
-- parallel (forced)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT stage, leadfunnel.cycle_time(started, ended) FROM span_data GROUP BY stage;
CREATE TEMP TABLE span_parallel AS SELECT * FROM span_answers();
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT count(*) AS stages,
       count(*) FILTER (WHERE by_span = by_interval) AS stats_equal,
       count(*) FILTER (WHERE sketch_by_span = sketch_by_interval) AS sketches_equal,
       count(*) FILTER (WHERE ts_by_span = ts_by_interval AND ts_by_span = by_span) AS timestamp_equal,
       (SELECT count(*) FROM (SELECT * FROM span_parallel EXCEPT SELECT * FROM span_serial) d) AS parallel_not_serial
  FROM span_serial;

-- timestamp without time zone across a daylight-saving change: the timestamp
-- overload measures wall-clock differences (as timestamp - timestamp), the
-- timestamptz one elapsed time in the session's zone
SET TimeZone = 'Europe/Berlin';
SELECT (leadfunnel.cycle_time(timestamp '2025-03-29 12:00', timestamp '2025-03-30 12:00')).max AS wall_clock,
       (leadfunnel.cycle_time(timestamptz '2025-03-29 12:00', timestamptz '2025-03-30 12:00')).max AS elapsed,
       (leadfunnel.cycle_time(timestamp '2025-03-30 12:00' - timestamp '2025-03-29 12:00')).max AS interval_form;
SET TimeZone = 'UTC';

-- window frames: the moving-aggregate form equals the interval form (span_data has
-- NULL ends, also in the first frame: moving states start empty, not NULL, as
-- PostgreSQL requires of a moving-aggregate transition function)
SELECT count(*) AS frames,
       count(*) FILTER (WHERE a IS NOT DISTINCT FROM b) AS equal
  FROM (SELECT leadfunnel.cycle_time(started, ended) OVER w AS a,
               leadfunnel.cycle_time(ended - started) OVER w AS b
          FROM span_data WHERE id <= 3000
        WINDOW w AS (ORDER BY id ROWS BETWEEN 50 PRECEDING AND CURRENT ROW)) f;

-- a NULL first row in a moving frame, for every moving-aggregate form
SELECT i, (leadfunnel.cycle_time(d) OVER w).n AS by_interval, (leadfunnel.cycle_time(s, e) OVER w).n AS by_span,
       leadfunnel.funnel_reach(st) OVER w AS reach
  FROM (VALUES (1, NULL::interval, NULL::timestamptz, NULL::timestamptz, NULL::leadfunnel.lead_stage),
               (2, interval '1 day', timestamptz '2025-01-01', timestamptz '2025-01-02', 'mql'),
               (3, NULL, NULL, NULL, NULL), (4, NULL, NULL, NULL, NULL), (5, NULL, NULL, NULL, NULL)) v(i, d, s, e, st)
WINDOW w AS (ORDER BY i ROWS 1 PRECEDING)
 ORDER BY i;

-- The bin of a duration: the table lookup equals ceil(ln(d) / ln(gamma)) (clamped to
-- 0 .. 2206), computed here in SQL, for every duration up to 1000 us, the integers
-- around gamma^b for every bin b, and the largest duration.
CREATE FUNCTION usec(v bigint) RETURNS interval LANGUAGE sql IMMUTABLE
    AS $$ SELECT make_interval(days => (v / 86400000000)::int, secs => (v % 86400000000) / 1000000.0) $$;
WITH g AS (SELECT (1 + 0.0099::float8) / (1 - 0.0099::float8) AS gamma),
     points AS (SELECT v FROM generate_series(1::bigint, 1000) v
                UNION
                SELECT b.x + d FROM g, generate_series(1, 2206) i,
                       LATERAL (SELECT floor(exp(i * ln(g.gamma)))::numeric AS x) b, generate_series(-2, 2) d
                 WHERE b.x + d BETWEEN 1 AND 9223372036854775807
                UNION
                SELECT 9223372036854775807),
     bins AS (SELECT v, substring(leadfunnel.cycle_time_add(NULL, usec(v::bigint))::text FROM 'bins=(\d+):')::int AS lookup,
                     least(2206, greatest(0, ceil(ln(v::float8) / ln(g.gamma))))::int AS formula
                FROM points, g)
SELECT count(*) AS durations, count(DISTINCT formula) AS bins,
       count(*) FILTER (WHERE lookup IS DISTINCT FROM formula) AS mismatches
  FROM bins;
