-- cycle_time_by_stage(stage, started, ended) and (stage, duration): per stage
-- identical to cycle_time(...) GROUP BY stage, serial and forced parallel;
-- NULLs skipped, errors as cycle_time's; the state type's text and binary
-- forms round-trip exactly and bad forms are refused (22P02 / 22P03).
-- (Split and combined through the text form: sql/75_aggregate_split.sql.)
SET TimeZone = 'UTC';

-- hand-checked: NULL stage, start or end skipped; zero counted; stages in enum order
SELECT s.* FROM unnest((SELECT leadfunnel.cycle_time_by_stage(st::leadfunnel.lead_stage, a::timestamptz, b::timestamptz)
  FROM (VALUES ('mql', '2025-01-01', '2025-01-01 01:00'), ('lead', '2025-01-01', '2025-01-02'),
               ('lead', '2025-01-01', '2025-01-01'), (NULL, '2025-01-01', '2025-01-03'),
               ('mql', NULL, '2025-01-01'), ('won', '2025-01-01', NULL)) v(st, a, b))) s;
SELECT s.* FROM unnest((SELECT leadfunnel.cycle_time_by_stage(st::leadfunnel.lead_stage, d::interval)
  FROM (VALUES ('sql', '1 hour'), ('sql', '3 hours'), ('lost', '0'), ('lost', NULL), (NULL, '1 day')) v(st, d))) s;
-- no rows, only NULLs: an empty array
SELECT leadfunnel.cycle_time_by_stage(st, a, b) FROM (SELECT 'lead'::leadfunnel.lead_stage, now(), now() WHERE false) v(st, a, b);
SELECT leadfunnel.cycle_time_by_stage(NULL::leadfunnel.lead_stage, now(), now());
SELECT leadfunnel.cycle_time_by_stage_final(NULL);

-- errors: the same as cycle_time's
SELECT try($$SELECT leadfunnel.cycle_time_by_stage('lead', timestamptz '2025-01-02 00:00:01', timestamptz '2025-01-01')$$);
SELECT try($$SELECT leadfunnel.cycle_time_by_stage('lead', timestamp '2025-01-02', timestamp '2025-01-01')$$);
SELECT try($$SELECT leadfunnel.cycle_time_by_stage('lead', interval '-1 second')$$);
SELECT try($$SELECT leadfunnel.cycle_time_by_stage('lead', timestamptz '2025-01-01', 'infinity')$$);
SELECT try($$SELECT leadfunnel.cycle_time_by_stage('lead', timestamptz '4713-01-01 00:00 BC', timestamptz '294276-12-31')$$);

-- called directly: NULLs keep the state, the argument is not changed
SELECT leadfunnel.cycle_time_by_stage_add(NULL, 'lead', timestamptz '2025-01-01', timestamptz '2025-01-01 00:00:01');
SELECT leadfunnel.cycle_time_by_stage_add(NULL, NULL, interval '1 day') IS NULL AS still_null;
SELECT leadfunnel.cycle_time_by_stage_add('v1 won:(n=1 zero=1 max=0 max_n=1 sum=0 bins=)', 'won', NULL::interval);
WITH s(st) AS (SELECT 'v1 mql:(n=1 zero=0 max=1000000 max_n=1 sum=1000000 bins=698:1)'::leadfunnel.cycle_time_by_stage_state)
SELECT leadfunnel.cycle_time_by_stage_add(st, 'mql', interval '2 seconds') AS added,
       leadfunnel.cycle_time_by_stage_combine(st, leadfunnel.cycle_time_by_stage_add(NULL, 'lead', interval '0')) AS combined,
       st AS unchanged
  FROM s;

-- generated data: 40,000 stays (2 % zero, 3 % open, 1 % without a stage), over all 12 stages,
-- durations from a microsecond to 3 years (the sketches grow)
SELECT setseed(0.25);
CREATE TABLE bystage_data AS
SELECT g AS id, CASE WHEN g % 100 <> 7 THEN (enum_range(NULL::leadfunnel.lead_stage))[1 + g % 12] END AS stage,
       s AS started,
       CASE WHEN r < 0.03 THEN NULL WHEN r < 0.05 THEN s
            ELSE s + make_interval(secs => round(exp(random() * ln(94608000.0e6))::numeric / 1e6, 6)::float8) END AS ended
  FROM (SELECT g, random() AS r,
               timestamptz '2024-01-01' + make_interval(secs => floor(random() * 86400 * 365)) AS s
          FROM generate_series(1, 40000) g) x;
ANALYZE bystage_data;

-- per stage: (stage, cycle_time(...)) grouped, and the elements of cycle_time_by_stage, as text
CREATE FUNCTION bystage_answers() RETURNS TABLE (form text, stage leadfunnel.lead_stage, stats text)
    LANGUAGE sql AS $$
    SELECT 'grouped', stage, leadfunnel.cycle_time(started, ended)::text FROM bystage_data
     WHERE stage IS NOT NULL AND ended IS NOT NULL GROUP BY stage
    UNION ALL
    SELECT 'by_stage', s.stage, (s.n, s.mean, s.p50, s.p90, s.p95, s.max)::leadfunnel.cycle_time_stats::text
      FROM unnest((SELECT leadfunnel.cycle_time_by_stage(stage, started, ended) FROM bystage_data)) s
    UNION ALL
    SELECT 'by_stage_timestamp', s.stage, (s.n, s.mean, s.p50, s.p90, s.p95, s.max)::leadfunnel.cycle_time_stats::text
      FROM unnest((SELECT leadfunnel.cycle_time_by_stage(stage, started::timestamp, ended::timestamp) FROM bystage_data)) s
    UNION ALL
    SELECT 'by_stage_interval', s.stage, (s.n, s.mean, s.p50, s.p90, s.p95, s.max)::leadfunnel.cycle_time_stats::text
      FROM unnest((SELECT leadfunnel.cycle_time_by_stage(stage, ended - started) FROM bystage_data)) s
$$;
CREATE TEMP TABLE bystage_serial AS SELECT * FROM bystage_answers();
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT leadfunnel.cycle_time_by_stage(stage, started, ended) FROM bystage_data;
CREATE TEMP TABLE bystage_parallel AS SELECT * FROM bystage_answers();
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT form, count(*) AS stages, sum((regexp_match(stats, '^\((\d+),'))[1]::bigint) AS durations,
       count(*) FILTER (WHERE stats = (SELECT g.stats FROM bystage_serial g WHERE g.form = 'grouped' AND g.stage = b.stage)) AS equal_to_grouped,
       (SELECT count(*) FROM (SELECT stage, stats FROM bystage_parallel p WHERE p.form = b.form
                              EXCEPT SELECT stage, stats FROM bystage_serial s WHERE s.form = b.form) d) AS parallel_not_serial
  FROM bystage_serial b GROUP BY form ORDER BY form;

-- the state: each stage's part is the sketch cycle_time_sketch builds over its rows
CREATE AGGREGATE pg_temp.bystage_state(leadfunnel.lead_stage, timestamptz, timestamptz) (
    SFUNC = leadfunnel.cycle_time_by_stage_add, STYPE = leadfunnel.cycle_time_by_stage_state,
    COMBINEFUNC = leadfunnel.cycle_time_by_stage_combine);
SELECT pg_temp.bystage_state(stage, started, ended)::text
       = 'v1' || (SELECT string_agg(' ' || stage || ':(' || substr(sk::text, 4) || ')', '' ORDER BY stage)
                    FROM (SELECT stage, leadfunnel.cycle_time_sketch(started, ended) AS sk FROM bystage_data
                           WHERE stage IS NOT NULL AND ended IS NOT NULL GROUP BY stage) g) AS sketches_equal,
       octet_length(pg_temp.bystage_state(stage, started, ended)::text) AS text_length
  FROM bystage_data;

-- text and binary forms round-trip exactly (binary through COPY ... (FORMAT binary))
CREATE TABLE bystage_states (st leadfunnel.cycle_time_by_stage_state);
INSERT INTO bystage_states
SELECT pg_temp.bystage_state(stage, started, ended) FROM bystage_data GROUP BY id % 7;
INSERT INTO bystage_states VALUES ('v1'), ('v1 lost:(n=2 zero=2 max=0 max_n=2 sum=0 bins=)'),
    ('v1 visitor:(n=1 zero=0 max=1 max_n=1 sum=1 bins=0:1) lead:(n=3 zero=1 max=7200000000 max_n=1 sum=10800000000 bins=1112:1,1147:1)');
CREATE TABLE bystage_copy (LIKE bystage_states);
DO $$
DECLARE f text := current_setting('data_directory') || '/lf_bystage.bin';
BEGIN
    EXECUTE format('COPY bystage_states TO %L (FORMAT binary)', f);
    EXECUTE format('COPY bystage_copy FROM %L (FORMAT binary)', f);
END $$;
SELECT (SELECT count(*) FROM bystage_states) AS stored,
       (SELECT count(*) FROM (SELECT st::text FROM bystage_states EXCEPT SELECT st::text FROM bystage_copy) d) AS binary_differs,
       (SELECT count(*) FROM bystage_states WHERE st::text::leadfunnel.cycle_time_by_stage_state::text <> st::text) AS text_differs,
       (SELECT count(*) FROM bystage_states s JOIN bystage_copy c
            ON leadfunnel.cycle_time_by_stage_state_send(c.st) = leadfunnel.cycle_time_by_stage_state_send(s.st)) AS send_equal;
SELECT leadfunnel.cycle_time_by_stage_final(st) FROM bystage_states WHERE octet_length(st::text) < 200 ORDER BY st::text;

-- bad text forms: SQLSTATE 22P02 with the reason
SELECT try(format('SELECT %L::leadfunnel.cycle_time_by_stage_state', v)) FROM (VALUES
    (''), ('v2'), ('v1 '), ('v1 lead'), ('v1 nosuch:(n=1 zero=1 max=0 max_n=1 sum=0 bins=)'),
    ('v1 lead:(n=0 zero=0 max=0 max_n=0 sum=0 bins=)'),
    ('v1 mql:(n=1 zero=1 max=0 max_n=1 sum=0 bins=) lead:(n=1 zero=1 max=0 max_n=1 sum=0 bins=)'),
    ('v1 lead:(n=1 zero=1 max=0 max_n=1 sum=0 bins=) lead:(n=1 zero=1 max=0 max_n=1 sum=0 bins=)'),
    ('v1 lead:(n=2 zero=1 max=0 max_n=1 sum=0 bins=)'),
    ('v1 lead:(n=1 zero=0 max=3600000000 max_n=1 sum=3600000000 bins=5:1)'),
    ('v1 lead:(n=1 zero=0 max=1 max_n=1 sum=1 bins=9999:1)'),
    ('v1 lead:(n=1 zero=1 max=0 max_n=1 sum=0 bins=)x'),
    ('v1 lead:(n=1 zero=1 max=0 max_n=1 sum=0 bins=) '),
    ('v1 lead:(n=1 zero=1 max=0 max_n=1 sum=0 bins=')) v(v);

-- damaged binary forms: truncations and corruptions of valid values are
-- refused with 22P03 or read as a valid value; nothing else happens
CREATE TABLE recv_bystage (st leadfunnel.cycle_time_by_stage_state);
SELECT split_part(public.copy_in_binary('recv_bystage', leadfunnel.cycle_time_by_stage_state_send(st)), ':', 1) AS valid_value, count(*)
  FROM bystage_states GROUP BY 1;
SELECT outcome, count(*)
  FROM (SELECT leadfunnel.cycle_time_by_stage_state_send(st) FROM bystage_states
         WHERE st::text LIKE 'v1 visitor:(n=1 %') s(v),
       LATERAL (SELECT split_part(public.copy_in_binary('recv_bystage', substr(s.v, 1, n)), ':', 1)
                  FROM generate_series(0, length(s.v) - 1) n
                UNION ALL
                SELECT split_part(public.copy_in_binary('recv_bystage', overlay(s.v PLACING set_byte('\x00'::bytea, 0, b) FROM 1 + p FOR 1)), ':', 1)
                  FROM generate_series(0, length(s.v) - 1) p, (VALUES (0), (1), (127), (255)) b(b)
                UNION ALL
                SELECT split_part(public.copy_in_binary('recv_bystage', s.v || '\x00'::bytea), ':', 1)) o(outcome)
 GROUP BY outcome ORDER BY outcome;
SELECT public.copy_in_binary('recv_bystage', v) FROM (VALUES ('\x02'::bytea), ('\x01'::bytea), ('\x011000'::bytea),
    ('\x010000'::bytea), ('\x0100'::bytea)) x(v);

DROP TABLE bystage_data, bystage_states, bystage_copy, recv_bystage;
DROP FUNCTION bystage_answers();
