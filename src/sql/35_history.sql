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
            $d$COMMENT ON COLUMN %1$s.flag IS 'Why the funnel rules would have refused this move, for moves recorded without being validated (import_history, correct_history); NULL for a validated move.'$d$
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
