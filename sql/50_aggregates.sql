-- The analytic aggregates: funnel_reach, cycle_time (and its sketch), window_funnel.
-- Small hand-checked cases, edge cases and errors, then generated data: parallel
-- plans equal serial ones, states split at random and merged through their text
-- and binary forms equal the unsplit answer, quantiles within 1 % of percentile_disc,
-- window frames equal fresh aggregation, and damaged states are refused, never crash.
SET TimeZone = 'UTC';

-- funnel_reach: reach per stage, visitor .. won
SELECT leadfunnel.funnel_reach(s::leadfunnel.lead_stage)
  FROM (VALUES ('lead'), ('mql'), ('mql'), ('won'), ('lost'), (NULL)) v(s);
SELECT leadfunnel.funnel_reach(s) FROM (SELECT NULL::leadfunnel.lead_stage WHERE false) v(s);
SELECT * FROM leadfunnel.funnel_reach_steps('{10,8,5,5,0,0,0,0,0}');
SELECT * FROM leadfunnel.funnel_reach_steps('{10,8,5,5,0,0,0,0,0}', '{won,lead,mql,lost,lead}');
SELECT * FROM leadfunnel.funnel_reach_steps('{0,0,0,0,0,0,0,0,0}', leadfunnel.funnel_stages('self_serve'));

-- cycle_time: n, mean and max exact; quantiles within 1 %; zero and NULL durations
SELECT (leadfunnel.cycle_time(d::interval)).*
  FROM (VALUES ('1 hour'), ('2 hours'), ('3 hours'), ('1 day'), ('0'), (NULL)) v(d);
SELECT (leadfunnel.cycle_time(d)).* FROM (SELECT '1 day'::interval WHERE false) v(d);
SELECT (leadfunnel.cycle_time(d)).* FROM (VALUES ('0'::interval), ('0')) v(d);
SELECT (leadfunnel.cycle_time(d)).* FROM (VALUES ('1 mon'::interval), ('-1 day 48:00:00')) v(d);
SELECT leadfunnel.cycle_time_sketch(d::interval) FROM (VALUES ('1 hour'), ('2 hours'), ('0'), ('2 hours')) v(d);
SELECT leadfunnel.cycle_time_quantile(leadfunnel.cycle_time_sketch(d::interval), q) AS quantile
  FROM (VALUES ('1 hour'), ('2 hours'), ('3 hours')) v(d), (VALUES (0.0), (0.34), (1.0)) q(q)
 GROUP BY q ORDER BY q;
SELECT try($$SELECT leadfunnel.cycle_time(d::interval) FROM (VALUES ('1 hour'), ('-1 second')) v(d)$$);
SELECT try($$SELECT leadfunnel.cycle_time('178000000 years'::interval)$$);
SELECT try($$SELECT leadfunnel.cycle_time_quantile(leadfunnel.cycle_time_sketch(interval '1 day'), 1.5)$$);
SELECT try($$SELECT leadfunnel.cycle_time_quantile(leadfunnel.cycle_time_sketch(interval '1 day'), 'NaN')$$);
SELECT leadfunnel.cycle_time_quantile('v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=', 0.5) AS empty_sketch;
SELECT leadfunnel.cycle_time_stats('v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=');

-- window_funnel: ClickHouse's windowFunnel (the default, see also
-- 53_window_funnel_clickhouse) and leadfunnel 0.2.0's rule, the mode
-- skip_allowed: the furthest stage within the window of the first event
CREATE TABLE wf_events (lead_id int, at timestamptz, stage leadfunnel.lead_stage);
INSERT INTO wf_events VALUES
    (1, '2025-01-01', 'lead'), (1, '2025-01-03', 'mql'), (1, '2025-01-09', 'tal'), (1, '2025-02-01', 'opportunity'),
    (2, '2025-01-01', 'visitor'), (2, '2025-01-02', 'tql'),                       -- skipped stages do not break the chain
    (3, '2025-01-05', 'mql'), (3, '2025-01-01', 'lead'), (3, '2025-01-20', 'won'), -- order of rows does not matter
    (4, '2025-01-01', 'lead'), (4, '2025-01-02', 'lost'), (4, 'infinity', 'won'),  -- closed-not-won and infinite rows skipped
    (5, '2025-01-01', 'lost'), (5, NULL, 'mql'), (5, '2025-01-01', NULL),           -- nothing left: NULL
    (6, '2025-01-01', 'mql'), (6, '2025-01-02', 'lead'), (6, '2025-01-08', 'mql');  -- reopened: mql stays the furthest
SELECT lead_id, leadfunnel.window_funnel('7 days', at, stage, 'skip_allowed') AS in_7_days,
       leadfunnel.window_funnel('0', at, stage, 'skip_allowed') AS at_once,
       leadfunnel.window_funnel('1 mon', at, stage, 'skip_allowed') AS in_a_month,
       leadfunnel.window_funnel('7 days', at, stage) AS clickhouse_7_days,
       leadfunnel.window_funnel('1 mon', at, stage) AS clickhouse_in_a_month,
       leadfunnel.window_funnel('1 mon', at, stage, 'strict_order') AS strict_order_in_a_month
  FROM wf_events GROUP BY lead_id ORDER BY lead_id;
SELECT try($$SELECT leadfunnel.window_funnel(NULL, at, stage) FROM wf_events$$);
SELECT try($$SELECT leadfunnel.window_funnel('-1 day', at, stage) FROM wf_events$$);
SELECT try($$SELECT leadfunnel.window_funnel(CASE WHEN lead_id = 1 THEN interval '1 day' ELSE '2 days' END, at, stage) FROM wf_events$$);

-- generated data: 60,000 durations over 20 groups, log-uniform from 1 second to 3 years
SELECT setseed(0.25);
CREATE TABLE agg_data AS
SELECT g AS id, g % 20 AS grp,
       (ARRAY['visitor','lead','mql','tal','tql','sal','sql','opportunity','won','recycled','disqualified','lost'])[1 + floor(random() * 12)::int]::leadfunnel.lead_stage AS stage,
       CASE WHEN random() < 0.02 THEN interval '0'
            ELSE make_interval(secs => round(exp(random() * ln(94608000.0))::numeric, 6)::float8) END AS dur,
       timestamptz '2025-01-01' + make_interval(secs => floor(random() * 86400 * 90)) AS at
  FROM generate_series(1, 60000) g;
CREATE INDEX ON agg_data (id);
ANALYZE agg_data;

-- what the three aggregates answer, as one comparable row per group
CREATE FUNCTION agg_answers() RETURNS TABLE (grp int, reach bigint[], ct leadfunnel.cycle_time_stats, wf leadfunnel.lead_stage,
                                            wf_clickhouse leadfunnel.lead_stage, wf_strict leadfunnel.lead_stage)
    LANGUAGE sql AS $$
    SELECT grp, leadfunnel.funnel_reach(stage), leadfunnel.cycle_time(dur),
           leadfunnel.window_funnel('10 days', at, stage, 'skip_allowed'),
           leadfunnel.window_funnel('10 days', at, stage),
           leadfunnel.window_funnel('10 days', at, stage, 'strict_order, strict_increase')
      FROM agg_data GROUP BY grp
$$;

-- parallel plans (forced) split all three aggregates and give the serial answer
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT grp, leadfunnel.funnel_reach(stage), leadfunnel.cycle_time(dur), leadfunnel.window_funnel('10 days', at, stage)
  FROM agg_data GROUP BY grp;
EXPLAIN (COSTS OFF)
SELECT leadfunnel.funnel_reach(stage), leadfunnel.cycle_time(dur), leadfunnel.window_funnel('10 days', at, stage)
  FROM agg_data;
CREATE TEMP TABLE answers_parallel AS SELECT * FROM agg_answers();
CREATE TEMP TABLE total_parallel AS
SELECT leadfunnel.funnel_reach(stage) AS reach, leadfunnel.cycle_time(dur) AS ct,
       leadfunnel.window_funnel('10 days', at, stage, 'skip_allowed') AS wf, leadfunnel.cycle_time_sketch(dur)::text AS sketch,
       leadfunnel.window_funnel('10 days', at, stage) AS wf_clickhouse
  FROM agg_data;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE answers_serial AS SELECT * FROM agg_answers();
CREATE TEMP TABLE total_serial AS
SELECT leadfunnel.funnel_reach(stage) AS reach, leadfunnel.cycle_time(dur) AS ct,
       leadfunnel.window_funnel('10 days', at, stage, 'skip_allowed') AS wf, leadfunnel.cycle_time_sketch(dur)::text AS sketch,
       leadfunnel.window_funnel('10 days', at, stage) AS wf_clickhouse
  FROM agg_data;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT (SELECT count(*) FROM answers_serial) AS groups,
       (SELECT count(*) FROM (SELECT * FROM answers_parallel EXCEPT SELECT * FROM answers_serial) d) AS parallel_not_serial,
       (SELECT count(*) FROM (SELECT * FROM answers_serial EXCEPT SELECT * FROM answers_parallel) d) AS serial_not_parallel,
       (SELECT count(*) FROM (SELECT reach, ct::text, wf, sketch FROM total_parallel
                              EXCEPT SELECT reach, ct::text, wf, sketch FROM total_serial) d) AS totals_differ,
       (SELECT count(*) FROM (SELECT wf_clickhouse FROM total_parallel EXCEPT SELECT wf_clickhouse FROM total_serial) d) AS window_funnel_totals_differ;

-- the same answers from plain SQL
SELECT count(*) AS groups,
       count(*) FILTER (WHERE a.reach = p.reach) AS reach_equal,
       count(*) FILTER (WHERE (a.ct).n = p.n AND (a.ct).max = p.max) AS n_max_equal,
       count(*) FILTER (WHERE (a.ct).mean = p.mean) AS mean_equal,
       count(*) FILTER (WHERE a.wf IS NOT DISTINCT FROM p.wf) AS window_funnel_equal
  FROM answers_serial a
  JOIN (SELECT d.grp, count(d.dur) AS n, max(d.dur) AS max,
               round(avg(extract(epoch FROM d.dur)) * 1000000) * interval '1 microsecond' AS mean,
               ARRAY(SELECT count(*) FILTER (WHERE d2.stage >= s AND d2.stage <= 'won')
                       FROM agg_data d2, unnest(enum_range('visitor'::leadfunnel.lead_stage, 'won')) s
                      WHERE d2.grp = d.grp GROUP BY s ORDER BY s) AS reach,
               (SELECT max(e.stage) FROM agg_data e
                 WHERE e.grp = d.grp AND e.stage <= 'won'
                   AND e.at <= (SELECT min(f.at) FROM agg_data f WHERE f.grp = d.grp AND f.stage <= 'won') + interval '10 days') AS wf
          FROM agg_data d GROUP BY d.grp) p ON p.grp = a.grp;

-- quantiles within 1 % of percentile_disc, in every group and overall
SELECT count(*) AS checked, max(err) < 0.01 AS within_1_percent
  FROM (SELECT abs(extract(epoch FROM est) / nullif(extract(epoch FROM exact), 0) - 1) AS err
          FROM answers_serial a
          JOIN (SELECT grp, percentile_disc(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY dur) AS q
                  FROM agg_data GROUP BY grp) p USING (grp),
               LATERAL (VALUES ((a.ct).p50, p.q[1]), ((a.ct).p90, p.q[2]), ((a.ct).p95, p.q[3])) v(est, exact)) e;
SELECT q, CASE WHEN exact = '0' THEN est = exact
                ELSE abs(extract(epoch FROM est) / extract(epoch FROM exact) - 1) < 0.01 END AS within_1_percent
  FROM (SELECT q, leadfunnel.cycle_time_quantile(s.sketch::leadfunnel.cycle_time_sketch, q) AS est,
               (SELECT percentile_disc(q) WITHIN GROUP (ORDER BY dur) FROM agg_data) AS exact
          FROM total_serial s, unnest(ARRAY[0, 0.01, 0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]) q) e
 ORDER BY q;

-- combine: states of random splits, shipped through text (output/input) and merged, equal the unsplit answer
CREATE AGGREGATE reach_state(leadfunnel.lead_stage) (SFUNC = leadfunnel.funnel_reach_add, STYPE = leadfunnel.funnel_reach_state);
CREATE AGGREGATE reach_merge(leadfunnel.funnel_reach_state) (
    SFUNC = leadfunnel.funnel_reach_combine, STYPE = leadfunnel.funnel_reach_state, FINALFUNC = leadfunnel.funnel_reach_final);
CREATE AGGREGATE wf_state(interval, timestamptz, leadfunnel.lead_stage) (SFUNC = leadfunnel.window_funnel_add, STYPE = leadfunnel.window_funnel_state);
CREATE AGGREGATE wf_merge(leadfunnel.window_funnel_state) (
    SFUNC = leadfunnel.window_funnel_combine, STYPE = leadfunnel.window_funnel_state, FINALFUNC = leadfunnel.window_funnel_final);
CREATE TABLE split_states AS
SELECT k.parts, s.part, s.grp, s.reach::text AS reach, s.sketch::text AS sketch, s.wf::text AS wf
  FROM (VALUES (2), (3), (7), (50)) k(parts),
       LATERAL (SELECT grp, floor(random() * k.parts)::int AS part, reach_state(stage) AS reach,
                       leadfunnel.cycle_time_sketch(dur) AS sketch, wf_state('10 days', at, stage) AS wf
                  FROM agg_data GROUP BY 1, 2) s;
SELECT m.parts, count(*) AS groups, min(m.parts_used) AS min_parts_per_group,
       count(*) FILTER (WHERE (m.reach, m.ct, m.wf) IS DISTINCT FROM (a.reach, a.ct, a.wf_clickhouse)) AS groups_differing
  FROM (SELECT parts, grp, count(*) AS parts_used,
               reach_merge(reach::leadfunnel.funnel_reach_state) AS reach,
               leadfunnel.cycle_time_stats(leadfunnel.cycle_time_merge(sketch::leadfunnel.cycle_time_sketch)) AS ct,
               wf_merge(wf::leadfunnel.window_funnel_state) AS wf
          FROM split_states GROUP BY parts, grp) m
  JOIN answers_serial a USING (grp)
 GROUP BY m.parts ORDER BY m.parts;
-- merging in another order gives the same sketch, byte for byte
SELECT count(DISTINCT merged) AS distinct_merged_sketches
  FROM (SELECT leadfunnel.cycle_time_merge(sketch::leadfunnel.cycle_time_sketch ORDER BY part DESC)::text AS merged
          FROM split_states WHERE parts = 7 GROUP BY grp
        UNION ALL
        SELECT leadfunnel.cycle_time_merge(sketch::leadfunnel.cycle_time_sketch ORDER BY part)::text
          FROM split_states WHERE parts = 7 GROUP BY grp
        UNION ALL
        SELECT leadfunnel.cycle_time_sketch(dur)::text FROM agg_data GROUP BY grp) m;

-- text and binary forms round-trip exactly (binary through COPY ... (FORMAT binary))
CREATE TABLE stored_states (reach leadfunnel.funnel_reach_state, sketch leadfunnel.cycle_time_sketch, wf leadfunnel.window_funnel_state);
INSERT INTO stored_states
SELECT reach_state(stage), leadfunnel.cycle_time_sketch(dur), wf_state('10 days', at, stage) FROM agg_data GROUP BY grp;
INSERT INTO stored_states VALUES ('{}', 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=', '{window:0}'),
    ('{lost:3}', 'v1 n=2 zero=2 max=0 max_n=2 sum=0 bins=', '{window:1,won:-1}');
CREATE TABLE stored_copy (LIKE stored_states);
DO $$
DECLARE f text := current_setting('data_directory') || '/lf_states.bin';
BEGIN
    EXECUTE format('COPY stored_states TO %L (FORMAT binary)', f);
    EXECUTE format('COPY stored_copy FROM %L (FORMAT binary)', f);
END $$;
SELECT (SELECT count(*) FROM stored_states) AS stored,
       (SELECT count(*) FROM (SELECT reach::text, sketch::text, wf::text FROM stored_states
                              EXCEPT SELECT reach::text, sketch::text, wf::text FROM stored_copy) d) AS binary_differs,
       (SELECT count(*) FROM stored_states
         WHERE reach::text::leadfunnel.funnel_reach_state::text <> reach::text
            OR sketch::text::leadfunnel.cycle_time_sketch::text <> sketch::text
            OR wf::text::leadfunnel.window_funnel_state::text <> wf::text) AS text_differs,
       (SELECT count(*) FROM stored_states s JOIN stored_copy c
            ON leadfunnel.cycle_time_sketch_send(c.sketch) = leadfunnel.cycle_time_sketch_send(s.sketch)
           AND leadfunnel.funnel_reach_state_send(c.reach) = leadfunnel.funnel_reach_state_send(s.reach)
           AND leadfunnel.window_funnel_state_send(c.wf) = leadfunnel.window_funnel_state_send(s.wf)) AS send_equal;

-- window frames (moving aggregate with inverse transitions) equal aggregating each frame afresh
SELECT count(*) AS rows_checked,
       count(*) FILTER (WHERE w.ct IS DISTINCT FROM f.ct OR w.reach IS DISTINCT FROM f.reach) AS frames_differing
  FROM (SELECT id, leadfunnel.cycle_time(dur) OVER fr AS ct, leadfunnel.funnel_reach(stage) OVER fr AS reach
          FROM agg_data WHERE id <= 3000 WINDOW fr AS (ORDER BY id ROWS BETWEEN 40 PRECEDING AND CURRENT ROW)) w
  JOIN LATERAL (SELECT leadfunnel.cycle_time(d.dur) AS ct, leadfunnel.funnel_reach(d.stage) AS reach
                  FROM agg_data d WHERE d.id BETWEEN w.id - 40 AND w.id) f ON true;

-- bad text forms: SQLSTATE 22P02 with the reason
SELECT try(format('SELECT %L::leadfunnel.cycle_time_sketch', v)) FROM (VALUES
    ('v2 n=0 zero=0 max=0 max_n=0 sum=0 bins='),
    ('v1 n=1 zero=0 max=0 max_n=0 sum=0 bins='),
    ('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=5:1'),
    ('v1 n=2 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1109:1,1109:1'),
    ('v1 n=1 zero=0 max=1 max_n=1 sum=1 bins=9999:1'),
    ('v1 n=99999999999999999999 zero=0 max=0 max_n=0 sum=0 bins='),
    ('v1 n=1 zero=0 max=3600000000 max_n=1 sum=7200000000 bins=1112:1'),
    ('v1 n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=1112:1 '),
    ('')) v(v);
SELECT try(format('SELECT %L::leadfunnel.funnel_reach_state', v)) FROM (VALUES
    ('{mql:1,lead:2}'), ('{mql:-1}'), ('{nosuch:1}'), ('{mql:9223372036854775807,won:1}'), ('{mql:1')) v(v);
SELECT try(format('SELECT %L::leadfunnel.window_funnel_state', v)) FROM (VALUES
    ('{}'), ('{window:-1}'), ('{window:1,lost:5}'), ('{window:1,won:9223372036854775807}'), ('{window:1,mql:1,lead:0}')) v(v);

-- damaged binary forms: truncations and corruptions of valid values are
-- refused with 22P03 or read as a valid value; nothing else happens
CREATE TABLE recv_target (reach leadfunnel.funnel_reach_state);
CREATE TABLE recv_sketch (sketch leadfunnel.cycle_time_sketch);
CREATE TABLE recv_wf (wf leadfunnel.window_funnel_state);
CREATE FUNCTION recv_outcome(tbl text, payload bytea) RETURNS text LANGUAGE sql AS $$
    SELECT split_part(public.copy_in_binary(tbl, payload), ':', 1)
$$;
SELECT recv_outcome('recv_sketch', leadfunnel.cycle_time_sketch_send(sketch)) AS valid_value, count(*)
  FROM stored_states GROUP BY 1;
SELECT tbl, outcome, count(*)
  FROM (VALUES ('recv_sketch', (SELECT leadfunnel.cycle_time_sketch_send(leadfunnel.cycle_time_sketch(dur)) FROM agg_data WHERE id <= 12)),
               ('recv_sketch', leadfunnel.cycle_time_sketch_send('v1 n=3 zero=1 max=7200000000 max_n=1 sum=10800000000 bins=1112:1,1147:1')),
               ('recv_target', leadfunnel.funnel_reach_state_send('{visitor:3,mql:5,won:1,lost:2}')),
               ('recv_wf', leadfunnel.window_funnel_state_send('{window:86400000000,lead:788918400000000,mql:789004800000000}'))) s(tbl, v),
       LATERAL (SELECT recv_outcome(s.tbl, substr(s.v, 1, n)) FROM generate_series(0, length(s.v) - 1) n
                 WHERE n < 160 OR n > length(s.v) - 40
                UNION ALL
                SELECT recv_outcome(s.tbl, overlay(s.v PLACING set_byte('\x00'::bytea, 0, b) FROM 1 + p FOR 1))
                  FROM generate_series(0, least(length(s.v) - 1, 120)) p, (VALUES (0), (1), (127), (255)) b(b)
                UNION ALL
                SELECT recv_outcome(s.tbl, s.v || '\x00'::bytea)) o(outcome)
 GROUP BY tbl, outcome ORDER BY tbl, outcome;

DROP TABLE wf_events, agg_data, split_states, stored_states, stored_copy, recv_target, recv_sketch, recv_wf;
DROP FUNCTION agg_answers(), recv_outcome(text, bytea);
DROP AGGREGATE reach_state(leadfunnel.lead_stage), reach_merge(leadfunnel.funnel_reach_state),
    wf_state(interval, timestamptz, leadfunnel.lead_stage), wf_merge(leadfunnel.window_funnel_state);
