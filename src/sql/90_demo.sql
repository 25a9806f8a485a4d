-- Demo data: a deterministic generator of realistic funnel data, used by
-- `make demo`, the benchmarks and the tests that compare views with plain SQL.

CREATE FUNCTION @extschema@.generate_demo(target_schema name, leads int DEFAULT 5000, seed float8 DEFAULT 0.42)
    RETURNS TABLE (table_name text, rows_added bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := @extschema@.model_schema(target_schema);
    anchor constant timestamptz := '2025-12-31 18:00:00+00';
    n_accounts int;
    base_account bigint;
    base_lead bigint;
    base_campaign bigint;
    max_steps int;
    rec record;
    path text[];
    times timestamptz[];
    funnel text;
    segment text;
    t timestamptz;
    i int;
    p_continue float8;
    segments text[];
    r_campaign float8;
    r_amount float8;
    set_based boolean;
    contact_fast boolean;
    fk_drop text[];
    fk_add text[];
    ddl text;
BEGIN
    IF leads IS NULL OR leads < 1 OR leads > 10000000 THEN
        RAISE EXCEPTION 'number of demo leads must be between 1 and 10000000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF seed IS NULL OR seed < -1 OR seed > 1 THEN
        RAISE EXCEPTION 'demo seed must be between -1 and 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM setseed(seed);
    n_accounts := greatest(1, leads / 3);

    -- new rows are numbered after existing ones, so the generator can be run twice
    EXECUTE format('SELECT coalesce(max(account_id), 0) FROM %s.account', s) INTO base_account;
    EXECUTE format('SELECT coalesce(max(lead_id), 0) FROM %s.lead', s) INTO base_lead;
    EXECUTE format('SELECT coalesce(max(campaign_id), 0) FROM %s.campaign', s) INTO base_campaign;

    EXECUTE format($q$
        INSERT INTO %s.campaign (campaign_id, name, channel, product_area, region, cost)
        SELECT %s + row_number() OVER (ORDER BY c.ord, r.region), c.channel || ' ' || c.area || ' ' || r.region,
               c.channel, c.area, r.region, 5000 + 2500 * c.ord
          FROM (VALUES (1, 'webinar', 'analytics'), (2, 'paid_search', 'analytics'), (3, 'event', 'platform'),
                       (4, 'content', 'platform'), (5, 'outbound', 'security'), (6, 'partner', 'security')) c(ord, channel, area)
         CROSS JOIN (VALUES ('AMER'), ('APAC'), ('EMEA')) r(region)
    $q$, s, base_campaign);

    EXECUTE format($q$
        INSERT INTO %s.account (account_id, name, region, segment)
        SELECT %s + g, 'Company ' || (%s + g),
               (ARRAY['EMEA', 'AMER', 'APAC'])[1 + (g %% 3)],
               CASE WHEN random() < 0.2 THEN 'enterprise' WHEN random() < 0.5 THEN 'mid-market' ELSE 'smb' END
          FROM generate_series(1, %s) g
    $q$, s, base_account, base_account, n_accounts);
    -- Statistics after each bulk step: the triggers' and foreign keys' queries
    -- are planned once per session and kept; planned against a table that
    -- looks empty they scan it whole on every row, so generating took time
    -- quadratic in the number of leads.
    EXECUTE format('ANALYZE %s.account', s);
    -- The contacts' statuses are derived at the end for every contact of the
    -- model, set-based (lifecycle_refresh_batch, or refresh_lifecycle on
    -- Citus, in generate_demo_lifecycle), so the trigger that derives a new
    -- contact's status row by row (several queries a row) is disabled for
    -- this INSERT in this transaction where the caller owns the table on a
    -- single-node model; the contacts have the default status until then.
    EXECUTE format($q$
        SELECT NOT @extschema@.model_is_distributed($1)
           AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = '%1$s.contact'::regclass), 'USAGE')
    $q$, s) INTO contact_fast USING target_schema;
    IF contact_fast THEN
        EXECUTE format('ALTER TABLE %s.contact DISABLE TRIGGER contact_status_derive', s);
    END IF;
    EXECUTE format($q$
        INSERT INTO %s.contact (contact_id, account_id, email, opt_in)
        SELECT account_id, account_id, 'buyer' || account_id || '@example.com', random() < 0.6
          FROM %s.account WHERE account_id > %s
    $q$, s, s, base_account);
    IF contact_fast THEN
        EXECUTE format('ALTER TABLE %s.contact ENABLE TRIGGER contact_status_derive', s);
    END IF;
    EXECUTE format('ANALYZE %s.contact', s);

    IF to_regclass('pg_temp.lf_demo_plan') IS NOT NULL THEN
        DROP TABLE pg_temp.lf_demo_plan;
    END IF;
    -- path as lead_stage[], subscripted in a subquery: so the UPDATE below
    -- sets plain columns (Citus refuses stable expressions such as a
    -- text-to-enum cast in an UPDATE, and 13.2 crashes deparsing a
    -- subscripted column in its SET list)
    CREATE TEMP TABLE lf_demo_plan (lead_id bigint PRIMARY KEY, account_id bigint, funnel text, path @extschema@.lead_stage[],
                                    times timestamptz[], r_campaign float8, r_amount float8) ON COMMIT DROP;
    -- the new accounts' segments, by account_id - base_account (they are numbered 1..n_accounts)
    EXECUTE format('SELECT array_agg(segment ORDER BY account_id) FROM %s.account WHERE account_id > $1', s)
       INTO segments USING base_account;

    FOR rec IN EXECUTE format($q$
        SELECT %s + g AS lead_id,
               %s + 1 + floor(random() * %s)::bigint AS account_id,
               random() AS r_funnel, random() AS r_created
          FROM generate_series(1, %s) g
    $q$, base_lead, base_account, n_accounts, leads)
    LOOP
        -- funnel follows the price point: segment decides mostly, with some mix
        segment := segments[rec.account_id - base_account];
        funnel := CASE WHEN segment = 'enterprise' AND rec.r_funnel < 0.8 THEN 'enterprise'
                       WHEN segment = 'smb' AND rec.r_funnel < 0.8 THEN 'self_serve'
                       ELSE 'inside_sales' END;
        t := anchor - make_interval(days => floor(rec.r_created * 540)::int, hours => floor(random() * 24)::int);
        times := ARRAY[t];
        path := ARRAY[CASE WHEN random() < 0.3 THEN 'visitor' ELSE 'lead' END];
        -- walk the funnel's stages; each stage converts with a stage-specific rate
        FOR i IN 1 .. 20 LOOP
            EXIT WHEN path[cardinality(path)] NOT IN ('visitor', 'lead', 'mql', 'tal', 'tql', 'sal', 'sql', 'opportunity');
            p_continue := CASE path[cardinality(path)]
                              WHEN 'visitor' THEN 0.55 WHEN 'lead' THEN 0.6 WHEN 'mql' THEN 0.55
                              WHEN 'tal' THEN 0.75 WHEN 'tql' THEN 0.6 WHEN 'sal' THEN 0.8
                              WHEN 'sql' THEN 0.7 ELSE 0.4 END;
            t := t + make_interval(days => 1 + floor(-ln(1 - random()) * 12)::int, hours => floor(random() * 24)::int);
            EXIT WHEN t > anchor;               -- still open today
            IF random() < p_continue THEN
                path := path || (@extschema@.allowed_next(funnel, path[cardinality(path)]::@extschema@.lead_stage))[1]::text;
            ELSE
                path := path || (ARRAY['recycled', 'disqualified', 'lost', 'lost'])[1 + floor(random() * 4)::int];
            END IF;
            times := times || t;
            -- a few recycled leads come back to nurture
            IF path[cardinality(path)] = 'recycled' AND random() < 0.3 THEN
                t := t + make_interval(days => 30 + floor(random() * 90)::int);
                EXIT WHEN t > anchor;
                path := path || 'lead'::text;
                times := times || t;
            END IF;
        END LOOP;
        -- the draws of the lead's row (campaign, then amount), in the order
        -- the row-by-row INSERT of 0.2.0 drew them: the data are the same
        r_campaign := random();
        r_amount := random();
        INSERT INTO lf_demo_plan VALUES (rec.lead_id, rec.account_id, funnel, path::@extschema@.lead_stage[], times,
                                         r_campaign, r_amount);
    END LOOP;

    -- The set-based path: each lead inserted as it ends up and its history
    -- written in one statement, the rows the transition trigger would have
    -- written move by move.  Taken where the caller owns the lead, history and
    -- touch tables (ALTER TABLE needs it), on a single-node
    -- model, and where the demo funnels have no stage labels (a label history
    -- is then written by the trigger path).  The triggers that write or guard
    -- the history and the lead's maintained columns, and the lifecycle
    -- triggers, are disabled by ALTER TABLE in this transaction only: the
    -- ACCESS EXCLUSIVE lock keeps every other session out until it ends, and
    -- an error rolls the ALTER back with the rows.  The foreign keys of lead,
    -- history and touch are dropped and added again once the rows are in (so
    -- every row is checked, in one join per key).  The lifecycle is brought
    -- up to date once afterwards.
    EXECUTE format($q$
        SELECT NOT @extschema@.model_is_distributed($1)
           AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = '%1$s.lead'::regclass), 'USAGE')
           AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = '%1$s.lead_stage_history'::regclass), 'USAGE')
           AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = '%1$s.touch'::regclass), 'USAGE')
           AND NOT EXISTS (SELECT 1 FROM @extschema@.stage_label
                            WHERE funnel IN (SELECT DISTINCT p.funnel FROM lf_demo_plan p))
    $q$, s) INTO set_based USING target_schema;

    IF set_based THEN
        EXECUTE format($q$
            ALTER TABLE %1$s.lead DISABLE TRIGGER lead_stage_transition, DISABLE TRIGGER lead_stage_record,
                                  DISABLE TRIGGER lead_motion, DISABLE TRIGGER lead_to_lifecycle_insert,
                                  DISABLE TRIGGER lead_to_lifecycle_update
        $q$, s);
        EXECUTE format('ALTER TABLE %1$s.lead_stage_history DISABLE TRIGGER lead_stage_history_append_only', s);
        -- The foreign keys of the tables filled in bulk are dropped and added
        -- again at the end (as pg_restore does): adding one checks every row
        -- in one join, where a kept one checks each inserted row by itself.
        EXECUTE format($q$
            SELECT array_agg(format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname) ORDER BY conrelid, conname),
                   array_agg(format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname,
                                    pg_get_constraintdef(oid)) ORDER BY conrelid, conname)
              FROM pg_constraint
             WHERE contype = 'f'
               AND conrelid IN ('%1$s.lead'::regclass, '%1$s.lead_stage_history'::regclass, '%1$s.touch'::regclass)
        $q$, s) INTO fk_drop, fk_add;
        FOREACH ddl IN ARRAY coalesce(fk_drop, '{}') LOOP
            EXECUTE ddl;
        END LOOP;
        -- the lead as the moves leave it: stage and stage_entered_at of the
        -- last move, max_stage the furthest open or won stage of the path,
        -- closed_at and close_reason of a closing last move; motion as the
        -- insert trigger sets it for a lead of a new account (the account's
        -- wins change it in generate_demo_lifecycle's refresh, as before)
        EXECUTE format($q$
            INSERT INTO %1$s.lead (lead_id, account_id, contact_id, funnel, product_area, region,
                                   source_campaign_id, amount, stage, max_stage, motion, created_at, stage_entered_at,
                                   closed_at, close_reason)
            SELECT p.lead_id, p.account_id, p.account_id, p.funnel, c.product_area, a.region, c.campaign_id,
                   round((CASE p.funnel WHEN 'enterprise' THEN 120000 WHEN 'inside_sales' THEN 12000 ELSE 900 END)
                         * (0.5 + p.r_amount))::numeric,
                   p.path[cardinality(p.path)],
                   (SELECT max(x) FROM unnest(p.path) x WHERE x <= 'won'),
                   'new_business',
                   p.times[1], p.times[cardinality(p.times)],
                   CASE WHEN p.path[cardinality(p.path)] >= 'won' THEN p.times[cardinality(p.times)] END,
                   CASE p.path[cardinality(p.path)] WHEN 'won' THEN 'signed' WHEN 'lost' THEN 'lost to competitor'
                        WHEN 'disqualified' THEN 'no fit' WHEN 'recycled' THEN 'not now' END
              FROM lf_demo_plan p
              JOIN %1$s.account a ON a.account_id = p.account_id
              JOIN (SELECT campaign_id, product_area, row_number() OVER (ORDER BY campaign_id) - 1 AS k
                      FROM %1$s.campaign WHERE campaign_id > %2$s) c ON c.k = floor(p.r_campaign * 18)::int
             ORDER BY p.lead_id
        $q$, s, base_campaign);
        -- one row per stage entered, as the trigger appends and closes them:
        -- left_at the next entry, the close reason on closing moves,
        -- recorded now by the current role
        EXECUTE format($q$
            INSERT INTO %1$s.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at,
                                                 changed_by, reason, recorded_at)
            SELECT p.lead_id, p.account_id, k, p.path[k - 1], p.path[k], p.times[k], p.times[k + 1], current_user,
                   CASE p.path[k] WHEN 'won' THEN 'signed' WHEN 'lost' THEN 'lost to competitor'
                        WHEN 'disqualified' THEN 'no fit' WHEN 'recycled' THEN 'not now' END,
                   now()
              FROM lf_demo_plan p
             CROSS JOIN LATERAL generate_subscripts(p.path, 1) k
             ORDER BY p.lead_id, k
        $q$, s);
        EXECUTE format('ALTER TABLE %1$s.lead_stage_history ENABLE TRIGGER lead_stage_history_append_only', s);
        EXECUTE format($q$
            ALTER TABLE %1$s.lead ENABLE TRIGGER lead_stage_transition, ENABLE TRIGGER lead_stage_record,
                                  ENABLE TRIGGER lead_motion, ENABLE TRIGGER lead_to_lifecycle_insert,
                                  ENABLE TRIGGER lead_to_lifecycle_update
        $q$, s);
        EXECUTE format('ANALYZE %1$s.lead; ANALYZE %1$s.lead_stage_history', s);
        -- what the lifecycle triggers did move by move: stored account
        -- statuses and contact statuses (motions: generate_demo_lifecycle),
        -- in one pass over all accounts (the set-based path is single-node)
        PERFORM @extschema@.lifecycle_refresh_batch(
            format('%s.account', s)::regclass, format('%s.contact', s)::regclass, format('%s.lead', s)::regclass,
            format('%s.lead_stage_history', s)::regclass, format('%s.account_event', s)::regclass, false);
    ELSE
        -- the trigger path: the leads, set-based in lead_id order, in
        -- chunks of doubling size with fresh statistics after each
        i := 0;
        WHILE i < leads LOOP
            EXECUTE format($q$
                INSERT INTO %1$s.lead (lead_id, account_id, contact_id, funnel, product_area, region,
                                       source_campaign_id, amount, stage, created_at)
                SELECT p.lead_id, p.account_id, p.account_id, p.funnel, c.product_area, a.region, c.campaign_id,
                       round((CASE p.funnel WHEN 'enterprise' THEN 120000 WHEN 'inside_sales' THEN 12000 ELSE 900 END)
                             * (0.5 + p.r_amount))::numeric,
                       p.path[1], p.times[1]
                  FROM lf_demo_plan p
                  JOIN %1$s.account a ON a.account_id = p.account_id
                  JOIN (SELECT campaign_id, product_area, row_number() OVER (ORDER BY campaign_id) - 1 AS k
                          FROM %1$s.campaign WHERE campaign_id > %2$s) c ON c.k = floor(p.r_campaign * 18)::int
                 WHERE p.lead_id > $1 AND p.lead_id <= $2
                 ORDER BY p.lead_id
            $q$, s, base_campaign) USING base_lead + i, base_lead + greatest(2 * i, 1000);
            i := greatest(2 * i, 1000);
            EXECUTE format('ANALYZE %1$s.lead; ANALYZE %1$s.lead_stage_history', s);
        END LOOP;
        ANALYZE lf_demo_plan;

        -- move the leads stage by stage: one set-based UPDATE per step, through the trigger
        SELECT max(cardinality(p.path)) INTO max_steps FROM lf_demo_plan p;
        FOR i IN 2 .. coalesce(max_steps, 1) LOOP
            EXECUTE format($q$
                UPDATE %s.lead l
                   SET stage = p.stage, stage_entered_at = p.at,
                       close_reason = CASE p.stage WHEN 'won' THEN 'signed' WHEN 'lost' THEN 'lost to competitor'
                                          WHEN 'disqualified' THEN 'no fit' WHEN 'recycled' THEN 'not now' END
                  FROM (SELECT lead_id, path[$1] AS stage, times[$1] AS at
                          FROM lf_demo_plan WHERE cardinality(path) >= $1) p
                 WHERE p.lead_id = l.lead_id
            $q$, s) USING i;
            EXECUTE format('ANALYZE %s.lead_stage_history', s);
        END LOOP;
    END IF;

    EXECUTE format('ANALYZE %s.lead', s);
    -- Data of later concerns (lifecycle events, touches) is generated here.
    PERFORM @extschema@.generate_demo_lifecycle(target_schema, seed);
    PERFORM @extschema@.generate_demo_touches(target_schema, seed, base_lead);
    IF set_based THEN
        FOREACH ddl IN ARRAY coalesce(fk_add, '{}') LOOP
            EXECUTE ddl;
        END LOOP;
    END IF;

    RETURN QUERY EXECUTE format($q$
        SELECT 'account', count(*) FROM %1$s.account WHERE account_id > %2$s
        UNION ALL SELECT 'campaign', count(*) FROM %1$s.campaign WHERE campaign_id > %3$s
        UNION ALL SELECT 'lead', count(*) FROM %1$s.lead WHERE lead_id > %4$s
        UNION ALL SELECT 'lead_stage_history', count(*) FROM %1$s.lead_stage_history WHERE lead_id > %4$s AND superseded_at IS NULL
        UNION ALL SELECT 'touch', count(*) FROM %1$s.touch WHERE account_id > %2$s
    $q$, s, base_account, base_campaign, base_lead);
END
$fn$;
COMMENT ON FUNCTION @extschema@.generate_demo(name, int, float8) IS
'Fills a model (see create_model) with realistic generated data: accounts in regions and segments, campaigns by channel and product area, and the given number of leads in the three built-in funnels, moved through their stages by the transition trigger with believable conversion rates and stage durations, all dated before 2026-01-01. Deterministic for a seed in [-1, 1]; new rows are numbered after existing ones. Returns the rows added per table.';
