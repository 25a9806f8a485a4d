-- The funnel views of a model: hand-checked on a few leads (a recycled lead that is
-- reopened and closes again included), then equal to independent plain SQL on
-- generated data, comments on every view and column, security_invoker.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('views_small');
INSERT INTO views_small.account (account_id, name, region) VALUES (1, 'Acme', 'EMEA');
INSERT INTO views_small.lead (lead_id, account_id, funnel, region, created_at, stage) VALUES
    (1, 1, 'enterprise', 'EMEA', '2025-01-01', 'lead'),
    (2, 1, 'enterprise', 'EMEA', '2025-01-01', 'lead'),
    (3, 1, 'enterprise', 'EMEA', '2025-02-01', 'visitor'),
    (4, 1, 'self_serve', 'AMER', '2025-01-15', 'lead');
-- lead 1: lead -> mql -> recycled -> (reopened) lead -> mql -> tal -> lost
UPDATE views_small.lead SET stage = 'mql', stage_entered_at = '2025-01-05' WHERE lead_id = 1;
UPDATE views_small.lead SET stage = 'recycled', stage_entered_at = '2025-01-10' WHERE lead_id = 1;
UPDATE views_small.lead SET stage = 'lead', stage_entered_at = '2025-02-01' WHERE lead_id = 1;
UPDATE views_small.lead SET stage = 'mql', stage_entered_at = '2025-02-05' WHERE lead_id = 1;
UPDATE views_small.lead SET stage = 'tal', stage_entered_at = '2025-02-10' WHERE lead_id = 1;
UPDATE views_small.lead SET stage = 'lost', stage_entered_at = '2025-02-20' WHERE lead_id = 1;
-- lead 2 is disqualified in lead; lead 3 stays a visitor; lead 4 buys after two days in mql
UPDATE views_small.lead SET stage = 'disqualified', stage_entered_at = '2025-01-03' WHERE lead_id = 2;
UPDATE views_small.lead SET stage = 'mql', stage_entered_at = '2025-01-16' WHERE lead_id = 4;
UPDATE views_small.lead SET stage = 'won', stage_entered_at = '2025-01-18' WHERE lead_id = 4;
SELECT * FROM views_small.funnel_summary;
SELECT * FROM views_small.conversion_by_segment;
SELECT * FROM views_small.cycle_times;
SELECT * FROM views_small.dropoff;
-- running it again (as an upgrade would) keeps the views
SELECT leadfunnel.model_add_analytics('views_small');
SELECT try($$SELECT leadfunnel.model_add_analytics('nosuch')$$);

-- every view and column commented, security_invoker set, contract columns in order
SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL AS commented,
       c.reloptions @> '{security_invoker=true}' AS security_invoker,
       string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns,
       count(*) FILTER (WHERE col_description(c.oid, a.attnum) IS NULL) AS uncommented_columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'views_small'::regnamespace AND c.relkind = 'v'
 GROUP BY c.oid, c.relname ORDER BY c.relname;

-- generated data: each view equals independent plain SQL (EXCEPT both ways)
SELECT leadfunnel.create_model('views_gen');
SELECT sum(rows_added) > 0 AS generated FROM leadfunnel.generate_demo('views_gen', 2500, 0.61);
-- a lead of a funnel that was dropped later still shows, with every stage
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('short_lived', '{lead,won}');
INSERT INTO views_gen.lead (lead_id, account_id, funnel, created_at) VALUES (999999, 1, 'short_lived', '2025-06-01');
DELETE FROM leadfunnel.funnel WHERE name = 'short_lived';

CREATE TEMP VIEW plain_funnel_summary AS
WITH r AS (
    SELECT l.funnel, s.stage, count(*) FILTER (WHERE l.max_stage >= s.stage) AS reached
      FROM views_gen.lead l
      LEFT JOIN leadfunnel.funnel f ON f.name = l.funnel
     CROSS JOIN LATERAL unnest(coalesce(f.stages, enum_range('visitor'::leadfunnel.lead_stage, 'won'))) s(stage)
     GROUP BY l.funnel, s.stage)
SELECT funnel, stage, reached,
       reached::numeric / nullif(lag(reached) OVER (PARTITION BY funnel ORDER BY stage), 0) AS conversion_from_previous,
       reached::numeric / nullif(first_value(reached) OVER (PARTITION BY funnel ORDER BY stage), 0) AS conversion_from_top,
       (SELECT count(DISTINCT (h.account_id, h.lead_id)) FROM views_gen.lead_stage_history h
          JOIN views_gen.lead l ON l.account_id = h.account_id AND l.lead_id = h.lead_id
         WHERE l.funnel = r.funnel AND h.to_stage = r.stage AND h.superseded_at IS NULL) AS entered
  FROM r;

CREATE TEMP VIEW plain_conversion_by_segment AS
WITH r AS (
    SELECT date_trunc('month', l.created_at)::date AS period, l.funnel, l.source_campaign_id AS campaign_id,
           l.product_area, l.region, s.stage, count(*) FILTER (WHERE l.max_stage >= s.stage) AS reached
      FROM views_gen.lead l
      LEFT JOIN leadfunnel.funnel f ON f.name = l.funnel
     CROSS JOIN LATERAL unnest(coalesce(f.stages, enum_range('visitor'::leadfunnel.lead_stage, 'won'))) s(stage)
     GROUP BY 1, 2, 3, 4, 5, 6)
SELECT period, funnel, campaign_id, product_area, region, stage, reached,
       reached::numeric / nullif(lag(reached) OVER (PARTITION BY period, funnel, campaign_id, product_area, region ORDER BY stage), 0)
  FROM r;

CREATE TEMP VIEW plain_cycle_times AS
WITH d AS (
    SELECT l.funnel, 'time_in_stage' AS measure, h.to_stage AS stage, h.left_at - h.entered_at AS dur
      FROM views_gen.lead_stage_history h JOIN views_gen.lead l USING (account_id, lead_id)
     WHERE h.left_at IS NOT NULL
    UNION ALL
    SELECT funnel, 'lead_duration', NULL, closed_at - created_at FROM views_gen.lead WHERE stage >= 'won'
    UNION ALL
    SELECT funnel, 'time_to_conversion', NULL, closed_at - created_at FROM views_gen.lead WHERE stage = 'won')
SELECT funnel, measure, stage, count(*) AS n,
       round(avg(extract(epoch FROM dur)) * 1000000) * interval '1 microsecond' AS mean,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY dur) AS p50,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY dur) AS p90,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY dur) AS p95,
       max(dur) AS max
  FROM d GROUP BY funnel, measure, stage;

CREATE TEMP VIEW plain_dropoff AS
WITH closed AS (
    SELECT l.funnel, l.stage AS outcome,
           (array_agg(h.to_stage ORDER BY h.seq DESC) FILTER (WHERE h.to_stage < 'won'))[1] AS last_open_stage
      FROM views_gen.lead l JOIN views_gen.lead_stage_history h USING (account_id, lead_id)
     WHERE l.stage IN ('recycled', 'disqualified', 'lost')
     GROUP BY l.account_id, l.lead_id, l.funnel, l.stage)
SELECT funnel, last_open_stage, outcome, count(*) AS leads,
       count(*)::numeric / sum(count(*)) OVER (PARTITION BY funnel) AS share
  FROM closed GROUP BY funnel, last_open_stage, outcome;

SELECT 'funnel_summary' AS view, (SELECT count(*) FROM views_gen.funnel_summary) AS view_rows,
       (SELECT count(*) FROM (SELECT * FROM views_gen.funnel_summary EXCEPT SELECT * FROM plain_funnel_summary) d) AS view_not_plain,
       (SELECT count(*) FROM (SELECT * FROM plain_funnel_summary EXCEPT SELECT * FROM views_gen.funnel_summary) d) AS plain_not_view
UNION ALL
SELECT 'conversion_by_segment', (SELECT count(*) FROM views_gen.conversion_by_segment),
       (SELECT count(*) FROM (SELECT * FROM views_gen.conversion_by_segment EXCEPT SELECT * FROM plain_conversion_by_segment) d),
       (SELECT count(*) FROM (SELECT * FROM plain_conversion_by_segment EXCEPT SELECT * FROM views_gen.conversion_by_segment) d)
UNION ALL
SELECT 'cycle_times (n, mean, max)', (SELECT count(*) FROM views_gen.cycle_times),
       (SELECT count(*) FROM (SELECT funnel, measure, stage, n, mean, max FROM views_gen.cycle_times
                              EXCEPT SELECT funnel, measure, stage, n, mean, max FROM plain_cycle_times) d),
       (SELECT count(*) FROM (SELECT funnel, measure, stage, n, mean, max FROM plain_cycle_times
                              EXCEPT SELECT funnel, measure, stage, n, mean, max FROM views_gen.cycle_times) d)
UNION ALL
SELECT 'dropoff', (SELECT count(*) FROM views_gen.dropoff),
       (SELECT count(*) FROM (SELECT * FROM views_gen.dropoff EXCEPT SELECT * FROM plain_dropoff) d),
       (SELECT count(*) FROM (SELECT * FROM plain_dropoff EXCEPT SELECT * FROM views_gen.dropoff) d);

-- cycle_times quantiles within 1 % of percentile_disc
SELECT count(*) AS quantiles_checked,
       count(*) FILTER (WHERE NOT (est = exact OR abs(extract(epoch FROM est) / nullif(extract(epoch FROM exact), 0) - 1) < 0.01)) AS off_by_1_percent_or_more
  FROM views_gen.cycle_times v JOIN plain_cycle_times p USING (funnel, measure, stage, n),
       LATERAL (VALUES (v.p50, p.p50), (v.p90, p.p90), (v.p95, p.p95)) q(est, exact);
-- what was generated: all measures, reopened leads, every outcome
SELECT (SELECT count(DISTINCT measure) FROM views_gen.cycle_times) AS measures,
       (SELECT count(DISTINCT outcome) FROM views_gen.dropoff) AS outcomes,
       (SELECT count(DISTINCT lead_id) FROM views_gen.lead_stage_history WHERE from_stage = 'recycled') > 0 AS has_reopened_leads,
       (SELECT count(*) FROM views_gen.funnel_summary WHERE funnel = 'short_lived') AS stages_of_dropped_funnel;
-- ratios in 0..1
SELECT bool_and(conversion_from_top BETWEEN 0 AND 1) AND bool_and(conversion_from_previous BETWEEN 0 AND 1) AS funnel_ratios_in_range
  FROM views_gen.funnel_summary;
SELECT funnel, round(sum(share), 12) AS total_share FROM views_gen.dropoff GROUP BY funnel ORDER BY funnel;

SET client_min_messages = warning;
DROP SCHEMA views_small, views_gen CASCADE;
RESET client_min_messages;
