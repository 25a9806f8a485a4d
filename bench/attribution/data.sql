-- Benchmark data for bench/attribution/run.sh, written set-based straight into
-- a model's tables (the triggers are bypassed: the history holds the rows the
-- views read).  psql variables: leads.  Deterministic (setseed).
SELECT setseed(0.17);
SELECT leadfunnel.create_model('bench');
ALTER TABLE bench.lead DISABLE TRIGGER USER;
ALTER TABLE bench.lead_stage_history DISABLE TRIGGER USER;

INSERT INTO bench.campaign (campaign_id, name, channel, product_area, region, cost)
SELECT g, 'campaign ' || g, (ARRAY['webinar', 'paid_search', 'event', 'content', 'outbound', 'partner'])[1 + g % 6],
       (ARRAY['analytics', 'platform', 'security'])[1 + g % 3], (ARRAY['AMER', 'APAC', 'EMEA'])[1 + g % 3], 1000 * g
  FROM generate_series(1, 60) g;
INSERT INTO bench.account (account_id, name, region, segment)
SELECT g, 'Company ' || g, (ARRAY['AMER', 'APAC', 'EMEA'])[1 + g % 3], 'mid-market'
  FROM generate_series(1, (:leads / 3)) g;

-- leads: 30 % open, 20 % won, 50 % closed not won; half of the closed and a
-- third of the open ones reached opportunity
CREATE TEMP TABLE plan AS
SELECT g AS lead_id, 1 + (g::bigint * 7919) % (:leads / 3) AS account_id,
       timestamptz '2024-06-01' + random() * interval '540 days' AS created_at,
       random() AS r_outcome, random() AS r_opp, 5 + random() * 60 AS opp_days, 10 + random() * 110 AS close_days,
       round(1000 + random() * 100000) AS amount, 1 + (g % 60) AS source_campaign_id
  FROM generate_series(1, :leads) g;
INSERT INTO bench.lead (lead_id, account_id, funnel, source_campaign_id, amount, stage, max_stage, created_at,
                        stage_entered_at, closed_at)
SELECT lead_id, account_id, 'enterprise', source_campaign_id, amount,
       CASE WHEN r_outcome < 0.3 THEN (CASE WHEN r_opp < 0.33 THEN 'opportunity' ELSE 'mql' END)
            WHEN r_outcome < 0.5 THEN 'won' ELSE 'lost' END::leadfunnel.lead_stage,
       CASE WHEN r_outcome < 0.3 THEN (CASE WHEN r_opp < 0.33 THEN 'opportunity' ELSE 'mql' END)
            WHEN r_outcome < 0.5 THEN 'won' WHEN r_opp < 0.5 THEN 'opportunity' ELSE 'mql' END::leadfunnel.lead_stage,
       created_at, created_at,
       CASE WHEN r_outcome >= 0.3 THEN created_at + close_days * interval '1 day' END
  FROM plan;
-- (recorded_at: the bitemporal history's recording time, here the valid time)
INSERT INTO bench.lead_stage_history (lead_id, account_id, seq, to_stage, entered_at, recorded_at)
SELECT lead_id, account_id, 1, 'lead', created_at, created_at FROM bench.lead;
INSERT INTO bench.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, recorded_at)
SELECT lead_id, account_id, 2, 'lead', 'opportunity', e, e
  FROM plan, LATERAL (SELECT created_at + least(opp_days, close_days - 1) * interval '1 day' AS e) x
 WHERE (r_outcome < 0.3 AND r_opp < 0.33) OR (r_outcome >= 0.3 AND r_outcome < 0.5) OR (r_outcome >= 0.5 AND r_opp < 0.5);

-- lead-level touches: 1..7 per lead (4 on average), from 120 days before
-- creation until 30 days after closing; account-level (ABM) touches: 0..3 per
-- account over the whole period
INSERT INTO bench.touch (touch_id, campaign_id, account_id, lead_id, touched_at)
SELECT row_number() OVER (), 1 + floor(random() * 60)::int, p.account_id, p.lead_id,
       p.created_at - interval '120 days' + random() * (p.close_days + 150) * interval '1 day'
  FROM plan p, LATERAL generate_series(1, 1 + floor(random() * 7)::int + 0 * p.lead_id) k;
INSERT INTO bench.touch (touch_id, campaign_id, account_id, touched_at)
SELECT (SELECT max(touch_id) FROM bench.touch) + row_number() OVER (), 1 + floor(random() * 60)::int, a.account_id,
       timestamptz '2024-03-01' + random() * interval '720 days'
  FROM bench.account a, LATERAL generate_series(1, floor(random() * 4)::int + 0 * a.account_id) k;
VACUUM ANALYZE bench.campaign, bench.account, bench.lead, bench.lead_stage_history, bench.touch;
