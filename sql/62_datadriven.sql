-- Data-driven attribution: markov_attribution and shapley_attribution on
-- hand-built paths (the textbook example, edge cases), their state types
-- (text and binary forms round-trip; bad forms refused with 22P02 / 22P03),
-- limits, and the model's views lead_channel_path, channel_attribution and
-- attribution_coverage on a hand-built model.  The comparison with an exact
-- reference on random paths is test/scripts/datadriven.sh.
SET TimeZone = 'UTC';
CREATE FUNCTION public.dd(credit leadfunnel.channel_credit[]) RETURNS TABLE (channel text, effect numeric, conversions numeric, value numeric)
    LANGUAGE sql AS
$$ SELECT c.channel, round(c.effect::numeric, 9), round(c.conversions::numeric, 9), round(c.value::numeric, 6) FROM unnest(credit) c $$;
CREATE TEMP TABLE paths (id int, path text[], converted boolean, value numeric);
-- the aggregates without their final functions: the states
CREATE AGGREGATE pg_temp.markov_partial(text[], boolean, numeric) (
    SFUNC = leadfunnel.markov_attribution_trans, STYPE = leadfunnel.markov_attribution_state);
CREATE AGGREGATE pg_temp.markov_merge(leadfunnel.markov_attribution_state) (
    SFUNC = leadfunnel.markov_attribution_combine, STYPE = leadfunnel.markov_attribution_state,
    FINALFUNC = leadfunnel.markov_attribution_final);
CREATE AGGREGATE pg_temp.shapley_partial(text[], boolean, numeric) (
    SFUNC = leadfunnel.shapley_attribution_trans, STYPE = leadfunnel.shapley_attribution_state);
CREATE AGGREGATE pg_temp.shapley_merge(leadfunnel.shapley_attribution_state) (
    SFUNC = leadfunnel.shapley_attribution_combine, STYPE = leadfunnel.shapley_attribution_state,
    FINALFUNC = leadfunnel.shapley_attribution_final);

-- the textbook example: C1 > C2 > C3 converts, C1 does not, C2 > C3 does not.
-- Markov: P(conversion) = 1/3; without C1 1/6 (effect 0.5), without C2 or C3
-- 0 (effect 1): shares 0.2, 0.4, 0.4.  Shapley: only {C1,C2,C3} converts
-- (v = 1), so each channel's Shapley value is 1/3.
INSERT INTO paths VALUES (1, '{C1,C2,C3}', true, 100), (2, '{C1}', false, 50), (3, '{C2,C3}', false, NULL);
SELECT 'markov' AS model, d.* FROM (SELECT leadfunnel.markov_attribution(path, converted, value) r FROM paths) a, dd(a.r) d;
SELECT 'shapley' AS model, d.* FROM (SELECT leadfunnel.shapley_attribution(path, converted, value) r FROM paths) a, dd(a.r) d;

-- consecutive repeats are one visit, NULL elements are skipped, NULL or empty
-- paths and a NULL converted add nothing; only converting paths' values count
INSERT INTO paths VALUES (4, '{C1,C1,NULL,C1}', false, 7), (5, NULL, true, 1000), (6, '{}', true, 1000), (7, '{C3}', NULL, 1000);
SELECT pg_temp.markov_partial(path, converted, value)::text AS markov_state,
       pg_temp.shapley_partial(path, converted, value)::text AS shapley_state
  FROM paths;
-- Shapley with a channel that lowers conversion: A alone converts 1 of 2, A
-- with B 0 of 2, B alone 1 of 1: v(A) = 0.5, v(B) = 1, v(AB) = 0
SELECT d.* FROM (SELECT leadfunnel.shapley_attribution(path, converted, value) r
                   FROM (VALUES ('{A}'::text[], true, 10::numeric), ('{A}', false, 0), ('{A,B}', false, 0), ('{B,A}', false, 0),
                                ('{B}', true, 30)) v(path, converted, value)) a, dd(a.r) d;
-- no conversions: effects and credit 0; no rows: empty array; one channel: all of it
SELECT (SELECT leadfunnel.markov_attribution(path, false, 1) FROM paths) AS markov_none,
       (SELECT leadfunnel.shapley_attribution(path, false, 1) FROM paths) AS shapley_none,
       (SELECT leadfunnel.markov_attribution(path, converted, value) FROM paths WHERE false) AS markov_empty,
       (SELECT leadfunnel.shapley_attribution(path, converted, value) FROM paths WHERE false) AS shapley_empty,
       (SELECT leadfunnel.markov_attribution(v.p, v.c, 5) FROM (VALUES ('{X}'::text[], true), ('{X,X}', false)) v(p, c)) AS markov_one,
       (SELECT leadfunnel.shapley_attribution(v.p, v.c, 5) FROM (VALUES ('{X}'::text[], true), ('{X,X}', false)) v(p, c)) AS shapley_one;
-- channel-name order is byte order, whatever the order seen; odd names survive the text form
SELECT r, r::text::leadfunnel.markov_attribution_state::text = r::text AS text_round_trip
  FROM (SELECT pg_temp.markov_partial(v.p, true, NULL) r
          FROM (VALUES ('{"z z","a\"b","B","back\\slash"}'::text[]), ('{"",é}')) v(p)) s;
SELECT c.channel FROM unnest((SELECT leadfunnel.shapley_attribution(v.p, true, NULL)
                                FROM (VALUES ('{"z z","a\"b","B","back\\slash"}'::text[]), ('{"",é}')) v(p))) c;

-- bad input: 22023 (dimensions, NaN), 22003 (out of range), 54000 (limits)
SELECT try($$SELECT leadfunnel.markov_attribution('{{a},{b}}', true, 1)$$);
SELECT try($$SELECT leadfunnel.shapley_attribution('{a}', true, 'NaN')$$);
SELECT try($$SELECT leadfunnel.markov_attribution('{a}', true, 1e30)$$);
SELECT try($$SELECT leadfunnel.markov_attribution('{a}', true, 'Infinity')$$);
SELECT try($$SELECT leadfunnel.shapley_attribution(ARRAY[g::text], true, 1) FROM generate_series(1, 65) g$$);
SELECT try($$SELECT leadfunnel.markov_attribution(ARRAY[g::text], true, 1) FROM generate_series(1, 1001) g$$);
SELECT try($$SELECT leadfunnel.markov_attribution(ARRAY[repeat('x', 1001)], true, 1)$$);
SELECT count(*) AS elements FROM unnest((SELECT leadfunnel.shapley_attribution(ARRAY[g::text, (1 + g % 7)::text], g % 3 = 0, g)
                                           FROM generate_series(1, 64) g));

-- the state types: partial states of a split, shipped as text, combined = the whole
CREATE TEMP TABLE many AS
SELECT g AS id, ARRAY(SELECT chr(65 + ((g * 7 + k * 13) % 9)) FROM generate_series(1, 1 + g % 5) k) AS path,
       g % 4 = 0 AS converted, (g % 100)::numeric AS value
  FROM generate_series(1, 3000) g;
CREATE TEMP TABLE dd_states AS
SELECT id % 5 AS part, pg_temp.markov_partial(path, converted, value)::text AS markov,
       pg_temp.shapley_partial(path, converted, value)::text AS shapley
  FROM many GROUP BY 1;
SELECT (SELECT leadfunnel.markov_attribution(path, converted, value) FROM many)::text
       = (SELECT pg_temp.markov_merge(markov::leadfunnel.markov_attribution_state ORDER BY part DESC) FROM dd_states)::text AS markov_split_equals_whole,
       (SELECT leadfunnel.shapley_attribution(path, converted, value) FROM many)::text
       = (SELECT pg_temp.shapley_merge(shapley::leadfunnel.shapley_attribution_state ORDER BY part DESC) FROM dd_states)::text AS shapley_split_equals_whole,
       (SELECT count(*) FROM dd_states WHERE markov::leadfunnel.markov_attribution_state::text <> markov
                                          OR shapley::leadfunnel.shapley_attribution_state::text <> shapley) AS text_differs;
-- binary form round trip (COPY binary out and in)
CREATE TEMP TABLE dd_bin (part int, m leadfunnel.markov_attribution_state, s leadfunnel.shapley_attribution_state);
INSERT INTO dd_bin SELECT part, markov::leadfunnel.markov_attribution_state, shapley::leadfunnel.shapley_attribution_state FROM dd_states;
CREATE TEMP TABLE dd_bin_copy (LIKE dd_bin);
DO $$
DECLARE f text := current_setting('data_directory') || '/lf_dd.bin';
BEGIN
    EXECUTE format('COPY dd_bin TO %L (FORMAT binary)', f);
    EXECUTE format('COPY dd_bin_copy FROM %L (FORMAT binary)', f);
END $$;
SELECT count(*) AS states, count(*) FILTER (WHERE a.m::text = b.m::text AND a.s::text = b.s::text
           AND leadfunnel.markov_attribution_state_send(a.m) = leadfunnel.markov_attribution_state_send(b.m)
           AND leadfunnel.shapley_attribution_state_send(a.s) = leadfunnel.shapley_attribution_state_send(b.s)) AS binary_round_trips
  FROM dd_bin a JOIN dd_bin_copy b USING (part);

-- bad text forms: 22P02 with the reason
SELECT try(format('SELECT %L::leadfunnel.markov_attribution_state', v)) FROM (VALUES
    ('v2 0 0'), ('v1 0 1 "a"'), ('v1 0 1 "a" 0:1:1'), ('v1 0 1 "a" 0:1:1 1:2:1 1:2:1'), ('v1 0 1 "a" 0:1:1 1:1:1 1:2:1'),
    ('v1 0 2 "b" "a" 0:1:1 1:3:1 0:2:1 2:3:1'), ('v1 0 1 "a" 0:1:1 1:3:1 0:3:1'), ('v1 0 1 "a" 0:1:-1 1:2:-1'),
    ('v1 5 1 "a" 0:1:1 1:3:1'), ('v1 0 2 "a" "b" 0:1:1 1:3:1 2:3:1'), ('v1 0 2 "a" "b" 0:1:1 1:3:1 2:1:1 1:2:1'),
    ('v1 0 1 "a'), ('v1 0 1 "a\x" 0:1:1 1:2:1'), ('v1 0 1 "a" 0:1:1 1:2:1 '), ('v1 0 1001')) v(v);
SELECT try(format('SELECT %L::leadfunnel.shapley_attribution_state', v)) FROM (VALUES
    ('v1 1 "a" 1:1:2:0'), ('v1 1 "a" 2:1:0:0'), ('v1 1 "a" 0:1:0:0'), ('v1 1 "a" 1:0:0:0'), ('v1 1 "a" 1:1:0:5'),
    ('v1 2 "a" "b" 1:1:0:0'), ('v1 2 "a" "b" 3:1:0:0 1:1:0:0'), ('v1 1 "a" 1:1:1:170141183460469231731687303715884105727'),
    ('v1 65'), ('v1 1 "a" 18446744073709551616:1:0:0')) v(v);
-- totals that overflow: a malformed state (22P02), not the aggregate's overflow (22003); found
-- by the SQL-level mutation run of tools/memcheck.sh (2026-12-02)
SELECT try(format('SELECT %L::leadfunnel.%I', v, t)) FROM (VALUES
    ('markov_attribution_state', 'v1 0 3 "content" "outbound" "webinar" 0:3:9223372036854775807 1:5:1 2:3:1 3:1:1 3:2:1'),
    ('shapley_attribution_state', 'v1 2 "a" "b" 1:9223372036854775807:0:0 2:1:0:0'),
    ('shapley_attribution_state', 'v1 2 "a" "b" 1:1:1:42535295865117307932921825928971026432 2:1:1:42535295865117307932921825928971026432')) x(t, v);
-- damaged binary forms: 22P03, never a crash
CREATE FUNCTION pg_temp.dd_recv(tab text, payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f text := current_setting('data_directory') || '/lf_dd_recv.bin';
    lo oid := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea || '\x0001'::bytea
                               || int4send(length(payload)) || payload || '\xffff'::bytea);
    st text := 'ok';
BEGIN
    PERFORM lo_export(lo, f);
    PERFORM lo_unlink(lo);
    BEGIN
        EXECUTE format('COPY %I FROM %L (FORMAT binary)', tab, f);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    END;
    RETURN st;
END $$;
CREATE TEMP TABLE m_only (m leadfunnel.markov_attribution_state);
CREATE TEMP TABLE s_only (s leadfunnel.shapley_attribution_state);
WITH v AS (SELECT leadfunnel.markov_attribution_state_send(m) AS b FROM dd_bin WHERE part = 1)
SELECT 'markov' AS type, outcome, count(*) FROM (
    SELECT pg_temp.dd_recv('m_only', substr(v.b, 1, n)) AS outcome FROM v, generate_series(0, length(v.b) - 1, 3) n
    UNION ALL SELECT pg_temp.dd_recv('m_only', v.b || '\x00'::bytea) FROM v
    UNION ALL SELECT pg_temp.dd_recv('m_only', overlay(v.b PLACING '\x02'::bytea FROM 1 FOR 1)) FROM v
    UNION ALL SELECT pg_temp.dd_recv('m_only', overlay(v.b PLACING '\x7f'::bytea FROM n FOR 1)) FROM v, generate_series(2, length(v.b)) n
    UNION ALL SELECT pg_temp.dd_recv('m_only', v.b) FROM v) o
 GROUP BY 1, 2 ORDER BY 1, 2;
WITH v AS (SELECT leadfunnel.shapley_attribution_state_send(s) AS b FROM dd_bin WHERE part = 1)
SELECT 'shapley' AS type, outcome, count(*) FROM (
    SELECT pg_temp.dd_recv('s_only', substr(v.b, 1, n)) AS outcome FROM v, generate_series(0, length(v.b) - 1, 3) n
    UNION ALL SELECT pg_temp.dd_recv('s_only', v.b || '\x00'::bytea) FROM v
    UNION ALL SELECT pg_temp.dd_recv('s_only', overlay(v.b PLACING '\x02'::bytea FROM 1 FOR 1)) FROM v
    UNION ALL SELECT pg_temp.dd_recv('s_only', overlay(v.b PLACING '\xff'::bytea FROM n FOR 1)) FROM v, generate_series(2, length(v.b)) n
    UNION ALL SELECT pg_temp.dd_recv('s_only', v.b) FROM v) o
 GROUP BY 1, 2 ORDER BY 1, 2;
-- what the damaged forms that were accepted hold is a valid state (output, input, same text)
SELECT count(*) AS accepted, count(*) FILTER (WHERE m::text::leadfunnel.markov_attribution_state::text = m::text) AS valid FROM m_only;
SELECT count(*) AS accepted, count(*) FILTER (WHERE s::text::leadfunnel.shapley_attribution_state::text = s::text) AS valid FROM s_only;

-- The views on a hand-built model.
SELECT leadfunnel.create_model('ddm');
INSERT INTO ddm.account (account_id, name) VALUES (1, 'A');
INSERT INTO ddm.campaign (campaign_id, name, channel) VALUES (1, 'c1', 'C1'), (2, 'c2', 'C2'), (3, 'c3', 'C3'), (4, 'none', NULL);
INSERT INTO ddm.lead (lead_id, account_id, amount, stage, created_at) VALUES
    (1, 1, 900, 'lead', '2025-01-10'), (2, 1, 100, 'lead', '2025-01-12'), (3, 1, 50, 'lead', '2025-02-01'),
    (4, 1, 70, 'lead', '2025-02-03');
-- lead 1 won (C1 > C2 > C3), lead 2 lost (C1), lead 3 reaches opportunity and
-- stays open (C2 > C3), lead 4 won without any touch (unattributed)
DO $$
DECLARE st text;
BEGIN
    FOREACH st IN ARRAY ARRAY['mql', 'tal', 'tql', 'sal', 'sql'] LOOP
        UPDATE ddm.lead SET stage = st::leadfunnel.lead_stage, stage_entered_at = created_at + interval '1 day'
         WHERE lead_id IN (1, 3, 4);
    END LOOP;
END $$;
UPDATE ddm.lead SET stage = 'opportunity', stage_entered_at = created_at + interval '7 days' WHERE lead_id IN (1, 3, 4);
UPDATE ddm.lead SET stage = 'won', stage_entered_at = created_at + interval '20 days' WHERE lead_id IN (1, 4);
UPDATE ddm.lead SET stage = 'lost', stage_entered_at = '2025-01-15' WHERE lead_id = 2;
INSERT INTO ddm.touch (touch_id, campaign_id, account_id, lead_id, touched_at) VALUES
    (1, 1, 1, 1, '2025-01-01'), (2, 2, 1, 1, '2025-01-05'), (3, 3, 1, 1, '2025-01-25'),
    (4, 1, 1, 2, '2025-01-11'), (5, 4, 1, 2, '2025-01-12'),
    (6, 2, 1, 3, '2025-01-28'), (7, 3, 1, 3, '2025-02-05');
SELECT * FROM ddm.lead_channel_path ORDER BY lead_id;
SELECT model, channel, round(attributed_leads, 6) AS leads, round(attributed_pipeline, 4) AS pipeline,
       round(attributed_won, 4) AS won, round(effect::numeric, 6) AS effect
  FROM ddm.channel_attribution WHERE model IN ('markov', 'shapley', 'linear', 'j_shaped') ORDER BY model, channel;
-- rule-based rows = campaign_attribution summed per channel
SELECT count(*) AS differ FROM (
    SELECT ca.model_name, c.channel, sum(ca.attributed_leads) l, sum(ca.attributed_won) w
      FROM ddm.campaign_attribution ca JOIN ddm.campaign c USING (campaign_id) GROUP BY 1, 2
    EXCEPT SELECT model, channel, attributed_leads, attributed_won FROM ddm.channel_attribution) d;
SELECT * FROM ddm.attribution_coverage;
-- every view and column is commented and security_invoker
SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'ddm'::regnamespace AND c.relkind = 'v'
   AND (obj_description(c.oid, 'pg_class') IS NULL OR NOT coalesce('security_invoker=true' = ANY (c.reloptions), false));
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'ddm'::regnamespace AND c.relkind = 'v' AND col_description(c.oid, a.attnum) IS NULL;
SET client_min_messages = warning;
DROP SCHEMA ddm CASCADE;
RESET client_min_messages;
DROP FUNCTION public.dd;
