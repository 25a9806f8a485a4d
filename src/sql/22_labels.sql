-- Stage labels: a company's own stage names per funnel ("Discovery", "Closed
-- Won", "marketingqualifiedlead"), each mapped to one canonical stage, with a
-- win probability and a forecast category; presets with the defaults that
-- Salesforce and HubSpot ship (doc/crm.md gives the source of every number);
-- model_add_labels() gives a model's lead a stage_label column and a label
-- history.  Labels are cached per backend by src/labels.c, dropped by the same
-- relcache invalidation as the funnel rules.

CREATE TYPE @extschema@.forecast_category AS ENUM ('pipeline', 'best_case', 'commit', 'closed', 'omitted');
COMMENT ON TYPE @extschema@.forecast_category IS
'Forecast category of a stage label, as CRMs roll up forecasts: pipeline (open, not yet likely), best_case, commit (expected to close), closed (won), omitted (lost or excluded from the forecast).';

CREATE TABLE @extschema@.stage_label (
    funnel            text NOT NULL REFERENCES @extschema@.funnel (name) ON UPDATE CASCADE ON DELETE CASCADE,
    label             text NOT NULL,
    stage             @extschema@.lead_stage NOT NULL,
    position          int NOT NULL,
    probability       numeric,
    forecast_category @extschema@.forecast_category NOT NULL,
    PRIMARY KEY (funnel, label),
    CONSTRAINT stage_label_label_valid CHECK (label <> '' AND octet_length(label) < 256),
    CONSTRAINT stage_label_probability_range CHECK (probability >= 0 AND probability <= 1)
);
CREATE INDEX stage_label_funnel_position ON @extschema@.stage_label (funnel, position);
COMMENT ON TABLE @extschema@.stage_label IS
'Stage labels (configuration): a company''s own stage names per funnel, each mapped to one canonical stage; several labels may share a stage. Writing lead.stage_label moves the lead''s stage; writing stage sets the label to the stage''s first label. Rows are dumped by pg_dump (also those written by apply_preset) and validated by a trigger.';
COMMENT ON COLUMN @extschema@.stage_label.funnel IS 'Funnel the label belongs to (a row of leadfunnel.funnel).';
COMMENT ON COLUMN @extschema@.stage_label.label IS 'The company''s name of the stage, e.g. ''Closed Won'' or ''marketingqualifiedlead'' (1 to 255 bytes). A label spelled like a canonical stage must map to that stage.';
COMMENT ON COLUMN @extschema@.stage_label.stage IS 'Canonical stage the label maps to: one of the funnel''s stages or a closing stage (recycled, disqualified, lost).';
COMMENT ON COLUMN @extschema@.stage_label.position IS 'Order of the labels of a funnel (as the CRM lists them); the label with the lowest position of a stage is that stage''s first label.';
COMMENT ON COLUMN @extschema@.stage_label.probability IS 'Win probability of a lead with this label, 0..1 (Salesforce and HubSpot store percentages: 10% is 0.1); NULL when the CRM has none.';
COMMENT ON COLUMN @extschema@.stage_label.forecast_category IS 'Forecast category of a lead with this label; when left NULL on insert it becomes closed for won, omitted for the closing stages, pipeline otherwise.';

CREATE FUNCTION @extschema@.stage_label_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_stage_label_check' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.stage_label_check() IS
'Trigger on leadfunnel.stage_label: the funnel must exist (SQLSTATE 23503), the stage must belong to it and a label spelled like a canonical stage must map to it (23514, constraint stage_label_definition); a missing forecast category is derived from the stage.';

CREATE TRIGGER stage_label_check BEFORE INSERT OR UPDATE ON @extschema@.stage_label
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stage_label_check();
CREATE TRIGGER stage_label_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_label
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.funnel_config_changed();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_label', '');
GRANT SELECT ON @extschema@.stage_label TO PUBLIC;

CREATE FUNCTION @extschema@.resolve_stage(funnel text, name text,
                                          OUT stage @extschema@.lead_stage, OUT label text)
    AS 'MODULE_PATHNAME', 'lf_resolve_stage_sql' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.resolve_stage(text, text) IS
'A stage name as a CRM or an import writes it -- a stage label of the funnel or a canonical stage name -- as (stage, label): a label gives its stage and itself; a canonical name gives that stage and its first label (NULL when the stage has none). A label takes precedence over a canonical name. Both NULL for a name the funnel does not know. Unknown funnel: SQLSTATE 42704.';

-- Presets: the default stage lists of CRMs, read by apply_preset().  Extension
-- data, recreated by CREATE EXTENSION, so not dumped.
CREATE TABLE @extschema@.preset (
    name          text PRIMARY KEY,
    stages        @extschema@.lead_stage[] NOT NULL,
    entry_stages  @extschema@.lead_stage[] NOT NULL,
    allow_skip    boolean NOT NULL,
    backward      @extschema@.lead_stage[][] NOT NULL DEFAULT '{}',
    description   text NOT NULL,
    source        text NOT NULL
);
COMMENT ON TABLE @extschema@.preset IS
'Presets of stage labels (the defaults that CRMs ship) and the funnel that apply_preset() creates for them when the funnel is missing. Part of the extension, not dumped; doc/crm.md explains every mapping.';
COMMENT ON COLUMN @extschema@.preset.name IS 'Preset name: salesforce_opportunity, salesforce_lead, hubspot_lifecycle, hubspot_deal.';
COMMENT ON COLUMN @extschema@.preset.stages IS 'Stages of the funnel apply_preset() creates when it is missing (leadfunnel.funnel.stages).';
COMMENT ON COLUMN @extschema@.preset.entry_stages IS 'Entry stages of that funnel: a CRM creates records in any of these.';
COMMENT ON COLUMN @extschema@.preset.allow_skip IS 'Whether that funnel allows skipping forward (CRMs let a record jump stages).';
COMMENT ON COLUMN @extschema@.preset.backward IS 'Backward moves the funnel allows, as {from,to} pairs (rows of leadfunnel.funnel_transition).';
COMMENT ON COLUMN @extschema@.preset.description IS 'Description of the funnel apply_preset() creates.';
COMMENT ON COLUMN @extschema@.preset.source IS 'Where the labels, probabilities and forecast categories come from.';

CREATE TABLE @extschema@.preset_label (
    preset            text NOT NULL REFERENCES @extschema@.preset (name),
    label             text NOT NULL,
    stage             @extschema@.lead_stage NOT NULL,
    position          int NOT NULL,
    probability       numeric,
    forecast_category @extschema@.forecast_category NOT NULL,
    PRIMARY KEY (preset, label)
);
COMMENT ON TABLE @extschema@.preset_label IS
'The stage labels of each preset, as apply_preset() writes them into leadfunnel.stage_label. Part of the extension, not dumped.';
COMMENT ON COLUMN @extschema@.preset_label.preset IS 'Preset the label belongs to.';
COMMENT ON COLUMN @extschema@.preset_label.label IS 'The label exactly as the CRM stores it (the API value a loader syncs).';
COMMENT ON COLUMN @extschema@.preset_label.stage IS 'Canonical stage the label maps to (doc/crm.md gives the reason of each).';
COMMENT ON COLUMN @extschema@.preset_label.position IS 'Position of the label in the CRM''s default order.';
COMMENT ON COLUMN @extschema@.preset_label.probability IS 'The CRM''s default win probability of the stage, 0..1; NULL where the CRM has none.';
COMMENT ON COLUMN @extschema@.preset_label.forecast_category IS 'The CRM''s default forecast category of the stage (or, where it has none, the one derived from the stage).';

INSERT INTO @extschema@.preset VALUES
    ('salesforce_opportunity', '{sal,sql,opportunity,won}', '{sal,sql,opportunity}', true,
     '{{opportunity,sql},{opportunity,sal},{sql,sal}}',
     'Salesforce opportunities (default Stage picklist): accepted and qualified by field sales, then the opportunity stages.',
     'Salesforce OpportunityStage defaults (MasterLabel, DefaultProbability, ForecastCategoryName) of a new org'),
    ('salesforce_lead', '{lead,tal,opportunity,won}', '{lead,tal}', true, '{}',
     'Salesforce leads (default Lead Status picklist): open, worked by sales, converted into an opportunity or closed.',
     'Salesforce Lead Status defaults of a new org'),
    ('hubspot_lifecycle', '{visitor,lead,mql,sql,opportunity,won}', '{visitor,lead,mql,sql,opportunity}', true, '{}',
     'HubSpot lifecycle stages of contacts and companies (property lifecyclestage, internal values).',
     'HubSpot default lifecycle stages (internal values of lifecyclestage)'),
    ('hubspot_deal', '{sal,sql,opportunity,won}', '{sal,sql,opportunity}', true,
     '{{opportunity,sql},{opportunity,sal},{sql,sal}}',
     'HubSpot deals in the default Sales Pipeline (property dealstage, internal values).',
     'HubSpot default deal pipeline (dealstage internal values and stage probabilities)');

INSERT INTO @extschema@.preset_label VALUES
    ('salesforce_opportunity', 'Prospecting',          'sal',         1, 0.10, 'pipeline'),
    ('salesforce_opportunity', 'Qualification',        'sql',         2, 0.10, 'pipeline'),
    ('salesforce_opportunity', 'Needs Analysis',       'opportunity', 3, 0.20, 'pipeline'),
    ('salesforce_opportunity', 'Value Proposition',    'opportunity', 4, 0.50, 'pipeline'),
    ('salesforce_opportunity', 'Id. Decision Makers',  'opportunity', 5, 0.60, 'pipeline'),
    ('salesforce_opportunity', 'Perception Analysis',  'opportunity', 6, 0.70, 'pipeline'),
    ('salesforce_opportunity', 'Proposal/Price Quote', 'opportunity', 7, 0.75, 'pipeline'),
    ('salesforce_opportunity', 'Negotiation/Review',   'opportunity', 8, 0.90, 'pipeline'),
    ('salesforce_opportunity', 'Closed Won',           'won',         9, 1.00, 'closed'),
    ('salesforce_opportunity', 'Closed Lost',          'lost',       10, 0.00, 'omitted'),
    ('salesforce_lead', 'Open - Not Contacted',   'lead',         1, NULL, 'pipeline'),
    ('salesforce_lead', 'Working - Contacted',    'tal',          2, NULL, 'pipeline'),
    ('salesforce_lead', 'Closed - Converted',     'opportunity',  3, NULL, 'pipeline'),
    ('salesforce_lead', 'Closed - Not Converted', 'disqualified', 4, NULL, 'omitted'),
    ('hubspot_lifecycle', 'subscriber',             'visitor',      1, NULL, 'pipeline'),
    ('hubspot_lifecycle', 'lead',                   'lead',         2, NULL, 'pipeline'),
    ('hubspot_lifecycle', 'marketingqualifiedlead', 'mql',          3, NULL, 'pipeline'),
    ('hubspot_lifecycle', 'salesqualifiedlead',     'sql',          4, NULL, 'pipeline'),
    ('hubspot_lifecycle', 'opportunity',            'opportunity',  5, NULL, 'pipeline'),
    ('hubspot_lifecycle', 'customer',               'won',          6, NULL, 'closed'),
    ('hubspot_lifecycle', 'evangelist',             'won',          7, NULL, 'closed'),
    ('hubspot_lifecycle', 'other',                  'disqualified', 8, NULL, 'omitted'),
    ('hubspot_deal', 'appointmentscheduled',  'sal',         1, 0.20, 'pipeline'),
    ('hubspot_deal', 'qualifiedtobuy',        'sql',         2, 0.40, 'pipeline'),
    ('hubspot_deal', 'presentationscheduled', 'opportunity', 3, 0.60, 'pipeline'),
    ('hubspot_deal', 'decisionmakerboughtin', 'opportunity', 4, 0.80, 'pipeline'),
    ('hubspot_deal', 'contractsent',          'opportunity', 5, 0.90, 'pipeline'),
    ('hubspot_deal', 'closedwon',             'won',         6, 1.00, 'closed'),
    ('hubspot_deal', 'closedlost',            'lost',        7, 0.00, 'omitted');

GRANT SELECT ON @extschema@.preset, @extschema@.preset_label TO PUBLIC;

CREATE FUNCTION @extschema@.apply_preset(funnel text, preset text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p @extschema@.preset;
    n integer;
BEGIN
    IF funnel IS NULL OR preset IS NULL THEN
        RAISE EXCEPTION 'funnel and preset must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO p FROM @extschema@.preset pr WHERE pr.name OPERATOR(pg_catalog.=) apply_preset.preset;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'preset "%" does not exist', apply_preset.preset
            USING ERRCODE = 'undefined_object',
                  HINT = format('Known presets: %s.',
                                (SELECT string_agg(name, ', ' ORDER BY name) FROM @extschema@.preset));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.funnel f WHERE f.name OPERATOR(pg_catalog.=) apply_preset.funnel) THEN
        INSERT INTO @extschema@.funnel (name, stages, entry_stages, allow_skip, description)
        VALUES (apply_preset.funnel, p.stages, p.entry_stages, p.allow_skip, p.description);
        INSERT INTO @extschema@.funnel_transition (funnel, from_stage, to_stage, description)
        SELECT apply_preset.funnel, p.backward[i][1], p.backward[i][2],
               format('Preset %s: the CRM lets a record move back.', p.name)
          FROM generate_subscripts(p.backward, 1) AS i;
    END IF;
    INSERT INTO @extschema@.stage_label (funnel, label, stage, position, probability, forecast_category)
    SELECT apply_preset.funnel, l.label, l.stage, l.position, l.probability, l.forecast_category
      FROM @extschema@.preset_label l
     WHERE l.preset OPERATOR(pg_catalog.=) p.name
    ON CONFLICT ON CONSTRAINT stage_label_pkey DO UPDATE
       SET stage = excluded.stage, position = excluded.position,
           probability = excluded.probability, forecast_category = excluded.forecast_category;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION @extschema@.apply_preset(text, text) IS
'Writes the stage labels of a preset (salesforce_opportunity, salesforce_lead, hubspot_lifecycle, hubspot_deal) into leadfunnel.stage_label for a funnel, creating the funnel with the preset''s stages and rules when it is missing; labels of the funnel with the same names are overwritten, others kept. Returns the number of labels written. Unknown preset: SQLSTATE 42704; a preset whose stages an existing funnel lacks: 23514.';

CREATE FUNCTION @extschema@.model_add_labels(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    on_citus boolean;
    citus_saved text[];
    ddl text;
    lifecycle_def text;
BEGIN
    -- a model that has the label objects already keeps them
    IF to_regclass(format('%s.lead_label_history', s)) IS NOT NULL THEN
        RETURN;
    END IF;
    on_citus := @extschema@.citus_distributed(format('%s.lead', s)::regclass);
    IF on_citus THEN
        citus_saved := @extschema@.citus_ddl_begin();
    END IF;

    -- One statement per EXECUTE (Citus propagates DDL as its query string).
    EXECUTE format('ALTER TABLE %s.lead ADD COLUMN stage_label text', s);
    EXECUTE format($d$COMMENT ON COLUMN %s.lead.stage_label IS 'The lead''s stage label (leadfunnel.stage_label of its funnel): writing it moves stage to the label''s stage by the funnel''s rules; writing stage alone sets it to that stage''s first label, or NULL when the stage has none.'$d$, s);
    EXECUTE format($ddl$
        CREATE TABLE %1$s.lead_label_history (
            lead_id    bigint NOT NULL,
            account_id bigint NOT NULL,
            seq        int NOT NULL,
            stage      @extschema@.lead_stage NOT NULL,
            label      text,
            entered_at timestamptz NOT NULL,
            left_at    timestamptz,
            changed_by name NOT NULL DEFAULT current_user,
            recorded_at timestamptz NOT NULL,
            superseded_at timestamptz,
            superseded_by name,
            superseded_reason text
        ) WITH (fillfactor = 90)$ddl$, s);
    -- bitemporal as the stage history: the current truth is the rows with
    -- superseded_at IS NULL, keyed by a partial unique index; the updates
    -- that close and supersede rows replicate with the whole old row
    EXECUTE format('CREATE UNIQUE INDEX lead_label_history_current ON %1$s.lead_label_history (account_id, lead_id, seq) WHERE superseded_at IS NULL', s);
    EXECUTE format('ALTER TABLE %1$s.lead_label_history REPLICA IDENTITY FULL', s);
    FOREACH ddl IN ARRAY ARRAY[
        $d$COMMENT ON TABLE %1$s.lead_label_history IS 'Append-only, bitemporal history of stage labels: one row per (stage, label) a lead entered -- also for a move between labels of one stage, which adds no row to lead_stage_history -- written by the transition trigger, import_history() and correct_history(). Rows replaced by an import or a correction are superseded (superseded_at set), never deleted; the current truth is the rows with superseded_at IS NULL. Leads that never had a label have no rows.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.lead_id IS 'Lead that moved.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.seq IS 'Position in the lead''s label history, 1, 2, 3, ... without gaps.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.stage IS 'Canonical stage of the lead while it had the label.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.label IS 'The label entered; NULL when the lead moved to a stage without labels.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.entered_at IS 'When the label was entered: the stage_entered_at of a stage move, now() for a move between labels of one stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.left_at IS 'When the label was left; NULL while current.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.changed_by IS 'Role (current_user) that made the move.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.recorded_at IS 'When the row was recorded (the start of the transaction that wrote it); for the first rows of leads that were in the model before it had labels, their stage_entered_at.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.superseded_at IS 'When an import or a correction replaced the row; NULL while the row is part of the current truth. Readers filter superseded_at IS NULL.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.superseded_by IS 'Role that superseded the row; NULL while current.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_label_history.superseded_reason IS 'Why the row was superseded (the correction''s reason, or the import); NULL while current.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
    PERFORM @extschema@.model_distribute_table(target_schema, 'lead_label_history');
    EXECUTE format('ALTER TABLE %1$s.lead_label_history ADD CONSTRAINT lead_label_history_account_id_lead_id_fkey
                        FOREIGN KEY (account_id, lead_id) REFERENCES %1$s.lead (account_id, lead_id)', s);

    -- Leads already in the model get their stage's first label (the row
    -- trigger checks it; no history trigger fires on stage_label yet) and a
    -- label history from their current stage on.
    EXECUTE format($q$
        UPDATE %1$s.lead l SET stage_label = fl.label
          FROM (SELECT DISTINCT ON (sl.funnel, sl.stage) sl.funnel, sl.stage, sl.label
                  FROM @extschema@.stage_label sl
                 ORDER BY sl.funnel, sl.stage, sl.position, sl.label COLLATE "C") fl
         WHERE fl.funnel = l.funnel AND fl.stage = l.stage$q$, s);
    EXECUTE format($q$
        INSERT INTO %1$s.lead_label_history (lead_id, account_id, seq, stage, label, entered_at, recorded_at)
        SELECT lead_id, account_id, 1, stage, stage_label, stage_entered_at, stage_entered_at
          FROM %1$s.lead WHERE stage_label IS NOT NULL$q$, s);

    -- The history trigger records label moves too, and so fires on UPDATE OF
    -- stage_label (an UPDATE that names only stage_label moves the stage in
    -- the BEFORE trigger, which UPDATE OF stage would not see) and funnel (a
    -- funnel change may change the label); so does the lifecycle trigger that
    -- reacts to moves into and out of won, on stage_label.
    EXECUTE format('DROP TRIGGER lead_stage_record ON %s.lead', s);
    FOREACH ddl IN ARRAY ARRAY[
        'CREATE TRIGGER lead_stage_record AFTER INSERT OR UPDATE OF stage, stage_label, funnel ON %1$s.lead
            FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_stage_record(%2$L, %3$L)',
        'CREATE TRIGGER lead_label_history_append_only BEFORE INSERT OR UPDATE OR DELETE ON %1$s.lead_label_history
            FOR EACH ROW EXECUTE FUNCTION @extschema@.history_append_only()',
        'CREATE TRIGGER lead_label_history_no_truncate BEFORE TRUNCATE ON %1$s.lead_label_history
            FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only()'
    ] LOOP
        EXECUTE format(ddl, s, s || '.lead_stage_history', s || '.lead_label_history');
    END LOOP;
    SELECT pg_get_triggerdef(t.oid) INTO lifecycle_def
      FROM pg_trigger t
     WHERE t.tgrelid OPERATOR(pg_catalog.=) format('%s.lead', s)::regclass
       AND t.tgname OPERATOR(pg_catalog.=) 'lead_to_lifecycle_update';
    IF lifecycle_def IS NOT NULL AND position('stage_label' IN lifecycle_def) = 0 THEN
        EXECUTE format('DROP TRIGGER lead_to_lifecycle_update ON %s.lead', s);
        EXECUTE replace(lifecycle_def, 'UPDATE OF stage, contact_id ON', 'UPDATE OF stage, stage_label, contact_id ON');
    END IF;

    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_labels(name) IS
'Adds stage labels to a model: the column lead.stage_label, the table lead_label_history and the history trigger that records label moves (also on UPDATE OF stage_label and funnel). Leads already in the model get their stage''s first label, and a label history row from their current stage on. Idempotent; called by create_model() and upgrade_model().';
