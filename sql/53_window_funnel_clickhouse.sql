-- window_funnel against ClickHouse's own windowFunnel test cases, translated.
-- Sources (ClickHouse/ClickHouse): tests/queries/0_stateless/
-- 00632_aggregation_window_funnel.sql and .reference,
-- 01646_fix_window_funnel_inconistency.sql and .reference, and the example of
-- windowFunnel in docs/en/sql-reference/aggregate-functions/parametric-functions.md.
-- The expected levels are copied from those .reference files (and the docs'
-- result), not from our output.
--
-- Translation: condition k of a case is stage k of leadfunnel.lead_stage
-- (visitor = 1, lead = 2, mql = 3, ...).  A row that meets several conditions
-- becomes one event per condition at the same time (ClickHouse adds one event
-- per condition met, sorted by (time, condition)); a row that meets none
-- becomes an event of stage 'lost', which is no step (ClickHouse's event 0,
-- seen only by strict_order).  ClickHouse's number of conditions k is
-- until=<stage k> (reaching the last condition ends the search).  ClickHouse
-- returns level 0 where window_funnel returns NULL.  Times are seconds after
-- 2000-01-01 UTC (the u64 suite: microseconds, as its times exceed our range
-- in seconds), the window in the same unit.
--
-- Left out: the 'strict_once' cases of 00632.  strict_once exists for rows
-- that meet several conditions (it keeps one row from counting twice); every
-- one of its cases relies on such rows, which a lead_stage event cannot be.

CREATE TABLE ch_data (suite text, grp int, ts numeric, event text, a text, b text);
INSERT INTO ch_data (suite, grp, ts, event) VALUES
    -- funnel_test
    ('funnel_test', 1, 0, '1000'), ('funnel_test', 1, 1, '1001'), ('funnel_test', 1, 2, '1002'),
    ('funnel_test', 1, 3, '1003'), ('funnel_test', 1, 4, '1004'), ('funnel_test', 1, 5, '1005'),
    ('funnel_test', 1, 6, '1006'), ('funnel_test', 1, 7, '1007'), ('funnel_test', 1, 8, '1008'),
    -- funnel_test2 (DateTime '2018-01-01 01:01:0N': seconds N)
    ('funnel_test2', 1, 1, '1001'), ('funnel_test2', 1, 2, '1002'), ('funnel_test2', 1, 3, '1003'),
    ('funnel_test2', 1, 4, '1004'), ('funnel_test2', 1, 5, '1005'), ('funnel_test2', 1, 6, '1006'),
    ('funnel_test2', 1, 7, '1007'), ('funnel_test2', 1, 8, '1008'),
    -- funnel_test_u64 (UInt64 1e14 + N)
    ('funnel_test_u64', 1, 1e14 + 1, '1001'), ('funnel_test_u64', 1, 1e14 + 2, '1002'), ('funnel_test_u64', 1, 1e14 + 3, '1003'),
    ('funnel_test_u64', 1, 1e14 + 4, '1004'), ('funnel_test_u64', 1, 1e14 + 5, '1005'), ('funnel_test_u64', 1, 1e14 + 6, '1006'),
    ('funnel_test_u64', 1, 1e14 + 7, '1007'), ('funnel_test_u64', 1, 1e14 + 8, '1008'),
    -- funnel_test_strict
    ('funnel_test_strict', 1, 0, '1000'), ('funnel_test_strict', 1, 10, '1001'), ('funnel_test_strict', 1, 20, '1002'),
    ('funnel_test_strict', 1, 30, '1003'), ('funnel_test_strict', 1, 40, '1004'), ('funnel_test_strict', 1, 50, '1005'),
    ('funnel_test_strict', 1, 51, '1005'), ('funnel_test_strict', 1, 60, '1006'), ('funnel_test_strict', 1, 70, '1007'),
    ('funnel_test_strict', 1, 80, '1008'),
    -- funnel_test_strict_order (user = grp)
    ('strict_order', 1, 1, 'a'), ('strict_order', 1, 2, 'b'), ('strict_order', 1, 3, 'c'),
    ('strict_order', 2, 1, 'a'), ('strict_order', 2, 2, 'd'), ('strict_order', 2, 3, 'b'), ('strict_order', 2, 4, 'c'),
    ('strict_order', 3, 1, 'a'), ('strict_order', 3, 2, 'a'), ('strict_order', 3, 3, 'b'), ('strict_order', 3, 4, 'b'),
    ('strict_order', 3, 5, 'c'), ('strict_order', 3, 6, 'c'),
    ('strict_order', 4, 1, 'a'), ('strict_order', 4, 2, 'a'), ('strict_order', 4, 3, 'a'), ('strict_order', 4, 4, 'a'),
    ('strict_order', 4, 5, 'b'), ('strict_order', 4, 6, 'b'), ('strict_order', 4, 7, 'c'), ('strict_order', 4, 8, 'c'),
    ('strict_order', 5, 1, 'a'), ('strict_order', 5, 2, 'a'), ('strict_order', 5, 3, 'b'), ('strict_order', 5, 4, 'b'),
    ('strict_order', 5, 5, 'd'), ('strict_order', 5, 6, 'c'), ('strict_order', 5, 7, 'c'),
    ('strict_order', 6, 1, 'c'), ('strict_order', 6, 2, 'c'), ('strict_order', 6, 3, 'b'), ('strict_order', 6, 4, 'b'),
    ('strict_order', 6, 5, 'a'), ('strict_order', 6, 6, 'a'),
    ('strict_order', 7, 1, 'a'), ('strict_order', 7, 2, 'c'), ('strict_order', 7, 3, 'b'),
    -- strict_BiteTheDDDD (issue 27469)
    ('bite', 1, 1, 'a'), ('bite', 1, 2, 'b'), ('bite', 1, 3, 'c'), ('bite', 1, 4, 'b'), ('bite', 1, 5, 'd'),
    -- funnel_test_strict_increase
    ('strict_increase', 1, 0, '1000'), ('strict_increase', 1, 1, '1001'), ('strict_increase', 1, 1, '1002'),
    ('strict_increase', 1, 1, '1003'), ('strict_increase', 1, 2, '1004'),
    -- funnel_test_allow_reentry (user = grp)
    ('reentry', 1, 1, 'a'), ('reentry', 1, 2, 'b'), ('reentry', 1, 3, 'a'), ('reentry', 1, 4, 'c'),
    ('reentry', 2, 1, 'a'), ('reentry', 2, 2, 'b'), ('reentry', 2, 3, 'a'), ('reentry', 2, 4, 'b'), ('reentry', 2, 5, 'c'),
    ('reentry', 3, 1, 'a'), ('reentry', 3, 2, 'b'), ('reentry', 3, 3, 'c'), ('reentry', 3, 4, 'b'), ('reentry', 3, 5, 'd'),
    ('reentry', 4, 1, 'a'), ('reentry', 4, 2, 'c'), ('reentry', 4, 3, 'b'),
    ('reentry', 5, 1, 'a'), ('reentry', 5, 2, 'b'), ('reentry', 5, 3, 'c'), ('reentry', 5, 4, 'a'), ('reentry', 5, 5, 'b'),
    ('reentry', 5, 6, 'c'), ('reentry', 5, 7, 'd'),
    -- funnel_test_ecommerce (user_id = grp)
    ('ecommerce', 1, 100, 'begin_checkout'), ('ecommerce', 1, 200, 'view_product_detail'),
    ('ecommerce', 1, 300, 'begin_checkout'), ('ecommerce', 1, 400, 'complete_payment'),
    ('ecommerce', 2, 100, 'begin_checkout'), ('ecommerce', 2, 200, 'view_product_detail'),
    ('ecommerce', 2, 250, 'view_product_detail'), ('ecommerce', 2, 300, 'begin_checkout'),
    ('ecommerce', 2, 400, 'complete_payment'),
    ('ecommerce', 3, 100, 'begin_checkout'), ('ecommerce', 3, 200, 'view_product_detail'),
    ('ecommerce', 3, 300, 'complete_payment'),
    -- 01646, first insert (times: seconds after 2019-01-28 10:00:00)
    ('trend_1', 1, 86400, '1004'), ('trend_1', 1, 86400, '1003'), ('trend_1', 1, 0, '1002'),
    -- 01646, second insert (the same rows in another order)
    ('trend_2', 1, 86400, '1003'), ('trend_2', 1, 86400, '1004'), ('trend_2', 1, 0, '1002'),
    -- the docs' example (seconds after 2019-01-29 10:00:00)
    ('docs', 1, 0, '1003'), ('docs', 1, 169200, '1007'), ('docs', 1, 79200, '1009'), ('docs', 1, 252000, '1010');
-- funnel_test_non_null (u = grp; a, b nullable)
INSERT INTO ch_data (suite, grp, ts, a, b) VALUES
    ('non_null', 1, 1, 'a1', 'b1'), ('non_null', 1, 2, 'a2', 'b2'),
    ('non_null', 2, 1, 'a1', NULL), ('non_null', 2, 2, 'a2', NULL),
    ('non_null', 3, 1, NULL, NULL),
    ('non_null', 4, 1, NULL, 'b1'), ('non_null', 4, 2, 'a2', NULL), ('non_null', 4, 3, NULL, 'b3');

-- One row per ClickHouse query: its window, modes (NULL: the three-argument
-- form, ClickHouse's default) and conditions (SQL over event, a, b).
CREATE TABLE ch_cases (id text PRIMARY KEY, suite text, win interval, mode text, conds text[]);
INSERT INTO ch_cases VALUES
    ('00632 funnel_test 1',  'funnel_test', '10000 s', NULL, '{"event = ''1000''"}'),
    ('00632 funnel_test 2',  'funnel_test', '10000 s', NULL, '{"event = ''1000''","event = ''1001''"}'),
    ('00632 funnel_test 3',  'funnel_test', '10000 s', NULL, '{"event = ''1000''","event = ''1001''","event = ''1002''"}'),
    ('00632 funnel_test 4',  'funnel_test', '10000 s', NULL, '{"event = ''1000''","event = ''1001''","event = ''1002''","event = ''1008''"}'),
    ('00632 funnel_test 5',  'funnel_test', '1 s', NULL, '{"event = ''1000''"}'),
    ('00632 funnel_test 6',  'funnel_test', '2 s', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test 7',  'funnel_test', '3 s', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test 8',  'funnel_test', '4 s', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test2 1', 'funnel_test2', '4 s', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test2 2', 'funnel_test2', '10000 s', NULL, '{"event = ''1001''","event = ''1008''"}'),
    ('00632 funnel_test2 3', 'funnel_test2', '10000 s', NULL, '{"event = ''1008''","event = ''1001''"}'),
    ('00632 funnel_test2 4', 'funnel_test2', '4 s', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test2 5', 'funnel_test2', '4 s', NULL, '{"event::int <= 1007","event::int >= 1002","event::int <= 1006","event::int >= 1004"}'),
    ('00632 funnel_test_u64 1', 'funnel_test_u64', '4 us', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test_u64 2', 'funnel_test_u64', '10000 us', NULL, '{"event = ''1001''","event = ''1008''"}'),
    ('00632 funnel_test_u64 3', 'funnel_test_u64', '10000 us', NULL, '{"event = ''1008''","event = ''1001''"}'),
    ('00632 funnel_test_u64 4', 'funnel_test_u64', '4 us', NULL, '{"event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''","event = ''1007''"}'),
    ('00632 funnel_test_u64 5', 'funnel_test_u64', '4 us', NULL, '{"event::int <= 1007","event::int >= 1002","event::int <= 1006","event::int >= 1004"}'),
    ('00632 funnel_test_strict dedup', 'funnel_test_strict', '10000 s', 'strict_deduplication',
        '{"event = ''1000''","event = ''1001''","event = ''1002''","event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''"}'),
    ('00632 funnel_test_strict default', 'funnel_test_strict', '10000 s', NULL,
        '{"event = ''1000''","event = ''1001''","event = ''1002''","event = ''1003''","event = ''1004''","event = ''1005''","event = ''1006''"}'),
    ('00632 strict_order default', 'strict_order', '86400 s', NULL, '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 strict_order strict_order', 'strict_order', '86400 s', 'strict_order', '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 strict_order dedup+order', 'strict_order', '86400 s', 'strict_deduplication, strict_order', '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 strict_order user 7', 'strict_order', '10 s', 'strict_order', '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 BiteTheDDDD', 'bite', '86400 s', 'strict_deduplication', '{"event = ''a''","event = ''b''","event = ''c''","event = ''d''"}'),
    ('00632 non_null 1', 'non_null', '86400 s', NULL, '{"COALESCE(a, '''') = ''a1''","COALESCE(a, '''') = ''a2''"}'),
    ('00632 non_null 2', 'non_null', '86400 s', NULL, '{"COALESCE(a, '''') = ''a1''","COALESCE(b, '''') = ''b2''"}'),
    ('00632 non_null 3', 'non_null', '86400 s', NULL, '{"a IS NULL AND b IS NULL"}'),
    ('00632 non_null 4', 'non_null', '86400 s', NULL, '{"a IS NULL","COALESCE(b, '''') = ''b3''"}'),
    ('00632 non_null 5', 'non_null', '86400 s', 'strict_order', '{"a IS NULL","COALESCE(b, '''') = ''b3''"}'),
    ('00632 strict_increase 1', 'strict_increase', '10000 s', NULL,
        '{"event = ''1000''","event = ''1001''","event = ''1002''","event = ''1003''","event = ''1004''"}'),
    ('00632 strict_increase 2', 'strict_increase', '10000 s', 'strict_increase',
        '{"event = ''1000''","event = ''1001''","event = ''1002''","event = ''1003''","event = ''1004''"}'),
    ('00632 strict_increase 3', 'strict_increase', '10000 s', NULL, '{"event = ''1004''","event = ''1004''","event = ''1004''"}'),
    ('00632 strict_increase 5', 'strict_increase', '10000 s', 'strict_increase', '{"event = ''1004''","event = ''1004''","event = ''1004''"}'),
    ('00632 reentry strict_order', 'reentry', '86400 s', 'strict_order', '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 reentry allow_reentry', 'reentry', '86400 s', 'strict_order, allow_reentry', '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 reentry strict_order 4', 'reentry', '86400 s', 'strict_order', '{"event = ''a''","event = ''b''","event = ''c''","event = ''d''"}'),
    ('00632 reentry allow_reentry 4', 'reentry', '86400 s', 'strict_order, allow_reentry', '{"event = ''a''","event = ''b''","event = ''c''","event = ''d''"}'),
    ('00632 reentry combined', 'reentry', '86400 s', 'strict_order, allow_reentry, strict_deduplication', '{"event = ''a''","event = ''b''","event = ''c''"}'),
    ('00632 ecommerce strict_order', 'ecommerce', '600 s', 'strict_order',
        '{"event = ''begin_checkout''","event = ''view_product_detail''","event = ''complete_payment''"}'),
    ('00632 ecommerce allow_reentry', 'ecommerce', '600 s', 'strict_order, allow_reentry',
        '{"event = ''begin_checkout''","event = ''view_product_detail''","event = ''complete_payment''"}'),
    ('00632 ecommerce strict_order 4', 'ecommerce', '600 s', 'strict_order',
        '{"event = ''begin_checkout''","event = ''view_product_detail''","event = ''begin_checkout''","event = ''complete_payment''"}'),
    ('00632 ecommerce allow_reentry 4', 'ecommerce', '600 s', 'strict_order, allow_reentry',
        '{"event = ''begin_checkout''","event = ''view_product_detail''","event = ''begin_checkout''","event = ''complete_payment''"}'),
    ('01646 first insert', 'trend_1', '100000 years', NULL, '{"event = ''1004''","event = ''1003''","event = ''1002''"}'),
    ('01646 second insert', 'trend_2', '100000 years', NULL, '{"event = ''1004''","event = ''1003''","event = ''1002''"}'),
    ('docs example', 'docs', '100000 years', NULL, '{"event = ''1003''","event = ''1009''","event = ''1007''","event = ''1010''"}');

-- ClickHouse's answers, from the .reference files: level per group.
CREATE TABLE ch_expected (id text, grp int, level int);
INSERT INTO ch_expected
SELECT id, 1, level FROM (VALUES
    ('00632 funnel_test 1', 1), ('00632 funnel_test 2', 2), ('00632 funnel_test 3', 3), ('00632 funnel_test 4', 4),
    ('00632 funnel_test 5', 1), ('00632 funnel_test 6', 3), ('00632 funnel_test 7', 4), ('00632 funnel_test 8', 5),
    ('00632 funnel_test2 1', 5), ('00632 funnel_test2 2', 2), ('00632 funnel_test2 3', 1), ('00632 funnel_test2 4', 5),
    ('00632 funnel_test2 5', 4),
    ('00632 funnel_test_u64 1', 5), ('00632 funnel_test_u64 2', 2), ('00632 funnel_test_u64 3', 1),
    ('00632 funnel_test_u64 4', 5), ('00632 funnel_test_u64 5', 4),
    ('00632 funnel_test_strict dedup', 6), ('00632 funnel_test_strict default', 7),
    ('00632 strict_order user 7', 1),   -- "where user = 7": group 7 only (below)
    ('00632 BiteTheDDDD', 3),
    ('00632 strict_increase 1', 5), ('00632 strict_increase 2', 2), ('00632 strict_increase 3', 3),
    ('00632 strict_increase 5', 1),
    ('01646 first insert', 2), ('01646 second insert', 2), ('docs example', 4)) v(id, level)
UNION ALL
SELECT c.id, g, l FROM (VALUES
    ('00632 strict_order default', ARRAY[3, 3, 3, 3, 3, 1]),
    ('00632 strict_order strict_order', ARRAY[3, 1, 3, 3, 2, 1]),
    ('00632 strict_order dedup+order', ARRAY[3, 1, 2, 2, 2, 1]),
    ('00632 non_null 1', ARRAY[2, 2, 0, 0]),
    ('00632 non_null 2', ARRAY[2, 1, 0, 0]),
    ('00632 non_null 3', ARRAY[0, 0, 1, 0]),
    ('00632 non_null 4', ARRAY[0, 0, 1, 2]),
    ('00632 non_null 5', ARRAY[0, 0, 1, 1]),
    ('00632 reentry strict_order', ARRAY[2, 2, 3, 1, 3]),
    ('00632 reentry allow_reentry', ARRAY[3, 3, 3, 1, 3]),
    ('00632 reentry strict_order 4', ARRAY[2, 2, 4, 1, 3]),
    ('00632 reentry allow_reentry 4', ARRAY[3, 3, 4, 1, 4]),
    ('00632 reentry combined', ARRAY[3, 1, 3, 1, 3]),
    ('00632 ecommerce strict_order', ARRAY[2, 2, 3]),
    ('00632 ecommerce allow_reentry', ARRAY[3, 3, 3]),
    ('00632 ecommerce strict_order 4', ARRAY[1, 1, 1]),
    ('00632 ecommerce allow_reentry 4', ARRAY[1, 1, 1])) c(id, levels),
    unnest(c.levels) WITH ORDINALITY u(l, g);
UPDATE ch_expected SET grp = 7 WHERE id = '00632 strict_order user 7';

-- The events of each case: one per condition met, 'lost' when none is.
CREATE FUNCTION ch_events(case_id text)
RETURNS TABLE (grp int, at timestamptz, stage leadfunnel.lead_stage) LANGUAGE plpgsql AS $$
DECLARE
    c ch_cases;
    d ch_data;
    met boolean;
    any_met boolean;
    unit interval;
BEGIN
    SELECT * INTO STRICT c FROM ch_cases WHERE id = case_id;
    unit := CASE WHEN c.suite = 'funnel_test_u64' THEN interval '1 microsecond' ELSE interval '1 second' END;
    FOR d IN SELECT * FROM ch_data WHERE suite = c.suite LOOP
        any_met := false;
        FOR k IN 1 .. cardinality(c.conds) LOOP
            EXECUTE format('SELECT coalesce(%s, false) FROM (SELECT $1 AS event, $2 AS a, $3 AS b) r', c.conds[k])
                INTO met USING d.event, d.a, d.b;
            IF met THEN
                grp := d.grp; at := timestamptz '2000-01-01 00:00:00+00' + d.ts * unit;
                stage := (enum_range(NULL::leadfunnel.lead_stage))[k];
                any_met := true;
                RETURN NEXT;
            END IF;
        END LOOP;
        IF NOT any_met THEN
            grp := d.grp; at := timestamptz '2000-01-01 00:00:00+00' + d.ts * unit; stage := 'lost';
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

CREATE TABLE ch_events AS SELECT c.id, e.* FROM ch_cases c, ch_events(c.id) e;

-- Our answer per case and group: the mode form with until=<stage k> (k = the
-- number of conditions; mode '' is the default), and for the default-mode
-- cases also the three-argument form.
CREATE TABLE ch_answers AS
SELECT x.id, x.grp, x.level AS clickhouse,
       (SELECT coalesce(array_position(enum_range(NULL::leadfunnel.lead_stage),
                   leadfunnel.window_funnel(c.win, e.at, e.stage,
                       coalesce(c.mode, '') || ', until=' || (enum_range(NULL::leadfunnel.lead_stage))[cardinality(c.conds)])), 0)
          FROM ch_events e WHERE e.id = x.id AND e.grp = x.grp) AS with_mode,
       CASE WHEN c.mode IS NULL THEN
       (SELECT coalesce(array_position(enum_range(NULL::leadfunnel.lead_stage),
                   leadfunnel.window_funnel(c.win, e.at, e.stage)), 0)
          FROM ch_events e WHERE e.id = x.id AND e.grp = x.grp) END AS three_args
  FROM ch_expected x JOIN ch_cases c USING (id);

SELECT id, grp, clickhouse, with_mode, three_args,
       CASE WHEN with_mode = clickhouse AND coalesce(three_args, clickhouse) = clickhouse THEN 'ok' ELSE 'DIFFERS' END AS verdict
  FROM ch_answers ORDER BY id, grp;

SELECT count(*) AS cases,
       count(*) FILTER (WHERE with_mode = clickhouse AND coalesce(three_args, clickhouse) = clickhouse) AS agree,
       count(*) FILTER (WHERE three_args IS NOT NULL) AS default_mode_cases
  FROM ch_answers;

-- The same events fed in reverse order, split in two states by stage, sent
-- through the text and binary forms and merged by the combine function give
-- the same answers.
CREATE AGGREGATE wf_part(interval, timestamptz, leadfunnel.lead_stage, text)
    (SFUNC = leadfunnel.window_funnel_add, STYPE = leadfunnel.window_funnel_state);
CREATE TABLE ch_wf (wf leadfunnel.window_funnel_state);
CREATE TABLE ch_merged AS
SELECT x.id, x.grp, c.win, coalesce(c.mode, '') AS mode,
       (SELECT wf_part(c.win, e.at, e.stage, coalesce(c.mode, '') ORDER BY e.at DESC, e.stage DESC)
          FROM ch_events e WHERE e.id = x.id AND e.grp = x.grp AND e.stage < 'mql') AS part1,
       (SELECT wf_part(c.win, e.at, e.stage, coalesce(c.mode, '') ORDER BY e.at DESC, e.stage DESC)
          FROM ch_events e WHERE e.id = x.id AND e.grp = x.grp AND e.stage >= 'mql') AS part2,
       (SELECT leadfunnel.window_funnel(c.win, e.at, e.stage, coalesce(c.mode, ''))
          FROM ch_events e WHERE e.id = x.id AND e.grp = x.grp) AS whole
  FROM ch_expected x JOIN ch_cases c USING (id);
SELECT count(*) AS groups,
       count(*) FILTER (WHERE leadfunnel.window_funnel_final(leadfunnel.window_funnel_combine(part1, part2)) IS NOT DISTINCT FROM whole) AS merged_equal,
       count(*) FILTER (WHERE leadfunnel.window_funnel_final(leadfunnel.window_funnel_combine(part2::text::leadfunnel.window_funnel_state,
                                                                                                 part1::text::leadfunnel.window_funnel_state))
                              IS NOT DISTINCT FROM whole) AS through_text_equal,
       count(*) FILTER (WHERE part1::text::leadfunnel.window_funnel_state::text IS NOT DISTINCT FROM part1::text
                          AND part2::text::leadfunnel.window_funnel_state::text IS NOT DISTINCT FROM part2::text) AS text_round_trips,
       count(*) FILTER (WHERE (part1 IS NULL OR public.copy_in_binary('ch_wf', leadfunnel.window_funnel_state_send(part1)) = 'ok: ' || ROW(part1)::text)
                          AND (part2 IS NULL OR public.copy_in_binary('ch_wf', leadfunnel.window_funnel_state_send(part2)) = 'ok: ' || ROW(part2)::text)) AS binary_round_trips,
       count(part1) AS with_part1, count(part2) AS with_part2
  FROM ch_merged;

-- A few states in their text form: events in (time, step) order whatever the
-- order of the rows; strict_order keeps the events that are no step.
SELECT id, grp, part1::text AS part1, part2::text AS part2
  FROM ch_merged WHERE id IN ('00632 non_null 5', '00632 funnel_test2 5') ORDER BY id, grp;
