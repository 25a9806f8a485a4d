-- Bitemporal stage history (0.3).  Each row of <schema>.lead_stage_history
-- says when the lead was in a stage (entered_at .. left_at, the time in
-- effect) and when the row was recorded (recorded_at).  Rows are superseded,
-- never deleted: a correction or an import that merges moves into the past
-- stamps superseded_at (with who and why) on the rows it replaces and
-- appends the replacements.
--
-- Design: one table, not a current table plus an archive.  Moving a
-- superseded row to an archive would be a DELETE from the history, which the
-- append-only guard exists to forbid, and "what did we believe at T" would
-- have to union two tables.  So the current truth is the rows with
-- superseded_at IS NULL: its (account_id, lead_id, seq) is unique by a
-- partial index (which replaces 0.2's primary key, since a superseded row and
-- its replacement share a seq), the transition trigger finds a lead's current
-- row as the last entry of that index, and every reader of the model --
-- verify_model(), the lifecycle's wins, the views, generate_demo -- filters
-- superseded_at IS NULL.  Only the extension writes the table: it appends
-- rows, closes a lead's current row (left_at) and stamps superseded_at.

CREATE FUNCTION @extschema@.model_add_history(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    h regclass := format('%s.lead_stage_history', s)::regclass;
    pkey name;
    ddl text;
BEGIN
    -- One statement per EXECUTE: Citus propagates DDL to the workers as its
    -- query string.
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid OPERATOR(pg_catalog.=) h
                      AND attname OPERATOR(pg_catalog.=) 'superseded_at' AND NOT attisdropped) THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN recorded_at timestamptz', h);
        -- The rows of a model of an earlier version were recorded when they
        -- took effect: recorded_at = entered_at.  (A rewrite that computes the
        -- column: no trigger fires and the other columns stay as they are.)
        EXECUTE format('ALTER TABLE %s ALTER COLUMN recorded_at TYPE timestamptz USING entered_at, ALTER COLUMN recorded_at SET NOT NULL', h);
        EXECUTE format('ALTER TABLE %s ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_by name, ADD COLUMN superseded_reason text, ADD COLUMN flag text', h);
        FOREACH ddl IN ARRAY ARRAY[
            $d$COMMENT ON COLUMN %1$s.recorded_at IS 'When the row was recorded (the start of the transaction that wrote it); for rows of a model created before 0.3, their entered_at.'$d$,
            $d$COMMENT ON COLUMN %1$s.superseded_at IS 'When a correction or an import replaced the row (the start of its transaction); NULL while the row is part of the current truth. Readers of the history filter superseded_at IS NULL.'$d$,
            $d$COMMENT ON COLUMN %1$s.superseded_by IS 'Role that superseded the row (current_user of the correction or import); NULL while current.'$d$,
            $d$COMMENT ON COLUMN %1$s.superseded_reason IS 'Why the row was superseded: the reason given to correct_history(), or the import that merged moves before it; NULL while current.'$d$,
            $d$COMMENT ON COLUMN %1$s.flag IS 'Why the funnel rules would have refused this move, for moves recorded rather than refused (import_history, correct_history, the sync of a table tracked in record mode: "stage won is not an entry stage of funnel sf", "funnel sf does not allow the move from won to sal"); NULL for a validated move.'$d$
        ] LOOP
            EXECUTE format(ddl, h);
        END LOOP;
    END IF;

    -- the key of the current truth, which replaces 0.2's primary key
    IF to_regclass(format('%s.lead_stage_history_current', s)) IS NULL THEN
        EXECUTE format('CREATE UNIQUE INDEX lead_stage_history_current ON %s (account_id, lead_id, seq) WHERE superseded_at IS NULL', h);
    END IF;
    SELECT conname INTO pkey FROM pg_constraint
     WHERE conrelid OPERATOR(pg_catalog.=) h AND contype OPERATOR(pg_catalog.=) 'p';
    IF pkey IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', h, pkey);
    END IF;
    -- without a primary key, logical replication of the closing and
    -- superseding updates needs the whole old row
    IF (SELECT relreplident FROM pg_class WHERE oid OPERATOR(pg_catalog.=) h) OPERATOR(pg_catalog.<>) 'f' THEN
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', h);
    END IF;

    -- the rows import_history() could not load, with the reason
    IF to_regclass(format('%s.lead_stage_history_reject', s)) IS NULL THEN
        EXECUTE format($ddl$
            CREATE TABLE %s.lead_stage_history_reject (
                rejected_at timestamptz NOT NULL,
                rejected_by name NOT NULL,
                source      text NOT NULL,
                source_row  bigint,
                lead_id     text,
                account_id  bigint,
                funnel      text,
                stage       text,
                changed_at  timestamptz,
                changed_by  name,
                reason      text,
                problem     text NOT NULL
            )$ddl$, s);
        FOREACH ddl IN ARRAY ARRAY[
            $d$COMMENT ON TABLE %1$s.lead_stage_history_reject IS 'Rows that leadfunnel.import_history() could not load (unknown lead, account, funnel or stage, a missing or future time), one per source row, with the reason; yours to read, fix and re-import, and to delete.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.rejected_at IS 'When the import ran (its transaction''s now()).'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.rejected_by IS 'Role that ran the import.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.source IS 'The import''s source table or view.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.source_row IS 'Number of the row in the order the source was read.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.lead_id IS 'The row''s lead_id, as text (a tracked table''s key may be text or uuid).'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.account_id IS 'The row''s account_id, if the source has the column.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.funnel IS 'The row''s funnel, if the source has the column.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.stage IS 'The row''s stage (label or canonical name) as given.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.changed_at IS 'The row''s changed_at.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.changed_by IS 'The row''s changed_by, if the source has the column.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.reason IS 'The row''s reason, if the source has the column.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_stage_history_reject.problem IS 'Why the row could not be loaded.'$d$
        ] LOOP
            EXECUTE format(ddl, s);
        END LOOP;
    END IF;

    -- What the history was as recorded at a moment: the rows recorded by then
    -- and not yet superseded then, each lead's rows closed as far as the rows
    -- recorded by then close them (left_at is the next row's entered_at, or
    -- NULL), superseded_* NULL.  The row is built from the table's row type,
    -- so columns added later pass through.
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE FUNCTION %1$s.lead_stage_history_as_of_record(recorded_at timestamptz)
            RETURNS SETOF %1$s.lead_stage_history
            LANGUAGE sql STABLE STRICT
            SET search_path = pg_catalog, pg_temp
        AS $f$
            SELECT r.*
              FROM (SELECT h, pg_catalog.lead(h.entered_at) OVER (PARTITION BY h.account_id, h.lead_id ORDER BY h.seq) AS left_at
                      FROM %1$s.lead_stage_history h
                     WHERE h.recorded_at OPERATOR(pg_catalog.<=) $1
                       AND (h.superseded_at IS NULL OR h.superseded_at OPERATOR(pg_catalog.>) $1)) v
             CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(v.h, pg_catalog.jsonb_build_object(
                       'left_at', v.left_at, 'superseded_at', NULL, 'superseded_by', NULL,
                       'superseded_reason', NULL)) r
             ORDER BY r.account_id, r.lead_id, r.seq
        $f$$d$,
        $d$COMMENT ON FUNCTION %1$s.lead_stage_history_as_of_record(timestamptz) IS
        'The stage history as it was recorded at the given moment ("what did we believe then"): the rows recorded by then and not superseded by then, with left_at as far as the rows recorded by then close them and superseded_at, superseded_by, superseded_reason NULL. Reproduces a report of that moment after later corrections and imports.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_history(name) IS
'Makes a model''s stage history bitemporal (called by create_model, and by upgrade_model on models of earlier versions): columns recorded_at (rows already there get recorded_at = entered_at), superseded_at, superseded_by, superseded_reason and flag, the unique index lead_stage_history_current on (account_id, lead_id, seq) WHERE superseded_at IS NULL in place of the primary key, and the function lead_stage_history_as_of_record(timestamptz).';

-- ---------------------------------------------------------------------------
-- Imports and corrections (0.3).  Both rewrite a span of leads' histories:
-- the rows they replace are superseded (with who and why), the replacements
-- and the new moves appended, the leads (stage, max_stage, stage_entered_at,
-- closed_at, created_at) brought in line and the lifecycle of the accounts
-- concerned re-derived.  The C entry points (src/history.c) check the
-- caller's privileges, read the import's source as the caller, and then run
-- history_merge() and its preparation as the owner of the model's lead table
-- with a backend-local flag raised that lets these writes past the history's
-- append-only guard and the lead table's transition triggers (which neither
-- validate nor record while it is raised: the moves are validated here, set-
-- based, and refused moves are loaded and flagged).  The internal functions
-- refuse to run without that flag (history_rewrite_check()).

CREATE TYPE @extschema@.stage_move AS (stage @extschema@.lead_stage, entered_at timestamptz);
COMMENT ON TYPE @extschema@.stage_move IS
'One move of a lead''s corrected history: the stage it entered and when (argument of correct_history).';

CREATE FUNCTION @extschema@.import_history(target_schema name, source regclass,
                                           OUT rows_read bigint, OUT loaded bigint, OUT duplicates bigint,
                                           OUT flagged bigint, OUT rejected bigint)
    AS 'MODULE_PATHNAME', 'lf_import_history' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.import_history(name, regclass) IS
'Loads stage history rows (columns lead_id, stage, changed_at, optional account_id, funnel, changed_by, reason; any order) from a table or view into a model in one transaction: duplicates dropped, merged in time order with the history there (rows it replaces are superseded), refused moves loaded and flagged, unloadable rows to lead_stage_history_reject with the reason; leads and lifecycle brought in line. Returns rows_read, loaded, duplicates, flagged, rejected. Idempotent. Needs EXECUTE on it and UPDATE (INSERT to create leads) on the model''s lead table.';
REVOKE EXECUTE ON FUNCTION @extschema@.import_history(name, regclass) FROM PUBLIC;

CREATE FUNCTION @extschema@.correct_history(target_schema name, lead_id bigint,
                                            moves @extschema@.stage_move[], reason text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'lf_correct_history' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.correct_history(name, bigint, @extschema@.stage_move[], text) IS
'Corrects one lead''s history: from moves[1].entered_at on it becomes exactly these moves; the rows they replace are superseded (never deleted), recorded with the caller and the reason; the lead and the lifecycle are brought in line. Returns the number of history rows superseded. Needs EXECUTE on it and UPDATE on the model''s lead table.';
REVOKE EXECUTE ON FUNCTION @extschema@.correct_history(name, bigint, @extschema@.stage_move[], text) FROM PUBLIC;

CREATE FUNCTION @extschema@.history_rewrite_check() RETURNS void
    AS 'MODULE_PATHNAME', 'lf_history_rewrite_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.history_rewrite_check() IS
'Internal: raises 42501 unless called within import_history or correct_history (guards the internal functions they run).';

CREATE FUNCTION @extschema@.history_append_rows(history regclass, rows_query text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'lf_history_append_rows' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.history_append_rows(regclass, text) IS
'Internal, within import_history or correct_history only (42501 otherwise): appends the rows of a query (columns named as the history''s) to a model''s history through the executor, as the transition trigger does; returns how many.';

CREATE FUNCTION @extschema@.history_drop_new() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.history_rewrite_check();
    CASE (SELECT c.relkind FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) to_regclass('pg_temp.lf_hist_new'))
        WHEN 'v' THEN DROP VIEW pg_temp.lf_hist_new;
        WHEN 'r' THEN DROP TABLE pg_temp.lf_hist_new;
        ELSE NULL;
    END CASE;
END
$fn$;
COMMENT ON FUNCTION @extschema@.history_drop_new() IS
'Internal, part of import_history and correct_history: drops the new moves a merge reads (pg_temp.lf_hist_new: a view of the classified rows for an import, a table for a correction), if a session left them.';

CREATE FUNCTION @extschema@.history_merge_walk(rows_query text,
        OUT lead_id bigint, OUT account_id bigint, OUT funnel text, OUT to_stage @extschema@.lead_stage,
        OUT entered_at timestamptz, OUT kind integer, OUT old_seq integer, OUT given bigint,
        OUT old_from @extschema@.lead_stage, OUT old_left timestamptz, OUT changed_by text, OUT reason text,
        OUT old_flag text, OUT rn bigint,
        OUT dropped boolean, OUT seq bigint, OUT from_stage @extschema@.lead_stage, OUT left_at timestamptz,
        OUT first_at timestamptz, OUT max_stage @extschema@.lead_stage)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'lf_history_merge_walk' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.history_merge_walk(text) IS
'Internal, within import_history or correct_history only (42501 otherwise): walks the merged history of the leads (the rows of a query, ordered by lead_id and then in merge order, with the columns lead_id .. rn) once and returns each row with dropped (it enters the stage of the row before it), seq (rows not dropped so far), from_stage (stage of the row before), left_at (entered_at of the next row not dropped), first_at and max_stage (first entry and highest stage up to won of the lead''s rows not dropped).';

CREATE FUNCTION @extschema@.import_history_read(source regclass, model_owner name) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning
    SET jit = off
    SET work_mem = '128MB'
AS $fn$
DECLARE
    cols text[];
    missing text;
    lead_type regtype;
    expr text[];
    c text;
    n bigint;
BEGIN
    SELECT array_agg(attname::text) INTO cols FROM pg_attribute
     WHERE attrelid OPERATOR(pg_catalog.=) source AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped;
    SELECT string_agg(format('"%s"', r), ', ') INTO missing
      FROM unnest(ARRAY['lead_id', 'stage', 'changed_at']) r WHERE r OPERATOR(pg_catalog.<>) ALL (coalesce(cols, '{}'));
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'source % of import_history has no column %', source, missing
            USING ERRCODE = 'undefined_column',
                  HINT = 'The source needs columns lead_id, stage and changed_at, and may have account_id, funnel, changed_by and reason.';
    END IF;
    SELECT atttypid::regtype INTO lead_type FROM pg_attribute
     WHERE attrelid OPERATOR(pg_catalog.=) source AND attname OPERATOR(pg_catalog.=) 'lead_id';
    -- the lead's key as bigint, and as text when it is not an integer
    IF lead_type IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype) THEN
        expr := ARRAY['NULL::text', 'lead_id::bigint'];
    ELSE
        expr := ARRAY['lead_id::text',
                      $e$CASE WHEN lead_id::text OPERATOR(pg_catalog.~) '^\s*-?[0-9]{1,18}\s*$' THEN lead_id::text::bigint END$e$];
    END IF;
    expr := expr || ARRAY['stage::text', 'changed_at::timestamptz'];
    -- (changed_by as text until it is written: a name is 64 bytes in each of
    -- the million rows of the working tables, a CRM's user name a few)
    FOREACH c IN ARRAY ARRAY['account_id:bigint', 'funnel:text', 'changed_by:text', 'reason:text'] LOOP
        expr := expr || CASE WHEN split_part(c, ':', 1) OPERATOR(pg_catalog.=) ANY (cols)
                             THEN format('%I::%s', split_part(c, ':', 1), split_part(c, ':', 2))
                             ELSE format('NULL::%s', split_part(c, ':', 2)) END;
    END LOOP;
    DROP TABLE IF EXISTS pg_temp.lf_import_source;
    EXECUTE format($q$
        CREATE TEMP TABLE lf_import_source ON COMMIT DROP AS
        SELECT row_number() OVER () AS rn, %s AS lead_key, %s AS lead_id, %s AS stage_text, %s AS changed_at,
               %s AS account_id, %s AS funnel, %s AS changed_by, %s AS reason
          FROM %s
    $q$, expr[1], expr[2], expr[3], expr[4], expr[5], expr[6], expr[7], expr[8], source);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF model_owner OPERATOR(pg_catalog.<>) current_user THEN
        EXECUTE format('GRANT SELECT ON pg_temp.lf_import_source TO %I', model_owner);
    END IF;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION @extschema@.import_history_read(regclass, name) IS
'Internal, part of import_history: copies the source (as the caller, who must be able to read it) into a temporary table that the model''s owner may read; 42703 when a required column is missing. Returns the rows read.';

CREATE FUNCTION @extschema@.import_history_load(target_schema name, source regclass, caller name,
                                                OUT loaded bigint, OUT duplicates bigint, OUT flagged bigint, OUT rejected bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning
    SET jit = off
    SET work_mem = '256MB'
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    merged record;
BEGIN
    PERFORM @extschema@.history_rewrite_check();
    PERFORM @extschema@.history_drop_new();
    DROP TABLE IF EXISTS pg_temp.lf_import_row, pg_temp.lf_hist_lead;
    -- Each row with its lead (known -- by lead_id, or for the text and uuid
    -- keys of a tracked table by lead.external_id -- or created from the
    -- earliest row that names account_id and funnel), its stage and label
    -- (resolve_stage(): a label of the lead's funnel, or a canonical name and
    -- that stage's first label), and why it cannot be loaded, if it cannot.
    EXECUTE format($q$
        CREATE TEMP TABLE lf_import_row ON COMMIT DROP AS
        WITH ext AS (
            SELECT l.external_id, min(l.lead_id) AS lead_id, count(*) AS n
              FROM %1$s.lead l
             WHERE l.external_id IN (SELECT s.lead_key FROM pg_temp.lf_import_source s WHERE s.lead_key IS NOT NULL)
             GROUP BY l.external_id
        ), names AS (
            -- each stage name of the source resolved once per funnel, not once per row
            SELECT f.name AS funnel, n.stage_text, st.stage, st.label
              FROM (SELECT DISTINCT s.stage_text FROM pg_temp.lf_import_source s WHERE s.stage_text IS NOT NULL) n
             CROSS JOIN @extschema@.funnel f
             CROSS JOIN LATERAL @extschema@.resolve_stage(f.name, n.stage_text) st
        ), keyed AS NOT MATERIALIZED (
            SELECT s.rn, s.lead_key,
                   CASE WHEN e.n OPERATOR(pg_catalog.=) 1 THEN e.lead_id WHEN e.n IS NULL THEN s.lead_id END AS lead_id,
                   coalesce(e.n OPERATOR(pg_catalog.>) 1, false) AS ambiguous,
                   s.stage_text, s.changed_at, s.account_id, s.funnel, s.changed_by, s.reason
              FROM pg_temp.lf_import_source s
              LEFT JOIN ext e ON e.external_id OPERATOR(pg_catalog.=) s.lead_key
        ), created AS (
            SELECT DISTINCT ON (s.lead_id) s.lead_id, s.account_id, s.funnel,
                   a.account_id IS NOT NULL AS account_known, f.name IS NOT NULL AS funnel_known
              FROM keyed s
              LEFT JOIN %1$s.account a ON a.account_id OPERATOR(pg_catalog.=) s.account_id
              LEFT JOIN @extschema@.funnel f ON f.name OPERATOR(pg_catalog.=) s.funnel
             WHERE s.lead_id IS NOT NULL AND s.account_id IS NOT NULL AND s.funnel IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM %1$s.lead l WHERE l.lead_id OPERATOR(pg_catalog.=) s.lead_id)
             ORDER BY s.lead_id, s.changed_at, s.rn
        ), src AS (
            SELECT s.*, l.lead_id AS known_id, l.account_id AS lead_account, l.funnel AS lead_funnel
              FROM keyed s
              LEFT JOIN %1$s.lead l ON l.lead_id OPERATOR(pg_catalog.=) s.lead_id
        )
        SELECT src.rn, src.lead_key, src.lead_id, coalesce(src.lead_account, c.account_id) AS account_id,
               coalesce(src.lead_funnel, c.funnel) AS funnel, st.stage, st.label, src.stage_text, src.changed_at,
               src.changed_by, src.reason, src.known_id IS NULL AS is_new,
               src.account_id AS source_account_id, src.funnel AS source_funnel,
               CASE WHEN src.lead_id IS NULL AND src.lead_key IS NULL THEN 'no lead_id'
                    WHEN src.ambiguous THEN format('key %%s names leads of several tracked tables', src.lead_key)
                    WHEN src.lead_id IS NULL THEN format('unknown lead %%s', src.lead_key)
                    WHEN src.known_id IS NULL AND c.lead_id IS NULL THEN format('unknown lead %%s (give account_id and funnel to create it)', coalesce(src.lead_key, src.lead_id::text))
                    WHEN src.known_id IS NULL AND NOT c.account_known THEN format('unknown account %%s', c.account_id)
                    WHEN src.known_id IS NULL AND NOT c.funnel_known THEN format('unknown funnel %%s', c.funnel)
                    WHEN src.known_id IS NOT NULL AND src.account_id IS DISTINCT FROM src.lead_account AND src.account_id IS NOT NULL
                        THEN format('lead %%s belongs to account %%s, not %%s', src.lead_id, src.lead_account, src.account_id)
                    WHEN st.stage IS NULL THEN format('unknown stage or label %%s of funnel %%s', coalesce(src.stage_text, 'NULL'),
                                                      coalesce(src.lead_funnel, c.funnel))
                    WHEN src.changed_at IS NULL OR NOT isfinite(src.changed_at) THEN format('no valid time: %%s', coalesce(src.changed_at::text, 'NULL'))
                    WHEN src.changed_at OPERATOR(pg_catalog.>) $1 THEN format('time in the future: %%s', src.changed_at)
               END AS problem
          FROM src
          LEFT JOIN created c ON c.lead_id OPERATOR(pg_catalog.=) src.lead_id AND src.known_id IS NULL
          LEFT JOIN names st
                 ON st.funnel OPERATOR(pg_catalog.=) CASE WHEN src.known_id IS NOT NULL THEN src.lead_funnel WHEN c.funnel_known THEN c.funnel END
                AND st.stage_text OPERATOR(pg_catalog.=) src.stage_text
    $q$, s) USING clock_timestamp();

    -- (the temporary tables analyzed, or the planner takes them for small)
    ANALYZE pg_temp.lf_import_row;
    IF EXISTS (SELECT 1 FROM pg_temp.lf_import_row WHERE is_new AND problem IS NULL)
       AND NOT has_table_privilege(caller, format('%s.lead', s), 'INSERT') THEN
        RAISE EXCEPTION 'permission denied to create leads in model "%"', target_schema
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The import names leads that do not exist, with account_id and funnel.',
                  HINT = format('Grant INSERT on %s.lead to %I, or import only rows of existing leads.', s, caller);
    END IF;

    EXECUTE format($q$
        INSERT INTO %1$s.lead_stage_history_reject
               (rejected_at, rejected_by, source, source_row, lead_id, account_id, funnel, stage, changed_at, changed_by, reason, problem)
        SELECT now(), $1, $2, r.rn, coalesce(r.lead_key, r.lead_id::text), r.source_account_id, r.source_funnel,
               r.stage_text, r.changed_at, r.changed_by, r.reason, r.problem
          FROM pg_temp.lf_import_row r WHERE r.problem IS NOT NULL
    $q$, s) USING caller, source::text;
    GET DIAGNOSTICS rejected = ROW_COUNT;

    -- The moves, duplicates and all: history_merge drops a move that enters
    -- the stage the move before it entered, and so the second of two equal
    -- rows, in the one ordering it sorts the merged history in (no sort of
    -- its own for the duplicates).  A view of the classified rows, not a
    -- copy of them: the merge reads them once or twice, and writing a
    -- million rows to one more temporary table costs more than that.  (It
    -- goes with lf_import_row, whose ON COMMIT DROP cascades to it.)
    EXECUTE format($q$
        CREATE TEMP VIEW lf_hist_new AS
        SELECT r.lead_id, r.account_id, r.stage AS to_stage, r.changed_at AS entered_at,
               coalesce(r.changed_by::name, %L::name) AS changed_by, r.reason, r.rn, r.label
          FROM pg_temp.lf_import_row r WHERE r.problem IS NULL
    $q$, caller);
    -- The leads there, locked in lead_id order (as every import and
    -- correction takes them, so they cannot deadlock each other; a move
    -- locks its one lead the same way) and read in the same statement;
    -- history_merge reads their history after the locks, with a fresh
    -- snapshot.  Then the leads the import creates.
    EXECUTE format($q$
        CREATE TEMP TABLE lf_hist_lead ON COMMIT DROP AS
        SELECT l.lead_id, l.account_id, l.funnel, NULL::timestamptz AS cut, false AS is_new
          FROM %1$s.lead l
         WHERE l.lead_id IN (SELECT r.lead_id FROM pg_temp.lf_import_row r WHERE r.problem IS NULL AND NOT r.is_new)
         ORDER BY l.lead_id
           FOR NO KEY UPDATE OF l
    $q$, s);
    INSERT INTO pg_temp.lf_hist_lead
    SELECT r.lead_id, min(r.account_id), min(r.funnel), NULL::timestamptz, true
      FROM pg_temp.lf_import_row r WHERE r.problem IS NULL AND r.is_new GROUP BY r.lead_id;

    SELECT * INTO merged FROM @extschema@.history_merge(target_schema, caller, format('import_history from %s', source));
    loaded := merged.loaded;
    flagged := merged.flagged;
    duplicates := merged.duplicates;
    DROP VIEW pg_temp.lf_hist_new;
    DROP TABLE pg_temp.lf_import_row;
END
$fn$;
COMMENT ON FUNCTION @extschema@.import_history_load(name, regclass, name) IS
'Internal, part of import_history (as the model''s owner): classifies the rows read, writes the unloadable ones to lead_stage_history_reject, drops duplicates and merges the rest with history_merge.';

CREATE FUNCTION @extschema@.correct_history_apply(target_schema name, lead_id bigint, moves @extschema@.stage_move[],
                                                  reason text, caller name) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning
    SET jit = off
    SET work_mem = '128MB'
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    acc bigint;
    fun text;
    bad record;
    merged record;
BEGIN
    PERFORM @extschema@.history_rewrite_check();
    IF lead_id IS NULL OR moves IS NULL OR reason IS NULL THEN
        RAISE EXCEPTION 'lead_id, moves and reason of correct_history must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Every correction names the lead, its moves and why.';
    END IF;
    IF btrim(reason) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'reason of correct_history must not be empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Every correction says why it was made.';
    END IF;
    IF cardinality(moves) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'moves of correct_history must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The lead''s history from moves[1].entered_at on becomes the moves: give at least the stage it was in from then.';
    END IF;
    SELECT m.ord, m.stage, m.entered_at, lag(m.stage) OVER w AS prev_stage, lag(m.entered_at) OVER w AS prev_at INTO bad
      FROM unnest(moves) WITH ORDINALITY m(stage, entered_at, ord)
    WINDOW w AS (ORDER BY m.ord)
     ORDER BY coalesce(m.stage IS NULL OR m.entered_at IS NULL OR NOT isfinite(m.entered_at)
                       OR m.entered_at OPERATOR(pg_catalog.>) clock_timestamp()
                       OR m.entered_at OPERATOR(pg_catalog.<) lag(m.entered_at) OVER w
                       OR m.stage OPERATOR(pg_catalog.=) lag(m.stage) OVER w, false) DESC, m.ord
     LIMIT 1;
    IF bad.stage IS NULL OR bad.entered_at IS NULL THEN
        RAISE EXCEPTION 'move % of correct_history has no stage or no time', bad.ord
            USING ERRCODE = 'null_value_not_allowed';
    ELSIF NOT isfinite(bad.entered_at) OR bad.entered_at OPERATOR(pg_catalog.>) clock_timestamp() THEN
        RAISE EXCEPTION 'lead % cannot enter stage "%" at %, which is in the future', lead_id, bad.stage, bad.entered_at
            USING ERRCODE = 'check_violation', CONSTRAINT = 'lead_stage_chronology',
                  DETAIL = 'A corrected history is dated in the past.';
    ELSIF bad.entered_at OPERATOR(pg_catalog.<) bad.prev_at THEN
        RAISE EXCEPTION 'move % of correct_history is dated %, before the move before it (%)', bad.ord, bad.entered_at, bad.prev_at
            USING ERRCODE = 'check_violation', CONSTRAINT = 'lead_stage_chronology',
                  DETAIL = 'The moves of a correction are given in time order.';
    ELSIF bad.stage OPERATOR(pg_catalog.=) bad.prev_stage THEN
        RAISE EXCEPTION 'moves % and % of correct_history both enter stage "%"', bad.ord - 1, bad.ord, bad.stage
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Each move enters another stage than the move before it.';
    END IF;

    -- (the lead locked, as an import locks its leads, before history_merge reads its history)
    EXECUTE format('SELECT account_id, funnel FROM %s.lead WHERE lead_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE', s)
       INTO acc, fun USING lead_id;
    IF acc IS NULL THEN
        RAISE EXCEPTION 'lead % does not exist in model "%"', lead_id, target_schema
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM @extschema@.history_drop_new();
    DROP TABLE IF EXISTS pg_temp.lf_hist_lead;
    CREATE TEMP TABLE lf_hist_lead ON COMMIT DROP AS
    SELECT correct_history_apply.lead_id, acc AS account_id, fun AS funnel, moves[1].entered_at AS cut, false AS is_new;
    -- (each move with its stage's first label, as a move that writes only the stage gets)
    CREATE TEMP TABLE lf_hist_new ON COMMIT DROP AS
    SELECT correct_history_apply.lead_id, acc AS account_id, m.stage AS to_stage, m.entered_at,
           caller AS changed_by, correct_history_apply.reason, m.ord AS rn,
           (SELECT sl.label FROM @extschema@.stage_label sl
             WHERE sl.funnel OPERATOR(pg_catalog.=) fun AND sl.stage OPERATOR(pg_catalog.=) m.stage
             ORDER BY sl.position, sl.label COLLATE "C" LIMIT 1) AS label
      FROM unnest(moves) WITH ORDINALITY m(stage, entered_at, ord);
    SELECT * INTO merged FROM @extschema@.history_merge(target_schema, caller, correct_history_apply.reason);
    DROP TABLE pg_temp.lf_hist_new;
    RETURN merged.superseded;
END
$fn$;
COMMENT ON FUNCTION @extschema@.correct_history_apply(name, bigint, @extschema@.stage_move[], text, name) IS
'Internal, part of correct_history (as the model''s owner): checks the moves (22004, 22023, 23514 lead_stage_chronology) and the lead (42704) and merges the moves with history_merge, cutting the history at moves[1].entered_at.';

CREATE FUNCTION @extschema@.history_merge(target_schema name, caller name, why text,
                                          OUT loaded bigint, OUT duplicates bigint, OUT flagged bigint, OUT superseded bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning
    SET jit = off
    SET work_mem = '256MB'
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    h text := s || '.lead_stage_history';
    lh text := s || '.lead_label_history';
    has_labels boolean;
    label_moves bigint := 0;
BEGIN
    PERFORM @extschema@.history_rewrite_check();
    DROP TABLE IF EXISTS pg_temp.lf_hist_old, pg_temp.lf_hist_m, pg_temp.lf_hist_sum, pg_temp.lf_hist_accounts,
                         pg_temp.lf_label_old, pg_temp.lf_label_m, pg_temp.lf_label_sum;
    -- The callers have locked the leads' rows (in lead_id order); their
    -- history is read after the locks, with a fresh snapshot.
    EXECUTE format($q$
        CREATE TEMP TABLE lf_hist_old ON COMMIT DROP AS
        SELECT h.lead_id, h.account_id, h.seq, h.from_stage, h.to_stage, h.entered_at, h.left_at,
               h.changed_by, h.reason, h.flag
          FROM %1$s h
          JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) h.lead_id
                                     AND l.account_id OPERATOR(pg_catalog.=) h.account_id
         WHERE h.superseded_at IS NULL AND NOT l.is_new
    $q$, h);
    ANALYZE pg_temp.lf_hist_old;
    IF (SELECT c.relkind FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) 'pg_temp.lf_hist_new'::regclass) OPERATOR(pg_catalog.=) 'r' THEN
        ANALYZE pg_temp.lf_hist_new;
    END IF;
    ANALYZE pg_temp.lf_hist_lead;

    -- The merged history of each lead (M): its rows before the cut (all of
    -- them for an import) and the new moves, in time order.  At the same
    -- time, rows already there come first and keep their order (seq: moves
    -- that waited for a concurrent one share its time, and the stage order
    -- could put "lost" after its own reopening and drop the latter), then
    -- the new ones: a correction's in the order given, an import's (from a
    -- source without order) by stage.  A row that enters the
    -- stage the row before it entered is no move and is dropped (a new one
    -- is a duplicate, one there is superseded by the earlier entry).  What
    -- happens to each row:
    --   keep      a row there, unchanged;
    --   close     the lead's current row, now followed by a new one: left_at set (as a move does);
    --   rerecord  a row there whose seq, from_stage or left_at changes: superseded, appended anew;
    --   supersede a row there that is no longer part of the history;
    --   insert    a new move, appended;
    --   duplicate a new move already there.
    -- Appended rows are checked against the funnel's rules: a move they
    -- refuse is appended with the reason in flag.
    EXECUTE $q$
        CREATE TEMP TABLE lf_hist_m ON COMMIT DROP AS
        WITH m AS (
            -- The rows in merge order, walked once by history_merge_walk():
            -- whether each is dropped (it enters the stage of the row
            -- before it), the rows not dropped numbered, each one's
            -- from_stage the stage before it (a dropped row repeats the
            -- stage of the row it follows), its left_at the next entry not
            -- dropped, and what the lead's row takes from its whole merged
            -- history (first entry, highest stage up to won).
            SELECT * FROM @extschema@.history_merge_walk($w$
                -- (changed_by as text: name is 64 bytes wide, and the sort
                -- and lf_hist_m hold every row; it is a name again where written)
                SELECT o.lead_id, o.account_id, l.funnel, o.to_stage, o.entered_at, 0 AS kind, o.seq AS old_seq,
                       NULL::bigint AS given, o.from_stage AS old_from, o.left_at AS old_left, o.changed_by::text AS changed_by,
                       o.reason, o.flag AS old_flag, 0::bigint AS rn
                  FROM pg_temp.lf_hist_old o JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) o.lead_id
                 WHERE l.cut IS NULL OR o.entered_at OPERATOR(pg_catalog.<) l.cut
                UNION ALL
                -- (an import's new rows that are there already are duplicates)
                SELECT n.lead_id, n.account_id, l.funnel, n.to_stage, n.entered_at, 1, NULL,
                       CASE WHEN l.cut IS NOT NULL THEN n.rn END, NULL, NULL, n.changed_by::text, n.reason, NULL, n.rn
                  FROM pg_temp.lf_hist_new n JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) n.lead_id
                  LEFT JOIN pg_temp.lf_hist_old o
                         ON l.cut IS NULL AND o.lead_id OPERATOR(pg_catalog.=) n.lead_id
                        AND o.to_stage OPERATOR(pg_catalog.=) n.to_stage AND o.entered_at OPERATOR(pg_catalog.=) n.entered_at
                 WHERE o.lead_id IS NULL
                 ORDER BY lead_id, entered_at, kind, old_seq, given, to_stage, rn
            $w$)
        ), allowed AS (
            SELECT f.name AS funnel, fs.s AS from_stage, unnest(@extschema@.allowed_next(f.name, fs.s)) AS to_stage
              FROM @extschema@.funnel f CROSS JOIN unnest(enum_range(NULL::@extschema@.lead_stage)) fs(s)
             WHERE f.name IN (SELECT x.funnel FROM pg_temp.lf_hist_lead x)
        ), entry AS (
            SELECT f.name AS funnel, unnest(@extschema@.entry_stages(f.name)) AS stage
              FROM @extschema@.funnel f WHERE f.name IN (SELECT x.funnel FROM pg_temp.lf_hist_lead x)
        ), act AS (
            SELECT m.*,
                   CASE WHEN m.dropped THEN CASE WHEN m.kind OPERATOR(pg_catalog.=) 1 THEN 'duplicate' ELSE 'supersede' END
                        WHEN m.kind OPERATOR(pg_catalog.=) 1 THEN 'insert'
                        WHEN m.seq OPERATOR(pg_catalog.=) m.old_seq AND m.from_stage IS NOT DISTINCT FROM m.old_from
                             AND m.left_at IS NOT DISTINCT FROM m.old_left THEN 'keep'
                        WHEN m.seq OPERATOR(pg_catalog.=) m.old_seq AND m.from_stage IS NOT DISTINCT FROM m.old_from
                             AND m.old_left IS NULL THEN 'close'
                        ELSE 'rerecord' END AS action
              FROM m
        )
        SELECT a.lead_id, a.account_id, CASE WHEN NOT a.dropped THEN a.seq::int END AS seq,
               CASE WHEN NOT a.dropped THEN a.from_stage END AS from_stage, a.to_stage, a.entered_at,
               CASE WHEN NOT a.dropped THEN a.left_at END AS left_at,
               a.changed_by, a.reason, a.old_seq, a.action, a.first_at, a.max_stage,
               CASE WHEN a.action IN ('keep', 'close') THEN a.old_flag
                    WHEN a.action NOT IN ('insert', 'rerecord') THEN NULL
                    WHEN a.seq OPERATOR(pg_catalog.=) 1 AND e.stage IS NULL
                        THEN format('stage %s is not an entry stage of funnel %s', a.to_stage, a.funnel)
                    WHEN a.seq OPERATOR(pg_catalog.>) 1 AND al.to_stage IS NULL
                        THEN format('funnel %s does not allow the move from %s to %s', a.funnel, a.from_stage, a.to_stage)
               END AS flag
          FROM act a
          LEFT JOIN entry e ON e.funnel OPERATOR(pg_catalog.=) a.funnel AND e.stage OPERATOR(pg_catalog.=) a.to_stage
          LEFT JOIN allowed al ON al.funnel OPERATOR(pg_catalog.=) a.funnel
                              AND al.from_stage OPERATOR(pg_catalog.=) a.from_stage AND al.to_stage OPERATOR(pg_catalog.=) a.to_stage
        UNION ALL
        SELECT o.lead_id, o.account_id, NULL, NULL, o.to_stage, o.entered_at, NULL, o.changed_by::text, o.reason, o.seq, 'supersede',
               NULL, NULL, NULL
          FROM pg_temp.lf_hist_old o JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) o.lead_id
         WHERE o.entered_at OPERATOR(pg_catalog.>=) l.cut
    $q$;

    -- superseded first (their seq is taken again), then the current rows closed
    EXECUTE format($q$
        UPDATE %1$s h SET superseded_at = now(), superseded_by = $1, superseded_reason = $2
          FROM pg_temp.lf_hist_m m
         WHERE m.action IN ('supersede', 'rerecord') AND h.superseded_at IS NULL
           AND h.account_id OPERATOR(pg_catalog.=) m.account_id AND h.lead_id OPERATOR(pg_catalog.=) m.lead_id
           AND h.seq OPERATOR(pg_catalog.=) m.old_seq
    $q$, h) USING caller, why;
    GET DIAGNOSTICS superseded = ROW_COUNT;
    EXECUTE format($q$
        UPDATE %1$s h SET left_at = m.left_at
          FROM pg_temp.lf_hist_m m
         WHERE m.action OPERATOR(pg_catalog.=) 'close' AND h.superseded_at IS NULL
           AND h.account_id OPERATOR(pg_catalog.=) m.account_id AND h.lead_id OPERATOR(pg_catalog.=) m.lead_id
           AND h.seq OPERATOR(pg_catalog.=) m.old_seq
    $q$, h);

    -- The label history of the leads concerned (a model with stage labels,
    -- when a funnel of theirs has labels or they have label rows): rebuilt
    -- from the labels entered -- by the import or the correction (their rows'
    -- labels; a canonical name or a correction's move gives its stage's first
    -- label), else the label rows there (before the cut) -- and, for a stage
    -- entry without one, its stage's first label; one per lead, time and
    -- stage (two moves at one time each keep theirs), paired with the entry
    -- of its stage at its time, and kept only when the merged stage history
    -- is in its stage then.  A row is
    -- written for every change of (stage, label) but from no label to none,
    -- as the transition trigger writes them.  Compared with the current label
    -- rows: unchanged rows are kept, the current one closed, the others
    -- superseded and the new ones appended.
    has_labels := to_regclass(lh) IS NOT NULL;
    IF has_labels THEN
        EXECUTE format($q$
            CREATE TEMP TABLE lf_label_old ON COMMIT DROP AS
            SELECT c.lead_id, c.account_id, c.seq, c.stage, c.label, c.entered_at, c.left_at, c.changed_by
              FROM %1$s c
              JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) c.lead_id
                                         AND l.account_id OPERATOR(pg_catalog.=) c.account_id
             WHERE c.superseded_at IS NULL AND NOT l.is_new
        $q$, lh);
        has_labels := EXISTS (SELECT 1 FROM pg_temp.lf_label_old)
                   OR EXISTS (SELECT 1 FROM @extschema@.stage_label sl
                               WHERE sl.funnel IN (SELECT x.funnel FROM pg_temp.lf_hist_lead x));
    END IF;
    IF has_labels THEN
        ANALYZE pg_temp.lf_label_old;
        CREATE TEMP TABLE lf_label_m ON COMMIT DROP AS
        WITH st AS (
            SELECT m.lead_id, m.account_id, m.seq, m.to_stage, m.entered_at, m.changed_by::name AS changed_by
              FROM pg_temp.lf_hist_m m WHERE m.action IN ('keep', 'close', 'rerecord', 'insert')
        ), first_label AS (
            SELECT DISTINCT ON (sl.funnel, sl.stage) sl.funnel, sl.stage, sl.label
              FROM @extschema@.stage_label sl
             WHERE sl.funnel IN (SELECT x.funnel FROM pg_temp.lf_hist_lead x)
             ORDER BY sl.funnel, sl.stage, sl.position, sl.label COLLATE "C"
        ), entered AS (
            -- (the new moves without their exact copies: an import's come
            -- with them, and a copy would count as one more label event)
            (SELECT DISTINCT ON (n.lead_id, n.to_stage, n.entered_at, n.label)
                    n.lead_id, n.account_id, n.to_stage AS stage, n.label, n.entered_at, 0 AS prio, n.rn, n.changed_by
               FROM pg_temp.lf_hist_new n
              ORDER BY n.lead_id, n.to_stage, n.entered_at, n.label, n.rn)
            UNION ALL
            SELECT o.lead_id, o.account_id, o.stage, o.label, o.entered_at, 1, o.seq, o.changed_by
              FROM pg_temp.lf_label_old o JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) o.lead_id
             WHERE l.cut IS NULL OR o.entered_at OPERATOR(pg_catalog.<) l.cut
        ), since AS (
            SELECT e.lead_id, min(e.entered_at) AS first_at FROM entered e GROUP BY e.lead_id
        ), ev AS (
            SELECT * FROM entered
            UNION ALL
            SELECT st.lead_id, st.account_id, st.to_stage, fl.label, st.entered_at, 2, st.seq, st.changed_by
              FROM st JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) st.lead_id
              JOIN since ON since.lead_id OPERATOR(pg_catalog.=) st.lead_id AND st.entered_at OPERATOR(pg_catalog.>=) since.first_at
              LEFT JOIN first_label fl ON fl.funnel OPERATOR(pg_catalog.=) l.funnel AND fl.stage OPERATOR(pg_catalog.=) st.to_stage
        ), ev_occ AS (
            -- the k-th event of a lead, time and stage from its source (a
            -- stage entered twice at one time, a move between labels made
            -- in the transaction that entered the stage)
            SELECT ev.*, row_number() OVER (PARTITION BY ev.lead_id, ev.entered_at, ev.stage, ev.prio ORDER BY ev.rn) AS occ
              FROM ev
        ), one AS (
            -- one label per lead, time, stage and k: two moves at one time each keep their own
            SELECT DISTINCT ON (e.lead_id, e.entered_at, e.stage, e.occ) e.*
              FROM ev_occ e ORDER BY e.lead_id, e.entered_at, e.stage, e.occ, e.prio, e.rn
        ), st_at AS (
            -- the k-th entry of a lead's stage at one time, of n
            SELECT st.lead_id, st.entered_at, st.to_stage, st.seq,
                   row_number() OVER (PARTITION BY st.lead_id, st.entered_at, st.to_stage ORDER BY st.seq) AS occ,
                   count(*) OVER (PARTITION BY st.lead_id, st.entered_at, st.to_stage) AS n
              FROM st
        ), timeline AS (
            -- the stage entries (marker) and the events in time order: an
            -- event's stage then is the marker of its group.  An event right
            -- after the entry of its stage at its time (the k-th event after
            -- the k-th entry: the move it was written with; events beyond
            -- the entries after the last: moves between labels made just
            -- after the move), else before the entries of its time (a move
            -- between labels of the stage the lead was in until then).
            SELECT x.*, count(x.marker) OVER (PARTITION BY x.lead_id ORDER BY x.entered_at, x.mseq, x.ord, x.occ
                                              ROWS UNBOUNDED PRECEDING) AS grp
              FROM (SELECT st.lead_id, st.account_id, st.entered_at, 0 AS ord, st.seq AS mseq, 0::bigint AS occ,
                           st.to_stage AS marker, NULL::@extschema@.lead_stage AS stage, NULL::text AS label,
                           NULL::int AS prio, NULL::name AS changed_by
                      FROM st
                    UNION ALL
                    SELECT one.lead_id, one.account_id, one.entered_at, 1, coalesce(sa.seq, 0), one.occ, NULL,
                           one.stage, one.label, one.prio, one.changed_by
                      FROM one
                      LEFT JOIN st_at sa ON sa.lead_id OPERATOR(pg_catalog.=) one.lead_id AND sa.entered_at OPERATOR(pg_catalog.=) one.entered_at
                                        AND sa.to_stage OPERATOR(pg_catalog.=) one.stage
                                        AND sa.occ OPERATOR(pg_catalog.=) least(one.occ, sa.n)) x
        ), judged AS (
            SELECT t.*, first_value(t.marker) OVER (PARTITION BY t.lead_id, t.grp ORDER BY t.ord, t.mseq DESC) AS stage_then
              FROM timeline t
        ), kept AS (
            SELECT j.*, lag(j.stage) OVER w AS prev_stage, lag(j.label) OVER w AS prev_label,
                   row_number() OVER w OPERATOR(pg_catalog.=) 1 AS first_event
              FROM judged j
             WHERE j.ord OPERATOR(pg_catalog.=) 1 AND j.stage OPERATOR(pg_catalog.=) j.stage_then
            WINDOW w AS (PARTITION BY j.lead_id ORDER BY j.entered_at, j.mseq, j.stage, j.occ)
        ), written AS (
            SELECT k.lead_id, k.account_id, k.stage, k.label, k.entered_at, k.prio, k.changed_by,
                   row_number() OVER w AS seq, lead(k.entered_at) OVER w AS left_at
              FROM kept k
             WHERE CASE WHEN k.first_event THEN k.label IS NOT NULL
                        ELSE (k.stage, k.label) IS DISTINCT FROM (k.prev_stage, k.prev_label)
                             AND NOT (k.label IS NULL AND k.prev_label IS NULL) END
            WINDOW w AS (PARTITION BY k.lead_id ORDER BY k.entered_at, k.mseq, k.stage, k.occ)
        )
        SELECT coalesce(w.lead_id, o.lead_id) AS lead_id, coalesce(w.account_id, o.account_id) AS account_id,
               w.seq::int AS seq, w.stage, w.label, w.entered_at, w.left_at, w.changed_by, w.prio, o.seq AS old_seq,
               CASE WHEN w.lead_id IS NULL THEN 'supersede'
                    WHEN o.lead_id IS NULL THEN 'insert'
                    WHEN w.left_at IS NOT DISTINCT FROM o.left_at THEN 'keep'
                    WHEN o.left_at IS NULL THEN 'close'
                    ELSE 'rerecord' END AS action
          FROM written w
          FULL JOIN pg_temp.lf_label_old o
            ON o.lead_id OPERATOR(pg_catalog.=) w.lead_id AND o.seq::bigint OPERATOR(pg_catalog.=) w.seq
           AND o.stage OPERATOR(pg_catalog.=) w.stage AND o.entered_at OPERATOR(pg_catalog.=) w.entered_at
           AND coalesce(o.label, '') OPERATOR(pg_catalog.=) coalesce(w.label, '')
           AND (o.label IS NULL) OPERATOR(pg_catalog.=) (w.label IS NULL);

        EXECUTE format($q$
            UPDATE %1$s c SET superseded_at = now(), superseded_by = $1, superseded_reason = $2
              FROM pg_temp.lf_label_m m
             WHERE m.action IN ('supersede', 'rerecord') AND c.superseded_at IS NULL
               AND c.account_id OPERATOR(pg_catalog.=) m.account_id AND c.lead_id OPERATOR(pg_catalog.=) m.lead_id
               AND c.seq OPERATOR(pg_catalog.=) m.old_seq
        $q$, lh) USING caller, why;
        EXECUTE format($q$
            UPDATE %1$s c SET left_at = m.left_at
              FROM pg_temp.lf_label_m m
             WHERE m.action OPERATOR(pg_catalog.=) 'close' AND c.superseded_at IS NULL
               AND c.account_id OPERATOR(pg_catalog.=) m.account_id AND c.lead_id OPERATOR(pg_catalog.=) m.lead_id
               AND c.seq OPERATOR(pg_catalog.=) m.old_seq
        $q$, lh);
        -- each lead's label: that of its last label row (none: NULL)
        CREATE TEMP TABLE lf_label_sum ON COMMIT DROP AS
        SELECT l.lead_id, x.label
          FROM pg_temp.lf_hist_lead l
          LEFT JOIN (SELECT DISTINCT ON (m.lead_id) m.lead_id, m.label FROM pg_temp.lf_label_m m
                      WHERE m.action OPERATOR(pg_catalog.<>) 'supersede'
                      ORDER BY m.lead_id, m.seq DESC) x ON x.lead_id OPERATOR(pg_catalog.=) l.lead_id;
        -- an imported move between labels of one stage is loaded (into the
        -- label history only), not a duplicate
        SELECT count(*) INTO label_moves FROM pg_temp.lf_label_m lm
         WHERE lm.action OPERATOR(pg_catalog.=) 'insert' AND lm.prio OPERATOR(pg_catalog.=) 0
           AND NOT EXISTS (SELECT 1 FROM pg_temp.lf_hist_m m
                            WHERE m.lead_id OPERATOR(pg_catalog.=) lm.lead_id AND m.action OPERATOR(pg_catalog.=) 'insert'
                              AND m.entered_at OPERATOR(pg_catalog.=) lm.entered_at AND m.to_stage OPERATOR(pg_catalog.=) lm.stage);
    END IF;

    -- each lead as its merged history says: its last row (the one kept that
    -- no later row closes), and the first entry and highest stage up to won
    -- that the merge computed over all its rows
    CREATE TEMP TABLE lf_hist_sum ON COMMIT DROP AS
    SELECT m.lead_id, m.account_id, m.to_stage AS stage, m.entered_at AS stage_entered_at, m.reason AS last_reason,
           m.first_at, m.max_stage
      FROM pg_temp.lf_hist_m m
     WHERE m.action IN ('keep', 'close', 'rerecord', 'insert') AND m.left_at IS NULL;

    -- accounts whose lifecycle facts change: wins recorded or superseded,
    -- new leads (their motion), leads that open or close (their contact's
    -- status) or start earlier (their motion)
    EXECUTE format($q$
        CREATE TEMP TABLE lf_hist_accounts ON COMMIT DROP AS
        SELECT m.account_id FROM pg_temp.lf_hist_m m
         WHERE m.to_stage OPERATOR(pg_catalog.=) 'won' AND m.action IN ('insert', 'rerecord', 'supersede')
        UNION
        SELECT x.account_id FROM pg_temp.lf_hist_lead x WHERE x.is_new
        UNION
        SELECT l.account_id FROM %1$s.lead l JOIN pg_temp.lf_hist_sum x ON x.lead_id OPERATOR(pg_catalog.=) l.lead_id
         WHERE (l.stage OPERATOR(pg_catalog.<) 'won') OPERATOR(pg_catalog.<>) (x.stage OPERATOR(pg_catalog.<) 'won')
            OR x.first_at OPERATOR(pg_catalog.<) l.created_at
    $q$, s);

    -- new leads, then their history and the other appended rows, then the leads there
    EXECUTE format($q$
        INSERT INTO %1$s.lead (lead_id, account_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at, close_reason%2$s)
        SELECT x.lead_id, x.account_id, l.funnel, x.stage, x.max_stage, x.first_at, x.stage_entered_at,
               CASE WHEN x.stage OPERATOR(pg_catalog.>=) 'won' THEN x.stage_entered_at END,
               CASE WHEN x.stage OPERATOR(pg_catalog.>=) 'won' THEN x.last_reason END%3$s
          FROM pg_temp.lf_hist_sum x JOIN pg_temp.lf_hist_lead l ON l.lead_id OPERATOR(pg_catalog.=) x.lead_id
          %4$s
         WHERE l.is_new
         ORDER BY x.lead_id
    $q$, s, CASE WHEN has_labels THEN ', stage_label' ELSE '' END, CASE WHEN has_labels THEN ', lb.label' ELSE '' END,
          CASE WHEN has_labels THEN 'JOIN pg_temp.lf_label_sum lb ON lb.lead_id OPERATOR(pg_catalog.=) x.lead_id' ELSE '' END);
    PERFORM @extschema@.history_append_rows(h::regclass, $q$
        SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, changed_by::name AS changed_by, reason,
               now() AS recorded_at, flag
          FROM pg_temp.lf_hist_m WHERE action IN ('insert', 'rerecord')
         ORDER BY account_id, lead_id, seq
    $q$);
    IF has_labels THEN
        PERFORM @extschema@.history_append_rows(lh::regclass, $q$
            SELECT lead_id, account_id, seq, stage, label, entered_at, left_at, changed_by, now() AS recorded_at
              FROM pg_temp.lf_label_m WHERE action IN ('insert', 'rerecord')
             ORDER BY account_id, lead_id, seq
        $q$);
    END IF;
    EXECUTE format($q$
        UPDATE %1$s.lead l
           SET stage = x.stage, stage_entered_at = x.stage_entered_at, max_stage = x.max_stage,
               closed_at = CASE WHEN x.stage OPERATOR(pg_catalog.>=) 'won' THEN x.stage_entered_at END,
               close_reason = CASE WHEN x.stage OPERATOR(pg_catalog.<) 'won' THEN NULL
                                   WHEN x.stage OPERATOR(pg_catalog.=) l.stage AND x.stage_entered_at OPERATOR(pg_catalog.=) l.stage_entered_at
                                       THEN l.close_reason
                                   ELSE x.last_reason END,
               created_at = least(l.created_at, x.first_at)%2$s
          FROM pg_temp.lf_hist_sum x JOIN pg_temp.lf_hist_lead hl ON hl.lead_id OPERATOR(pg_catalog.=) x.lead_id
          %3$s
         WHERE NOT hl.is_new AND l.lead_id OPERATOR(pg_catalog.=) x.lead_id AND l.account_id OPERATOR(pg_catalog.=) x.account_id
           AND ((l.stage, l.stage_entered_at, l.max_stage, l.created_at)
                IS DISTINCT FROM (x.stage, x.stage_entered_at, x.max_stage, least(l.created_at, x.first_at))%4$s)
    $q$, s, CASE WHEN has_labels THEN ', stage_label = lb.label' ELSE '' END,
          CASE WHEN has_labels THEN 'JOIN pg_temp.lf_label_sum lb ON lb.lead_id OPERATOR(pg_catalog.=) x.lead_id' ELSE '' END,
          CASE WHEN has_labels THEN ' OR l.stage_label IS DISTINCT FROM lb.label' ELSE '' END);

    -- the lifecycle of the accounts concerned, in account_id order
    EXECUTE format($q$
        SELECT count(*) FROM (
            SELECT @extschema@.lifecycle_refresh_account(%2$L::regclass, %3$L::regclass, %4$L::regclass, %5$L::regclass,
                                                         %6$L::regclass, a.account_id, a.status, a.status_since, true)
              FROM %1$s.account a
             WHERE a.account_id IN (SELECT x.account_id FROM pg_temp.lf_hist_accounts x)
             ORDER BY a.account_id) r
    $q$, s, s || '.account', s || '.contact', s || '.lead', h, s || '.account_event');

    -- a new row is loaded or a duplicate (of a row there, or of the entry before it)
    SELECT count(*) FILTER (WHERE action OPERATOR(pg_catalog.=) 'insert'),
           count(*) FILTER (WHERE action OPERATOR(pg_catalog.=) 'insert' AND flag IS NOT NULL)
      INTO loaded, flagged FROM pg_temp.lf_hist_m;
    loaded := loaded + label_moves;
    duplicates := (SELECT count(*) FROM pg_temp.lf_hist_new) - loaded;
    DROP TABLE pg_temp.lf_hist_old, pg_temp.lf_hist_m, pg_temp.lf_hist_sum, pg_temp.lf_hist_accounts,
               pg_temp.lf_hist_lead;
    DROP TABLE IF EXISTS pg_temp.lf_label_old, pg_temp.lf_label_m, pg_temp.lf_label_sum;
END
$fn$;
COMMENT ON FUNCTION @extschema@.history_merge(name, name, text) IS
'Internal, the merge of import_history and correct_history (as the model''s owner, the leads locked by its caller in lead_id order): merges their current history with the new moves in time order, supersedes the rows replaced, appends the rest (refused moves flagged), brings the leads and the lifecycle of the accounts concerned in line. Returns loaded, duplicates, flagged and superseded rows.';
