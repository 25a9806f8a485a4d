-- Install the extension; the types and built-in funnels of the contract.
CREATE EXTENSION leadfunnel;

SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE t.typnamespace = 'leadfunnel'::regnamespace
 GROUP BY t.typname ORDER BY t.typname;

SELECT name, stages, entry_stages, reopen_stages, allow_skip, builtin
  FROM leadfunnel.funnel ORDER BY name;

-- Every function and type of the extension carries a comment.
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'leadfunnel'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT t.typname FROM pg_type t
 WHERE t.typnamespace = 'leadfunnel'::regnamespace AND t.typtype = 'e'
   AND obj_description(t.oid, 'pg_type') IS NULL;

-- Every non-C function pins its search_path.
SELECT p.proname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'leadfunnel'::regnamespace AND l.lanname NOT IN ('c', 'internal')
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- A helper for the following tests: run a statement and show how it failed,
-- SQLSTATE and constraint name included, without wall-clock context.
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text; hint text; cons text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT, cons = CONSTRAINT_NAME;
    RETURN format('%s %s: %s', state, coalesce(nullif(cons, ''), '-'), msg)
        || coalesce(E'\n  DETAIL: ' || nullif(detail, ''), '')
        || coalesce(E'\n  HINT: ' || nullif(hint, ''), '');
END $$;

-- Another helper: load one value into the one-column table tbl through
-- COPY ... FROM file (FORMAT binary), so that the column type's receive
-- function reads payload; returns 'ok: <the value as text>' (the table is
-- emptied again) or 'SQLSTATE: message (detail)'.
CREATE FUNCTION public.copy_in_binary(tbl text, payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f text := current_setting('data_directory') || '/lf_copy_in.bin';
    lo oid;
    val text; state text; msg text; detail text;
BEGIN
    lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea || '\x0001'::bytea
                           || int4send(length(payload)) || payload || '\xffff'::bytea);
    PERFORM lo_export(lo, f);
    PERFORM lo_unlink(lo);
    BEGIN
        EXECUTE format('COPY %I FROM %L (FORMAT binary)', tbl, f);
        EXECUTE format('SELECT string_agg(x::text, '','') FROM %I x', tbl) INTO val;
        EXECUTE format('TRUNCATE %I', tbl);
        RETURN 'ok: ' || val;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
        RETURN state || ': ' || msg || coalesce(' (' || nullif(detail, '') || ')', '');
    END;
END $$;
