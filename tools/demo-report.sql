-- The report `make demo` prints: reach and conversion per funnel stage, with a bar.
\pset footer off
\echo
\echo 'Leads reached per funnel and stage (reached = max_stage at or beyond the stage)'
WITH reach AS (
    SELECT f.name AS funnel, s.stage, s.ord,
           count(l.lead_id) FILTER (WHERE l.max_stage >= s.stage) AS reached
      FROM leadfunnel.funnel f
     CROSS JOIN LATERAL unnest(leadfunnel.funnel_stages(f.name)) WITH ORDINALITY AS s(stage, ord)
      LEFT JOIN demo.lead l ON l.funnel = f.name
     GROUP BY f.name, s.stage, s.ord
)
SELECT funnel, stage, reached,
       to_char(100.0 * reached / nullif(lag(reached) OVER w, 0), '990.0') AS "conv %",
       to_char(100.0 * reached / nullif(first_value(reached) OVER w, 0), '990.0') AS "of top %",
       repeat('█', (40.0 * reached / nullif(max(reached) OVER (PARTITION BY funnel), 0))::int) AS bar
  FROM reach
WINDOW w AS (PARTITION BY funnel ORDER BY ord)
 ORDER BY funnel, ord;

\echo 'Where leads are now'
SELECT funnel,
       count(*) FILTER (WHERE stage < 'won') AS open,
       count(*) FILTER (WHERE stage = 'won') AS won,
       count(*) FILTER (WHERE stage = 'recycled') AS recycled,
       count(*) FILTER (WHERE stage = 'disqualified') AS disqualified,
       count(*) FILTER (WHERE stage = 'lost') AS lost
  FROM demo.lead GROUP BY funnel ORDER BY funnel;

\echo 'Model consistency (leadfunnel.verify_model): violations'
SELECT count(*) AS violations FROM leadfunnel.verify_model('demo');
