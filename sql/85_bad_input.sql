-- Bad input to the core: each gives a clear error with a standard SQLSTATE (or a
-- documented result) and leaves nothing half-written.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('bad');
INSERT INTO bad.account (account_id) VALUES (1), (2);
INSERT INTO bad.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01');

SELECT leadfunnel.allowed_next(NULL, NULL) IS NULL AS null_in_null_out;
SELECT leadfunnel.entry_stages(NULL) IS NULL AS null_in_null_out;
SELECT try($$SELECT leadfunnel.allowed_next('', 'lead')$$);
SELECT try($$SELECT leadfunnel.funnel_stages(repeat('x', 10000))$$);
SELECT try($$SELECT leadfunnel.entry_stages('ENTERPRISE')$$);
SELECT try($$SELECT leadfunnel.allowed_next('enterprise', '')$$);
SELECT try($$SELECT leadfunnel.create_model('')$$);
SELECT try($$SELECT leadfunnel.create_model('pg_catalog')$$);
SELECT try($$SELECT * FROM leadfunnel.verify_model('nosuch')$$);
SELECT try($$SELECT * FROM leadfunnel.verify_model(NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.verify_model('public')$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo(NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo('bad', NULL)$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo('bad', -5)$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo('bad', 10, 'NaN')$$);
-- A schema name that needs quoting works.
SELECT leadfunnel.create_model('Sales "EMEA"');
SELECT count(*) AS tables FROM pg_tables WHERE schemaname = 'Sales "EMEA"';
SELECT count(*) AS violations FROM leadfunnel.verify_model('Sales "EMEA"');
SET client_min_messages = warning;
DROP SCHEMA "Sales ""EMEA""" CASCADE;
RESET client_min_messages;

-- Leads: duplicate keys, missing accounts and contacts, NULLs, bad times, huge values.
SELECT try($$INSERT INTO bad.lead (lead_id, account_id) VALUES (1, 1)$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id) VALUES (NULL, 1)$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id) VALUES (2, 99)$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, contact_id) VALUES (2, 1, 42)$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, source_campaign_id) VALUES (2, 1, 42)$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, created_at) VALUES (2, 1, 'infinity')$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, created_at, stage_entered_at) VALUES (2, 1, '2024-01-01', 'infinity')$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, created_at, stage) VALUES (2, 1, '2024-01-01', 'closed')$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, funnel) VALUES (2, 1, '')$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, funnel) VALUES (2, 1, repeat('f', 200))$$);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, created_at) VALUES (9223372036854775807, 1, '2024-01-01')$$);
-- A NULL stage_entered_at in a move means the current time.
BEGIN;
UPDATE bad.lead SET stage = 'mql', stage_entered_at = NULL WHERE lead_id = 1;
SELECT stage, stage_entered_at = now() AS null_time_means_now FROM bad.lead WHERE lead_id = 1;
COMMIT;
SELECT try($$UPDATE bad.lead SET stage = 'tal', stage_entered_at = '2024-01-01' WHERE lead_id = 1$$) LIKE '23514 lead_stage_chronology: lead 1 cannot enter stage "tal" at 2024-01-01 00:00:00+00, before it entered stage "mql" at %' AS backdated_refused;
-- Several moves of one lead in one transaction are recorded in order.
BEGIN;
UPDATE bad.lead SET stage = 'tal' WHERE lead_id = 1;
UPDATE bad.lead SET stage = 'tql' WHERE lead_id = 1;
UPDATE bad.lead SET stage = 'lost' WHERE lead_id = 1;
COMMIT;
SELECT seq, from_stage, to_stage, left_at IS NULL AS current FROM bad.lead_stage_history WHERE lead_id = 1 ORDER BY seq;
-- A failed statement in a transaction block leaves nothing once rolled back to a savepoint.
BEGIN;
INSERT INTO bad.lead (lead_id, account_id, created_at) VALUES (3, 2, '2024-01-01');
SAVEPOINT s;
UPDATE bad.lead SET stage = 'mql', stage_entered_at = '2024-01-02' WHERE lead_id = 3;
SELECT count(*) AS rows_inside FROM bad.lead_stage_history WHERE lead_id = 3;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS rows_after_rollback FROM bad.lead_stage_history WHERE lead_id = 3;
COMMIT;
-- Touches and contacts keep their composite keys.
SELECT try($$INSERT INTO bad.contact (contact_id, account_id) VALUES (1, 99)$$);
INSERT INTO bad.contact (contact_id, account_id) VALUES (1, 1);
SELECT try($$INSERT INTO bad.lead (lead_id, account_id, contact_id) VALUES (4, 2, 1)$$);
INSERT INTO bad.campaign (campaign_id) VALUES (1);
SELECT try($$INSERT INTO bad.touch (touch_id, campaign_id, account_id, lead_id, touched_at) VALUES (1, 1, 2, 1, '2024-01-01')$$);
SELECT try($$INSERT INTO bad.touch (touch_id, campaign_id, account_id, touched_at) VALUES (1, 1, 1, NULL)$$);
SELECT count(*) AS violations FROM leadfunnel.verify_model('bad');
SET client_min_messages = warning;
DROP SCHEMA bad CASCADE;
RESET client_min_messages;
