-- Infinite intervals: PostgreSQL 17 added 'infinity' and '-infinity' to type
-- interval, 15 rejects them as input (22007).  The answers differ by major,
-- so they live here, in the one test with two expected files:
-- expected/87_infinite_intervals.out (17 and later: our own checks answer)
-- and expected/87_infinite_intervals_1.out (15: the literal is refused first).
-- Every other test is the same on every major.

-- settings must be positive and finite
SELECT try($$SELECT leadfunnel.set_setting('customer_term', 'infinity')$$);
SELECT try($$SELECT leadfunnel.set_setting('attribution_lookback', '-infinity')$$);
SELECT count(*) AS overrides FROM leadfunnel.setting;

-- durations of the aggregates must be finite
SELECT try($$SELECT leadfunnel.cycle_time(d) FROM (VALUES (interval '1 day'), (interval 'infinity')) v(d)$$);
SELECT try($$SELECT leadfunnel.cycle_time(d) FROM (VALUES (interval '-infinity')) v(d)$$);
SELECT try($$SELECT leadfunnel.cycle_time_sketch(d) FROM (VALUES (interval 'infinity')) v(d)$$);
SELECT try($$SELECT leadfunnel.window_funnel('infinity', t, s) FROM (VALUES (timestamptz '2025-01-01', 'lead'::leadfunnel.lead_stage)) v(t, s)$$);

-- time decay: an infinite half-life does not decay (every touch weighs the
-- same), a negative infinite one is not positive
SELECT array(SELECT round(w::numeric, 9) FROM unnest(leadfunnel.attribution_weights('time_decay', '{2025-01-01,2025-01-05,2025-01-09}', NULL, NULL, '2025-01-10', 'infinity')) w) AS no_decay;
SELECT try($$SELECT leadfunnel.attribution_weights('time_decay', '{2025-01-01}', NULL, NULL, '2025-01-10', '-infinity')$$);
