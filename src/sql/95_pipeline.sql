-- Pipeline and waterfall (0.3): the canonical stage probabilities and forecast
-- categories, the Wilson score interval, the amount and close-date history of
-- a model's leads, and the model's views waterfall, pipeline and
-- conversion_by_cohort and functions pipeline_at, pipeline_movement and
-- time_to_convert (model_add_pipeline).  Guide: doc/pipeline.md.

-- ---------------------------------------------------------------------------
-- Probability and forecast category of each canonical stage.  Defaults ship
-- with the extension (stage_forecast_default, not dumped); a user's changes
-- are rows of stage_forecast (dumped), as for the settings.

CREATE TABLE @extschema@.stage_forecast_default (
    stage             @extschema@.lead_stage PRIMARY KEY,
    probability       numeric NOT NULL CONSTRAINT stage_forecast_default_probability CHECK (probability BETWEEN 0 AND 1),
    forecast_category @extschema@.forecast_category NOT NULL
);
COMMENT ON TABLE @extschema@.stage_forecast_default IS
'Default win probability and forecast category of each canonical stage (part of the extension, not dumped). The pipeline views use them for leads without a stage label; change a value with a row in leadfunnel.stage_forecast.';
COMMENT ON COLUMN @extschema@.stage_forecast_default.stage IS 'Canonical stage.';
COMMENT ON COLUMN @extschema@.stage_forecast_default.probability IS 'Default probability that a lead in this stage is won, 0..1.';
COMMENT ON COLUMN @extschema@.stage_forecast_default.forecast_category IS 'Default forecast category: pipeline, best_case, commit, closed or omitted.';

INSERT INTO @extschema@.stage_forecast_default (stage, probability, forecast_category) VALUES
    ('visitor', 0.01, 'pipeline'), ('lead', 0.02, 'pipeline'), ('mql', 0.05, 'pipeline'),
    ('tal', 0.08, 'pipeline'), ('tql', 0.10, 'pipeline'), ('sal', 0.15, 'pipeline'),
    ('sql', 0.25, 'pipeline'), ('opportunity', 0.40, 'best_case'), ('won', 1, 'closed'),
    ('recycled', 0, 'omitted'), ('disqualified', 0, 'omitted'), ('lost', 0, 'omitted');

CREATE TABLE @extschema@.stage_forecast (
    stage             @extschema@.lead_stage PRIMARY KEY,
    probability       numeric NOT NULL CONSTRAINT stage_forecast_probability CHECK (probability BETWEEN 0 AND 1),
    forecast_category @extschema@.forecast_category NOT NULL
);
COMMENT ON TABLE @extschema@.stage_forecast IS
'Your win probability and forecast category of a canonical stage, in place of its default in stage_forecast_default (configuration, dumped by pg_dump). Delete a row to go back to the default.';
COMMENT ON COLUMN @extschema@.stage_forecast.stage IS 'Canonical stage.';
COMMENT ON COLUMN @extschema@.stage_forecast.probability IS 'Probability that a lead in this stage is won, 0..1 (weighted_amount = amount x probability).';
COMMENT ON COLUMN @extschema@.stage_forecast.forecast_category IS 'Forecast category: pipeline, best_case, commit, closed or omitted.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_forecast', '');
GRANT SELECT ON @extschema@.stage_forecast, @extschema@.stage_forecast_default TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Wilson score interval of a proportion

CREATE FUNCTION @extschema@.wilson_bound(successes bigint, trials bigint, upper boolean,
                                         z float8 DEFAULT 1.959963984540054)
    RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    x float8 := successes;
    n float8 := trials;
    center float8;
    half float8;
BEGIN
    IF successes IS NULL OR trials IS NULL OR upper IS NULL OR z IS NULL OR trials = 0 THEN
        RETURN NULL;
    END IF;
    IF successes < 0 OR trials < 0 OR successes > trials OR NOT z > 0 OR z = 'Infinity'::float8 THEN
        RAISE EXCEPTION 'Wilson interval needs 0 <= successes <= trials and z > 0'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('successes = %s, trials = %s, z = %s were given.', successes, trials, z);
    END IF;
    center := (x + z * z / 2) / (n + z * z);
    half := z / (n + z * z) * sqrt(x * (n - x) / n + z * z / 4);
    -- exact at the ends (the formula gives 0 for x = 0 and 1 for x = n)
    IF upper THEN
        RETURN CASE WHEN successes = trials THEN 1 ELSE least(1, center + half)::numeric END;
    END IF;
    RETURN CASE WHEN successes = 0 THEN 0 ELSE greatest(0, center - half)::numeric END;
END
$fn$;
COMMENT ON FUNCTION @extschema@.wilson_bound(bigint, bigint, boolean, float8) IS
'Lower (upper => false) or upper bound of the Wilson score interval of the proportion successes / trials: (x + z^2/2)/(n + z^2) -/+ z/(n + z^2) * sqrt(x(n - x)/n + z^2/4); z = 1.96 (95 %) by default. NULL when trials is 0 or an argument is NULL; successes outside 0..trials or z not positive and finite: SQLSTATE 22023.';

-- ---------------------------------------------------------------------------
-- Amount and expected close date history of a model's leads

CREATE FUNCTION @extschema@.lead_value_record() RETURNS trigger
    AS 'MODULE_PATHNAME', 'lf_lead_value_record' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lead_value_record() IS
'AFTER UPDATE OF amount, expected_close_date row trigger on a model''s lead table (argument: its lead_value_history table): appends the old and new amount and expected close date. Dated by the move''s effective time when the same UPDATE moves the stage, else by now(); never before the lead''s previous change.';

CREATE FUNCTION @extschema@.lead_value_history_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- the recording trigger inserts from within the lead's trigger (depth 2)
    IF TG_OP = 'INSERT' AND TG_LEVEL = 'ROW' AND pg_catalog.pg_trigger_depth() > 1 THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'value history "%" is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Its rows are written only by the lead_value_record trigger of the lead table.',
              HINT = 'Change a lead''s amount or expected_close_date with UPDATE on its lead table.';
END
$fn$;
COMMENT ON FUNCTION @extschema@.lead_value_history_guard() IS
'Trigger on a model''s lead_value_history: refuses UPDATE, DELETE, TRUNCATE and INSERTs other than those of the lead_value_record trigger (SQLSTATE 42501).';

-- ---------------------------------------------------------------------------
-- A lead's stage entries in one pass (stage_entries.c): what the waterfall
-- and conversion_by_cohort views group per funnel, month and stage.

CREATE TYPE @extschema@.stage_entry AS (
    stage      @extschema@.lead_stage,
    entered_at timestamptz,
    next_at    timestamptz,
    reached    bigint
);
COMMENT ON TYPE @extschema@.stage_entry IS
'One element of lead_stage_entries(): an open-or-won stage a lead entered, when it first entered it, when it next entered a later stage, and which later stages it reached how soon.';
COMMENT ON COLUMN @extschema@.stage_entry.stage IS 'Open-or-won stage (visitor .. won) the lead''s history entered.';
COMMENT ON COLUMN @extschema@.stage_entry.entered_at IS 'Time of the first history row (lowest seq) with that stage.';
COMMENT ON COLUMN @extschema@.stage_entry.next_at IS 'Earliest time of a later history row (higher seq) whose stage is a later open-or-won stage; NULL when there is none and for won.';
COMMENT ON COLUMN @extschema@.stage_entry.reached IS 'Bits: for each later open-or-won stage X (k = its position in lead_stage, visitor = 0 .. won = 8), with r the earliest time of a later history row whose stage is X or a later open-or-won stage: bit 4k when r <= entered_at + interval ''30 days'', 4k + 1 for 60 days, 4k + 2 for 90 days, 4k + 3 when r exists (session TimeZone, as timestamptz + interval computes it).';

CREATE FUNCTION @extschema@.lead_stage_entries_trans(internal, int, @extschema@.lead_stage, timestamptz)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'lf_stage_entries_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.lead_stage_entries_trans(internal, int, @extschema@.lead_stage, timestamptz) IS
'Transition function of lead_stage_entries: keeps the open-or-won rows of the group.';

CREATE FUNCTION @extschema@.lead_stage_entries_final(internal)
    RETURNS @extschema@.stage_entry[]
    AS 'MODULE_PATHNAME', 'lf_stage_entries_final'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.lead_stage_entries_final(internal) IS
'Final function of lead_stage_entries: the stage entries of the group in one pass over its rows in seq order (STABLE: the day windows follow the session TimeZone).';

CREATE AGGREGATE @extschema@.lead_stage_entries(seq int, stage @extschema@.lead_stage, entered_at timestamptz) (
    SFUNC = @extschema@.lead_stage_entries_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.lead_stage_entries_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.lead_stage_entries(int, @extschema@.lead_stage, timestamptz) IS
'Over one lead''s current stage history rows (seq, to_stage, entered_at; group by lead): one stage_entry per open-or-won stage the lead entered, in stage order: its first entry, the next entry into a later open-or-won stage, and the later stages reached within 30, 60, 90 days and ever. Rows of closed-not-won stages count for nothing. No combine function (a lead''s rows are aggregated in one process); at most 1048576 open-or-won rows per group (SQLSTATE 54000). The waterfall and conversion_by_cohort views group it; see doc/pipeline.md.';

-- ---------------------------------------------------------------------------
-- The model's objects

CREATE FUNCTION @extschema@.model_add_pipeline(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    on_citus boolean;
    citus_saved text[];
    ddl text;
    stage_bit text;
    reach_cols text;
    entries text;
    lead_entries text;
    cohort_cols text;
    cohort_rows text;
BEGIN
    -- the views and functions read the history's current truth (superseded_at IS NULL)
    -- and the leads' stage labels
    PERFORM @extschema@.model_add_history(target_schema);
    PERFORM @extschema@.model_add_labels(target_schema);
    on_citus := @extschema@.citus_distributed(format('%s.lead', s)::regclass);
    IF on_citus THEN
        citus_saved := @extschema@.citus_ddl_begin();
    END IF;

    -- The column and the history table (once; a model that has them keeps them).
    -- Nothing to backfill: amounts before the upgrade are unknown, so the
    -- history starts with the first change after it, and a lead's amount
    -- before its first recorded change is its amount now.
    IF to_regclass(format('%s.lead_value_history', s)) IS NULL THEN
        FOREACH ddl IN ARRAY ARRAY[
            $d$ALTER TABLE %1$s.lead ADD COLUMN IF NOT EXISTS expected_close_date date$d$,
            $d$COMMENT ON COLUMN %1$s.lead.expected_close_date IS 'When the deal is expected to close; changes are recorded in lead_value_history.'$d$,
            $d$CREATE TABLE %1$s.lead_value_history (
                account_id              bigint NOT NULL,
                lead_id                 bigint NOT NULL,
                changed_at              timestamptz NOT NULL,
                recorded_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
                changed_by              name NOT NULL DEFAULT current_user,
                old_amount              numeric,
                new_amount              numeric,
                old_expected_close_date date,
                new_expected_close_date date
            )$d$,
            $d$COMMENT ON TABLE %1$s.lead_value_history IS 'Append-only history of changes of lead.amount and lead.expected_close_date: one row per UPDATE that changed either, written by the lead_value_record trigger.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.account_id IS 'Account of the lead.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.lead_id IS 'Lead whose values changed.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.changed_at IS 'When the change took effect: the time of the stage move made by the same UPDATE, else the transaction''s time; never before the lead''s previous change.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.recorded_at IS 'When the row was written (orders changes with the same changed_at).'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.changed_by IS 'Role (current_user) that made the change.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.old_amount IS 'amount before the change.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.new_amount IS 'amount after the change.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.old_expected_close_date IS 'expected_close_date before the change.'$d$,
            $d$COMMENT ON COLUMN %1$s.lead_value_history.new_expected_close_date IS 'expected_close_date after the change.'$d$
        ] LOOP
            EXECUTE format(ddl, s);
        END LOOP;
        PERFORM @extschema@.model_distribute_table(target_schema, 'lead_value_history');
        FOREACH ddl IN ARRAY ARRAY[
            $d$ALTER TABLE %1$s.lead_value_history ADD CONSTRAINT lead_value_history_account_id_lead_id_fkey
                FOREIGN KEY (account_id, lead_id) REFERENCES %1$s.lead (account_id, lead_id)$d$,
            -- a lead's changes in time order; the changes after a moment
            $d$CREATE INDEX lead_value_history_lead ON %1$s.lead_value_history (account_id, lead_id, changed_at, recorded_at)$d$,
            $d$CREATE INDEX lead_value_history_changed_at ON %1$s.lead_value_history (changed_at)$d$,
            -- only UPDATEs that name amount or expected_close_date fire it (a
            -- stage move does not), and only when a value changed
            $d$CREATE TRIGGER lead_value_record AFTER UPDATE OF amount, expected_close_date ON %1$s.lead
                FOR EACH ROW
                WHEN (OLD.amount IS DISTINCT FROM NEW.amount
                      OR OLD.expected_close_date IS DISTINCT FROM NEW.expected_close_date)
                EXECUTE FUNCTION @extschema@.lead_value_record(%2$L)$d$,
            $d$CREATE TRIGGER lead_value_history_append_only BEFORE INSERT OR UPDATE OR DELETE ON %1$s.lead_value_history
                FOR EACH ROW EXECUTE FUNCTION @extschema@.lead_value_history_guard()$d$,
            $d$CREATE TRIGGER lead_value_history_no_truncate BEFORE TRUNCATE ON %1$s.lead_value_history
                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lead_value_history_guard()$d$
        ] LOOP
            EXECUTE format(ddl, s, s || '.lead_value_history');
        END LOOP;
    END IF;

    -- The stage a lead was in at a moment, for pipeline_at: the last of its
    -- current rows entered by then, found by one descent of this index
    -- without reading the heap (to_stage is included).  Not left_at: closing
    -- a row sets it, and that update stays HOT because no index names it.
    IF to_regclass(format('%s.lead_stage_history_lead_entered', s)) IS NULL THEN
        EXECUTE format('CREATE INDEX lead_stage_history_lead_entered ON %1$s.lead_stage_history (account_id, lead_id, entered_at, seq) INCLUDE (to_stage) WHERE superseded_at IS NULL', s);
    END IF;

    -- Stage entries with a column per later stage (time_to_convert reads
    -- them; the views below use lead_stage_entries): one row per lead and
    -- open-or-won stage it entered, at its
    -- first entry into that stage, with reach_<X>: when the lead next entered
    -- a stage at or beyond X (up to won) after that entry.  One sort of the
    -- history per lead (newest first): the reach columns are running minimums,
    -- "entered before" a bit set over the older rows.  Partitioned by the
    -- lead's funnel too, so that a filter on funnel reaches the scans.
    SELECT string_agg(format('WHEN %L THEN %s', st, 1 << (o - 1)::int), ' ' ORDER BY o),
           string_agg(format('min(h.entered_at) FILTER (WHERE h.to_stage BETWEEN %L AND ''won'') OVER newer AS reach_%s', st, st), ', '
                      ORDER BY o) FILTER (WHERE o > 1)
      INTO stage_bit, reach_cols
      FROM unnest(enum_range(NULL::@extschema@.lead_stage, 'won')) WITH ORDINALITY AS u(st, o);
    entries := format($e$
        (SELECT x.funnel, x.account_id, x.lead_id, x.stage, x.entered_at, x.lead_stage, x.amount, %3$s
           FROM (SELECT l.funnel, h.account_id, h.lead_id, h.to_stage AS stage, h.entered_at,
                        l.stage AS lead_stage, l.amount,
                        CASE h.to_stage %2$s ELSE 0 END AS stage_bit,
                        bit_or(CASE h.to_stage %2$s ELSE 0 END) OVER older AS entered_before,
                        %4$s
                   FROM %1$s.lead_stage_history h
                   JOIN %1$s.lead l ON l.account_id = h.account_id AND l.lead_id = h.lead_id
                  WHERE h.superseded_at IS NULL
                 WINDOW newer AS (PARTITION BY l.funnel, h.account_id, h.lead_id ORDER BY h.seq DESC
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                        older AS (PARTITION BY l.funnel, h.account_id, h.lead_id ORDER BY h.seq DESC
                                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)) x
          WHERE x.stage_bit <> 0 AND coalesce(x.entered_before & x.stage_bit, 0) = 0)$e$,
        s, stage_bit,
        (SELECT string_agg('x.reach_' || st, ', ' ORDER BY o)
           FROM unnest(enum_range('lead'::@extschema@.lead_stage, 'won')) WITH ORDINALITY AS u(st, o)),
        reach_cols);

    -- The same stage entries for waterfall and conversion_by_cohort, from the
    -- C aggregate lead_stage_entries (stage_entries.c): one pass over each
    -- lead's rows in the history key's order, grouped by lead (the lead's
    -- columns are functionally dependent on its key and drop out of the
    -- grouping), so a filter on funnel still reaches the scans.  reach_X
    -- above as the bits of stage_entry.reached (within 30, 60, 90 days and
    -- ever), next_at as reach of the canonical next stage.
    lead_entries := format($e$
        (SELECT x.funnel, x.lead_stage, x.amount, u.stage, u.entered_at, u.next_at, u.reached
           FROM (SELECT l.funnel, l.stage AS lead_stage, l.amount,
                        @extschema@.lead_stage_entries(h.seq, h.to_stage, h.entered_at) AS entries
                   FROM %1$s.lead l
                   JOIN %1$s.lead_stage_history h ON h.account_id = l.account_id AND h.lead_id = l.lead_id
                  WHERE h.superseded_at IS NULL
                  GROUP BY h.account_id, h.lead_id, l.account_id, l.lead_id, l.funnel, l.stage, l.amount) x
          CROSS JOIN LATERAL pg_catalog.unnest(x.entries) u)$e$, s);

    -- conversion_by_cohort: the counts for every later stage in one pass,
    -- unpacked into one row per (from_stage, to_stage) after the aggregation
    SELECT 'count(*) AS entered, ' || string_agg(format($c$
                count(*) FILTER (WHERE e.reached & %2$s <> 0) AS d30_%1$s,
                count(*) FILTER (WHERE e.reached & %3$s <> 0) AS d60_%1$s,
                count(*) FILTER (WHERE e.reached & %4$s <> 0) AS d90_%1$s,
                count(*) FILTER (WHERE e.reached & %5$s <> 0) AS ever_%1$s$c$,
                st, 1::bigint << (4 * o)::int, 1::bigint << (4 * o + 1)::int,
                1::bigint << (4 * o + 2)::int, 1::bigint << (4 * o + 3)::int), ', ' ORDER BY o),
           string_agg(format('(%1$L::@extschema@.lead_stage, g.entered, g.d30_%1$s, g.d60_%1$s, g.d90_%1$s, g.ever_%1$s)', st),
                      ', ' ORDER BY o)
      INTO cohort_cols, cohort_rows
      FROM unnest(enum_range('lead'::@extschema@.lead_stage, 'won')) WITH ORDINALITY AS u(st, o);

    -- One statement per EXECUTE (Citus propagates DDL as its query string);
    -- CREATE OR REPLACE, so that a model gets the current definitions.
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.waterfall WITH (security_invoker = true) AS
        WITH z AS MATERIALIZED (SELECT pg_catalog.current_setting('TimeZone') AS tz)
        SELECT g.funnel, g.period, g.stage, g.entered,
               CASE WHEN g.stage < 'won' THEN g.advanced END AS advanced,
               g.won,
               CASE WHEN g.stage < 'won' THEN g.advanced::numeric / g.entered END AS conversion,
               CASE WHEN g.stage < 'won' THEN @extschema@.wilson_bound(g.advanced, g.entered, false) END AS conversion_low,
               CASE WHEN g.stage < 'won' THEN @extschema@.wilson_bound(g.advanced, g.entered, true) END AS conversion_high,
               round((extract(epoch FROM (g.t).p50) / 86400)::numeric, 2) AS days_to_next_p50,
               round((extract(epoch FROM (g.t).p90) / 86400)::numeric, 2) AS days_to_next_p90,
               g.amount
          FROM (SELECT e.funnel, date_trunc('month', e.entered_at AT TIME ZONE z.tz)::date AS period, e.stage,
                       count(*) AS entered,
                       count(e.next_at) AS advanced,
                       count(*) FILTER (WHERE e.lead_stage = 'won') AS won,
                       @extschema@.cycle_time(e.entered_at, e.next_at) AS t,
                       sum(e.amount) AS amount
                  FROM %6$s e
                 CROSS JOIN z
                 GROUP BY 1, 2, 3) g
         ORDER BY g.funnel, g.period, g.stage$d$,
        $d$COMMENT ON VIEW %1$s.waterfall IS 'The demand waterfall per funnel, month and stage: leads whose history first entered the stage that month (volume), how many of them reached a later stage (conversion, with a 95 %% Wilson interval) and how fast (velocity), and their amount (value). See doc/pipeline.md.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.funnel IS 'Funnel (the lead''s current lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.period IS 'Month (first day, in the session''s TimeZone) in which the leads first entered the stage, from lead_stage_history.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.stage IS 'Open-or-won stage entered (only stages that history shows entered: a lead imported at mql is not counted as visitor or lead).'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.entered IS 'Leads whose first entry into the stage was in the period.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.advanced IS 'Of those, leads that later entered a later open-or-won stage (the funnel''s next stage or beyond); NULL for won.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.won IS 'Of those, leads that are won.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.conversion IS 'advanced / entered, 0..1; NULL for won.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.conversion_low IS 'Lower bound of the 95 %% Wilson score interval of conversion (leadfunnel.wilson_bound).'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.conversion_high IS 'Upper bound of the 95 %% Wilson score interval of conversion.'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.days_to_next_p50 IS 'Median days from entering the stage to entering the next stage or beyond, over the advanced leads (cycle_time sketch, within 1 %%; 2 decimals).'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.days_to_next_p90 IS '90th percentile of those days (cycle_time sketch, within 1 %%; 2 decimals).'$d$,
        $d$COMMENT ON COLUMN %1$s.waterfall.amount IS 'Sum of lead.amount of the leads that entered.'$d$,

        $d$CREATE OR REPLACE VIEW %1$s.conversion_by_cohort WITH (security_invoker = true) AS
        WITH z AS MATERIALIZED (SELECT pg_catalog.current_setting('TimeZone') AS tz)
        SELECT g.funnel, g.cohort, g.from_stage, c.to_stage, c.entered, c.within_30d, c.within_60d, c.within_90d, c.ever
          FROM (SELECT e.funnel, date_trunc('month', e.entered_at AT TIME ZONE z.tz)::date AS cohort,
                       e.stage AS from_stage, %4$s
                  FROM %6$s e
                 CROSS JOIN z
                 WHERE e.stage < 'won'
                 GROUP BY 1, 2, 3) g
          LEFT JOIN @extschema@.funnel f ON f.name = g.funnel
         CROSS JOIN LATERAL (VALUES %5$s) AS c(to_stage, entered, within_30d, within_60d, within_90d, ever)
         WHERE c.to_stage > g.from_stage
           AND (f.name IS NULL OR c.to_stage = ANY (f.stages))
         ORDER BY g.funnel, g.cohort, g.from_stage, c.to_stage$d$,
        $d$COMMENT ON VIEW %1$s.conversion_by_cohort IS 'Conversion by entry cohort: leads grouped by funnel and the month they first entered from_stage, and for each later stage of the funnel the share that reached it within 30, 60, 90 days and ever. See doc/pipeline.md.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.funnel IS 'Funnel (the lead''s current lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.cohort IS 'Month (first day, session TimeZone) in which the leads first entered from_stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.from_stage IS 'Open stage the cohort entered.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.to_stage IS 'A later open-or-won stage of the funnel.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.entered IS 'Leads of the cohort (first entry into from_stage in that month).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.within_30d IS 'Of those, leads that entered to_stage or a later open-or-won stage within 30 days of entering from_stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.within_60d IS 'The same within 60 days.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.within_90d IS 'The same within 90 days.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_cohort.ever IS 'The same at any time so far.'$d$,

        $d$CREATE OR REPLACE VIEW %1$s.pipeline WITH (security_invoker = true) AS
        WITH n AS MATERIALIZED (SELECT pg_catalog.now() AS now)
        SELECT p.funnel, p.stage, p.stage_label,
               coalesce(sl.forecast_category, o.forecast_category, d.forecast_category) AS forecast_category,
               p.leads, p.amount,
               p.amount * coalesce(sl.probability, o.probability, d.probability) AS weighted_amount,
               (p.t).p50 AS age_in_stage_p50
          FROM (SELECT l.funnel, l.stage, l.stage_label, count(*) AS leads, sum(l.amount) AS amount,
                       @extschema@.cycle_time(least(l.stage_entered_at, n.now), n.now) AS t
                  FROM %1$s.lead l
                 CROSS JOIN n
                 WHERE l.stage <= 'opportunity'
                 GROUP BY 1, 2, 3) p
          LEFT JOIN @extschema@.stage_label sl ON sl.funnel = p.funnel AND sl.label = p.stage_label
          LEFT JOIN @extschema@.stage_forecast o ON o.stage = p.stage
          LEFT JOIN @extschema@.stage_forecast_default d ON d.stage = p.stage
         ORDER BY p.funnel, p.stage, p.stage_label$d$,
        $d$COMMENT ON VIEW %1$s.pipeline IS 'Open pipeline now: open leads (visitor .. opportunity) per funnel, stage and forecast category with count, amount, amount weighted by the stage''s win probability and median age in stage. See doc/pipeline.md.'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.stage IS 'Current open stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.stage_label IS 'The funnel''s own name of the stage (stage labels); NULL for leads without a label.'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.forecast_category IS 'Forecast category: the stage label''s (leadfunnel.stage_label), else the stage''s (leadfunnel.stage_forecast, else stage_forecast_default).'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.leads IS 'Number of open leads.'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.amount IS 'Sum of lead.amount (NULL amounts count as nothing).'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.weighted_amount IS 'amount x the win probability: the stage label''s (leadfunnel.stage_label) where it has one, else the stage''s (leadfunnel.stage_forecast, else stage_forecast_default).'$d$,
        $d$COMMENT ON COLUMN %1$s.pipeline.age_in_stage_p50 IS 'Median time since the leads entered their current stage (now() - stage_entered_at; cycle_time sketch, within 1 %%).'$d$,

        -- The functions: plpgsql with the times as literals in the query
        -- text (Citus plans a query with parameters over distributed tables
        -- only in some shapes).
        -- pipeline_at and pipeline_movement run without JIT: on models of
        -- some tens of thousands of leads their estimated cost passes
        -- jit_above_cost, and compiling their many expressions took several
        -- times as long as running them (pipeline_at, 93,000 leads: 7 s of
        -- JIT for a query of under 1 s).
        $d$CREATE OR REPLACE FUNCTION %1$s.pipeline_at(at timestamptz)
            RETURNS TABLE (funnel text, stage @extschema@.lead_stage, stage_label text, forecast_category @extschema@.forecast_category,
                           leads bigint, amount numeric, weighted_amount numeric, age_in_stage_p50 interval)
            LANGUAGE plpgsql STABLE
            SET search_path = pg_catalog, pg_temp
            SET jit = off
        AS $f$
        BEGIN
            IF at IS NULL THEN
                RETURN;
            END IF;
            -- A lead's stage at that moment is its current stage if it entered
            -- that at or before then (stage_entered_at is the lead's "moved
            -- since" marker), else the history row open then, looked up only
            -- for the leads that moved since and were created by then: one
            -- scan of lead, no per-lead work for the others (a lead created
            -- after then has no history row entered by then: its history
            -- starts at its created_at or later, as verify_model() checks).
            -- The row open then is the last of the lead's current rows
            -- entered by then (its rows follow each other: each is entered
            -- when the one before is left, as verify_model() checks), one
            -- descent of lead_stage_history_lead_entered without reading the
            -- heap.  Its amount then is the old amount of its first value
            -- change after then, else its amount; its label then is looked up
            -- only for the leads whose label changed since.
            RETURN QUERY EXECUTE format($q$
                SELECT p.funnel, p.stage, p.stage_label,
                       coalesce(sl.forecast_category, o.forecast_category, d.forecast_category),
                       p.leads, p.amount,
                       p.amount * coalesce(sl.probability, o.probability, d.probability),
                       (p.t).p50
                  FROM (SELECT a.funnel, a.stage,
                               CASE WHEN lb.lead_id IS NULL THEN a.stage_label ELSE lb.label END AS stage_label,
                               count(*) AS leads,
                               sum(CASE WHEN v.lead_id IS NULL THEN a.amount ELSE v.old_amount END) AS amount,
                               @extschema@.cycle_time(a.entered_at, %%1$L::timestamptz) AS t
                          FROM (SELECT l.funnel, l.account_id, l.lead_id, l.amount, l.stage_label,
                                       CASE WHEN l.stage_entered_at <= %%1$L THEN l.stage ELSE x.to_stage END AS stage,
                                       CASE WHEN l.stage_entered_at <= %%1$L THEN l.stage_entered_at ELSE x.entered_at END AS entered_at
                                  FROM %1$s.lead l
                                  LEFT JOIN LATERAL (
                                        SELECT h.to_stage, h.entered_at
                                          FROM %1$s.lead_stage_history h
                                         WHERE l.stage_entered_at > %%1$L
                                           AND h.account_id = l.account_id AND h.lead_id = l.lead_id
                                           AND h.entered_at <= %%1$L AND h.superseded_at IS NULL
                                         ORDER BY h.entered_at DESC, h.seq DESC LIMIT 1) x ON true
                                 WHERE ((l.stage_entered_at <= %%1$L AND l.stage <= 'opportunity')
                                        OR (l.stage_entered_at > %%1$L AND l.created_at <= %%1$L))
                                   AND (l.stage_entered_at <= %%1$L OR x.to_stage <= 'opportunity')) a
                          LEFT JOIN (SELECT DISTINCT ON (v.account_id, v.lead_id) v.account_id, v.lead_id, v.old_amount
                                       FROM %1$s.lead_value_history v
                                      WHERE v.changed_at > %%1$L
                                      ORDER BY v.account_id, v.lead_id, v.changed_at, v.recorded_at) v
                                 ON v.account_id = a.account_id AND v.lead_id = a.lead_id
                          -- the label then, for the leads whose label changed since (NULL: none then)
                          LEFT JOIN (SELECT lc.account_id, lc.lead_id, lx.label
                                       FROM (SELECT DISTINCT c.account_id, c.lead_id FROM %1$s.lead_label_history c
                                              WHERE c.entered_at > %%1$L AND c.superseded_at IS NULL) lc
                                       LEFT JOIN LATERAL (
                                             SELECT c.label FROM %1$s.lead_label_history c
                                              WHERE c.account_id = lc.account_id AND c.lead_id = lc.lead_id
                                                AND c.entered_at <= %%1$L AND (c.left_at IS NULL OR c.left_at > %%1$L)
                                                AND c.superseded_at IS NULL
                                              ORDER BY c.seq DESC LIMIT 1) lx ON true) lb
                                 ON lb.account_id = a.account_id AND lb.lead_id = a.lead_id
                         GROUP BY 1, 2, 3) p
                  LEFT JOIN @extschema@.stage_label sl ON sl.funnel = p.funnel AND sl.label = p.stage_label
                  LEFT JOIN @extschema@.stage_forecast o ON o.stage = p.stage
                  LEFT JOIN @extschema@.stage_forecast_default d ON d.stage = p.stage
                 ORDER BY p.funnel, p.stage, p.stage_label$q$, at);
        END
        $f$$d$,
        $d$COMMENT ON FUNCTION %1$s.pipeline_at(timestamptz) IS 'The rows of the pipeline view as the pipeline stood at the given moment, from the stage history (stage and age in stage then), lead_label_history (stage label then) and lead_value_history (amount then); probabilities and categories as configured now. NULL: no rows.'$d$,

        $d$CREATE OR REPLACE FUNCTION %1$s.pipeline_movement(from_at timestamptz, to_at timestamptz)
            RETURNS TABLE (funnel text, movement text, leads bigint, amount numeric)
            LANGUAGE plpgsql STABLE
            SET search_path = pg_catalog, pg_temp
            SET jit = off
        AS $f$
        BEGIN
            IF from_at IS NULL OR to_at IS NULL THEN
                RETURN;
            END IF;
            IF from_at > to_at THEN
                RAISE EXCEPTION 'pipeline movement from %% to %% goes back in time', from_at, to_at
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Pass the earlier moment first.';
            END IF;
            -- Open at t: a history row of an open stage with entered_at <= t <
            -- left_at; events in (from_at, to_at].  A lead's amount at t: the
            -- old amount of its first value change after t, else its amount.
            -- A quiet lead -- stage entered at or before from_at
            -- (stage_entered_at, the lead's "moved since" marker) and no
            -- value change after from_at -- is in the same stage with the same
            -- amount and close date at both ends, so it counts in start and
            -- end when open and in nothing else: those are counted per funnel
            -- from lead alone.  Only the other leads' history rows are read
            -- (by the history key, per lead):
            --   start/end: open at from_at/to_at; created: an opening (creation
            --   or reopening) in the window; won/lost: a close in the window;
            --   lo/hi: each open stretch's ends within the window, whose
            --   amounts differ by the changes made while open (amount_up/down)
            --   -- read only for the leads with a value change after from_at:
            --   for the others both ends read the same amount, the lead's.
            RETURN QUERY EXECUTE format($q$
                WITH changed AS (
                    SELECT DISTINCT v.account_id, v.lead_id
                      FROM %1$s.lead_value_history v WHERE v.changed_at > %%1$L
                ), moved AS (
                    SELECT l.funnel, l.account_id, l.lead_id, l.amount, l.expected_close_date,
                           c.lead_id IS NOT NULL AS changed
                      FROM %1$s.lead l
                      LEFT JOIN changed c ON c.account_id = l.account_id AND c.lead_id = l.lead_id
                     WHERE l.stage_entered_at > %%1$L OR l.stage_entered_at IS NULL
                    UNION ALL
                    SELECT l.funnel, l.account_id, l.lead_id, l.amount, l.expected_close_date, true
                      FROM changed c
                     CROSS JOIN LATERAL (
                            SELECT l.funnel, l.account_id, l.lead_id, l.amount, l.expected_close_date
                              FROM %1$s.lead l
                             WHERE l.account_id = c.account_id AND l.lead_id = c.lead_id
                               AND l.stage_entered_at <= %%1$L
                            OFFSET 0) l
                ), quiet AS (
                    SELECT l.funnel, count(*) AS n, sum(coalesce(l.amount, 0)) AS amount
                      FROM %1$s.lead l
                     WHERE l.stage_entered_at <= %%1$L AND l.stage <= 'opportunity'
                       AND NOT EXISTS (SELECT FROM changed c WHERE c.account_id = l.account_id AND c.lead_id = l.lead_id)
                     GROUP BY l.funnel
                ), h AS (
                    -- (OFFSET 0: by the history key, lead by lead, rather
                    -- than a hash join with all of the history, whose join
                    -- with the moved leads the planner cannot estimate)
                    SELECT m.funnel, m.account_id, m.lead_id, m.amount AS lead_amount, m.expected_close_date AS lead_close,
                           m.changed, h.from_stage, h.to_stage, h.entered_at, h.left_at
                      FROM moved m
                     CROSS JOIN LATERAL (
                            SELECT h.from_stage, h.to_stage, h.entered_at, h.left_at
                              FROM %1$s.lead_stage_history h
                             WHERE h.account_id = m.account_id AND h.lead_id = m.lead_id
                               AND h.entered_at <= %%2$L AND (h.left_at IS NULL OR h.left_at > %%1$L)
                               AND (h.to_stage <= 'opportunity' OR h.entered_at > %%1$L)
                               AND h.superseded_at IS NULL
                            OFFSET 0) h
                ), pt AS (
                    SELECT funnel, account_id, lead_id, lead_amount, lead_close, changed, 'start' AS kind, %%1$L::timestamptz AS t, to_stage AS stage
                      FROM h WHERE to_stage <= 'opportunity' AND entered_at <= %%1$L
                    UNION ALL
                    SELECT funnel, account_id, lead_id, lead_amount, lead_close, changed, 'end', %%2$L::timestamptz, to_stage
                      FROM h WHERE to_stage <= 'opportunity' AND (left_at IS NULL OR left_at > %%2$L)
                    UNION ALL
                    SELECT funnel, account_id, lead_id, lead_amount, lead_close, changed, 'created', entered_at, to_stage
                      FROM h WHERE to_stage <= 'opportunity' AND entered_at > %%1$L
                               AND (from_stage IS NULL OR from_stage > 'opportunity')
                    UNION ALL
                    SELECT funnel, account_id, lead_id, lead_amount, lead_close, changed, 'lo', greatest(entered_at, %%1$L::timestamptz), to_stage
                      FROM h WHERE to_stage <= 'opportunity' AND changed
                    UNION ALL
                    SELECT funnel, account_id, lead_id, lead_amount, lead_close, changed, 'hi', least(coalesce(left_at, %%2$L::timestamptz), %%2$L::timestamptz), to_stage
                      FROM h WHERE to_stage <= 'opportunity' AND changed
                    UNION ALL
                    SELECT funnel, account_id, lead_id, lead_amount, lead_close, changed, CASE WHEN to_stage = 'won' THEN 'won' ELSE 'lost' END, entered_at, to_stage
                      FROM h WHERE to_stage > 'opportunity' AND from_stage <= 'opportunity' AND entered_at > %%1$L
                ), val AS (
                    SELECT pt.funnel, pt.account_id, pt.lead_id, pt.kind, pt.stage,
                           coalesce(CASE WHEN v.found THEN v.old_amount ELSE pt.lead_amount END, 0) AS amount,
                           CASE WHEN v.found THEN v.old_close ELSE pt.lead_close END AS close_date
                      FROM pt
                      LEFT JOIN LATERAL (
                            SELECT true AS found, v.old_amount, v.old_expected_close_date AS old_close
                              FROM %1$s.lead_value_history v
                             WHERE pt.changed
                               AND v.account_id = pt.account_id AND v.lead_id = pt.lead_id AND v.changed_at > pt.t
                             ORDER BY v.changed_at, v.recorded_at LIMIT 1) v ON true
                ), per_lead AS (
                    -- (by the lead's key alone: its funnel is one value, and
                    -- sorting or hashing the text per point cost more)
                    SELECT min(val.funnel) AS funnel, val.account_id, val.lead_id,
                           count(*) FILTER (WHERE val.kind = 'start') AS s_n,
                           sum(val.amount) FILTER (WHERE val.kind = 'start') AS s_amount,
                           min(val.stage) FILTER (WHERE val.kind = 'start') AS s_stage,
                           min(val.close_date) FILTER (WHERE val.kind = 'start') AS s_close,
                           count(*) FILTER (WHERE val.kind = 'end') AS e_n,
                           sum(val.amount) FILTER (WHERE val.kind = 'end') AS e_amount,
                           min(val.stage) FILTER (WHERE val.kind = 'end') AS e_stage,
                           min(val.close_date) FILTER (WHERE val.kind = 'end') AS e_close,
                           count(*) FILTER (WHERE val.kind = 'created') AS c_n,
                           sum(val.amount) FILTER (WHERE val.kind = 'created') AS c_amount,
                           count(*) FILTER (WHERE val.kind = 'won') AS w_n,
                           sum(val.amount) FILTER (WHERE val.kind = 'won') AS w_amount,
                           count(*) FILTER (WHERE val.kind = 'lost') AS x_n,
                           sum(val.amount) FILTER (WHERE val.kind = 'lost') AS x_amount,
                           coalesce(sum(val.amount) FILTER (WHERE val.kind = 'hi'), 0)
                             - coalesce(sum(val.amount) FILTER (WHERE val.kind = 'lo'), 0) AS delta
                      FROM val
                     GROUP BY val.account_id, val.lead_id
                ), per_funnel AS (
                    SELECT p.funnel,
                           sum(s_n) AS s_n, sum(coalesce(s_amount, 0)) AS s_amount,
                           sum(c_n) AS c_n, sum(coalesce(c_amount, 0)) AS c_amount,
                           count(*) FILTER (WHERE s_n > 0 AND e_n > 0 AND e_stage > s_stage) AS adv_n,
                           count(*) FILTER (WHERE s_n > 0 AND e_n > 0 AND e_stage < s_stage) AS back_n,
                           count(*) FILTER (WHERE s_n > 0 AND e_n > 0 AND e_close < s_close) AS in_n,
                           count(*) FILTER (WHERE s_n > 0 AND e_n > 0 AND e_close > s_close) AS out_n,
                           count(*) FILTER (WHERE delta > 0) AS up_n, coalesce(sum(delta) FILTER (WHERE delta > 0), 0) AS up_amount,
                           count(*) FILTER (WHERE delta < 0) AS down_n, coalesce(sum(delta) FILTER (WHERE delta < 0), 0) AS down_amount,
                           sum(w_n) AS w_n, sum(coalesce(w_amount, 0)) AS w_amount,
                           sum(x_n) AS x_n, sum(coalesce(x_amount, 0)) AS x_amount,
                           sum(e_n) AS e_n, sum(coalesce(e_amount, 0)) AS e_amount
                      FROM per_lead p
                     GROUP BY p.funnel
                )
                SELECT f.funnel, m.movement, m.leads::bigint, m.amount
                  FROM (SELECT coalesce(p.funnel, q.funnel) AS funnel,
                               coalesce(p.s_n, 0) + coalesce(q.n, 0) AS s_n, coalesce(p.s_amount, 0) + coalesce(q.amount, 0) AS s_amount,
                               coalesce(p.c_n, 0) AS c_n, coalesce(p.c_amount, 0) AS c_amount,
                               coalesce(p.adv_n, 0) AS adv_n, coalesce(p.back_n, 0) AS back_n,
                               coalesce(p.in_n, 0) AS in_n, coalesce(p.out_n, 0) AS out_n,
                               coalesce(p.up_n, 0) AS up_n, coalesce(p.up_amount, 0) AS up_amount,
                               coalesce(p.down_n, 0) AS down_n, coalesce(p.down_amount, 0) AS down_amount,
                               coalesce(p.w_n, 0) AS w_n, coalesce(p.w_amount, 0) AS w_amount,
                               coalesce(p.x_n, 0) AS x_n, coalesce(p.x_amount, 0) AS x_amount,
                               coalesce(p.e_n, 0) + coalesce(q.n, 0) AS e_n, coalesce(p.e_amount, 0) + coalesce(q.amount, 0) AS e_amount
                          FROM per_funnel p FULL JOIN quiet q ON q.funnel = p.funnel) f
                 CROSS JOIN LATERAL (VALUES
                        (1, 'start', f.s_n, f.s_amount),
                        (2, 'created', f.c_n, f.c_amount),
                        (3, 'advanced', f.adv_n, 0),
                        (4, 'moved_back', f.back_n, 0),
                        (5, 'pulled_in', f.in_n, 0),
                        (6, 'pushed_out', f.out_n, 0),
                        (7, 'amount_up', f.up_n, f.up_amount),
                        (8, 'amount_down', f.down_n, f.down_amount),
                        (9, 'won', f.w_n, -f.w_amount),
                        (10, 'lost', f.x_n, -f.x_amount),
                        (11, 'end', f.e_n, f.e_amount)) AS m(ord, movement, leads, amount)
                 ORDER BY f.funnel, m.ord$q$, from_at, to_at);
        END
        $f$$d$,
        $d$COMMENT ON FUNCTION %1$s.pipeline_movement(timestamptz, timestamptz) IS 'How the open pipeline at from_at became the open pipeline at to_at, per funnel: start, created (new and reopened leads), advanced, moved_back, pulled_in, pushed_out (expected close date), amount_up, amount_down, won, lost (every close without a win), end. leads: leads (or, for created, won and lost, events) in the movement; amount: its signed change of the open amount. start + created - won - lost = end (leads), start + all changes = end (amount). NULL: no rows; from_at after to_at: SQLSTATE 22023. See doc/pipeline.md.'$d$,

        $d$CREATE OR REPLACE FUNCTION %1$s.time_to_convert(from_stage @extschema@.lead_stage, to_stage @extschema@.lead_stage,
                                                          buckets int DEFAULT 10)
            RETURNS TABLE (funnel text, bucket int, lower_bound interval, upper_bound interval, leads bigint, share numeric)
            LANGUAGE plpgsql STABLE
            SET search_path = pg_catalog, pg_temp
        AS $f$
        BEGIN
            IF from_stage IS NULL OR to_stage IS NULL OR buckets IS NULL THEN
                RETURN;
            END IF;
            IF to_stage <= from_stage OR to_stage > 'won' OR buckets < 1 OR buckets > 100 THEN
                RAISE EXCEPTION 'time to convert needs an open stage followed by a later open-or-won stage, and 1 to 100 buckets'
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('from_stage %%s, to_stage %%s and %%s buckets were given.', from_stage, to_stage, buckets);
            END IF;
            -- durations from the first entry into from_stage to the next entry
            -- into to_stage or a later open-or-won stage; bucket bounds at the
            -- i/buckets quantiles of the funnel's cycle_time sketch
            RETURN QUERY EXECUTE format($q$
                WITH d AS (
                    SELECT e.funnel, e.reach_%%1$s - e.entered_at AS duration
                      FROM %2$s e
                     WHERE e.stage = %%2$L AND e.reach_%%1$s IS NOT NULL
                ), sk AS (
                    SELECT d.funnel, max(d.duration) AS longest, @extschema@.cycle_time_sketch(d.duration) AS sketch
                      FROM d GROUP BY d.funnel
                ), bb AS (
                    SELECT sk.funnel, sk.longest,
                           ARRAY[interval '0'] || coalesce((
                               SELECT array_agg(DISTINCT q.q ORDER BY q.q)
                                 FROM generate_series(1, %%3$s - 1) i,
                                      LATERAL (SELECT @extschema@.cycle_time_quantile(sk.sketch, i / %%3$s::float8) AS q) q
                                WHERE q.q > interval '0' AND q.q < sk.longest), '{}') AS bounds
                      FROM sk
                ), c AS (
                    SELECT d.funnel, width_bucket(d.duration, bb.bounds) AS bucket, count(*) AS leads
                      FROM d JOIN bb ON bb.funnel = d.funnel
                     GROUP BY 1, 2
                )
                SELECT bb.funnel, i::int, bb.bounds[i], coalesce(bb.bounds[i + 1], bb.longest),
                       coalesce(c.leads, 0), coalesce(c.leads, 0)::numeric / sum(coalesce(c.leads, 0)) OVER (PARTITION BY bb.funnel)
                  FROM bb
                 CROSS JOIN LATERAL generate_series(1, cardinality(bb.bounds)) i
                  LEFT JOIN c ON c.funnel = bb.funnel AND c.bucket = i
                 ORDER BY 1, 2$q$, to_stage, from_stage, buckets);
        END
        $f$$d$,
        $d$COMMENT ON FUNCTION %1$s.time_to_convert(@extschema@.lead_stage, @extschema@.lead_stage, int) IS 'Time-to-convert histogram per funnel: durations from a lead''s first entry into from_stage to its next entry into to_stage or a later open-or-won stage, counted exactly in up to buckets buckets whose bounds are the funnel''s cycle_time-sketch quantiles at 1/buckets, 2/buckets, ... (equal-count buckets within the sketch''s 1 %%); bucket i holds lower_bound <= duration < upper_bound (the last one up to the longest, inclusive). NULL argument: no rows; bad stages or buckets outside 1..100: SQLSTATE 22023.'$d$
    ] LOOP
        EXECUTE format(ddl, s, entries, NULL, cohort_cols, cohort_rows, lead_entries);
    END LOOP;

    IF on_citus THEN
        PERFORM @extschema@.citus_ddl_end(citus_saved);
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_pipeline(name) IS
'Adds the pipeline objects to a model (called by create_model; on an older model by upgrade_model): lead.expected_close_date, table lead_value_history with its recording trigger, views waterfall, conversion_by_cohort and pipeline, functions pipeline_at, pipeline_movement and time_to_convert. Idempotent; views and functions get the current definitions.';
