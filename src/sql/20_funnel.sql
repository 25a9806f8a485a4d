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
