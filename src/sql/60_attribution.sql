-- Attribution: the weighted multi-touch models in C (attribution_weights and
-- the one-pass credit functions), the model's touched-pipeline and
-- attribution views (created by model_add_attribution), and a deterministic
-- generator of demo touches.  Reference: doc/attribution.md.

CREATE FUNCTION @extschema@.attribution_weights(
        model @extschema@.attribution_model,
        touched_at timestamptz[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'lf_attribution_weights'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_weights(@extschema@.attribution_model, timestamptz[], timestamptz, timestamptz, timestamptz, interval) IS
'Weight of each touch of one lead under an attribution model: one float8 per element of touched_at, same order and subscripts, in any input order. Touches with a NULL time or after closed_at weigh 0; the others sum to 1. Milestones: first touch, last touch at or before lead creation, at or before opportunity creation, at or before closing (ties: the later array position is the later touch). time_decay: 2^(-age/half_life), age to closed_at or else to the latest milestone time given. NULL model, touched_at or half_life: NULL. A half_life that is not positive: SQLSTATE 22023. See doc/attribution.md.';

CREATE FUNCTION @extschema@.touch_credit(
        touched_at timestamptz[],
        touch_id bigint[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS TABLE (touch_index int, model @extschema@.attribution_model, credit float8)
    AS 'MODULE_PATHNAME', 'lf_touch_credit'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 35;
COMMENT ON FUNCTION @extschema@.touch_credit(timestamptz[], bigint[], timestamptz, timestamptz, timestamptz, interval) IS
'Credit of every eligible touch of one lead under every attribution model, computed in one pass: touch_index is the 1-based position in touched_at. Equal times are ordered by touch_id (same length as touched_at, or NULL for the array position). Same rules as attribution_weights; ineligible touches give no rows.';

CREATE FUNCTION @extschema@.campaign_credit(
        touched_at timestamptz[],
        touch_id bigint[],
        campaign_id bigint[],
        lead_created_at timestamptz,
        opportunity_created_at timestamptz,
        closed_at timestamptz,
        half_life interval DEFAULT '7 days')
    RETURNS TABLE (model @extschema@.attribution_model, campaign_id bigint, credit float8)
    AS 'MODULE_PATHNAME', 'lf_campaign_credit'
    LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 21;
COMMENT ON FUNCTION @extschema@.campaign_credit(timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval) IS
'Credit of each campaign for one lead under every attribution model, computed in one pass: the weights of the lead''s touches (attribution_weights rules; equal times ordered by touch_id) added up per campaign_id (same length as touched_at). Rows with zero credit are left out, so the credits of one model sum to 1 and a lead without eligible touches gives no rows.';

CREATE TYPE @extschema@.attribution_total AS (
    campaign_id bigint,
    model @extschema@.attribution_model,
    leads float8,
    pipeline float8,
    won float8
);
COMMENT ON TYPE @extschema@.attribution_total IS
'One campaign''s credit under one attribution model, summed over leads: result element of the aggregate attribution_totals.';

CREATE TYPE @extschema@.attribution_totals_state;
CREATE FUNCTION @extschema@.attribution_totals_state_in(cstring) RETURNS @extschema@.attribution_totals_state
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.attribution_totals_state_out(@extschema@.attribution_totals_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.attribution_totals_state_recv(internal) RETURNS @extschema@.attribution_totals_state
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.attribution_totals_state_send(@extschema@.attribution_totals_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lf_attribution_totals_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.attribution_totals_state (
    INTERNALLENGTH = VARIABLE,
    INPUT = @extschema@.attribution_totals_state_in, OUTPUT = @extschema@.attribution_totals_state_out,
    RECEIVE = @extschema@.attribution_totals_state_recv, SEND = @extschema@.attribution_totals_state_send,
    ALIGNMENT = double, STORAGE = extended
);
COMMENT ON TYPE @extschema@.attribution_totals_state IS
'State of the attribution_totals aggregate: per campaign, 27 sums (for each of the 9 built-in attribution models: credit, credit times pipeline amount, credit times won amount) as 128-bit fixed-point integers in units of 2^-40, so that sums do not depend on the order of rows or on how states are combined. Text form v2 <campaign_id|null>:<27 integers>,... (campaigns in increasing order, null last); binary form: version byte 2, int32 count, per campaign a null flag byte, int64 id and 27 int128 (high, low int64). Format 1 (0.2.0: 7 models, 21 sums) is still read, j_shaped and inverse_j 0.';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_in(cstring) IS 'Input function of attribution_totals_state (checks version, order, counts and ranges; SQLSTATE 22P02).';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_out(@extschema@.attribution_totals_state) IS 'Output function of attribution_totals_state.';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_recv(internal) IS 'Binary receive function of attribution_totals_state (checks version, sizes, order and ranges; SQLSTATE 22P03).';
COMMENT ON FUNCTION @extschema@.attribution_totals_state_send(@extschema@.attribution_totals_state) IS 'Binary send function of attribution_totals_state.';

CREATE FUNCTION @extschema@.attribution_totals_trans(@extschema@.attribution_totals_state, timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8)
    RETURNS @extschema@.attribution_totals_state AS 'MODULE_PATHNAME', 'lf_attribution_totals_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_totals_trans(@extschema@.attribution_totals_state, timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8) IS
'Transition function of the aggregate attribution_totals: adds one lead''s campaign credit under every model.';
CREATE FUNCTION @extschema@.attribution_totals_combine(@extschema@.attribution_totals_state, @extschema@.attribution_totals_state)
    RETURNS @extschema@.attribution_totals_state AS 'MODULE_PATHNAME', 'lf_attribution_totals_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_totals_combine(@extschema@.attribution_totals_state, @extschema@.attribution_totals_state) IS
'Combine function of the aggregate attribution_totals: adds two partial states (exact: the result does not depend on how the rows were split).';
CREATE FUNCTION @extschema@.attribution_totals_final(@extschema@.attribution_totals_state)
    RETURNS @extschema@.attribution_total[] AS 'MODULE_PATHNAME', 'lf_attribution_totals_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_totals_final(@extschema@.attribution_totals_state) IS
'Final function of the aggregate attribution_totals: one element per campaign and model with a non-zero sum, in campaign order (NULL campaign last) and model order.';

CREATE AGGREGATE @extschema@.attribution_totals(
        touched_at timestamptz[], touch_id bigint[], campaign_id bigint[],
        lead_created_at timestamptz, opportunity_created_at timestamptz, closed_at timestamptz,
        half_life interval, pipeline_amount float8, won_amount float8) (
    SFUNC = @extschema@.attribution_totals_trans,
    STYPE = @extschema@.attribution_totals_state,
    FINALFUNC = @extschema@.attribution_totals_final,
    COMBINEFUNC = @extschema@.attribution_totals_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.attribution_totals(timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8) IS
'Over leads (one row per lead with its touch path, as campaign_credit takes it, plus its pipeline and won amounts or NULL): the credit of every campaign under every model summed over the leads, as an array of attribution_total (leads = sum of credit, pipeline and won = sums of credit times amount), in campaign order. State: attribution_totals_state, 27 exact fixed-point sums per campaign (each lead''s contributions rounded to 2^-40), whatever the number of leads, so the answer does not depend on row order, parallel plans or Citus''s partial aggregation. Used by the campaign_attribution view.';

CREATE FUNCTION @extschema@.model_add_attribution(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    ddl text;
BEGIN
    -- the views read the history's current truth (superseded_at IS NULL)
    PERFORM @extschema@.model_add_history(target_schema);
    -- the account-level touches of an account in time order (kept if present,
    -- as upgrade_model runs this on models that have it)
    IF to_regclass(format('%s.touch_account_touched_at_idx', s)) IS NULL THEN
        EXECUTE format('CREATE INDEX touch_account_touched_at_idx ON %s.touch (account_id, touched_at) WHERE lead_id IS NULL', s);
    END IF;
    -- One statement per EXECUTE: Citus propagates DDL to the workers as its
    -- query string, which may hold only one statement.  The views only read
    -- the model's tables, which create_model has distributed by now, so Citus
    -- creates them on every node; CREATE OR REPLACE keeps this idempotent.
    FOREACH ddl IN ARRAY ARRAY[
        $d$CREATE OR REPLACE VIEW %1$s.lead_touch WITH (security_invoker = true) AS
        WITH p AS MATERIALIZED (SELECT @extschema@.setting_value('attribution_lookback') AS lookback)
        SELECT l.lead_id, l.account_id, t.touch_id, t.campaign_id, t.touched_at, false AS is_account_touch
          FROM %1$s.lead l
          JOIN %1$s.touch t ON t.account_id OPERATOR(pg_catalog.=) l.account_id AND t.lead_id OPERATOR(pg_catalog.=) l.lead_id
         CROSS JOIN p
         WHERE t.touched_at OPERATOR(pg_catalog.>=) (l.created_at OPERATOR(pg_catalog.-) p.lookback)
           AND (l.closed_at IS NULL OR t.touched_at OPERATOR(pg_catalog.<=) l.closed_at)
        UNION ALL
        SELECT l.lead_id, l.account_id, t.touch_id, t.campaign_id, t.touched_at, true
          FROM %1$s.lead l
          JOIN %1$s.touch t ON t.account_id OPERATOR(pg_catalog.=) l.account_id AND t.lead_id IS NULL
         WHERE t.touched_at OPERATOR(pg_catalog.>=) l.created_at
           AND (l.closed_at IS NULL OR t.touched_at OPERATOR(pg_catalog.<=) l.closed_at)$d$,
        $d$COMMENT ON VIEW %1$s.lead_touch IS
            'Touches that count for each lead: the lead''s own touches from attribution_lookback before its creation until it closed, and account-level (ABM) touches of its account while it was open (from created_at to closed_at, both included). One row per lead and touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.lead_id IS 'Lead the touch counts for.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.touch_id IS 'The touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.campaign_id IS 'Campaign that made the touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.touched_at IS 'When the touch happened.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch.is_account_touch IS 'True for an account-level (ABM) touch, which counts for every lead of the account open at that time.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.lead_touch_path WITH (security_invoker = true) AS
        SELECT l.lead_id, l.account_id, l.created_at AS lead_created_at,
               CASE WHEN l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage THEN
                   (SELECT min(h.entered_at) FROM %1$s.lead_stage_history h
                     WHERE h.account_id OPERATOR(pg_catalog.=) l.account_id AND h.lead_id OPERATOR(pg_catalog.=) l.lead_id
                       AND h.to_stage OPERATOR(pg_catalog.=) 'opportunity'::@extschema@.lead_stage
                       AND h.superseded_at IS NULL)
               END AS opportunity_created_at,
               l.closed_at,
               coalesce(pa.touched_at, '{}') AS touched_at,
               coalesce(pa.touch_id, '{}') AS touch_id,
               coalesce(pa.campaign_id, '{}') AS campaign_id,
               coalesce(pa.is_account_touch, '{}') AS is_account_touch
          FROM %1$s.lead l
          LEFT JOIN (SELECT lt.account_id, lt.lead_id,
                            array_agg(lt.touched_at ORDER BY lt.touched_at, lt.touch_id) AS touched_at,
                            array_agg(lt.touch_id ORDER BY lt.touched_at, lt.touch_id) AS touch_id,
                            array_agg(lt.campaign_id ORDER BY lt.touched_at, lt.touch_id) AS campaign_id,
                            array_agg(lt.is_account_touch ORDER BY lt.touched_at, lt.touch_id) AS is_account_touch
                       FROM %1$s.lead_touch lt
                      GROUP BY lt.account_id, lt.lead_id) pa
            ON pa.account_id OPERATOR(pg_catalog.=) l.account_id AND pa.lead_id OPERATOR(pg_catalog.=) l.lead_id$d$,
        $d$COMMENT ON VIEW %1$s.lead_touch_path IS
            'Each lead with its touch path: the touches that count for it (see lead_touch) as arrays ordered by time and touch_id, and its milestone times, ready for leadfunnel.attribution_weights. Leads without touches have empty arrays (unattributed).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.lead_id IS 'Lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.lead_created_at IS 'When the lead was created (lead-creation milestone).'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.opportunity_created_at IS 'When the lead first entered stage opportunity (opportunity-creation milestone); NULL if it never did.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.closed_at IS 'When the lead closed (closing milestone); NULL while open.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.touched_at IS 'Times of the touches that count, ascending.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.touch_id IS 'The touches, in the order of touched_at.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.campaign_id IS 'Campaign of each touch, in the order of touched_at.'$d$,
        $d$COMMENT ON COLUMN %1$s.lead_touch_path.is_account_touch IS 'Whether each touch is account-level (ABM), in the order of touched_at.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.touch_attribution WITH (security_invoker = true) AS
        SELECT pa.lead_id, pa.account_id,
               pa.touch_id[c.touch_index] AS touch_id,
               pa.campaign_id[c.touch_index] AS campaign_id,
               pa.touched_at[c.touch_index] AS touched_at,
               pa.is_account_touch[c.touch_index] AS is_account_touch,
               c.model, c.credit, c.model::text AS model_name
          FROM %1$s.lead_touch_path pa
         CROSS JOIN (SELECT @extschema@.setting_value('time_decay_half_life') AS half_life) p
         CROSS JOIN LATERAL @extschema@.touch_credit(pa.touched_at, pa.touch_id, pa.lead_created_at,
                                                     pa.opportunity_created_at, pa.closed_at, p.half_life) c
        UNION ALL
        SELECT pa.lead_id, pa.account_id, u.touch_id, u.campaign_id, u.touched_at, u.is_account_touch,
               NULL::@extschema@.attribution_model, u.credit, d.name
          FROM @extschema@.user_attribution_models() d
         CROSS JOIN %1$s.lead_touch_path pa
         CROSS JOIN LATERAL unnest(@extschema@.position_attribution_weights(d.shares, pa.touched_at, pa.lead_created_at, pa.opportunity_created_at, pa.closed_at),
                                   pa.touch_id, pa.campaign_id, pa.touched_at, pa.is_account_touch)
                                   u(credit, touch_id, campaign_id, touched_at, is_account_touch)$d$,
        $d$COMMENT ON VIEW %1$s.touch_attribution IS
            'Credit of each touch that counts for a lead, under every attribution model, built-in (model) and user (model NULL, model_name from leadfunnel.attribution_model_def): per lead and model the credits sum to 1. Join lead (product_area, region, created_at) and campaign for any dimension.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.lead_id IS 'Lead credited.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.account_id IS 'Account of the lead.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.touch_id IS 'The touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.campaign_id IS 'Campaign of the touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.touched_at IS 'When the touch happened.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.is_account_touch IS 'True for an account-level (ABM) touch.'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.model IS 'Built-in attribution model; NULL on the rows of a user model (see model_name).'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.model_name IS 'Name of the model: the built-in model as text, or the name of a user model (a row of leadfunnel.attribution_model_def).'$d$,
        $d$COMMENT ON COLUMN %1$s.touch_attribution.credit IS 'Fraction of the lead credited to the touch under the model (0..1).'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.campaign_pipeline WITH (security_invoker = true) AS
        WITH sourced AS MATERIALIZED (
            SELECT l.source_campaign_id AS campaign_id, count(*) AS leads,
                   sum(l.amount) FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage) AS pipeline,
                   sum(l.amount) FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage) AS won
              FROM %1$s.lead l
             WHERE l.source_campaign_id IS NOT NULL
             GROUP BY l.source_campaign_id
        ), touched AS MATERIALIZED (
            SELECT lt.campaign_id, count(*) AS leads,
                   sum(l.amount) FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage) AS pipeline,
                   sum(l.amount) FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage) AS won
              FROM (SELECT DISTINCT account_id, lead_id, campaign_id FROM %1$s.lead_touch) lt
              JOIN %1$s.lead l ON l.account_id OPERATOR(pg_catalog.=) lt.account_id AND l.lead_id OPERATOR(pg_catalog.=) lt.lead_id
             GROUP BY lt.campaign_id
        )
        SELECT c.campaign_id,
               coalesce(so.leads, 0) AS sourced_leads,
               coalesce(tt.leads, 0) AS touched_leads,
               coalesce(so.pipeline, 0) AS sourced_pipeline,
               coalesce(tt.pipeline, 0) AS touched_pipeline,
               coalesce(so.won, 0) AS sourced_won,
               coalesce(tt.won, 0) AS touched_won
          FROM %1$s.campaign c
          LEFT JOIN sourced so ON so.campaign_id OPERATOR(pg_catalog.=) c.campaign_id
          LEFT JOIN touched tt ON tt.campaign_id OPERATOR(pg_catalog.=) c.campaign_id$d$,
        $d$COMMENT ON VIEW %1$s.campaign_pipeline IS
            'Per campaign, the leads it generated (sourced: lead.source_campaign_id) and the leads it touched (any touch that counts for the lead, see lead_touch, ABM touches included; each lead once per campaign), with their pipeline (amount of leads that reached opportunity) and won amounts.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.campaign_id IS 'Campaign.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.sourced_leads IS 'Leads whose source campaign it is.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.touched_leads IS 'Leads it touched before they closed (each lead counted once).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.sourced_pipeline IS 'Sum of amount over sourced leads that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.touched_pipeline IS 'Sum of amount over touched leads that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.sourced_won IS 'Sum of amount over sourced leads that were won.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_pipeline.touched_won IS 'Sum of amount over touched leads that were won.'$d$,
        $d$CREATE OR REPLACE VIEW %1$s.campaign_attribution WITH (security_invoker = true) AS
        WITH totals AS MATERIALIZED (
            SELECT @extschema@.attribution_totals(
                       pa.touched_at, pa.touch_id, pa.campaign_id, l.created_at,
                       CASE WHEN l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage THEN
                           (SELECT min(h.entered_at) FROM %1$s.lead_stage_history h
                             WHERE h.account_id OPERATOR(pg_catalog.=) l.account_id AND h.lead_id OPERATOR(pg_catalog.=) l.lead_id
                               AND h.to_stage OPERATOR(pg_catalog.=) 'opportunity'::@extschema@.lead_stage
                               AND h.superseded_at IS NULL)
                       END,
                       l.closed_at, p.half_life,
                       CASE WHEN l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage THEN l.amount::float8 END,
                       CASE WHEN l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage THEN l.amount::float8 END) AS t
              FROM (SELECT lt.account_id, lt.lead_id, array_agg(lt.touched_at) AS touched_at,
                           array_agg(lt.touch_id) AS touch_id, array_agg(lt.campaign_id) AS campaign_id
                      FROM %1$s.lead_touch lt
                     GROUP BY lt.account_id, lt.lead_id) pa
              JOIN %1$s.lead l ON l.account_id OPERATOR(pg_catalog.=) pa.account_id AND l.lead_id OPERATOR(pg_catalog.=) pa.lead_id
             CROSS JOIN (SELECT @extschema@.setting_value('time_decay_half_life') AS half_life) p
        ), credit AS (
            SELECT c.* FROM totals, unnest(totals.t) c
        ), user_credit AS (
            SELECT d.name AS model_name, u.campaign_id, sum(u.credit) AS leads,
                   sum(u.credit OPERATOR(pg_catalog.*) l.amount::float8)
                       FILTER (WHERE l.max_stage OPERATOR(pg_catalog.>=) 'opportunity'::@extschema@.lead_stage) AS pipeline,
                   sum(u.credit OPERATOR(pg_catalog.*) l.amount::float8)
                       FILTER (WHERE l.stage OPERATOR(pg_catalog.=) 'won'::@extschema@.lead_stage) AS won
              FROM @extschema@.user_attribution_models() d
             CROSS JOIN %1$s.lead_touch_path pa
              JOIN %1$s.lead l ON l.account_id OPERATOR(pg_catalog.=) pa.account_id AND l.lead_id OPERATOR(pg_catalog.=) pa.lead_id
             CROSS JOIN LATERAL unnest(@extschema@.position_attribution_weights(d.shares, pa.touched_at, pa.lead_created_at, pa.opportunity_created_at, pa.closed_at),
                                       pa.campaign_id) u(credit, campaign_id)
             GROUP BY d.name, u.campaign_id
        )
        SELECT ca.campaign_id, m.model,
               coalesce(cr.leads, 0)::numeric AS attributed_leads,
               coalesce(cr.pipeline, 0)::numeric AS attributed_pipeline,
               coalesce(cr.won, 0)::numeric AS attributed_won,
               m.model::text AS model_name
          FROM %1$s.campaign ca
         CROSS JOIN unnest(pg_catalog.enum_range(NULL::@extschema@.attribution_model)) m(model)
          LEFT JOIN credit cr ON cr.campaign_id OPERATOR(pg_catalog.=) ca.campaign_id AND cr.model OPERATOR(pg_catalog.=) m.model
        UNION ALL
        SELECT ca.campaign_id, NULL::@extschema@.attribution_model,
               coalesce(uc.leads, 0)::numeric, coalesce(uc.pipeline, 0)::numeric, coalesce(uc.won, 0)::numeric, d.name
          FROM @extschema@.user_attribution_models() d
         CROSS JOIN %1$s.campaign ca
          LEFT JOIN user_credit uc ON uc.model_name OPERATOR(pg_catalog.=) d.name AND uc.campaign_id OPERATOR(pg_catalog.=) ca.campaign_id$d$,
        $d$COMMENT ON VIEW %1$s.campaign_attribution IS
            'Per campaign and attribution model (built-in models with model set; user models of leadfunnel.attribution_model_def with model NULL and model_name), the fractional credit of the leads its touches count for (see lead_touch and leadfunnel.attribution_weights; time_decay with the time_decay_half_life setting). Each lead with at least one touch hands out exactly 1 under every model, so for each model the sums over campaigns equal the totals over attributed leads, up to float8 rounding.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.campaign_id IS 'Campaign.'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.model IS 'Built-in attribution model; NULL on the rows of a user model (see model_name).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.model_name IS 'Name of the model: the built-in model as text, or the name of a user model (a row of leadfunnel.attribution_model_def).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.attributed_leads IS 'Sum of the campaign''s credit over leads (fractional).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.attributed_pipeline IS 'Sum of credit times amount over leads that reached opportunity (won included).'$d$,
        $d$COMMENT ON COLUMN %1$s.campaign_attribution.attributed_won IS 'Sum of credit times amount over won leads.'$d$
    ] LOOP
        EXECUTE format(ddl, s);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_attribution(name) IS
'Internal (called by create_model, and by upgrades on existing models): creates the attribution views lead_touch, lead_touch_path, touch_attribution, campaign_pipeline and campaign_attribution, and an index on account-level touches, in a model schema.';

CREATE FUNCTION @extschema@.generate_demo_touches(target_schema name, seed float8 DEFAULT 0.42, after_lead_id bigint DEFAULT 0)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    anchor constant timestamptz := '2025-12-31 18:00:00+00';
    base_touch bigint;
    added bigint;
    abm bigint;
BEGIN
    IF seed IS NULL OR seed < -1 OR seed > 1 THEN
        RAISE EXCEPTION 'demo seed must be between -1 and 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF after_lead_id IS NULL THEN
        RAISE EXCEPTION 'argument "after_lead_id" of generate_demo_touches must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass 0 for touches of every lead.';
    END IF;
    PERFORM setseed(seed);
    EXECUTE format('SELECT coalesce(max(touch_id), 0) FROM %s.touch', s) INTO base_touch;

    -- lead-level touches: the source campaign touches first (up to 30 days
    -- before creation; for 8 % of the leads 400 days before, outside the
    -- default lookback), then 0..5 touches of random campaigns from 60 days
    -- before creation until 20 days after closing (those do not count)
    EXECUTE format($q$
        INSERT INTO %1$s.touch (touch_id, campaign_id, account_id, contact_id, lead_id, touched_at, channel)
        SELECT %2$s + row_number() OVER (ORDER BY x.lead_id, x.k), x.campaign_id, x.account_id, x.contact_id,
               x.lead_id, x.touched_at, c.channel
          FROM (SELECT l.lead_id, l.account_id, l.contact_id, g.k,
                       CASE WHEN g.k = 0 AND l.source_campaign_id IS NOT NULL THEN l.source_campaign_id
                            ELSE camps.ids[1 + floor(random() * cardinality(camps.ids))::int] END AS campaign_id,
                       least(%3$L::timestamptz,
                             CASE WHEN g.k = 0 AND random() < 0.08 THEN l.created_at - interval '400 days'
                                  WHEN g.k = 0 THEN l.created_at - random() * interval '30 days'
                                  ELSE l.created_at - interval '60 days'
                                       + random() * (coalesce(l.closed_at, %3$L::timestamptz) - l.created_at + interval '80 days') END)
                           AS touched_at
                  FROM (SELECT * FROM %1$s.lead WHERE lead_id > %4$s ORDER BY lead_id) l
                 CROSS JOIN (SELECT array_agg(campaign_id ORDER BY campaign_id) AS ids FROM %1$s.campaign) camps
                 CROSS JOIN LATERAL generate_series(0, floor(random() * 6)::int + 0 * l.lead_id) g(k)  -- lateral: one draw per lead
                 WHERE cardinality(camps.ids) > 0) x
          JOIN %1$s.campaign c ON c.campaign_id = x.campaign_id
    $q$, s, base_touch, anchor, after_lead_id);
    GET DIAGNOSTICS added = ROW_COUNT;

    -- account-level (ABM) touches: 0..3 per account of those leads, between
    -- 90 days before the account's first lead and the end of the demo period
    EXECUTE format($q$
        INSERT INTO %1$s.touch (touch_id, campaign_id, account_id, touched_at, channel)
        SELECT %2$s + row_number() OVER (ORDER BY x.account_id, x.k), x.campaign_id, x.account_id, x.touched_at, c.channel
          FROM (SELECT a.account_id, g.k,
                       camps.ids[1 + floor(random() * cardinality(camps.ids))::int] AS campaign_id,
                       a.first_created - interval '90 days' + random() * (%3$L::timestamptz - a.first_created + interval '90 days') AS touched_at
                  FROM (SELECT account_id, min(created_at) AS first_created FROM %1$s.lead
                         WHERE lead_id > %4$s GROUP BY account_id ORDER BY account_id) a
                 CROSS JOIN (SELECT array_agg(campaign_id ORDER BY campaign_id) AS ids FROM %1$s.campaign) camps
                 CROSS JOIN LATERAL generate_series(1, floor(random() * 4)::int + 0 * a.account_id) g(k)
                 WHERE cardinality(camps.ids) > 0) x
          JOIN %1$s.campaign c ON c.campaign_id = x.campaign_id
    $q$, s, base_touch + added, anchor, after_lead_id);
    GET DIAGNOSTICS abm = ROW_COUNT;
    RETURN added + abm;
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo_touches(name, float8, bigint) IS
'Adds demo touches to a model for the leads numbered after after_lead_id: a touch by the source campaign shortly before each lead was created (for some leads long before, outside the lookback), up to five touches by random campaigns from 60 days before creation until 20 days after closing, and up to three account-level (ABM) touches per account. Deterministic for a seed in [-1, 1]; all dated before 2026-01-01. Returns the number of touches added. Called by generate_demo.';
