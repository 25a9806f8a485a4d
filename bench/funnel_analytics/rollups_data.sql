-- Benchmark data for bench/funnel_analytics/rollups.sh, written set-based into a model 'b' with
-- the triggers off (session_replication_role = replica), shaped as the trigger writes it: the
-- paths of bench/funnel_analytics/pipeline.sh (each funnel's stages, some leads starting at lead,
-- 60 % of the short paths closed), 60 campaigns (each lead's source campaign), and the touches of
-- bench/attribution/data.sql (1..7 lead-level touches per lead, 0..3 account-level per account).
-- psql variable: leads.  Deterministic up to now() (setseed).
SET TimeZone = 'UTC';
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('b');
SET session_replication_role = replica;
SELECT setseed(0.42);
INSERT INTO b.campaign (campaign_id, name, channel, product_area, region, cost)
SELECT g, 'campaign ' || g, (ARRAY['webinar', 'paid_search', 'event', 'content', 'outbound', 'partner'])[1 + g % 6],
       (ARRAY['analytics', 'platform', 'security'])[1 + g % 3], (ARRAY['AMER', 'APAC', 'EMEA'])[1 + g % 3], 1000 * g
  FROM generate_series(1, 60) g;
INSERT INTO b.account (account_id, region) SELECT g, (ARRAY['AMER', 'APAC', 'EMEA'])[1 + g % 3] FROM generate_series(0, :leads / 3) g;
CREATE TEMP TABLE p AS
SELECT g::bigint AS lead_id, (g / 3)::bigint AS account_id, f.name AS funnel, f.stages,
       now() - make_interval(hours => floor(random() * 24 * 540)::int) AS created_at,
       1 + floor(random() * cardinality(f.stages))::int AS k,
       (random() < 0.4)::int AS skip_visitor,
       random() < 0.6 AS closes, random() AS r,
       round((1000 + random() * 99000)::numeric) AS amount
  FROM generate_series(1, :leads) g
  JOIN leadfunnel.funnel f ON f.name = (ARRAY['enterprise', 'inside_sales', 'self_serve'])[1 + g % 3];
CREATE TEMP TABLE h AS
SELECT p.lead_id, p.account_id, s.seq,
       CASE WHEN s.seq <= p.k - p.skip_visitor THEN p.stages[s.seq + p.skip_visitor]
            ELSE (ARRAY['lost', 'recycled', 'disqualified']::leadfunnel.lead_stage[])[1 + floor(p.r * 3)::int] END AS to_stage,
       least(p.created_at + make_interval(days => 12 * (s.seq - 1), secs => floor(random() * 86400 * 6)), now()) AS entered_at
  FROM p, generate_series(1, p.k - p.skip_visitor
                             + CASE WHEN p.closes AND p.k < cardinality(p.stages) THEN 1 ELSE 0 END) s(seq)
 WHERE p.k - p.skip_visitor >= 1;
INSERT INTO b.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, recorded_at)
SELECT lead_id, account_id, seq, lag(to_stage) OVER w, to_stage, entered_at, lead(entered_at) OVER w, entered_at
  FROM (SELECT lead_id, account_id, seq, to_stage,
               max(entered_at) OVER (PARTITION BY lead_id ORDER BY seq) AS entered_at FROM h) h
WINDOW w AS (PARTITION BY lead_id ORDER BY seq);
INSERT INTO b.lead (lead_id, account_id, funnel, amount, source_campaign_id, region, stage, max_stage, created_at, stage_entered_at, closed_at)
SELECT p.lead_id, p.account_id, p.funnel, p.amount, 1 + p.lead_id % 60, (ARRAY['AMER', 'APAC', 'EMEA'])[1 + p.account_id % 3],
       c.to_stage, c.max_stage, c.first_at, c.entered_at, CASE WHEN c.to_stage >= 'won' THEN c.entered_at END
  FROM p
  JOIN (SELECT lead_id, (array_agg(to_stage ORDER BY seq DESC))[1] AS to_stage, max(entered_at) AS entered_at,
               min(entered_at) AS first_at, max(to_stage) FILTER (WHERE to_stage <= 'won') AS max_stage
          FROM b.lead_stage_history GROUP BY lead_id) c ON c.lead_id = p.lead_id;
INSERT INTO b.touch (touch_id, campaign_id, account_id, lead_id, touched_at)
SELECT row_number() OVER (), 1 + floor(random() * 60)::int, l.account_id, l.lead_id,
       l.created_at - interval '120 days' + random() * (coalesce(l.closed_at, now()) - l.created_at + interval '150 days')
  FROM b.lead l, LATERAL generate_series(1, 1 + floor(random() * 7)::int + 0 * l.lead_id) k;
INSERT INTO b.touch (touch_id, campaign_id, account_id, touched_at)
SELECT (SELECT max(touch_id) FROM b.touch) + row_number() OVER (), 1 + floor(random() * 60)::int, a.account_id,
       now() - random() * interval '720 days'
  FROM b.account a, LATERAL generate_series(1, floor(random() * 4)::int + 0 * a.account_id) k;
RESET session_replication_role;
VACUUM FREEZE ANALYZE;
