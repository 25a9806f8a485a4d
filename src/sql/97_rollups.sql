-- ---------------------------------------------------------------------------
-- Dashboard rollups (opt-in): per bucket of accounts, the mergeable partial
-- answers of the slow model views (campaign_attribution, campaign_pipeline,
-- dropoff, cycle_times), so that a dashboard query merges a few hundred
-- stored states instead of recomputing every lead.  The views stay EXACT
-- without a refresh: a bucket whose accounts changed since its last refresh
-- is marked stale by statement triggers on lead, touch and lead_stage_history
-- in the writing transaction, and the views compute stale buckets live with
-- the same functions that refresh_rollups() stores.  See doc/rollups.md.

CREATE FUNCTION @extschema@.rollup_bucket_of(account_id bigint, accounts_per_bucket int) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN floor(account_id::numeric / accounts_per_bucket)::bigint;
COMMENT ON FUNCTION @extschema@.rollup_bucket_of(bigint, int) IS
'The rollup bucket of an account: floor(account_id / accounts_per_bucket); a bucket holds the accounts bucket * accounts_per_bucket .. (bucket + 1) * accounts_per_bucket - 1.';

CREATE AGGREGATE @extschema@.attribution_totals_partial(
        touched_at timestamptz[], touch_id bigint[], campaign_id bigint[],
        lead_created_at timestamptz, opportunity_created_at timestamptz, closed_at timestamptz,
        half_life interval, pipeline_amount float8, won_amount float8) (
    SFUNC = @extschema@.attribution_totals_trans,
    STYPE = @extschema@.attribution_totals_state,
    COMBINEFUNC = @extschema@.attribution_totals_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.attribution_totals_partial(timestamptz[], bigint[], bigint[], timestamptz, timestamptz, timestamptz, interval, float8, float8) IS
'attribution_totals without its final function: the state (attribution_totals_state) itself, to store and merge later with attribution_totals_merge; NULL over no rows.';

CREATE AGGREGATE @extschema@.attribution_totals_merge(@extschema@.attribution_totals_state) (
    SFUNC = @extschema@.attribution_totals_combine,
    STYPE = @extschema@.attribution_totals_state,
    FINALFUNC = @extschema@.attribution_totals_final,
    COMBINEFUNC = @extschema@.attribution_totals_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.attribution_totals_merge(@extschema@.attribution_totals_state) IS
'Merges stored attribution_totals_state values (from attribution_totals_partial) and returns what attribution_totals returns over all their leads; exact, as the sums are fixed-point.';

-- The model objects: tables, the functions computing one bucket's part, the
-- rollup-backed views.  Called by enable_rollups() and, for a model that has
-- rollups, by upgrade_model() (after model_add_analytics and
-- model_add_attribution, which redefine the plain views).
CREATE FUNCTION @extschema@.model_add_rollups(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    ddl text;
    w int;
    k int;
BEGIN
    IF to_regclass(format('%s.rollup_bucket', s)) IS NULL THEN
        RETURN;     -- rollups are opt-in: enable_rollups()
    END IF;
    EXECUTE format('SELECT accounts_per_bucket, lock_class FROM %s.rollup_config', s) INTO w, k;
    FOREACH ddl IN ARRAY ARRAY[
        -- The statement trigger function: marks the buckets of the accounts
        -- of the changed rows stale.  The shared advisory lock per bucket
        -- (held to the end of the transaction) makes refresh_rollups() skip
        -- a bucket while a writer that changed it is in flight, so a refresh
        -- never stores a state that misses a change committed after it.  At
        -- read committed a bucket already stale (seen with a snapshot taken
        -- after the lock) needs no write, so writers do not queue on its row;
        -- at other levels the writer always writes (a concurrent refresh then
        -- fails it with a serialization error instead of being missed).
        -- Static SQL (plans cached per trigger), one per model.
        $d$CREATE OR REPLACE FUNCTION %1$s.rollup_invalidate() RETURNS trigger
            LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $q$
        DECLARE
            b bigint;
            bs bigint[];
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                UPDATE %1$s.rollup_bucket SET valid = false WHERE valid;
                RETURN NULL;
            ELSIF TG_OP = 'INSERT' THEN
                SELECT array_agg(DISTINCT CASE WHEN x.account_id >= 0 THEN x.account_id / %2$s
                                               ELSE (x.account_id + 1) / %2$s - 1 END)
                  INTO bs FROM rollup_new x WHERE x.account_id IS NOT NULL;
            ELSIF TG_OP = 'DELETE' THEN
                SELECT array_agg(DISTINCT CASE WHEN x.account_id >= 0 THEN x.account_id / %2$s
                                               ELSE (x.account_id + 1) / %2$s - 1 END)
                  INTO bs FROM rollup_old x WHERE x.account_id IS NOT NULL;
            ELSE
                SELECT array_agg(DISTINCT CASE WHEN x.account_id >= 0 THEN x.account_id / %2$s
                                               ELSE (x.account_id + 1) / %2$s - 1 END)
                  INTO bs
                  FROM (SELECT n.account_id FROM rollup_new n UNION ALL SELECT o.account_id FROM rollup_old o) x
                 WHERE x.account_id IS NOT NULL;
            END IF;
            -- in bucket order (array_agg(DISTINCT ...) sorts)
            FOREACH b IN ARRAY coalesce(bs, '{}') LOOP
                PERFORM pg_advisory_xact_lock_shared(%3$s, (b %% 2147483647)::int);
                IF current_setting('transaction_isolation') <> 'read committed'
                   OR NOT EXISTS (SELECT 1 FROM %1$s.rollup_bucket r WHERE r.bucket = b AND NOT r.valid) THEN
                    INSERT INTO %1$s.rollup_bucket AS r (bucket, valid) VALUES (b, false)
                    ON CONFLICT (bucket) DO UPDATE SET valid = false WHERE r.valid;
                END IF;
            END LOOP;
            RETURN NULL;
        END
        $q$$d$,
        $d$COMMENT ON FUNCTION %1$s.rollup_invalidate() IS
            'Rollups: the statement trigger function of the triggers rollup_invalidate_* on lead, touch and lead_stage_history: marks the rollup buckets of the accounts of the inserted, updated or deleted rows stale (all of them on TRUNCATE), in the writing transaction, so that the rollup-backed views compute them live until the next refresh_rollups().'$d$,
        -- one bucket's part of each view: the same SQL as the plain view,
        -- restricted to the accounts lo <= account_id < hi
        $d$CREATE OR REPLACE FUNCTION %1$s.rollup_attribution_state(lo bigint, hi bigint)
            RETURNS @extschema@.attribution_totals_state
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
        AS $q$
            SELECT @extschema@.attribution_totals_partial(
                       pa.touched_at, pa.touch_id, pa.campaign_id, l.created_at,
                       CASE WHEN l.max_stage >= 'opportunity'::@extschema@.lead_stage THEN
                           (SELECT min(h.entered_at) FROM %1$s.lead_stage_history h
                             WHERE h.account_id = l.account_id AND h.lead_id = l.lead_id
                               AND h.to_stage = 'opportunity'::@extschema@.lead_stage
                               AND h.superseded_at IS NULL)
                       END,
                       l.closed_at, p.half_life,
                       CASE WHEN l.max_stage >= 'opportunity'::@extschema@.lead_stage THEN l.amount::float8 END,
                       CASE WHEN l.stage = 'won'::@extschema@.lead_stage THEN l.amount::float8 END)
              FROM (SELECT lt.account_id, lt.lead_id, array_agg(lt.touched_at) AS touched_at,
                           array_agg(lt.touch_id) AS touch_id, array_agg(lt.campaign_id) AS campaign_id
                      FROM %1$s.lead_touch lt
                     WHERE lt.account_id >= lo AND lt.account_id < hi
                     GROUP BY lt.account_id, lt.lead_id) pa
              JOIN %1$s.lead l ON l.account_id = pa.account_id AND l.lead_id = pa.lead_id
             CROSS JOIN (SELECT @extschema@.setting_value('time_decay_half_life') AS half_life) p
             WHERE l.account_id >= lo AND l.account_id < hi
        $q$$d$,
        $d$COMMENT ON FUNCTION %1$s.rollup_attribution_state(bigint, bigint) IS
            'Rollups: the attribution_totals_state of the leads of the accounts lo <= account_id < hi (campaign_attribution''s per-lead part restricted to them).'$d$,
        $d$CREATE OR REPLACE FUNCTION %1$s.rollup_campaign_pipeline_rows(lo bigint, hi bigint)
            RETURNS TABLE (campaign_id bigint, sourced_leads bigint, touched_leads bigint,
                           sourced_pipeline numeric, touched_pipeline numeric, sourced_won numeric, touched_won numeric)
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
        AS $q$
            WITH sourced AS (
                SELECT l.source_campaign_id AS campaign_id, count(*) AS leads,
                       sum(l.amount) FILTER (WHERE l.max_stage >= 'opportunity'::@extschema@.lead_stage) AS pipeline,
                       sum(l.amount) FILTER (WHERE l.stage = 'won'::@extschema@.lead_stage) AS won
                  FROM %1$s.lead l
                 WHERE l.source_campaign_id IS NOT NULL AND l.account_id >= lo AND l.account_id < hi
                 GROUP BY l.source_campaign_id
            ), touched AS (
                SELECT lt.campaign_id, count(*) AS leads,
                       sum(l.amount) FILTER (WHERE l.max_stage >= 'opportunity'::@extschema@.lead_stage) AS pipeline,
                       sum(l.amount) FILTER (WHERE l.stage = 'won'::@extschema@.lead_stage) AS won
                  FROM (SELECT DISTINCT t.account_id, t.lead_id, t.campaign_id FROM %1$s.lead_touch t
                         WHERE t.account_id >= lo AND t.account_id < hi) lt
                  JOIN %1$s.lead l ON l.account_id = lt.account_id AND l.lead_id = lt.lead_id
                 GROUP BY lt.campaign_id
            )
            SELECT coalesce(so.campaign_id, tt.campaign_id), coalesce(so.leads, 0), coalesce(tt.leads, 0),
                   so.pipeline, tt.pipeline, so.won, tt.won
              FROM sourced so FULL JOIN touched tt ON tt.campaign_id = so.campaign_id
        $q$$d$,
        $d$COMMENT ON FUNCTION %1$s.rollup_campaign_pipeline_rows(bigint, bigint) IS
            'Rollups: campaign_pipeline''s sums per campaign over the leads of the accounts lo <= account_id < hi (NULL sums where no lead counts).'$d$,
        $d$CREATE OR REPLACE FUNCTION %1$s.rollup_dropoff_rows(lo bigint, hi bigint)
            RETURNS TABLE (funnel text, last_open_stage @extschema@.lead_stage, outcome @extschema@.lead_stage, leads bigint)
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
        AS $q$
            SELECT l.funnel, lo_.stage, l.stage, count(*)
              FROM %1$s.lead l
              LEFT JOIN LATERAL (SELECT h.to_stage AS stage
                                   FROM %1$s.lead_stage_history h
                                  WHERE h.account_id = l.account_id AND h.lead_id = l.lead_id
                                    AND h.to_stage <= 'opportunity' AND h.superseded_at IS NULL
                                  ORDER BY h.seq DESC
                                  LIMIT 1) lo_ ON true
             WHERE l.stage >= 'recycled' AND l.account_id >= lo AND l.account_id < hi
             GROUP BY 1, 2, 3
        $q$$d$,
        $d$COMMENT ON FUNCTION %1$s.rollup_dropoff_rows(bigint, bigint) IS
            'Rollups: dropoff''s lead counts per funnel, last open stage and outcome over the leads of the accounts lo <= account_id < hi.'$d$,
        $d$CREATE OR REPLACE FUNCTION %1$s.rollup_cycle_time_rows(lo bigint, hi bigint)
            RETURNS TABLE (funnel text, measure text, stage @extschema@.lead_stage, sketch @extschema@.cycle_time_sketch)
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
        AS $q$
            SELECT l.funnel, 'time_in_stage'::text, h.to_stage, @extschema@.cycle_time_sketch(h.entered_at, h.left_at)
              FROM %1$s.lead_stage_history h
              JOIN %1$s.lead l ON l.account_id = h.account_id AND l.lead_id = h.lead_id
             WHERE h.left_at IS NOT NULL AND h.superseded_at IS NULL
               AND h.account_id >= lo AND h.account_id < hi AND l.account_id >= lo AND l.account_id < hi
             GROUP BY l.funnel, h.to_stage
            UNION ALL
            SELECT l.funnel, 'lead_duration', NULL, @extschema@.cycle_time_sketch(l.created_at, l.closed_at)
              FROM %1$s.lead l
             WHERE l.closed_at IS NOT NULL AND l.account_id >= lo AND l.account_id < hi
             GROUP BY l.funnel
            UNION ALL
            SELECT l.funnel, 'time_to_conversion', NULL, @extschema@.cycle_time_sketch(l.created_at, l.closed_at)
              FROM %1$s.lead l
             WHERE l.stage = 'won' AND l.account_id >= lo AND l.account_id < hi
             GROUP BY l.funnel
        $q$$d$,
        $d$COMMENT ON FUNCTION %1$s.rollup_cycle_time_rows(bigint, bigint) IS
            'Rollups: cycle_times''s sketches per funnel, measure and stage over the leads of the accounts lo <= account_id < hi.'$d$,
        -- the buckets the views may read from the rollup tables: refreshed, and
        -- with the attribution settings of their refresh
        $d$CREATE OR REPLACE VIEW %1$s.rollup_bucket_state WITH (security_invoker = true) AS
        SELECT b.bucket, b.bucket * c.accounts_per_bucket AS lo, (b.bucket + 1) * c.accounts_per_bucket AS hi,
               b.valid AND c.attribution_lookback = @extschema@.setting_value('attribution_lookback')
                       AND c.time_decay_half_life = @extschema@.setting_value('time_decay_half_life') AS fresh,
               b.refreshed_at
          FROM %1$s.rollup_bucket b CROSS JOIN %1$s.rollup_config c$d$,
        $d$COMMENT ON VIEW %1$s.rollup_bucket_state IS 'Rollups: each bucket of accounts, its account range and whether its stored rollup rows are fresh (refreshed since its accounts last changed, with the attribution settings now in force); the rollup-backed views compute the other buckets live.'$d$,
        $d$COMMENT ON COLUMN %1$s.rollup_bucket_state.bucket IS 'Bucket number (leadfunnel.rollup_bucket_of).'$d$,
        $d$COMMENT ON COLUMN %1$s.rollup_bucket_state.lo IS 'First account_id of the bucket.'$d$,
        $d$COMMENT ON COLUMN %1$s.rollup_bucket_state.hi IS 'First account_id after the bucket.'$d$,
        $d$COMMENT ON COLUMN %1$s.rollup_bucket_state.fresh IS 'Whether the stored rollup rows of the bucket are exact now.'$d$,
        $d$COMMENT ON COLUMN %1$s.rollup_bucket_state.refreshed_at IS 'When the bucket was last refreshed; NULL if never.'$d$,
        -- the views, rollup-backed: stored parts of the fresh buckets plus the
        -- live parts of the stale ones, merged
        $d$CREATE OR REPLACE VIEW %1$s.campaign_attribution WITH (security_invoker = true) AS
        WITH totals AS MATERIALIZED (
            SELECT @extschema@.attribution_totals_merge(x.st) AS t
              FROM (SELECT b.attribution AS st
                      FROM %1$s.rollup_bucket b JOIN %1$s.rollup_bucket_state f ON f.bucket = b.bucket
                     WHERE f.fresh
                    UNION ALL
                    SELECT %1$s.rollup_attribution_state(f.lo, f.hi)
                      FROM %1$s.rollup_bucket_state f
                     WHERE NOT f.fresh) x
        ), credit AS (
            SELECT c.* FROM totals, unnest(totals.t) c
        ), user_credit AS (
            -- the user models (leadfunnel.attribution_model_def): live, as in the plain view
            SELECT d.name AS model_name, u.campaign_id, sum(u.credit) AS leads,
                   sum(u.credit * l.amount::float8)
                       FILTER (WHERE l.max_stage >= 'opportunity'::@extschema@.lead_stage) AS pipeline,
                   sum(u.credit * l.amount::float8)
                       FILTER (WHERE l.stage = 'won'::@extschema@.lead_stage) AS won
              FROM @extschema@.user_attribution_models() d
             CROSS JOIN %1$s.lead_touch_path pa
              JOIN %1$s.lead l ON l.account_id = pa.account_id AND l.lead_id = pa.lead_id
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
          LEFT JOIN credit cr ON cr.campaign_id = ca.campaign_id AND cr.model = m.model
        UNION ALL
        SELECT ca.campaign_id, NULL::@extschema@.attribution_model,
               coalesce(uc.leads, 0)::numeric, coalesce(uc.pipeline, 0)::numeric, coalesce(uc.won, 0)::numeric, d.name
          FROM @extschema@.user_attribution_models() d
         CROSS JOIN %1$s.campaign ca
          LEFT JOIN user_credit uc ON uc.model_name = d.name AND uc.campaign_id = ca.campaign_id$d$,
        $d$CREATE OR REPLACE VIEW %1$s.campaign_pipeline WITH (security_invoker = true) AS
        WITH parts AS (
            SELECT r.campaign_id, r.sourced_leads, r.touched_leads, r.sourced_pipeline, r.touched_pipeline,
                   r.sourced_won, r.touched_won
              FROM %1$s.rollup_campaign_pipeline r JOIN %1$s.rollup_bucket_state f ON f.bucket = r.bucket
             WHERE f.fresh
            UNION ALL
            SELECT x.*
              FROM %1$s.rollup_bucket_state f
             CROSS JOIN LATERAL %1$s.rollup_campaign_pipeline_rows(f.lo, f.hi) x
             WHERE NOT f.fresh
        ), tot AS (
            SELECT p.campaign_id, sum(p.sourced_leads)::bigint AS sourced_leads, sum(p.touched_leads)::bigint AS touched_leads,
                   sum(p.sourced_pipeline) AS sourced_pipeline, sum(p.touched_pipeline) AS touched_pipeline,
                   sum(p.sourced_won) AS sourced_won, sum(p.touched_won) AS touched_won
              FROM parts p GROUP BY p.campaign_id
        )
        SELECT c.campaign_id,
               coalesce(t.sourced_leads, 0) AS sourced_leads,
               coalesce(t.touched_leads, 0) AS touched_leads,
               coalesce(t.sourced_pipeline, 0) AS sourced_pipeline,
               coalesce(t.touched_pipeline, 0) AS touched_pipeline,
               coalesce(t.sourced_won, 0) AS sourced_won,
               coalesce(t.touched_won, 0) AS touched_won
          FROM %1$s.campaign c
          LEFT JOIN tot t ON t.campaign_id = c.campaign_id$d$,
        $d$CREATE OR REPLACE VIEW %1$s.dropoff WITH (security_invoker = true) AS
        SELECT d.funnel, d.last_open_stage, d.outcome, d.leads,
               d.leads::numeric / nullif(sum(d.leads) OVER (PARTITION BY d.funnel), 0) AS share
          FROM (SELECT p.funnel, p.last_open_stage, p.outcome, sum(p.leads)::bigint AS leads
                  FROM (SELECT r.funnel, r.last_open_stage, r.outcome, r.leads
                          FROM %1$s.rollup_dropoff r JOIN %1$s.rollup_bucket_state f ON f.bucket = r.bucket
                         WHERE f.fresh
                        UNION ALL
                        SELECT x.*
                          FROM %1$s.rollup_bucket_state f
                         CROSS JOIN LATERAL %1$s.rollup_dropoff_rows(f.lo, f.hi) x
                         WHERE NOT f.fresh) p
                 GROUP BY 1, 2, 3) d
         ORDER BY d.funnel, d.last_open_stage, d.outcome$d$,
        $d$CREATE OR REPLACE VIEW %1$s.cycle_times WITH (security_invoker = true) AS
        SELECT c.funnel, c.measure, c.stage, (c.t).n, (c.t).mean, (c.t).p50, (c.t).p90, (c.t).p95, (c.t).max
          FROM (SELECT p.funnel, p.measure, p.stage, @extschema@.cycle_time_stats(@extschema@.cycle_time_merge(p.sketch)) AS t
                  FROM (SELECT r.funnel, r.measure, r.stage, r.sketch
                          FROM %1$s.rollup_cycle_times r JOIN %1$s.rollup_bucket_state f ON f.bucket = r.bucket
                         WHERE f.fresh
                        UNION ALL
                        SELECT x.*
                          FROM %1$s.rollup_bucket_state f
                         CROSS JOIN LATERAL %1$s.rollup_cycle_time_rows(f.lo, f.hi) x
                         WHERE NOT f.fresh) p
                 GROUP BY 1, 2, 3) c
         ORDER BY c.funnel, c.measure, c.stage$d$
    ] LOOP
        EXECUTE format(ddl, s, w, k);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.model_add_rollups(name) IS
'Internal (called by enable_rollups, and by upgrade_model on a model that has rollups): (re)creates the trigger function rollup_invalidate, the functions that compute one bucket''s part of campaign_attribution, campaign_pipeline, dropoff and cycle_times, the view rollup_bucket_state, and the rollup-backed definitions of those four views. Does nothing on a model without rollups.';

CREATE FUNCTION @extschema@.enable_rollups(target_schema name, accounts_per_bucket int DEFAULT 1024, refresh boolean DEFAULT true)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    k int;
    t text;
    ev text;
    n bigint;
BEGIN
    IF accounts_per_bucket IS NULL OR accounts_per_bucket < 1 THEN
        RAISE EXCEPTION 'accounts per rollup bucket must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass(format('%s.rollup_bucket', s)) IS NOT NULL THEN
        RAISE EXCEPTION 'model "%" has rollups already', target_schema
            USING ERRCODE = 'duplicate_object', HINT = 'Call leadfunnel.disable_rollups() first to change the bucket size.';
    END IF;
    IF @extschema@.model_is_distributed(target_schema) THEN
        RAISE EXCEPTION 'rollups are not supported on a distributed model'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'On Citus the views aggregate on the workers in parallel; see doc/rollups.md.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_class c
                WHERE c.oid IN (format('%s.lead', s)::regclass, format('%s.touch', s)::regclass,
                                format('%s.lead_stage_history', s)::regclass, format('%s.campaign', s)::regclass)
                  AND c.relrowsecurity) THEN
        RAISE EXCEPTION 'rollups are not supported on a model with row-level security'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The rollups hold totals over all rows, which would show readers rows their policies hide.';
    END IF;
    PERFORM @extschema@.model_add_history(target_schema);
    -- the model's advisory lock class (per database): from the lead table's oid
    k := (format('%s.lead', s)::regclass::oid::bigint % 2147483647)::int;
    EXECUTE format('CREATE TABLE %s.rollup_config (accounts_per_bucket int NOT NULL, lock_class int NOT NULL,
                        attribution_lookback interval, time_decay_half_life interval)', s);
    EXECUTE format('INSERT INTO %s.rollup_config VALUES ($1, $2, NULL, NULL)', s) USING accounts_per_bucket, k;
    EXECUTE format('CREATE TABLE %s.rollup_bucket (bucket bigint PRIMARY KEY, valid boolean NOT NULL DEFAULT false,
                        refreshed_at timestamptz, attribution @extschema@.attribution_totals_state)', s);
    EXECUTE format('CREATE TABLE %s.rollup_campaign_pipeline (bucket bigint NOT NULL, campaign_id bigint,
                        sourced_leads bigint, touched_leads bigint, sourced_pipeline numeric, touched_pipeline numeric,
                        sourced_won numeric, touched_won numeric)', s);
    EXECUTE format('CREATE TABLE %s.rollup_dropoff (bucket bigint NOT NULL, funnel text,
                        last_open_stage @extschema@.lead_stage, outcome @extschema@.lead_stage, leads bigint)', s);
    EXECUTE format('CREATE TABLE %s.rollup_cycle_times (bucket bigint NOT NULL, funnel text, measure text,
                        stage @extschema@.lead_stage, sketch @extschema@.cycle_time_sketch)', s);
    FOREACH t IN ARRAY ARRAY['rollup_campaign_pipeline', 'rollup_dropoff', 'rollup_cycle_times'] LOOP
        EXECUTE format('CREATE INDEX ON %s.%I (bucket)', s, t);
    END LOOP;
    EXECUTE format($c$COMMENT ON TABLE %s.rollup_config IS 'Rollups: the bucket size, the model''s advisory lock class, and the attribution settings the stored rollups were computed with.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_config.accounts_per_bucket IS 'Accounts per bucket (enable_rollups).'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_config.lock_class IS 'First key of the advisory locks that order writers and refresh_rollups per bucket.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_config.attribution_lookback IS 'The attribution_lookback setting of the stored rollups; another value now makes every bucket stale.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_config.time_decay_half_life IS 'The time_decay_half_life setting of the stored rollups; another value now makes every bucket stale.'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %s.rollup_bucket IS 'Rollups: one row per bucket of accounts that has (or had) rows; valid = its stored rollup rows are exact (no change to its accounts since its refresh). Also holds the bucket''s campaign_attribution state.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_bucket.bucket IS 'Bucket number: accounts bucket * accounts_per_bucket .. (bucket + 1) * accounts_per_bucket - 1.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_bucket.valid IS 'False from the first change to the bucket''s leads, touches or history until refresh_rollups() recomputes it.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_bucket.refreshed_at IS 'When the bucket was last refreshed.'$c$, s);
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_bucket.attribution IS 'The bucket''s attribution_totals_state (campaign_attribution).'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %s.rollup_campaign_pipeline IS 'Rollups: campaign_pipeline''s sums per bucket and campaign.'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %s.rollup_dropoff IS 'Rollups: dropoff''s counts per bucket, funnel, last open stage and outcome.'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %s.rollup_cycle_times IS 'Rollups: cycle_times''s sketches per bucket, funnel, measure and stage.'$c$, s);
    FOREACH t IN ARRAY ARRAY['campaign_id', 'sourced_leads', 'touched_leads', 'sourced_pipeline', 'touched_pipeline', 'sourced_won', 'touched_won'] LOOP
        EXECUTE format($c$COMMENT ON COLUMN %s.rollup_campaign_pipeline.%I IS %L$c$, s, t, format('The bucket''s part of campaign_pipeline.%s (NULL sum: no lead counts).', t));
    END LOOP;
    FOREACH t IN ARRAY ARRAY['funnel', 'last_open_stage', 'outcome', 'leads'] LOOP
        EXECUTE format($c$COMMENT ON COLUMN %s.rollup_dropoff.%I IS %L$c$, s, t, format('The bucket''s part of dropoff.%s.', t));
    END LOOP;
    FOREACH t IN ARRAY ARRAY['funnel', 'measure', 'stage'] LOOP
        EXECUTE format($c$COMMENT ON COLUMN %s.rollup_cycle_times.%I IS %L$c$, s, t, format('As cycle_times.%s.', t));
    END LOOP;
    EXECUTE format($c$COMMENT ON COLUMN %s.rollup_cycle_times.sketch IS 'The bucket''s cycle_time_sketch of the group''s durations.'$c$, s);
    FOREACH t IN ARRAY ARRAY['rollup_campaign_pipeline', 'rollup_dropoff', 'rollup_cycle_times'] LOOP
        EXECUTE format($c$COMMENT ON COLUMN %s.%I.bucket IS 'Bucket (rollup_bucket).'$c$, s, t);
    END LOOP;
    -- every bucket that has rows, stale
    EXECUTE format('INSERT INTO %1$s.rollup_bucket (bucket)
                    SELECT @extschema@.rollup_bucket_of(account_id, $1) FROM %1$s.lead
                    UNION SELECT @extschema@.rollup_bucket_of(account_id, $1) FROM %1$s.touch', s)
        USING accounts_per_bucket;
    PERFORM @extschema@.model_add_rollups(target_schema);
    -- the invalidation triggers (ENABLE ALWAYS: also under
    -- session_replication_role = replica, as bulk loads use)
    FOREACH t IN ARRAY ARRAY['lead', 'touch', 'lead_stage_history'] LOOP
        FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s.%I REFERENCING %s FOR EACH STATEMENT
                            EXECUTE FUNCTION %s.rollup_invalidate()',
                           'rollup_invalidate_' || ev, ev, s, t,
                           CASE ev WHEN 'insert' THEN 'NEW TABLE AS rollup_new'
                                   WHEN 'delete' THEN 'OLD TABLE AS rollup_old'
                                   ELSE 'OLD TABLE AS rollup_old NEW TABLE AS rollup_new' END, s);
            EXECUTE format('ALTER TABLE %s.%I ENABLE ALWAYS TRIGGER %I', s, t, 'rollup_invalidate_' || ev);
        END LOOP;
        EXECUTE format('CREATE TRIGGER rollup_invalidate_truncate AFTER TRUNCATE ON %s.%I FOR EACH STATEMENT
                        EXECUTE FUNCTION %s.rollup_invalidate()', s, t, s);
        EXECUTE format('ALTER TABLE %s.%I ENABLE ALWAYS TRIGGER rollup_invalidate_truncate', s, t);
    END LOOP;
    IF refresh THEN
        n := @extschema@.refresh_rollups(target_schema);
    ELSE
        n := 0;
    END IF;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION @extschema@.enable_rollups(name, int, boolean) IS
'Gives a model dashboard rollups: tables of per-bucket partial answers (accounts_per_bucket accounts per bucket), statement triggers on lead, touch and lead_stage_history that mark changed buckets stale, and rollup-backed definitions of campaign_attribution, campaign_pipeline, dropoff and cycle_times that merge the stored parts of fresh buckets with live parts of stale ones (exact at every moment). With refresh (default) computes every bucket at once; returns the number of buckets refreshed. Not on a distributed model nor with row-level security (0A000).';

CREATE FUNCTION @extschema@.refresh_rollups(target_schema name, max_buckets int DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    c record;
    b bigint;
    n bigint := 0;
    lb interval := @extschema@.setting_value('attribution_lookback');
    hl interval := @extschema@.setting_value('time_decay_half_life');
BEGIN
    IF to_regclass(format('%s.rollup_config', s)) IS NULL THEN
        RAISE EXCEPTION 'model "%" has no rollups', target_schema
            USING ERRCODE = 'undefined_object', HINT = 'Call leadfunnel.enable_rollups() first.';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- each bucket is computed by statements that must see what the
        -- writers that released the bucket's lock committed
        RAISE EXCEPTION 'refresh_rollups must run at isolation level READ COMMITTED'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    EXECUTE format('SELECT * FROM %s.rollup_config', s) INTO c;
    IF c.attribution_lookback IS DISTINCT FROM lb OR c.time_decay_half_life IS DISTINCT FROM hl THEN
        -- the attribution settings changed: every stored state is stale
        EXECUTE format('UPDATE %s.rollup_bucket SET valid = false WHERE valid', s);
        EXECUTE format('UPDATE %s.rollup_config SET attribution_lookback = $1, time_decay_half_life = $2', s) USING lb, hl;
    END IF;
    FOR b IN EXECUTE format('SELECT bucket FROM %s.rollup_bucket WHERE NOT valid ORDER BY bucket', s) LOOP
        EXIT WHEN n >= max_buckets;
        -- a writer that changed the bucket and has not committed holds the
        -- lock shared: skip the bucket (it stays stale, the views compute it live)
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(c.lock_class, (b % 2147483647)::int);
        EXECUTE format('DELETE FROM %s.rollup_campaign_pipeline WHERE bucket = $1', s) USING b;
        EXECUTE format('DELETE FROM %s.rollup_dropoff WHERE bucket = $1', s) USING b;
        EXECUTE format('DELETE FROM %s.rollup_cycle_times WHERE bucket = $1', s) USING b;
        EXECUTE format('INSERT INTO %1$s.rollup_campaign_pipeline SELECT $1, x.* FROM %1$s.rollup_campaign_pipeline_rows($2, $3) x', s)
            USING b, b * c.accounts_per_bucket, (b + 1) * c.accounts_per_bucket;
        EXECUTE format('INSERT INTO %1$s.rollup_dropoff SELECT $1, x.* FROM %1$s.rollup_dropoff_rows($2, $3) x', s)
            USING b, b * c.accounts_per_bucket, (b + 1) * c.accounts_per_bucket;
        EXECUTE format('INSERT INTO %1$s.rollup_cycle_times SELECT $1, x.* FROM %1$s.rollup_cycle_time_rows($2, $3) x', s)
            USING b, b * c.accounts_per_bucket, (b + 1) * c.accounts_per_bucket;
        EXECUTE format('UPDATE %1$s.rollup_bucket SET valid = true, refreshed_at = clock_timestamp(),
                               attribution = %1$s.rollup_attribution_state($2, $3)
                         WHERE bucket = $1', s)
            USING b, b * c.accounts_per_bucket, (b + 1) * c.accounts_per_bucket;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_rollups(name, int) IS
'Recomputes the stale rollup buckets of a model (at most max_buckets of them, all by default) and returns how many it refreshed; skips a bucket that a transaction in flight has changed (it stays stale and is computed live by the views). Cheap when little changed: call it often (e.g. every minute from pg_cron). Must run at READ COMMITTED (25000 otherwise).';

CREATE FUNCTION @extschema@.disable_rollups(target_schema name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    t text;
    ev text;
BEGIN
    IF to_regclass(format('%s.rollup_bucket', s)) IS NULL THEN
        RAISE EXCEPTION 'model "%" has no rollups', target_schema
            USING ERRCODE = 'undefined_object';
    END IF;
    FOREACH t IN ARRAY ARRAY['lead', 'touch', 'lead_stage_history'] LOOP
        FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
            EXECUTE format('DROP TRIGGER %I ON %s.%I', 'rollup_invalidate_' || ev, s, t);
        END LOOP;
    END LOOP;
    -- the plain views first (they no longer read the rollup objects)
    PERFORM @extschema@.model_add_analytics(target_schema);
    PERFORM @extschema@.model_add_attribution(target_schema);
    EXECUTE format('DROP FUNCTION %s.rollup_invalidate()', s);
    EXECUTE format('DROP VIEW %s.rollup_bucket_state', s);
    EXECUTE format('DROP FUNCTION %s.rollup_attribution_state(bigint, bigint)', s);
    EXECUTE format('DROP FUNCTION %s.rollup_campaign_pipeline_rows(bigint, bigint)', s);
    EXECUTE format('DROP FUNCTION %s.rollup_dropoff_rows(bigint, bigint)', s);
    EXECUTE format('DROP FUNCTION %s.rollup_cycle_time_rows(bigint, bigint)', s);
    FOREACH t IN ARRAY ARRAY['rollup_campaign_pipeline', 'rollup_dropoff', 'rollup_cycle_times', 'rollup_bucket', 'rollup_config'] LOOP
        EXECUTE format('DROP TABLE %s.%I', s, t);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.disable_rollups(name) IS
'Removes a model''s rollups: its invalidation triggers, rollup tables and functions, and puts back the plain definitions of campaign_attribution, campaign_pipeline, dropoff and cycle_times.';
