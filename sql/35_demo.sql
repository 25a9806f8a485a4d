-- The demo generator: deterministic for a seed, consistent, and refusing bad arguments.
SELECT leadfunnel.create_model('demo_a');
SELECT leadfunnel.create_model('demo_b');
SELECT * FROM leadfunnel.generate_demo('demo_a', 400, 0.5);
SELECT sum(rows_added) AS rows_added FROM leadfunnel.generate_demo('demo_b', 400, 0.5);
-- same seed, same data
SELECT count(*) AS differing_leads FROM (
    (SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_a.lead
     EXCEPT SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_b.lead)
    UNION ALL
    (SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_b.lead
     EXCEPT SELECT lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, amount FROM demo_a.lead)) d;
SELECT count(*) AS differing_history FROM (
    SELECT lead_id, seq, from_stage, to_stage, entered_at, left_at FROM demo_a.lead_stage_history
    EXCEPT SELECT lead_id, seq, from_stage, to_stage, entered_at, left_at FROM demo_b.lead_stage_history) d;
-- every funnel, every outcome, all through the trigger
SELECT funnel, count(*) > 0 AS has_leads, bool_or(stage = 'won') AS some_won,
       bool_or(stage IN ('recycled', 'disqualified', 'lost')) AS some_lost, bool_or(stage < 'won') AS some_open
  FROM demo_a.lead GROUP BY funnel ORDER BY funnel;
SELECT count(*) AS violations FROM leadfunnel.verify_model('demo_a');
-- a second run adds rows after the existing ones
SELECT * FROM leadfunnel.generate_demo('demo_a', 30, 0.1);
SELECT count(*) AS leads, count(DISTINCT lead_id) AS distinct_ids FROM demo_a.lead;
SELECT try($$SELECT leadfunnel.generate_demo('demo_a', 0)$$);
SELECT try($$SELECT leadfunnel.generate_demo('demo_a', 10, 2)$$);
SELECT try($$SELECT leadfunnel.generate_demo('nosuch', 10)$$);
SET client_min_messages = warning;
DROP SCHEMA demo_a, demo_b CASCADE;
RESET client_min_messages;
