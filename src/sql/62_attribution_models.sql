-- User position attribution models (0.3): rows of attribution_model_def with
-- shares for the first, lead-creation, opportunity-creation and closing
-- touches and the other touches, one of them the default; the C function
-- position_attribution_weights applies such shares, and attribution_weights
-- takes a model name as text (a built-in model or a row).  The model's
-- attribution views list them beside the built-in models.  The table is read
-- in SQL only (no C cache).  Reference: doc/attribution.md.

CREATE TABLE @extschema@.attribution_model_def (
    name text PRIMARY KEY,
    first_touch numeric NOT NULL DEFAULT 0,
    lead_creation numeric NOT NULL DEFAULT 0,
    opportunity_creation numeric NOT NULL DEFAULT 0,
    closing numeric NOT NULL DEFAULT 0,
    other_touches numeric NOT NULL DEFAULT 0,
    is_default boolean NOT NULL DEFAULT false,
    description text,
    CONSTRAINT attribution_model_def_share_range CHECK (
        first_touch BETWEEN 0 AND 1 AND lead_creation BETWEEN 0 AND 1 AND opportunity_creation BETWEEN 0 AND 1
        AND closing BETWEEN 0 AND 1 AND other_touches BETWEEN 0 AND 1),
    CONSTRAINT attribution_model_def_share_sum CHECK (
        abs(first_touch + lead_creation + opportunity_creation + closing + other_touches - 1) <= 1e-9),
    CONSTRAINT attribution_model_def_name CHECK (name <> '')
);
-- at most one default (at least one while there are rows: attribution_model_def_check)
CREATE UNIQUE INDEX attribution_model_def_one_default ON @extschema@.attribution_model_def ((true)) WHERE is_default;
COMMENT ON TABLE @extschema@.attribution_model_def IS
'User position attribution models, one row each: the shares of the first touch, the lead-creation touch, the opportunity-creation touch, the closing touch and the other touches (each 0..1, summing to 1), as leadfunnel.position_attribution_weights applies them; exactly one row is the default while there are rows. Names are not those of built-in models. Dumped by pg_dump. See doc/attribution.md.';
COMMENT ON COLUMN @extschema@.attribution_model_def.name IS 'Name of the model, as attribution_weights(text, ...) and the model_name column of the attribution views give it.';
COMMENT ON COLUMN @extschema@.attribution_model_def.first_touch IS 'Share of the first touch (0..1).';
COMMENT ON COLUMN @extschema@.attribution_model_def.lead_creation IS 'Share of the last touch at or before lead creation (0..1).';
COMMENT ON COLUMN @extschema@.attribution_model_def.opportunity_creation IS 'Share of the last touch at or before opportunity creation (0..1).';
COMMENT ON COLUMN @extschema@.attribution_model_def.closing IS 'Share of the last touch at or before closing, for a closed lead (0..1).';
COMMENT ON COLUMN @extschema@.attribution_model_def.other_touches IS 'Share of the touches that hold none of the four roles, split equally (0..1).';
COMMENT ON COLUMN @extschema@.attribution_model_def.is_default IS 'True for the default model (one row at most; one while there are rows).';
COMMENT ON COLUMN @extschema@.attribution_model_def.description IS 'Free text.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.attribution_model_def', '');
GRANT SELECT ON @extschema@.attribution_model_def TO PUBLIC;

CREATE FUNCTION @extschema@.attribution_model_def_check()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_WHEN = 'BEFORE' THEN
        IF NEW.name = ANY (pg_catalog.enum_range(NULL::@extschema@.attribution_model)::text[]) THEN
            RAISE EXCEPTION 'attribution model "%" is a built-in model', NEW.name
                USING ERRCODE = 'check_violation', CONSTRAINT = 'attribution_model_def_name',
                      SCHEMA = '@extschema@', TABLE = 'attribution_model_def',
                      HINT = 'Give a user model a name of its own.';
        END IF;
        RETURN NEW;
    END IF;
    -- AFTER, deferred to the end of the transaction: one default while there are rows
    IF EXISTS (SELECT FROM @extschema@.attribution_model_def)
       AND NOT EXISTS (SELECT FROM @extschema@.attribution_model_def WHERE is_default) THEN
        RAISE EXCEPTION 'no default attribution model'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'attribution_model_def_default',
                  SCHEMA = '@extschema@', TABLE = 'attribution_model_def',
                  DETAIL = 'While leadfunnel.attribution_model_def has rows, one of them must have is_default = true.',
                  HINT = 'Mark one model as the default in the same transaction.';
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION @extschema@.attribution_model_def_check() IS
'Internal trigger function of leadfunnel.attribution_model_def: refuses the names of built-in models (before each row) and, deferred to the end of the transaction, a table with rows but no default (SQLSTATE 23514).';
CREATE TRIGGER attribution_model_def_name BEFORE INSERT OR UPDATE ON @extschema@.attribution_model_def
    FOR EACH ROW EXECUTE FUNCTION @extschema@.attribution_model_def_check();
CREATE CONSTRAINT TRIGGER attribution_model_def_default AFTER INSERT OR UPDATE OR DELETE ON @extschema@.attribution_model_def
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION @extschema@.attribution_model_def_check();

CREATE FUNCTION @extschema@.user_attribution_models()
    RETURNS TABLE (name text, shares float8[], is_default boolean)
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 5
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT d.name, ARRAY[d.first_touch, d.lead_creation, d.opportunity_creation, d.closing, d.other_touches]::float8[], d.is_default
      FROM @extschema@.attribution_model_def d
$fn$;
COMMENT ON FUNCTION @extschema@.user_attribution_models() IS
'The user position models of leadfunnel.attribution_model_def with their five shares as position_attribution_weights takes them ({first, lead creation, opportunity creation, closing, other touches}); what the attribution views read.';

CREATE FUNCTION @extschema@.position_attribution_weights(
        shares float8[],
        touched_at timestamptz[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'lf_position_attribution_weights'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.position_attribution_weights(float8[], timestamptz[], timestamptz, timestamptz, timestamptz) IS
'Weight of each touch of one lead under a position model given by its five shares {first touch, lead-creation touch, opportunity-creation touch, closing touch, other touches} (each 0..1, summing to 1 within 1e-9, else SQLSTATE 22023): one float8 per element of touched_at, same order and subscripts, the rules of attribution_weights (absent roles and a missing middle give their share to the roles present, pro rata). NULL shares or touched_at: NULL.';

CREATE FUNCTION @extschema@.attribution_weights(
        model text,
        touched_at timestamptz[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS float8[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    d @extschema@.attribution_model_def;
BEGIN
    IF model IS NULL OR touched_at IS NULL OR half_life IS NULL THEN
        RETURN NULL;
    END IF;
    IF model = ANY (pg_catalog.enum_range(NULL::@extschema@.attribution_model)::text[]) THEN
        RETURN @extschema@.attribution_weights(model::@extschema@.attribution_model, touched_at, lead_created_at,
                                               opportunity_created_at, closed_at, half_life);
    END IF;
    SELECT * INTO d FROM @extschema@.attribution_model_def WHERE name = model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'attribution model "%" does not exist', model
            USING ERRCODE = 'undefined_object',
                  HINT = 'Use a value of leadfunnel.attribution_model or the name of a row of leadfunnel.attribution_model_def.';
    END IF;
    RETURN @extschema@.position_attribution_weights(
        ARRAY[d.first_touch, d.lead_creation, d.opportunity_creation, d.closing, d.other_touches]::float8[],
        touched_at, lead_created_at, opportunity_created_at, closed_at);
END
$fn$;
COMMENT ON FUNCTION @extschema@.attribution_weights(text, timestamptz[], timestamptz, timestamptz, timestamptz, interval) IS
'attribution_weights by model name: a built-in model (same answer as the attribution_model form; an untyped literal such as ''u_shaped'' resolves to this form) or a user model, a row of leadfunnel.attribution_model_def (its shares through position_attribution_weights; half_life unused). An unknown name: SQLSTATE 42704. STABLE: it reads attribution_model_def.';

CREATE FUNCTION @extschema@.default_attribution_model()
    RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT name FROM @extschema@.attribution_model_def WHERE is_default
$fn$;
COMMENT ON FUNCTION @extschema@.default_attribution_model() IS
'Name of the default user attribution model (the row of leadfunnel.attribution_model_def with is_default), NULL when there is none.';
