-- Tracked tables: leadfunnel.track() attaches a model to a table the user
-- already has (an application's leads table, a CRM sync's opportunities),
-- through two statement triggers with a transition table (src/tracking.c).
-- The rows of leadfunnel.tracked_table say how; tracking_statements()
-- writes the set-based statements the trigger prepares and runs.

CREATE TABLE @extschema@.tracked_table (
    source            regclass PRIMARY KEY,
    target_schema     name NOT NULL,
    funnel            text NOT NULL REFERENCES @extschema@.funnel (name) ON UPDATE CASCADE,
    id_column         name NOT NULL,
    stage_column      name NOT NULL,
    account_column    name,
    amount_column     name,
    changed_at_column name,
    mode              text NOT NULL CONSTRAINT tracked_table_mode CHECK (mode IN ('record', 'enforce')),
    source_name       text NOT NULL,
    tracked_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.tracked_table IS
'Tables tracked by leadfunnel.track() (configuration, dumped by pg_dump): which model each mirrors into, with which funnel, columns and mode. Write it through track() and untrack().';
COMMENT ON COLUMN @extschema@.tracked_table.source IS 'The tracked table.';
COMMENT ON COLUMN @extschema@.tracked_table.target_schema IS 'Schema of the model its rows are mirrored into.';
COMMENT ON COLUMN @extschema@.tracked_table.funnel IS 'Funnel of the leads it creates; its stage labels resolve the stage column.';
COMMENT ON COLUMN @extschema@.tracked_table.id_column IS 'Key column (unique): bigint-like keys are the leads'' lead_id, other keys (text, uuid) are stored in lead.external_id.';
COMMENT ON COLUMN @extschema@.tracked_table.stage_column IS 'Column holding the stage, as a label of the funnel or a canonical stage name.';
COMMENT ON COLUMN @extschema@.tracked_table.account_column IS 'Integer column holding the account; NULL: every lead is an account of its own.';
COMMENT ON COLUMN @extschema@.tracked_table.amount_column IS 'Column copied to lead.amount; NULL: amounts are not mirrored.';
COMMENT ON COLUMN @extschema@.tracked_table.changed_at_column IS 'Column holding when a row''s stage changed (the CRM''s time); NULL: moves are dated now().';
COMMENT ON COLUMN @extschema@.tracked_table.mode IS 'record: nothing is refused, refused moves and unknown labels are flagged in the model''s tracking_issue; enforce: moves are refused as in the model (23514, 23503).';
COMMENT ON COLUMN @extschema@.tracked_table.source_name IS 'The table''s name when it was tracked, stored in lead.external_source of the leads it created.';
COMMENT ON COLUMN @extschema@.tracked_table.tracked_at IS 'When track() attached it.';
CREATE TRIGGER tracked_table_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.tracked_table
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.funnel_config_changed();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracked_table', '');
GRANT SELECT ON @extschema@.tracked_table TO PUBLIC;

CREATE FUNCTION @extschema@.track_sync() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_track_sync' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.track_sync() IS
'AFTER INSERT / AFTER UPDATE ... REFERENCING NEW TABLE AS lf_new FOR EACH STATEMENT trigger on a tracked table (created by track()): mirrors the statement''s rows into the model in a few set-based statements, as the model''s owner; in record mode refused moves are recorded and flagged instead of raised.';

CREATE FUNCTION @extschema@.track_resync(source regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'lf_track_resync' LANGUAGE C STRICT;
COMMENT ON FUNCTION @extschema@.track_resync(regclass) IS
'Mirrors every row of a tracked table into its model again, as its trigger does for a batch (e.g. after adding labels that were unknown); returns the number of leads written. Only the table''s owner. track() runs it once.';

CREATE FUNCTION @extschema@.tracking_statements(source regclass, from_relation text,
                                                OUT model_owner oid, OUT record_mode boolean, OUT statements text[],
                                                OUT lead_table regclass, OUT batch_insert boolean,
                                                OUT new_leads text, OUT new_accounts text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.tracked_table;
    s text;
    r text;
    id_int boolean;
    key text;
    acct text;
    chg text;
    match text;
    label_expr text;
    entered text;
    created text;
    amount_set text := '';
    amount_cols text := '';
    amount_diff text := '';
    known text := '';
    resolved text;
BEGIN
    SELECT * INTO t FROM @extschema@.tracked_table tt WHERE tt.source OPERATOR(pg_catalog.=) tracking_statements.source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', source
            USING ERRCODE = 'undefined_object', HINT = 'Attach it with leadfunnel.track().';
    END IF;
    IF from_relation IS NULL THEN
        -- a resync reads the whole table: its owner's business
        IF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source), 'USAGE') THEN
            RAISE EXCEPTION 'only the owner of table % can resync it', source
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        r := source::text;
    ELSE
        r := quote_ident(from_relation);
    END IF;
    -- (from the catalog, not by name lookup: the writer of the table may
    -- have no privilege on the model's schema; the statements run as the owner)
    s := quote_ident(t.target_schema);
    SELECT c.relowner, c.oid INTO model_owner, lead_table
      FROM pg_class c JOIN pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE ns.nspname OPERATOR(pg_catalog.=) t.target_schema AND c.relname OPERATOR(pg_catalog.=) 'lead';
    IF model_owner IS NULL THEN
        RAISE EXCEPTION 'schema "%" holds no leadfunnel model', t.target_schema
            USING ERRCODE = 'undefined_table', HINT = 'Untrack the table, or create the model again.';
    END IF;
    record_mode := t.mode OPERATOR(pg_catalog.=) 'record';
    -- new leads set-based (tracking.c), but where Citus distributes the
    -- lead table: its row triggers fire on the shards, on other nodes
    batch_insert := NOT @extschema@.citus_distributed(lead_table);

    SELECT a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) INTO id_int
      FROM pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) source AND a.attname OPERATOR(pg_catalog.=) t.id_column;
    key := format('n.%I', t.id_column);
    -- the lead of a row: by lead_id for integer keys, else by (source, external_id)
    match := CASE WHEN id_int THEN format('l.lead_id = %s::bigint', key)
                  ELSE format('l.external_source = %L AND l.external_id = %s::text', t.source_name, key) END;
    -- its account: the account column, else one account per lead
    acct := CASE WHEN id_int THEN format('%s::bigint', key)
                 ELSE format('hashtextextended(%L || %s::text, 0)', t.source_name || ':', key) END;
    IF t.account_column IS NOT NULL THEN
        acct := format('coalesce(n.%I::bigint, %s)', t.account_column, acct);
    END IF;
    chg := CASE WHEN t.changed_at_column IS NOT NULL THEN format('n.%I::timestamptz', t.changed_at_column) END;
    IF t.amount_column IS NOT NULL THEN
        amount_set := format(', amount = n.%I::numeric', t.amount_column);
        amount_cols := ', amount';
        amount_diff := format(' OR l.amount IS DISTINCT FROM n.%I::numeric', t.amount_column);
    END IF;
    -- (resolve_stage() in a subquery's target list, not as a function scan,
    -- which would build a tuplestore per row; a batch holds few distinct
    -- stage values, which the planner may then resolve once each)
    resolved := format('%s n LEFT JOIN LATERAL (SELECT (q.rs).stage, (q.rs).label
                              FROM (SELECT @extschema@.resolve_stage(%L, %s::text) AS rs OFFSET 0) q) r ON true',
                       r, t.funnel, format('n.%I', t.stage_column));

    IF record_mode THEN
        -- record: a row whose stage the funnel does not know changes no lead
        known := ' AND r.stage IS NOT NULL';
        label_expr := 'r.label';
        entered := format('greatest(l.stage_entered_at, least(coalesce(%s, now()), now()))', coalesce(chg, 'NULL'));
        created := format('least(coalesce(%s, now()), now())', coalesce(chg, 'NULL'));
    ELSE
        -- enforce: an unknown name goes into stage_label, where the trigger refuses it (23503)
        label_expr := format('coalesce(r.label, CASE WHEN r.stage IS NULL THEN n.%I::text END)', t.stage_column);
        entered := format('coalesce(%s, greatest(now(), l.stage_entered_at))', coalesce(chg, 'NULL'));
        created := format('coalesce(%s, now())', coalesce(chg, 'NULL'));
    END IF;

    statements := '{}';
    IF record_mode THEN
        statements := statements || format($q$
            INSERT INTO %1$s.tracking_issue (source, external_key, lead_id, account_id, kind, stage_value, from_stage, to_stage, changed_at)
            SELECT %2$L, i.external_key, i.lead_id, i.account_id, k.kind, i.stage_value, i.from_stage, i.to_stage, i.changed_at
              FROM (SELECT %3$s::text AS external_key, l.lead_id, coalesce(l.account_id, %4$s) AS account_id,
                           n.%5$I::text AS stage_value, l.stage AS from_stage, r.stage AS to_stage, %6$s AS changed_at,
                           ARRAY[
                   CASE WHEN r.stage IS NULL THEN 'unknown_label' END,
                   CASE WHEN r.stage IS NOT NULL AND l.lead_id IS NULL
                             AND r.stage <> ALL (@extschema@.entry_stages(%9$L)) THEN 'refused_start' END,
                   CASE WHEN r.stage IS NOT NULL AND l.stage <> r.stage
                             AND r.stage <> ALL (@extschema@.allowed_next(l.funnel, l.stage)) THEN 'refused_move' END,
                   CASE WHEN r.stage IS NOT NULL AND l.stage <> r.stage AND %6$s < l.stage_entered_at THEN 'backdated' END,
                   CASE WHEN r.stage IS NOT NULL AND (l.lead_id IS NULL OR l.stage <> r.stage) AND %6$s > now() THEN 'future_dated' END,
                   CASE WHEN %10$s AND l.account_id <> %4$s THEN 'account_changed' END
                           ]::text[] AS kinds
                      FROM %7$s
                      LEFT JOIN %1$s.lead l ON %8$s
                    OFFSET 0) i
             CROSS JOIN LATERAL pg_catalog.unnest(i.kinds) AS k(kind)
             -- (most rows have no issue: they are not expanded)
             WHERE pg_catalog.num_nonnulls(VARIADIC i.kinds) > 0 AND k.kind IS NOT NULL$q$,
            s, t.source_name, key, acct, t.stage_column, coalesce(chg, 'NULL::timestamptz'), resolved, match, t.funnel,
            CASE WHEN t.account_column IS NOT NULL THEN 'true' ELSE 'false' END);
    END IF;
    statements := statements || format($q$
        INSERT INTO %1$s.account (account_id)
        SELECT DISTINCT %2$s
          FROM %3$s
          LEFT JOIN %1$s.lead l ON %4$s
         WHERE l.lead_id IS NULL%5$s
        ON CONFLICT (account_id) DO NOTHING$q$, s, acct, resolved, match, known);
    statements := statements || format($q$
        UPDATE %1$s.lead l
           SET stage = coalesce(r.stage, l.stage), stage_label = %2$s%3$s,
               stage_entered_at = CASE WHEN coalesce(r.stage, l.stage) = l.stage THEN l.stage_entered_at ELSE %4$s END
          FROM %5$s
         WHERE %6$s%7$s
           AND (l.stage IS DISTINCT FROM coalesce(r.stage, l.stage) OR l.stage_label IS DISTINCT FROM %2$s%8$s)$q$,
        s, label_expr, amount_set, entered, resolved, match, known, amount_diff);
    -- (with batch_insert: the motion where the account has no win, which
    -- makes it new business, NULL else for the motion trigger to derive; and
    -- the rows as stored, whose history and lifecycle the sync writes)
    new_leads := format($q$
        SELECT %2$s AS lead_id, x.account_id AS account_id, %4$L::text AS funnel, r.stage AS stage,
               (%5$s)::text AS stage_label%6$s, %7$s AS created_at, %7$s AS stage_entered_at,
               %8$L::text AS external_source, (%9$s)::text AS external_id%13$s
          FROM %10$s
         CROSS JOIN LATERAL (SELECT %3$s AS account_id) x
          LEFT JOIN %1$s.lead l ON %11$s
         WHERE l.lead_id IS NULL%12$s$q$,
        s,
        CASE WHEN id_int THEN key || '::bigint' ELSE format('nextval(%L)', s || '.lead_external_id_seq') END,
        acct, t.funnel, label_expr,
        CASE WHEN t.amount_column IS NOT NULL THEN format(', n.%I::numeric AS amount', t.amount_column) ELSE '' END,
        created, t.source_name,
        CASE WHEN id_int THEN 'NULL' ELSE key END,
        resolved, match, known,
        CASE WHEN batch_insert THEN format($m$,
               CASE WHEN NOT EXISTS (SELECT 1 FROM %s.lead_stage_history w
                                      WHERE w.account_id = x.account_id AND w.to_stage = 'won')
                    THEN 'new_business'::@extschema@.lead_motion END AS motion$m$, s) ELSE '' END);
    -- the same rows inserted by one statement: where the sync cannot insert
    -- the new leads itself (new_leads NULL below, or tracking.c declines)
    statements := statements || format($q$
        INSERT INTO %1$s.lead (lead_id, account_id, funnel, stage, stage_label%2$s, created_at, stage_entered_at, external_source, external_id%3$s)%4$s%5$s$q$,
        s, amount_cols, CASE WHEN batch_insert THEN ', motion' ELSE '' END, new_leads,
        CASE WHEN batch_insert THEN '
         RETURNING lead_id, account_id, contact_id, funnel, stage, stage_entered_at, close_reason, stage_label' ELSE '' END);
    -- with new_leads, in place of the second statement: the accounts of the
    -- new leads ($1, from new_leads' rows) that do not exist yet
    new_accounts := format($q$
        INSERT INTO %1$s.account (account_id)
        SELECT a FROM pg_catalog.unnest($1::pg_catalog.int8[]) a
        ON CONFLICT (account_id) DO NOTHING$q$, s);
    IF NOT batch_insert THEN
        new_leads := NULL;
        new_accounts := NULL;
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.tracking_statements(regclass, text) IS
'The set-based statements that mirror rows of a tracked table (read from from_relation, the trigger''s transition table; NULL: the table itself, for its owner only) into its model: in record mode first the flags, then missing accounts, updates of existing leads, inserts of new ones. new_leads (where batch_insert): the new leads'' rows as the last statement inserts them, for the sync to insert itself, and new_accounts, which then creates their accounts (an int8[] parameter) in place of the second statement. Used by track_sync() and track_resync().';

CREATE FUNCTION @extschema@.model_add_tracking(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    on_citus boolean;
    citus_saved text[];
    ddl text;
BEGIN
    IF to_regclass(format('%s.tracking_issue', s)) IS NOT NULL THEN
        RETURN;
    END IF;
    on_citus := EXISTS (SELECT 1 FROM pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus');
    IF on_citus THEN
        citus_saved := @extschema@.citus_ddl_begin();
    END IF;
    FOREACH ddl IN ARRAY ARRAY[
        'ALTER TABLE %1$s.lead ADD COLUMN external_source text',
        'ALTER TABLE %1$s.lead ADD COLUMN external_id text',
        $d$COMMENT ON COLUMN %1$s.lead.external_source IS 'For a lead mirrored from a tracked table: that table''s name when it was tracked (leadfunnel.tracked_table.source_name).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead.external_id IS 'For a lead mirrored from a tracked table whose key is not an integer (text, uuid): the key, unique per tracked table. Integer keys are the lead_id.'$d$,
        -- leads of tracked tables with text keys get negative ids, apart from the applications' own
        'CREATE SEQUENCE %1$s.lead_external_id_seq INCREMENT BY -1 MAXVALUE -1 START WITH -1',
        $d$COMMENT ON SEQUENCE %1$s.lead_external_id_seq IS 'lead_id of leads created by a tracked table whose key is not an integer: -1, -2, ...'$d$,
        $d$CREATE TABLE %1$s.tracking_issue (
            issue_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source       text NOT NULL,
            external_key text,
            lead_id      bigint,
            account_id   bigint,
            kind         text NOT NULL CONSTRAINT tracking_issue_kind CHECK (kind IN
                             ('unknown_label', 'refused_start', 'refused_move', 'backdated', 'future_dated', 'account_changed')),
            stage_value  text,
            from_stage   @extschema@.lead_stage,
            to_stage     @extschema@.lead_stage,
            changed_at   timestamptz,
            recorded_at  timestamptz NOT NULL DEFAULT now(),
            acknowledged_at timestamptz
        )$d$,
        'CREATE INDEX tracking_issue_open ON %1$s.tracking_issue (source, recorded_at) WHERE acknowledged_at IS NULL',
        $d$COMMENT ON TABLE %1$s.tracking_issue IS 'What the tracked tables of this model brought in that the funnel would refuse or cannot read, written in record mode instead of refusing the batch: one row per row and kind. Read it with leadfunnel.tracking_check(); acknowledge with leadfunnel.tracking_acknowledge().'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.issue_id IS 'Key.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.source IS 'The tracked table (its name when tracked).'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.external_key IS 'Key of the row in the tracked table, as text.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.lead_id IS 'The lead the row is mirrored to; NULL when none was created (unknown label of a new row).'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.kind IS 'unknown_label (the stage value is no label or stage of the funnel: the lead is not changed), refused_start (a new lead in a stage that is not an entry stage), refused_move (a move the funnel refuses), backdated (dated before the lead''s current stage: dated then instead), future_dated (dated now instead), account_changed (the row names another account; the lead keeps its own). All but unknown_label were recorded.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.stage_value IS 'The stage column''s value as the row had it.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.from_stage IS 'The lead''s stage before the row was mirrored.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.to_stage IS 'The stage the value resolves to; NULL for unknown_label.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.changed_at IS 'The row''s changed_at column, if the table has one.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.recorded_at IS 'When the row was mirrored.'$d$,
        $d$COMMENT ON COLUMN %1$s.tracking_issue.acknowledged_at IS 'When a DBA acknowledged the issue (tracking_acknowledge); open issues have NULL.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
    -- unique per tracked table; on Citus unique keys must include the distribution column
    EXECUTE format('CREATE UNIQUE INDEX lead_external_key ON %s.lead (external_source, external_id%s)', s,
                   CASE WHEN @extschema@.model_is_distributed(target_schema) THEN ', account_id' ELSE '' END);
    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_tracking(name) IS
'Prepares a model for tracked tables: lead.external_source and lead.external_id (unique per tracked table), the sequence of the negative lead ids of text-keyed rows, and the table tracking_issue. Idempotent; called by create_model() and upgrade_model().';

CREATE FUNCTION @extschema@.track(source regclass, target_schema name, funnel text, id_column name, stage_column name,
                                  account_column name DEFAULT NULL, amount_column name DEFAULT NULL,
                                  changed_at_column name DEFAULT NULL, mode text DEFAULT 'record')
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text;
    col record;
    c name;
    typ regtype;
BEGIN
    IF source IS NULL OR target_schema IS NULL OR funnel IS NULL OR id_column IS NULL OR stage_column IS NULL OR mode IS NULL THEN
        RAISE EXCEPTION 'source, target_schema, funnel, id_column, stage_column and mode of track() must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF mode NOT IN ('record', 'enforce') THEN
        RAISE EXCEPTION 'mode of track() must be record or enforce, not "%"', mode
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'record for tables a CRM syncs (nothing refused, issues flagged), enforce for application tables (moves refused as in the model).';
    END IF;
    PERFORM @extschema@.entry_stages(funnel);   -- 42704 for an unknown funnel
    s := @extschema@.model_schema(target_schema);
    IF (SELECT c.relkind FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', source
            USING ERRCODE = 'wrong_object_type', HINT = 'Track the table a view or foreign table reads.';
    END IF;
    IF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source), 'USAGE')
       OR NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) format('%s.lead', s)::regclass), 'USAGE') THEN
        RAISE EXCEPTION 'only the owner of % and of model "%" can track it', source, target_schema
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.tracked_table t WHERE t.source OPERATOR(pg_catalog.=) track.source) THEN
        RAISE EXCEPTION 'table % is already tracked', source
            USING ERRCODE = 'duplicate_object', HINT = 'Untrack it first with leadfunnel.untrack().';
    END IF;
    FOR col IN SELECT * FROM (VALUES ('id_column', id_column), ('stage_column', stage_column), ('account_column', account_column),
                                     ('amount_column', amount_column), ('changed_at_column', changed_at_column)) v(arg, name)
                WHERE v.name IS NOT NULL LOOP
        SELECT a.atttypid INTO typ FROM pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) source AND a.attname OPERATOR(pg_catalog.=) col.name
           AND a.attnum > 0 AND NOT a.attisdropped;
        IF typ IS NULL THEN
            RAISE EXCEPTION 'column "%" of % does not exist', col.name, source
                USING ERRCODE = 'undefined_column', HINT = format('Name an existing column as %s.', col.arg);
        END IF;
        IF (col.arg = 'account_column' AND typ NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype))
           OR (col.arg = 'amount_column' AND (SELECT t.typcategory FROM pg_type t WHERE t.oid OPERATOR(pg_catalog.=) typ) <> 'N')
           OR (col.arg = 'changed_at_column' AND typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)) THEN
            RAISE EXCEPTION 'column "%" of % has type %, which % cannot take', col.name, source, typ, col.arg
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'account_column: an integer type; amount_column: a numeric type; changed_at_column: timestamptz, timestamp or date.';
        END IF;
    END LOOP;
    -- the key must identify a row: a unique index on exactly that column
    IF NOT EXISTS (SELECT 1 FROM pg_index i
                    WHERE i.indrelid OPERATOR(pg_catalog.=) source AND i.indisunique AND i.indpred IS NULL
                      AND i.indnkeyatts OPERATOR(pg_catalog.=) 1 AND i.indexprs IS NULL
                      AND i.indkey[0] OPERATOR(pg_catalog.=) (SELECT a.attnum FROM pg_attribute a
                                                             WHERE a.attrelid OPERATOR(pg_catalog.=) source
                                                               AND a.attname OPERATOR(pg_catalog.=) id_column)) THEN
        RAISE EXCEPTION 'column "%" of % has no unique index', id_column, source
            USING ERRCODE = 'invalid_column_reference',
                  HINT = 'The key column must be the primary key or have a unique index of its own.';
    END IF;

    PERFORM @extschema@.model_add_tracking(target_schema);
    -- A loader's re-sync updates many leads in one statement.  None of the
    -- columns the sync sets (stage, stage_label, amount and the maintained
    -- stage_entered_at, closed_at, max_stage) is indexed, so an update that
    -- finds room on its page is HOT and writes none of lead's index entries;
    -- the old versions of the statement's own rows cannot be pruned before it
    -- commits, so a statement that updates every lead of a page needs half of
    -- the page free.  Set in record mode unless the owner chose a fillfactor;
    -- it applies to the pages written from now on (bench/README.md, "Your CRM").
    IF mode OPERATOR(pg_catalog.=) 'record' AND NOT EXISTS (
           SELECT 1 FROM pg_catalog.pg_options_to_table((SELECT c.reloptions FROM pg_class c
                                                        WHERE c.oid OPERATOR(pg_catalog.=) format('%s.lead', s)::regclass)) o
            WHERE o.option_name OPERATOR(pg_catalog.=) 'fillfactor') THEN
        EXECUTE format('ALTER TABLE %s.lead SET (fillfactor = 50)', s);
    END IF;
    INSERT INTO @extschema@.tracked_table (source, target_schema, funnel, id_column, stage_column, account_column,
                                          amount_column, changed_at_column, mode, source_name)
    VALUES (source, target_schema, funnel, id_column, stage_column, account_column, amount_column,
            changed_at_column, mode, source::text);
    EXECUTE format('CREATE TRIGGER leadfunnel_track_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS lf_new
                        FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.track_sync()', source);
    EXECUTE format('CREATE TRIGGER leadfunnel_track_update AFTER UPDATE ON %s REFERENCING NEW TABLE AS lf_new
                        FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.track_sync()', source);
    RETURN @extschema@.track_resync(source);
END
$fn$;
COMMENT ON FUNCTION @extschema@.track(regclass, name, text, name, name, name, name, name, text) IS
'Attaches a model to a table you already have: every INSERT, UPDATE, COPY, INSERT ... ON CONFLICT and MERGE on it is mirrored into the model''s lead (and history, lifecycle) by a statement trigger; the rows already in it are mirrored now (returns how many leads were written). Keys: integer (the lead_id), text or uuid (lead.external_id). The stage column holds labels or canonical names of the funnel. mode record (default): nothing refused, issues flagged in tracking_issue; enforce: refused as in the model. In record mode the model''s lead table gets fillfactor 50 unless it has a fillfactor already, so that the updates of leads by a re-sync are HOT (on their page, no index entries). DELETE and TRUNCATE of the table never delete history.';

CREATE FUNCTION @extschema@.untrack(source regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.tracked_table t WHERE t.source OPERATOR(pg_catalog.=) untrack.source) THEN
        RAISE EXCEPTION 'table % is not tracked', source
            USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source), 'USAGE') THEN
        RAISE EXCEPTION 'only the owner of % can untrack it', source
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS leadfunnel_track_insert ON %s', source);
    EXECUTE format('DROP TRIGGER IF EXISTS leadfunnel_track_update ON %s', source);
    DELETE FROM @extschema@.tracked_table t WHERE t.source OPERATOR(pg_catalog.=) untrack.source;
END
$fn$;
COMMENT ON FUNCTION @extschema@.untrack(regclass) IS
'Detaches a tracked table: its triggers and its row of tracked_table go; the model keeps every lead, history row and issue it mirrored.';

CREATE FUNCTION @extschema@.tracking_check(source regclass)
    RETURNS TABLE (kind text, stage_value text, from_stage @extschema@.lead_stage, to_stage @extschema@.lead_stage,
                   rows bigint, first_seen timestamptz, last_seen timestamptz, example_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.tracked_table;
BEGIN
    SELECT * INTO t FROM @extschema@.tracked_table tt WHERE tt.source OPERATOR(pg_catalog.=) tracking_check.source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', source USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY EXECUTE format($q$
        -- stage values in the table now that the funnel does not know (live: gone once the label exists)
        SELECT 'unmapped_label'::text, n.%1$I::text, NULL::@extschema@.lead_stage, NULL::@extschema@.lead_stage,
               count(*), NULL::timestamptz, NULL::timestamptz, min(n.%2$I::text)
          FROM %3$s n
         WHERE (@extschema@.resolve_stage(%4$L, n.%1$I::text)).stage IS NULL
         GROUP BY n.%1$I::text
        UNION ALL
        -- what the sync flagged and nobody acknowledged yet
        SELECT i.kind, i.stage_value, i.from_stage, i.to_stage, count(*), min(i.recorded_at), max(i.recorded_at), min(i.external_key)
          FROM %5$s.tracking_issue i
         WHERE i.source = %6$L AND i.acknowledged_at IS NULL
         GROUP BY i.kind, i.stage_value, i.from_stage, i.to_stage
         ORDER BY 1, 5 DESC, 2$q$,
        t.stage_column, t.id_column, source, t.funnel, @extschema@.model_schema(t.target_schema), t.source_name);
END
$fn$;
COMMENT ON FUNCTION @extschema@.tracking_check(regclass) IS
'The daily check of a tracked table: stage values in it that its funnel does not know (unmapped_label, from the table as it is now), and the open issues the sync flagged (unknown_label, refused_start, refused_move, backdated, future_dated, account_changed), grouped, with counts, first and last time seen and one example key.';

CREATE FUNCTION @extschema@.tracking_acknowledge(source regclass, up_to timestamptz DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.tracked_table;
    n bigint;
BEGIN
    SELECT * INTO t FROM @extschema@.tracked_table tt WHERE tt.source OPERATOR(pg_catalog.=) tracking_acknowledge.source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', source USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('UPDATE %s.tracking_issue SET acknowledged_at = now()
                     WHERE source = $1 AND acknowledged_at IS NULL AND recorded_at <= $2',
                   @extschema@.model_schema(t.target_schema)) USING t.source_name, up_to;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION @extschema@.tracking_acknowledge(regclass, timestamptz) IS
'Marks the open issues of a tracked table recorded up to a time as acknowledged (they leave tracking_check() and verify_model()); returns how many.';
