-- leadfunnel.upgrade_model(): runs every model_add_* function of the extension
-- on a model, in name order, as its owner; errors for bad arguments.  (The
-- upgrade of the extension itself from each release is test/scripts/upgrade.sh.)
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('upm');
INSERT INTO upm.account (account_id) VALUES (1);
INSERT INTO upm.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01');

-- The model_add_* functions of this version are already part of a new model:
-- upgrading it changes nothing.
SELECT cardinality(leadfunnel.upgrade_model('upm')) = (
    SELECT count(*) FROM pg_proc WHERE pronamespace = 'leadfunnel'::regnamespace AND proname LIKE 'model\_add\_%')
    AS ran_every_model_add;
SELECT count(*) AS violations FROM leadfunnel.verify_model('upm');

-- A concern added by a later version: its model_add_* function is found and
-- run (idempotent: the second run finds the table there); a look-alike that is
-- not a member of the extension is not run.
CREATE FUNCTION leadfunnel.model_add_zz_probe(target_schema name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regclass(format('%I.probe', target_schema)) IS NULL THEN
        EXECUTE format('CREATE TABLE %I.probe (account_id bigint NOT NULL, note text)', target_schema);
    END IF;
    EXECUTE format('INSERT INTO %I.probe SELECT account_id, ''backfilled'' FROM %I.account
                     WHERE NOT EXISTS (SELECT 1 FROM %I.probe)', target_schema, target_schema, target_schema);
END $$;
CREATE FUNCTION leadfunnel.model_add_zz_stranger(target_schema name) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'not a member of the extension, must not run'; END $$;
ALTER EXTENSION leadfunnel ADD FUNCTION leadfunnel.model_add_zz_probe(name);
SELECT (leadfunnel.upgrade_model('upm'))[cardinality(leadfunnel.upgrade_model('upm'))] AS last_step;
SELECT * FROM upm.probe;
ALTER EXTENSION leadfunnel DROP FUNCTION leadfunnel.model_add_zz_probe(name);
DROP FUNCTION leadfunnel.model_add_zz_probe(name), leadfunnel.model_add_zz_stranger(name);
DROP TABLE upm.probe;

-- Bad arguments, and a role that does not own the model.
SELECT try($$SELECT leadfunnel.upgrade_model(NULL)$$);
SELECT try($$SELECT leadfunnel.upgrade_model('nosuch')$$);
SELECT try($$SELECT leadfunnel.upgrade_model('public')$$);
CREATE ROLE regress_lf_stranger;
GRANT USAGE ON SCHEMA upm TO regress_lf_stranger;
SET ROLE regress_lf_stranger;
SELECT try($$SELECT leadfunnel.upgrade_model('upm')$$);
RESET ROLE;
SET client_min_messages = warning;
DROP SCHEMA upm CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_lf_stranger;
DROP ROLE regress_lf_stranger;
