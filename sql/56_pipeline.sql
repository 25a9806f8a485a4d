-- Pipeline and waterfall: the Wilson interval, the amount and close-date
-- history, and every view and function of model_add_pipeline checked against
-- independent plain SQL on generated data (EXCEPT both ways).
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------------
-- Wilson score interval: hand values (3 of 12: 0.0889 .. 0.5323; 0 of 10:
-- 0 .. 0.2775; 10 of 10: 0.7225 .. 1), and the formula on a grid
SELECT x, n, round(leadfunnel.wilson_bound(x, n, false), 4) AS low, round(leadfunnel.wilson_bound(x, n, true), 4) AS high
  FROM (VALUES (3, 12), (0, 10), (10, 10), (1, 1), (50, 100), (0, 0)) v(x, n);
WITH g AS (SELECT x, n, 1.959963984540054::numeric AS z
             FROM generate_series(1, 60) n, generate_series(0, n) x),
     f AS (SELECT x, n, (x + z * z / 2) / (n + z * z) AS c,
                  z / (n + z * z) * sqrt(x::numeric * (n - x) / n + z * z / 4) AS h FROM g)
SELECT count(*) AS cases,
       count(*) FILTER (WHERE abs(leadfunnel.wilson_bound(x, n, false) - greatest(c - h, 0)) > 1e-12
                           OR abs(leadfunnel.wilson_bound(x, n, true) - least(c + h, 1)) > 1e-12) AS off_formula,
       count(*) FILTER (WHERE NOT (leadfunnel.wilson_bound(x, n, false) <= x::numeric / n
                                   AND x::numeric / n <= leadfunnel.wilson_bound(x, n, true))) AS not_around_p
  FROM f;
-- another confidence: z = 2.5758 (99 %) is wider
SELECT leadfunnel.wilson_bound(3, 12, false, 2.5758) < leadfunnel.wilson_bound(3, 12, false) AS wider_low,
       leadfunnel.wilson_bound(3, 12, true, 2.5758) > leadfunnel.wilson_bound(3, 12, true) AS wider_high;
SELECT try($$SELECT leadfunnel.wilson_bound(5, 4, true)$$);
SELECT try($$SELECT leadfunnel.wilson_bound(-1, 4, true)$$);
SELECT try($$SELECT leadfunnel.wilson_bound(1, 4, true, 0)$$);
SELECT leadfunnel.wilson_bound(NULL, 4, true) IS NULL AS null_in_null_out;

-- ---------------------------------------------------------------------------
-- Generated data: leads of the three built-in funnels move stage by stage
-- (advance, close, recycle and reopen), and many moves change the amount
-- and the expected close date in the same UPDATE (so they are dated by the
-- move).  The plan is kept, so that a copy can be replayed up to any moment.
SELECT leadfunnel.create_model('pl');
-- the plain SQL below reads the history's current truth
CREATE TEMP VIEW cur_hist AS SELECT * FROM pl.lead_stage_history WHERE superseded_at IS NULL;
SELECT setseed(0.14);
CREATE TEMP TABLE plan (lead_id bigint, step int, stage leadfunnel.lead_stage, at timestamptz,
                        amount numeric, close_date date, funnel text);
DO $$
DECLARE
    f text; stages leadfunnel.lead_stage[]; st leadfunnel.lead_stage; t timestamptz;
    amt numeric; cd date; k int; pos int; r float8;
BEGIN
    FOR i IN 1 .. 600 LOOP
        f := (ARRAY['enterprise', 'inside_sales', 'self_serve'])[1 + i % 3];
        SELECT fu.stages INTO stages FROM leadfunnel.funnel fu WHERE fu.name = f;
        st := CASE WHEN random() < 0.4 THEN 'visitor' ELSE 'lead' END;
        t := '2024-01-01'::timestamptz + make_interval(hours => floor(random() * 24 * 640)::int);
        amt := CASE WHEN random() < 0.05 THEN NULL ELSE round((1000 + random() * 99000)::numeric) END;
        cd := (t + make_interval(days => 30 + floor(random() * 120)::int))::date;
        k := 0;
        INSERT INTO plan VALUES (i, k, st, t, amt, cd, f);
        LOOP
            t := t + make_interval(hours => 1 + floor(random() * 24 * 40)::int);
            EXIT WHEN t > '2025-12-31';
            r := random();
            IF st = 'recycled' THEN
                EXIT WHEN r < 0.5;
                st := 'lead';
            ELSIF st > 'won' OR st = 'won' THEN
                EXIT;
            ELSIF r < 0.12 THEN
                EXIT;   -- stays open
            ELSIF r < 0.78 THEN
                pos := array_position(stages, st);
                st := stages[pos + 1];
            ELSE
                st := (ARRAY['recycled', 'disqualified', 'lost']::leadfunnel.lead_stage[])[1 + floor(random() * 3)::int];
            END IF;
            IF random() < 0.4 THEN
                amt := CASE WHEN random() < 0.05 THEN NULL ELSE round(coalesce(amt, 5000) * (0.6 + random() * 0.9)) END;
            END IF;
            IF random() < 0.35 THEN
                cd := cd + floor(random() * 60 - 25)::int;
            END IF;
            k := k + 1;
            INSERT INTO plan VALUES (i, k, st, t, amt, cd, f);
        END LOOP;
    END LOOP;
END $$;
-- replay the plan into a model, up to a moment
CREATE FUNCTION pg_temp.replay(m text, upto timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    EXECUTE format('INSERT INTO %I.account (account_id) SELECT DISTINCT lead_id / 3 FROM plan WHERE step = 0 AND at <= $1', m)
      USING upto;
    EXECUTE format($q$INSERT INTO %I.lead (lead_id, account_id, funnel, stage, created_at, amount, expected_close_date)
                      SELECT lead_id, lead_id / 3, funnel, stage, at, amount, close_date FROM plan
                       WHERE step = 0 AND at <= $1$q$, m) USING upto;
    SELECT max(step) INTO n FROM plan;
    FOR k IN 1 .. n LOOP
        EXECUTE format($q$UPDATE %I.lead l SET stage = p.stage, stage_entered_at = p.at,
                                              amount = p.amount, expected_close_date = p.close_date
                            FROM plan p WHERE p.lead_id = l.lead_id AND p.step = $1 AND p.at <= $2$q$, m)
          USING k, upto;
    END LOOP;
END $$;
SELECT pg_temp.replay('pl', 'infinity');
-- and a few changes now (dated now(), after every planned move)
UPDATE pl.lead SET amount = amount + 500 WHERE lead_id % 7 = 0 AND amount IS NOT NULL;
UPDATE pl.lead SET expected_close_date = expected_close_date + 10 WHERE lead_id % 11 = 0;
UPDATE pl.lead SET amount = amount WHERE lead_id % 13 = 0;   -- no change: no row
SELECT count(*) AS leads, count(*) FILTER (WHERE stage <= 'opportunity') AS open,
       (SELECT count(*) FROM cur_hist) AS history_rows,
       (SELECT count(*) FROM pl.lead_value_history) AS value_rows,
       (SELECT count(*) FROM pl.lead_value_history WHERE changed_at > '2026-01-01') AS changed_later
  FROM pl.lead;
SELECT count(*) AS problems FROM leadfunnel.verify_model('pl');

-- The value history: one row per UPDATE that changed a value, chained per
-- lead (each row's old values are the previous row's new values), the last
-- one's new values are the lead's; moves that change nothing write nothing.
SELECT count(*) AS unchained
  FROM (SELECT v.*, lag(new_amount) OVER w AS prev_amount, lag(new_expected_close_date) OVER w AS prev_close,
               row_number() OVER w AS rn
          FROM pl.lead_value_history v
        WINDOW w AS (PARTITION BY account_id, lead_id ORDER BY changed_at, recorded_at)) v
 WHERE rn > 1 AND (old_amount IS DISTINCT FROM prev_amount OR old_expected_close_date IS DISTINCT FROM prev_close);
SELECT count(*) AS last_differs
  FROM pl.lead l
  JOIN LATERAL (SELECT * FROM pl.lead_value_history v WHERE v.account_id = l.account_id AND v.lead_id = l.lead_id
                 ORDER BY changed_at DESC, recorded_at DESC LIMIT 1) v ON true
 WHERE v.new_amount IS DISTINCT FROM l.amount OR v.new_expected_close_date IS DISTINCT FROM l.expected_close_date;
-- planned changes: a row per step that changed a value, dated by the move
SELECT (SELECT count(*) FROM plan p JOIN plan q ON q.lead_id = p.lead_id AND q.step = p.step - 1
         WHERE p.amount IS DISTINCT FROM q.amount OR p.close_date IS DISTINCT FROM q.close_date)
     = (SELECT count(*) FROM pl.lead_value_history WHERE changed_at < '2026-01-01') AS one_row_per_planned_change,
       (SELECT count(*) FROM pl.lead_value_history v
         WHERE changed_at < '2026-01-01'
           AND NOT EXISTS (SELECT 1 FROM plan p WHERE p.lead_id = v.lead_id AND p.at = v.changed_at
                              AND p.amount IS NOT DISTINCT FROM v.new_amount
                              AND p.close_date IS NOT DISTINCT FROM v.new_expected_close_date)) AS not_as_planned;
-- append-only, for the owner too
SELECT try($$UPDATE pl.lead_value_history SET new_amount = 0$$);
SELECT try($$DELETE FROM pl.lead_value_history$$);
SELECT try($$TRUNCATE pl.lead_value_history$$);
SELECT try($$INSERT INTO pl.lead_value_history (account_id, lead_id, changed_at) VALUES (1, 3, now())$$);
-- a stage move alone does not fire the recording trigger; a move with a new
-- amount is recorded at the move's time, and never before an earlier change
BEGIN;
INSERT INTO pl.account (account_id) VALUES (9000);
INSERT INTO pl.lead (lead_id, account_id, created_at, amount) VALUES (9000, 9000, '2025-01-01', 100);
UPDATE pl.lead SET stage = 'mql', stage_entered_at = '2025-02-01' WHERE lead_id = 9000;
UPDATE pl.lead SET stage = 'tal', stage_entered_at = '2025-03-01', amount = 150 WHERE lead_id = 9000;
UPDATE pl.lead SET expected_close_date = '2025-09-30' WHERE lead_id = 9000;
UPDATE pl.lead SET stage = 'tql', stage_entered_at = '2025-04-01', amount = 120 WHERE lead_id = 9000;
SELECT CASE WHEN changed_at = now() THEN 'now' ELSE changed_at::text END AS changed_at, old_amount, new_amount, old_expected_close_date, new_expected_close_date, changed_by
  FROM pl.lead_value_history WHERE lead_id = 9000 ORDER BY changed_at, recorded_at;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- funnel_summary.entered: leads whose history entered the stage
SELECT count(*) AS rows,
       count(*) FILTER (WHERE s.entered IS DISTINCT FROM coalesce(p.entered, 0)) AS differ,
       count(*) FILTER (WHERE s.entered < s.reached) AS entered_below_reached
  FROM pl.funnel_summary s
  LEFT JOIN (SELECT l.funnel, h.to_stage, count(DISTINCT h.lead_id) AS entered
               FROM cur_hist h JOIN pl.lead l USING (account_id, lead_id)
              GROUP BY 1, 2) p ON p.funnel = s.funnel AND p.to_stage = s.stage;
SELECT funnel, stage, reached, entered FROM pl.funnel_summary WHERE funnel = 'self_serve';

-- ---------------------------------------------------------------------------
-- waterfall against plain SQL: first entry of each lead into each stage;
-- advanced = a later history row enters the funnel's next stage or beyond;
-- quantiles by percentile_disc (the view's sketch is within 1 %)
CREATE TEMP VIEW plain_waterfall AS
WITH fe AS (
    SELECT DISTINCT ON (h.account_id, h.lead_id, h.to_stage) h.account_id, h.lead_id, h.to_stage AS stage, h.seq, h.entered_at
      FROM cur_hist h WHERE h.to_stage <= 'won'
     ORDER BY h.account_id, h.lead_id, h.to_stage, h.seq
), nx AS (
    SELECT f.name AS funnel, u.stage, lead(u.stage) OVER (PARTITION BY f.name ORDER BY u.stage) AS next_stage
      FROM leadfunnel.funnel f, unnest(f.stages) u(stage)
), e AS (
    SELECT l.funnel, fe.stage, fe.entered_at, l.stage AS lead_stage, l.amount,
           (SELECT min(h2.entered_at) FROM cur_hist h2
             WHERE h2.account_id = fe.account_id AND h2.lead_id = fe.lead_id AND h2.seq > fe.seq
               AND h2.to_stage >= nx.next_stage AND h2.to_stage <= 'won') AS next_at
      FROM fe JOIN pl.lead l USING (account_id, lead_id)
      JOIN nx ON nx.funnel = l.funnel AND nx.stage = fe.stage
), g AS (
    SELECT funnel, date_trunc('month', entered_at)::date AS period, stage, count(*) AS entered,
           count(next_at) AS adv, count(*) FILTER (WHERE lead_stage = 'won') AS won,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - entered_at) / 86400) AS p50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - entered_at) / 86400) AS p90,
           sum(amount) AS amount
      FROM e GROUP BY 1, 2, 3
)
SELECT funnel, period, stage, entered, CASE WHEN stage < 'won' THEN adv END AS advanced, won,
       CASE WHEN stage < 'won' THEN adv::numeric / entered END AS conversion,
       CASE WHEN stage < 'won' THEN greatest(0, (adv + 1.959963984540054^2 / 2) / (entered + 1.959963984540054^2)
            - 1.959963984540054 / (entered + 1.959963984540054^2) * sqrt(adv::numeric * (entered - adv) / entered + 1.959963984540054^2 / 4)) END AS low,
       CASE WHEN stage < 'won' THEN least(1, (adv + 1.959963984540054^2 / 2) / (entered + 1.959963984540054^2)
            + 1.959963984540054 / (entered + 1.959963984540054^2) * sqrt(adv::numeric * (entered - adv) / entered + 1.959963984540054^2 / 4)) END AS high,
       p50, p90, amount
  FROM g;
SELECT (SELECT count(*) FROM pl.waterfall) AS rows,
       (SELECT count(*) FROM (SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM pl.waterfall
                              EXCEPT SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM plain_waterfall) x) AS only_view,
       (SELECT count(*) FROM (SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM plain_waterfall
                              EXCEPT SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM pl.waterfall) x) AS only_plain,
       (SELECT count(*) FROM pl.waterfall w JOIN plain_waterfall p USING (funnel, period, stage)
         WHERE abs(w.conversion_low - p.low) > 1e-12 OR abs(w.conversion_high - p.high) > 1e-12
            OR (w.conversion_low IS NULL) <> (p.low IS NULL)) AS wilson_off,
       (SELECT count(*) FROM pl.waterfall w JOIN plain_waterfall p USING (funnel, period, stage)
         WHERE (w.days_to_next_p50 IS NULL) <> (p.p50 IS NULL)
            OR abs(w.days_to_next_p50 - p.p50) > 0.01 * p.p50 + 0.006
            OR abs(w.days_to_next_p90 - p.p90) > 0.01 * p.p90 + 0.006) AS days_off,
       (SELECT count(*) FROM pl.waterfall WHERE stage < 'won' AND advanced > 0) AS rows_with_durations;
-- imported leads that start at mql are not visitors: the view counts what history entered
BEGIN;
INSERT INTO pl.account (account_id) VALUES (9001);
INSERT INTO leadfunnel.funnel (name, stages, entry_stages, allow_skip, description)
VALUES ('import', '{visitor,lead,mql,won}', '{visitor,lead,mql}', false, 'test: leads imported at mql');
INSERT INTO pl.lead (lead_id, account_id, funnel, stage, created_at, amount)
SELECT 9000 + g, 9001, 'import', 'mql', ('2025-05-0' || g)::timestamptz, 10 * g FROM generate_series(1, 3) g;
UPDATE pl.lead SET stage = 'won', stage_entered_at = '2025-05-20' WHERE lead_id = 9001;
SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM pl.waterfall WHERE funnel = 'import';
SELECT funnel, stage, reached, entered FROM pl.funnel_summary WHERE funnel = 'import';
ROLLBACK;
-- a filter on funnel and period is applied below both aggregations (per lead
-- by lead_stage_entries, then per funnel, period and stage), in the scan of
-- lead: other funnels' rows are never computed
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q; END $$;
SELECT count(*) FILTER (WHERE p ~ 'Seq Scan on lead l') AS lead_scans,
       count(*) FILTER (WHERE p ~ 'Filter: \(funnel = ''self_serve''::text\)') AS funnel_filters_in_scan,
       count(*) FILTER (WHERE p ~ 'Aggregate') AS aggregations
  FROM pg_temp.plan_of($$SELECT * FROM pl.waterfall WHERE funnel = 'self_serve' AND period >= '2025-01-01'$$) p;
SELECT count(*) FILTER (WHERE p ~ 'Filter: \(funnel = ''self_serve''::text\)') AS funnel_filters
  FROM pg_temp.plan_of($$SELECT * FROM pl.conversion_by_cohort WHERE funnel = 'self_serve' AND cohort >= '2025-01-01'$$) p;
-- (the filter is on the scan of lead: the line after it; how the small
-- stage_label table is scanned varies with the planner's statistics)
WITH p AS (SELECT p, n FROM pg_temp.plan_of($$SELECT * FROM pl.pipeline WHERE funnel = 'self_serve'$$) WITH ORDINALITY t(p, n))
SELECT bool_or(f.p ~ 'Filter: .*funnel = ''self_serve''::text') AS funnel_filter_in_lead_scan
  FROM p s JOIN p f ON f.n = s.n + 1
 WHERE s.p ~ 'Scan on lead l$';

-- ---------------------------------------------------------------------------
-- conversion_by_cohort against plain SQL
CREATE TEMP VIEW plain_cohort AS
WITH fe AS (
    SELECT DISTINCT ON (h.account_id, h.lead_id, h.to_stage) h.account_id, h.lead_id, h.to_stage AS stage, h.seq, h.entered_at
      FROM cur_hist h WHERE h.to_stage < 'won'
     ORDER BY h.account_id, h.lead_id, h.to_stage, h.seq
)
SELECT l.funnel, date_trunc('month', fe.entered_at)::date AS cohort, fe.stage AS from_stage, t.stage AS to_stage,
       count(*) AS entered,
       count(*) FILTER (WHERE r.at <= fe.entered_at + interval '30 days') AS within_30d,
       count(*) FILTER (WHERE r.at <= fe.entered_at + interval '60 days') AS within_60d,
       count(*) FILTER (WHERE r.at <= fe.entered_at + interval '90 days') AS within_90d,
       count(r.at) AS ever
  FROM fe JOIN pl.lead l USING (account_id, lead_id)
  JOIN leadfunnel.funnel f ON f.name = l.funnel
 CROSS JOIN unnest(f.stages) t(stage)
  LEFT JOIN LATERAL (SELECT min(h2.entered_at) AS at FROM cur_hist h2
                      WHERE h2.account_id = fe.account_id AND h2.lead_id = fe.lead_id AND h2.seq > fe.seq
                        AND h2.to_stage >= t.stage AND h2.to_stage <= 'won') r ON true
 WHERE t.stage > fe.stage
 GROUP BY 1, 2, 3, 4;
SELECT (SELECT count(*) FROM pl.conversion_by_cohort) AS rows,
       (SELECT count(*) FROM (TABLE pl.conversion_by_cohort EXCEPT TABLE plain_cohort) x) AS only_view,
       (SELECT count(*) FROM (TABLE plain_cohort EXCEPT TABLE pl.conversion_by_cohort) x) AS only_plain,
       (SELECT count(*) FROM pl.conversion_by_cohort
         WHERE NOT (within_30d <= within_60d AND within_60d <= within_90d AND within_90d <= ever AND ever <= entered)) AS not_monotone;

-- ---------------------------------------------------------------------------
-- waterfall and conversion_by_cohort (lead_stage_entries, stage_entries.c)
-- against the same plain SQL on awkward histories, written as history rows
-- with the triggers off: moves back, re-entries, skipped stages, moves at the
-- same moment, a lead imported at mql, lost, recycled and reopened, won, only
-- closed, a superseded row, and moves exactly at and just past 30, 60 and 90
-- days, in UTC and across a daylight-saving change in Europe/Berlin (where
-- 30 days after 2025-03-20 12:00+01 is 2025-04-19 12:00+02, 29 days and 23
-- hours later)
BEGIN;
INSERT INTO leadfunnel.funnel (name, stages, entry_stages, allow_skip, description)
VALUES ('awkward', '{visitor,lead,mql,tal,tql,sal,sql,opportunity,won}', '{visitor,lead,mql}', true, 'test: awkward histories');
INSERT INTO pl.account (account_id) VALUES (9100);
SET LOCAL session_replication_role = replica;
CREATE TEMP TABLE awk (lead_id bigint, seq int, to_stage leadfunnel.lead_stage, entered_at timestamptz) ON COMMIT DROP;
INSERT INTO awk VALUES
    -- moves back (mql to lead) and re-entries of lead and mql
    (9101, 1, 'visitor', '2025-01-03 10:00+00'), (9101, 2, 'lead', '2025-01-10 00:00+00'), (9101, 3, 'mql', '2025-01-20 00:00+00'),
    (9101, 4, 'lead', '2025-02-05 00:00+00'), (9101, 5, 'mql', '2025-02-25 00:00+00'), (9101, 6, 'sql', '2025-03-10 00:00+00'),
    (9101, 7, 'won', '2025-04-01 00:00+00'),
    -- back from sql to mql and into sql again: the first entry of sql counts
    (9102, 1, 'mql', '2025-01-15 00:00+00'), (9102, 2, 'sql', '2025-02-01 00:00+00'), (9102, 3, 'mql', '2025-02-10 00:00+00'),
    (9102, 4, 'sql', '2025-03-20 00:00+00'), (9102, 5, 'opportunity', '2025-06-01 00:00+00'),
    -- skipped stages, across a month end
    (9103, 1, 'visitor', '2025-01-31 23:30+00'), (9103, 2, 'sql', '2025-02-01 00:30+00'), (9103, 3, 'won', '2025-02-14 00:00+00'),
    -- moves at the same moment, one of them back
    (9104, 1, 'lead', '2025-03-01 12:00+00'), (9104, 2, 'mql', '2025-03-01 12:00+00'), (9104, 3, 'sal', '2025-03-01 12:00+00'),
    (9104, 4, 'lead', '2025-03-01 12:00+00'),
    -- imported at mql, lost
    (9105, 1, 'mql', '2025-02-02 00:00+00'), (9105, 2, 'lost', '2025-02-20 00:00+00'),
    (9106, 1, 'visitor', '2025-01-05 00:00+00'), (9106, 2, 'lead', '2025-01-06 00:00+00'), (9106, 3, 'lost', '2025-01-07 00:00+00'),
    -- recycled and reopened: lead again, then mql
    (9107, 1, 'lead', '2025-01-01 00:00+00'), (9107, 2, 'recycled', '2025-01-15 00:00+00'), (9107, 3, 'lead', '2025-04-01 00:00+00'),
    (9107, 4, 'mql', '2025-04-15 00:00+00'),
    -- exactly 30 days, 60 days and a microsecond, exactly 90 days (in UTC)
    (9108, 1, 'mql', '2025-03-20 12:00+00'), (9108, 2, 'tal', '2025-04-19 12:00+00'), (9108, 3, 'tql', '2025-05-19 12:00:00.000001+00'),
    (9108, 4, 'sal', '2025-06-18 12:00+00'),
    -- across the change to summer time in Berlin: within 30 days there, not in UTC
    (9109, 1, 'mql', '2025-03-20 12:00+01'), (9109, 2, 'tal', '2025-04-19 11:30+02'), (9109, 3, 'sal', '2025-04-19 12:00:00.000001+02'),
    (9110, 1, 'mql', '2025-03-20 12:00+01'), (9110, 2, 'sql', '2025-04-19 12:00+02'),
    -- only closed: no entry at all
    (9111, 1, 'disqualified', '2025-01-09 00:00+00'),
    -- its superseded row 3 (won) is not part of the history
    (9112, 1, 'visitor', '2025-02-01 00:00+00'), (9112, 2, 'lead', '2025-02-02 00:00+00'), (9112, 3, 'opportunity', '2025-02-03 00:00+00');
INSERT INTO pl.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, recorded_at)
SELECT lead_id, 9100, seq, lag(to_stage) OVER w, to_stage, entered_at, lead(entered_at) OVER w, entered_at
  FROM awk WINDOW w AS (PARTITION BY lead_id ORDER BY seq);
INSERT INTO pl.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, recorded_at, superseded_at)
VALUES (9112, 9100, 3, 'lead', 'won', '2025-02-03 00:00+00', '2025-02-03 00:00+00', '2025-02-10 00:00+00');
INSERT INTO pl.lead (lead_id, account_id, funnel, amount, stage, max_stage, created_at, stage_entered_at, closed_at)
SELECT lead_id, 9100, 'awkward', 100 * (lead_id - 9100), (array_agg(to_stage ORDER BY seq DESC))[1],
       max(to_stage) FILTER (WHERE to_stage <= 'won'), min(entered_at), max(entered_at),
       CASE WHEN (array_agg(to_stage ORDER BY seq DESC))[1] >= 'won' THEN max(entered_at) END
  FROM awk GROUP BY lead_id;
-- the entries of each lead, by hand: first entry, next later stage, and the
-- later stages reached (k: within 30 / 60 / 90 days / ever)
CREATE FUNCTION pg_temp.reached(bits bigint) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s:%s%s%s%s', st, CASE WHEN bits & (1::bigint << (4 * (o - 1))::int) <> 0 THEN '3' ELSE '-' END,
                             CASE WHEN bits & (1::bigint << (4 * (o - 1) + 1)::int) <> 0 THEN '6' ELSE '-' END,
                             CASE WHEN bits & (1::bigint << (4 * (o - 1) + 2)::int) <> 0 THEN '9' ELSE '-' END,
                             CASE WHEN bits & (1::bigint << (4 * (o - 1) + 3)::int) <> 0 THEN 'e' ELSE '-' END), ' ' ORDER BY o)
      FROM unnest(enum_range(NULL::leadfunnel.lead_stage, 'won')) WITH ORDINALITY u(st, o)
     WHERE bits & (15::bigint << (4 * (o - 1))::int) <> 0 $$;
SELECT h.lead_id, e.stage, e.entered_at, e.next_at, pg_temp.reached(e.reached) AS reached
  FROM (SELECT lead_id, leadfunnel.lead_stage_entries(seq, to_stage, entered_at ORDER BY seq) AS entries
          FROM pl.lead_stage_history WHERE lead_id BETWEEN 9101 AND 9112 AND superseded_at IS NULL GROUP BY lead_id) h,
       unnest(h.entries) e
 ORDER BY 1, 2;
-- rows in any order give the same entries (the final function sorts them)
SELECT count(*) AS leads, count(*) FILTER (WHERE a IS DISTINCT FROM d) AS order_matters
  FROM (SELECT lead_id, leadfunnel.lead_stage_entries(seq, to_stage, entered_at ORDER BY seq) AS a,
               leadfunnel.lead_stage_entries(seq, to_stage, entered_at ORDER BY seq DESC) AS d
          FROM pl.lead_stage_history WHERE superseded_at IS NULL GROUP BY lead_id) x;
-- the views against the plain SQL, for this funnel and for all, in two time zones
CREATE FUNCTION pg_temp.entries_vs_plain(f text) RETURNS TABLE (waterfall_rows bigint, waterfall_differ bigint, cohort_rows bigint, cohort_differ bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM pl.waterfall WHERE funnel LIKE f),
           (SELECT count(*) FROM (SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM pl.waterfall WHERE funnel LIKE f
                                  EXCEPT SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM plain_waterfall WHERE funnel LIKE f) x)
         + (SELECT count(*) FROM (SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM plain_waterfall WHERE funnel LIKE f
                                  EXCEPT SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM pl.waterfall WHERE funnel LIKE f) x)
         + (SELECT count(*) FROM pl.waterfall w JOIN plain_waterfall p USING (funnel, period, stage)
             WHERE w.funnel LIKE f
               AND ((w.days_to_next_p50 IS NULL) <> (p.p50 IS NULL)
                    OR abs(w.days_to_next_p50 - p.p50) > 0.01 * p.p50 + 0.006
                    OR abs(w.days_to_next_p90 - p.p90) > 0.01 * p.p90 + 0.006)),
           (SELECT count(*) FROM pl.conversion_by_cohort WHERE funnel LIKE f),
           (SELECT count(*) FROM (SELECT * FROM pl.conversion_by_cohort WHERE funnel LIKE f EXCEPT SELECT * FROM plain_cohort WHERE funnel LIKE f) x)
         + (SELECT count(*) FROM (SELECT * FROM plain_cohort WHERE funnel LIKE f EXCEPT SELECT * FROM pl.conversion_by_cohort WHERE funnel LIKE f) x) $$;
SELECT 'UTC' AS tz, * FROM pg_temp.entries_vs_plain('awkward');
SELECT from_stage, to_stage, entered, within_30d, within_60d, within_90d, ever
  FROM pl.conversion_by_cohort WHERE funnel = 'awkward' AND cohort = '2025-03-01' AND from_stage = 'mql' ORDER BY 1, 2;
SET LOCAL TimeZone = 'Europe/Berlin';
SELECT 'Europe/Berlin' AS tz, * FROM pg_temp.entries_vs_plain('awkward');
SELECT from_stage, to_stage, entered, within_30d, within_60d, within_90d, ever
  FROM pl.conversion_by_cohort WHERE funnel = 'awkward' AND cohort = '2025-03-01' AND from_stage = 'mql' ORDER BY 1, 2;
SELECT 'Europe/Berlin, all funnels' AS tz, * FROM pg_temp.entries_vs_plain('%');
ROLLBACK;

-- ---------------------------------------------------------------------------
-- pipeline against plain SQL, with a probability of our own for mql
INSERT INTO leadfunnel.stage_forecast VALUES ('mql', 0.07, 'commit');
CREATE TEMP VIEW plain_pipeline AS
SELECT l.funnel, l.stage, NULL::text AS stage_label, coalesce(o.forecast_category, d.forecast_category) AS forecast_category,
       count(*) AS leads, sum(l.amount) AS amount, sum(l.amount * coalesce(o.probability, d.probability)) AS weighted_amount,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY now() - l.stage_entered_at) AS age_p50
  FROM pl.lead l
  JOIN leadfunnel.stage_forecast_default d ON d.stage = l.stage
  LEFT JOIN leadfunnel.stage_forecast o ON o.stage = l.stage
 WHERE l.stage < 'won'
 GROUP BY 1, 2, 3, 4;
SELECT (SELECT count(*) FROM pl.pipeline) AS rows,
       (SELECT count(*) FROM (SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM pl.pipeline
                              EXCEPT SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM plain_pipeline) x) AS only_view,
       (SELECT count(*) FROM (SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM plain_pipeline
                              EXCEPT SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM pl.pipeline) x) AS only_plain,
       (SELECT count(*) FROM pl.pipeline v JOIN plain_pipeline p USING (funnel, stage)
         WHERE abs(extract(epoch FROM v.age_in_stage_p50 - p.age_p50)) > 0.01 * extract(epoch FROM p.age_p50)) AS age_off;
SELECT funnel, stage, forecast_category, leads FROM pl.pipeline WHERE stage = 'mql' ORDER BY funnel;

-- pipeline_at(now()) is pipeline
SELECT (SELECT count(*) FROM (TABLE pl.pipeline EXCEPT SELECT * FROM pl.pipeline_at(now())) x) AS only_view,
       (SELECT count(*) FROM (SELECT * FROM pl.pipeline_at(now()) EXCEPT TABLE pl.pipeline) x) AS only_function;

-- stage labels: a lead with a label gets the label's probability and forecast
-- category (the canonical stage's probability where the label has none);
-- pipeline_at reads the label a lead had then from lead_label_history
BEGIN;
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability, forecast_category) VALUES
    ('self_serve', 'Trial', 'lead', 1, 0.3, 'best_case'),
    ('self_serve', 'Nurture', 'lead', 2, NULL, 'pipeline');
UPDATE pl.lead SET stage_label = CASE WHEN lead_id % 2 = 0 THEN 'Nurture' ELSE 'Trial' END
 WHERE funnel = 'self_serve' AND stage = 'lead';
SELECT funnel, stage, stage_label, forecast_category, leads FROM pl.pipeline WHERE funnel = 'self_serve' ORDER BY 1, 2, 3;
WITH plain AS (
    SELECT l.funnel, l.stage, l.stage_label, coalesce(sl.forecast_category, o.forecast_category, d.forecast_category) AS forecast_category,
           count(*) AS leads, sum(l.amount) AS amount,
           sum(l.amount * coalesce(sl.probability, o.probability, d.probability)) AS weighted_amount
      FROM pl.lead l
      JOIN leadfunnel.stage_forecast_default d ON d.stage = l.stage
      LEFT JOIN leadfunnel.stage_forecast o ON o.stage = l.stage
      LEFT JOIN leadfunnel.stage_label sl ON sl.funnel = l.funnel AND sl.label = l.stage_label
     WHERE l.stage < 'won'
     GROUP BY 1, 2, 3, 4
), v AS (SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM pl.pipeline)
SELECT (SELECT count(*) FROM (TABLE v EXCEPT TABLE plain) x) AS only_view,
       (SELECT count(*) FROM (TABLE plain EXCEPT TABLE v) x) AS only_plain,
       (SELECT count(*) FROM (TABLE pl.pipeline EXCEPT SELECT * FROM pl.pipeline_at(now())) x)
     + (SELECT count(*) FROM (SELECT * FROM pl.pipeline_at(now()) EXCEPT TABLE pl.pipeline) x) AS at_now_differs,
       (SELECT count(*) FROM pl.pipeline_at(now() - interval '1 hour') WHERE stage_label IS NOT NULL) AS labelled_before;
ROLLBACK;

-- pipeline_at(t) against plain SQL from the history alone at 40 moments: the
-- history row open at t; the amount then is the new amount of the lead's last
-- change at or before t, else the old amount of its first change, else its amount
CREATE TEMP TABLE moments AS
SELECT '2024-01-15'::timestamptz + make_interval(hours => (i * 7919 % (24 * 720))) AS t FROM generate_series(1, 40) i;
CREATE FUNCTION pg_temp.plain_pipeline_at(t timestamptz)
RETURNS TABLE (funnel text, stage leadfunnel.lead_stage, leads bigint, amount numeric, weighted_amount numeric, age interval)
LANGUAGE sql AS $$
    SELECT l.funnel, h.to_stage, count(*),
           sum(CASE WHEN b.found THEN b.new_amount_then WHEN a.lead_id IS NOT NULL THEN a.old_amount ELSE l.amount END),
           sum(CASE WHEN b.found THEN b.new_amount_then WHEN a.lead_id IS NOT NULL THEN a.old_amount ELSE l.amount END
               * coalesce(o.probability, d.probability)),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY t - h.entered_at)
      FROM cur_hist h
      JOIN pl.lead l USING (account_id, lead_id)
      JOIN leadfunnel.stage_forecast_default d ON d.stage = h.to_stage
      LEFT JOIN leadfunnel.stage_forecast o ON o.stage = h.to_stage
      LEFT JOIN LATERAL (SELECT v.new_amount AS new_amount_then, true AS found FROM pl.lead_value_history v
                          WHERE v.account_id = h.account_id AND v.lead_id = h.lead_id AND v.changed_at <= t
                          ORDER BY v.changed_at DESC, v.recorded_at DESC LIMIT 1) b ON true
      LEFT JOIN LATERAL (SELECT v.lead_id, v.old_amount FROM pl.lead_value_history v
                          WHERE v.account_id = h.account_id AND v.lead_id = h.lead_id
                          ORDER BY v.changed_at, v.recorded_at LIMIT 1) a ON b.found IS NULL
     WHERE h.to_stage < 'won' AND h.entered_at <= t AND (h.left_at IS NULL OR h.left_at > t)
     GROUP BY 1, 2
$$;
SELECT count(*) AS moments,
       sum((SELECT count(*) FROM (SELECT funnel, stage, leads, amount, weighted_amount FROM pl.pipeline_at(m.t)
                                  EXCEPT SELECT funnel, stage, leads, amount, weighted_amount FROM pg_temp.plain_pipeline_at(m.t)) x)) AS only_function,
       sum((SELECT count(*) FROM (SELECT funnel, stage, leads, amount, weighted_amount FROM pg_temp.plain_pipeline_at(m.t)
                                  EXCEPT SELECT funnel, stage, leads, amount, weighted_amount FROM pl.pipeline_at(m.t)) x)) AS only_plain,
       sum((SELECT count(*) FROM pl.pipeline_at(m.t) f JOIN pg_temp.plain_pipeline_at(m.t) p USING (funnel, stage)
             WHERE abs(extract(epoch FROM f.age_in_stage_p50 - p.age)) > 0.01 * extract(epoch FROM p.age))) AS age_off,
       sum((SELECT count(*) FROM pl.pipeline_at(m.t))) AS rows_compared
  FROM moments m;
-- the same at 20 moments at which a lead enters a stage (the row entered
-- then is the one open then: pipeline_at takes the last row entered by then)
SELECT count(*) AS entry_moments,
       sum((SELECT count(*) FROM (SELECT funnel, stage, leads, amount, weighted_amount FROM pl.pipeline_at(m.t)
                                  EXCEPT SELECT funnel, stage, leads, amount, weighted_amount FROM pg_temp.plain_pipeline_at(m.t)) x)) AS only_function,
       sum((SELECT count(*) FROM (SELECT funnel, stage, leads, amount, weighted_amount FROM pg_temp.plain_pipeline_at(m.t)
                                  EXCEPT SELECT funnel, stage, leads, amount, weighted_amount FROM pl.pipeline_at(m.t)) x)) AS only_plain
  FROM (SELECT DISTINCT entered_at AS t FROM pl.lead_stage_history WHERE superseded_at IS NULL AND seq > 1
         ORDER BY 1 LIMIT 20 OFFSET 100) m;
-- pipeline_at and pipeline_movement run without JIT (its compilation cost
-- more than the query); the lookup of the stage then has its index
SELECT proname, proconfig FROM pg_proc
 WHERE pronamespace = 'pl'::regnamespace AND proname IN ('pipeline_at', 'pipeline_movement') ORDER BY 1;
SELECT pg_get_indexdef('pl.lead_stage_history_lead_entered'::regclass);

-- pipeline_at(t) equals pipeline computed on a copy of the data rolled back
-- to t (the plan replayed up to t into another model): the same rows; and
-- the copy's pipeline_at(t) is the same function result
CREATE FUNCTION pg_temp.rolled_back(t timestamptz) RETURNS TABLE (only_at bigint, only_copy bigint, at_differs bigint, rows bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL client_min_messages = warning;
    DROP SCHEMA IF EXISTS plb CASCADE;
    PERFORM leadfunnel.create_model('plb');
    PERFORM pg_temp.replay('plb', t);
    RETURN QUERY
    SELECT (SELECT count(*) FROM (SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM pl.pipeline_at(t)
                                  EXCEPT SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM plb.pipeline) x),
           (SELECT count(*) FROM (SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM plb.pipeline
                                  EXCEPT SELECT funnel, stage, stage_label, forecast_category, leads, amount, weighted_amount FROM pl.pipeline_at(t)) x),
           (SELECT count(*) FROM (SELECT * FROM pl.pipeline_at(t) EXCEPT SELECT * FROM plb.pipeline_at(t)) x)
         + (SELECT count(*) FROM (SELECT * FROM plb.pipeline_at(t) EXCEPT SELECT * FROM pl.pipeline_at(t)) x),
           (SELECT count(*) FROM plb.pipeline);
END $$;
SELECT t, r.* FROM unnest(ARRAY['2024-06-30 12:00+00', '2025-03-01 00:00+00', '2025-11-15 08:30+00']::timestamptz[]) t,
       pg_temp.rolled_back(t) r;
SET client_min_messages = warning;
DROP SCHEMA plb CASCADE;
RESET client_min_messages;

-- ---------------------------------------------------------------------------
-- pipeline_movement: the identities on 300 random windows, per funnel:
-- start + created - won - lost = end (leads), start + every change = end
-- (amount); start and end are pipeline_at's totals; created, won and lost
-- are the history's openings and closes in the window
CREATE TEMP TABLE windows AS
SELECT least(a, b) AS from_at, greatest(a, b) AS to_at
  FROM (SELECT '2024-01-01'::timestamptz + make_interval(secs => floor(random() * 86400 * 760)) AS a,
               '2024-01-01'::timestamptz + make_interval(secs => floor(random() * 86400 * 760)) AS b
          FROM generate_series(1, 297)) w
UNION ALL SELECT '2025-01-01', '2025-01-01'
UNION ALL SELECT '2024-03-01', now()
UNION ALL SELECT '-infinity', now();
CREATE TEMP TABLE movement AS
SELECT w.from_at, w.to_at, m.* FROM windows w, pl.pipeline_movement(w.from_at, w.to_at) m;
SELECT count(DISTINCT (from_at, to_at)) AS windows, count(*) AS rows,
       count(*) FILTER (WHERE movement = 'start') AS funnel_windows
  FROM movement;
WITH p AS (
    SELECT from_at, to_at, funnel,
           sum(leads) FILTER (WHERE movement = 'start') AS s_n, sum(amount) FILTER (WHERE movement = 'start') AS s_a,
           sum(leads) FILTER (WHERE movement = 'created') AS c_n,
           sum(leads) FILTER (WHERE movement = 'won') AS w_n, sum(leads) FILTER (WHERE movement = 'lost') AS l_n,
           sum(leads) FILTER (WHERE movement = 'end') AS e_n, sum(amount) FILTER (WHERE movement = 'end') AS e_a,
           sum(amount) FILTER (WHERE movement NOT IN ('start', 'end')) AS changes,
           count(*) AS movements,
           bool_and(amount = 0) FILTER (WHERE movement IN ('advanced', 'moved_back', 'pulled_in', 'pushed_out')) AS no_amount,
           bool_and(amount >= 0) FILTER (WHERE movement IN ('created', 'amount_up'))
             AND bool_and(amount <= 0) FILTER (WHERE movement IN ('won', 'lost', 'amount_down')) AS signs
      FROM movement GROUP BY 1, 2, 3
)
SELECT count(*) AS funnel_windows,
       count(*) FILTER (WHERE p.s_n + p.c_n - p.w_n - p.l_n <> p.e_n) AS leads_identity_broken,
       count(*) FILTER (WHERE p.s_a + p.changes <> p.e_a) AS amount_identity_broken,
       count(*) FILTER (WHERE p.movements <> 11 OR NOT p.no_amount OR NOT p.signs) AS bad_shape,
       count(*) FILTER (WHERE p.s_n <> a0.leads OR p.s_a <> a0.amount) AS start_not_pipeline_at,
       count(*) FILTER (WHERE p.e_n <> a1.leads OR p.e_a <> a1.amount) AS end_not_pipeline_at,
       count(*) FILTER (WHERE p.c_n <> ev.c_n OR p.w_n <> ev.w_n OR p.l_n <> ev.l_n) AS events_differ,
       count(*) FILTER (WHERE p.c_n + p.w_n + p.l_n > 0) AS with_events,
       count(*) FILTER (WHERE p.s_n > 0 AND p.e_n > 0) AS open_at_both_ends
  FROM p
 CROSS JOIN LATERAL (SELECT coalesce(sum(a.leads), 0) AS leads, coalesce(sum(a.amount), 0) AS amount
                       FROM pl.pipeline_at(p.from_at) a WHERE a.funnel = p.funnel) a0
 CROSS JOIN LATERAL (SELECT coalesce(sum(a.leads), 0) AS leads, coalesce(sum(a.amount), 0) AS amount
                       FROM pl.pipeline_at(p.to_at) a WHERE a.funnel = p.funnel) a1
 CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE h.to_stage < 'won' AND (h.from_stage IS NULL OR h.from_stage > 'won')) AS c_n,
                            count(*) FILTER (WHERE h.to_stage = 'won' AND h.from_stage < 'won') AS w_n,
                            count(*) FILTER (WHERE h.to_stage > 'won' AND h.from_stage < 'won') AS l_n
                       FROM cur_hist h JOIN pl.lead l USING (account_id, lead_id)
                      WHERE l.funnel = p.funnel AND h.entered_at > p.from_at AND h.entered_at <= p.to_at) ev;
-- advanced, moved back, pulled in, pushed out: the leads open at both ends,
-- by their stage (history) and expected close date (value history) then
CREATE FUNCTION pg_temp.close_date_at(a bigint, l bigint, t timestamptz) RETURNS date LANGUAGE sql AS $$
    SELECT coalesce((SELECT v.old_expected_close_date FROM pl.lead_value_history v
                      WHERE v.account_id = a AND v.lead_id = l AND v.changed_at > t
                      ORDER BY v.changed_at, v.recorded_at LIMIT 1),
                    (SELECT expected_close_date FROM pl.lead WHERE account_id = a AND lead_id = l
                        AND NOT EXISTS (SELECT 1 FROM pl.lead_value_history v
                                         WHERE v.account_id = a AND v.lead_id = l AND v.changed_at > t)))
$$;
WITH w AS (SELECT * FROM windows ORDER BY from_at LIMIT 60),
both_ends AS (
    SELECT w.from_at, w.to_at, l.funnel, s.to_stage AS s_stage, e.to_stage AS e_stage,
           pg_temp.close_date_at(l.account_id, l.lead_id, w.from_at) AS s_close,
           pg_temp.close_date_at(l.account_id, l.lead_id, w.to_at) AS e_close
      FROM w CROSS JOIN pl.lead l
      JOIN cur_hist s ON s.account_id = l.account_id AND s.lead_id = l.lead_id AND s.to_stage < 'won'
                                  AND s.entered_at <= w.from_at AND (s.left_at IS NULL OR s.left_at > w.from_at)
      JOIN cur_hist e ON e.account_id = l.account_id AND e.lead_id = l.lead_id AND e.to_stage < 'won'
                                  AND e.entered_at <= w.to_at AND (e.left_at IS NULL OR e.left_at > w.to_at)
), plain AS (
    SELECT from_at, to_at, funnel, m.movement, count(*) FILTER (WHERE CASE m.movement
               WHEN 'advanced' THEN e_stage > s_stage WHEN 'moved_back' THEN e_stage < s_stage
               WHEN 'pulled_in' THEN e_close < s_close ELSE e_close > s_close END) AS leads
      FROM both_ends CROSS JOIN unnest(ARRAY['advanced', 'moved_back', 'pulled_in', 'pushed_out']) m(movement)
     GROUP BY 1, 2, 3, 4
)
SELECT count(*) AS compared,
       count(*) FILTER (WHERE p.leads IS DISTINCT FROM m.leads) AS differ,
       count(*) FILTER (WHERE p.leads > 0) AS nonzero
  FROM plain p JOIN movement m USING (from_at, to_at, funnel, movement);
-- one window by hand: a lead created, changed and won inside it
BEGIN;
INSERT INTO leadfunnel.funnel (name, stages, entry_stages, allow_skip, description)
VALUES ('hand', '{lead,mql,won}', NULL, false, 'test');
INSERT INTO pl.account (account_id) VALUES (9002);
INSERT INTO pl.lead (lead_id, account_id, funnel, stage, created_at, amount, expected_close_date) VALUES
    (9002, 9002, 'hand', 'lead', '2025-01-01', 1000, '2025-06-30'),
    (9003, 9002, 'hand', 'lead', '2025-01-01', 500, '2025-06-30'),
    (9004, 9002, 'hand', 'lead', '2025-02-10', 300, '2025-06-30');
UPDATE pl.lead SET stage = 'mql', stage_entered_at = '2025-02-12', amount = 320 WHERE lead_id = 9004;
UPDATE pl.lead SET stage = 'mql', stage_entered_at = '2025-02-01', amount = 1200, expected_close_date = '2025-07-31' WHERE lead_id = 9002;
UPDATE pl.lead SET stage = 'mql', stage_entered_at = '2025-02-05', amount = 400, expected_close_date = '2025-05-31' WHERE lead_id = 9003;
UPDATE pl.lead SET stage = 'won', stage_entered_at = '2025-02-20', amount = 350 WHERE lead_id = 9004;
UPDATE pl.lead SET stage = 'lost', stage_entered_at = '2025-02-25' WHERE lead_id = 9003;
SELECT movement, leads, amount FROM pl.pipeline_movement('2025-01-15', '2025-03-01') WHERE funnel = 'hand';
SELECT movement, leads, amount FROM pl.pipeline_movement('2025-01-15', '2025-02-15') WHERE funnel = 'hand';
ROLLBACK;
SELECT try($$SELECT * FROM pl.pipeline_movement('2025-02-01', '2025-01-01')$$);
SELECT count(*) AS no_rows FROM pl.pipeline_movement(NULL, now());

-- ---------------------------------------------------------------------------
-- time_to_convert: every lead that converted is in exactly one bucket; the
-- counts are those of plain SQL over the same bounds; bounds increase
CREATE TEMP TABLE ttc AS SELECT * FROM pl.time_to_convert('lead', 'mql');
SELECT funnel, count(*) AS buckets, sum(leads) AS leads, sum(share) AS share,
       bool_and(lower_bound < upper_bound) AS increasing,
       min(leads) > 0 AS none_empty
  FROM ttc GROUP BY funnel ORDER BY funnel;
WITH fe AS (
    SELECT DISTINCT ON (h.account_id, h.lead_id) h.account_id, h.lead_id, h.seq, h.entered_at
      FROM cur_hist h WHERE h.to_stage = 'lead' ORDER BY h.account_id, h.lead_id, h.seq
), d AS (
    SELECT l.funnel, (SELECT min(h2.entered_at) FROM cur_hist h2
                       WHERE h2.account_id = fe.account_id AND h2.lead_id = fe.lead_id AND h2.seq > fe.seq
                         AND h2.to_stage BETWEEN 'mql' AND 'won') - fe.entered_at AS duration
      FROM fe JOIN pl.lead l USING (account_id, lead_id)
)
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE t.leads <> (SELECT count(*) FROM d WHERE d.funnel = t.funnel AND d.duration >= t.lower_bound
                                            AND (d.duration < t.upper_bound
                                                 OR (t.bucket = (SELECT max(bucket) FROM ttc x WHERE x.funnel = t.funnel)
                                                     AND d.duration = t.upper_bound)))) AS counts_differ,
       (SELECT count(*) FROM d WHERE duration IS NOT NULL) = (SELECT sum(leads) FROM ttc) AS all_converted_counted
  FROM ttc t;
SELECT funnel, bucket, leads FROM pl.time_to_convert('mql', 'won', 3) ORDER BY funnel, bucket;
SELECT try($$SELECT * FROM pl.time_to_convert('mql', 'lead')$$);
SELECT try($$SELECT * FROM pl.time_to_convert('lead', 'lost')$$);
SELECT try($$SELECT * FROM pl.time_to_convert('lead', 'mql', 0)$$);

-- pipeline_at looks up the stage then only for leads created by then: a
-- lead's history starts at its created_at or later, which the triggers keep
-- and verify_model() checks (here broken behind the triggers' back)
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE pl.lead SET created_at = created_at + interval '1 day' WHERE lead_id = (SELECT min(lead_id) FROM pl.lead);
SET LOCAL session_replication_role = origin;
SELECT lead_id = (SELECT min(lead_id) FROM pl.lead) AS that_lead, problem FROM leadfunnel.verify_model('pl');
ROLLBACK;
SELECT count(*) AS problems FROM leadfunnel.verify_model('pl');

-- model_add_pipeline is idempotent: a second run changes nothing
SELECT leadfunnel.model_add_pipeline('pl');
SELECT count(*) AS value_rows FROM pl.lead_value_history;
DELETE FROM leadfunnel.stage_forecast;
SET client_min_messages = warning;
DROP SCHEMA pl CASCADE;
RESET client_min_messages;
