-- pgTAP: attribution.  The published weights of every model on hand-built
-- paths, properties on random paths (non-negative, sum 1 within 1e-12), the
-- one-pass functions and the aggregate against attribution_weights, parallel
-- and serial aggregation, and the views against independent SQL on generated
-- data: the window-function formulation of bench/attribution/plain.sql,
-- conservation, touched pipeline from scratch.
\set plain `cat bench/attribution/plain.sql`
BEGIN;
CREATE EXTENSION leadfunnel;
SET TimeZone = 'UTC';
SELECT plan(44);

SELECT has_function('leadfunnel', 'attribution_weights',
    ARRAY['leadfunnel.attribution_model', 'timestamp with time zone[]', 'timestamp with time zone',
          'timestamp with time zone', 'timestamp with time zone', 'interval']);
SELECT function_returns('leadfunnel', 'attribution_weights',
    ARRAY['leadfunnel.attribution_model', 'timestamp with time zone[]', 'timestamp with time zone',
          'timestamp with time zone', 'timestamp with time zone', 'interval'], 'double precision[]');
SELECT volatility_is('leadfunnel', 'attribution_weights',
    ARRAY['leadfunnel.attribution_model', 'timestamp with time zone[]', 'timestamp with time zone',
          'timestamp with time zone', 'timestamp with time zone', 'interval'], 'immutable');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'leadfunnel.attribution_weights(leadfunnel.attribution_model, timestamptz[], timestamptz, timestamptz, timestamptz, interval)'::regprocedure),
          's', 'attribution_weights is PARALLEL SAFE');
SELECT is_aggregate('leadfunnel', 'attribution_totals', 'attribution_totals is an aggregate');

CREATE FUNCTION pg_temp.aw(m leadfunnel.attribution_model, t timestamptz[], created timestamptz,
                           opp timestamptz DEFAULT NULL, closed timestamptz DEFAULT NULL, hl interval DEFAULT '7 days')
    RETURNS numeric[] LANGUAGE sql AS
$$ SELECT array_agg(round(w::numeric, 9) ORDER BY i)
     FROM unnest(leadfunnel.attribution_weights(m, t, created, opp, closed, hl)) WITH ORDINALITY u(w, i) $$;

-- the published shares: five touches on days 1..5, lead created on day 2,
-- opportunity on day 3, closed on day 5 (first, lead creation, opportunity,
-- closing touch distinct; one middle touch on day 4)
CREATE TEMP TABLE p5 AS SELECT ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05']::timestamptz[] AS t;
SELECT is(pg_temp.aw('first_touch', t, '2025-01-02', '2025-01-03', '2025-01-05'), '{1,0,0,0,0}', 'first touch: 100 % to the first') FROM p5;
SELECT is(pg_temp.aw('last_touch', t, '2025-01-02', '2025-01-03', '2025-01-05'), '{0,0,0,0,1}', 'last touch: 100 % to the last') FROM p5;
SELECT is(pg_temp.aw('linear', t, '2025-01-02', '2025-01-03', '2025-01-05'), '{0.2,0.2,0.2,0.2,0.2}', 'linear: 1/n') FROM p5;
SELECT is(pg_temp.aw('u_shaped', t, '2025-01-02', '2025-01-03', '2025-01-05'), '{0.4,0.4,0.066666667,0.066666667,0.066666667}', 'U: 40/40, 20 % to the rest') FROM p5;
SELECT is(pg_temp.aw('w_shaped', t, '2025-01-02', '2025-01-03', '2025-01-05'), '{0.3,0.3,0.3,0.05,0.05}', 'W: 30/30/30, 10 % to the rest') FROM p5;
SELECT is(pg_temp.aw('full_path', t, '2025-01-02', '2025-01-03', '2025-01-05'), '{0.225,0.225,0.225,0.1,0.225}', 'full path: 22.5 x 4, 10 % to the rest') FROM p5;
SELECT is(pg_temp.aw('u_shaped', ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04']::timestamptz[], '2025-01-04'),
          '{0.4,0.1,0.1,0.4}', 'U on four touches, lead created at the last: 0.4, 0.1, 0.1, 0.4');
SELECT is(pg_temp.aw('time_decay', ARRAY['2025-01-01', '2025-01-08', '2025-01-15']::timestamptz[], '2025-01-01', NULL, '2025-01-15'),
          ARRAY[round(1/7.0, 9), round(2/7.0, 9), round(4/7.0, 9)], 'time decay, half-life 7 days: 14, 7, 0 days old weigh 1 : 2 : 4');
SELECT is(pg_temp.aw('time_decay', ARRAY['2025-01-01', '2025-01-02']::timestamptz[], '2025-01-01', NULL, '2025-01-02', '1 day'),
          ARRAY[round(1/3.0, 9), round(2/3.0, 9)], 'time decay, half-life given: 1 : 2');
-- edge cases
SELECT is(pg_temp.aw(m, ARRAY['2025-01-01']::timestamptz[], '2025-01-02', '2025-01-03', '2025-01-04'), '{1}', 'one touch: 100 % under ' || m)
  FROM unnest(ARRAY['u_shaped', 'w_shaped', 'full_path', 'time_decay']::leadfunnel.attribution_model[]) m;
SELECT is(pg_temp.aw('w_shaped', ARRAY['2025-01-01', '2025-01-05', '2025-01-06']::timestamptz[], '2025-01-02', '2025-01-03'),
          '{0.9,0.05,0.05}', 'milestones on one touch add up (W: 3 x 30 %)');
SELECT is(pg_temp.aw('u_shaped', ARRAY['2025-01-05', '2025-01-06', '2025-01-07']::timestamptz[], '2025-01-01'),
          '{0.8,0.1,0.1}', 'no touch before lead creation: its share goes to the first touch');
SELECT is(pg_temp.aw('w_shaped', ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[], '2025-01-02', NULL, '2025-01-03'),
          '{0.45,0.45,0.1}', 'no opportunity: W gives its share to the other milestones');
SELECT is(pg_temp.aw('full_path', ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[], '2025-01-02', '2025-01-03', '2025-01-03'),
          '{0.25,0.25,0.5}', 'no middle touches: their share to the milestones pro rata (opportunity and closing on one touch)');
SELECT is(pg_temp.aw('linear', ARRAY['2025-01-09', '2025-01-10']::timestamptz[], '2025-01-01', NULL, '2025-01-05'),
          '{0,0}', 'no eligible touch: all weights 0');
SELECT throws_ok($$SELECT leadfunnel.attribution_weights('time_decay', ARRAY['2025-01-01']::timestamptz[], '2025-01-01', NULL, NULL, '-1 day')$$,
                 '22023', NULL, 'a half-life that is not positive: 22023');

-- random paths: 0..12 touches (some NULL, some after closing, ties), random milestones
SELECT setseed(0.3);
CREATE TEMP TABLE rp AS
SELECT g AS id,
       ARRAY(SELECT CASE WHEN random() < 0.05 THEN NULL
                         ELSE timestamptz '2025-01-01' + floor(random() * 200) * interval '1 day' END
               FROM generate_series(1, floor(random() * 13)::int + 0 * g)) AS t,
       ARRAY(SELECT (random() * 1e6)::bigint FROM generate_series(1, 12 + 0 * g)) AS campaign_pool,
       timestamptz '2025-01-01' + random() * interval '200 days' AS created,
       CASE WHEN random() < 0.5 THEN timestamptz '2025-03-01' + random() * interval '200 days' END AS opp,
       CASE WHEN random() < 0.6 THEN timestamptz '2025-05-01' + random() * interval '200 days' END AS closed,
       (1 + floor(random() * 30)) * interval '1 day' AS hl
  FROM generate_series(1, 3000) g;
CREATE TEMP TABLE rw AS
SELECT rp.id, m.model, leadfunnel.attribution_weights(m.model, rp.t, rp.created, rp.opp, rp.closed, rp.hl) AS w,
       (SELECT count(*) FROM unnest(rp.t) x WHERE x IS NOT NULL AND (rp.closed IS NULL OR x <= rp.closed)) AS eligible
  FROM rp CROSS JOIN unnest(enum_range(NULL::leadfunnel.attribution_model)) m(model);
SELECT is((SELECT count(*) FROM rw JOIN rp USING (id) WHERE cardinality(w) <> cardinality(t)), 0::bigint, 'random paths: one weight per touch');
SELECT is((SELECT count(*) FROM rw, unnest(w) x WHERE x < 0 OR x > 1 OR x = 'NaN'), 0::bigint, 'random paths: weights in [0, 1]');
SELECT is((SELECT count(*) FROM rw WHERE eligible > 0 AND abs((SELECT sum(x) FROM unnest(w) x) - 1) > 1e-12), 0::bigint,
          'random paths: weights sum to 1 within 1e-12 whenever a touch is eligible');
SELECT is((SELECT count(*) FROM rw WHERE eligible = 0 AND (SELECT sum(x) FROM unnest(w) x) <> 0), 0::bigint,
          'random paths: all 0 without an eligible touch');
SELECT is((SELECT count(*) FROM rw JOIN rp USING (id), unnest(w, t) u(x, tt)
            WHERE x <> 0 AND (tt IS NULL OR tt > rp.closed)), 0::bigint, 'random paths: NULL touches and touches after closing weigh 0');
-- touch_credit (every model in one pass) = attribution_weights
SELECT is((SELECT count(*) FROM rp CROSS JOIN LATERAL leadfunnel.touch_credit(rp.t, NULL, rp.created, rp.opp, rp.closed, rp.hl) c
             JOIN rw ON rw.id = rp.id AND rw.model = c.model
            WHERE abs(rw.w[c.touch_index] - c.credit) > 1e-15), 0::bigint, 'touch_credit agrees with attribution_weights');
-- campaign_credit = attribution_weights summed per campaign
CREATE TEMP TABLE rc AS
SELECT rp.id, ARRAY(SELECT rp.campaign_pool[1 + (i % 4)] FROM generate_series(1, cardinality(rp.t)) i) AS camps FROM rp;
SELECT is((SELECT count(*) FROM (
              SELECT rp.id, c.model, c.campaign_id, c.credit,
                     (SELECT sum(x) FROM unnest(rw.w, rc.camps) u(x, cid) WHERE cid = c.campaign_id) AS expected
                FROM rp JOIN rc USING (id)
               CROSS JOIN LATERAL leadfunnel.campaign_credit(rp.t, NULL, rc.camps, rp.created, rp.opp, rp.closed, rp.hl) c
                JOIN rw ON rw.id = rp.id AND rw.model = c.model) d
            WHERE abs(credit - expected) > 1e-12), 0::bigint, 'campaign_credit agrees with attribution_weights per campaign');
-- the aggregate, serial and parallel, = campaign_credit summed
CREATE TEMP TABLE expected_totals AS
SELECT c.campaign_id, c.model, sum(c.credit) AS leads, sum(c.credit * rp.id) AS pipeline, sum(c.credit * 2) FILTER (WHERE rp.id % 3 = 0) AS won
  FROM rp JOIN rc USING (id)
 CROSS JOIN LATERAL leadfunnel.campaign_credit(rp.t, NULL, rc.camps, rp.created, rp.opp, rp.closed, rp.hl) c
 GROUP BY 1, 2;
CREATE FUNCTION pg_temp.explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP RETURN NEXT r; END LOOP;
END $$;
CREATE TABLE public.attr_paths AS SELECT rp.*, rc.camps FROM rp JOIN rc USING (id);
ANALYZE public.attr_paths;
CREATE FUNCTION pg_temp.totals_diff() RETURNS float8 LANGUAGE sql AS $$
    SELECT max(greatest(abs(a.leads - e.leads), abs(a.pipeline - e.pipeline) / 1e4, abs(coalesce(a.won, 0) - coalesce(e.won, 0))))
      FROM unnest((SELECT leadfunnel.attribution_totals(t, NULL, camps, created, opp, closed, hl, id, CASE WHEN id % 3 = 0 THEN 2 END)
                     FROM public.attr_paths)) a
      FULL JOIN (SELECT * FROM expected_totals WHERE leads <> 0) e USING (campaign_id, model) $$;
SELECT cmp_ok(pg_temp.totals_diff(), '<', 1e-9::float8, 'attribution_totals = campaign_credit summed (serial)');
SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2; SET LOCAL parallel_leader_participation = off;
SELECT ok((SELECT string_agg(x, ' ') FROM (SELECT * FROM pg_temp.explain_lines(
             $$SELECT leadfunnel.attribution_totals(t, NULL, camps, created, opp, closed, hl, id, NULL) FROM public.attr_paths$$)) e(x))
          ~ 'Partial Aggregate', 'attribution_totals runs as a partial aggregate in a parallel plan');
SELECT cmp_ok(pg_temp.totals_diff(), '<', 1e-9::float8, 'attribution_totals = campaign_credit summed (parallel: partial states combined)');
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;

-- the views on generated data (schema "bench", as bench/attribution/plain.sql reads it)
SELECT leadfunnel.create_model('bench');
SELECT lives_ok($$SELECT leadfunnel.generate_demo('bench', 1500, 0.7)$$, 'demo data with touches');
SELECT ok((SELECT count(*) FROM bench.touch WHERE lead_id IS NULL) > 0, 'demo has account-level touches');
-- touched pipeline from scratch: a campaign touched a lead if one of the lead's
-- own touches is in [created_at - 365 days, closed_at] or one of its
-- account's ABM touches in [created_at, closed_at]
SELECT results_eq(
    $$SELECT campaign_id, sourced_leads, touched_leads, sourced_pipeline, touched_pipeline, sourced_won, touched_won
        FROM bench.campaign_pipeline ORDER BY campaign_id$$,
    $$WITH touched AS (
          SELECT c.campaign_id, l.lead_id, l.amount, l.max_stage, l.stage
            FROM bench.campaign c JOIN bench.lead l
              ON EXISTS (SELECT 1 FROM bench.touch t
                          WHERE t.campaign_id = c.campaign_id AND t.account_id = l.account_id
                            AND t.touched_at <= coalesce(l.closed_at, 'infinity')
                            AND ((t.lead_id = l.lead_id AND t.touched_at >= l.created_at - interval '365 days')
                                 OR (t.lead_id IS NULL AND t.touched_at >= l.created_at))))
      SELECT c.campaign_id,
             (SELECT count(*) FROM bench.lead l WHERE l.source_campaign_id = c.campaign_id),
             (SELECT count(*) FROM touched t WHERE t.campaign_id = c.campaign_id),
             (SELECT coalesce(sum(amount), 0) FROM bench.lead l WHERE l.source_campaign_id = c.campaign_id AND l.max_stage >= 'opportunity'),
             (SELECT coalesce(sum(amount), 0) FROM touched t WHERE t.campaign_id = c.campaign_id AND t.max_stage >= 'opportunity'),
             (SELECT coalesce(sum(amount), 0) FROM bench.lead l WHERE l.source_campaign_id = c.campaign_id AND l.stage = 'won'),
             (SELECT coalesce(sum(amount), 0) FROM touched t WHERE t.campaign_id = c.campaign_id AND t.stage = 'won')
        FROM bench.campaign c ORDER BY c.campaign_id$$,
    'campaign_pipeline = touched pipeline computed from scratch');
-- campaign_attribution = the window-function formulation, within 1e-9
SELECT is((SELECT count(*) FROM bench.campaign_attribution), (SELECT count(*) * 9 FROM bench.campaign), 'one row per campaign and model');
SELECT cmp_ok((SELECT max(greatest(abs(a.attributed_leads - b.attributed_leads), abs(a.attributed_pipeline - b.attributed_pipeline) / 1e6,
                                   abs(a.attributed_won - b.attributed_won) / 1e6))::float8
                 FROM bench.campaign_attribution a JOIN (:plain) b USING (campaign_id, model)), '<', 1e-9::float8,
              'campaign_attribution = plain-SQL window functions (bench/attribution/plain.sql)');
-- = attribution_weights (the contract function) over lead_touch_path
SELECT cmp_ok((SELECT max(abs(a.attributed_leads - b.leads))::float8
                 FROM bench.campaign_attribution a
                 JOIN (SELECT u.cid AS campaign_id, m.model, sum(u.w) AS leads
                         FROM bench.lead_touch_path p
                        CROSS JOIN unnest(enum_range(NULL::leadfunnel.attribution_model)) m(model)
                        CROSS JOIN LATERAL unnest(leadfunnel.attribution_weights(m.model, p.touched_at, p.lead_created_at,
                                                  p.opportunity_created_at, p.closed_at), p.campaign_id) u(w, cid)
                        GROUP BY 1, 2) b USING (campaign_id, model)), '<', 1e-9::float8,
              'campaign_attribution = attribution_weights over lead_touch_path');
-- conservation: per model, sums over campaigns = totals over attributed leads
SELECT cmp_ok((SELECT max(greatest(abs(s.leads - t.leads), abs(s.pipeline - t.pipeline), abs(s.won - t.won)))::float8
                 FROM (SELECT model, sum(attributed_leads) AS leads, sum(attributed_pipeline) AS pipeline, sum(attributed_won) AS won
                         FROM bench.campaign_attribution GROUP BY model) s
                 CROSS JOIN (SELECT count(*) AS leads,
                                    coalesce(sum(amount) FILTER (WHERE max_stage >= 'opportunity'), 0) AS pipeline,
                                    coalesce(sum(amount) FILTER (WHERE stage = 'won'), 0) AS won
                               FROM bench.lead l WHERE EXISTS (SELECT 1 FROM bench.lead_touch lt WHERE lt.lead_id = l.lead_id)) t),
              '<', 1e-6::float8, 'conservation: sums over campaigns = totals over attributed leads, every model');
SELECT ok((SELECT count(*) FROM bench.lead_touch_path WHERE cardinality(touched_at) = 0) > 0
          AND (SELECT count(DISTINCT lead_id) FROM bench.lead_touch) < (SELECT count(*) FROM bench.lead),
          'some leads are unattributed (no touch in the window) and get no credit');
SELECT is((SELECT count(*) FROM (SELECT lead_id, model, sum(credit) s FROM bench.touch_attribution GROUP BY 1, 2) x
            WHERE abs(s - 1) > 1e-12), 0::bigint, 'touch_attribution: every lead hands out 1 per model');
-- dimensions join: credit by the lead's product area and the month it was created
SELECT ok((SELECT count(*) FROM (
              SELECT l.product_area, date_trunc('month', l.created_at), c.channel, ta.model, sum(ta.credit)
                FROM bench.touch_attribution ta JOIN bench.lead l USING (account_id, lead_id)
                JOIN bench.campaign c USING (campaign_id) GROUP BY 1, 2, 3, 4) d) > 0, 'dimensions join the per-touch credit');

SELECT * FROM finish();
ROLLBACK;
