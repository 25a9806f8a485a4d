-- Analytics: the aggregates funnel_reach, cycle_time and window_funnel (C, in
-- src/aggregates.c and src/sketch.c), their state types, the functions that
-- unpack their results, and the model's funnel views (model_add_analytics).
--
-- The state types are real types, not internal: PostgreSQL then splits the
-- aggregates in parallel plans with the combine function alone (a partial
-- aggregate hands its state to the leader as a value of the type), and Citus
-- pushes partial aggregation to its workers, shipping states through the
-- types' output/input and send/receive functions.  For a non-internal state
-- type those functions are the serialization (PostgreSQL refuses SERIALFUNC
-- and DESERIALFUNC for it).

-- ---------------------------------------------------------------------------
-- State types

CREATE TYPE @extschema@.funnel_reach_state;
CREATE FUNCTION @extschema@.funnel_reach_state_in(cstring) RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_reach_state_out(@extschema@.funnel_reach_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_reach_state_recv(internal) RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_reach_state_send(@extschema@.funnel_reach_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.funnel_reach_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.funnel_reach_state_in, OUTPUT = @extschema@.funnel_reach_state_out,
    RECEIVE = @extschema@.funnel_reach_state_recv, SEND = @extschema@.funnel_reach_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.funnel_reach_state IS
'State of the funnel_reach aggregate: how many rows were in each stage. Text form {stage:count,...} (stages with a count, in enum order); binary form: version byte 1, int16 12, twelve int64 counts.';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_in(cstring) IS 'Input function of funnel_reach_state (checks every count; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_out(@extschema@.funnel_reach_state) IS 'Output function of funnel_reach_state.';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_recv(internal) IS 'Binary receive function of funnel_reach_state (checks version, size and counts; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.funnel_reach_state_send(@extschema@.funnel_reach_state) IS 'Binary send function of funnel_reach_state.';

CREATE TYPE @extschema@.cycle_time_sketch;
CREATE FUNCTION @extschema@.cycle_time_sketch_in(cstring) RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_sketch_out(@extschema@.cycle_time_sketch) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_sketch_recv(internal) RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_sketch_send(@extschema@.cycle_time_sketch) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_cycle_time_sketch_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.cycle_time_sketch (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.cycle_time_sketch_in, OUTPUT = @extschema@.cycle_time_sketch_out,
    RECEIVE = @extschema@.cycle_time_sketch_recv, SEND = @extschema@.cycle_time_sketch_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.cycle_time_sketch IS
'Mergeable summary of durations: exact count, sum and maximum, and a log-bucket histogram (DDSketch-style, relative accuracy 0.99 %) for quantiles. State of cycle_time; store it per day with cycle_time_sketch(interval), merge per quarter with cycle_time_merge, read with cycle_time_stats or cycle_time_quantile. Text form: v1 n=.. zero=.. max=.. max_n=.. sum=.. bins=bin:count,...';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_in(cstring) IS 'Input function of cycle_time_sketch (checks version, bins, counts, maximum and sum; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_out(@extschema@.cycle_time_sketch) IS 'Output function of cycle_time_sketch.';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_recv(internal) IS 'Binary receive function of cycle_time_sketch (checks version, sizes and consistency; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.cycle_time_sketch_send(@extschema@.cycle_time_sketch) IS 'Binary send function of cycle_time_sketch.';

CREATE TYPE @extschema@.window_funnel_state;
CREATE FUNCTION @extschema@.window_funnel_state_in(cstring) RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.window_funnel_state_out(@extschema@.window_funnel_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.window_funnel_state_recv(internal) RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.window_funnel_state_send(@extschema@.window_funnel_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_window_funnel_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.window_funnel_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.window_funnel_state_in, OUTPUT = @extschema@.window_funnel_state_out,
    RECEIVE = @extschema@.window_funnel_state_recv, SEND = @extschema@.window_funnel_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.window_funnel_state IS
'State of the window_funnel aggregate: the window, the mode and the events (time, stage) of the group (skip_allowed: the earliest time per stage). Text form {window:usec,mode:names joined by + or default,until:stage,events:[stage:usec,...]} (times in microseconds since 2000-01-01 UTC, in time order); binary form: version byte 2, int64 window, mode byte, last-step byte, int32 count, per event int64 time and stage byte. Version 1 (leadfunnel 0.2.0) is read as a skip_allowed state.';
COMMENT ON FUNCTION @extschema@.window_funnel_state_in(cstring) IS 'Input function of window_funnel_state (SQLSTATE 22P02 for a bad value).';
COMMENT ON FUNCTION @extschema@.window_funnel_state_out(@extschema@.window_funnel_state) IS 'Output function of window_funnel_state.';
COMMENT ON FUNCTION @extschema@.window_funnel_state_recv(internal) IS 'Binary receive function of window_funnel_state (SQLSTATE 22P03 for a bad value).';
COMMENT ON FUNCTION @extschema@.window_funnel_state_send(@extschema@.window_funnel_state) IS 'Binary send function of window_funnel_state.';

CREATE TYPE @extschema@.cycle_time_stats AS (
    n    bigint,
    mean interval,
    p50  interval,
    p90  interval,
    p95  interval,
    max  interval
);
COMMENT ON TYPE @extschema@.cycle_time_stats IS
'Result of cycle_time: number of durations, exact mean (rounded to the microsecond), estimated median, 90th and 95th percentiles (within 1 % of percentile_disc), exact maximum. Durations as days and time.';

-- ---------------------------------------------------------------------------
-- funnel_reach(lead_stage) -> bigint[]

CREATE FUNCTION @extschema@.funnel_reach_add(@extschema@.funnel_reach_state, @extschema@.lead_stage)
    RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_add(@extschema@.funnel_reach_state, @extschema@.lead_stage) IS
'Transition function of funnel_reach: counts one row in its stage (NULL stage: no change).';
CREATE FUNCTION @extschema@.funnel_reach_remove(@extschema@.funnel_reach_state, @extschema@.lead_stage)
    RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_inv' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_remove(@extschema@.funnel_reach_state, @extschema@.lead_stage) IS
'Inverse transition function of funnel_reach (moving window frames).';
CREATE FUNCTION @extschema@.funnel_reach_combine(@extschema@.funnel_reach_state, @extschema@.funnel_reach_state)
    RETURNS @extschema@.funnel_reach_state
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_combine(@extschema@.funnel_reach_state, @extschema@.funnel_reach_state) IS
'Combine function of funnel_reach: adds two states.';
CREATE FUNCTION @extschema@.funnel_reach_final(@extschema@.funnel_reach_state) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'lf_funnel_reach_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.funnel_reach_final(@extschema@.funnel_reach_state) IS
'Final function of funnel_reach: the cumulative reach of visitor .. won as bigint[9].';

CREATE AGGREGATE @extschema@.funnel_reach(@extschema@.lead_stage) (
    SFUNC = @extschema@.funnel_reach_add,
    STYPE = @extschema@.funnel_reach_state,
    FINALFUNC = @extschema@.funnel_reach_final,
    COMBINEFUNC = @extschema@.funnel_reach_combine,
    MSFUNC = @extschema@.funnel_reach_add,
    MINVFUNC = @extschema@.funnel_reach_remove,
    MSTYPE = @extschema@.funnel_reach_state,
    MFINALFUNC = @extschema@.funnel_reach_final,
    MINITCOND = '{}',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.funnel_reach(@extschema@.lead_stage) IS
'Cumulative reach per stage: bigint[9], element i = rows whose stage is the i-th stage of lead_stage (1 visitor .. 9 won) or a later open-or-won stage. Pass max_stage. Closed-not-won stages and NULL reach no stage. Unpack with funnel_reach_steps.';

CREATE FUNCTION @extschema@.funnel_reach_steps(reach bigint[], stages @extschema@.lead_stage[] DEFAULT NULL)
    RETURNS TABLE (stage @extschema@.lead_stage, reached bigint,
                   conversion_from_previous numeric, conversion_from_top numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF reach IS NULL THEN
        RETURN;
    END IF;
    -- a funnel_reach result (or a sum of them): nine counts, none negative,
    -- none above the previous one; anything else would give ratios outside 0..1
    IF array_ndims(reach) IS DISTINCT FROM 1 OR cardinality(reach) OPERATOR(pg_catalog.<>) 9
       OR array_lower(reach, 1) OPERATOR(pg_catalog.<>) 1
       OR EXISTS (SELECT 1 FROM unnest(reach) WITH ORDINALITY AS r(n, i)
                   WHERE r.n IS NULL OR r.n OPERATOR(pg_catalog.<) 0
                      OR (r.i OPERATOR(pg_catalog.>) 1
                          AND r.n OPERATOR(pg_catalog.>) reach[r.i OPERATOR(pg_catalog.-) 1])) THEN
        RAISE EXCEPTION 'reach must be a result of funnel_reach'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A reach array holds 9 counts (visitor .. won), none NULL or negative, each at most the previous one; %s was given.',
                                  reach),
                  HINT = 'Pass leadfunnel.funnel_reach(max_stage), or a sum of such arrays.';
    END IF;
    RETURN QUERY
    SELECT st.stage, st.reached,
           st.reached::numeric OPERATOR(pg_catalog./) nullif(lag(st.reached) OVER w, 0),
           st.reached::numeric OPERATOR(pg_catalog./) nullif(first_value(st.reached) OVER w, 0)
      FROM (SELECT DISTINCT u.stage,
                   reach[array_position(enum_range(NULL::@extschema@.lead_stage), u.stage)] AS reached
              FROM unnest(coalesce(stages, enum_range('visitor'::@extschema@.lead_stage, 'won'))) AS u(stage)
             WHERE u.stage OPERATOR(pg_catalog.<=) 'won'::@extschema@.lead_stage) st
    WINDOW w AS (ORDER BY st.stage)
    ORDER BY st.stage;
END
$fn$;
COMMENT ON FUNCTION @extschema@.funnel_reach_steps(bigint[], @extschema@.lead_stage[]) IS
'Unpacks a funnel_reach result into one row per stage (the given open-or-won stages, in enum order, or all of visitor .. won): reached, conversion from the previous listed stage and from the first (numeric fractions, NULL where the denominator is 0; the first stage has no previous one). NULL reach: no rows; an array that is not a funnel_reach result (not 9 counts, NULL or negative counts, a count above the previous one): SQLSTATE 22023.';

-- ---------------------------------------------------------------------------
-- cycle_time(interval) -> cycle_time_stats, and the sketch functions

CREATE FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, interval)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, interval) IS
'Transition function of cycle_time and cycle_time_sketch: adds one duration (NULL: no change; negative: SQLSTATE 22023).';
CREATE FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, interval)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_remove' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, interval) IS
'Inverse transition function of cycle_time (moving window frames); NULL when the last copy of the maximum leaves, so the frame is recomputed.';
CREATE FUNCTION @extschema@.cycle_time_combine(@extschema@.cycle_time_sketch, @extschema@.cycle_time_sketch)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_combine(@extschema@.cycle_time_sketch, @extschema@.cycle_time_sketch) IS
'Combine function of cycle_time: merges two sketches (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.cycle_time_final(@extschema@.cycle_time_sketch) RETURNS @extschema@.cycle_time_stats
    AS 'MODULE_PATHNAME', 'lf_cycle_time_stats' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_final(@extschema@.cycle_time_sketch) IS
'Final function of cycle_time: the statistics of a sketch; no rows give (0, NULL, NULL, NULL, NULL, NULL).';
CREATE FUNCTION @extschema@.cycle_time_stats(@extschema@.cycle_time_sketch) RETURNS @extschema@.cycle_time_stats
    AS 'MODULE_PATHNAME', 'lf_cycle_time_stats' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_stats(@extschema@.cycle_time_sketch) IS
'Statistics of a stored sketch (n, mean, p50, p90, p95, max), as cycle_time returns them.';
CREATE FUNCTION @extschema@.cycle_time_quantile(sketch @extschema@.cycle_time_sketch, q float8) RETURNS interval
    AS 'MODULE_PATHNAME', 'lf_cycle_time_quantile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_quantile(@extschema@.cycle_time_sketch, float8) IS
'Estimated duration at quantile q (0..1, else SQLSTATE 22023) of a sketch, within 1 % of percentile_disc(q); NULL for an empty sketch.';
CREATE FUNCTION @extschema@.cycle_time_compact(@extschema@.cycle_time_sketch) RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_compact' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_compact(@extschema@.cycle_time_sketch) IS
'Final function of cycle_time_sketch and cycle_time_merge: the sketch with only its non-empty bins, for storage.';

CREATE AGGREGATE @extschema@.cycle_time(interval) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_final,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    MSFUNC = @extschema@.cycle_time_add,
    MINVFUNC = @extschema@.cycle_time_remove,
    MSTYPE = @extschema@.cycle_time_sketch,
    MFINALFUNC = @extschema@.cycle_time_final,
    MINITCOND = 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time(interval) IS
'Cycle-time statistics of durations as leadfunnel.cycle_time_stats (n, mean, p50, p90, p95, max): n, mean and max exact, quantiles from a mergeable log-bucket sketch within 1 % of percentile_disc. NULL durations are skipped; a negative one is an error (SQLSTATE 22023). Unpack with (cycle_time(d)).*.';

CREATE AGGREGATE @extschema@.cycle_time_sketch(interval) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_sketch(interval) IS
'The sketch of durations, to store (e.g. per day) and merge later with cycle_time_merge; NULL over no rows.';

CREATE AGGREGATE @extschema@.cycle_time_merge(@extschema@.cycle_time_sketch) (
    SFUNC = @extschema@.cycle_time_combine,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_merge(@extschema@.cycle_time_sketch) IS
'Merges stored sketches (e.g. daily into quarterly) into one sketch; read it with cycle_time_stats or cycle_time_quantile.';

-- ---------------------------------------------------------------------------
-- window_funnel(window interval, at timestamptz, stage lead_stage [, mode text]) -> lead_stage
-- ClickHouse's windowFunnel with step k = the k-th stage (window_funnel.c).

CREATE FUNCTION @extschema@.window_funnel_add(@extschema@.window_funnel_state, interval, timestamptz, @extschema@.lead_stage)
    RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_add(@extschema@.window_funnel_state, interval, timestamptz, @extschema@.lead_stage) IS
'Transition function of window_funnel (default mode): keeps the event (time, stage) of each row with a step stage.';
CREATE FUNCTION @extschema@.window_funnel_add(@extschema@.window_funnel_state, interval, timestamptz, @extschema@.lead_stage, text)
    RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_mode_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_add(@extschema@.window_funnel_state, interval, timestamptz, @extschema@.lead_stage, text) IS
'Transition function of window_funnel with a mode: keeps the event (time, stage) of each row the mode needs (skip_allowed: the earliest time of each stage).';
CREATE FUNCTION @extschema@.window_funnel_combine(@extschema@.window_funnel_state, @extschema@.window_funnel_state)
    RETURNS @extschema@.window_funnel_state
    AS 'MODULE_PATHNAME', 'lf_window_funnel_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_combine(@extschema@.window_funnel_state, @extschema@.window_funnel_state) IS
'Combine function of window_funnel: the events of both states (skip_allowed: the earliest time of each stage).';
CREATE FUNCTION @extschema@.window_funnel_final(@extschema@.window_funnel_state) RETURNS @extschema@.lead_stage
    AS 'MODULE_PATHNAME', 'lf_window_funnel_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.window_funnel_final(@extschema@.window_funnel_state) IS
'Final function of window_funnel: ClickHouse''s windowFunnel level of the state''s events under its mode, as the stage of that step (NULL for level 0).';

CREATE AGGREGATE @extschema@.window_funnel(interval, timestamptz, @extschema@.lead_stage) (
    SFUNC = @extschema@.window_funnel_add,
    STYPE = @extschema@.window_funnel_state,
    FINALFUNC = @extschema@.window_funnel_final,
    COMBINEFUNC = @extschema@.window_funnel_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.window_funnel(interval, timestamptz, @extschema@.lead_stage) IS
'window_funnel(window, at, stage): ClickHouse''s windowFunnel(window)(at, stage = visitor, stage = lead, ..., stage = won): a chain starts at a visitor event (and again at each later one) and advances one step at a time to the next stage in order, each within window of the chain''s start (a month counts 30 days, a day 24 hours); the furthest step any chain reaches, as its stage, NULL when no chain starts. Rows with NULL or infinite at, NULL stage or a closed-not-won stage are no events. The window must be the same on every row (SQLSTATE 22023), not NULL (22004) and not negative (22023).';

CREATE AGGREGATE @extschema@.window_funnel(interval, timestamptz, @extschema@.lead_stage, text) (
    SFUNC = @extschema@.window_funnel_add,
    STYPE = @extschema@.window_funnel_state,
    FINALFUNC = @extschema@.window_funnel_final,
    COMBINEFUNC = @extschema@.window_funnel_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.window_funnel(interval, timestamptz, @extschema@.lead_stage, text) IS
'window_funnel(window, at, stage, mode): window_funnel with ClickHouse''s modes, separated by commas: strict_order (another event after the chain started stops it), strict_deduplication (a repeated step stops it), strict_increase (steps at strictly increasing times), allow_reentry (with strict_order: a step out of order is ignored instead of stopping the chain); skip_allowed (alone) is leadfunnel 0.2.0''s rule (the chain starts at the earliest event, later stages within window count even if stages are skipped); until=<stage> ends the funnel at that stage. The mode must be the same on every row (SQLSTATE 22023); an unknown mode is 22023.';

-- ---------------------------------------------------------------------------
-- The model's funnel views

CREATE FUNCTION @extschema@.model_add_analytics(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    ddl text;
BEGIN
    -- the views read the history's current truth (superseded_at IS NULL)
    PERFORM @extschema@.model_add_history(target_schema);
    -- One statement per EXECUTE: Citus propagates DDL to the workers as its
    -- query string, which may hold only one statement.  The views only read
    -- the model's tables, which create_model has distributed by now, so Citus
    -- creates them on every node; CREATE OR REPLACE keeps this idempotent.
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.funnel_summary WITH (security_invoker = true) AS
        SELECT r.funnel, st.stage, st.reached, st.conversion_from_previous, st.conversion_from_top,
               coalesce(en.entered, 0) AS entered
          FROM (SELECT l.funnel, @extschema@.funnel_reach(l.max_stage) AS reach
                  FROM %1$s.lead l
                 GROUP BY l.funnel) r
          LEFT JOIN @extschema@.funnel f ON f.name = r.funnel
         CROSS JOIN LATERAL @extschema@.funnel_reach_steps(r.reach, f.stages) st
          LEFT JOIN (SELECT e.funnel, e.stage, count(*) AS entered
                       FROM (SELECT DISTINCT l.funnel, h.account_id, h.lead_id, h.to_stage AS stage
                               FROM %1$s.lead_stage_history h
                               JOIN %1$s.lead l ON l.account_id = h.account_id AND l.lead_id = h.lead_id
                              WHERE h.to_stage <= 'won' AND h.superseded_at IS NULL) e
                      GROUP BY e.funnel, e.stage) en ON en.funnel = r.funnel AND en.stage = st.stage
         ORDER BY r.funnel, st.stage$d$,
        $d$COMMENT ON VIEW %1$s.funnel_summary IS 'The funnel: for each funnel that has leads, one row per open-or-won stage of the funnel (all of visitor .. won if the funnel is no longer defined), in funnel order. Reached = leads whose max_stage is at or beyond the stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.stage IS 'Open-or-won stage of the funnel.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.reached IS 'Leads of the funnel whose max_stage is at or beyond this stage (enum order).'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.conversion_from_previous IS 'reached / reached of the funnel''s previous stage, 0..1; NULL for the first stage or when the previous stage has 0.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.conversion_from_top IS 'reached / reached of the funnel''s first stage, 0..1; NULL when that is 0.'$d$,
        $d$COMMENT ON COLUMN %1$s.funnel_summary.entered IS 'Leads of the funnel whose stage history entered this stage (unlike reached, a lead imported at a later stage or that skipped this one does not count).'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.conversion_by_segment WITH (security_invoker = true) AS
        WITH z AS MATERIALIZED (SELECT pg_catalog.current_setting('TimeZone') AS tz)
        SELECT g.period, g.funnel, g.campaign_id, g.product_area, g.region,
               st.stage, st.reached, st.conversion_from_previous
          FROM (SELECT date_trunc('month', l.created_at AT TIME ZONE z.tz)::date AS period, l.funnel,
                       l.source_campaign_id AS campaign_id, l.product_area, l.region,
                       @extschema@.funnel_reach(l.max_stage) AS reach
                  FROM %1$s.lead l
                 CROSS JOIN z
                 GROUP BY 1, 2, 3, 4, 5) g
          LEFT JOIN @extschema@.funnel f ON f.name = g.funnel
         CROSS JOIN LATERAL @extschema@.funnel_reach_steps(g.reach, f.stages) st
         ORDER BY g.period, g.funnel, g.campaign_id, g.product_area, g.region, st.stage$d$,
        $d$COMMENT ON VIEW %1$s.conversion_by_segment IS 'The funnel per segment: one row per creation month, funnel, source campaign, product area and region that has leads, and each open-or-won stage of the funnel. NULL segment values form their own group.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.period IS 'Month the lead was created (first day of the month, in the session''s TimeZone; on Citus too, as the zone is read once on the coordinator).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.campaign_id IS 'Source campaign (lead.source_campaign_id).'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.product_area IS 'Product area of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.region IS 'Region of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.stage IS 'Open-or-won stage of the funnel.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.reached IS 'Leads of the segment whose max_stage is at or beyond this stage.'$d$,
        $d$COMMENT ON COLUMN %1$s.conversion_by_segment.conversion_from_previous IS 'reached / reached of the funnel''s previous stage in the same segment, 0..1; NULL for the first stage or when the previous stage has 0.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.cycle_times WITH (security_invoker = true) AS
        SELECT c.funnel, c.measure, c.stage, (c.t).n, (c.t).mean, (c.t).p50, (c.t).p90, (c.t).p95, (c.t).max
          FROM (SELECT l.funnel, 'time_in_stage'::text AS measure, h.to_stage AS stage,
                       @extschema@.cycle_time(h.entered_at, h.left_at) AS t
                  FROM %1$s.lead_stage_history h
                  JOIN %1$s.lead l ON l.account_id = h.account_id AND l.lead_id = h.lead_id
                 WHERE h.left_at IS NOT NULL AND h.superseded_at IS NULL
                 GROUP BY l.funnel, h.to_stage
                UNION ALL
                SELECT l.funnel, 'lead_duration', NULL, @extschema@.cycle_time(l.created_at, l.closed_at)
                  FROM %1$s.lead l
                 WHERE l.closed_at IS NOT NULL
                 GROUP BY l.funnel
                UNION ALL
                SELECT l.funnel, 'time_to_conversion', NULL, @extschema@.cycle_time(l.created_at, l.closed_at)
                  FROM %1$s.lead l
                 WHERE l.stage = 'won'
                 GROUP BY l.funnel) c
         ORDER BY c.funnel, c.measure, c.stage$d$,
        $d$COMMENT ON VIEW %1$s.cycle_times IS 'Cycle times per funnel: time in each stage (completed stays in lead_stage_history), lead duration (created to closed, closed leads) and time to conversion (created to won). One row per group that has durations. Quantiles are within 1 %% of percentile_disc.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.funnel IS 'Funnel (the lead''s current lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.measure IS 'time_in_stage, lead_duration or time_to_conversion.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.stage IS 'For time_in_stage the stage stayed in (left_at - entered_at of its completed history rows, closed stages such as recycled included); NULL for the other measures.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.n IS 'Number of durations (stays or leads).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.mean IS 'Exact mean duration, rounded to the microsecond.'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.p50 IS 'Median duration (estimate within 1 %% of percentile_disc(0.5)).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.p90 IS '90th percentile of the durations (within 1 %% of percentile_disc(0.9)).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.p95 IS '95th percentile of the durations (within 1 %% of percentile_disc(0.95)).'$d$,
        $d$COMMENT ON COLUMN %1$s.cycle_times.max IS 'Longest duration (exact).'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.dropoff WITH (security_invoker = true) AS
        SELECT d.funnel, d.last_open_stage, d.outcome, d.leads,
               d.leads::numeric / nullif(sum(d.leads) OVER (PARTITION BY d.funnel), 0) AS share
          FROM (SELECT l.funnel, lo.stage AS last_open_stage, l.stage AS outcome, count(*) AS leads
                  FROM %1$s.lead l
                  LEFT JOIN LATERAL (SELECT h.to_stage AS stage
                                       FROM %1$s.lead_stage_history h
                                      WHERE h.account_id = l.account_id AND h.lead_id = l.lead_id
                                        AND h.to_stage <= 'opportunity' AND h.superseded_at IS NULL
                                      ORDER BY h.seq DESC
                                      LIMIT 1) lo ON true
                 WHERE l.stage >= 'recycled'
                 GROUP BY 1, 2, 3) d
         ORDER BY d.funnel, d.last_open_stage, d.outcome$d$,
        $d$COMMENT ON VIEW %1$s.dropoff IS 'Where leads drop out: closed-not-won leads (current stage recycled, disqualified or lost) per funnel, by the last open stage they were in before closing and by outcome.'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.funnel IS 'Funnel (lead.funnel).'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.last_open_stage IS 'The open stage the lead was in right before its final close: the latest open stage in its history (for a recycled lead that was reopened and closed again, the stage it closed from the last time).'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.outcome IS 'How the lead closed: recycled, disqualified or lost (its current stage).'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.leads IS 'Number of leads.'$d$,
        $d$COMMENT ON COLUMN %1$s.dropoff.share IS 'leads / all closed-not-won leads of the funnel, 0..1.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_analytics(name) IS
'Creates (or replaces) the funnel views funnel_summary, conversion_by_segment, cycle_times and dropoff in a model; called by create_model, and usable on a model made by an earlier version.';

-- ---------------------------------------------------------------------------
-- cycle_time(started, ended) and cycle_time_sketch(started, ended): the same
-- aggregates over ended - started, without an interval per row (the
-- subtraction builds and justifies a pass-by-reference interval for every
-- row).  Same state, combine and final functions, so the results are those of
-- cycle_time(ended - started), byte for byte.  Overloads for timestamptz and
-- for timestamp, so that timestamp columns are not cast to timestamptz (which
-- would depend on the session's time zone across daylight-saving changes).

CREATE FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, started timestamptz, ended timestamptz)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, timestamptz, timestamptz) IS
'Transition function of cycle_time(started, ended) and cycle_time_sketch(started, ended): adds the duration ended - started (NULL start or end: no change; end before start: SQLSTATE 22023; an infinite time: 22008).';
CREATE FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, started timestamp, ended timestamp)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_add(@extschema@.cycle_time_sketch, timestamp, timestamp) IS
'Transition function of cycle_time(started, ended) and cycle_time_sketch(started, ended) for timestamp without time zone: adds the duration ended - started (NULL start or end: no change; end before start: SQLSTATE 22023; an infinite time: 22008).';
CREATE FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, started timestamptz, ended timestamptz)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_remove_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, timestamptz, timestamptz) IS
'Inverse transition function of cycle_time(started, ended) (moving window frames); NULL when the last copy of the maximum leaves, so the frame is recomputed.';
CREATE FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, started timestamp, ended timestamp)
    RETURNS @extschema@.cycle_time_sketch
    AS 'MODULE_PATHNAME', 'lf_cycle_time_remove_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_remove(@extschema@.cycle_time_sketch, timestamp, timestamp) IS
'Inverse transition function of cycle_time(started, ended) for timestamp without time zone (moving window frames).';

CREATE AGGREGATE @extschema@.cycle_time(started timestamptz, ended timestamptz) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_final,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    MSFUNC = @extschema@.cycle_time_add,
    MINVFUNC = @extschema@.cycle_time_remove,
    MSTYPE = @extschema@.cycle_time_sketch,
    MFINALFUNC = @extschema@.cycle_time_final,
    MINITCOND = 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time(timestamptz, timestamptz) IS
'cycle_time(started, ended): the same result as cycle_time(ended - started), faster (no interval per row). Rows with a NULL start or end are skipped; an end before the start is an error (SQLSTATE 22023), as is an infinite time (22008).';
CREATE AGGREGATE @extschema@.cycle_time(started timestamp, ended timestamp) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_final,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    MSFUNC = @extschema@.cycle_time_add,
    MINVFUNC = @extschema@.cycle_time_remove,
    MSTYPE = @extschema@.cycle_time_sketch,
    MFINALFUNC = @extschema@.cycle_time_final,
    MINITCOND = 'v1 n=0 zero=0 max=0 max_n=0 sum=0 bins=',
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time(timestamp, timestamp) IS
'cycle_time(started, ended) for timestamp without time zone: the same result as cycle_time(ended - started), faster. NULL start or end skipped; end before start: SQLSTATE 22023; an infinite time: 22008.';

CREATE AGGREGATE @extschema@.cycle_time_sketch(started timestamptz, ended timestamptz) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_sketch(timestamptz, timestamptz) IS
'The sketch of the durations ended - started, the same as cycle_time_sketch(ended - started); NULL over no rows.';
CREATE AGGREGATE @extschema@.cycle_time_sketch(started timestamp, ended timestamp) (
    SFUNC = @extschema@.cycle_time_add,
    STYPE = @extschema@.cycle_time_sketch,
    FINALFUNC = @extschema@.cycle_time_compact,
    COMBINEFUNC = @extschema@.cycle_time_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_sketch(timestamp, timestamp) IS
'The sketch of the durations ended - started for timestamp without time zone, the same as cycle_time_sketch(ended - started); NULL over no rows.';

-- ---------------------------------------------------------------------------
-- cycle_time_by_stage(stage, started, ended) / (stage, duration) ->
-- cycle_time_stage_stats[]: time in stage per stage in one ungrouped pass
-- (one cycle_time sketch per stage in the state; src/sketch.c)
-- ---------------------------------------------------------------------------
CREATE TYPE @extschema@.cycle_time_stage_stats AS (
    stage @extschema@.lead_stage,
    n bigint,
    mean interval,
    p50 interval,
    p90 interval,
    p95 interval,
    max interval
);
COMMENT ON TYPE @extschema@.cycle_time_stage_stats IS
'Element of the result of cycle_time_by_stage: a stage and the cycle_time statistics of its durations (n, mean, p50, p90, p95, max), the same values as cycle_time over that stage''s rows.';

CREATE TYPE @extschema@.cycle_time_by_stage_state;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_in(cstring) RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_out(@extschema@.cycle_time_by_stage_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_recv(internal) RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cycle_time_by_stage_state_send(@extschema@.cycle_time_by_stage_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.cycle_time_by_stage_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.cycle_time_by_stage_state_in, OUTPUT = @extschema@.cycle_time_by_stage_state_out,
    RECEIVE = @extschema@.cycle_time_by_stage_state_recv, SEND = @extschema@.cycle_time_by_stage_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.cycle_time_by_stage_state IS
'State of cycle_time_by_stage: one cycle_time_sketch per stage that had rows (at most 12, 213 kB). Text form: v1 <stage>:(n=.. zero=.. max=.. max_n=.. sum=.. bins=bin:count,...) ... in stage order; binary form: version byte 1, int16 bit set of the stages, then each stage''s sketch as cycle_time_sketch''s binary form without the version byte.';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_in(cstring) IS 'Input function of cycle_time_by_stage_state (checks version, stages and every sketch; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_out(@extschema@.cycle_time_by_stage_state) IS 'Output function of cycle_time_by_stage_state.';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_recv(internal) IS 'Binary receive function of cycle_time_by_stage_state (checks version, stages, sizes and every sketch; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_state_send(@extschema@.cycle_time_by_stage_state) IS 'Binary send function of cycle_time_by_stage_state.';

CREATE FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, stage @extschema@.lead_stage, duration interval)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, @extschema@.lead_stage, interval) IS
'Transition function of cycle_time_by_stage(stage, duration): adds the duration to the stage''s sketch (NULL stage or duration: no change; negative: SQLSTATE 22023).';
CREATE FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, stage @extschema@.lead_stage, started timestamptz, ended timestamptz)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, @extschema@.lead_stage, timestamptz, timestamptz) IS
'Transition function of cycle_time_by_stage(stage, started, ended): adds ended - started to the stage''s sketch (any NULL: no change; end before start: SQLSTATE 22023; infinite: 22008).';
CREATE FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, stage @extschema@.lead_stage, started timestamp, ended timestamp)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_add_span' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_add(@extschema@.cycle_time_by_stage_state, @extschema@.lead_stage, timestamp, timestamp) IS
'Transition function of cycle_time_by_stage(stage, started, ended) for timestamp without time zone.';
CREATE FUNCTION @extschema@.cycle_time_by_stage_combine(@extschema@.cycle_time_by_stage_state, @extschema@.cycle_time_by_stage_state)
    RETURNS @extschema@.cycle_time_by_stage_state
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_combine(@extschema@.cycle_time_by_stage_state, @extschema@.cycle_time_by_stage_state) IS
'Combine function of cycle_time_by_stage: merges the sketches stage by stage (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.cycle_time_by_stage_final(@extschema@.cycle_time_by_stage_state)
    RETURNS @extschema@.cycle_time_stage_stats[]
    AS 'MODULE_PATHNAME', 'lf_cycle_time_by_stage_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cycle_time_by_stage_final(@extschema@.cycle_time_by_stage_state) IS
'Final function of cycle_time_by_stage: one cycle_time_stage_stats per stage with rows, in stage order; no rows give an empty array.';
CREATE AGGREGATE @extschema@.cycle_time_by_stage(stage @extschema@.lead_stage, started timestamptz, ended timestamptz) (
    SFUNC = @extschema@.cycle_time_by_stage_add,
    STYPE = @extschema@.cycle_time_by_stage_state,
    FINALFUNC = @extschema@.cycle_time_by_stage_final,
    COMBINEFUNC = @extschema@.cycle_time_by_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_by_stage(@extschema@.lead_stage, timestamptz, timestamptz) IS
'Time in stage per stage in one pass: an array of cycle_time_stage_stats (stage, n, mean, p50, p90, p95, max), one per stage with rows, each identical to cycle_time(started, ended) over that stage''s rows; no GROUP BY needed. Rows with a NULL stage, start or end are skipped; an end before the start is SQLSTATE 22023, an infinite time 22008. Unpack with SELECT s.* FROM unnest(cycle_time_by_stage(...)) s.';
CREATE AGGREGATE @extschema@.cycle_time_by_stage(stage @extschema@.lead_stage, started timestamp, ended timestamp) (
    SFUNC = @extschema@.cycle_time_by_stage_add,
    STYPE = @extschema@.cycle_time_by_stage_state,
    FINALFUNC = @extschema@.cycle_time_by_stage_final,
    COMBINEFUNC = @extschema@.cycle_time_by_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_by_stage(@extschema@.lead_stage, timestamp, timestamp) IS
'cycle_time_by_stage(stage, started, ended) for timestamp without time zone.';
CREATE AGGREGATE @extschema@.cycle_time_by_stage(stage @extschema@.lead_stage, duration interval) (
    SFUNC = @extschema@.cycle_time_by_stage_add,
    STYPE = @extschema@.cycle_time_by_stage_state,
    FINALFUNC = @extschema@.cycle_time_by_stage_final,
    COMBINEFUNC = @extschema@.cycle_time_by_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.cycle_time_by_stage(@extschema@.lead_stage, interval) IS
'cycle_time_by_stage(stage, duration): per stage identical to cycle_time(duration) over that stage''s rows. NULL stage or duration skipped; a negative duration is SQLSTATE 22023.';
