-- Stage labels: presets, validation, the cache, resolve_stage(), and a model's
-- lead moved through its labels (stage follows label, label follows stage,
-- label moves within a stage in the label history only).
SET TimeZone = 'UTC';

-- Presets: the funnel is created when missing, with the preset's rules.
SELECT leadfunnel.apply_preset('sf_opp', 'salesforce_opportunity') AS sf_opp,
       leadfunnel.apply_preset('sf_lead', 'salesforce_lead') AS sf_lead,
       leadfunnel.apply_preset('hs_life', 'hubspot_lifecycle') AS hs_life,
       leadfunnel.apply_preset('hs_deal', 'hubspot_deal') AS hs_deal;
SELECT name, stages, entry_stages, allow_skip, builtin FROM leadfunnel.funnel
 WHERE name IN ('sf_opp', 'sf_lead', 'hs_life', 'hs_deal') ORDER BY name;
SELECT funnel, from_stage, to_stage FROM leadfunnel.funnel_transition
 WHERE funnel IN ('sf_opp', 'sf_lead', 'hs_life', 'hs_deal') ORDER BY 1, 2, 3;
SELECT funnel, position, label, stage, probability, forecast_category
  FROM leadfunnel.stage_label ORDER BY funnel, position;
-- every label of every preset landed unchanged
SELECT count(*) AS differences FROM (
    SELECT p.preset, p.label, p.stage, p.position, p.probability, p.forecast_category FROM leadfunnel.preset_label p
    EXCEPT
    SELECT m.preset, s.label, s.stage, s.position, s.probability, s.forecast_category
      FROM leadfunnel.stage_label s
      JOIN (VALUES ('sf_opp', 'salesforce_opportunity'), ('sf_lead', 'salesforce_lead'),
                   ('hs_life', 'hubspot_lifecycle'), ('hs_deal', 'hubspot_deal')) m(funnel, preset)
        ON m.funnel = s.funnel) d;
-- applying again overwrites the preset's labels and keeps others
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability)
VALUES ('sf_opp', 'Discovery', 'opportunity', 11, 0.15);
UPDATE leadfunnel.stage_label SET probability = 0.33 WHERE funnel = 'sf_opp' AND label = 'Value Proposition';
SELECT leadfunnel.apply_preset('sf_opp', 'salesforce_opportunity') AS rewritten;
SELECT label, probability, forecast_category FROM leadfunnel.stage_label
 WHERE funnel = 'sf_opp' AND label IN ('Discovery', 'Value Proposition') ORDER BY label;
SELECT try($$SELECT leadfunnel.apply_preset('x', 'pipedrive')$$);
SELECT try($$SELECT leadfunnel.apply_preset(NULL, 'hubspot_deal')$$);
-- an existing funnel without the preset's stages: nothing is written
SELECT try($$SELECT leadfunnel.apply_preset('self_serve', 'hubspot_lifecycle')$$);
SELECT count(*) AS self_serve_labels FROM leadfunnel.stage_label WHERE funnel = 'self_serve';

-- Validation.
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability) VALUES ('nosuch', 'Demo', 'opportunity', 1, 0.5)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability) VALUES ('self_serve', 'Demo', 'opportunity', 1, 0.5)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability) VALUES ('enterprise', 'Demo', 'opportunity', 1, 1.5)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability) VALUES ('enterprise', 'Demo', 'opportunity', 1, -0.1)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('enterprise', '', 'opportunity', 1)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('enterprise', repeat('x', 256), 'opportunity', 1)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('enterprise', 'won', 'opportunity', 1)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('enterprise', 'Demo', 'opportunity', NULL)$$);
SELECT try($$INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('sf_opp', 'Closed Won', 'won', 1)$$);
SELECT try($$UPDATE leadfunnel.stage_label SET stage = 'mql' WHERE funnel = 'sf_opp' AND label = 'Prospecting'$$);
-- a funnel cannot drop a stage its labels use; a rename carries its labels
SELECT try($$UPDATE leadfunnel.funnel SET stages = '{sql,opportunity,won}', entry_stages = '{sql}' WHERE name = 'sf_opp'$$);
UPDATE leadfunnel.funnel SET name = 'hs_deal2' WHERE name = 'hs_deal';
SELECT funnel, count(*) FROM leadfunnel.stage_label WHERE funnel LIKE 'hs_deal%' GROUP BY funnel;
UPDATE leadfunnel.funnel SET name = 'hs_deal' WHERE name = 'hs_deal2';
-- deleting a funnel deletes its labels
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('tmp', '{lead,mql,won}');
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES ('tmp', 'Fresh', 'lead', 1), ('tmp', 'Gone', 'lost', 2);
SELECT label, forecast_category FROM leadfunnel.stage_label WHERE funnel = 'tmp' ORDER BY position;
DELETE FROM leadfunnel.funnel WHERE name = 'tmp';
SELECT count(*) AS tmp_labels FROM leadfunnel.stage_label WHERE funnel = 'tmp';

-- resolve_stage(): a label, a canonical name (with and without labels), unknown.
SELECT n.name, r.stage, r.label
  FROM unnest(ARRAY['Closed Won', 'Negotiation/Review', 'opportunity', 'won', 'mql', 'closed won', 'nope']) WITH ORDINALITY n(name, i)
 CROSS JOIN LATERAL leadfunnel.resolve_stage('sf_opp', n.name) r ORDER BY n.i;
SELECT * FROM leadfunnel.resolve_stage('hs_life', 'lead');
SELECT try($$SELECT leadfunnel.resolve_stage('nosuch', 'lead')$$);
SELECT leadfunnel.resolve_stage('sf_opp', NULL) IS NULL AS strict;

-- The application's own statuses on the built-in enterprise funnel (the
-- example of issue 12): several labels per stage.
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability, forecast_category) VALUES
    ('enterprise', 'New',         'lead',        1, NULL, NULL),
    ('enterprise', 'Working',     'tal',         2, NULL, NULL),
    ('enterprise', 'Qualified',   'tql',         3, NULL, NULL),
    ('enterprise', 'Accepted',    'sal',         4, NULL, NULL),
    ('enterprise', 'Sales Ready', 'sql',         5, NULL, NULL),
    ('enterprise', 'Demo',        'opportunity', 6, 0.3, NULL),
    ('enterprise', 'Proposal',    'opportunity', 7, 0.6, 'best_case'),
    ('enterprise', 'Negotiation', 'opportunity', 8, 0.8, 'commit'),
    ('enterprise', 'Closed Won',  'won',         9, 1, NULL),
    ('enterprise', 'Nurture',     'recycled',   10, 0, NULL),
    ('enterprise', 'Closed Lost', 'lost',       11, 0, NULL);
SELECT label, stage, forecast_category FROM leadfunnel.stage_label WHERE funnel = 'enterprise' ORDER BY position;

SELECT leadfunnel.create_model('lab');
INSERT INTO lab.account (account_id, name) VALUES (1, 'Acme'), (2, 'Globex');
-- a label decides the stage of a new lead; a stage alone gets its first label
INSERT INTO lab.lead (lead_id, account_id, funnel, created_at, stage_label) VALUES (1, 1, 'enterprise', '2024-01-01', 'New');
INSERT INTO lab.lead (lead_id, account_id, funnel, created_at, stage) VALUES (2, 1, 'enterprise', '2024-01-01', 'visitor');
INSERT INTO lab.lead (lead_id, account_id, funnel, created_at) VALUES (3, 2, 'enterprise', '2024-01-01');
INSERT INTO lab.lead (lead_id, account_id, funnel, created_at, stage_label) VALUES (4, 2, 'sf_opp', '2024-01-01', 'Qualification');
INSERT INTO lab.lead (lead_id, account_id, funnel, created_at, stage) VALUES (5, 2, 'self_serve', '2024-01-01', 'lead');
SELECT lead_id, funnel, stage, stage_label FROM lab.lead ORDER BY lead_id;
SELECT try($$INSERT INTO lab.lead (lead_id, account_id, funnel, stage_label) VALUES (9, 1, 'enterprise', 'Discovery')$$);
SELECT try($$INSERT INTO lab.lead (lead_id, account_id, funnel, stage_label) VALUES (9, 1, 'self_serve', 'New')$$);
-- the label must name an entry stage like the stage would
SELECT try($$INSERT INTO lab.lead (lead_id, account_id, funnel, stage_label) VALUES (9, 1, 'enterprise', 'Demo')$$);

-- Moves through labels follow the funnel rules exactly as canonical moves.
UPDATE lab.lead SET stage = 'mql', stage_entered_at = '2024-01-03' WHERE lead_id = 1;
UPDATE lab.lead SET stage_label = 'Working', stage_entered_at = '2024-01-05' WHERE lead_id = 1;
SELECT try($$UPDATE lab.lead SET stage_label = 'Demo' WHERE lead_id = 1$$);
SELECT try($$UPDATE lab.lead SET stage = 'opportunity' WHERE lead_id = 1$$) AS canonical;
SELECT try($$UPDATE lab.lead SET stage_label = 'Nope' WHERE lead_id = 1$$);
SELECT try($$UPDATE lab.lead SET stage = 'sal', stage_label = 'Demo' WHERE lead_id = 1$$);
SELECT try($$UPDATE lab.lead SET stage_label = 'Prospecting' WHERE lead_id = 1$$);
UPDATE lab.lead SET stage_label = 'Qualified', stage_entered_at = '2024-01-07' WHERE lead_id = 1;
UPDATE lab.lead SET stage_label = 'Accepted', stage_entered_at = '2024-01-10' WHERE lead_id = 1;
UPDATE lab.lead SET stage_label = 'Sales Ready', stage_entered_at = '2024-01-12' WHERE lead_id = 1;
-- both written, agreeing: fine
UPDATE lab.lead SET stage = 'opportunity', stage_label = 'Proposal', stage_entered_at = '2024-01-15' WHERE lead_id = 1;
-- moves between labels of one stage: label history only
UPDATE lab.lead SET stage_label = 'Demo' WHERE lead_id = 1;
UPDATE lab.lead SET stage_label = 'Negotiation' WHERE lead_id = 1;
UPDATE lab.lead SET stage_label = 'Negotiation' WHERE lead_id = 1;
-- clearing the label gives the stage's first label
UPDATE lab.lead SET stage_label = NULL WHERE lead_id = 2;
UPDATE lab.lead SET stage = 'lead', stage_entered_at = '2024-01-03' WHERE lead_id = 2;
UPDATE lab.lead SET stage = 'mql', stage_entered_at = '2024-01-04' WHERE lead_id = 2;
UPDATE lab.lead SET stage_label = 'Nurture', stage_entered_at = '2024-01-06', close_reason = 'no budget' WHERE lead_id = 2;
-- a stage move writes the stage's first label
UPDATE lab.lead SET stage = 'lost', stage_entered_at = '2024-01-02' WHERE lead_id = 3;
UPDATE lab.lead SET stage_label = 'Closed Won', stage_entered_at = '2024-01-09' WHERE lead_id = 4;
-- a funnel change keeps a label the new funnel has for the stage, else takes its first
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position) VALUES
    ('inside_sales', 'Inbound', 'lead', 1), ('inside_sales', 'New', 'lead', 2);
INSERT INTO lab.lead (lead_id, account_id, funnel, created_at, stage_label) VALUES (6, 2, 'enterprise', '2024-01-01', 'New');
UPDATE lab.lead SET funnel = 'inside_sales' WHERE lead_id IN (5, 6);
SELECT lead_id, funnel, stage, stage_label, max_stage, closed_at, close_reason FROM lab.lead ORDER BY lead_id;
SELECT lead_id, seq, from_stage, to_stage, entered_at, left_at, reason FROM lab.lead_stage_history ORDER BY lead_id, seq;
-- (a move within a stage is dated now(): shown as 'now')
SELECT lead_id, seq, stage, label,
       CASE WHEN entered_at > '2025-01-01' THEN 'now' ELSE entered_at::text END AS entered_at,
       CASE WHEN left_at > '2025-01-01' THEN 'now' ELSE left_at::text END AS left_at
  FROM lab.lead_label_history ORDER BY lead_id, seq;
SELECT * FROM leadfunnel.verify_model('lab');

-- Time per label, from the label history, against the same answer computed
-- from the canonical history where a stage had one label.
SELECT h.label, sum(h.left_at - h.entered_at) AS time_in_label
  FROM lab.lead_label_history h WHERE h.lead_id = 1 AND h.left_at < '2025-01-01'
 GROUP BY h.label ORDER BY min(h.seq);
SELECT count(*) AS disagreements FROM lab.lead_stage_history s
  JOIN lab.lead_label_history l USING (account_id, lead_id, entered_at)
 WHERE s.lead_id = 1 AND s.to_stage <> 'opportunity'
   AND (l.stage <> s.to_stage OR l.left_at IS DISTINCT FROM s.left_at);

-- The canonical views do not see label moves within a stage.
CREATE TEMP TABLE before_summary AS SELECT * FROM lab.funnel_summary;
CREATE TEMP TABLE before_cycle AS SELECT * FROM lab.cycle_times;
UPDATE lab.lead SET stage_label = 'Demo' WHERE lead_id = 1;
UPDATE lab.lead SET stage_label = 'Proposal' WHERE lead_id = 1;
SELECT (SELECT count(*) FROM (SELECT * FROM lab.funnel_summary EXCEPT SELECT * FROM before_summary) d) AS summary_changed,
       (SELECT count(*) FROM (SELECT * FROM lab.cycle_times EXCEPT SELECT * FROM before_cycle) d) AS cycle_changed,
       (SELECT count(*) FROM lab.lead_stage_history WHERE lead_id = 1) AS stage_rows,
       (SELECT count(*) FROM lab.lead_label_history WHERE lead_id = 1) AS label_rows;

-- A label added now is usable by the next statement (the cache is dropped).
INSERT INTO leadfunnel.stage_label (funnel, label, stage, position, probability) VALUES ('enterprise', 'Legal', 'opportunity', 9, 0.9);
UPDATE lab.lead SET stage_label = 'Legal' WHERE lead_id = 1;
DELETE FROM leadfunnel.stage_label WHERE funnel = 'enterprise' AND label = 'Legal';
SELECT try($$UPDATE lab.lead SET stage_label = 'Legal' WHERE lead_id = 1 AND stage_label <> 'Legal'$$) AS no_rows,
       try($$UPDATE lab.lead SET stage_label = 'Legal' WHERE lead_id = 5$$) AS gone;
SELECT lead_id, stage, stage_label FROM lab.lead WHERE lead_id = 1;

-- The label history is append-only like the stage history.
SELECT try($$DELETE FROM lab.lead_label_history$$);
SELECT try($$TRUNCATE lab.lead_label_history$$);
SELECT try($$UPDATE lab.lead_label_history SET label = 'x'$$);
SELECT * FROM leadfunnel.verify_model('lab');
-- model_add_labels() is idempotent
SELECT leadfunnel.model_add_labels('lab');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'lab.lead'::regclass AND NOT tgisinternal;

-- Later tests use the built-in funnels without labels.
SET client_min_messages = warning;
DROP SCHEMA lab CASCADE;
RESET client_min_messages;
DELETE FROM leadfunnel.stage_label WHERE funnel IN ('enterprise', 'inside_sales');
DELETE FROM leadfunnel.funnel WHERE name IN ('sf_opp', 'sf_lead', 'hs_life', 'hs_deal');
SELECT count(*) AS labels_left FROM leadfunnel.stage_label;
