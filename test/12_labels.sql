-- pgTAP: the catalog contract of stage labels and presets, and their errors.
BEGIN;
CREATE EXTENSION leadfunnel;
SELECT plan(29);

SELECT has_enum('leadfunnel', 'forecast_category', 'enum forecast_category');
SELECT enum_has_labels('leadfunnel', 'forecast_category', ARRAY['pipeline','best_case','commit','closed','omitted']);
SELECT has_table('leadfunnel', 'stage_label', 'stage label configuration table');
SELECT columns_are('leadfunnel', 'stage_label', ARRAY['funnel', 'label', 'stage', 'position', 'probability', 'forecast_category']);
SELECT col_is_pk('leadfunnel', 'stage_label', ARRAY['funnel', 'label']::name[], 'stage_label keyed by (funnel, label)');
SELECT col_type_is('leadfunnel', 'stage_label', 'stage', 'leadfunnel.lead_stage', 'stage is a lead_stage');
SELECT col_type_is('leadfunnel', 'stage_label', 'probability', 'numeric', 'probability is numeric');
SELECT col_type_is('leadfunnel', 'stage_label', 'forecast_category', 'leadfunnel.forecast_category', 'forecast_category is the enum');
SELECT has_function('leadfunnel', 'apply_preset', ARRAY['text', 'text'], 'apply_preset(funnel, preset)');
SELECT has_function('leadfunnel', 'resolve_stage', ARRAY['text', 'text'], 'resolve_stage(funnel, name)');
SELECT ok((SELECT extcondition[array_position(extconfig, 'leadfunnel.stage_label'::regclass)] = ''
             FROM pg_extension WHERE extname = 'leadfunnel'), 'every row of stage_label is dumped');
SELECT set_eq($$SELECT name FROM leadfunnel.preset$$,
              ARRAY['salesforce_opportunity', 'salesforce_lead', 'hubspot_lifecycle', 'hubspot_deal'], 'the four presets');

SELECT is(leadfunnel.apply_preset('sf', 'salesforce_opportunity'), 10, 'salesforce_opportunity: ten labels');
SELECT results_eq($$SELECT label, probability FROM leadfunnel.stage_label WHERE funnel = 'sf' ORDER BY position$$,
                  $$VALUES ('Prospecting', 0.10), ('Qualification', 0.10), ('Needs Analysis', 0.20), ('Value Proposition', 0.50),
                           ('Id. Decision Makers', 0.60), ('Perception Analysis', 0.70), ('Proposal/Price Quote', 0.75),
                           ('Negotiation/Review', 0.90), ('Closed Won', 1.00), ('Closed Lost', 0.00)$$,
                  'Salesforce default stages and probabilities');
SELECT is(leadfunnel.apply_preset('hs', 'hubspot_deal'), 7, 'hubspot_deal: seven labels');
SELECT results_eq($$SELECT label, probability, stage::text FROM leadfunnel.stage_label WHERE funnel = 'hs' ORDER BY position$$,
                  $$VALUES ('appointmentscheduled', 0.20, 'sal'), ('qualifiedtobuy', 0.40, 'sql'), ('presentationscheduled', 0.60, 'opportunity'),
                           ('decisionmakerboughtin', 0.80, 'opportunity'), ('contractsent', 0.90, 'opportunity'),
                           ('closedwon', 1.00, 'won'), ('closedlost', 0.00, 'lost')$$,
                  'HubSpot default deal pipeline');
SELECT throws_ok($$SELECT leadfunnel.apply_preset('x', 'nosuch')$$, '42704', NULL, 'unknown preset: 42704');
SELECT throws_ok($$INSERT INTO leadfunnel.stage_label VALUES ('nosuch', 'A', 'lead', 1, 0.1, 'pipeline')$$, '23503', NULL, 'label of a missing funnel: 23503');
SELECT throws_ok($$INSERT INTO leadfunnel.stage_label VALUES ('self_serve', 'A', 'sql', 1, 0.1, 'pipeline')$$, '23514', NULL, 'label of a stage outside the funnel: 23514');
SELECT throws_ok($$INSERT INTO leadfunnel.stage_label VALUES ('sf', 'A', 'opportunity', 1, 2, 'pipeline')$$, '23514', NULL, 'probability above 1: 23514');

SELECT lives_ok($$SELECT leadfunnel.create_model('tap')$$, 'create_model');
SELECT has_column('tap', 'lead', 'stage_label', 'lead has stage_label');
SELECT has_table('tap', 'lead_label_history', 'label history');
SELECT is((SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'tap.lead_label_history'::regclass AND indisunique),
          'CREATE UNIQUE INDEX lead_label_history_current ON tap.lead_label_history USING btree (account_id, lead_id, seq) WHERE (superseded_at IS NULL)',
          'label history: current truth keyed by account, lead, seq (bitemporal, no primary key)');
SELECT results_eq($$SELECT relreplident::text FROM pg_class WHERE oid IN ('tap.lead_stage_history'::regclass, 'tap.lead_label_history'::regclass)$$,
                  ARRAY['f', 'f'], 'both histories replicate updates with the whole old row (REPLICA IDENTITY FULL)');
INSERT INTO tap.account (account_id) VALUES (1);
INSERT INTO tap.lead (lead_id, account_id, funnel, stage_label) VALUES (1, 1, 'sf', 'Prospecting');
SELECT throws_ok($$UPDATE tap.lead SET stage_label = 'Nope' WHERE lead_id = 1$$, '23503', NULL, 'unknown label in a row: 23503');
SELECT throws_ok($$UPDATE tap.lead SET funnel = 'nosuch' WHERE lead_id = 1$$, '23503', NULL, 'unknown funnel in a row: 23503');
UPDATE tap.lead SET stage_label = 'Needs Analysis' WHERE lead_id = 1;
UPDATE tap.lead SET stage_label = 'Value Proposition' WHERE lead_id = 1;
SELECT results_eq($$SELECT to_stage::text FROM tap.lead_stage_history WHERE lead_id = 1 ORDER BY seq$$,
                  ARRAY['sal', 'opportunity'], 'a label move within a stage adds no stage history');
SELECT results_eq($$SELECT label FROM tap.lead_label_history WHERE lead_id = 1 ORDER BY seq$$,
                  ARRAY['Prospecting', 'Needs Analysis', 'Value Proposition'], 'every label move is in the label history');

SELECT * FROM finish();
ROLLBACK;
