-- Benchmark data for bench/attribution/datadriven.sh: one row per lead with its
-- touch path as arrays (times in order, touch ids, campaigns, their channels),
-- milestones, outcome and amounts, generated directly with SQL (no model, no
-- triggers).  1..8 touches per lead (4.5 on average), 60 campaigns over 12
-- channels, 20 % won, 45 % reached opportunity.  psql variable: leads.
SELECT setseed(0.23);
CREATE TABLE paths AS
SELECT l.lead_id, t.touched_at, t.touch_id, t.campaign_id, t.channels,
       l.created_at, CASE WHEN l.r_opp < 0.45 THEN l.created_at + interval '20 days' END AS opportunity_at,
       CASE WHEN l.r_won < 0.2 OR l.r_won > 0.6 THEN l.created_at + interval '60 days' END AS closed_at,
       l.r_won < 0.2 AS won, l.r_opp < 0.45 OR l.r_won < 0.2 AS pipeline, l.amount,
       CASE WHEN l.r_opp < 0.45 OR l.r_won < 0.2 THEN l.amount::float8 END AS pipeline_amount,
       CASE WHEN l.r_won < 0.2 THEN l.amount::float8 END AS won_amount
  FROM (SELECT g AS lead_id, timestamptz '2025-01-01' + random() * interval '300 days' AS created_at,
               random() AS r_opp, random() AS r_won, round(1000 + random() * 100000)::numeric AS amount,
               1 + floor(random() * 8)::int AS n
          FROM generate_series(1, :leads) g) l
 CROSS JOIN LATERAL (
        SELECT array_agg(x.ts ORDER BY x.ts, x.k) AS touched_at, array_agg(l.lead_id * 10 + x.k ORDER BY x.ts, x.k) AS touch_id,
               array_agg(x.cid ORDER BY x.ts, x.k) AS campaign_id, array_agg('channel ' || (x.cid % 12) ORDER BY x.ts, x.k) AS channels
          FROM (SELECT k, l.created_at - interval '60 days' + random() * interval '110 days' AS ts,
                       1 + floor(random() * 60)::bigint AS cid
                  FROM generate_series(1, l.n) k) x) t;
VACUUM ANALYZE paths;
