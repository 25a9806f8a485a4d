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
-- More bad input to settings, funnels, triggers, create_model, verify_model and
-- generate_demo.  After the failures: nothing half-written (checked at the end).
-- settings
SELECT try($$SELECT leadfunnel.setting_value('')$$);
SELECT try($$SELECT leadfunnel.set_setting(NULL, '1 day')$$);
SELECT try($$SELECT leadfunnel.set_setting('customer_term', '1 mon -31 days')$$);
SELECT try($$INSERT INTO leadfunnel.setting VALUES ('Customer_Term', '1 day')$$);
CREATE ROLE regress_lf_user;
SET ROLE regress_lf_user;
SELECT try($$SELECT leadfunnel.set_setting('customer_term', '2 days')$$);
SELECT try($$UPDATE leadfunnel.setting_default SET default_value = '1 day'$$);
SELECT try($$DELETE FROM leadfunnel.funnel WHERE NOT builtin$$);
RESET ROLE;
DROP ROLE regress_lf_user;
SELECT name, value FROM leadfunnel.settings WHERE NOT is_default;
-- funnels: odd arrays
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{{lead,won},{mql,won}}')$$);
-- arrays of other bounds or dimensions are read in storage order (documented)
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('odd_bounds', '[0:1]={lead,won}'), ('two_dims', '{{lead,mql,won}}');
SELECT leadfunnel.funnel_stages('odd_bounds'), leadfunnel.funnel_stages('two_dims'), leadfunnel.allowed_next('two_dims', 'lead');
DELETE FROM leadfunnel.funnel WHERE name IN ('odd_bounds', 'two_dims');
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages, entry_stages) VALUES ('bad', '{lead,mql,won}', '{}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages, entry_stages) VALUES ('bad', '{lead,mql,won}', '{lead,NULL}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages, reopen_stages) VALUES ('bad', '{lead,mql,won}', '{}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel_transition VALUES ('enterprise', NULL, 'sql')$$);
SELECT try($$SELECT leadfunnel.funnel_stages('')$$);
SELECT leadfunnel.allowed_next('enterprise', NULL) IS NULL AS null_stage_null_result;
-- triggers: called directly, attached where they do not belong, misused
SELECT try($$SELECT leadfunnel.lead_stage_transition()$$);
CREATE TABLE public.not_a_lead (x int);
CREATE TRIGGER t BEFORE INSERT ON public.not_a_lead FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_transition();
SELECT try($$INSERT INTO public.not_a_lead VALUES (1)$$);
DROP TRIGGER t ON public.not_a_lead;
CREATE TRIGGER t BEFORE INSERT ON public.not_a_lead FOR EACH STATEMENT EXECUTE FUNCTION leadfunnel.lead_stage_transition();
SELECT try($$INSERT INTO public.not_a_lead VALUES (1)$$);
DROP TRIGGER t ON public.not_a_lead;
CREATE TRIGGER t AFTER INSERT ON public.not_a_lead FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_record();
SELECT try($$INSERT INTO public.not_a_lead VALUES (1)$$);
DROP TRIGGER t ON public.not_a_lead;
CREATE TABLE public.fake_lead (LIKE bad.lead INCLUDING DEFAULTS);
CREATE TRIGGER t AFTER INSERT ON public.fake_lead FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_record('public.nosuch');
SELECT try($$INSERT INTO public.fake_lead (lead_id, account_id, created_at, stage_entered_at) VALUES (1, 1, '2024-01-01', '2024-01-01')$$);
DROP TRIGGER t ON public.fake_lead;
CREATE TRIGGER t AFTER INSERT ON public.fake_lead FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_record('public.not_a_lead');
SELECT try($$INSERT INTO public.fake_lead (lead_id, account_id, created_at, stage_entered_at) VALUES (1, 1, '2024-01-01', '2024-01-01')$$);
SELECT count(*) AS rows_in_fake_lead FROM public.fake_lead;
DROP TABLE public.fake_lead;
CREATE TRIGGER t BEFORE INSERT ON public.not_a_lead FOR EACH ROW EXECUTE FUNCTION leadfunnel.history_append_only();
SELECT try($$INSERT INTO public.not_a_lead VALUES (1)$$);
DROP TRIGGER t ON public.not_a_lead;
SELECT count(*) AS rows_in_not_a_lead FROM public.not_a_lead;
DROP TABLE public.not_a_lead;
-- moves: maintained columns, keys, unknown funnel, one bad row in a multi-row UPDATE
INSERT INTO bad.lead (lead_id, account_id, created_at) VALUES (20, 2, '2024-01-01'), (21, 2, '2024-01-01');
SELECT count(*) AS history_before FROM bad.lead_stage_history \gset
SELECT try($$UPDATE bad.lead SET stage = 'mql', max_stage = 'won' WHERE lead_id = 20$$);
SELECT try($$UPDATE bad.lead SET closed_at = '2024-02-01' WHERE lead_id = 20$$);
SELECT try($$UPDATE bad.lead SET lead_id = 22 WHERE lead_id = 20$$);
SELECT try($$UPDATE bad.lead SET account_id = 1 WHERE lead_id = 20$$);
SELECT try($$UPDATE bad.lead SET funnel = 'nosuch' WHERE lead_id = 20$$);
SELECT try($$UPDATE bad.lead SET stage = CASE lead_id WHEN 20 THEN 'mql' ELSE 'won' END::leadfunnel.lead_stage WHERE lead_id IN (20, 21)$$);
SELECT try($$DELETE FROM bad.lead WHERE lead_id = 20$$);
SELECT count(*) - :history_before AS history_rows_written, count(*) FILTER (WHERE lead_id IN (20, 21) AND seq > 1) AS moves_of_20_21
  FROM bad.lead_stage_history;
SELECT lead_id, stage, max_stage, closed_at FROM bad.lead WHERE lead_id IN (20, 21) ORDER BY lead_id;
-- create_model: an existing partial model, a name longer than NAMEDATALEN, no privilege
CREATE SCHEMA half;
CREATE TABLE half.touch (touch_id bigint);
SELECT try($$SELECT leadfunnel.create_model('half')$$);
SELECT count(*) AS tables_created_in_half FROM pg_tables WHERE schemaname = 'half';
DROP SCHEMA half CASCADE;
SELECT try($$SELECT leadfunnel.create_model(repeat('m', 70))$$);
SELECT nspname, length(nspname) FROM pg_namespace WHERE nspname LIKE 'mmmm%';
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm CASCADE;
RESET client_min_messages;
CREATE ROLE regress_lf_nocreate;
SET ROLE regress_lf_nocreate;
SELECT regexp_replace(try($$SELECT leadfunnel.create_model('nocreate')$$), 'database .*', 'database of the test') AS try;
RESET ROLE;
DROP ROLE regress_lf_nocreate;
SELECT count(*) AS schema_nocreate FROM pg_namespace WHERE nspname = 'nocreate';
-- verify_model on a schema whose history table was dropped; generate_demo bounds
CREATE SCHEMA nohist;
CREATE TABLE nohist.lead (lead_id bigint);
SELECT try($$SELECT * FROM leadfunnel.verify_model('nohist')$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo('nohist', 5)$$);
DROP SCHEMA nohist CASCADE;
SELECT try($$SELECT * FROM leadfunnel.generate_demo('bad', 10000001)$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo('bad', 10, 1.5)$$);
SELECT try($$SELECT * FROM leadfunnel.generate_demo('bad', 10, '-Infinity')$$);
SELECT count(*) AS leads_after_bad_demo FROM bad.lead;
SELECT count(*) AS violations FROM leadfunnel.verify_model('bad');
SET client_min_messages = warning;
DROP SCHEMA bad CASCADE;
RESET client_min_messages;
