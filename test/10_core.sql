-- pgTAP: the catalog contract of the funnel core and its error contract.
BEGIN;
CREATE EXTENSION leadfunnel;
SELECT plan(51);

SELECT has_schema('leadfunnel');
SELECT has_enum('leadfunnel', 'lead_stage', 'enum lead_stage');
SELECT enum_has_labels('leadfunnel', 'lead_stage',
    ARRAY['visitor','lead','mql','tal','tql','sal','sql','opportunity','won','recycled','disqualified','lost']);
SELECT enum_has_labels('leadfunnel', 'account_status',
    ARRAY['prospect','new_customer','active_customer','advocate','former_customer']);
SELECT enum_has_labels('leadfunnel', 'lead_motion', ARRAY['new_business','expansion','win_back']);
SELECT enum_has_labels('leadfunnel', 'contact_status', ARRAY['contact','subscriber','lead','customer']);
SELECT enum_has_labels('leadfunnel', 'attribution_model',
    ARRAY['first_touch','last_touch','linear','u_shaped','w_shaped','full_path','time_decay','j_shaped','inverse_j']);

SELECT has_table('leadfunnel', 'funnel', 'funnel configuration table');
SELECT col_is_pk('leadfunnel', 'funnel', 'name', 'funnel is keyed by name');
SELECT has_table('leadfunnel', 'funnel_transition', 'transition rules table');
SELECT set_eq($$SELECT name FROM leadfunnel.funnel WHERE builtin$$,
              ARRAY['enterprise', 'inside_sales', 'self_serve'], 'the three built-in funnels');

SELECT has_function('leadfunnel', 'allowed_next', ARRAY['text', 'leadfunnel.lead_stage']);
SELECT function_returns('leadfunnel', 'allowed_next', ARRAY['text', 'leadfunnel.lead_stage'], 'leadfunnel.lead_stage[]');
SELECT volatility_is('leadfunnel', 'allowed_next', ARRAY['text', 'leadfunnel.lead_stage'], 'stable');
SELECT has_function('leadfunnel', 'create_model', ARRAY['name', 'boolean']);
SELECT has_function('leadfunnel', 'verify_model', ARRAY['name']);

-- allowed_next against the published waterfall of each built-in funnel
SELECT is(leadfunnel.allowed_next('enterprise', 'tql'), '{sal,recycled,disqualified,lost}', 'enterprise: TQL goes to field sales (SAL)');
SELECT is(leadfunnel.allowed_next('inside_sales', 'tql'), '{opportunity,recycled,disqualified,lost}', 'inside sales: no SAL/SQL');
SELECT is(leadfunnel.allowed_next('self_serve', 'mql'), '{won,recycled,disqualified,lost}', 'self-serve: MQL buys directly');
SELECT is(leadfunnel.allowed_next('enterprise', 'opportunity'), '{won,recycled,disqualified,lost}', 'won only from the last open stage');
SELECT is(leadfunnel.allowed_next('enterprise', 'won'), '{}', 'won is terminal');
SELECT is(leadfunnel.allowed_next('enterprise', 'lost'), '{}', 'lost is terminal');
SELECT is(leadfunnel.allowed_next('enterprise', 'recycled'), '{visitor,lead}', 'recycled reopens into the first stages');
SELECT throws_ok($$SELECT leadfunnel.allowed_next('nosuch', 'mql')$$, '42704', NULL, 'unknown funnel: 42704');
SELECT throws_ok($$SELECT leadfunnel.allowed_next('enterprise', 'nosuch')$$, '22P02', NULL, 'unknown stage: 22P02');

-- the model
SELECT lives_ok($$SELECT leadfunnel.create_model('tap')$$, 'create_model');
SELECT tables_are('tap', ARRAY['account', 'contact', 'campaign', 'lead', 'lead_stage_history', 'lead_stage_history_reject', 'touch', 'account_event', 'lead_label_history', 'lead_value_history', 'tracking_issue']);
SELECT has_trigger('tap', 'lead', 'lead_stage_transition', 'trigger lead_stage_transition');
SELECT has_trigger('tap', 'lead', 'lead_stage_record', 'trigger lead_stage_record');
SELECT has_trigger('tap', 'lead_stage_history', 'lead_stage_history_append_only', 'trigger lead_stage_history_append_only');
SELECT is((SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'tap.lead_stage_history'::regclass AND indisunique),
          'CREATE UNIQUE INDEX lead_stage_history_current ON tap.lead_stage_history USING btree (account_id, lead_id, seq) WHERE (superseded_at IS NULL)',
          'current truth of the history keyed by account, lead, seq (bitemporal: superseded rows share seq)');
SELECT col_is_unique('tap', 'lead', ARRAY['account_id', 'lead_id']::name[], 'lead unique on (account_id, lead_id)');
-- history: import and corrections (contract names), EXECUTE only for roles granted it
SELECT has_function('leadfunnel', 'import_history', ARRAY['name', 'regclass'], 'import_history(target_schema, source)');
SELECT has_function('leadfunnel', 'correct_history', ARRAY['name', 'bigint', 'leadfunnel.stage_move[]', 'text'], 'correct_history(target_schema, lead_id, moves, reason)');
SELECT has_function('tap', 'lead_stage_history_as_of_record', ARRAY['timestamp with time zone'], '<schema>.lead_stage_history_as_of_record(recorded_at)');
SELECT columns_are('leadfunnel', 'stage_move', ARRAY['stage', 'entered_at'], 'stage_move(stage, entered_at)');
SELECT ok(NOT has_function_privilege('public', 'leadfunnel.import_history(name, regclass)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'leadfunnel.correct_history(name, bigint, leadfunnel.stage_move[], text)', 'EXECUTE'),
          'import_history and correct_history are not executable by PUBLIC');
SELECT fk_ok('tap', 'lead_stage_history', ARRAY['account_id', 'lead_id']::name[], 'tap', 'lead', ARRAY['account_id', 'lead_id']::name[], 'composite foreign key to lead');
SELECT fk_ok('tap', 'touch', ARRAY['account_id', 'lead_id']::name[], 'tap', 'lead', ARRAY['account_id', 'lead_id']::name[], 'composite foreign key to lead');
SELECT fk_ok('tap', 'lead', ARRAY['account_id', 'contact_id']::name[], 'tap', 'contact', ARRAY['account_id', 'contact_id']::name[], 'composite foreign key to contact');
SELECT throws_ok($$SELECT leadfunnel.create_model('tap')$$, '42P07', NULL, 'a second model in one schema: 42P07');

INSERT INTO tap.account (account_id) VALUES (1);
INSERT INTO tap.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01');
SELECT throws_ok($$UPDATE tap.lead SET stage = 'won' WHERE lead_id = 1$$, '23514', NULL, 'refused move: 23514');
SELECT throws_ok($$UPDATE tap.lead SET stage = 'mql', stage_entered_at = '2023-12-31' WHERE lead_id = 1$$, '23514', NULL, 'backdated move: 23514');
SELECT throws_ok($$INSERT INTO tap.lead (lead_id, account_id, stage) VALUES (2, 1, 'sal')$$, '23514', NULL, 'bad entry stage: 23514');
SELECT throws_ok($$UPDATE tap.lead_stage_history SET reason = 'x'$$, '42501', NULL, 'history is append-only');
SELECT throws_ok($$UPDATE tap.lead SET max_stage = 'won'$$, '428C9', NULL, 'max_stage is maintained');

-- the constraint name travels with the error, as client libraries read it
CREATE FUNCTION pg_temp.constraint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE c text;
BEGIN
    EXECUTE sql; RETURN NULL;
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME; RETURN c;
END $$;
SELECT is(pg_temp.constraint_of($$UPDATE tap.lead SET stage = 'won' WHERE lead_id = 1$$), 'lead_stage_transition', 'constraint lead_stage_transition');
SELECT is(pg_temp.constraint_of($$UPDATE tap.lead SET stage = 'mql', stage_entered_at = '2999-01-01' WHERE lead_id = 1$$), 'lead_stage_chronology', 'constraint lead_stage_chronology');

UPDATE tap.lead SET stage = 'mql', stage_entered_at = '2024-01-02' WHERE lead_id = 1;
SELECT results_eq($$SELECT seq, from_stage::text, to_stage::text FROM tap.lead_stage_history ORDER BY seq$$,
                  $$VALUES (1, NULL, 'lead'), (2, 'lead', 'mql')$$, 'history rows of a move');
SELECT is_empty($$SELECT * FROM leadfunnel.verify_model('tap')$$, 'invariants hold');
SELECT throws_ok($$DROP EXTENSION leadfunnel$$, '2BP01', NULL, 'DROP EXTENSION refuses while a model exists');

SELECT * FROM finish();
ROLLBACK;
