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
