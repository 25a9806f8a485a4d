-- Assembled by tools/upgrade-script.sh from src/sql/upgrade/0.1.0--0.2.0.sql, the files new in this
-- version and the current definitions of changed objects.  Do not edit.
-- leadfunnel upgrade 0.1.0 -> 0.2.0, hand-written part: runs first, before the
-- files new in 0.2.0 and the current definitions of the changed objects that
-- the Makefile appends (UPGRADE_NEW, UPGRADE_REPLACE; see doc/releasing.md).
-- Put here what CREATE OR REPLACE cannot do: DROP of objects 0.2.0 no longer
-- has or whose signature or result type changed (then list them in
-- UPGRADE_REPLACE too, or add their new definition here), ALTER of the
-- extension's tables, migrations of the extension's configuration rows.
-- Models (the users' schemas) are not touched here: after ALTER EXTENSION
-- UPDATE their owners run leadfunnel.upgrade_model().
\echo Use "ALTER EXTENSION leadfunnel UPDATE" to load this file. \quit

-- create_model gained the argument "distributed" (the new definition follows).
DROP FUNCTION @extschema@.create_model(name);

-- ---- new: src/sql/15_settings.sql
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

-- ---- new: src/sql/40_lifecycle.sql
-- Lifecycle: account status, lead motion and contact status.  The rule lives
-- in C (src/lifecycle.c) and is derived from facts: won moves in the stage
-- history, and churn and advocate events in the model's account_event table.
-- model_add_lifecycle() adds the lifecycle objects to a model; create_model()
-- calls it, and so can an upgrade of a model made by 0.1.0.

CREATE FUNCTION @extschema@.lead_motion() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_lead_motion' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lead_motion() IS
'BEFORE INSERT OR UPDATE OF motion row trigger on a model''s lead table (arguments: the model''s account, contact, lead, lead_stage_history and account_event tables): sets motion from the account''s status at the lead''s created_at; refuses other values (SQLSTATE 428C9).';

CREATE FUNCTION @extschema@.lead_lifecycle() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_lead_lifecycle' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lead_lifecycle() IS
'AFTER INSERT / UPDATE OF stage, contact_id row trigger on a model''s lead table (arguments: account, contact, lead, lead_stage_history, account_event tables): a won lead refreshes its account''s status and contacts; a lead that opens, closes or changes contact refreshes its contact''s status.';

CREATE FUNCTION @extschema@.account_lifecycle() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_account_lifecycle' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.account_lifecycle() IS
'Row trigger on a model''s account table (arguments: account, contact, lead, lead_stage_history, account_event tables). BEFORE: status and status_since are maintained (428C9), churned_at must be a finite past time (23514, constraint account_lifecycle_chronology). AFTER: records changes of churned_at and is_advocate in account_event and refreshes the status.';

CREATE FUNCTION @extschema@.contact_lifecycle() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_contact_lifecycle' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.contact_lifecycle() IS
'BEFORE INSERT OR UPDATE OF opt_in, status, account_id row trigger on a model''s contact table (arguments: account, contact, lead, lead_stage_history, account_event tables): derives the contact''s status; refuses direct changes of it (428C9).';

CREATE FUNCTION @extschema@.lifecycle_status(history regclass, events regclass, account_id bigint, at timestamptz,
                                             OUT status @extschema@.account_status, OUT status_since timestamptz)
    AS 'MODULE_PATHNAME', 'lf_lifecycle_status' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.lifecycle_status(regclass, regclass, bigint, timestamptz) IS
'The lifecycle rule: an account''s status at a moment and since when it held, from the won moves in a model''s lead_stage_history and the events in its account_event table. Used by <schema>.account_status_at() and the account_lifecycle view.';

CREATE FUNCTION @extschema@.lifecycle_status_at(account regclass, history regclass, events regclass,
                                                account_id bigint, at timestamptz)
    RETURNS @extschema@.account_status
    AS 'MODULE_PATHNAME', 'lf_lifecycle_status_at' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.lifecycle_status_at(regclass, regclass, regclass, bigint, timestamptz) IS
'An account''s status at a moment (see lifecycle_status); NULL for an account that is not in the model''s account table. Used by <schema>.account_status_at().';

CREATE FUNCTION @extschema@.lifecycle_history(account regclass, history regclass, events regclass, account_id bigint)
    RETURNS TABLE (status @extschema@.account_status, valid_from timestamptz, valid_until timestamptz)
    AS 'MODULE_PATHNAME', 'lf_lifecycle_history' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION @extschema@.lifecycle_history(regclass, regclass, regclass, bigint) IS
'An account''s status history derived from the facts of a model (see lifecycle_status): one row per stretch, in time order; the first is prospect with valid_from NULL, the last has valid_until NULL; no rows for an account that is not in the model''s account table. Used by <schema>.account_status_history().';

CREATE FUNCTION @extschema@.lifecycle_refresh(account regclass, contact regclass, lead regclass,
                                              history regclass, events regclass, recompute_motion boolean)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'lf_lifecycle_refresh' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lifecycle_refresh(regclass, regclass, regclass, regclass, regclass, boolean) IS
'Brings the stored account and contact statuses of a model (and, if asked, the motion of its leads) up to date; returns the number of accounts whose stored status changed. Called by leadfunnel.refresh_lifecycle().';

CREATE FUNCTION @extschema@.contact_status_rule(account_is_customer boolean, has_open_lead boolean, opt_in boolean)
    RETURNS @extschema@.contact_status
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT (CASE WHEN coalesce($1, false) THEN 'customer'
                 WHEN coalesce($2, false) THEN 'lead'
                 WHEN coalesce($3, false) THEN 'subscriber'
                 ELSE 'contact' END)::@extschema@.contact_status;
$fn$;
COMMENT ON FUNCTION @extschema@.contact_status_rule(boolean, boolean, boolean) IS
'The contact status rule: customer while the contact''s account is a customer; else lead while the contact has an open lead; else subscriber if it opted in, contact if not.';

CREATE FUNCTION @extschema@.lifecycle_refresh_account(account regclass, contact regclass, lead regclass,
                                                      history regclass, events regclass, account_id bigint,
                                                      status @extschema@.account_status, status_since timestamptz,
                                                      recompute_motion boolean)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'lf_lifecycle_refresh_account' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lifecycle_refresh_account(regclass, regclass, regclass, regclass, regclass, bigint, @extschema@.account_status, timestamptz, boolean) IS
'The refresh of one account of a model, given its stored status and status_since (see lifecycle_refresh); returns whether the stored status changed. Called per row of a query over the account table by leadfunnel.refresh_lifecycle() for a distributed model, so that on Citus it runs on the node holding the account, on its shards.';

CREATE FUNCTION @extschema@.model_add_lifecycle(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    on_citus boolean;
    citus_saved text[];
    ddl text;
    args text;
BEGIN
    -- a model that has the lifecycle objects already keeps them (upgrade_model
    -- runs every model_add_* function on every model)
    IF to_regclass(format('%s.account_event', s)) IS NOT NULL THEN
        RETURN;
    END IF;
    on_citus := EXISTS (SELECT 1 FROM pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus');
    IF on_citus THEN
        -- (Citus's catalog, read only where it exists)
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                                 WHERE logicalrelid::oid OPERATOR(pg_catalog.=) $1)'
           INTO on_citus USING format('%s.account', s)::regclass::oid;
    END IF;
    IF on_citus THEN
        citus_saved := @extschema@.citus_ddl_begin();
    END IF;

    -- One statement per EXECUTE (Citus propagates DDL to the workers as its
    -- query string).  The table first, without its foreign key; distributed
    -- (co-located with account) before the foreign key and the triggers.
    EXECUTE format($ddl$
        CREATE TABLE %1$s.account_event (
            account_id  bigint NOT NULL,
            event_at    timestamptz NOT NULL,
            event       text NOT NULL CONSTRAINT account_event_kind CHECK (event IN ('churned', 'advocate', 'not_advocate')),
            recorded_at timestamptz NOT NULL DEFAULT now(),
            recorded_by name NOT NULL DEFAULT current_user,
            PRIMARY KEY (account_id, event_at, event)
        )$ddl$, s);
    FOREACH ddl IN ARRAY ARRAY[
        $d$COMMENT ON TABLE %1$s.account_event IS 'Lifecycle facts of accounts besides wins: churns and advocate changes, written by the account trigger when churned_at or is_advocate change. Insert rows yourself to backfill past changes, then call leadfunnel.refresh_lifecycle().'$d$,
        $d$COMMENT ON COLUMN %1$s.account_event.account_id IS 'Account the event belongs to.'$d$,
        $d$COMMENT ON COLUMN %1$s.account_event.event_at IS 'When it happened (churned_at for a churn; the transaction time of the change of is_advocate).'$d$,
        $d$COMMENT ON COLUMN %1$s.account_event.event IS 'churned, advocate (is_advocate set) or not_advocate (is_advocate cleared).'$d$,
        $d$COMMENT ON COLUMN %1$s.account_event.recorded_at IS 'When the row was written.'$d$,
        $d$COMMENT ON COLUMN %1$s.account_event.recorded_by IS 'Role that wrote the row.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
    PERFORM @extschema@.model_distribute_table(target_schema, 'account_event');
    EXECUTE format('ALTER TABLE %1$s.account_event ADD CONSTRAINT account_event_account_id_fkey
                        FOREIGN KEY (account_id) REFERENCES %1$s.account (account_id) ON DELETE CASCADE', s);

    args := format('%L, %L, %L, %L, %L', s || '.account', s || '.contact', s || '.lead',
                   s || '.lead_stage_history', s || '.account_event');
    FOREACH ddl IN ARRAY ARRAY[
        -- wins are the history rows entering won: found per account by this index
        $d$CREATE INDEX lead_stage_history_won ON %1$s.lead_stage_history (account_id, entered_at)
            WHERE to_stage = 'won'$d$,
        -- a contact's open leads
        $d$CREATE INDEX lead_account_contact ON %1$s.lead (account_id, contact_id)
            WHERE contact_id IS NOT NULL$d$,

        -- the triggers name the model's tables; on Citus they fire on the
        -- shards and map each table to its co-located shard (colocation.c)
        $d$CREATE TRIGGER lead_motion BEFORE INSERT OR UPDATE OF motion ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_motion(%2$s)$d$,
        -- AFTER triggers fire in name order: these must follow lead_stage_record,
        -- which writes the history row of a won move that they read
        $d$CREATE TRIGGER lead_to_lifecycle_insert AFTER INSERT ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_lifecycle(%2$s)$d$,
        $d$CREATE TRIGGER lead_to_lifecycle_update AFTER UPDATE OF stage, contact_id ON %1$s.lead
            FOR EACH ROW
            WHEN ((OLD.stage IS DISTINCT FROM NEW.stage AND (OLD.stage >= 'won' OR NEW.stage >= 'won')
                   AND (NEW.contact_id IS NOT NULL OR NEW.stage = 'won'))
                  OR OLD.contact_id IS DISTINCT FROM NEW.contact_id)
            EXECUTE FUNCTION @extschema@.lead_lifecycle(%2$s)$d$,
        $d$CREATE TRIGGER account_status_guard BEFORE INSERT OR UPDATE OF status, status_since, churned_at ON %1$s.account
            FOR EACH ROW EXECUTE FUNCTION @extschema@.account_lifecycle(%2$s)$d$,
        $d$CREATE TRIGGER account_lifecycle_record AFTER INSERT OR UPDATE OF is_advocate, churned_at ON %1$s.account
            FOR EACH ROW EXECUTE FUNCTION @extschema@.account_lifecycle(%2$s)$d$,
        $d$CREATE TRIGGER contact_status_derive BEFORE INSERT OR UPDATE OF opt_in, status, account_id ON %1$s.contact
            FOR EACH ROW EXECUTE FUNCTION @extschema@.contact_lifecycle(%2$s)$d$,

        -- The tables are passed as regclass: on a Citus worker running a
        -- pushed-down query these are the shells, and the C functions read
        -- the shards holding the account instead (colocation.c).  The
        -- functions' bodies query no table themselves: Citus cannot plan a
        -- SQL function's parameters against a distributed table, nor run
        -- such a query inside a query pushed down to a shard.
        $d$CREATE FUNCTION %1$s.account_status_at(account_id bigint, at timestamptz)
            RETURNS @extschema@.account_status
            LANGUAGE sql STABLE STRICT PARALLEL SAFE
            SET search_path = pg_catalog, pg_temp
        AS $f$
            SELECT @extschema@.lifecycle_status_at(%5$L::regclass, %3$L::regclass, %4$L::regclass, $1, $2)
        $f$$d$,
        $d$COMMENT ON FUNCTION %1$s.account_status_at(bigint, timestamptz) IS
        'The account''s lifecycle status as it was at the given moment, derived from its wins, churns and advocate changes with the windows in force (leadfunnel.settings); NULL for an unknown account.'$d$,

        $d$CREATE FUNCTION %1$s.account_status_history(account_id bigint)
            RETURNS TABLE (status @extschema@.account_status, valid_from timestamptz, valid_until timestamptz)
            LANGUAGE sql STABLE STRICT PARALLEL SAFE ROWS 5
            SET search_path = pg_catalog, pg_temp
        AS $f$
            SELECT h.status, h.valid_from, h.valid_until
              FROM @extschema@.lifecycle_history(%5$L::regclass, %3$L::regclass, %4$L::regclass, $1) h
        $f$$d$,
        $d$COMMENT ON FUNCTION %1$s.account_status_history(bigint) IS
        'The account''s status history: one row per stretch of one status, in time order (valid_from NULL: since the beginning; valid_until NULL: still holds). No rows for an unknown account.'$d$,

        $d$CREATE VIEW %1$s.account_lifecycle WITH (security_invoker = true) AS
        SELECT a.account_id,
               st.status,
               st.status_since,
               coalesce(l.open_leads, 0) AS open_leads,
               coalesce(l.won_leads, 0) AS won_leads,
               coalesce(l.closed_lost_leads, 0) AS closed_lost_leads,
               w.first_won_at,
               w.last_won_at
          FROM %1$s.account a
         CROSS JOIN LATERAL @extschema@.lifecycle_status(%3$L::regclass, %4$L::regclass, a.account_id, now()) st
          LEFT JOIN (SELECT account_id,
                            count(*) FILTER (WHERE stage < 'won') AS open_leads,
                            count(*) FILTER (WHERE stage = 'won') AS won_leads,
                            count(*) FILTER (WHERE stage > 'won') AS closed_lost_leads
                       FROM %1$s.lead GROUP BY account_id) l ON l.account_id = a.account_id
          LEFT JOIN (SELECT account_id, min(entered_at) AS first_won_at, max(entered_at) AS last_won_at
                       FROM %1$s.lead_stage_history WHERE to_stage = 'won'
                      GROUP BY account_id) w ON w.account_id = a.account_id$d$,
        $d$COMMENT ON VIEW %1$s.account_lifecycle IS 'One row per account: its lifecycle status evaluated now (honouring the windows, unlike the stored account.status, which is as of the account''s last event) and its leads.'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.account_id IS 'Account.'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.status IS 'Lifecycle status now (at the transaction''s start, now()).'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.status_since IS 'Since when the status holds; NULL for a prospect (since the beginning).'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.open_leads IS 'Leads in an open stage (visitor .. opportunity).'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.won_leads IS 'Leads in stage won.'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.closed_lost_leads IS 'Leads closed without a win (recycled, disqualified, lost).'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.first_won_at IS 'First time a lead of the account was won; NULL if never.'$d$,
        $d$COMMENT ON COLUMN %1$s.account_lifecycle.last_won_at IS 'Last time a lead of the account was won; NULL if never.'$d$
    ] LOOP
        EXECUTE format(ddl, s, args, s || '.lead_stage_history', s || '.account_event', s || '.account');
    END LOOP;

    -- a model with data (an upgrade from 0.1.0): its current facts, then every status
    EXECUTE format($q$
        INSERT INTO %1$s.account_event (account_id, event_at, event)
        SELECT account_id, churned_at, 'churned' FROM %1$s.account WHERE churned_at IS NOT NULL
        UNION ALL
        SELECT account_id, now(), 'advocate' FROM %1$s.account WHERE is_advocate
    $q$, s);
    PERFORM @extschema@.refresh_lifecycle(target_schema, true);

    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_lifecycle(name) IS
'Adds the lifecycle objects to a model (called by create_model, and usable on a model that already has data): table account_event, the lifecycle triggers, functions account_status_at and account_status_history and view account_lifecycle; then records the current churns and advocates and brings statuses and motions up to date.';

CREATE FUNCTION @extschema@.refresh_lifecycle(target_schema name, recompute_motion boolean DEFAULT false)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    changed bigint;
BEGIN
    IF NOT @extschema@.model_is_distributed(target_schema) THEN
        RETURN @extschema@.lifecycle_refresh(
            format('%s.account', s)::regclass, format('%s.contact', s)::regclass, format('%s.lead', s)::regclass,
            format('%s.lead_stage_history', s)::regclass, format('%s.account_event', s)::regclass,
            coalesce(recompute_motion, false));
    END IF;
    -- A distributed model: one call per account, in a query over the account
    -- table that Citus pushes down to the shards, so each account is
    -- refreshed on the node that holds it, where the guards of the
    -- maintained columns let the refresh write them.
    EXECUTE format($q$
        SELECT count(*) FILTER (WHERE @extschema@.lifecycle_refresh_account(
                   %2$L::regclass, %3$L::regclass, %4$L::regclass, %5$L::regclass, %6$L::regclass,
                   a.account_id, a.status, a.status_since, $1))
          FROM %1$s.account a
    $q$, s, s || '.account', s || '.contact', s || '.lead', s || '.lead_stage_history', s || '.account_event')
      INTO changed USING coalesce(recompute_motion, false);
    RETURN changed;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_lifecycle(name, boolean) IS
'Brings the stored account.status/status_since of every account of a model up to date with the time windows (they are otherwise as of each account''s last event), and every contact''s status; with recompute_motion, also the motion of every lead (after an import that loaded wins out of time order). Returns the number of accounts whose stored status changed. Meant for a scheduler such as pg_cron.';

CREATE FUNCTION @extschema@.generate_demo_lifecycle(target_schema name, seed float8 DEFAULT 0.42)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    salt bigint;
BEGIN
    IF seed IS NULL OR seed < -1 OR seed > 1 THEN
        RAISE EXCEPTION 'demo seed must be between -1 and 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    salt := floor(seed * 1000000)::bigint;
    -- about one customer in ten churns 30..330 days after its last win (before the demo's end);
    -- about one in ten of the customers now is an advocate.  Chosen by a hash of the
    -- account and the seed, so the result is deterministic without touching random().
    -- (The churn moment is computed in the FROM subquery: Citus refuses
    -- STABLE expressions over columns, such as timestamptz + interval, in
    -- the SET list or WHERE clause of an UPDATE of a distributed table.)
    EXECUTE format($q$
        UPDATE %1$s.account a SET churned_at = w.churn_at
          FROM (SELECT account_id,
                       max(entered_at) + make_interval(days => 30 + ((account_id * 7919 + $1) %% 300)::int) AS churn_at
                  FROM %1$s.lead_stage_history
                 WHERE to_stage = 'won' AND (account_id * 2654435761 + $1) %% 10 = 0
                 GROUP BY account_id) w
         WHERE w.account_id = a.account_id AND a.churned_at IS NULL
           AND w.churn_at <= '2025-12-31 18:00:00+00'
    $q$, s) USING abs(salt);
    EXECUTE format($q$
        UPDATE %1$s.account a SET is_advocate = true
         WHERE NOT a.is_advocate AND a.status IN ('new_customer', 'active_customer')
           AND (a.account_id * 40503 + $1) %% 10 = 3
    $q$, s) USING abs(salt);
    -- the generator inserts every lead before moving any: derive motions from the wins
    PERFORM @extschema@.refresh_lifecycle(target_schema, true);
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo_lifecycle(name, float8) IS
'Part of leadfunnel.generate_demo: makes some customers of a demo model churn (churned_at after their last win) and some current customers advocates, deterministically per seed; then derives every lead''s motion (the generator inserts all leads before moving any).';

-- ---- new: src/sql/50_analytics.sql
-- Analytics: the aggregates funnel_reach, cycle_time and window_funnel (C, in
-- src/aggregates.c and src/sketch.c), their state types, the functions that
-- unpack their results, and the model's funnel views (model_add_analytics).
--
-- The state types are real types, not internal: PostgreSQL then splits the
-- aggregates in parallel plans with the combine function alone (a partial
-- aggregate hands its state to the leader as a value of the type), and Citus
-- pushes partial aggregation to its workers, shipping states through the
-- types' output/input and send/receive functions.  For a non-internal state
-- type those functions are the serialization (PostgreSQL refuses SERIALFUNC
-- and DESERIALFUNC for it).

-- ---------------------------------------------------------------------------
-- State types

CREATE TYPE @extschema@.funnel_reach_state;
CREATE FUNCTION @extschema@.funnel_reach_state_in(cstring) RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_reach_state_out(@extschema@.funnel_reach_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_reach_state_recv(internal) RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_reach_state_send(@extschema@.funnel_reach_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.funnel_reach_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.funnel_reach_state_in, OUTPUT = @extschema@.funnel_reach_state_out,
    RECEIVE = @extschema@.funnel_reach_state_recv, SEND = @extschema@.funnel_reach_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.funnel_reach_state IS
'State of the funnel_reach aggregate: how many rows were in each stage. Text form {stage:count,...} (stages with a count, in enum order); binary form: version byte 1, int16 12, twelve int64 counts.';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_in(cstring) IS 'Input function of funnel_reach_state (checks every count; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_out(@extschema@.funnel_reach_state) IS 'Output function of funnel_reach_state.';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_recv(internal) IS 'Binary receive function of funnel_reach_state (checks version, size and counts; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_send(@extschema@.funnel_reach_state) IS 'Binary send function of funnel_reach_state.';

CREATE TYPE @extschema@.cycle_time_sketch;
CREATE FUNCTION @extschema@.cycle_time_sketch_in(cstring) RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_sketch_out(@extschema@.cycle_time_sketch) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_sketch_recv(internal) RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_sketch_send(@extschema@.cycle_time_sketch) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.cycle_time_sketch (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.cycle_time_sketch_in, OUTPUT = @extschema@.cycle_time_sketch_out,
    RECEIVE = @extschema@.cycle_time_sketch_recv, SEND = @extschema@.cycle_time_sketch_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.cycle_time_sketch IS
'Mergeable summary of durations: exact count, sum and maximum, and a log-bucket histogram (DDSketch-style, relative accuracy 0.99 %) for quantiles. State of cycle_time; store it per day with cycle_time_sketch(interval), merge per quarter with cycle_time_merge, read with cycle_time_stats or cycle_time_quantile. Text form: v1 n=.. zero=.. max=.. max_n=.. sum=.. bins=bin:count,...';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_in(cstring) IS 'Input function of cycle_time_sketch (checks version, bins, counts, maximum and sum; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_out(@extschema@.cycle_time_sketch) IS 'Output function of cycle_time_sketch.';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_recv(internal) IS 'Binary receive function of cycle_time_sketch (checks version, sizes and consistency; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_send(@extschema@.cycle_time_sketch) IS 'Binary send function of cycle_time_sketch.';

CREATE TYPE @extschema@.window_funnel_state;
CREATE FUNCTION @extschema@.window_funnel_state_in(cstring) RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.window_funnel_state_out(@extschema@.window_funnel_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.window_funnel_state_recv(internal) RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.window_funnel_state_send(@extschema@.window_funnel_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.window_funnel_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.window_funnel_state_in, OUTPUT = @extschema@.window_funnel_state_out,
    RECEIVE = @extschema@.window_funnel_state_recv, SEND = @extschema@.window_funnel_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.window_funnel_state IS
'State of the window_funnel aggregate: the window and the earliest time of each open-or-won stage seen. Text form {window:usec,stage:usec,...} (times in microseconds since 2000-01-01 UTC); binary form: version byte 1, int64 window, int16 stage mask, one int64 per stage in the mask.';
COMMENT ON FUNCTION @extschema@.window_funnel_state_in(cstring) IS 'Input function of window_funnel_state (SQLSTATE 22P02 for a bad value).';
COMMENT ON FUNCTION @extschema@.window_funnel_state_out(@extschema@.window_funnel_state) IS 'Output function of window_funnel_state.';
COMMENT ON FUNCTION @extschema@.window_funnel_state_recv(internal) IS 'Binary receive function of window_funnel_state (SQLSTATE 22P03 for a bad value).';
COMMENT ON FUNCTION @extschema@.window_funnel_state_send(@extschema@.window_funnel_state) IS 'Binary send function of window_funnel_state.';

CREATE TYPE @extschema@.cycle_time_stats AS (
    n    bigint,
    mean interval,
    p50  interval,
    p90  interval,
    p95  interval,
    max  interval
);
COMMENT ON TYPE @extschema@.cycle_time_stats IS
'Result of cycle_time: number of durations, exact mean (rounded to the microsecond), estimated median, 90th and 95th percentiles (within 1 % of percentile_disc), exact maximum. Durations as days and time.';

-- ---------------------------------------------------------------------------
-- funnel_reach(lead_stage) -> bigint[]

CREATE FUNCTION @extschema@.funnel_reach_add(@extschema@.funnel_reach_state, @extschema@.lead_stage)
    RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_add(@extschema@.funnel_reach_state, @extschema@.lead_stage) IS
'Transition function of funnel_reach: counts one row in its stage (NULL stage: no change).';
CREATE FUNCTION @extschema@.funnel_reach_remove(@extschema@.funnel_reach_state, @extschema@.lead_stage)
    RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_inv' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_remove(@extschema@.funnel_reach_state, @extschema@.lead_stage) IS
'Inverse transition function of funnel_reach (moving window frames).';
CREATE FUNCTION @extschema@.funnel_reach_combine(@extschema@.funnel_reach_state, @extschema@.funnel_reach_state)
    RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_combine(@extschema@.funnel_reach_state, @extschema@.funnel_reach_state) IS
'Combine function of funnel_reach: adds two states.';
CREATE FUNCTION @extschema@.funnel_reach_final(@extschema@.funnel_reach_state) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_final(@extschema@.funnel_reach_state) IS
'Final function of funnel_reach: the cumulative reach of visitor .. won as bigint[9].';

CREATE AGGREGATE @extschema@.funnel_reach(@extschema@.lead_stage) (
    SFUNC = @extschema@.funnel_reach_add,
    STYPE = @extschema@.funnel_reach_state,
    FINALFUNC = @extschema@.funnel_reach_final,
    COMBINEFUNC = @extschema@.funnel_reach_combine,
    MSFUNC = @extschema@.funnel_reach_add,
    MINVFUNC = @extschema@.funnel_reach_remove,
    MSTYPE = @extschema@.funnel_reach_state,
    MFINALFUNC = @extschema@.funnel_reach_final,
    MINITCOND = '{}',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.funnel_reach(@extschema@.lead_stage) IS
'Cumulative reach per stage: bigint[9], element i = rows whose stage is the i-th stage of lead_stage (1 visitor .. 9 won) or a later open-or-won stage. Pass max_stage. Closed-not-won stages and NULL reach no stage. Unpack with funnel_reach_steps.';

CREATE FUNCTION @extschema@.funnel_reach_steps(reach bigint[], stages @extschema@.lead_stage[] DEFAULT NULL)
    RETURNS TABLE (stage @extschema@.lead_stage, reached bigint,
                   conversion_from_previous numeric, conversion_from_top numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF reach IS NULL THEN
        RETURN;
    END IF;
    -- a funnel_reach result (or a sum of them): nine counts, none negative,
    -- none above the previous one; anything else would give ratios outside 0..1
    IF array_ndims(reach) IS DISTINCT FROM 1 OR cardinality(reach) OPERATOR(pg_catalog.<>) 9
       OR array_lower(reach, 1) OPERATOR(pg_catalog.<>) 1
       OR EXISTS (SELECT 1 FROM unnest(reach) WITH ORDINALITY AS r(n, i)
                   WHERE r.n IS NULL OR r.n OPERATOR(pg_catalog.<) 0
                      OR (r.i OPERATOR(pg_catalog.>) 1
                          AND r.n OPERATOR(pg_catalog.>) reach[r.i OPERATOR(pg_catalog.-) 1])) THEN
        RAISE EXCEPTION 'reach must be a result of funnel_reach'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A reach array holds 9 counts (visitor .. won), none NULL or negative, each at most the previous one; %s was given.',
                                  reach),
                  HINT = 'Pass leadfunnel.funnel_reach(max_stage), or a sum of such arrays.';
    END IF;
    RETURN QUERY
    SELECT st.stage, st.reached,
           st.reached::numeric OPERATOR(pg_catalog./) nullif(lag(st.reached) OVER w, 0),
           st.reached::numeric OPERATOR(pg_catalog./) nullif(first_value(st.reached) OVER w, 0)
      FROM (SELECT DISTINCT u.stage,
                   reach[array_position(enum_range(NULL::@extschema@.lead_stage), u.stage)] AS reached
              FROM unnest(coalesce(stages, enum_range('visitor'::@extschema@.lead_stage, 'won'))) AS u(stage)
             WHERE u.stage OPERATOR(pg_catalog.<=) 'won'::@extschema@.lead_stage) st
    WINDOW w AS (ORDER BY st.stage)
    ORDER BY st.stage;
END
$fn$;
COMMENT ON FUNCTION @extschema@.funnel_reach_steps(bigint[], @extschema@.lead_stage[]) IS
'Unpacks a funnel_reach result into one row per stage (the given open-or-won stages, in enum order, or all of visitor .. won): reached, conversion from the previous listed stage and from the first (numeric fractions, NULL where the denominator is 0; the first stage has no previous one). NULL reach: no rows; an array that is not a funnel_reach result (not 9 counts, NULL or negative counts, a count above the previous one): SQLSTATE 22023.';

-- ---------------------------------------------------------------------------
-- cycle_time(interval) -> cycle_time_stats, and the sketch functions

CREATE FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, interval)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, interval) IS
'Transition function of cycle_time and cycle_time_sketch: adds one duration (NULL: no change; negative: SQLSTATE 22023).';
CREATE FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, interval)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_remove' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, interval) IS
'Inverse transition function of cycle_time (moving window frames); NULL when the last copy of the maximum leaves, so the frame is recomputed.';
CREATE FUNCTION @extschema@.cycle_time_combine(@extschema@.cycle_time_sketch, @extschema@.cycle_time_sketch)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_combine(@extschema@.cycle_time_sketch, @extschema@.cycle_time_sketch) IS
'Combine function of cycle_time: merges two sketches (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.cycle_time_final(@extschema@.cycle_time_sketch) RETURNS @extschema@.cycle_time_stats
    AS 'MODULE_PATHNAME', 'lf_cycle_time_stats' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_final(@extschema@.cycle_time_sketch) IS
'Final function of cycle_time: the statistics of a sketch; no rows give (0, NULL, NULL, NULL, NULL, NULL).';
CREATE FUNCTION @extschema@.cycle_time_stats(@extschema@.cycle_time_sketch) RETURNS @extschema@.cycle_time_stats
    AS 'MODULE_PATHNAME', 'lf_cycle_time_stats' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_stats(@extschema@.cycle_time_sketch) IS
'Statistics of a stored sketch (n, mean, p50, p90, p95, max), as cycle_time returns them.';
CREATE FUNCTION @extschema@.cycle_time_quantile(sketch @extschema@.cycle_time_sketch, q float8) RETURNS interval
    AS 'MODULE_PATHNAME', 'lf_cycle_time_quantile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_quantile(@extschema@.cycle_time_sketch, float8) IS
'Estimated duration at quantile q (0..1, else SQLSTATE 22023) of a sketch, within 1 % of percentile_disc(q); NULL for an empty sketch.';
CREATE FUNCTION @extschema@.cycle_time_compact(@extschema@.cycle_time_sketch) RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_compact' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_compact(@extschema@.cycle_time_sketch) IS
'Final function of cycle_time_sketch and cycle_time_merge: the sketch with only its non-empty bins, for storage.';

CREATE AGGREGATE @extschema@.cycle_time(interval) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_final,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    MSFUNC = @extschema@.cycle_time_add,
    MINVFUNC = @extschema@.cycle_time_remove,
    MSTYPE = @extschema@.cycle_time_sketch,
    MFINALFUNC = @extschema@.cycle_time_final,
    MINITCOND = 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time(interval) IS
'Cycle-time statistics of durations as leadfunnel.cycle_time_stats (n, mean, p50, p90, p95, max): n, mean and max exact, quantiles from a mergeable log-bucket sketch within 1 % of percentile_disc. NULL durations are skipped; a negative one is an error (SQLSTATE 22023). Unpack with (cycle_time(d)).*.';

CREATE AGGREGATE @extschema@.cycle_time_sketch(interval) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_sketch(interval) IS
'The sketch of durations, to store (e.g. per day) and merge later with cycle_time_merge; NULL over no rows.';

CREATE AGGREGATE @extschema@.cycle_time_merge(@extschema@.cycle_time_sketch) (
    SFUNC = @extschema@.cycle_time_combine,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_merge(@extschema@.cycle_time_sketch) IS
'Merges stored sketches (e.g. daily into quarterly) into one sketch; read it with cycle_time_stats or cycle_time_quantile.';

-- ---------------------------------------------------------------------------
-- window_funnel(window interval, at timestamptz, stage lead_stage) -> lead_stage

CREATE FUNCTION @extschema@.window_funnel_add(@extschema@.window_funnel_state, interval, timestamptz, @extschema@.lead_stage)
    RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_add(@extschema@.window_funnel_state, interval, timestamptz, @extschema@.lead_stage) IS
'Transition function of window_funnel: notes the earliest time of each open-or-won stage.';
CREATE FUNCTION @extschema@.window_funnel_combine(@extschema@.window_funnel_state, @extschema@.window_funnel_state)
    RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_combine(@extschema@.window_funnel_state, @extschema@.window_funnel_state) IS
'Combine function of window_funnel: earliest times of both states.';
CREATE FUNCTION @extschema@.window_funnel_final(@extschema@.window_funnel_state) RETURNS @extschema@.lead_stage
    AS 'MODULE_PATHNAME', 'lf_window_funnel_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_final(@extschema@.window_funnel_state) IS
'Final function of window_funnel: the furthest stage reached within the window of the first event.';

CREATE AGGREGATE @extschema@.window_funnel(interval, timestamptz, @extschema@.lead_stage) (
    SFUNC = @extschema@.window_funnel_add,
    STYPE = @extschema@.window_funnel_state,
    FINALFUNC = @extschema@.window_funnel_final,
    COMBINEFUNC = @extschema@.window_funnel_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.window_funnel(interval, timestamptz, @extschema@.lead_stage) IS
'window_funnel(window, at, stage): the furthest open-or-won stage reached by a chain of events in increasing stage order that starts at the group''s first event and ends within window of it (a month counts 30 days, a day 24 hours); stages a funnel skips do not break the chain. Rows with NULL or infinite at, NULL stage or a closed-not-won stage are skipped; NULL if none is left. The window must be the same on every row (SQLSTATE 22023), not NULL (22004) and not negative (22023).';

-- ---------------------------------------------------------------------------
-- The model's funnel views

CREATE FUNCTION @extschema@.model_add_analytics(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    ddl text;
BEGIN
    -- One statement per EXECUTE: Citus propagates DDL to the workers as its
    -- query string, which may hold only one statement.  The views only read
    -- the model's tables, which create_model has distributed by now, so Citus
    -- creates them on every node; CREATE OR REPLACE keeps this idempotent.
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.funnel_summary WITH (security_invoker = true) AS
        SELECT r.funnel, st.stage, st.reached, st.conversion_from_previous, st.conversion_from_top
          FROM (SELECT l.funnel, @extschema@.funnel_reach(l.max_stage) AS reach
                  FROM %1$s.lead l
                 GROUP BY l.funnel) r
          LEFT JOIN @extschema@.funnel f ON f.name = r.funnel
         CROSS JOIN LATERAL @extschema@.funnel_reach_steps(r.reach, f.stages) st
         ORDER BY r.funnel, st.stage$d$,
        $d$COMMENT ON VIEW %1$s.funnel_summary IS 'The funnel: for each funnel that has leads, one row per open-or-won stage of the funnel (all of visitor .. won if the funnel is no longer defined), in funnel order. Reached = leads whose max_stage is at or beyond the stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.stage IS 'Open-or-won stage of the funnel.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.reached IS 'Leads of the funnel whose max_stage is at or beyond this stage (enum order).'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.conversion_from_previous IS 'reached / reached of the funnel''s previous stage, 0..1; NULL for the first stage or when the previous stage has 0.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.conversion_from_top IS 'reached / reached of the funnel''s first stage, 0..1; NULL when that is 0.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.conversion_by_segment WITH (security_invoker = true) AS
        WITH z AS MATERIALIZED (SELECT pg_catalog.current_setting('TimeZone') AS tz)
        SELECT g.period, g.funnel, g.campaign_id, g.product_area, g.region,
               st.stage, st.reached, st.conversion_from_previous
          FROM (SELECT date_trunc('month', l.created_at AT TIME ZONE z.tz)::date AS period, l.funnel,
                       l.source_campaign_id AS campaign_id, l.product_area, l.region,
                       @extschema@.funnel_reach(l.max_stage) AS reach
                  FROM %1$s.lead l
                 CROSS JOIN z
                 GROUP BY 1, 2, 3, 4, 5) g
          LEFT JOIN @extschema@.funnel f ON f.name = g.funnel
         CROSS JOIN LATERAL @extschema@.funnel_reach_steps(g.reach, f.stages) st
         ORDER BY g.period, g.funnel, g.campaign_id, g.product_area, g.region, st.stage$d$,
        $d$COMMENT ON VIEW %1$s.conversion_by_segment IS 'The funnel per segment: one row per creation month, funnel, source campaign, product area and region that has leads, and each open-or-won stage of the funnel. NULL segment values form their own group.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.period IS 'Month the lead was created (first day of the month, in the session''s TimeZone; on Citus too, as the zone is read once on the coordinator).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.campaign_id IS 'Source campaign (lead.source_campaign_id).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.product_area IS 'Product area of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.region IS 'Region of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.stage IS 'Open-or-won stage of the funnel.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.reached IS 'Leads of the segment whose max_stage is at or beyond this stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.conversion_from_previous IS 'reached / reached of the funnel''s previous stage in the same segment, 0..1; NULL for the first stage or when the previous stage has 0.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.cycle_times WITH (security_invoker = true) AS
        SELECT c.funnel, c.measure, c.stage, (c.t).n, (c.t).mean, (c.t).p50, (c.t).p90, (c.t).p95, (c.t).max
          FROM (SELECT l.funnel, 'time_in_stage'::text AS measure, h.to_stage AS stage,
                       @extschema@.cycle_time(h.entered_at, h.left_at) AS t
                  FROM %1$s.lead_stage_history h
                  JOIN %1$s.lead l ON l.account_id = h.account_id AND l.lead_id = h.lead_id
                 WHERE h.left_at IS NOT NULL
                 GROUP BY l.funnel, h.to_stage
                UNION ALL
                SELECT l.funnel, 'lead_duration', NULL, @extschema@.cycle_time(l.created_at, l.closed_at)
                  FROM %1$s.lead l
                 WHERE l.closed_at IS NOT NULL
                 GROUP BY l.funnel
                UNION ALL
                SELECT l.funnel, 'time_to_conversion', NULL, @extschema@.cycle_time(l.created_at, l.closed_at)
                  FROM %1$s.lead l
                 WHERE l.stage = 'won'
                 GROUP BY l.funnel) c
         ORDER BY c.funnel, c.measure, c.stage$d$,
        $d$COMMENT ON VIEW %1$s.cycle_times IS 'Cycle times per funnel: time in each stage (completed stays in lead_stage_history), lead duration (created to closed, closed leads) and time to conversion (created to won). One row per group that has durations. Quantiles are within 1 %% of percentile_disc.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.funnel IS 'Funnel (the lead''s current lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.measure IS 'time_in_stage, lead_duration or time_to_conversion.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.stage IS 'For time_in_stage the stage stayed in (left_at - entered_at of its completed history rows, closed stages such as recycled included); NULL for the other measures.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.n IS 'Number of durations (stays or leads).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.mean IS 'Exact mean duration, rounded to the microsecond.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.p50 IS 'Median duration (estimate within 1 %% of percentile_disc(0.5)).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.p90 IS '90th percentile of the durations (within 1 %% of percentile_disc(0.9)).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.p95 IS '95th percentile of the durations (within 1 %% of percentile_disc(0.95)).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.max IS 'Longest duration (exact).'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.dropoff WITH (security_invoker = true) AS
        SELECT d.funnel, d.last_open_stage, d.outcome, d.leads,
               d.leads::numeric / nullif(sum(d.leads) OVER (PARTITION BY d.funnel), 0) AS share
          FROM (SELECT l.funnel, lo.stage AS last_open_stage, l.stage AS outcome, count(*) AS leads
                  FROM %1$s.lead l
                  LEFT JOIN LATERAL (SELECT h.to_stage AS stage
                                       FROM %1$s.lead_stage_history h
                                      WHERE h.account_id = l.account_id AND h.lead_id = l.lead_id
                                        AND h.to_stage <= 'opportunity'
                                      ORDER BY h.seq DESC
                                      LIMIT 1) lo ON true
                 WHERE l.stage >= 'recycled'
                 GROUP BY 1, 2, 3) d
         ORDER BY d.funnel, d.last_open_stage, d.outcome$d$,
        $d$COMMENT ON VIEW %1$s.dropoff IS 'Where leads drop out: closed-not-won leads (current stage recycled, disqualified or lost) per funnel, by the last open stage they were in before closing and by outcome.'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.last_open_stage IS 'The open stage the lead was in right before its final close: the latest open stage in its history (for a recycled lead that was reopened and closed again, the stage it closed from the last time).'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.outcome IS 'How the lead closed: recycled, disqualified or lost (its current stage).'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.leads IS 'Number of leads.'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.share IS 'leads / all closed-not-won leads of the funnel, 0..1.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_analytics(name) IS
'Creates (or replaces) the funnel views funnel_summary, conversion_by_segment, cycle_times and dropoff in a model; called by create_model, and usable on a model made by an earlier version.';

-- ---------------------------------------------------------------------------
-- cycle_time(started, ended) and cycle_time_sketch(started, ended): the same
-- aggregates over ended - started, without an interval per row (the
-- subtraction builds and justifies a pass-by-reference interval for every
-- row).  Same state, combine and final functions, so the results are those of
-- cycle_time(ended - started), byte for byte.  Overloads for timestamptz and
-- for timestamp, so that timestamp columns are not cast to timestamptz (which
-- would depend on the session's time zone across daylight-saving changes).

CREATE FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, started timestamptz, ended timestamptz)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, timestamptz, timestamptz) IS
'Transition function of cycle_time(started, ended) and cycle_time_sketch(started, ended): adds the duration ended - started (NULL start or end: no change; end before start: SQLSTATE 22023; an infinite time: 22008).';
CREATE FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, started timestamp, ended timestamp)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, timestamp, timestamp) IS
'Transition function of cycle_time(started, ended) and cycle_time_sketch(started, ended) for timestamp without time zone: adds the duration ended - started (NULL start or end: no change; end before start: SQLSTATE 22023; an infinite time: 22008).';
CREATE FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, started timestamptz, ended timestamptz)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_remove_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, timestamptz, timestamptz) IS
'Inverse transition function of cycle_time(started, ended) (moving window frames); NULL when the last copy of the maximum leaves, so the frame is recomputed.';
CREATE FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, started timestamp, ended timestamp)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_remove_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, timestamp, timestamp) IS
'Inverse transition function of cycle_time(started, ended) for timestamp without time zone (moving window frames).';

CREATE AGGREGATE @extschema@.cycle_time(started timestamptz, ended timestamptz) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_final,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    MSFUNC = @extschema@.cycle_time_add,
    MINVFUNC = @extschema@.cycle_time_remove,
    MSTYPE = @extschema@.cycle_time_sketch,
    MFINALFUNC = @extschema@.cycle_time_final,
    MINITCOND = 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time(timestamptz, timestamptz) IS
'cycle_time(started, ended): the same result as cycle_time(ended - started), faster (no interval per row). Rows with a NULL start or end are skipped; an end before the start is an error (SQLSTATE 22023), as is an infinite time (22008).';
CREATE AGGREGATE @extschema@.cycle_time(started timestamp, ended timestamp) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_final,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    MSFUNC = @extschema@.cycle_time_add,
    MINVFUNC = @extschema@.cycle_time_remove,
    MSTYPE = @extschema@.cycle_time_sketch,
    MFINALFUNC = @extschema@.cycle_time_final,
    MINITCOND = 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time(timestamp, timestamp) IS
'cycle_time(started, ended) for timestamp without time zone: the same result as cycle_time(ended - started), faster. NULL start or end skipped; end before start: SQLSTATE 22023; an infinite time: 22008.';

CREATE AGGREGATE @extschema@.cycle_time_sketch(started timestamptz, ended timestamptz) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_sketch(timestamptz, timestamptz) IS
'The sketch of the durations ended - started, the same as cycle_time_sketch(ended - started); NULL over no rows.';
CREATE AGGREGATE @extschema@.cycle_time_sketch(started timestamp, ended timestamp) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_sketch(timestamp, timestamp) IS
'The sketch of the durations ended - started for timestamp without time zone, the same as cycle_time_sketch(ended - started); NULL over no rows.';

-- ---------------------------------------------------------------------------
-- cycle_time_by_stage(stage, started, ended) / (stage, duration) ->
-- cycle_time_stage_stats[]: time in stage per stage in one ungrouped pass
-- (one cycle_time sketch per stage in the state; src/sketch.c)
-- ---------------------------------------------------------------------------
CREATE TYPE @extschema@.cycle_time_stage_stats AS (
    stage @extschema@.lead_stage,
    n bigint,
    mean interval,
    p50 interval,
    p90 interval,
    p95 interval,
    max interval
);
COMMENT ON TYPE @extschema@.cycle_time_stage_stats IS
'Element of the result of cycle_time_by_stage: a stage and the cycle_time statistics of its durations (n, mean, p50, p90, p95, max), the same values as cycle_time over that stage''s rows.';

CREATE TYPE @extschema@.cycle_time_by_stage_state;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_in(cstring) RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_out(@extschema@.cycle_time_by_stage_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_recv(internal) RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_send(@extschema@.cycle_time_by_stage_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.cycle_time_by_stage_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.cycle_time_by_stage_state_in, OUTPUT = @extschema@.cycle_time_by_stage_state_out,
    RECEIVE = @extschema@.cycle_time_by_stage_state_recv, SEND = @extschema@.cycle_time_by_stage_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.cycle_time_by_stage_state IS
'State of cycle_time_by_stage: one cycle_time_sketch per stage that had rows (at most 12, 213 kB). Text form: v1 <stage>:(n=.. zero=.. max=.. max_n=.. sum=.. bins=bin:count,...) ... in stage order; binary form: version byte 1, int16 bit set of the stages, then each stage''s sketch as cycle_time_sketch''s binary form without the version byte.';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_in(cstring) IS 'Input function of cycle_time_by_stage_state (checks version, stages and every sketch; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_out(@extschema@.cycle_time_by_stage_state) IS 'Output function of cycle_time_by_stage_state.';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_recv(internal) IS 'Binary receive function of cycle_time_by_stage_state (checks version, stages, sizes and every sketch; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_send(@extschema@.cycle_time_by_stage_state) IS 'Binary send function of cycle_time_by_stage_state.';

CREATE FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, stage @extschema@.lead_stage, duration interval)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, @extschema@.lead_stage, interval) IS
'Transition function of cycle_time_by_stage(stage, duration): adds the duration to the stage''s sketch (NULL stage or duration: no change; negative: SQLSTATE 22023).';
CREATE FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, stage @extschema@.lead_stage, started timestamptz, ended timestamptz)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, @extschema@.lead_stage, timestamptz, timestamptz) IS
'Transition function of cycle_time_by_stage(stage, started, ended): adds ended - started to the stage''s sketch (any NULL: no change; end before start: SQLSTATE 22023; infinite: 22008).';
CREATE FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, stage @extschema@.lead_stage, started timestamp, ended timestamp)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, @extschema@.lead_stage, timestamp, timestamp) IS
'Transition function of cycle_time_by_stage(stage, started, ended) for timestamp without time zone.';
CREATE FUNCTION @extschema@.cycle_time_by_stage_combine(@extschema@.cycle_time_by_stage_state, @extschema@.cycle_time_by_stage_state)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_combine(@extschema@.cycle_time_by_stage_state, @extschema@.cycle_time_by_stage_state) IS
'Combine function of cycle_time_by_stage: merges the sketches stage by stage (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.cycle_time_by_stage_final(@extschema@.cycle_time_by_stage_state)
    RETURNS @extschema@.cycle_time_stage_stats[]
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_final(@extschema@.cycle_time_by_stage_state) IS
'Final function of cycle_time_by_stage: one cycle_time_stage_stats per stage with rows, in stage order; no rows give an empty array.';
CREATE AGGREGATE @extschema@.cycle_time_by_stage(stage @extschema@.lead_stage, started timestamptz, ended timestamptz) (
    SFUNC = @extschema@.cycle_time_by_stage_add,
    STYPE = @extschema@.cycle_time_by_stage_state,
    FINALFUNC = @extschema@.cycle_time_by_stage_final,
    COMBINEFUNC = @extschema@.cycle_time_by_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_by_stage(@extschema@.lead_stage, timestamptz, timestamptz) IS
'Time in stage per stage in one pass: an array of cycle_time_stage_stats (stage, n, mean, p50, p90, p95, max), one per stage with rows, each identical to cycle_time(started, ended) over that stage''s rows; no GROUP BY needed. Rows with a NULL stage, start or end are skipped; an end before the start is SQLSTATE 22023, an infinite time 22008. Unpack with SELECT s.* FROM unnest(cycle_time_by_stage(...)) s.';
CREATE AGGREGATE @extschema@.cycle_time_by_stage(stage @extschema@.lead_stage, started timestamp, ended timestamp) (
    SFUNC = @extschema@.cycle_time_by_stage_add,
    STYPE = @extschema@.cycle_time_by_stage_state,
    FINALFUNC = @extschema@.cycle_time_by_stage_final,
    COMBINEFUNC = @extschema@.cycle_time_by_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_by_stage(@extschema@.lead_stage, timestamp, timestamp) IS
'cycle_time_by_stage(stage, started, ended) for timestamp without time zone.';
CREATE AGGREGATE @extschema@.cycle_time_by_stage(stage @extschema@.lead_stage, duration interval) (
    SFUNC = @extschema@.cycle_time_by_stage_add,
    STYPE = @extschema@.cycle_time_by_stage_state,
    FINALFUNC = @extschema@.cycle_time_by_stage_final,
    COMBINEFUNC = @extschema@.cycle_time_by_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_by_stage(@extschema@.lead_stage, interval) IS
'cycle_time_by_stage(stage, duration): per stage identical to cycle_time(duration) over that stage''s rows. NULL stage or duration skipped; a negative duration is SQLSTATE 22023.';

-- ---- new: src/sql/60_attribution.sql
-- Attribution: the weighted multi-touch models in C (attribution_weights and
-- the one-pass credit functions), the model's touched-pipeline and
-- attribution views (created by model_add_attribution), and a deterministic
-- generator of demo touches.  Reference: doc/attribution.md.

CREATE FUNCTION @extschema@.attribution_weights(
        model @extschema@.attribution_model,
        touched_at timestamptz[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'lf_attribution_weights'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_weights(@extschema@.attribution_model, timestamptz[], timestamptz, timestamptz, timestamptz, interval) IS
'Weight of each touch of one lead under an attribution model: one float8 per element of touched_at, same order and subscripts, in any input order. Touches with a NULL time or after closed_at weigh 0; the others sum to 1. Milestones: first touch, last touch at or before lead creation, at or before opportunity creation, at or before closing (ties: the later array position is the later touch). time_decay: 2^(-age/half_life), age to closed_at or else to the latest milestone time given. NULL model, touched_at or half_life: NULL. A half_life that is not positive: SQLSTATE 22023. See doc/attribution.md.';

CREATE FUNCTION @extschema@.touch_credit(
        touched_at timestamptz[],
        touch_id bigint[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS TABLE (touch_index int, model @extschema@.attribution_model, credit float8)
    AS 'MODULE_PATHNAME', 'lf_touch_credit'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 35;
COMMENT ON FUNCTION @extschema@.touch_credit(timestamptz[], bigint[], timestamptz, timestamptz, timestamptz, interval) IS
'Credit of every eligible touch of one lead under every attribution model, computed in one pass: touch_index is the 1-based position in touched_at. Equal times are ordered by touch_id (same length as touched_at, or NULL for the array position). Same rules as attribution_weights; ineligible touches give no rows.';

CREATE FUNCTION @extschema@.campaign_credit(
        touched_at timestamptz[],
        touch_id bigint[],
        campaign_id bigint[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS TABLE (model @extschema@.attribution_model, campaign_id bigint, credit float8)
    AS 'MODULE_PATHNAME', 'lf_campaign_credit'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 21;
COMMENT ON FUNCTION @extschema@.campaign_credit(timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval) IS
'Credit of each campaign for one lead under every attribution model, computed in one pass: the weights of the lead''s touches (attribution_weights rules; equal times ordered by touch_id) added up per campaign_id (same length as touched_at). Rows with zero credit are left out, so the credits of one model sum to 1 and a lead without eligible touches gives no rows.';

CREATE TYPE @extschema@.attribution_total AS (
    campaign_id bigint,
    model @extschema@.attribution_model,
    leads float8,
    pipeline float8,
    won float8
);
COMMENT ON TYPE @extschema@.attribution_total IS
'One campaign''s credit under one attribution model, summed over leads: result element of the aggregate attribution_totals.';

CREATE TYPE @extschema@.attribution_totals_state;
CREATE FUNCTION @extschema@.attribution_totals_state_in(cstring) RETURNS @extschema@.attribution_totals_state
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.attribution_totals_state_out(@extschema@.attribution_totals_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.attribution_totals_state_recv(internal) RETURNS @extschema@.attribution_totals_state
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.attribution_totals_state_send(@extschema@.attribution_totals_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.attribution_totals_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.attribution_totals_state_in, OUTPUT = @extschema@.attribution_totals_state_out,
    RECEIVE = @extschema@.attribution_totals_state_recv, SEND = @extschema@.attribution_totals_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.attribution_totals_state IS
'State of the attribution_totals aggregate: per campaign, 21 sums (for each attribution model: credit, credit times pipeline amount, credit times won amount) as 128-bit fixed-point integers in units of 2^-40, so that sums do not depend on the order of rows or on how states are combined. Text form v1 <campaign_id|null>:<21 integers>,... (campaigns in increasing order, null last); binary form: version byte 1, int32 count, per campaign a null flag byte, int64 id and 21 int128 (high, low int64).';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_in(cstring) IS 'Input function of attribution_totals_state (checks version, order, counts and ranges; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_out(@extschema@.attribution_totals_state) IS 'Output function of attribution_totals_state.';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_recv(internal) IS 'Binary receive function of attribution_totals_state (checks version, sizes, order and ranges; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_send(@extschema@.attribution_totals_state) IS 'Binary send function of attribution_totals_state.';

CREATE FUNCTION @extschema@.attribution_totals_trans(@extschema@.attribution_totals_state, timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8)
    RETURNS @extschema@.attribution_totals_state AS 'MODULE_PATHNAME', 'lf_attribution_totals_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_totals_trans(@extschema@.attribution_totals_state, timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8) IS
'Transition function of the aggregate attribution_totals: adds one lead''s campaign credit under every model.';
CREATE FUNCTION @extschema@.attribution_totals_combine(@extschema@.attribution_totals_state, @extschema@.attribution_totals_state)
    RETURNS @extschema@.attribution_totals_state AS 'MODULE_PATHNAME', 'lf_attribution_totals_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_totals_combine(@extschema@.attribution_totals_state, @extschema@.attribution_totals_state) IS
'Combine function of the aggregate attribution_totals: adds two partial states (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.attribution_totals_final(@extschema@.attribution_totals_state)
    RETURNS @extschema@.attribution_total[] AS 'MODULE_PATHNAME', 'lf_attribution_totals_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_totals_final(@extschema@.attribution_totals_state) IS
'Final function of the aggregate attribution_totals: one element per campaign and model with a non-zero sum, in campaign order (NULL campaign last) and model order.';

CREATE AGGREGATE @extschema@.attribution_totals(
        touched_at timestamptz[], touch_id bigint[], campaign_id bigint[],
        lead_created_at timestamptz, opportunity_created_at timestamptz, closed_at timestamptz,
        half_life interval, pipeline_amount float8, won_amount float8) (
    SFUNC = @extschema@.attribution_totals_trans,
    STYPE = @extschema@.attribution_totals_state,
    FINALFUNC = @extschema@.attribution_totals_final,
    COMBINEFUNC = @extschema@.attribution_totals_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.attribution_totals(timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8) IS
'Over leads (one row per lead with its touch path, as campaign_credit takes it, plus its pipeline and won amounts or NULL): the credit of every campaign under every model summed over the leads, as an array of attribution_total (leads = sum of credit, pipeline and won = sums of credit times amount), in campaign order. State: attribution_totals_state, 21 exact fixed-point sums per campaign (each lead''s contributions rounded to 2^-40), whatever the number of leads, so the answer does not depend on row order, parallel plans or Citus''s partial aggregation. Used by the campaign_attribution view.';

CREATE FUNCTION @extschema@.model_add_attribution(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    ddl text;
BEGIN
    -- the account-level touches of an account in time order (kept if present,
    -- as upgrade_model runs this on models that have it)
    IF to_regclass(format('%s.touch_account_touched_at_idx', s)) IS NULL THEN
        EXECUTE format('CREATE INDEX touch_account_touched_at_idx ON %s.touch (account_id, touched_at) WHERE lead_id IS NULL', s);
    END IF;
    -- One statement per EXECUTE: Citus propagates DDL to the workers as its
    -- query string, which may hold only one statement.  The views only read
    -- the model's tables, which create_model has distributed by now, so Citus
    -- creates them on every node; CREATE OR REPLACE keeps this idempotent.
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.lead_touch WITH (security_invoker = true) AS
        WITH p AS MATERIALIZED (SELECT @extschema@.setting_value('attribution_lookback') AS lookback)
        SELECT l.lead_id, l.account_id, t.touch_id, t.campaign_id, t.touched_at, false AS is_account_touch
          FROM %1$s.lead l
          JOIN %1$s.touch t ON t.account_id OPERATOR(pg_catalog.=) l.account_id AND t.lead_id OPERATOR(pg_catalog.=) l.lead_id
         CROSS JOIN p
         WHERE t.touched_at OPERATOR(pg_catalog.>=) (l.created_at OPERATOR(pg_catalog.-) p.lookback)
           AND (l.closed_at IS NULL OR t.touched_at OPERATOR(pg_catalog.<=) l.closed_at)
        UNION ALL
        SELECT l.lead_id, l.account_id, t.touch_id, t.campaign_id, t.touched_at, true
          FROM %1$s.lead l
          JOIN %1$s.touch t ON t.account_id OPERATOR(pg_catalog.=) l.account_id AND t.lead_id IS NULL
         WHERE t.touched_at OPERATOR(pg_catalog.>=) l.created_at
           AND (l.closed_at IS NULL OR t.touched_at OPERATOR(pg_catalog.<=) l.closed_at)$d$,
        $d$COMMENT ON VIEW %1$s.lead_touch IS
            'Touches that count for each lead: the lead''s own touches from attribution_lookback before its creation until it closed, and account-level (ABM) touches of its account while it was open (from created_at to closed_at, both included). One row per lead and touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.lead_id IS 'Lead the touch counts for.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.touch_id IS 'The touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.campaign_id IS 'Campaign that made the touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.touched_at IS 'When the touch happened.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.is_account_touch IS 'True for an account-level (ABM) touch, which counts for every lead of the account open at that time.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.lead_touch_path WITH (security_invoker = true) AS
        SELECT l.lead_id, l.account_id, l.created_at AS lead_created_at,
               CASE WHEN l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage THEN
                   (SELECT min(h.entered_at) FROM %1$s.lead_stage_history h
                     WHERE h.account_id OPERATOR(pg_catalog.=) l.account_id AND h.lead_id OPERATOR(pg_catalog.=) l.lead_id
                       AND h.to_stage OPERATOR(pg_catalog.=) 'opportunity'::@extschema@.lead_stage)
               END AS opportunity_created_at,
               l.closed_at,
               coalesce(pa.touched_at, '{}') AS touched_at,
               coalesce(pa.touch_id, '{}') AS touch_id,
               coalesce(pa.campaign_id, '{}') AS campaign_id,
               coalesce(pa.is_account_touch, '{}') AS is_account_touch
          FROM %1$s.lead l
          LEFT JOIN (SELECT lt.account_id, lt.lead_id,
                            array_agg(lt.touched_at ORDER BY lt.touched_at, lt.touch_id) AS touched_at,
                            array_agg(lt.touch_id ORDER BY lt.touched_at, lt.touch_id) AS touch_id,
                            array_agg(lt.campaign_id ORDER BY lt.touched_at, lt.touch_id) AS campaign_id,
                            array_agg(lt.is_account_touch ORDER BY lt.touched_at, lt.touch_id) AS is_account_touch
                       FROM %1$s.lead_touch lt
                      GROUP BY lt.account_id, lt.lead_id) pa
            ON pa.account_id OPERATOR(pg_catalog.=) l.account_id AND pa.lead_id OPERATOR(pg_catalog.=) l.lead_id$d$,
        $d$COMMENT ON VIEW %1$s.lead_touch_path IS
            'Each lead with its touch path: the touches that count for it (see lead_touch) as arrays ordered by time and touch_id, and its milestone times, ready for leadfunnel.attribution_weights. Leads without touches have empty arrays (unattributed).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.lead_id IS 'Lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.lead_created_at IS 'When the lead was created (lead-creation milestone).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.opportunity_created_at IS 'When the lead first entered stage opportunity (opportunity-creation milestone); NULL if it never did.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.closed_at IS 'When the lead closed (closing milestone); NULL while open.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.touched_at IS 'Times of the touches that count, ascending.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.touch_id IS 'The touches, in the order of touched_at.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.campaign_id IS 'Campaign of each touch, in the order of touched_at.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.is_account_touch IS 'Whether each touch is account-level (ABM), in the order of touched_at.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.touch_attribution WITH (security_invoker = true) AS
        SELECT pa.lead_id, pa.account_id,
               pa.touch_id[c.touch_index] AS touch_id,
               pa.campaign_id[c.touch_index] AS campaign_id,
               pa.touched_at[c.touch_index] AS touched_at,
               pa.is_account_touch[c.touch_index] AS is_account_touch,
               c.model, c.credit
          FROM %1$s.lead_touch_path pa
         CROSS JOIN (SELECT @extschema@.setting_value('time_decay_half_life') AS half_life) p
         CROSS JOIN LATERAL @extschema@.touch_credit(pa.touched_at, pa.touch_id, pa.lead_created_at,
                                                     pa.opportunity_created_at, pa.closed_at, p.half_life) c$d$,
        $d$COMMENT ON VIEW %1$s.touch_attribution IS
            'Credit of each touch that counts for a lead, under every attribution model: per lead and model the credits sum to 1. Join lead (product_area, region, created_at) and campaign for any dimension.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.lead_id IS 'Lead credited.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.touch_id IS 'The touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.campaign_id IS 'Campaign of the touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.touched_at IS 'When the touch happened.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.is_account_touch IS 'True for an account-level (ABM) touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.model IS 'Attribution model.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.credit IS 'Fraction of the lead credited to the touch under the model (0..1).'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.campaign_pipeline WITH (security_invoker = true) AS
        WITH sourced AS MATERIALIZED (
            SELECT l.source_campaign_id AS campaign_id, count(*) AS leads,
                   sum(l.amount) FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage) AS pipeline,
                   sum(l.amount) FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage) AS won
              FROM %1$s.lead l
             WHERE l.source_campaign_id IS NOT NULL
             GROUP BY l.source_campaign_id
        ), touched AS MATERIALIZED (
            SELECT lt.campaign_id, count(*) AS leads,
                   sum(l.amount) FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage) AS pipeline,
                   sum(l.amount) FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage) AS won
              FROM (SELECT DISTINCT account_id, lead_id, campaign_id FROM %1$s.lead_touch) lt
              JOIN %1$s.lead l ON l.account_id OPERATOR(pg_catalog.=) lt.account_id AND l.lead_id OPERATOR(pg_catalog.=) lt.lead_id
             GROUP BY lt.campaign_id
        )
        SELECT c.campaign_id,
               coalesce(so.leads, 0) AS sourced_leads,
               coalesce(tt.leads, 0) AS touched_leads,
               coalesce(so.pipeline, 0) AS sourced_pipeline,
               coalesce(tt.pipeline, 0) AS touched_pipeline,
               coalesce(so.won, 0) AS sourced_won,
               coalesce(tt.won, 0) AS touched_won
          FROM %1$s.campaign c
          LEFT JOIN sourced so ON so.campaign_id OPERATOR(pg_catalog.=) c.campaign_id
          LEFT JOIN touched tt ON tt.campaign_id OPERATOR(pg_catalog.=) c.campaign_id$d$,
        $d$COMMENT ON VIEW %1$s.campaign_pipeline IS
            'Per campaign, the leads it generated (sourced: lead.source_campaign_id) and the leads it touched (any touch that counts for the lead, see lead_touch, ABM touches included; each lead once per campaign), with their pipeline (amount of leads that reached opportunity) and won amounts.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.campaign_id IS 'Campaign.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.sourced_leads IS 'Leads whose source campaign it is.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.touched_leads IS 'Leads it touched before they closed (each lead counted once).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.sourced_pipeline IS 'Sum of amount over sourced leads that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.touched_pipeline IS 'Sum of amount over touched leads that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.sourced_won IS 'Sum of amount over sourced leads that were won.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.touched_won IS 'Sum of amount over touched leads that were won.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.campaign_attribution WITH (security_invoker = true) AS
        WITH totals AS MATERIALIZED (
            SELECT @extschema@.attribution_totals(
                       pa.touched_at, pa.touch_id, pa.campaign_id, l.created_at,
                       CASE WHEN l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage THEN
                           (SELECT min(h.entered_at) FROM %1$s.lead_stage_history h
                             WHERE h.account_id OPERATOR(pg_catalog.=) l.account_id AND h.lead_id OPERATOR(pg_catalog.=) l.lead_id
                               AND h.to_stage OPERATOR(pg_catalog.=) 'opportunity'::@extschema@.lead_stage)
                       END,
                       l.closed_at, p.half_life,
                       CASE WHEN l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage THEN l.amount::float8 END,
                       CASE WHEN l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage THEN l.amount::float8 END) AS t
              FROM (SELECT lt.account_id, lt.lead_id, array_agg(lt.touched_at) AS touched_at,
                           array_agg(lt.touch_id) AS touch_id, array_agg(lt.campaign_id) AS campaign_id
                      FROM %1$s.lead_touch lt
                     GROUP BY lt.account_id, lt.lead_id) pa
              JOIN %1$s.lead l ON l.account_id OPERATOR(pg_catalog.=) pa.account_id AND l.lead_id OPERATOR(pg_catalog.=) pa.lead_id
             CROSS JOIN (SELECT @extschema@.setting_value('time_decay_half_life') AS half_life) p
        ), credit AS (
            SELECT c.* FROM totals, unnest(totals.t) c
        )
        SELECT ca.campaign_id, m.model,
               coalesce(cr.leads, 0)::numeric AS attributed_leads,
               coalesce(cr.pipeline, 0)::numeric AS attributed_pipeline,
               coalesce(cr.won, 0)::numeric AS attributed_won
          FROM %1$s.campaign ca
         CROSS JOIN unnest(pg_catalog.enum_range(NULL::@extschema@.attribution_model)) m(model)
          LEFT JOIN credit cr ON cr.campaign_id OPERATOR(pg_catalog.=) ca.campaign_id AND cr.model OPERATOR(pg_catalog.=) m.model$d$,
        $d$COMMENT ON VIEW %1$s.campaign_attribution IS
            'Per campaign and attribution model, the fractional credit of the leads its touches count for (see lead_touch and leadfunnel.attribution_weights; time_decay with the time_decay_half_life setting). Each lead with at least one touch hands out exactly 1 under every model, so for each model the sums over campaigns equal the totals over attributed leads, up to float8 rounding.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.campaign_id IS 'Campaign.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.model IS 'Attribution model.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.attributed_leads IS 'Sum of the campaign''s credit over leads (fractional).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.attributed_pipeline IS 'Sum of credit times amount over leads that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.attributed_won IS 'Sum of credit times amount over won leads.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_attribution(name) IS
'Internal (called by create_model, and by upgrades on existing models): creates the attribution views lead_touch, lead_touch_path, touch_attribution, campaign_pipeline and campaign_attribution, and an index on account-level touches, in a model schema.';

CREATE FUNCTION @extschema@.generate_demo_touches(target_schema name, seed float8 DEFAULT 0.42, after_lead_id bigint DEFAULT 0)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    anchor constant timestamptz := '2025-12-31 18:00:00+00';
    base_touch bigint;
    added bigint;
    abm bigint;
BEGIN
    IF seed IS NULL OR seed < -1 OR seed > 1 THEN
        RAISE EXCEPTION 'demo seed must be between -1 and 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF after_lead_id IS NULL THEN
        RAISE EXCEPTION 'argument "after_lead_id" of generate_demo_touches must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass 0 for touches of every lead.';
    END IF;
    PERFORM setseed(seed);
    EXECUTE format('SELECT coalesce(max(touch_id), 0) FROM %s.touch', s) INTO base_touch;

    -- lead-level touches: the source campaign touches first (up to 30 days
    -- before creation; for 8 % of the leads 400 days before, outside the
    -- default lookback), then 0..5 touches of random campaigns from 60 days
    -- before creation until 20 days after closing (those do not count)
    EXECUTE format($q$
        INSERT INTO %1$s.touch (touch_id, campaign_id, account_id, contact_id, lead_id, touched_at, channel)
        SELECT %2$s + row_number() OVER (ORDER BY x.lead_id, x.k), x.campaign_id, x.account_id, x.contact_id,
               x.lead_id, x.touched_at, c.channel
          FROM (SELECT l.lead_id, l.account_id, l.contact_id, g.k,
                       CASE WHEN g.k = 0 AND l.source_campaign_id IS NOT NULL THEN l.source_campaign_id
                            ELSE camps.ids[1 + floor(random() * cardinality(camps.ids))::int] END AS campaign_id,
                       least(%3$L::timestamptz,
                             CASE WHEN g.k = 0 AND random() < 0.08 THEN l.created_at - interval '400 days'
                                  WHEN g.k = 0 THEN l.created_at - random() * interval '30 days'
                                  ELSE l.created_at - interval '60 days'
                                       + random() * (coalesce(l.closed_at, %3$L::timestamptz) - l.created_at + interval '80 days') END)
                           AS touched_at
                  FROM (SELECT * FROM %1$s.lead WHERE lead_id > %4$s ORDER BY lead_id) l
                 CROSS JOIN (SELECT array_agg(campaign_id ORDER BY campaign_id) AS ids FROM %1$s.campaign) camps
                 CROSS JOIN LATERAL generate_series(0, floor(random() * 6)::int + 0 * l.lead_id) g(k)  -- lateral: one draw per lead
                 WHERE cardinality(camps.ids) > 0) x
          JOIN %1$s.campaign c ON c.campaign_id = x.campaign_id
    $q$, s, base_touch, anchor, after_lead_id);
    GET DIAGNOSTICS added = ROW_COUNT;

    -- account-level (ABM) touches: 0..3 per account of those leads, between
    -- 90 days before the account's first lead and the end of the demo period
    EXECUTE format($q$
        INSERT INTO %1$s.touch (touch_id, campaign_id, account_id, touched_at, channel)
        SELECT %2$s + row_number() OVER (ORDER BY x.account_id, x.k), x.campaign_id, x.account_id, x.touched_at, c.channel
          FROM (SELECT a.account_id, g.k,
                       camps.ids[1 + floor(random() * cardinality(camps.ids))::int] AS campaign_id,
                       a.first_created - interval '90 days' + random() * (%3$L::timestamptz - a.first_created + interval '90 days') AS touched_at
                  FROM (SELECT account_id, min(created_at) AS first_created FROM %1$s.lead
                         WHERE lead_id > %4$s GROUP BY account_id ORDER BY account_id) a
                 CROSS JOIN (SELECT array_agg(campaign_id ORDER BY campaign_id) AS ids FROM %1$s.campaign) camps
                 CROSS JOIN LATERAL generate_series(1, floor(random() * 4)::int + 0 * a.account_id) g(k)
                 WHERE cardinality(camps.ids) > 0) x
          JOIN %1$s.campaign c ON c.campaign_id = x.campaign_id
    $q$, s, base_touch + added, anchor, after_lead_id);
    GET DIAGNOSTICS abm = ROW_COUNT;
    RETURN added + abm;
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo_touches(name, float8, bigint) IS
'Adds demo touches to a model for the leads numbered after after_lead_id: a touch by the source campaign shortly before each lead was created (for some leads long before, outside the lookback), up to five touches by random campaigns from 60 days before creation until 20 days after closing, and up to three account-level (ABM) touches per account. Deterministic for a seed in [-1, 1]; all dated before 2026-01-01. Returns the number of touches added. Called by generate_demo.';

-- ---- new: src/sql/80_upgrade.sql
-- Model upgrades: leadfunnel.upgrade_model() gives a model made by an earlier
-- version the objects that create_model() of this version makes.  Every
-- concern that adds objects to a model does so in one function
-- @extschema@.model_add_<concern>(target_schema name), called by create_model()
-- and, for existing models, by upgrade_model().  Contract of those functions
-- (doc/releasing.md): idempotent -- they create only what the model lacks and
-- work on a model that holds data.  Objects created during ALTER EXTENSION
-- would become members of the extension, so upgrading models is a separate
-- step after ALTER EXTENSION leadfunnel UPDATE.

CREATE FUNCTION @extschema@.upgrade_model(target_schema name) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    owner name;
    f record;
    done text[] := '{}';
    on_citus boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus');
    citus_saved text[];
BEGIN
    SELECT c.relowner::regrole::name INTO owner
      FROM pg_class c
     WHERE c.oid OPERATOR(pg_catalog.=) format('%s.lead', s)::regclass;
    IF owner OPERATOR(pg_catalog.<>) current_user THEN
        RAISE EXCEPTION 'model "%" can only be upgraded by its owner "%"', target_schema, owner
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Run SET ROLE %I first, so that the new objects belong to the owner of the model.', owner);
    END IF;
    IF on_citus THEN
        -- as create_model does: the concerns create tables, indexes, triggers
        -- and functions over distributed tables in this one transaction
        citus_saved := @extschema@.citus_ddl_begin();
    END IF;
    -- every model_add_<concern>(name) of the extension, in name order
    FOR f IN
        SELECT n.nspname, p.proname
          FROM pg_proc p
          JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
          JOIN pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_proc'::regclass
                          AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
          JOIN pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
         WHERE e.extname OPERATOR(pg_catalog.=) 'leadfunnel'
           AND p.proname OPERATOR(pg_catalog.~) '^model_add_'
           AND p.pronargs OPERATOR(pg_catalog.=) 1
           AND p.proargtypes[0] OPERATOR(pg_catalog.=) 'pg_catalog.name'::regtype
         ORDER BY p.proname
    LOOP
        EXECUTE format('SELECT %I.%I($1)', f.nspname, f.proname) USING target_schema;
        done := done OPERATOR(pg_catalog.||) format('%I.%I', f.nspname, f.proname);
    END LOOP;
    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
    RETURN done;
END
$fn$;
COMMENT ON FUNCTION @extschema@.upgrade_model(name) IS
'Gives a model created by an earlier version of leadfunnel the objects (tables, columns, triggers, functions, views) that create_model() of the installed version makes, by running every model_add_* function of the extension on it; idempotent, keeps the data. Run it as the model''s owner after ALTER EXTENSION leadfunnel UPDATE. Returns the functions it ran.';

-- ---- changed since the previous release: generate_demo verify_model create_model model_is_distributed model_distribute_table colocated_table citus_ddl_begin citus_ddl_end
CREATE OR REPLACE FUNCTION @extschema@.colocated_table(fired_on regclass, target regclass) RETURNS regclass
    AS 'MODULE_PATHNAME', 'lf_colocated_table' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.colocated_table(regclass, regclass) IS
'The table a model trigger firing on fired_on writes to when its argument names target: target itself, or, when fired_on is a Citus shard, the shard of target co-located with it (SQLSTATE 55000 when there is none on this node). Shows how the transition trigger resolves its history table on a Citus worker.';
CREATE OR REPLACE FUNCTION @extschema@.citus_ddl_begin() RETURNS text[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    saved text[] := ARRAY[current_setting('citus.enable_unsafe_triggers'),
                          current_setting('citus.multi_shard_modify_mode')];
BEGIN
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    RETURN saved;
END
$fn$;
COMMENT ON FUNCTION @extschema@.citus_ddl_begin() IS
'On Citus: allows triggers on distributed tables and sequential modify mode for the current transaction, and returns the previous values for citus_ddl_end(). Used by create_model, upgrade_model and the model_add_* functions.';
CREATE OR REPLACE FUNCTION @extschema@.citus_ddl_end(saved text[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM set_config('citus.enable_unsafe_triggers', saved[1], true);
    PERFORM set_config('citus.multi_shard_modify_mode', saved[2], true);
END
$fn$;
COMMENT ON FUNCTION @extschema@.citus_ddl_end(text[]) IS
'On Citus: puts back the settings that citus_ddl_begin() changed.';
CREATE OR REPLACE FUNCTION @extschema@.create_model(target_schema name, distributed boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text;
    existing text;
    on_citus boolean;
    citus_saved text[];
    ddl text;
    fk text[];
BEGIN
    IF target_schema IS NULL OR target_schema = '' THEN
        RAISE EXCEPTION 'target schema of a leadfunnel model must not be null or empty'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF distributed IS NULL THEN
        RAISE EXCEPTION 'argument "distributed" of create_model must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass true for a model with the keys Citus needs, false for a single-node model.';
    END IF;
    s := quote_ident(target_schema);

    SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY c.relname) INTO existing
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = target_schema
       AND c.relname IN ('account', 'contact', 'campaign', 'lead', 'lead_stage_history', 'touch');
    IF existing IS NOT NULL THEN
        RAISE EXCEPTION 'schema "%" already holds a leadfunnel model', target_schema
            USING ERRCODE = 'duplicate_table',
                  DETAIL = format('Relations %s exist.', existing),
                  HINT = 'Create the model in another schema, or drop this one first (DROP SCHEMA ... CASCADE).';
    END IF;

    on_citus := distributed AND EXISTS (SELECT 1 FROM pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus');
    IF distributed AND NOT on_citus THEN
        RAISE NOTICE 'extension "citus" is not installed: model "%" gets the keys of a distributed model but its tables stay local', target_schema
            USING HINT = 'See "Running on Citus" in the documentation to distribute its tables once Citus is installed.';
    END IF;
    IF on_citus THEN
        citus_saved := @extschema@.citus_ddl_begin();
    END IF;

    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %s', s);

    -- Tables first, with their keys but without foreign keys and triggers:
    -- Citus distributes a table before foreign keys to it are defined.  The
    -- keys differ by mode only: a single-node model keys lead, contact and
    -- touch by their own id (cheap lookups, global uniqueness) and adds
    -- UNIQUE (account_id, <id>) for the composite foreign keys; a distributed
    -- model makes (account_id, <id>) the primary key, as Citus requires keys
    -- that include the distribution column.
    EXECUTE format($ddl$
        CREATE TABLE %1$s.account (
            account_id   bigint PRIMARY KEY,
            name         text,
            region       text,
            segment      text,
            is_advocate  boolean NOT NULL DEFAULT false,
            churned_at   timestamptz,
            status       @extschema@.account_status NOT NULL DEFAULT 'prospect',
            status_since timestamptz
        );
        COMMENT ON TABLE %1$s.account IS 'Accounts (companies). status and status_since are maintained by leadfunnel.';
        COMMENT ON COLUMN %1$s.account.account_id IS 'Account key; the distribution column of every lead-related table.';
        COMMENT ON COLUMN %1$s.account.name IS 'Company name.';
        COMMENT ON COLUMN %1$s.account.region IS 'Sales region.';
        COMMENT ON COLUMN %1$s.account.segment IS 'Customer segment (e.g. enterprise, mid-market, SMB).';
        COMMENT ON COLUMN %1$s.account.is_advocate IS 'Set when a customer is an advocate (ambassador, reference customer).';
        COMMENT ON COLUMN %1$s.account.churned_at IS 'Explicit churn: the account is a former customer from then on.';
        COMMENT ON COLUMN %1$s.account.status IS 'Lifecycle status as of the last event (maintained by leadfunnel).';
        COMMENT ON COLUMN %1$s.account.status_since IS 'Since when status holds (maintained by leadfunnel).';

        CREATE TABLE %1$s.contact (
            contact_id bigint NOT NULL,
            account_id bigint NOT NULL,
            email      text,
            opt_in     boolean NOT NULL DEFAULT false,
            status     @extschema@.contact_status NOT NULL DEFAULT 'contact',
            %2$s
        );
        COMMENT ON TABLE %1$s.contact IS 'Contacts (people) of accounts.';
        COMMENT ON COLUMN %1$s.contact.contact_id IS 'Contact key.';
        COMMENT ON COLUMN %1$s.contact.account_id IS 'Account the contact works for.';
        COMMENT ON COLUMN %1$s.contact.email IS 'E-mail address.';
        COMMENT ON COLUMN %1$s.contact.opt_in IS 'Whether the contact opted in to marketing.';
        COMMENT ON COLUMN %1$s.contact.status IS 'Marketing status of the contact.';

        CREATE TABLE %1$s.campaign (
            campaign_id  bigint PRIMARY KEY,
            name         text,
            channel      text,
            product_area text,
            region       text,
            cost         numeric
        );
        COMMENT ON TABLE %1$s.campaign IS 'Marketing campaigns (actions) that source and touch leads.';
        COMMENT ON COLUMN %1$s.campaign.campaign_id IS 'Campaign key.';
        COMMENT ON COLUMN %1$s.campaign.name IS 'Campaign name.';
        COMMENT ON COLUMN %1$s.campaign.channel IS 'Channel (e.g. webinar, paid search, event, outbound).';
        COMMENT ON COLUMN %1$s.campaign.product_area IS 'Product area the campaign promotes.';
        COMMENT ON COLUMN %1$s.campaign.region IS 'Region the campaign targets.';
        COMMENT ON COLUMN %1$s.campaign.cost IS 'Campaign cost.';

        CREATE TABLE %1$s.lead (
            lead_id            bigint NOT NULL,
            account_id         bigint NOT NULL,
            contact_id         bigint,
            funnel             text NOT NULL DEFAULT 'enterprise',
            product_area       text,
            region             text,
            source_campaign_id bigint,
            amount             numeric,
            stage              @extschema@.lead_stage NOT NULL DEFAULT 'lead',
            max_stage          @extschema@.lead_stage,
            motion             @extschema@.lead_motion,
            created_at         timestamptz NOT NULL DEFAULT now(),
            stage_entered_at   timestamptz,
            closed_at          timestamptz,
            close_reason       text,
            %3$s
        );
        %5$s
        CREATE INDEX ON %1$s.lead (source_campaign_id);
        CREATE INDEX ON %1$s.lead (created_at);
        COMMENT ON TABLE %1$s.lead IS 'Leads: one buying process of one account. Move a lead with UPDATE ... SET stage; the move is validated and recorded in lead_stage_history.';
        COMMENT ON COLUMN %1$s.lead.lead_id IS 'Lead key.';
        COMMENT ON COLUMN %1$s.lead.account_id IS 'Account (company) of the buying process.';
        COMMENT ON COLUMN %1$s.lead.contact_id IS 'Main contact (person) of the lead.';
        COMMENT ON COLUMN %1$s.lead.funnel IS 'Name of the funnel (leadfunnel.funnel) whose rules the lead follows.';
        COMMENT ON COLUMN %1$s.lead.product_area IS 'Product area of interest.';
        COMMENT ON COLUMN %1$s.lead.region IS 'Region of the lead.';
        COMMENT ON COLUMN %1$s.lead.source_campaign_id IS 'Campaign that generated (sourced) the lead.';
        COMMENT ON COLUMN %1$s.lead.amount IS 'Expected or won deal amount.';
        COMMENT ON COLUMN %1$s.lead.stage IS 'Current stage; change it with UPDATE to move the lead.';
        COMMENT ON COLUMN %1$s.lead.max_stage IS 'Furthest open-or-won stage reached (maintained, read-only).';
        COMMENT ON COLUMN %1$s.lead.motion IS 'New business, expansion or win-back: set at insert from the account''s status.';
        COMMENT ON COLUMN %1$s.lead.created_at IS 'When the lead was created (start of its history).';
        COMMENT ON COLUMN %1$s.lead.stage_entered_at IS 'When the lead entered its current stage; set it in the UPDATE that moves the lead to backfill a past move.';
        COMMENT ON COLUMN %1$s.lead.closed_at IS 'When the lead closed (won, recycled, disqualified or lost); NULL while open (maintained).';
        COMMENT ON COLUMN %1$s.lead.close_reason IS 'Why the lead closed; recorded as the reason of the closing history row.';

        CREATE TABLE %1$s.lead_stage_history (
            lead_id    bigint NOT NULL,
            account_id bigint NOT NULL,
            seq        int NOT NULL,
            from_stage @extschema@.lead_stage,
            to_stage   @extschema@.lead_stage NOT NULL,
            entered_at timestamptz NOT NULL,
            left_at    timestamptz,
            changed_by name NOT NULL DEFAULT current_user,
            reason     text,
            PRIMARY KEY (account_id, lead_id, seq)
        ) WITH (fillfactor = 90);
        -- Only the trigger writes this table, under the lock of the lead row it
        -- moves: it finds a lead's current row as the last one of its primary key,
        -- and closing it (setting left_at) is a HOT update, for which fillfactor
        -- leaves room. the shape of each lead's rows (seq
        -- from 1 without gaps, from_stage NULL exactly on seq 1, intervals that
        -- follow each other) is its invariant, checked by leadfunnel.verify_model()
        -- rather than by CHECK constraints that every move would pay for.
        COMMENT ON TABLE %1$s.lead_stage_history IS 'Append-only history of stage moves: one row per stage a lead entered, written by the transition trigger.';
        COMMENT ON COLUMN %1$s.lead_stage_history.lead_id IS 'Lead that moved.';
        COMMENT ON COLUMN %1$s.lead_stage_history.account_id IS 'Account of the lead.';
        COMMENT ON COLUMN %1$s.lead_stage_history.seq IS 'Position in the lead''s history, 1, 2, 3, ... without gaps.';
        COMMENT ON COLUMN %1$s.lead_stage_history.from_stage IS 'Stage left; NULL for the first row.';
        COMMENT ON COLUMN %1$s.lead_stage_history.to_stage IS 'Stage entered.';
        COMMENT ON COLUMN %1$s.lead_stage_history.entered_at IS 'When the stage was entered.';
        COMMENT ON COLUMN %1$s.lead_stage_history.left_at IS 'When the stage was left; NULL while it is the current stage.';
        COMMENT ON COLUMN %1$s.lead_stage_history.changed_by IS 'Role (current_user) that made the move.';
        COMMENT ON COLUMN %1$s.lead_stage_history.reason IS 'close_reason of the lead, for moves into a closed stage.';

        CREATE TABLE %1$s.touch (
            touch_id    bigint NOT NULL,
            campaign_id bigint NOT NULL,
            account_id  bigint NOT NULL,
            contact_id  bigint,
            lead_id     bigint,
            touched_at  timestamptz NOT NULL,
            channel     text,
            %4$s
        );
        CREATE INDEX ON %1$s.touch (account_id, lead_id);
        CREATE INDEX ON %1$s.touch (campaign_id);
        COMMENT ON TABLE %1$s.touch IS 'Marketing touches. A touch without lead_id is an account-level (ABM) touch: it counts for the account''s leads open at that time.';
        COMMENT ON COLUMN %1$s.touch.touch_id IS 'Touch key.';
        COMMENT ON COLUMN %1$s.touch.campaign_id IS 'Campaign that made the touch.';
        COMMENT ON COLUMN %1$s.touch.account_id IS 'Account touched.';
        COMMENT ON COLUMN %1$s.touch.contact_id IS 'Contact touched, if known.';
        COMMENT ON COLUMN %1$s.touch.lead_id IS 'Lead touched; NULL for an account-level (ABM) touch.';
        COMMENT ON COLUMN %1$s.touch.touched_at IS 'When the touch happened.';
        COMMENT ON COLUMN %1$s.touch.channel IS 'Channel of the touch.';

    $ddl$, s,
        CASE WHEN distributed THEN 'PRIMARY KEY (account_id, contact_id)'
             ELSE 'PRIMARY KEY (contact_id), UNIQUE (account_id, contact_id)' END,
        CASE WHEN distributed THEN 'PRIMARY KEY (account_id, lead_id)'
             ELSE 'PRIMARY KEY (lead_id), UNIQUE (account_id, lead_id)' END,
        CASE WHEN distributed THEN 'PRIMARY KEY (account_id, touch_id)'
             ELSE 'PRIMARY KEY (touch_id)' END,
        -- lookups by lead_id alone stay index scans (on every shard)
        CASE WHEN distributed THEN format('CREATE INDEX lead_lead_id_idx ON %s.lead (lead_id);', s)
             ELSE '' END);

    IF on_citus THEN
        PERFORM @extschema@.model_distribute_table(target_schema, t, t = 'campaign')
           FROM unnest(ARRAY['campaign', 'account', 'contact', 'lead', 'lead_stage_history', 'touch']) AS t;
    END IF;

    -- Foreign keys, all of them including account_id between the account's
    -- tables (co-located shards on Citus) or pointing at campaign (a
    -- reference table on Citus); none into the extension's own tables.
    -- One statement per EXECUTE: Citus propagates a DDL statement to the
    -- workers as its query string, which must hold only that statement.
    FOREACH fk SLICE 1 IN ARRAY ARRAY[
        -- table, constraint, columns, referenced table, referenced columns
        ['contact', 'contact_account_id_fkey', 'account_id', 'account', 'account_id'],
        ['lead', 'lead_account_id_fkey', 'account_id', 'account', 'account_id'],
        ['lead', 'lead_source_campaign_id_fkey', 'source_campaign_id', 'campaign', 'campaign_id'],
        ['lead', 'lead_account_id_contact_id_fkey', 'account_id, contact_id', 'contact', 'account_id, contact_id'],
        ['lead_stage_history', 'lead_stage_history_account_id_lead_id_fkey', 'account_id, lead_id', 'lead', 'account_id, lead_id'],
        ['touch', 'touch_campaign_id_fkey', 'campaign_id', 'campaign', 'campaign_id'],
        ['touch', 'touch_account_id_fkey', 'account_id', 'account', 'account_id'],
        ['touch', 'touch_account_id_lead_id_fkey', 'account_id, lead_id', 'lead', 'account_id, lead_id'],
        ['touch', 'touch_account_id_contact_id_fkey', 'account_id, contact_id', 'contact', 'account_id, contact_id']
    ] LOOP
        EXECUTE format('ALTER TABLE %1$s.%2$I ADD CONSTRAINT %3$I FOREIGN KEY (%4$s) REFERENCES %1$s.%5$I (%6$s)',
                       s, fk[1], fk[2], fk[3], fk[4], fk[5]);
    END LOOP;

    -- Triggers on the user's tables (never extension members); on Citus they
    -- fire on the shards, and the history trigger writes to the co-located
    -- history shard (colocation.c).
    FOREACH ddl IN ARRAY ARRAY[
        'CREATE TRIGGER lead_stage_transition BEFORE INSERT OR UPDATE ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_stage_transition()',
        'CREATE TRIGGER lead_stage_record AFTER INSERT OR UPDATE OF stage ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_stage_record(%2$L)',
        'CREATE TRIGGER lead_stage_history_append_only BEFORE INSERT OR UPDATE OR DELETE ON %1$s.lead_stage_history
            FOR EACH ROW EXECUTE FUNCTION @extschema@.history_append_only()',
        'CREATE TRIGGER lead_stage_history_no_truncate BEFORE TRUNCATE ON %1$s.lead_stage_history
            FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only()'
    ] LOOP
        EXECUTE format(ddl, s, s || '.lead_stage_history');
    END LOOP;

    -- Objects of later concerns (lifecycle, analytics views, attribution views) are created here.
    -- (After the distribution above: Citus propagates views and triggers
    -- created on distributed tables; a concern's own table is distributed
    -- with model_distribute_table() before its foreign keys and triggers.)
    PERFORM @extschema@.model_add_lifecycle(target_schema);
    PERFORM @extschema@.model_add_analytics(target_schema);
    PERFORM @extschema@.model_add_attribution(target_schema);

    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_model(name, boolean) IS
'Creates a leadfunnel model (tables account, contact, campaign, lead, lead_stage_history, touch, their keys, triggers and views) in the given schema, owned by the caller. The schema is created if missing; a schema that already holds a model is an error (SQLSTATE 42P07) and nothing is created. With distributed => true the primary keys of contact, lead and touch include account_id (as Citus requires), and when the citus extension is installed campaign becomes a reference table and the other tables are distributed by account_id, co-located.';
CREATE OR REPLACE FUNCTION @extschema@.model_is_distributed(target_schema name) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.model_schema(target_schema);
    RETURN EXISTS (
        SELECT 1
          FROM pg_index i
         WHERE i.indrelid OPERATOR(pg_catalog.=) format('%I.lead', target_schema)::regclass
           AND i.indisprimary
           AND i.indnkeyatts OPERATOR(pg_catalog.=) 2
           AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
                  FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                                     AND a.attnum OPERATOR(pg_catalog.=) k.attnum)
               OPERATOR(pg_catalog.=) ARRAY['account_id', 'lead_id']);
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_is_distributed(name) IS
'Whether a model was created with distributed => true, i.e. its keys include account_id as Citus requires (the lead table''s primary key is (account_id, lead_id)), whether or not Citus has distributed it yet. For the functions that add a concern''s objects to a model.';
CREATE OR REPLACE FUNCTION @extschema@.model_distribute_table(target_schema name, table_name name, reference boolean DEFAULT false)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    rel regclass;
    anchor regclass;
BEGIN
    IF table_name IS NULL OR reference IS NULL THEN
        RAISE EXCEPTION 'table name and reference flag must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus')
       OR NOT @extschema@.model_is_distributed(target_schema) THEN
        RETURN false;
    END IF;
    rel := format('%s.%I', s, table_name)::regclass;
    anchor := format('%s.account', s)::regclass;
    IF reference THEN
        EXECUTE 'SELECT pg_catalog.create_reference_table($1)' USING rel;
    ELSIF rel OPERATOR(pg_catalog.=) anchor THEN
        EXECUTE $q$SELECT pg_catalog.create_distributed_table($1, 'account_id')$q$ USING rel;
    ELSE
        EXECUTE $q$SELECT pg_catalog.create_distributed_table($1, 'account_id', colocate_with => $2)$q$
          USING rel, anchor::text;
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_distribute_table(name, name, boolean) IS
'On Citus, for a model created with distributed => true: makes one of the model''s tables a reference table, or distributes it by account_id co-located with the model''s account table (which is distributed first). Returns false and does nothing when citus is not installed or the model is single-node. Call it on a new table before adding its foreign keys and triggers.';
CREATE OR REPLACE FUNCTION @extschema@.verify_model(target_schema name)
    RETURNS TABLE (lead_id bigint, account_id bigint, problem text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH h AS (
            SELECT h.*,
                   lag(h.to_stage) OVER w AS prev_to,
                   lag(h.left_at) OVER w AS prev_left,
                   row_number() OVER w AS rn
              FROM %1$s.lead_stage_history h
            WINDOW w AS (PARTITION BY h.account_id, h.lead_id ORDER BY h.seq)
        ), per_lead AS (
            SELECT h.account_id, h.lead_id,
                   count(*) FILTER (WHERE h.left_at IS NULL) AS current_rows,
                   max(h.to_stage) FILTER (WHERE h.to_stage <= 'won') AS max_reached,
                   bool_and(h.seq = h.rn) AS gapless,
                   bool_and(h.seq = 1 OR (h.from_stage = h.prev_to AND h.entered_at = h.prev_left)) AS chained,
                   bool_and(h.left_at IS NULL OR h.left_at >= h.entered_at) AS ordered
              FROM h GROUP BY h.account_id, h.lead_id
        )
        -- one array element per check, NULL when it passes (no VALUES list of
        -- stable expressions: Citus cannot push those down to the shards)
        SELECT v.lead_id, v.account_id, v.problem
          FROM (SELECT l.lead_id, l.account_id, unnest(ARRAY[
                    CASE WHEN pl.lead_id IS NULL THEN 'lead has no history' END,
                    CASE WHEN pl.current_rows <> 1 THEN format('%%s current history rows instead of 1', pl.current_rows) END,
                    CASE WHEN cur.to_stage IS DISTINCT FROM l.stage THEN format('stage %%s but current history row is in %%s', l.stage, cur.to_stage) END,
                    CASE WHEN cur.entered_at IS DISTINCT FROM l.stage_entered_at THEN 'stage_entered_at differs from the current history row' END,
                    CASE WHEN NOT pl.gapless THEN 'history seq has gaps' END,
                    CASE WHEN NOT pl.chained THEN 'history intervals do not follow each other' END,
                    CASE WHEN NOT pl.ordered THEN 'a history interval ends before it starts' END,
                    CASE WHEN pl.max_reached IS DISTINCT FROM l.max_stage THEN format('max_stage %%s but history reached %%s', l.max_stage, pl.max_reached) END,
                    CASE WHEN (l.closed_at IS NULL) <> (l.stage < 'won') THEN 'closed_at does not match the stage' END
                ]) AS problem
                  FROM %1$s.lead l
                  LEFT JOIN per_lead pl ON pl.account_id = l.account_id AND pl.lead_id = l.lead_id
                  LEFT JOIN %1$s.lead_stage_history cur
                         ON cur.account_id = l.account_id AND cur.lead_id = l.lead_id AND cur.left_at IS NULL
               ) v
         WHERE v.problem IS NOT NULL
        UNION ALL
        SELECT h.lead_id, h.account_id, 'history row without lead'
          FROM %1$s.lead_stage_history h
         WHERE NOT EXISTS (SELECT 1 FROM %1$s.lead l WHERE l.account_id = h.account_id AND l.lead_id = h.lead_id)
        ORDER BY 2, 1, 3
    $q$, @extschema@.model_schema(target_schema));
END
$fn$;
COMMENT ON FUNCTION @extschema@.verify_model(name) IS
'Checks the invariants of a model''s leads and history (one current history row per lead matching its stage, gapless seq, intervals that follow each other, max_stage, closed_at) and returns one row per violation; no rows means the model is consistent.';
CREATE OR REPLACE FUNCTION @extschema@.generate_demo(target_schema name, leads int DEFAULT 5000, seed float8 DEFAULT 0.42)
    RETURNS TABLE (table_name text, rows_added bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    anchor constant timestamptz := '2025-12-31 18:00:00+00';
    n_accounts int;
    base_account bigint;
    base_lead bigint;
    base_campaign bigint;
    max_steps int;
    rec record;
    path text[];
    times timestamptz[];
    funnel text;
    segment text;
    t timestamptz;
    i int;
    p_continue float8;
BEGIN
    IF leads IS NULL OR leads < 1 OR leads > 10000000 THEN
        RAISE EXCEPTION 'number of demo leads must be between 1 and 10000000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF seed IS NULL OR seed < -1 OR seed > 1 THEN
        RAISE EXCEPTION 'demo seed must be between -1 and 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM setseed(seed);
    n_accounts := greatest(1, leads / 3);

    -- new rows are numbered after existing ones, so the generator can be run twice
    EXECUTE format('SELECT coalesce(max(account_id), 0) FROM %s.account', s) INTO base_account;
    EXECUTE format('SELECT coalesce(max(lead_id), 0) FROM %s.lead', s) INTO base_lead;
    EXECUTE format('SELECT coalesce(max(campaign_id), 0) FROM %s.campaign', s) INTO base_campaign;

    EXECUTE format($q$
        INSERT INTO %s.campaign (campaign_id, name, channel, product_area, region, cost)
        SELECT %s + row_number() OVER (ORDER BY c.ord, r.region), c.channel || ' ' || c.area || ' ' || r.region,
               c.channel, c.area, r.region, 5000 + 2500 * c.ord
          FROM (VALUES (1, 'webinar', 'analytics'), (2, 'paid_search', 'analytics'), (3, 'event', 'platform'),
                       (4, 'content', 'platform'), (5, 'outbound', 'security'), (6, 'partner', 'security')) c(ord, channel, area)
         CROSS JOIN (VALUES ('AMER'), ('APAC'), ('EMEA')) r(region)
    $q$, s, base_campaign);

    EXECUTE format($q$
        INSERT INTO %s.account (account_id, name, region, segment)
        SELECT %s + g, 'Company ' || (%s + g),
               (ARRAY['EMEA', 'AMER', 'APAC'])[1 + (g %% 3)],
               CASE WHEN random() < 0.2 THEN 'enterprise' WHEN random() < 0.5 THEN 'mid-market' ELSE 'smb' END
          FROM generate_series(1, %s) g
    $q$, s, base_account, base_account, n_accounts);
    EXECUTE format($q$
        INSERT INTO %s.contact (contact_id, account_id, email, opt_in)
        SELECT account_id, account_id, 'buyer' || account_id || '@example.com', random() < 0.6
          FROM %s.account WHERE account_id > %s
    $q$, s, s, base_account);

    IF to_regclass('pg_temp.lf_demo_plan') IS NOT NULL THEN
        DROP TABLE pg_temp.lf_demo_plan;
    END IF;
    -- path as lead_stage[], subscripted in a subquery: so the UPDATE below
    -- sets plain columns (Citus refuses stable expressions such as a
    -- text-to-enum cast in an UPDATE, and 13.2 crashes deparsing a
    -- subscripted column in its SET list)
    CREATE TEMP TABLE lf_demo_plan (lead_id bigint PRIMARY KEY, path @extschema@.lead_stage[], times timestamptz[]) ON COMMIT DROP;

    FOR rec IN EXECUTE format($q$
        SELECT %s + g AS lead_id,
               %s + 1 + floor(random() * %s)::bigint AS account_id,
               random() AS r_funnel, random() AS r_created
          FROM generate_series(1, %s) g
    $q$, base_lead, base_account, n_accounts, leads)
    LOOP
        -- funnel follows the price point: segment decides mostly, with some mix
        EXECUTE format('SELECT segment FROM %s.account WHERE account_id = $1', s) INTO segment USING rec.account_id;
        funnel := CASE WHEN segment = 'enterprise' AND rec.r_funnel < 0.8 THEN 'enterprise'
                       WHEN segment = 'smb' AND rec.r_funnel < 0.8 THEN 'self_serve'
                       ELSE 'inside_sales' END;
        t := anchor - make_interval(days => floor(rec.r_created * 540)::int, hours => floor(random() * 24)::int);
        times := ARRAY[t];
        path := ARRAY[CASE WHEN random() < 0.3 THEN 'visitor' ELSE 'lead' END];
        -- walk the funnel's stages; each stage converts with a stage-specific rate
        FOR i IN 1 .. 20 LOOP
            EXIT WHEN path[cardinality(path)] NOT IN ('visitor', 'lead', 'mql', 'tal', 'tql', 'sal', 'sql', 'opportunity');
            p_continue := CASE path[cardinality(path)]
                              WHEN 'visitor' THEN 0.55 WHEN 'lead' THEN 0.6 WHEN 'mql' THEN 0.55
                              WHEN 'tal' THEN 0.75 WHEN 'tql' THEN 0.6 WHEN 'sal' THEN 0.8
                              WHEN 'sql' THEN 0.7 ELSE 0.4 END;
            t := t + make_interval(days => 1 + floor(-ln(1 - random()) * 12)::int, hours => floor(random() * 24)::int);
            EXIT WHEN t > anchor;               -- still open today
            IF random() < p_continue THEN
                path := path || (@extschema@.allowed_next(funnel, path[cardinality(path)]::@extschema@.lead_stage))[1]::text;
            ELSE
                path := path || (ARRAY['recycled', 'disqualified', 'lost', 'lost'])[1 + floor(random() * 4)::int];
            END IF;
            times := times || t;
            -- a few recycled leads come back to nurture
            IF path[cardinality(path)] = 'recycled' AND random() < 0.3 THEN
                t := t + make_interval(days => 30 + floor(random() * 90)::int);
                EXIT WHEN t > anchor;
                path := path || 'lead'::text;
                times := times || t;
            END IF;
        END LOOP;
        INSERT INTO lf_demo_plan VALUES (rec.lead_id, path::@extschema@.lead_stage[], times);
        EXECUTE format($q$
            INSERT INTO %s.lead (lead_id, account_id, contact_id, funnel, product_area, region,
                                 source_campaign_id, amount, stage, created_at)
            SELECT $1, $2, $2, $3, c.product_area, a.region, c.campaign_id,
                   round((CASE $3 WHEN 'enterprise' THEN 120000 WHEN 'inside_sales' THEN 12000 ELSE 900 END)
                         * (0.5 + random()))::numeric,
                   $4::@extschema@.lead_stage, $5
              FROM %s.account a,
                   LATERAL (SELECT campaign_id, product_area FROM %s.campaign
                             WHERE campaign_id > %s ORDER BY campaign_id
                            OFFSET floor(random() * 18)::int LIMIT 1) c
             WHERE a.account_id = $2
        $q$, s, s, s, base_campaign)
        USING rec.lead_id, rec.account_id, funnel, path[1], times[1];
    END LOOP;

    -- move the leads stage by stage: one set-based UPDATE per step, through the trigger
    SELECT max(cardinality(p.path)) INTO max_steps FROM lf_demo_plan p;
    FOR i IN 2 .. coalesce(max_steps, 1) LOOP
        EXECUTE format($q$
            UPDATE %s.lead l
               SET stage = p.stage, stage_entered_at = p.at,
                   close_reason = CASE p.stage WHEN 'won' THEN 'signed' WHEN 'lost' THEN 'lost to competitor'
                                      WHEN 'disqualified' THEN 'no fit' WHEN 'recycled' THEN 'not now' END
              FROM (SELECT lead_id, path[$1] AS stage, times[$1] AS at
                      FROM lf_demo_plan WHERE cardinality(path) >= $1) p
             WHERE p.lead_id = l.lead_id
        $q$, s) USING i;
    END LOOP;

    -- Data of later concerns (lifecycle events, touches) is generated here.
    PERFORM @extschema@.generate_demo_lifecycle(target_schema, seed);
    PERFORM @extschema@.generate_demo_touches(target_schema, seed, base_lead);

    RETURN QUERY EXECUTE format($q$
        SELECT 'account', count(*) FROM %1$s.account WHERE account_id > %2$s
        UNION ALL SELECT 'campaign', count(*) FROM %1$s.campaign WHERE campaign_id > %3$s
        UNION ALL SELECT 'lead', count(*) FROM %1$s.lead WHERE lead_id > %4$s
        UNION ALL SELECT 'lead_stage_history', count(*) FROM %1$s.lead_stage_history WHERE lead_id > %4$s
        UNION ALL SELECT 'touch', count(*) FROM %1$s.touch WHERE account_id > %2$s
    $q$, s, base_account, base_campaign, base_lead);
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo(name, int, float8) IS
'Fills a model (see create_model) with realistic generated data: accounts in regions and segments, campaigns by channel and product area, and the given number of leads in the three built-in funnels, moved through their stages by the transition trigger with believable conversion rates and stage durations, all dated before 2026-01-01. Deterministic for a seed in [-1, 1]; new rows are numbered after existing ones. Returns the rows added per table.';
