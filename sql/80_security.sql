-- Security: no SECURITY DEFINER, no hijacking through look-alike objects in
-- public, and row-level security on the model honoured for users while the
-- trigger's own history writes still go through.
SET TimeZone = 'UTC';
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'leadfunnel'::regnamespace AND p.prosecdef;

-- A malicious role plants look-alikes of what the extension's functions call.
CREATE ROLE regress_lf_mallory;
GRANT CREATE ON SCHEMA public TO regress_lf_mallory;
CREATE TABLE public.hijacked (what text);
GRANT INSERT ON public.hijacked TO regress_lf_mallory;
SET ROLE regress_lf_mallory;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('format'); RETURN NULL; END $$;
CREATE FUNCTION public.format(text, name, name) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('format'); RETURN NULL; END $$;
CREATE FUNCTION public.quote_ident(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('quote_ident'); RETURN $1; END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('now'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION public.int8eq_evil(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('='); RETURN $1 = $2; END $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.int8eq_evil);
CREATE FUNCTION public.setseed(float8) RETURNS void LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('setseed'); END $$;
-- look-alikes of what the lifecycle, analytics and attribution code calls or
-- compares: exact signatures, so public would win were it searched
CREATE FUNCTION public.stage_lt_evil(leadfunnel.lead_stage, leadfunnel.lead_stage) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('lead_stage <'); RETURN $1::text < $2::text; END $$;
CREATE OPERATOR public.< (LEFTARG = leadfunnel.lead_stage, RIGHTARG = leadfunnel.lead_stage, FUNCTION = public.stage_lt_evil);
CREATE FUNCTION public.stage_le_evil(leadfunnel.lead_stage, leadfunnel.lead_stage) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('lead_stage <='); RETURN $1::text <= $2::text; END $$;
CREATE OPERATOR public.<= (LEFTARG = leadfunnel.lead_stage, RIGHTARG = leadfunnel.lead_stage, FUNCTION = public.stage_le_evil);
CREATE FUNCTION public.stage_ge_evil(leadfunnel.lead_stage, leadfunnel.lead_stage) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('lead_stage >='); RETURN $1::text >= $2::text; END $$;
CREATE OPERATOR public.>= (LEFTARG = leadfunnel.lead_stage, RIGHTARG = leadfunnel.lead_stage, FUNCTION = public.stage_ge_evil);
CREATE FUNCTION public.ts_le_evil(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('timestamptz <='); RETURN $1 OPERATOR(pg_catalog.<=) $2; END $$;
CREATE OPERATOR public.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.ts_le_evil);
CREATE FUNCTION public.ts_mi_evil(timestamptz, timestamptz) RETURNS interval LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('timestamptz -'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR public.- (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.ts_mi_evil);
CREATE FUNCTION public.text_eq_evil(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('text ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.text_eq_evil);
CREATE FUNCTION public.current_setting(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('current_setting'); RETURN pg_catalog.current_setting($1); END $$;
CREATE FUNCTION public.date_trunc(text, timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('date_trunc'); RETURN pg_catalog.date_trunc($1, $2); END $$;
CREATE FUNCTION public.array_position(leadfunnel.lead_stage[], leadfunnel.lead_stage) RETURNS int LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('array_position'); RETURN pg_catalog.array_position($1, $2); END $$;
CREATE FUNCTION public.cardinality(timestamptz[]) RETURNS int LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('cardinality'); RETURN pg_catalog.cardinality($1); END $$;
CREATE FUNCTION public.make_interval(days int) RETURNS interval LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO public.hijacked VALUES ('make_interval'); RETURN pg_catalog.make_interval(days => $1); END $$;
RESET ROLE;
-- A superuser with public first on the search_path uses the extension.
-- Every function of the extension is called (counted through track_functions),
-- directly or by the triggers, views and aggregates that use it.
SET search_path = public, pg_catalog;
BEGIN;
SET LOCAL track_functions = 'all';
SELECT leadfunnel.create_model('sec');
SELECT sum(rows_added) > 0 AS generated FROM leadfunnel.generate_demo('sec', 50, 0.2);
SELECT count(*) AS violations FROM leadfunnel.verify_model('sec');
SELECT leadfunnel.allowed_next('enterprise', 'mql'), leadfunnel.entry_stages('self_serve'), leadfunnel.funnel_stages('inside_sales');
-- lifecycle: win, churn, advocate, a contact, as-of, history, refresh, upgrade
INSERT INTO sec.account (account_id, name, region) VALUES (800, 'sec', 'EMEA');
INSERT INTO sec.contact (contact_id, account_id, opt_in) VALUES (800, 800, true);
INSERT INTO sec.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (800, 800, 800, 'self_serve', '2024-01-01');
UPDATE sec.lead SET stage = 'mql', stage_entered_at = '2024-01-02' WHERE lead_id = 800;
UPDATE sec.lead SET stage = 'won', stage_entered_at = '2024-01-03' WHERE lead_id = 800;
UPDATE sec.account SET is_advocate = true WHERE account_id = 800;
UPDATE sec.account SET churned_at = '2024-06-01' WHERE account_id = 800;
SELECT sec.account_status_at(800, '2024-02-01') AS status_then, (SELECT count(*) FROM sec.account_status_history(800)) AS stretches;
-- pipeline: an amount change (recorded), the Wilson bound, the model's functions
UPDATE sec.lead SET amount = 1000, expected_close_date = '2024-03-01' WHERE lead_id = 800;
SELECT leadfunnel.wilson_bound(3, 12, false) < leadfunnel.wilson_bound(3, 12, true) AS wilson,
       (SELECT count(*) FROM sec.lead_value_history WHERE lead_id = 800) AS value_rows,
       (SELECT count(*) FROM sec.pipeline_at(pg_catalog.now())) >= 0 AS pipeline_at,
       (SELECT count(*) FROM sec.pipeline_movement('2024-01-01', pg_catalog.now())) > 0 AS movement,
       (SELECT count(*) FROM sec.time_to_convert('lead', 'mql')) > 0 AS histogram;
SELECT leadfunnel.refresh_lifecycle('sec', true) >= 0 AS refreshed, leadfunnel.upgrade_model('sec') IS NOT NULL AS upgraded;
SELECT leadfunnel.lifecycle_refresh_account('sec.account', 'sec.contact', 'sec.lead', 'sec.lead_stage_history', 'sec.account_event', 800, 'prospect', NULL, false) AS refreshed_one;
SELECT leadfunnel.model_is_distributed('sec'), leadfunnel.colocated_table('sec.lead', 'sec.lead_stage_history');
-- history: an import (a lead created, a move merged in) and a correction, as of record
CREATE TABLE public.sec_export (lead_id bigint, stage text, changed_at timestamptz, account_id bigint, funnel text);
INSERT INTO public.sec_export VALUES (800, 'mql', '2024-01-02', NULL, NULL), (850, 'lead', '2024-02-01', 800, 'enterprise'),
    (850, 'mql', '2024-02-05', NULL, NULL), (852, 'mql', '2024-02-05', NULL, NULL);
SELECT * FROM leadfunnel.import_history('sec', 'public.sec_export');
SELECT leadfunnel.correct_history('sec', 850, ARRAY[('mql', '2024-02-04')]::leadfunnel.stage_move[], 'security test') AS superseded;
SELECT count(*) > 0 AS as_of FROM sec.lead_stage_history_as_of_record(pg_catalog.now());
DROP TABLE public.sec_export;
SAVEPOINT config;
SELECT leadfunnel.set_setting('customer_term', '400 days'), leadfunnel.setting_value('customer_term');
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('sec_funnel', '{lead,mql,won}');
INSERT INTO leadfunnel.funnel_transition VALUES ('sec_funnel', 'mql', 'lead');
SELECT leadfunnel.allowed_next('sec_funnel', 'mql');
-- stage labels: a preset, a label resolved, a lead moved through labels
SELECT leadfunnel.apply_preset('sec_sf', 'salesforce_opportunity');
SELECT (leadfunnel.resolve_stage('sec_sf', 'Closed Won')).stage;
INSERT INTO sec.lead (lead_id, account_id, funnel, stage_label) VALUES (801, 800, 'sec_sf', 'Prospecting');
UPDATE sec.lead SET stage_label = 'Value Proposition' WHERE lead_id = 801;
UPDATE sec.lead SET stage_label = 'Negotiation/Review' WHERE lead_id = 801;
SELECT stage, stage_label FROM sec.lead WHERE lead_id = 801;
-- a tracked table, written by every batch shape the sync reads
CREATE TABLE public.sec_deals (id text PRIMARY KEY, stage text, amount numeric, changed timestamptz);
SELECT leadfunnel.track('public.sec_deals', 'sec', 'sec_sf', 'id', 'stage', amount_column => 'amount', changed_at_column => 'changed');
INSERT INTO public.sec_deals VALUES ('D1', 'Prospecting', 1, '2024-01-01'), ('D2', 'Nope', 2, '2024-01-01')
    ON CONFLICT (id) DO UPDATE SET stage = excluded.stage;
UPDATE public.sec_deals SET stage = 'Closed Won', changed = '2024-02-01';
SELECT kind, stage_value, rows FROM leadfunnel.tracking_check('public.sec_deals');
SELECT leadfunnel.track_resync('public.sec_deals') >= 0 AS resynced, leadfunnel.tracking_acknowledge('public.sec_deals') >= 0 AS acknowledged;
SELECT leadfunnel.untrack('public.sec_deals');
ROLLBACK TO SAVEPOINT config;
-- dashboard rollups: enabled without a refresh (the views below read stale
-- buckets live), a change marks its bucket, one bucket refreshed
SELECT leadfunnel.enable_rollups('sec', 4, refresh => false) AS refreshed, leadfunnel.rollup_bucket_of(-5, 4) AS bucket;
UPDATE sec.lead SET amount = amount WHERE lead_id OPERATOR(pg_catalog.=) (SELECT min(lead_id) FROM sec.lead);
SELECT leadfunnel.refresh_rollups('sec', 1) AS refreshed;
-- every view of the model
DO $$ DECLARE v record; n bigint; BEGIN
    FOR v IN SELECT viewname FROM pg_views WHERE schemaname = 'sec' LOOP
        EXECUTE pg_catalog.format('SELECT count(*) FROM sec.%I', v.viewname) INTO n;
    END LOOP;
END $$;
SELECT leadfunnel.disable_rollups('sec');
-- aggregates and the functions on their states, called directly too
SELECT s.stage, s.reached FROM leadfunnel.funnel_reach_steps(leadfunnel.funnel_reach_final(
           leadfunnel.funnel_reach_remove(leadfunnel.funnel_reach_combine(leadfunnel.funnel_reach_add(NULL, 'mql'), leadfunnel.funnel_reach_add(NULL, 'won')), 'won')),
         '{visitor,mql,won}') s;
SELECT (leadfunnel.cycle_time_final(leadfunnel.cycle_time_remove(leadfunnel.cycle_time_combine(
            leadfunnel.cycle_time_add(NULL, interval '1 day'), leadfunnel.cycle_time_add(NULL, interval '2 days')), interval '1 day'))).n,
       leadfunnel.cycle_time_quantile(leadfunnel.cycle_time_compact(leadfunnel.cycle_time_add(NULL, interval '1 hour')), 0.5),
       (leadfunnel.cycle_time_stats(leadfunnel.cycle_time_sketch_in(leadfunnel.cycle_time_sketch_out(leadfunnel.cycle_time_add(NULL, interval '1 hour'))))).max,
       length(leadfunnel.cycle_time_sketch_send(leadfunnel.cycle_time_add(NULL, interval '1 hour'))) > 0 AS sent;
SELECT (leadfunnel.cycle_time_stats(leadfunnel.cycle_time_remove(leadfunnel.cycle_time_add(leadfunnel.cycle_time_add(NULL,
            timestamptz '2024-01-01', timestamptz '2024-01-03'), timestamptz '2024-01-01', timestamptz '2024-01-02'),
            timestamptz '2024-01-01', timestamptz '2024-01-02'))).max AS span_tz,
       (leadfunnel.cycle_time_stats(leadfunnel.cycle_time_remove(leadfunnel.cycle_time_add(leadfunnel.cycle_time_add(NULL,
            timestamp '2024-01-01', timestamp '2024-01-03'), timestamp '2024-01-01', timestamp '2024-01-02'),
            timestamp '2024-01-01', timestamp '2024-01-02'))).max AS span;
SELECT leadfunnel.window_funnel_final(leadfunnel.window_funnel_combine(leadfunnel.window_funnel_add(NULL, '1 day', '2024-01-01', 'visitor'),
                                                                     leadfunnel.window_funnel_add(NULL, '1 day', '2024-01-01 12:00', 'lead'))),
       leadfunnel.window_funnel_final(leadfunnel.window_funnel_add(NULL, '1 day', '2024-01-01', 'lead', 'skip_allowed')) AS skip_allowed,
       leadfunnel.window_funnel_state_in(leadfunnel.window_funnel_state_out(leadfunnel.window_funnel_add(NULL, '1 day', '2024-01-01', 'lead')))::text,
       leadfunnel.funnel_reach_state_in(leadfunnel.funnel_reach_state_out(leadfunnel.funnel_reach_add(NULL, 'mql')))::text,
       length(leadfunnel.funnel_reach_state_send(leadfunnel.funnel_reach_add(NULL, 'mql'))) + length(leadfunnel.window_funnel_state_send(leadfunnel.window_funnel_add(NULL, '1 day', '2024-01-01', 'lead'))) AS sent;
SELECT leadfunnel.attribution_weights('w_shaped', '{2024-01-01,2024-01-02,2024-01-03}', '2024-01-02', NULL, NULL),
       (SELECT count(*) FROM leadfunnel.touch_credit('{2024-01-01,2024-01-02}', NULL, '2024-01-02', NULL, NULL)) AS touch_rows,
       (SELECT count(*) FROM leadfunnel.campaign_credit('{2024-01-01,2024-01-02}', NULL, '{1,2}', '2024-01-02', NULL, NULL)) AS campaign_rows,
       leadfunnel.contact_status_rule(false, false, true);
INSERT INTO leadfunnel.attribution_model_def (name, first_touch, is_default) VALUES ('sec_model', 1, true);
SELECT leadfunnel.position_attribution_weights('{0.5,0,0,0.5,0}', '{2024-01-01,2024-01-02}', '2024-01-02', NULL, NULL),
       leadfunnel.attribution_weights('sec_model', '{2024-01-01,2024-01-02}', NULL, NULL, NULL),
       leadfunnel.default_attribution_model();
DELETE FROM leadfunnel.attribution_model_def WHERE name OPERATOR(pg_catalog.=) 'sec_model';
SELECT leadfunnel.markov_attribution_final(leadfunnel.markov_attribution_combine(
           leadfunnel.markov_attribution_state_in(leadfunnel.markov_attribution_state_out(
               leadfunnel.markov_attribution_trans(NULL, '{a,b}', true, 1))),
           leadfunnel.markov_attribution_trans(NULL, '{b}', false, NULL))) AS markov,
       length(leadfunnel.markov_attribution_state_send(leadfunnel.markov_attribution_trans(NULL, '{a}', true, 1))) > 0 AS markov_sent,
       leadfunnel.shapley_attribution_final(leadfunnel.shapley_attribution_combine(
           leadfunnel.shapley_attribution_state_in(leadfunnel.shapley_attribution_state_out(
               leadfunnel.shapley_attribution_trans(NULL, '{a,b}', true, 1))),
           leadfunnel.shapley_attribution_trans(NULL, '{b}', false, NULL))) AS shapley,
       length(leadfunnel.shapley_attribution_state_send(leadfunnel.shapley_attribution_trans(NULL, '{a}', true, 1))) > 0 AS shapley_sent;
SELECT cardinality(leadfunnel.attribution_totals_final(leadfunnel.attribution_totals_combine(
           leadfunnel.attribution_totals_state_in(leadfunnel.attribution_totals_state_out(
               leadfunnel.attribution_totals_trans(NULL, '{2024-01-01}', '{1}', '{7}', '2024-01-02', NULL, NULL, '7 days', 100, NULL))),
           leadfunnel.attribution_totals_trans(NULL, '{2024-01-01}', '{2}', '{7}', '2024-01-02', NULL, NULL, '7 days', 50, NULL)))) AS totals,
       length(leadfunnel.attribution_totals_state_send(
           leadfunnel.attribution_totals_trans(NULL, '{2024-01-01}', '{1}', '{7}', '2024-01-02', NULL, NULL, '7 days', 100, NULL))) > 0 AS sent;
SELECT leadfunnel.cycle_time_by_stage_final(leadfunnel.cycle_time_by_stage_combine(
           leadfunnel.cycle_time_by_stage_state_in(leadfunnel.cycle_time_by_stage_state_out(
               leadfunnel.cycle_time_by_stage_add(NULL, 'mql', interval '1 day'))),
           leadfunnel.cycle_time_by_stage_add(leadfunnel.cycle_time_by_stage_add(NULL, 'lead',
               timestamptz '2024-01-01', timestamptz '2024-01-02'), 'lead', timestamp '2024-01-01', timestamp '2024-01-03'))) AS by_stage,
       length(leadfunnel.cycle_time_by_stage_state_send(leadfunnel.cycle_time_by_stage_add(NULL, 'mql', interval '1 day'))) AS by_stage_sent;
-- functions of leadfunnel no statement reached: only those that cannot be
-- called from SQL (binary receive takes an internal buffer, the support
-- functions of lead_stage_entries its internal state) and the two
-- helpers that change Citus settings (citus.* exists only where Citus is
-- loaded); the append-only guard is reached by the import's and the
-- correction's writes
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'leadfunnel'::regnamespace AND p.prokind = 'f'
   AND NOT EXISTS (SELECT 1 FROM pg_stat_xact_user_functions f WHERE f.funcid = p.oid AND f.calls > 0)
 ORDER BY 1;
COMMIT;
SELECT what, count(*) FROM public.hijacked GROUP BY what;
RESET search_path;
DROP OPERATOR public.= (bigint, bigint);
DROP OPERATOR public.< (leadfunnel.lead_stage, leadfunnel.lead_stage), public.<= (leadfunnel.lead_stage, leadfunnel.lead_stage),
    public.>= (leadfunnel.lead_stage, leadfunnel.lead_stage), public.<= (timestamptz, timestamptz), public.- (timestamptz, timestamptz),
    public.= (text, text);
DROP FUNCTION public.int8eq_evil(bigint, bigint), public.format(text, text), public.format(text, name, name),
    public.quote_ident(text), public.now(), public.setseed(float8),
    public.stage_lt_evil(leadfunnel.lead_stage, leadfunnel.lead_stage), public.stage_le_evil(leadfunnel.lead_stage, leadfunnel.lead_stage),
    public.stage_ge_evil(leadfunnel.lead_stage, leadfunnel.lead_stage), public.ts_le_evil(timestamptz, timestamptz),
    public.ts_mi_evil(timestamptz, timestamptz), public.text_eq_evil(text, text), public.current_setting(text),
    public.date_trunc(text, timestamptz), public.array_position(leadfunnel.lead_stage[], leadfunnel.lead_stage),
    public.cardinality(timestamptz[]), public.make_interval(int);
DROP TABLE public.hijacked;
REVOKE CREATE ON SCHEMA public FROM regress_lf_mallory;
DROP ROLE regress_lf_mallory;

-- Row-level security: a sales rep sees and moves only the leads of his region.
CREATE ROLE regress_lf_rep;
GRANT USAGE ON SCHEMA sec TO regress_lf_rep;
GRANT SELECT, UPDATE ON sec.lead TO regress_lf_rep;
GRANT SELECT ON sec.lead_stage_history TO regress_lf_rep;
ALTER TABLE sec.lead ENABLE ROW LEVEL SECURITY;
CREATE POLICY rep_region ON sec.lead TO regress_lf_rep USING (region = 'EMEA');
ALTER TABLE sec.lead_stage_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY rep_history ON sec.lead_stage_history TO regress_lf_rep
    USING (EXISTS (SELECT 1 FROM sec.lead l WHERE l.lead_id = lead_stage_history.lead_id));
INSERT INTO sec.lead (lead_id, account_id, region, created_at) VALUES (900, 1, 'EMEA', '2024-01-01'), (901, 1, 'AMER', '2024-01-01');
SET ROLE regress_lf_rep;
SELECT count(*) FILTER (WHERE region <> 'EMEA') AS other_regions_visible FROM sec.lead;
UPDATE sec.lead SET stage = 'mql', stage_entered_at = '2024-01-02' WHERE lead_id IN (900, 901);
SELECT lead_id, seq, to_stage, changed_by FROM sec.lead_stage_history WHERE lead_id IN (900, 901) ORDER BY 1, 2;
RESET ROLE;
SELECT lead_id, stage FROM sec.lead WHERE lead_id IN (900, 901) ORDER BY 1;
SELECT count(*) AS violations FROM leadfunnel.verify_model('sec');
SET client_min_messages = warning;
DROP SCHEMA sec CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_lf_rep;
DROP ROLE regress_lf_rep;
