-- The plain-SQL way: the nine built-in attribution models written with window
-- functions over the same eligible touches (bench/attribution/run.sh runs it
-- beside bench.campaign_attribution and checks that both agree).  Same rules
-- as leadfunnel.attribution_weights: milestones by (touched_at, touch_id)
-- order, missing milestones' shares to the present ones, time decay relative
-- to closed_at or else the latest milestone.
WITH p AS MATERIALIZED (
    SELECT leadfunnel.setting_value('attribution_lookback') AS lookback,
           extract(epoch FROM leadfunnel.setting_value('time_decay_half_life'))::float8 AS half_life
), opp AS (
    SELECT account_id, lead_id, min(entered_at) AS opportunity_created_at
      FROM bench.lead_stage_history WHERE to_stage = 'opportunity' GROUP BY account_id, lead_id
), lt AS (
    SELECT l.lead_id, l.account_id, t.touch_id, t.campaign_id, t.touched_at, l.created_at, l.closed_at,
           l.max_stage, l.stage, l.amount
      FROM bench.lead l JOIN bench.touch t ON t.account_id = l.account_id AND t.lead_id = l.lead_id CROSS JOIN p
     WHERE t.touched_at >= l.created_at - p.lookback AND (l.closed_at IS NULL OR t.touched_at <= l.closed_at)
    UNION ALL
    SELECT l.lead_id, l.account_id, t.touch_id, t.campaign_id, t.touched_at, l.created_at, l.closed_at,
           l.max_stage, l.stage, l.amount
      FROM bench.lead l JOIN bench.touch t ON t.account_id = l.account_id AND t.lead_id IS NULL
     WHERE t.touched_at >= l.created_at AND (l.closed_at IS NULL OR t.touched_at <= l.closed_at)
), a AS (           -- position in the path, path length, time-decay age
    SELECT lt.*, o.opportunity_created_at,
           row_number() OVER (PARTITION BY lt.account_id, lt.lead_id ORDER BY lt.touched_at, lt.touch_id) AS pos,
           count(*) OVER (PARTITION BY lt.account_id, lt.lead_id) AS n,
           power(2::float8, -extract(epoch FROM coalesce(lt.closed_at, greatest(lt.created_at, o.opportunity_created_at)) - lt.touched_at)::float8
                            / p.half_life) AS decay
      FROM lt LEFT JOIN opp o ON o.account_id = lt.account_id AND o.lead_id = lt.lead_id CROSS JOIN p
), b AS (           -- milestone positions, time-decay total
    SELECT a.*,
           max(pos) FILTER (WHERE touched_at <= created_at) OVER w AS l_pos,
           max(pos) FILTER (WHERE touched_at <= opportunity_created_at) OVER w AS o_pos,
           CASE WHEN closed_at IS NOT NULL THEN n END AS c_pos,
           sum(decay) OVER w AS decay_sum
      FROM a
    WINDOW w AS (PARTITION BY account_id, lead_id)
), c AS (           -- roles present and distinct role holders per model
    SELECT b.*,
           (pos = 1)::int + (pos IS NOT DISTINCT FROM l_pos)::int AS roles_u,
           (pos = 1)::int + (pos IS NOT DISTINCT FROM l_pos)::int + (pos IS NOT DISTINCT FROM o_pos)::int AS roles_w,
           (pos = 1)::int + (pos IS NOT DISTINCT FROM l_pos)::int + (pos IS NOT DISTINCT FROM o_pos)::int
               + (pos IS NOT DISTINCT FROM c_pos)::int AS roles_f,
           1 + (l_pos IS NOT NULL)::int AS present_u,
           1 + (l_pos IS NOT NULL)::int + (o_pos IS NOT NULL)::int AS present_w,
           1 + (l_pos IS NOT NULL)::int + (o_pos IS NOT NULL)::int + (c_pos IS NOT NULL)::int AS present_f,
           n - 1 - coalesce(l_pos <> 1, false)::int AS middle_u,
           n - 1 - coalesce(l_pos <> 1, false)::int - coalesce(o_pos <> 1 AND o_pos IS DISTINCT FROM l_pos, false)::int AS middle_w,
           n - 1 - coalesce(l_pos <> 1, false)::int - coalesce(o_pos <> 1 AND o_pos IS DISTINCT FROM l_pos, false)::int
             - coalesce(c_pos <> 1 AND c_pos IS DISTINCT FROM l_pos AND c_pos IS DISTINCT FROM o_pos, false)::int AS middle_f
      FROM b
), weights AS (
    SELECT campaign_id, max_stage, stage, amount,
           (pos = 1)::int::float8 AS first_touch,
           (pos = n)::int::float8 AS last_touch,
           1.0::float8 / n AS linear,
           CASE WHEN roles_u > 0 THEN roles_u * (CASE WHEN middle_u > 0 THEN 0.8 ELSE 1 END)::float8 / present_u
                ELSE 0.2::float8 / middle_u END AS u_shaped,
           CASE WHEN roles_w > 0 THEN roles_w * (CASE WHEN middle_w > 0 THEN 0.9 ELSE 1 END)::float8 / present_w
                ELSE 0.1::float8 / middle_w END AS w_shaped,
           CASE WHEN roles_f > 0 THEN roles_f * (CASE WHEN middle_f > 0 THEN 0.9 ELSE 1 END)::float8 / present_f
                ELSE 0.1::float8 / middle_f END AS full_path,
           decay / decay_sum AS time_decay,
           CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN CASE WHEN pos = 1 THEN 0.25 ELSE 0.75 END
                WHEN pos = 1 THEN 0.2 WHEN pos = n THEN 0.6 ELSE 0.2 / (n - 2) END::float8 AS j_shaped,
           CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN CASE WHEN pos = 1 THEN 0.75 ELSE 0.25 END
                WHEN pos = 1 THEN 0.6 WHEN pos = n THEN 0.2 ELSE 0.2 / (n - 2) END::float8 AS inverse_j
      FROM c
), credit AS (
    SELECT w.campaign_id, v.model, sum(v.credit) AS leads,
           sum(v.credit * w.amount::float8) FILTER (WHERE w.max_stage >= 'opportunity') AS pipeline,
           sum(v.credit * w.amount::float8) FILTER (WHERE w.stage = 'won') AS won
      FROM weights w
     CROSS JOIN LATERAL (VALUES ('first_touch'::leadfunnel.attribution_model, w.first_touch),
                                ('last_touch', w.last_touch), ('linear', w.linear), ('u_shaped', w.u_shaped),
                                ('w_shaped', w.w_shaped), ('full_path', w.full_path), ('time_decay', w.time_decay),
                                ('j_shaped', w.j_shaped), ('inverse_j', w.inverse_j)) v(model, credit)
     GROUP BY w.campaign_id, v.model
)
SELECT ca.campaign_id, m.model,
       coalesce(cr.leads, 0)::numeric AS attributed_leads,
       coalesce(cr.pipeline, 0)::numeric AS attributed_pipeline,
       coalesce(cr.won, 0)::numeric AS attributed_won
  FROM bench.campaign ca
 CROSS JOIN unnest(enum_range(NULL::leadfunnel.attribution_model)) m(model)
  LEFT JOIN credit cr ON cr.campaign_id = ca.campaign_id AND cr.model = m.model
