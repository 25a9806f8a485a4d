-- The report `make demo` prints, read from the model's documented views only,
-- as a BI tool would: the funnel with a bar, cycle times, drop-off, top
-- campaigns by sourced and touched pipeline, attribution, account lifecycle.
\pset footer off
\pset null '-'
\echo
\echo '== The funnel: leads that reached each stage (demo.funnel_summary) =='
SELECT funnel, stage, reached,
       to_char(100 * conversion_from_previous, '990.0') AS "conv %",
       to_char(100 * conversion_from_top, '990.0') AS "of top %",
       repeat('█', round(40 * conversion_from_top)::int) AS bar
  FROM demo.funnel_summary;

\echo '== Cycle times in days (demo.cycle_times) =='
SELECT funnel, measure, coalesce(stage::text, '') AS stage, n,
       round(extract(epoch FROM mean) / 86400, 1) AS mean,
       round(extract(epoch FROM p50) / 86400, 1) AS p50,
       round(extract(epoch FROM p90) / 86400, 1) AS p90,
       round(extract(epoch FROM p95) / 86400, 1) AS p95,
       round(extract(epoch FROM max) / 86400, 1) AS max
  FROM demo.cycle_times
 WHERE measure <> 'time_in_stage' OR funnel = 'enterprise'
 ORDER BY funnel, array_position(ARRAY['lead_duration', 'time_to_conversion', 'time_in_stage'], measure), cycle_times.stage;

\echo '== Where leads drop out (demo.dropoff, top 3 per funnel) =='
SELECT funnel, last_open_stage, outcome, leads, to_char(100 * share, '990.0') AS "share %"
  FROM (SELECT d.*, row_number() OVER (PARTITION BY funnel ORDER BY leads DESC, last_open_stage, outcome) AS rank
          FROM demo.dropoff d) t
 WHERE rank <= 3
 ORDER BY funnel, rank;

\echo '== Top campaigns by touched pipeline (demo.campaign_pipeline) =='
SELECT c.name AS campaign, p.sourced_leads, p.touched_leads,
       to_char(p.sourced_pipeline, 'FM999,999,999') AS sourced_pipeline,
       to_char(p.touched_pipeline, 'FM999,999,999') AS touched_pipeline,
       to_char(p.touched_won, 'FM999,999,999') AS touched_won
  FROM demo.campaign_pipeline p JOIN demo.campaign c USING (campaign_id)
 ORDER BY p.touched_pipeline DESC NULLS LAST, p.campaign_id
 LIMIT 8;

\echo '== Won amount credited to channels, per attribution model (demo.campaign_attribution) =='
SELECT c.channel,
       to_char(sum(a.attributed_won) FILTER (WHERE a.model = 'first_touch'), 'FM999,999,999') AS first_touch,
       to_char(sum(a.attributed_won) FILTER (WHERE a.model = 'last_touch'), 'FM999,999,999') AS last_touch,
       to_char(sum(a.attributed_won) FILTER (WHERE a.model = 'linear'), 'FM999,999,999') AS linear,
       to_char(sum(a.attributed_won) FILTER (WHERE a.model = 'w_shaped'), 'FM999,999,999') AS w_shaped,
       to_char(sum(a.attributed_won) FILTER (WHERE a.model = 'time_decay'), 'FM999,999,999') AS time_decay
  FROM demo.campaign_attribution a JOIN demo.campaign c USING (campaign_id)
 GROUP BY c.channel ORDER BY c.channel;

\echo '== New leads by motion: new business, expansion, win-back (demo.lead) =='
SELECT funnel, count(*) FILTER (WHERE motion = 'new_business') AS new_business,
       count(*) FILTER (WHERE motion = 'expansion') AS expansion,
       count(*) FILTER (WHERE motion = 'win_back') AS win_back
  FROM demo.lead GROUP BY funnel ORDER BY funnel;

\echo '== Accounts by lifecycle status now (demo.account_lifecycle) =='
SELECT status, count(*) AS accounts, sum(open_leads) AS open_leads, sum(won_leads) AS won_leads,
       sum(closed_lost_leads) AS closed_lost_leads
  FROM demo.account_lifecycle GROUP BY status ORDER BY status;

\echo '== Model consistency (leadfunnel.verify_model): violations =='
SELECT count(*) AS violations FROM leadfunnel.verify_model('demo');
