-- Lifecycle: account status, lead motion and contact status.  The rule lives
-- in C (src/lifecycle_rule.c, applied by src/lifecycle.c) and is derived from
-- facts: won moves in the stage history, and churn and advocate events in the
-- model's account_event table.
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

CREATE FUNCTION @extschema@.lifecycle_refresh_batch(account regclass, contact regclass, lead regclass,
                                                    history regclass, events regclass, recompute_motion boolean)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'lf_lifecycle_refresh_batch' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lifecycle_refresh_batch(regclass, regclass, regclass, regclass, regclass, boolean) IS
'What lifecycle_refresh does, for a single-node model, in one pass over all accounts: the accounts, wins, events and (if asked) leads read by one ordered query each, the same status rule per account, the changed account statuses, every contact''s status and the changed motions written by one statement per table; the account, contact and lead tables are locked (SHARE ROW EXCLUSIVE) for the rest of the transaction. Returns the number of accounts whose stored status changed. Used by leadfunnel.generate_demo, which writes every account at once.';

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
    -- the view reads the history's current truth (model_add_history); it is
    -- (re)defined on every call, so that upgrade_model() brings it up to date
    -- on a model that has the other lifecycle objects already
    view_ddl text[] := ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.account_lifecycle WITH (security_invoker = true) AS
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
                       FROM %1$s.lead_stage_history WHERE to_stage = 'won' AND superseded_at IS NULL
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
    ];
BEGIN
    PERFORM @extschema@.model_add_history(target_schema);
    -- a model that has the lifecycle objects already keeps them (upgrade_model
    -- runs every model_add_* function on every model)
    IF to_regclass(format('%s.account_event', s)) IS NOT NULL THEN
        FOREACH ddl IN ARRAY view_ddl LOOP
            EXECUTE format(ddl, s, NULL, s || '.lead_stage_history', s || '.account_event', s || '.account');
        END LOOP;
        RETURN;
    END IF;
    on_citus := @extschema@.citus_distributed(format('%s.account', s)::regclass);
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
        -- (stage_label too where the model has labels: writing only the
        -- label moves the stage; see model_add_labels)
        $d$CREATE TRIGGER lead_to_lifecycle_update AFTER UPDATE OF stage, %6$scontact_id ON %1$s.lead
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
        'The account''s status history: one row per stretch of one status, in time order (valid_from NULL: since the beginning; valid_until NULL: still holds). No rows for an unknown account.'$d$
    ] || view_ddl LOOP
        EXECUTE format(ddl, s, args, s || '.lead_stage_history', s || '.account_event', s || '.account',
                       CASE WHEN EXISTS (SELECT 1 FROM pg_attribute
                                          WHERE attrelid OPERATOR(pg_catalog.=) format('%s.lead', s)::regclass
                                            AND attname OPERATOR(pg_catalog.=) 'stage_label' AND NOT attisdropped)
                            THEN 'stage_label, ' ELSE '' END);
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
    -- (on a single node in one pass over all accounts, as refresh_lifecycle would one by one)
    IF @extschema@.model_is_distributed(target_schema) THEN
        PERFORM @extschema@.refresh_lifecycle(target_schema, true);
    ELSE
        PERFORM @extschema@.lifecycle_refresh_batch(
            format('%s.account', s)::regclass, format('%s.contact', s)::regclass, format('%s.lead', s)::regclass,
            format('%s.lead_stage_history', s)::regclass, format('%s.account_event', s)::regclass, true);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo_lifecycle(name, float8) IS
'Part of leadfunnel.generate_demo: makes some customers of a demo model churn (churned_at after their last win) and some current customers advocates, deterministically per seed; then derives every lead''s motion (the generator inserts all leads before moving any).';
