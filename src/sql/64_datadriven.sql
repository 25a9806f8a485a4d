-- Data-driven attribution (0.3): the aggregates markov_attribution and
-- shapley_attribution over one row per lead (its path of channels, whether it
-- converted, its value), in C (src/datadriven.c), with real state types whose
-- text and binary forms are what parallel query and Citus ship.  The model's
-- views over them (lead_channel_path, channel_attribution,
-- attribution_coverage) are created by model_add_datadriven.
-- Reference: doc/attribution.md.

CREATE TYPE @extschema@.channel_credit AS (
    channel text,
    effect float8,
    conversions float8,
    value float8
);
COMMENT ON TYPE @extschema@.channel_credit IS
'One channel''s data-driven credit: effect (Markov: removal effect; Shapley: the channel''s Shapley value in the game over all channels), conversions and value credited to it (they add up to the total conversions and converting value over the channels). Result element of markov_attribution and shapley_attribution.';

CREATE TYPE @extschema@.markov_attribution_state;
CREATE FUNCTION @extschema@.markov_attribution_state_in(cstring) RETURNS @extschema@.markov_attribution_state
    AS 'MODULE_PATHNAME', 'lf_markov_attribution_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.markov_attribution_state_out(@extschema@.markov_attribution_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_markov_attribution_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.markov_attribution_state_recv(internal) RETURNS @extschema@.markov_attribution_state
    AS 'MODULE_PATHNAME', 'lf_markov_attribution_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.markov_attribution_state_send(@extschema@.markov_attribution_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_markov_attribution_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.markov_attribution_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.markov_attribution_state_in, OUTPUT = @extschema@.markov_attribution_state_out,
    RECEIVE = @extschema@.markov_attribution_state_recv, SEND = @extschema@.markov_attribution_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.markov_attribution_state IS
'State of the markov_attribution aggregate: the channels seen (at most 1000) and the transition counts of the absorbing chain between start, the channels, conversion and null, plus the value of converting paths as a 128-bit fixed-point integer in units of 2^-40. Text form v1 <value> <n> "<channel>"... <from>:<to>:<count>... (channels in name order, \\ and \" escaped; from 0 = start or channel 1..n, to channel 1..n, n+1 = conversion, n+2 = null; in increasing order). Binary form: version byte 1, value (int64 high, low), int32 n, names (int32 length, bytes), int32 count, (int32 from, int32 to, int64 count) each.';
COMMENT ON FUNCTION @extschema@.markov_attribution_state_in(cstring) IS 'Input function of markov_attribution_state (checks version, names and their order, ranges, that every channel is entered from the start and left as often as it is entered; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.markov_attribution_state_out(@extschema@.markov_attribution_state) IS 'Output function of markov_attribution_state.';
COMMENT ON FUNCTION @extschema@.markov_attribution_state_recv(internal) IS 'Binary receive function of markov_attribution_state (checks version, sizes, names, order, ranges and flow; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.markov_attribution_state_send(@extschema@.markov_attribution_state) IS 'Binary send function of markov_attribution_state.';

CREATE TYPE @extschema@.shapley_attribution_state;
CREATE FUNCTION @extschema@.shapley_attribution_state_in(cstring) RETURNS @extschema@.shapley_attribution_state
    AS 'MODULE_PATHNAME', 'lf_shapley_attribution_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.shapley_attribution_state_out(@extschema@.shapley_attribution_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_shapley_attribution_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.shapley_attribution_state_recv(internal) RETURNS @extschema@.shapley_attribution_state
    AS 'MODULE_PATHNAME', 'lf_shapley_attribution_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.shapley_attribution_state_send(@extschema@.shapley_attribution_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_shapley_attribution_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.shapley_attribution_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.shapley_attribution_state_in, OUTPUT = @extschema@.shapley_attribution_state_out,
    RECEIVE = @extschema@.shapley_attribution_state_recv, SEND = @extschema@.shapley_attribution_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.shapley_attribution_state IS
'State of the shapley_attribution aggregate: the channels seen (at most 64) and, per distinct set of channels on a path (at most 1,000,000), its paths, conversions and converting value (128-bit fixed point, units of 2^-40). Text form v1 <n> "<channel>"... <mask>:<paths>:<conversions>:<value>... (channels in name order, \\ and \" escaped; bit k-1 of mask = channel k; masks in increasing order). Binary form: version byte 1, int32 n, names (int32 length, bytes), int32 count, (int64 mask, int64 paths, int64 conversions, int64 value high, low) each.';
COMMENT ON FUNCTION @extschema@.shapley_attribution_state_in(cstring) IS 'Input function of shapley_attribution_state (checks version, names and their order, masks and their order, counts and values; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.shapley_attribution_state_out(@extschema@.shapley_attribution_state) IS 'Output function of shapley_attribution_state.';
COMMENT ON FUNCTION @extschema@.shapley_attribution_state_recv(internal) IS 'Binary receive function of shapley_attribution_state (checks version, sizes, names, masks, order, counts and values; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.shapley_attribution_state_send(@extschema@.shapley_attribution_state) IS 'Binary send function of shapley_attribution_state.';

CREATE FUNCTION @extschema@.markov_attribution_trans(@extschema@.markov_attribution_state, text[], boolean, numeric)
    RETURNS @extschema@.markov_attribution_state AS 'MODULE_PATHNAME', 'lf_markov_attribution_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.markov_attribution_trans(@extschema@.markov_attribution_state, text[], boolean, numeric) IS
'Transition function of the aggregate markov_attribution: adds one lead''s path (consecutive repeats collapsed) to the transition counts.';
CREATE FUNCTION @extschema@.markov_attribution_combine(@extschema@.markov_attribution_state, @extschema@.markov_attribution_state)
    RETURNS @extschema@.markov_attribution_state AS 'MODULE_PATHNAME', 'lf_markov_attribution_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.markov_attribution_combine(@extschema@.markov_attribution_state, @extschema@.markov_attribution_state) IS
'Combine function of the aggregate markov_attribution: adds two partial states, channels matched by name (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.markov_attribution_final(@extschema@.markov_attribution_state)
    RETURNS @extschema@.channel_credit[] AS 'MODULE_PATHNAME', 'lf_markov_attribution_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.markov_attribution_final(@extschema@.markov_attribution_state) IS
'Final function of the aggregate markov_attribution: one channel_credit per channel, in channel-name order (byte order); an empty array without paths.';
CREATE AGGREGATE @extschema@.markov_attribution(path text[], converted boolean, value numeric) (
    SFUNC = @extschema@.markov_attribution_trans,
    STYPE = @extschema@.markov_attribution_state,
    FINALFUNC = @extschema@.markov_attribution_final,
    COMBINEFUNC = @extschema@.markov_attribution_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.markov_attribution(text[], boolean, numeric) IS
'Data-driven attribution by a first-order absorbing Markov chain over the channel paths of leads (one row per lead: path of channels in time order, whether it converted, its value; non-converting paths included; NULL elements skipped, consecutive repeats one visit; NULL or empty paths and NULL converted add nothing): per channel its removal effect (1 - P(conversion without it) / P(conversion)) and its share of the conversions and of the converting value, in proportion to the effects. State: markov_attribution_state (transition counts, exact).';

CREATE FUNCTION @extschema@.shapley_attribution_trans(@extschema@.shapley_attribution_state, text[], boolean, numeric)
    RETURNS @extschema@.shapley_attribution_state AS 'MODULE_PATHNAME', 'lf_shapley_attribution_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.shapley_attribution_trans(@extschema@.shapley_attribution_state, text[], boolean, numeric) IS
'Transition function of the aggregate shapley_attribution: adds one lead''s set of channels with its conversion and value.';
CREATE FUNCTION @extschema@.shapley_attribution_combine(@extschema@.shapley_attribution_state, @extschema@.shapley_attribution_state)
    RETURNS @extschema@.shapley_attribution_state AS 'MODULE_PATHNAME', 'lf_shapley_attribution_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.shapley_attribution_combine(@extschema@.shapley_attribution_state, @extschema@.shapley_attribution_state) IS
'Combine function of the aggregate shapley_attribution: adds two partial states, channels matched by name (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.shapley_attribution_final(@extschema@.shapley_attribution_state)
    RETURNS @extschema@.channel_credit[] AS 'MODULE_PATHNAME', 'lf_shapley_attribution_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.shapley_attribution_final(@extschema@.shapley_attribution_state) IS
'Final function of the aggregate shapley_attribution: one channel_credit per channel, in channel-name order (byte order); an empty array without paths.';
CREATE AGGREGATE @extschema@.shapley_attribution(path text[], converted boolean, value numeric) (
    SFUNC = @extschema@.shapley_attribution_trans,
    STYPE = @extschema@.shapley_attribution_state,
    FINALFUNC = @extschema@.shapley_attribution_final,
    COMBINEFUNC = @extschema@.shapley_attribution_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.shapley_attribution(text[], boolean, numeric) IS
'Data-driven attribution by exact Shapley values over the sets of channels on the leads'' paths (one row per lead: path of channels, whether it converted, its value; non-converting paths included): v(S) = conversions / paths among paths whose set of distinct channels is exactly S; effect = the channel''s Shapley value over all channels seen; each converting path is split among its channels by their Shapley values in the game over the subsets of its set, divided by v(S). At most 64 channels (SQLSTATE 54000). State: shapley_attribution_state (counts per set, exact).';

CREATE FUNCTION @extschema@.model_add_datadriven(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    ddl text;
BEGIN
    -- one statement per EXECUTE (Citus propagates DDL as its query string);
    -- CREATE OR REPLACE keeps this idempotent for upgrade_model
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.lead_channel_path WITH (security_invoker = true) AS
        SELECT l.lead_id, l.account_id,
               coalesce(pa.channels, '{}') AS channels,
               coalesce(pa.campaigns, '{}') AS campaigns,
               l.stage,
               l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage AS won,
               l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage AS pipeline,
               l.amount
          FROM %1$s.lead l
          LEFT JOIN (SELECT lt.account_id, lt.lead_id,
                            array_agg(c.channel ORDER BY lt.touched_at, lt.touch_id) AS channels,
                            array_agg(lt.campaign_id::text ORDER BY lt.touched_at, lt.touch_id) AS campaigns
                       FROM %1$s.lead_touch lt
                       LEFT JOIN %1$s.campaign c ON c.campaign_id OPERATOR(pg_catalog.=) lt.campaign_id
                      GROUP BY lt.account_id, lt.lead_id) pa
            ON pa.account_id OPERATOR(pg_catalog.=) l.account_id AND pa.lead_id OPERATOR(pg_catalog.=) l.lead_id$d$,
        $d$COMMENT ON VIEW %1$s.lead_channel_path IS
            'One path per lead for the data-driven aggregates (leadfunnel.markov_attribution, leadfunnel.shapley_attribution): the channels (campaign.channel) and campaigns of the touches that count for it (see lead_touch: lookback, ABM) in time order, with its outcome and amount. Leads without touches have empty arrays (unattributed).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.lead_id IS 'Lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.channels IS 'Channel (campaign.channel, NULL when the campaign has none) of each touch that counts, in the order of touched_at, touch_id.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.campaigns IS 'Campaign id (as text) of each touch that counts, same order: the path over campaigns.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.stage IS 'Current stage of the lead (its outcome when closed).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.won IS 'True if the lead was won.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.pipeline IS 'True if the lead reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_channel_path.amount IS 'Amount of the lead.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.channel_attribution WITH (security_invoker = true) AS
        WITH rule AS (
            SELECT ca.model_name AS model, c.channel, sum(ca.attributed_leads) AS leads,
                   sum(ca.attributed_pipeline) AS pipeline, sum(ca.attributed_won) AS won
              FROM %1$s.campaign_attribution ca
              JOIN %1$s.campaign c ON c.campaign_id OPERATOR(pg_catalog.=) ca.campaign_id
             GROUP BY ca.model_name, c.channel
        ), dd AS MATERIALIZED (
            SELECT @extschema@.markov_attribution(p.channels, p.won, p.amount) AS markov_won,
                   @extschema@.markov_attribution(p.channels, p.pipeline, p.amount) AS markov_pipeline,
                   @extschema@.shapley_attribution(p.channels, p.won, p.amount) AS shapley_won,
                   @extschema@.shapley_attribution(p.channels, p.pipeline, p.amount) AS shapley_pipeline
              FROM %1$s.lead_channel_path p
             WHERE pg_catalog.cardinality(p.channels) OPERATOR(pg_catalog.>) 0
        )
        SELECT r.model, r.channel, r.leads AS attributed_leads, r.pipeline AS attributed_pipeline, r.won AS attributed_won,
               NULL::float8 AS effect
          FROM rule r
        UNION ALL
        SELECT 'markov', u.channel, u.conversions::numeric, u.p_value::numeric, u.value::numeric, u.effect
          FROM dd CROSS JOIN LATERAL unnest(dd.markov_won, dd.markov_pipeline)
                   u(channel, effect, conversions, value, p_channel, p_effect, p_conversions, p_value)
        UNION ALL
        SELECT 'shapley', u.channel, u.conversions::numeric, u.p_value::numeric, u.value::numeric, u.effect
          FROM dd CROSS JOIN LATERAL unnest(dd.shapley_won, dd.shapley_pipeline)
                   u(channel, effect, conversions, value, p_channel, p_effect, p_conversions, p_value)$d$,
        $d$COMMENT ON VIEW %1$s.channel_attribution IS
            'Credit per channel (campaign.channel) under every attribution model: the rule-based models (built-in and user, from campaign_attribution summed over the campaigns of each channel; channel NULL for campaigns without one) and the data-driven markov and shapley (leadfunnel.markov_attribution / shapley_attribution over lead_channel_path, conversion = won for attributed_leads and attributed_won, = reached opportunity for attributed_pipeline, value = amount).'$d$,
        $d$COMMENT ON COLUMN %1$s.channel_attribution.model IS 'Model: a built-in model''s name, a user model''s name (leadfunnel.attribution_model_def), ''markov'' or ''shapley''.'$d$,
        $d$COMMENT ON COLUMN %1$s.channel_attribution.channel IS 'Channel (campaign.channel).'$d$,
        $d$COMMENT ON COLUMN %1$s.channel_attribution.attributed_leads IS 'Rule-based: sum of the channel''s credit over attributed leads. markov, shapley: won leads credited to the channel (data-driven models credit conversions, not leads).'$d$,
        $d$COMMENT ON COLUMN %1$s.channel_attribution.attributed_pipeline IS 'Amount of leads that reached opportunity credited to the channel (markov, shapley: reaching opportunity is the conversion).'$d$,
        $d$COMMENT ON COLUMN %1$s.channel_attribution.attributed_won IS 'Amount of won leads credited to the channel.'$d$,
        $d$COMMENT ON COLUMN %1$s.channel_attribution.effect IS 'markov: removal effect of the channel for winning; shapley: its Shapley value for winning; NULL for rule-based models.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.attribution_coverage WITH (security_invoker = true) AS
        WITH z AS MATERIALIZED (SELECT pg_catalog.current_setting('TimeZone') AS tz)
        SELECT g.period, g.won_leads, g.unattributed_won_leads, g.pipeline_leads, g.unattributed_pipeline_leads,
               CASE WHEN g.won_leads OPERATOR(pg_catalog.>) 0
                    THEN g.unattributed_won_leads::numeric OPERATOR(pg_catalog./) g.won_leads END AS unattributed_won_share,
               CASE WHEN g.pipeline_leads OPERATOR(pg_catalog.>) 0
                    THEN g.unattributed_pipeline_leads::numeric OPERATOR(pg_catalog./) g.pipeline_leads END AS unattributed_pipeline_share
          FROM (SELECT date_trunc('month', l.created_at AT TIME ZONE z.tz)::date AS period,
                       count(*) FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage) AS won_leads,
                       count(*) FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage AND t.lead_id IS NULL)
                           AS unattributed_won_leads,
                       count(*) FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage) AS pipeline_leads,
                       count(*) FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage AND t.lead_id IS NULL)
                           AS unattributed_pipeline_leads
                  FROM %1$s.lead l
                 CROSS JOIN z
                  LEFT JOIN (SELECT lt.account_id, lt.lead_id FROM %1$s.lead_touch lt GROUP BY lt.account_id, lt.lead_id) t
                    ON t.account_id OPERATOR(pg_catalog.=) l.account_id AND t.lead_id OPERATOR(pg_catalog.=) l.lead_id
                 GROUP BY 1) g
         ORDER BY g.period$d$,
        $d$COMMENT ON VIEW %1$s.attribution_coverage IS
            'Per month of lead creation, the won and pipeline leads and those of them that no touch counts for (none in the lookback window, see lead_touch): unattributed, left out of every attribution model''s credit.'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.period IS 'Month the lead was created (first day of the month, in the session''s TimeZone).'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.won_leads IS 'Leads created in the month that were won.'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.unattributed_won_leads IS 'Of those, leads with no touch that counts (unattributed).'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.pipeline_leads IS 'Leads created in the month that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.unattributed_pipeline_leads IS 'Of those, leads with no touch that counts (unattributed).'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.unattributed_won_share IS 'unattributed_won_leads / won_leads, 0..1; NULL without won leads.'$d$,
        $d$COMMENT ON COLUMN %1$s.attribution_coverage.unattributed_pipeline_share IS 'unattributed_pipeline_leads / pipeline_leads, 0..1; NULL without pipeline leads.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_datadriven(name) IS
'Internal (called by create_model, and by upgrade_model on existing models): creates the data-driven attribution views lead_channel_path, channel_attribution and attribution_coverage in a model schema (after model_add_attribution, whose views they read).';
