-- Settings: the time windows of the lifecycle and attribution rules.  Defaults
-- ship with the extension (setting_default, not dumped); a user's changes are
-- rows of leadfunnel.setting, which pg_dump dumps, so a restore keeps them
-- without colliding with the defaults.  C code caches the effective values
-- per backend (src/settings.c); a statement trigger on both tables makes every
-- backend drop that cache.

CREATE TABLE @extschema@.setting_default (
    name          text PRIMARY KEY,
    default_value interval NOT NULL,
    description   text NOT NULL
);
COMMENT ON TABLE @extschema@.setting_default IS
'The settings leadfunnel knows, with their default values (part of the extension, not dumped). Change a value with leadfunnel.set_setting() or a row in leadfunnel.setting.';
COMMENT ON COLUMN @extschema@.setting_default.name IS 'Setting name.';
COMMENT ON COLUMN @extschema@.setting_default.default_value IS 'Value used while leadfunnel.setting has no row for the setting.';
COMMENT ON COLUMN @extschema@.setting_default.description IS 'What the setting controls.';

CREATE TABLE @extschema@.setting (
    name  text PRIMARY KEY REFERENCES @extschema@.setting_default (name),
    value interval NOT NULL,
    CONSTRAINT setting_value_positive CHECK (value > interval '0' AND isfinite(value))
);
COMMENT ON TABLE @extschema@.setting IS
'Values of settings changed from their defaults (configuration, dumped by pg_dump). Delete a row to go back to the default.';
COMMENT ON COLUMN @extschema@.setting.name IS 'Setting name, one of leadfunnel.setting_default.';
COMMENT ON COLUMN @extschema@.setting.value IS 'Value in force: a positive, finite interval.';

INSERT INTO @extschema@.setting_default (name, default_value, description) VALUES
    ('new_customer_window', '90 days',
     'How long an account stays new_customer after its first win before it counts as active_customer.'),
    ('customer_term', '365 days',
     'An account with no won lead within this time after its last win is a former_customer (churned) from then on.'),
    ('attribution_lookback', '365 days',
     'Touches count for a lead from this long before the lead was created until it closed.'),
    ('time_decay_half_life', '7 days',
     'Half-life of a touch''s weight in the time_decay attribution model of the campaign_attribution view.');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.setting', '');
GRANT SELECT ON @extschema@.setting, @extschema@.setting_default TO PUBLIC;

CREATE FUNCTION @extschema@.config_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_funnel_config_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.config_changed() IS
'Statement trigger on the settings tables: makes every backend drop its cached settings.';
CREATE TRIGGER setting_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.setting
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();

CREATE FUNCTION @extschema@.setting_value(name text) RETURNS interval
    AS 'MODULE_PATHNAME', 'lf_setting_value' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.setting_value(text) IS
'Value in force of a setting (its row in leadfunnel.setting, else its default). Unknown setting: SQLSTATE 42704.';

CREATE FUNCTION @extschema@.set_setting(name text, value interval) RETURNS interval
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $fn$
    INSERT INTO @extschema@.setting AS s (name, value) VALUES ($1, $2)
        ON CONFLICT ON CONSTRAINT setting_pkey DO UPDATE SET value = excluded.value
    RETURNING s.value;
$fn$;
COMMENT ON FUNCTION @extschema@.set_setting(text, interval) IS
'Sets a setting for the whole database (stored in leadfunnel.setting, so pg_dump keeps it) and returns the new value. Unknown setting: SQLSTATE 23503; a value that is not a positive finite interval: 23514.';

CREATE VIEW @extschema@.settings WITH (security_invoker = true) AS
SELECT d.name,
       coalesce(s.value, d.default_value) AS value,
       d.default_value,
       s.value IS NULL AS is_default,
       d.description
  FROM @extschema@.setting_default d
  LEFT JOIN @extschema@.setting s ON s.name OPERATOR(pg_catalog.=) d.name;
COMMENT ON VIEW @extschema@.settings IS 'Every setting with the value in force, its default and what it controls.';
COMMENT ON COLUMN @extschema@.settings.name IS 'Setting name.';
COMMENT ON COLUMN @extschema@.settings.value IS 'Value in force.';
COMMENT ON COLUMN @extschema@.settings.default_value IS 'Default value shipped with the extension.';
COMMENT ON COLUMN @extschema@.settings.is_default IS 'True while the default is in force.';
COMMENT ON COLUMN @extschema@.settings.description IS 'What the setting controls.';
GRANT SELECT ON @extschema@.settings TO PUBLIC;
CREATE TRIGGER setting_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.setting_default
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();
