-- Attribution: the weights of each model on hand-built touch paths (the
-- published shares), every edge case, bad input, and the model's views on a
-- hand-built model.
SET TimeZone = 'UTC';
-- weights rounded for reading
CREATE FUNCTION public.aw(m leadfunnel.attribution_model, t timestamptz[], created timestamptz,
                          opp timestamptz DEFAULT NULL, closed timestamptz DEFAULT NULL, hl interval DEFAULT '7 days')
    RETURNS numeric[] LANGUAGE sql AS
$$ SELECT array_agg(round(w::numeric, 6) ORDER BY i)
     FROM unnest(leadfunnel.attribution_weights(m, t, created, opp, closed, hl)) WITH ORDINALITY u(w, i) $$;

-- Four touches, all milestones distinct: touches on days 1..6, lead created on
-- day 2, opportunity on day 4, closed on day 6.
CREATE TEMP TABLE path AS SELECT ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05', '2025-01-06']::timestamptz[] AS t;
SELECT m AS model, aw(m, t, '2025-01-02', '2025-01-04', '2025-01-06 12:00')
  FROM path, unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- U-shaped: first and lead-creation touch 40 % each, 20 % shared by the middle
SELECT aw('u_shaped', ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04']::timestamptz[], '2025-01-04');
-- W-shaped: 30 % first, lead creation, opportunity creation; 10 % the middle
SELECT aw('w_shaped', ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05']::timestamptz[], '2025-01-02', '2025-01-04');
-- full path: 22.5 % first, lead creation, opportunity creation, closing; 10 % the middle
SELECT aw('full_path', ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05']::timestamptz[], '2025-01-02', '2025-01-03', '2025-01-05');
-- time decay, half-life 7 days: touches 14, 7 and 0 days before closing weigh 1 : 2 : 4
SELECT aw('time_decay', ARRAY['2025-01-01', '2025-01-08', '2025-01-15']::timestamptz[], '2025-01-02', NULL, '2025-01-15');
-- half-life 1 day: 1 : 128 : 16384
SELECT aw('time_decay', ARRAY['2025-01-01', '2025-01-08', '2025-01-15']::timestamptz[], '2025-01-02', NULL, '2025-01-15', '1 day');
-- open lead: age measured to the latest milestone given (the opportunity,
-- 2025-01-08); a later touch has a negative age and weighs more
SELECT aw('time_decay', ARRAY['2025-01-01', '2025-01-08', '2025-01-15']::timestamptz[], '2025-01-02', '2025-01-08');

-- Edge cases.
-- one touch: 100 % under every model
SELECT m AS model, aw(m, ARRAY['2025-01-01']::timestamptz[], '2025-01-02', '2025-01-03', '2025-01-04')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- two touches, both before lead creation: first and lead-creation touch, no middle
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-02']::timestamptz[], '2025-01-03')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- two touches, the second after lead creation: the first holds both U roles
-- (80 %), the second is the middle (20 %)
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-05']::timestamptz[], '2025-01-03')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- several milestones on one touch: their shares add up (first = lead creation
-- = opportunity touch: 3 x 30 % under W, 3 x 22.5 % under full path)
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-05', '2025-01-06', '2025-01-07']::timestamptz[], '2025-01-02', '2025-01-03', '2025-01-07')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- a milestone with no touch at or before it (all touches after lead creation):
-- its share goes to the milestones present, pro rata
SELECT m AS model, aw(m, ARRAY['2025-01-05', '2025-01-06', '2025-01-07']::timestamptz[], '2025-01-01')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- no opportunity (opportunity_created_at NULL), closed: W gives the
-- opportunity share to first and lead creation (45 % each); full path to
-- first, lead creation and closing (30 % each)
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04']::timestamptz[], '2025-01-02', NULL, '2025-01-04')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m WHERE m IN ('w_shaped', 'full_path');
-- no middle touches: the middle share goes to the milestones, pro rata
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[], '2025-01-02', '2025-01-03')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m WHERE m IN ('u_shaped', 'w_shaped', 'full_path');
-- touches after closing weigh 0; with no eligible touch every weight is 0
SELECT aw('linear', ARRAY['2025-01-01', '2025-01-09', '2025-01-02']::timestamptz[], '2025-01-01', NULL, '2025-01-05');
SELECT m AS model, aw(m, ARRAY['2025-01-09', '2025-01-10']::timestamptz[], '2025-01-01', NULL, '2025-01-05')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m;
-- a touch exactly at closing counts; exactly at lead creation it is the lead-creation touch
SELECT aw('u_shaped', ARRAY['2025-01-01', '2025-01-02', '2025-01-05']::timestamptz[], '2025-01-02', NULL, '2025-01-05');
-- input in any order: the weights follow the touches
SELECT aw('u_shaped', ARRAY['2025-01-04', '2025-01-01', '2025-01-03', '2025-01-02']::timestamptz[], '2025-01-04');
-- NULL elements weigh 0 and are no touch
SELECT aw('u_shaped', ARRAY['2025-01-01', NULL, '2025-01-02', '2025-01-03']::timestamptz[], '2025-01-03');
-- ties: of equal times the later array position is the later touch
-- (last touch, lead-creation touch), the earlier one the first touch
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-01', '2025-01-02', '2025-01-02']::timestamptz[], '2025-01-03', NULL, '2025-01-04')
  FROM unnest(enum_range(NULL::leadfunnel.attribution_model)) m WHERE m IN ('first_touch', 'last_touch', 'u_shaped', 'full_path', 'time_decay');
-- infinite times are extreme times: -infinity is the first touch, infinity is after closing
SELECT aw('u_shaped', ARRAY['-infinity', '2025-01-02', 'infinity']::timestamptz[], '2025-01-03', NULL, '2025-01-04');
SELECT aw('time_decay', ARRAY['-infinity', '2025-01-02', 'infinity']::timestamptz[], '2025-01-03');
SELECT aw('time_decay', ARRAY['2025-01-01', '2025-01-02']::timestamptz[], '-infinity', NULL, 'infinity');
-- no lead creation time: no lead-creation milestone; open lead without milestones:
-- time decay measured to the latest touch
SELECT aw('u_shaped', ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[], NULL);
SELECT aw('time_decay', ARRAY['2025-01-01', '2025-01-08', '2025-01-15']::timestamptz[], NULL);
-- huge half-life: time decay tends to linear; tiny: all weight on the youngest touch
SELECT aw('time_decay', ARRAY['2025-01-01', '2025-01-08']::timestamptz[], '2025-01-01', NULL, '2025-01-08', '1000 years');
SELECT aw('time_decay', ARRAY['2000-01-01', '2025-01-08']::timestamptz[], '2025-01-01', NULL, '2025-01-08', '1 microsecond');
-- empty array, NULL arguments, subscripts kept
SELECT leadfunnel.attribution_weights('linear', '{}', '2025-01-01', NULL, NULL) AS empty;
SELECT leadfunnel.attribution_weights(NULL, ARRAY['2025-01-01']::timestamptz[], '2025-01-01', NULL, NULL) IS NULL AS null_model,
       leadfunnel.attribution_weights('linear', NULL, '2025-01-01', NULL, NULL) IS NULL AS null_touches,
       leadfunnel.attribution_weights('linear', ARRAY['2025-01-01']::timestamptz[], '2025-01-01', NULL, NULL, NULL) IS NULL AS null_half_life;
SELECT leadfunnel.attribution_weights('linear', '[0:1]={2025-01-01,2025-01-02}', '2025-01-01', NULL, NULL);
-- bad input
SELECT try($$SELECT leadfunnel.attribution_weights('time_decay', ARRAY['2025-01-01']::timestamptz[], '2025-01-01', NULL, NULL, '0')$$);
SELECT try($$SELECT leadfunnel.attribution_weights('linear', ARRAY['2025-01-01']::timestamptz[], '2025-01-01', NULL, NULL, '-7 days')$$);
SELECT try($$SELECT leadfunnel.attribution_weights('linear', '{{2025-01-01},{2025-01-02}}', '2025-01-01', NULL, NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.campaign_credit(ARRAY['2025-01-01']::timestamptz[], NULL, '{1,2}', '2025-01-01', NULL, NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.touch_credit(ARRAY['2025-01-01']::timestamptz[], '{1,2}', '2025-01-01', NULL, NULL)$$);
SELECT try($$SELECT leadfunnel.attribution_weights('linear', array_fill('2025-01-01'::timestamptz, ARRAY[10000001]), NULL, NULL, NULL)$$);
-- a large path is fine: 100000 touches
SELECT abs(sum(w) - 1) < 1e-9 AS sums_to_one, count(*) AS touches
  FROM unnest(leadfunnel.attribution_weights('u_shaped', ARRAY(SELECT timestamptz '2025-01-01' + g * interval '1 minute' FROM generate_series(1, 100000) g),
                                             '2025-02-01', NULL, NULL)) w;
SELECT try($$SELECT leadfunnel.attribution_weights('nosuch', ARRAY['2025-01-01']::timestamptz[], '2025-01-01', NULL, NULL)$$);

-- the one-pass functions: every model at once, ties broken by touch_id
SELECT touch_index, model, round(credit::numeric, 6) AS credit
  FROM leadfunnel.touch_credit(ARRAY['2025-01-02', '2025-01-01', '2025-01-09']::timestamptz[], '{20,10,30}',
                               '2025-01-01', NULL, '2025-01-05')
 ORDER BY model, touch_index;
SELECT model, campaign_id, round(credit::numeric, 6) AS credit
  FROM leadfunnel.campaign_credit(ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-03']::timestamptz[], '{1,2,4,3}',
                                  '{7,8,7,NULL}', '2025-01-02', NULL, NULL)
 ORDER BY model, campaign_id;

-- The views on a hand-built model.
SELECT leadfunnel.create_model('attr');
INSERT INTO attr.account (account_id, name) VALUES (1, 'A'), (2, 'B');
INSERT INTO attr.campaign (campaign_id, name) VALUES (10, 'webinar'), (20, 'event'), (30, 'abm'), (40, 'unused');
INSERT INTO attr.lead (lead_id, account_id, source_campaign_id, amount, stage, created_at) VALUES
    (1, 1, 10, 1000, 'lead', '2025-01-10'),
    (2, 1, 20, 500, 'lead', '2025-02-01'),
    (3, 2, 10, 200, 'lead', '2025-03-01');
-- lead 1 reaches opportunity on 01-20 and is won on 01-31; lead 2 is lost on
-- 02-15 from mql; lead 3 stays open
UPDATE attr.lead SET stage = 'mql', stage_entered_at = '2025-01-12' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'tal', stage_entered_at = '2025-01-14' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'tql', stage_entered_at = '2025-01-15' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'sal', stage_entered_at = '2025-01-16' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'sql', stage_entered_at = '2025-01-17' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'opportunity', stage_entered_at = '2025-01-20' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'won', stage_entered_at = '2025-01-31' WHERE lead_id = 1;
UPDATE attr.lead SET stage = 'mql', stage_entered_at = '2025-02-05' WHERE lead_id = 2;
UPDATE attr.lead SET stage = 'lost', stage_entered_at = '2025-02-15' WHERE lead_id = 2;
INSERT INTO attr.touch (touch_id, campaign_id, account_id, lead_id, touched_at) VALUES
    (1, 10, 1, 1, '2024-01-01'),   -- more than 365 days before lead 1: outside the lookback
    (2, 10, 1, 1, '2025-01-05'),   -- first touch and lead-creation touch of lead 1
    (3, 20, 1, 1, '2025-01-15'),   -- middle
    (4, 20, 1, 1, '2025-01-20'),   -- opportunity-creation touch (at the moment)
    (5, 10, 1, 1, '2025-01-31'),   -- closing touch (at the moment)
    (6, 20, 1, 1, '2025-02-03'),   -- after closing: does not count
    (7, 20, 1, 2, '2025-01-25'),   -- lead 2's only own touch
    (8, 10, 2, 3, '2025-03-05');   -- lead 3 (open)
INSERT INTO attr.touch (touch_id, campaign_id, account_id, touched_at) VALUES
    (9, 30, 1, '2025-01-05'),      -- ABM before both leads were created: counts for neither
    (10, 30, 1, '2025-02-10'),     -- ABM while lead 2 was open (lead 1 closed): counts for lead 2
    (11, 30, 1, '2025-01-31'),     -- ABM at lead 1's closing: counts for lead 1 (lead 2 is created later)
    (12, 30, 2, '2025-06-01');     -- ABM while lead 3 is open
SELECT * FROM attr.lead_touch ORDER BY lead_id, touched_at, touch_id;
SELECT * FROM attr.lead_touch_path ORDER BY lead_id;
SELECT * FROM attr.campaign_pipeline ORDER BY campaign_id;
SELECT campaign_id, model, round(attributed_leads, 6) AS leads, round(attributed_pipeline, 4) AS pipeline,
       round(attributed_won, 4) AS won
  FROM attr.campaign_attribution ORDER BY model, campaign_id;
SELECT lead_id, model, touch_id, campaign_id, is_account_touch, round(credit::numeric, 6) AS credit
  FROM attr.touch_attribution WHERE model IN ('u_shaped', 'full_path') ORDER BY lead_id, model, touched_at, touch_id;
-- a shorter lookback drops lead 1's first touch; a longer one brings touch 1 back
SELECT leadfunnel.set_setting('attribution_lookback', '3 days');
SELECT lead_id, touch_id FROM attr.lead_touch WHERE lead_id = 1 ORDER BY touch_id;
SELECT leadfunnel.set_setting('attribution_lookback', '2 years');
SELECT lead_id, touch_id FROM attr.lead_touch WHERE lead_id = 1 ORDER BY touch_id;
DELETE FROM leadfunnel.setting WHERE name = 'attribution_lookback';
-- the half-life setting drives time_decay in the views
SELECT leadfunnel.set_setting('time_decay_half_life', '1 day');
SELECT touch_id, round(credit::numeric, 6) AS credit FROM attr.touch_attribution WHERE lead_id = 1 AND model = 'time_decay' ORDER BY touch_id;
DELETE FROM leadfunnel.setting WHERE name = 'time_decay_half_life';
-- every view and column is commented and security_invoker
SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'attr'::regnamespace AND c.relkind = 'v'
   AND (obj_description(c.oid, 'pg_class') IS NULL OR NOT coalesce('security_invoker=true' = ANY (c.reloptions), false));
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'attr'::regnamespace AND c.relkind = 'v' AND col_description(c.oid, a.attnum) IS NULL;

-- demo touches: deterministic, lead-level and ABM, some outside the windows
SELECT leadfunnel.create_model('attr_demo1');
SELECT leadfunnel.create_model('attr_demo2');
SELECT * FROM leadfunnel.generate_demo('attr_demo1', 300, 0.25);
SELECT sum(rows_added) FROM leadfunnel.generate_demo('attr_demo2', 300, 0.25);
SELECT count(*) AS differing_touches FROM (
    (SELECT * FROM attr_demo1.touch EXCEPT SELECT * FROM attr_demo2.touch)
    UNION ALL (SELECT * FROM attr_demo2.touch EXCEPT SELECT * FROM attr_demo1.touch)) d;
SELECT count(*) FILTER (WHERE t.lead_id IS NULL) > 0 AS has_abm,
       count(*) FILTER (WHERE t.lead_id IS NOT NULL AND t.touched_at < l.created_at) > 0 AS before_creation,
       count(*) FILTER (WHERE t.touched_at > l.closed_at) > 0 AS after_closing,
       count(*) FILTER (WHERE t.touched_at < l.created_at - interval '365 days') > 0 AS outside_lookback,
       bool_and(t.touched_at < '2026-01-01') AS all_before_2026
  FROM attr_demo1.touch t LEFT JOIN attr_demo1.lead l ON l.account_id = t.account_id AND l.lead_id = t.lead_id;
SELECT count(*) FILTER (WHERE cardinality(touched_at) = 0) > 0 AS some_unattributed,
       count(*) FILTER (WHERE 'true' = ANY (is_account_touch)) > 0 AS some_abm_credit
  FROM attr_demo1.lead_touch_path;
SELECT try($$SELECT leadfunnel.generate_demo_touches('attr_demo1', 5)$$);
SELECT try($$SELECT leadfunnel.generate_demo_touches('nosuch')$$);
-- j_shaped and inverse_j: first 20 % / 60 %, last touch 60 % / 20 %, the rest
-- 20 %; with two touches the middle share goes to both pro rata (25 % / 75 %);
-- the last touch of an open lead is its latest touch
SELECT m AS model, aw(m, ARRAY['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05']::timestamptz[], '2025-01-02', '2025-01-03', '2025-01-05') AS closed,
       aw(m, ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[], '2025-01-02') AS open,
       aw(m, ARRAY['2025-01-03', '2025-01-01']::timestamptz[], '2025-01-02') AS two,
       aw(m, ARRAY['2025-01-01', '2025-01-09', '2025-01-02']::timestamptz[], '2025-01-02', NULL, '2025-01-05') AS after_closing
  FROM unnest(ARRAY['j_shaped', 'inverse_j']::leadfunnel.attribution_model[]) m;

-- User position models: the shares as the function takes them, then as rows.
-- W-shaped written as shares gives the built-in W-shaped weights
SELECT (SELECT array_agg(round(w::numeric, 12)) FROM unnest(leadfunnel.position_attribution_weights('{0.3,0.3,0.3,0,0.1}', p.t, '2025-01-02', '2025-01-04', '2025-01-06 12:00')) w)
     = (SELECT array_agg(round(w::numeric, 12)) FROM unnest(leadfunnel.attribution_weights('w_shaped'::leadfunnel.attribution_model, p.t, '2025-01-02', '2025-01-04', '2025-01-06 12:00')) w)
       AS same_as_w_shaped
  FROM path p;
-- first 10 %, lead creation 20 %, opportunity 30 %, closing 25 %, rest 15 %:
-- all roles; open lead (closing absent: its 25 % to the others pro rata);
-- one touch; no role with a share has a touch (closing only, open lead): equal shares
CREATE FUNCTION public.pw(sh float8[], t timestamptz[], created timestamptz, opp timestamptz DEFAULT NULL, closed timestamptz DEFAULT NULL)
    RETURNS numeric[] LANGUAGE sql AS
$$ SELECT array_agg(round(w::numeric, 6) ORDER BY i)
     FROM unnest(leadfunnel.position_attribution_weights(sh, t, created, opp, closed)) WITH ORDINALITY u(w, i) $$;
SELECT pw('{0.1,0.2,0.3,0.25,0.15}', t, '2025-01-02', '2025-01-04', '2025-01-06 12:00') AS closed,
       pw('{0.1,0.2,0.3,0.25,0.15}', t, '2025-01-02', '2025-01-04') AS open,
       pw('{0.1,0.2,0.3,0.25,0.15}', ARRAY['2025-01-03']::timestamptz[], '2025-01-02', '2025-01-04') AS one_touch,
       pw('{0,0,0,1,0}', ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[], '2025-01-02') AS no_role_present,
       pw('{0,0,0,0,1}', ARRAY['2025-01-01', '2025-01-02', '2025-01-09']::timestamptz[], '2025-01-02', NULL, '2025-01-05') AS rest_only,
       pw('{0,0,0,0,1}', '{}', '2025-01-02') AS empty
  FROM path;
-- weights sum to 1 on random paths and random shares (any eligible touch)
SELECT count(*) AS paths, count(*) FILTER (WHERE abs(s - 1) > 1e-12) AS not_one
  FROM (SELECT (SELECT sum(w) FROM unnest(leadfunnel.position_attribution_weights(
                    ARRAY[a, b, c, d, 1 - a - b - c - d], t, created, opp, closed)) w) AS s
          FROM (SELECT g, random() * 0.25 AS a, random() * 0.25 AS b, random() * 0.25 AS c, random() * 0.25 AS d,
                       ARRAY(SELECT timestamptz '2025-01-01' + random() * interval '30 days' FROM generate_series(1, 1 + g % 7)) AS t,
                       timestamptz '2025-01-10' AS created,
                       CASE WHEN g % 3 > 0 THEN timestamptz '2025-01-20' END AS opp,
                       CASE WHEN g % 2 = 0 THEN timestamptz '2025-02-15' END AS closed
                  FROM generate_series(1, 500) g) x) y;
-- bad shares: 22023
SELECT try(format('SELECT leadfunnel.position_attribution_weights(%L, ARRAY[''2025-01-01'']::timestamptz[], NULL, NULL, NULL)', sh))
  FROM (VALUES ('{0.5,0.5,0,0}'), ('{0.5,0.5,0,0,0.1}'), ('{1.5,-0.5,0,0,0}'), ('{1,0,0,0,NULL}'), ('{NaN,0,0,0,0}'), ('{{1,0,0,0,0}}')) v(sh);
SELECT leadfunnel.position_attribution_weights(NULL, '{2025-01-01}', NULL, NULL, NULL) IS NULL AS null_shares;

-- the table: shares checked, names of built-in models refused, one default
INSERT INTO leadfunnel.attribution_model_def (name, first_touch, lead_creation, opportunity_creation, closing, other_touches, is_default)
VALUES ('fifty_fifty', 0.5, 0, 0, 0.5, 0, true), ('opp_heavy', 0.1, 0.1, 0.6, 0.1, 0.1, false);
SELECT leadfunnel.default_attribution_model();
SELECT try($$INSERT INTO leadfunnel.attribution_model_def (name, first_touch, is_default) VALUES ('u_shaped', 1, false)$$);
SELECT try($$INSERT INTO leadfunnel.attribution_model_def (name, first_touch, other_touches) VALUES ('bad_sum', 0.5, 0.4)$$);
SELECT try($$INSERT INTO leadfunnel.attribution_model_def (name, first_touch, other_touches) VALUES ('bad_range', 1.5, -0.5)$$);
SELECT try($$INSERT INTO leadfunnel.attribution_model_def (name, first_touch, is_default) VALUES ('second_default', 1, true)$$);
-- (the check is deferred to the commit; checked here at the statement's end)
BEGIN;
SET CONSTRAINTS leadfunnel.attribution_model_def_default IMMEDIATE;
SELECT try($$UPDATE leadfunnel.attribution_model_def SET is_default = false$$);
SELECT try($$DELETE FROM leadfunnel.attribution_model_def WHERE name = 'fifty_fifty'$$);
COMMIT;
BEGIN;   -- moving the default in one transaction is fine
UPDATE leadfunnel.attribution_model_def SET is_default = (name = 'opp_heavy');
COMMIT;
SELECT name, is_default FROM leadfunnel.attribution_model_def ORDER BY name;
-- attribution_weights by name: built-in names as the enum form, user models by their shares
SELECT leadfunnel.attribution_weights('u_shaped', p.t, '2025-01-02', '2025-01-04', '2025-01-06 12:00')
     = leadfunnel.attribution_weights('u_shaped'::leadfunnel.attribution_model, p.t, '2025-01-02', '2025-01-04', '2025-01-06 12:00') AS builtin_by_name,
       leadfunnel.attribution_weights('fifty_fifty', p.t, '2025-01-02', '2025-01-04', '2025-01-06 12:00')
     = leadfunnel.position_attribution_weights('{0.5,0,0,0.5,0}', p.t, '2025-01-02', '2025-01-04', '2025-01-06 12:00') AS user_by_name,
       leadfunnel.attribution_weights(NULL::text, p.t, NULL, NULL, NULL) IS NULL AS null_name
  FROM path p;
-- the views list user models with model NULL and model_name; each attributed
-- lead hands out 1 under them too
SELECT campaign_id, model, model_name, round(attributed_leads, 6) AS leads, round(attributed_pipeline, 4) AS pipeline,
       round(attributed_won, 4) AS won
  FROM attr.campaign_attribution WHERE model IS NULL ORDER BY model_name, campaign_id;
SELECT model_name, round(sum(attributed_leads), 9) AS leads FROM attr.campaign_attribution GROUP BY 1 ORDER BY 1;
SELECT lead_id, model_name, touch_id, campaign_id, round(credit::numeric, 6) AS credit
  FROM attr.touch_attribution WHERE model IS NULL ORDER BY lead_id, model_name, touched_at, touch_id;
-- = attribution_weights by name over lead_touch_path
SELECT count(*) AS rows, count(*) FILTER (WHERE abs(ta.credit - w.w) > 1e-15) AS differ
  FROM attr.touch_attribution ta
  JOIN (SELECT p.lead_id, d.name, u.touch_id, u.w
          FROM attr.lead_touch_path p CROSS JOIN leadfunnel.attribution_model_def d
         CROSS JOIN LATERAL unnest(leadfunnel.attribution_weights(d.name, p.touched_at, p.lead_created_at, p.opportunity_created_at, p.closed_at),
                                   p.touch_id) u(w, touch_id)) w
    ON w.lead_id = ta.lead_id AND w.name = ta.model_name AND w.touch_id = ta.touch_id;
SELECT try($$SELECT leadfunnel.attribution_weights('nosuch'::text, ARRAY['2025-01-01']::timestamptz[], NULL, NULL, NULL)$$);
BEGIN;
DELETE FROM leadfunnel.attribution_model_def;   -- no rows: no default needed
COMMIT;
SELECT count(*) AS user_rows FROM attr.campaign_attribution WHERE model IS NULL;

SET client_min_messages = warning;
DROP SCHEMA attr, attr_demo1, attr_demo2 CASCADE;
RESET client_min_messages;
DROP FUNCTION public.aw;

-- The state type of attribution_totals (what Citus ships between nodes as
-- text): partial states over a split of demo leads, combined, equal the
-- whole; text and binary forms round-trip exactly; bad forms are refused.
SELECT leadfunnel.create_model('attr_state');
SELECT count(*) > 0 AS demo FROM leadfunnel.generate_demo('attr_state', 200, 0.5);
CREATE AGGREGATE pg_temp.totals_partial(timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8) (
    SFUNC = leadfunnel.attribution_totals_trans, STYPE = leadfunnel.attribution_totals_state);
CREATE AGGREGATE pg_temp.totals_merge(leadfunnel.attribution_totals_state) (
    SFUNC = leadfunnel.attribution_totals_combine, STYPE = leadfunnel.attribution_totals_state,
    FINALFUNC = leadfunnel.attribution_totals_final);
CREATE TEMP VIEW totals_in AS
SELECT p.lead_id, p.touched_at, p.touch_id, p.campaign_id, p.lead_created_at, p.opportunity_created_at, p.closed_at,
       interval '7 days' AS hl, l.amount::float8 AS pipeline, CASE WHEN l.stage = 'won' THEN l.amount::float8 END AS won
  FROM attr_state.lead_touch_path p JOIN attr_state.lead l USING (account_id, lead_id);
CREATE TEMP TABLE totals_states AS
SELECT lead_id % 4 AS part, pg_temp.totals_partial(touched_at, touch_id, campaign_id, lead_created_at, opportunity_created_at,
                                                   closed_at, hl, pipeline, won) AS st
  FROM totals_in GROUP BY 1;
INSERT INTO totals_states VALUES (9, 'v1'), (10, 'v1 null:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1');
SELECT (SELECT leadfunnel.attribution_totals(touched_at, touch_id, campaign_id, lead_created_at, opportunity_created_at,
                                             closed_at, hl, pipeline, won) FROM totals_in)::text
       = (SELECT pg_temp.totals_merge(st::text::leadfunnel.attribution_totals_state) FROM totals_states WHERE part < 9)::text
       AS split_equals_whole,
       (SELECT count(*) FROM totals_states WHERE st::text::leadfunnel.attribution_totals_state::text <> st::text) AS text_differs,
       (SELECT st::text FROM totals_states WHERE part = 10) AS null_campaign;
CREATE TEMP TABLE totals_copy (LIKE totals_states);
DO $$
DECLARE f text := current_setting('data_directory') || '/lf_totals.bin';
BEGIN
    EXECUTE format('COPY totals_states TO %L (FORMAT binary)', f);
    EXECUTE format('COPY totals_copy FROM %L (FORMAT binary)', f);
END $$;
SELECT count(*) AS states, count(*) FILTER (WHERE s.st::text = c.st::text
           AND leadfunnel.attribution_totals_state_send(s.st) = leadfunnel.attribution_totals_state_send(c.st)) AS binary_round_trips
  FROM totals_states s JOIN totals_copy c USING (part);
-- bad text forms: 22P02 with the reason
SELECT try(format('SELECT %L::leadfunnel.attribution_totals_state', v)) FROM (VALUES
    ('v3'), ('v1 '), ('v1 5:1,2,3'), ('v1 5:-1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0'),
    ('v1 5:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 3:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0'),
    ('v1 null:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 3:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0'),
    ('v1 5:85070591730234615865843651857942052864,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0'),
    ('v1 5:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0x')) v(v);
-- damaged binary forms (truncated, flags and order spoiled): 22P03
CREATE FUNCTION pg_temp.totals_recv(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f text := current_setting('data_directory') || '/lf_totals_recv.bin';
    lo oid := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea || '\x0001'::bytea
                               || int4send(length(payload)) || payload || '\xffff'::bytea);
    st text := 'ok';
BEGIN
    PERFORM lo_export(lo, f);
    PERFORM lo_unlink(lo);
    BEGIN
        EXECUTE format('COPY totals_copy (st) FROM %L (FORMAT binary)', f);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    END;
    RETURN st;
END $$;
WITH v AS (SELECT leadfunnel.attribution_totals_state_send(st) AS b FROM totals_states WHERE part = 0)
SELECT outcome, count(*) FROM (
    SELECT pg_temp.totals_recv(substr(v.b, 1, n)) AS outcome FROM v, generate_series(0, length(v.b) - 1, 7) n
    UNION ALL SELECT pg_temp.totals_recv(v.b || '\x00'::bytea) FROM v
    UNION ALL SELECT pg_temp.totals_recv(overlay(v.b PLACING '\x02'::bytea FROM 6 FOR 1)) FROM v   -- null flag 2
    UNION ALL SELECT pg_temp.totals_recv(overlay(v.b PLACING '\x7f'::bytea FROM 7 FOR 1)) FROM v   -- first campaign huge: order
    UNION ALL SELECT pg_temp.totals_recv(overlay(v.b PLACING '\x03'::bytea FROM 1 FOR 1)) FROM v   -- version
    -- format 1 (0.2.0): 21 sums per campaign is read; 27 sums in format 1 are trailing bytes
    UNION ALL SELECT pg_temp.totals_recv('\x0100000001000000000000000005'::bytea || decode(repeat('00', 21 * 16), 'hex'))
    UNION ALL SELECT pg_temp.totals_recv('\x0100000001000000000000000005'::bytea || decode(repeat('00', 27 * 16), 'hex'))
    UNION ALL SELECT pg_temp.totals_recv(v.b) FROM v) o
 GROUP BY 1 ORDER BY 1;
SET client_min_messages = warning;
DROP SCHEMA attr_state CASCADE;
RESET client_min_messages;

