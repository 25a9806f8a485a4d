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
RESET ROLE;
-- A superuser with public first on the search_path uses the extension.
SET search_path = public, pg_catalog;
SELECT leadfunnel.create_model('sec');
SELECT sum(rows_added) > 0 AS generated FROM leadfunnel.generate_demo('sec', 50, 0.2);
SELECT count(*) AS violations FROM leadfunnel.verify_model('sec');
SELECT leadfunnel.allowed_next('enterprise', 'mql');
SELECT what, count(*) FROM public.hijacked GROUP BY what;
RESET search_path;
DROP OPERATOR public.= (bigint, bigint);
DROP FUNCTION public.int8eq_evil(bigint, bigint), public.format(text, text), public.format(text, name, name),
    public.quote_ident(text), public.now(), public.setseed(float8);
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
