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
'AFTER INSERT OR UPDATE OF stage (and stage_label, funnel) row trigger on a model''s lead table (arguments: its stage history table and, in a model with stage labels, its label history table): appends each stage move to the stage history and each change of (stage, label) to the label history.';

CREATE FUNCTION @extschema@.history_append_only() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_history_append_only' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.history_append_only() IS
'Trigger on a model''s lead_stage_history: refuses INSERT, UPDATE, DELETE and TRUNCATE (SQLSTATE 42501) except the writes of the transition trigger.';

CREATE FUNCTION @extschema@.colocated_table(fired_on regclass, target regclass) RETURNS regclass
    AS 'MODULE_PATHNAME', 'lf_colocated_table' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.colocated_table(regclass, regclass) IS
'The table a model trigger firing on fired_on writes to when its argument names target: target itself, or, when fired_on is a Citus shard, the shard of target co-located with it (SQLSTATE 55000 when there is none on this node). Shows how the transition trigger resolves its history table on a Citus worker.';

-- Citus accepts triggers on distributed tables only with
-- citus.enable_unsafe_triggers on, and DDL over distributed tables followed by
-- more DDL in one transaction only over one connection per node (sequential
-- modify mode).  The functions that build or extend a model on Citus raise
-- both for their own transaction and put them back at their end.
CREATE FUNCTION @extschema@.citus_ddl_begin() RETURNS text[]
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

CREATE FUNCTION @extschema@.citus_ddl_end(saved text[]) RETURNS void
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

CREATE FUNCTION @extschema@.citus_distributed(rel regclass) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    distributed boolean := false;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
        -- (Citus's catalog, read only where it exists)
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                                 WHERE logicalrelid::oid OPERATOR(pg_catalog.=) $1)'
           INTO distributed USING rel::oid;
    END IF;
    RETURN distributed;
END
$fn$;
COMMENT ON FUNCTION @extschema@.citus_distributed(regclass) IS
'Whether Citus distributes the table (a distributed or reference table: it is in pg_dist_partition); false where citus is not installed. Used by the model_add_* functions and the sync of tracked tables.';

CREATE FUNCTION @extschema@.create_model(target_schema name, distributed boolean DEFAULT false) RETURNS void
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
            reason     text
        ) WITH (fillfactor = 90);
        -- Only the extension writes this table: the trigger under the lock of the
        -- lead row it moves.  It finds a lead's current row as the last one of the
        -- key of the current truth, (account_id, lead_id, seq) WHERE superseded_at
        -- IS NULL, which model_add_history() adds with the bitemporal columns
        -- (recorded_at, superseded_at, ...) to new and old models alike; closing
        -- the row (setting left_at) is a HOT update, for which fillfactor leaves
        -- room.  The shape of each lead's current rows (seq
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

    -- the history's bitemporal columns and its key of the current truth
    PERFORM @extschema@.model_add_history(target_schema);

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
    PERFORM @extschema@.model_add_datadriven(target_schema);
    PERFORM @extschema@.model_add_labels(target_schema);
    PERFORM @extschema@.model_add_pipeline(target_schema);
    PERFORM @extschema@.model_add_tracking(target_schema);

    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.create_model(name, boolean) IS
'Creates a leadfunnel model (tables account, contact, campaign, lead, lead_stage_history, touch, their keys, triggers and views) in the given schema, owned by the caller. The schema is created if missing; a schema that already holds a model is an error (SQLSTATE 42P07) and nothing is created. With distributed => true the primary keys of contact, lead and touch include account_id (as Citus requires), and when the citus extension is installed campaign becomes a reference table and the other tables are distributed by account_id, co-located.';

CREATE FUNCTION @extschema@.model_is_distributed(target_schema name) RETURNS boolean
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

CREATE FUNCTION @extschema@.model_distribute_table(target_schema name, table_name name, reference boolean DEFAULT false)
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
DECLARE
    s text := @extschema@.model_schema(target_schema);
    -- the current truth: rows not superseded (a model of an earlier version
    -- that upgrade_model() has not brought up to date has no superseded_at)
    bitemporal boolean := EXISTS (
            SELECT 1 FROM pg_attribute
             WHERE attrelid OPERATOR(pg_catalog.=) format('%s.lead_stage_history', s)::regclass
               AND attname OPERATOR(pg_catalog.=) 'superseded_at' AND NOT attisdropped);
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH h AS (
            SELECT h.*,
                   lag(h.to_stage) OVER w AS prev_to,
                   lag(h.left_at) OVER w AS prev_left,
                   row_number() OVER w AS rn
              FROM %1$s.lead_stage_history h
             WHERE %2$s
            WINDOW w AS (PARTITION BY h.account_id, h.lead_id ORDER BY h.seq)
        ), per_lead AS (
            SELECT h.account_id, h.lead_id,
                   count(*) FILTER (WHERE h.left_at IS NULL) AS current_rows,
                   max(h.to_stage) FILTER (WHERE h.to_stage <= 'won') AS max_reached,
                   bool_and(h.seq = h.rn) AS gapless,
                   bool_and(h.seq = 1 OR (h.from_stage = h.prev_to AND h.entered_at = h.prev_left)) AS chained,
                   bool_and(h.left_at IS NULL OR h.left_at >= h.entered_at) AS ordered,
                   min(h.entered_at) AS first_at
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
                    CASE WHEN pl.first_at < l.created_at THEN 'history starts before created_at' END,
                    CASE WHEN pl.max_reached IS DISTINCT FROM l.max_stage THEN format('max_stage %%s but history reached %%s', l.max_stage, pl.max_reached) END,
                    CASE WHEN (l.closed_at IS NULL) <> (l.stage < 'won') THEN 'closed_at does not match the stage' END
                ]) AS problem
                  FROM %1$s.lead l
                  LEFT JOIN per_lead pl ON pl.account_id = l.account_id AND pl.lead_id = l.lead_id
                  LEFT JOIN %1$s.lead_stage_history cur
                         ON cur.account_id = l.account_id AND cur.lead_id = l.lead_id AND cur.left_at IS NULL
                        AND %3$s
               ) v
         WHERE v.problem IS NOT NULL
        UNION ALL
        SELECT h.lead_id, h.account_id, 'history row without lead'
          FROM %1$s.lead_stage_history h
         WHERE NOT EXISTS (SELECT 1 FROM %1$s.lead l WHERE l.account_id = h.account_id AND l.lead_id = h.lead_id)
        %4$s
        %5$s
        ORDER BY 2, 1, 3
    $q$, s, CASE WHEN bitemporal THEN 'h.superseded_at IS NULL' ELSE 'true' END,
             CASE WHEN bitemporal THEN 'cur.superseded_at IS NULL' ELSE 'true' END,
        -- the label history of a model with stage labels: the same shape, and
        -- its current row is the lead's (stage, stage_label)
        CASE WHEN to_regclass(format('%s.lead_label_history', s)) IS NOT NULL THEN format($l$
        UNION ALL
        SELECT v.lead_id, v.account_id, v.problem
          FROM (SELECT l.lead_id, l.account_id, unnest(ARRAY[
                    CASE WHEN lh.current_rows IS NULL AND l.stage_label IS NOT NULL THEN 'lead has a stage label but no label history' END,
                    CASE WHEN lh.current_rows <> 1 THEN format('%%s current label history rows instead of 1', lh.current_rows) END,
                    CASE WHEN lh.lead_id IS NOT NULL AND (lh.cur_stage IS DISTINCT FROM l.stage OR lh.cur_label IS DISTINCT FROM l.stage_label)
                         THEN format('stage %%s, label %%s but current label history row is %%s, %%s', l.stage, l.stage_label, lh.cur_stage, lh.cur_label) END,
                    CASE WHEN NOT lh.gapless THEN 'label history seq has gaps' END,
                    CASE WHEN NOT lh.chained THEN 'label history intervals do not follow each other' END
                ]) AS problem
                  FROM %1$s.lead l
                  LEFT JOIN (SELECT h.account_id, h.lead_id,
                                    count(*) FILTER (WHERE h.left_at IS NULL) AS current_rows,
                                    (array_agg(h.stage ORDER BY h.seq DESC))[1] AS cur_stage,
                                    (array_agg(h.label ORDER BY h.seq DESC))[1] AS cur_label,
                                    bool_and(h.seq = h.rn) AS gapless,
                                    bool_and(h.seq = 1 OR h.entered_at = h.prev_left) AS chained
                               FROM (SELECT h.*, row_number() OVER w AS rn, lag(h.left_at) OVER w AS prev_left
                                       FROM %1$s.lead_label_history h
                                      WHERE h.superseded_at IS NULL
                                     WINDOW w AS (PARTITION BY h.account_id, h.lead_id ORDER BY h.seq)) h
                              GROUP BY h.account_id, h.lead_id) lh
                         ON lh.account_id = l.account_id AND lh.lead_id = l.lead_id
               ) v
         WHERE v.problem IS NOT NULL$l$, s) ELSE '' END,
        -- what the sync of tracked tables flagged and nobody acknowledged
        CASE WHEN to_regclass(format('%s.tracking_issue', s)) IS NOT NULL THEN format($t$
        UNION ALL
        SELECT i.lead_id, i.account_id,
               format('tracked %%s: %%s %%s%%s (key %%s)', i.source, i.kind, coalesce(i.stage_value, 'NULL'),
                      CASE WHEN i.kind IN ('refused_move', 'refused_start') THEN format(' (%%s -> %%s)', coalesce(i.from_stage::text, 'new'), i.to_stage) ELSE '' END,
                      i.external_key)
          FROM %1$s.tracking_issue i
         WHERE i.acknowledged_at IS NULL$t$, s) ELSE '' END);
END
$fn$;
COMMENT ON FUNCTION @extschema@.verify_model(name) IS
'Checks the invariants of a model''s leads and the current truth of its history (rows with superseded_at IS NULL: one current history row per lead matching its stage, gapless seq, intervals that follow each other, a history that starts at or after the lead''s created_at, max_stage, closed_at; the same for the label history, whose current row matches the lead''s stage and stage_label) and returns one row per violation, plus one row per open issue flagged by the sync of a tracked table (problem ''tracked <table>: <kind> ...''); no rows means the model is consistent.';
