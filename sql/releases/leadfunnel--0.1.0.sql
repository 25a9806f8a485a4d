-- leadfunnel install script, assembled by the Makefile from the files in
-- src/sql in name order (one file per concern).  Do not edit the assembled copy.
\echo Use "CREATE EXTENSION leadfunnel" to load this file. \quit
-- Types: the five enums of the contract, in contract order.

CREATE TYPE @extschema@.lead_stage AS ENUM (
    'visitor', 'lead', 'mql', 'tal', 'tql', 'sal', 'sql', 'opportunity',
    'won', 'recycled', 'disqualified', 'lost'
);
COMMENT ON TYPE @extschema@.lead_stage IS
'Stage of one lead (one buying process) in the demand waterfall: open stages visitor .. opportunity, closed-won won, closed-not-won recycled, disqualified, lost. Enum order is funnel order, so "reached stage X" is max_stage >= X.';

CREATE TYPE @extschema@.account_status AS ENUM (
    'prospect', 'new_customer', 'active_customer', 'advocate', 'former_customer'
);
COMMENT ON TYPE @extschema@.account_status IS
'Lifecycle of an account (company), separate from the funnel of its leads: prospect until a first win, new_customer during onboarding, active_customer, advocate (reference customer), former_customer after churn.';

CREATE TYPE @extschema@.lead_motion AS ENUM ('new_business', 'expansion', 'win_back');
COMMENT ON TYPE @extschema@.lead_motion IS
'Why a lead exists, fixed when it is created from the account''s status at that moment: new_business (prospect), expansion (customer or advocate: cross-/upsell), win_back (former customer).';

CREATE TYPE @extschema@.contact_status AS ENUM ('contact', 'subscriber', 'lead', 'customer');
COMMENT ON TYPE @extschema@.contact_status IS
'Marketing status of a contact (person): lead while it has an open lead, customer while its account is a customer, otherwise subscriber (opted in) or contact (no permission).';

CREATE TYPE @extschema@.attribution_model AS ENUM (
    'first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'full_path', 'time_decay'
);
COMMENT ON TYPE @extschema@.attribution_model IS
'Weighted multi-touch attribution model, see leadfunnel.attribution_weights.';
-- Stages and funnels: the funnel configuration tables, the built-in funnels and
-- allowed_next().  Rules are compiled and cached per backend by src/stages.c;
-- a statement trigger on both tables sends a relcache invalidation so every
-- backend drops its cache when the rules change.

CREATE TABLE @extschema@.funnel (
    name          text PRIMARY KEY,
    stages        @extschema@.lead_stage[] NOT NULL,
    entry_stages  @extschema@.lead_stage[],
    reopen_stages @extschema@.lead_stage[],
    allow_skip    boolean NOT NULL DEFAULT false,
    description   text,
    builtin       boolean NOT NULL DEFAULT false,
    CONSTRAINT funnel_name_valid CHECK (name <> '' AND octet_length(name) < 64)
);
COMMENT ON TABLE @extschema@.funnel IS
'Funnel definitions (configuration). Built-in rows (builtin = true) come with the extension and cannot be changed; add your own funnels as rows: they are dumped by pg_dump and validated by a trigger.';
COMMENT ON COLUMN @extschema@.funnel.name IS 'Funnel name, referenced by lead.funnel (validated by the transition trigger, not by a foreign key).';
COMMENT ON COLUMN @extschema@.funnel.stages IS 'The funnel''s open stages in enum order, ending with won. recycled, disqualified and lost belong to every funnel.';
COMMENT ON COLUMN @extschema@.funnel.entry_stages IS 'Stages a lead may be created in; NULL means the funnel''s visitor and lead stages.';
COMMENT ON COLUMN @extschema@.funnel.reopen_stages IS 'Stages a recycled lead may be reopened into; NULL means the entry stages.';
COMMENT ON COLUMN @extschema@.funnel.allow_skip IS 'Whether a lead may skip forward over stages of the funnel (including straight to won).';
COMMENT ON COLUMN @extschema@.funnel.description IS 'Free text.';
COMMENT ON COLUMN @extschema@.funnel.builtin IS 'True for the funnels the extension ships (enterprise, inside_sales, self_serve); they are not dumped and cannot be changed.';

CREATE TABLE @extschema@.funnel_transition (
    funnel      text NOT NULL REFERENCES @extschema@.funnel (name) ON UPDATE CASCADE ON DELETE CASCADE,
    from_stage  @extschema@.lead_stage NOT NULL,
    to_stage    @extschema@.lead_stage NOT NULL,
    description text,
    PRIMARY KEY (funnel, from_stage, to_stage),
    CONSTRAINT funnel_transition_moves CHECK (from_stage <> to_stage)
);
COMMENT ON TABLE @extschema@.funnel_transition IS
'Extra moves a funnel allows beyond its default rules, e.g. a backward move opportunity -> sql, or leaving a closed stage. Dumped by pg_dump.';
COMMENT ON COLUMN @extschema@.funnel_transition.funnel IS 'Funnel the rule belongs to.';
COMMENT ON COLUMN @extschema@.funnel_transition.from_stage IS 'Stage the lead is in.';
COMMENT ON COLUMN @extschema@.funnel_transition.to_stage IS 'Stage the rule lets it move to.';
COMMENT ON COLUMN @extschema@.funnel_transition.description IS 'Free text: why the move is allowed.';

CREATE FUNCTION @extschema@.funnel_config_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_funnel_config_check' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.funnel_config_check() IS
'Trigger on leadfunnel.funnel: validates a funnel definition and refuses changes to built-in funnels.';

CREATE FUNCTION @extschema@.funnel_config_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_funnel_config_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.funnel_config_changed() IS
'Statement trigger on the funnel configuration tables: makes every backend drop its cached funnel rules.';

CREATE TRIGGER funnel_config_check BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.funnel
    FOR EACH ROW EXECUTE FUNCTION @extschema@.funnel_config_check();
CREATE TRIGGER funnel_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.funnel
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.funnel_config_changed();
CREATE TRIGGER funnel_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.funnel_transition
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.funnel_config_changed();

INSERT INTO @extschema@.funnel (name, stages, entry_stages, allow_skip, builtin, description) VALUES
    ('enterprise',
     '{visitor,lead,mql,tal,tql,sal,sql,opportunity,won}', '{visitor,lead}', false, true,
     'Deals above ~100k: marketing, inside sales (teleprospecting) and field sales; every stage.'),
    ('inside_sales',
     '{visitor,lead,mql,tal,tql,opportunity,won}', '{visitor,lead}', false, true,
     'Deals around ~10k: marketing and inside sales, no field sales (no sal, sql).'),
    ('self_serve',
     '{visitor,lead,mql,won}', '{visitor,lead}', false, true,
     'Deals below 10k: marketing only, self-serve purchase.');

-- Built-in rows come back with CREATE EXTENSION, so only users' rows are dumped.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.funnel', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.funnel_transition', '');

GRANT SELECT ON @extschema@.funnel, @extschema@.funnel_transition TO PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

CREATE FUNCTION @extschema@.allowed_next(funnel text, from_stage @extschema@.lead_stage)
    RETURNS @extschema@.lead_stage[]
    AS 'MODULE_PATHNAME', 'lf_allowed_next' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.allowed_next(text, @extschema@.lead_stage) IS
'Stages a lead of the given funnel may move to from from_stage, in enum order: the next stage of the funnel (any later one if the funnel allows skipping), the closing stages, reopening stages for a recycled lead, and the funnel''s extra rules. Unknown funnel: SQLSTATE 42704.';

CREATE FUNCTION @extschema@.entry_stages(funnel text)
    RETURNS @extschema@.lead_stage[]
    AS 'MODULE_PATHNAME', 'lf_entry_stages' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.entry_stages(text) IS
'Stages a lead of the given funnel may be created in. Unknown funnel: SQLSTATE 42704.';

CREATE FUNCTION @extschema@.funnel_stages(funnel text)
    RETURNS @extschema@.lead_stage[]
    AS 'MODULE_PATHNAME', 'lf_funnel_stages' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_stages(text) IS
'The open-or-won stages of the given funnel in funnel order (the rows of funnel_summary). Unknown funnel: SQLSTATE 42704.';
-- The model: leadfunnel.create_model() creates a model's tables, keys and
-- triggers in a schema of the caller's choosing, owned by the caller, so that
-- pg_dump dumps it as the caller's data and DROP EXTENSION (without CASCADE)
-- refuses while it exists (its columns use the extension's types).

CREATE FUNCTION @extschema@.lead_stage_transition() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_lead_stage_transition' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lead_stage_transition() IS
'BEFORE INSERT OR UPDATE row trigger on a model''s lead table: validates stage moves against the funnel rules (SQLSTATE 23514, constraint lead_stage_transition or lead_stage_chronology), dates them and maintains stage_entered_at, max_stage and closed_at.';

CREATE FUNCTION @extschema@.lead_stage_record() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_lead_stage_record' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lead_stage_record() IS
'AFTER INSERT OR UPDATE OF stage row trigger on a model''s lead table (argument: its history table): appends each stage move to the history.';

CREATE FUNCTION @extschema@.history_append_only() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_history_append_only' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.history_append_only() IS
'Trigger on a model''s lead_stage_history: refuses INSERT, UPDATE, DELETE and TRUNCATE (SQLSTATE 42501) except the writes of the transition trigger.';

CREATE FUNCTION @extschema@.create_model(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text;
    existing text;
BEGIN
    IF target_schema IS NULL OR target_schema = '' THEN
        RAISE EXCEPTION 'target schema of a leadfunnel model must not be null or empty'
            USING ERRCODE = 'null_value_not_allowed';
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

    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %s', s);

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
            contact_id bigint PRIMARY KEY,
            account_id bigint NOT NULL REFERENCES %1$s.account (account_id),
            email      text,
            opt_in     boolean NOT NULL DEFAULT false,
            status     @extschema@.contact_status NOT NULL DEFAULT 'contact',
            UNIQUE (account_id, contact_id)
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
            lead_id            bigint PRIMARY KEY,
            account_id         bigint NOT NULL REFERENCES %1$s.account (account_id),
            contact_id         bigint,
            funnel             text NOT NULL DEFAULT 'enterprise',
            product_area       text,
            region             text,
            source_campaign_id bigint REFERENCES %1$s.campaign (campaign_id),
            amount             numeric,
            stage              @extschema@.lead_stage NOT NULL DEFAULT 'lead',
            max_stage          @extschema@.lead_stage,
            motion             @extschema@.lead_motion,
            created_at         timestamptz NOT NULL DEFAULT now(),
            stage_entered_at   timestamptz,
            closed_at          timestamptz,
            close_reason       text,
            UNIQUE (account_id, lead_id),
            FOREIGN KEY (account_id, contact_id) REFERENCES %1$s.contact (account_id, contact_id)
        );
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
            PRIMARY KEY (account_id, lead_id, seq),
            FOREIGN KEY (account_id, lead_id) REFERENCES %1$s.lead (account_id, lead_id)
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
            touch_id    bigint PRIMARY KEY,
            campaign_id bigint NOT NULL REFERENCES %1$s.campaign (campaign_id),
            account_id  bigint NOT NULL REFERENCES %1$s.account (account_id),
            contact_id  bigint,
            lead_id     bigint,
            touched_at  timestamptz NOT NULL,
            channel     text,
            FOREIGN KEY (account_id, lead_id) REFERENCES %1$s.lead (account_id, lead_id),
            FOREIGN KEY (account_id, contact_id) REFERENCES %1$s.contact (account_id, contact_id)
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

        CREATE TRIGGER lead_stage_transition BEFORE INSERT OR UPDATE ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_stage_transition();
        CREATE TRIGGER lead_stage_record AFTER INSERT OR UPDATE OF stage ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_stage_record(%2$L);
        CREATE TRIGGER lead_stage_history_append_only BEFORE INSERT OR UPDATE OR DELETE ON %1$s.lead_stage_history
            FOR EACH ROW EXECUTE FUNCTION @extschema@.history_append_only();
        CREATE TRIGGER lead_stage_history_no_truncate BEFORE TRUNCATE ON %1$s.lead_stage_history
            FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
    $ddl$, s, s || '.lead_stage_history');

    -- Objects of later concerns (lifecycle, analytics views, attribution views) are created here.
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_model(name) IS
'Creates a leadfunnel model (tables account, contact, campaign, lead, lead_stage_history, touch, their keys, triggers and views) in the given schema, owned by the caller. The schema is created if missing; a schema that already holds a model is an error (SQLSTATE 42P07) and nothing is created.';

CREATE FUNCTION @extschema@.model_schema(target_schema name) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF target_schema IS NULL OR target_schema = '' THEN
        RAISE EXCEPTION 'schema of a leadfunnel model must not be null or empty'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = target_schema) THEN
        RAISE EXCEPTION 'schema "%" does not exist', target_schema
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Create a model with leadfunnel.create_model().';
    END IF;
    IF to_regclass(format('%I.lead_stage_history', target_schema)) IS NULL
       OR to_regclass(format('%I.lead', target_schema)) IS NULL THEN
        RAISE EXCEPTION 'schema "%" holds no leadfunnel model', target_schema
            USING ERRCODE = 'undefined_table',
                  HINT = 'Create a model with leadfunnel.create_model().';
    END IF;
    RETURN quote_ident(target_schema);
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_schema(name) IS
'Checks that a schema holds a leadfunnel model and returns its quoted name, for functions that take a model schema (22004 for NULL, 3F000 for a missing schema, 42P01 for a schema without a model).';

CREATE FUNCTION @extschema@.verify_model(target_schema name)
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
        SELECT l.lead_id, l.account_id, p.problem
          FROM %1$s.lead l
          LEFT JOIN per_lead pl ON pl.account_id = l.account_id AND pl.lead_id = l.lead_id
          LEFT JOIN %1$s.lead_stage_history cur
                 ON cur.account_id = l.account_id AND cur.lead_id = l.lead_id AND cur.left_at IS NULL
          CROSS JOIN LATERAL (VALUES
              (pl.lead_id IS NULL, 'lead has no history'),
              (pl.current_rows <> 1, format('%%s current history rows instead of 1', pl.current_rows)),
              (cur.to_stage IS DISTINCT FROM l.stage, format('stage %%s but current history row is in %%s', l.stage, cur.to_stage)),
              (cur.entered_at IS DISTINCT FROM l.stage_entered_at, 'stage_entered_at differs from the current history row'),
              (NOT pl.gapless, 'history seq has gaps'),
              (NOT pl.chained, 'history intervals do not follow each other'),
              (NOT pl.ordered, 'a history interval ends before it starts'),
              (pl.max_reached IS DISTINCT FROM l.max_stage, format('max_stage %%s but history reached %%s', l.max_stage, pl.max_reached)),
              ((l.closed_at IS NULL) <> (l.stage < 'won'), 'closed_at does not match the stage')
          ) AS p(failed, problem)
         WHERE p.failed
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
-- Demo data: a deterministic generator of realistic funnel data, used by
-- `make demo`, the benchmarks and the tests that compare views with plain SQL.

CREATE FUNCTION @extschema@.generate_demo(target_schema name, leads int DEFAULT 5000, seed float8 DEFAULT 0.42)
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
    CREATE TEMP TABLE lf_demo_plan (lead_id bigint PRIMARY KEY, path text[], times timestamptz[]) ON COMMIT DROP;

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
        INSERT INTO lf_demo_plan VALUES (rec.lead_id, path, times);
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
               SET stage = p.path[$1]::@extschema@.lead_stage, stage_entered_at = p.times[$1],
                   close_reason = CASE p.path[$1] WHEN 'won' THEN 'signed' WHEN 'lost' THEN 'lost to competitor'
                                      WHEN 'disqualified' THEN 'no fit' WHEN 'recycled' THEN 'not now' END
              FROM lf_demo_plan p
             WHERE p.lead_id = l.lead_id AND cardinality(p.path) >= $1
        $q$, s) USING i;
    END LOOP;

    RETURN QUERY EXECUTE format($q$
        SELECT 'account', count(*) FROM %1$s.account WHERE account_id > %2$s
        UNION ALL SELECT 'campaign', count(*) FROM %1$s.campaign WHERE campaign_id > %3$s
        UNION ALL SELECT 'lead', count(*) FROM %1$s.lead WHERE lead_id > %4$s
        UNION ALL SELECT 'lead_stage_history', count(*) FROM %1$s.lead_stage_history WHERE lead_id > %4$s
    $q$, s, base_account, base_campaign, base_lead);
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo(name, int, float8) IS
'Fills a model (see create_model) with realistic generated data: accounts in regions and segments, campaigns by channel and product area, and the given number of leads in the three built-in funnels, moved through their stages by the transition trigger with believable conversion rates and stage durations, all dated before 2026-01-01. Deterministic for a seed in [-1, 1]; new rows are numbered after existing ones. Returns the rows added per table.';
