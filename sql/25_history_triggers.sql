-- Triggers of the user's on the history still fire for the rows leadfunnel
-- writes (only its own guard and the redundant foreign-key check are skipped).
SET TimeZone = 'UTC';
CREATE TABLE public.history_log (lead_id bigint, seq int, op text, left_at timestamptz);
CREATE FUNCTION public.log_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.history_log VALUES (NEW.lead_id, NEW.seq, TG_OP, NEW.left_at);
    RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE ON crm.lead_stage_history
    FOR EACH ROW EXECUTE FUNCTION public.log_history();
INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (40, 2, '2024-08-01');
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-08-02' WHERE lead_id = 40;
SELECT * FROM public.history_log ORDER BY seq, op;
DROP TRIGGER audit ON crm.lead_stage_history;
DROP TABLE public.history_log;
DROP FUNCTION public.log_history();
-- A history table without its primary key is refused clearly.
CREATE SCHEMA broken;
CREATE TABLE broken.lead (LIKE crm.lead INCLUDING DEFAULTS);
CREATE TABLE broken.lead_stage_history (LIKE crm.lead_stage_history INCLUDING DEFAULTS);
CREATE TRIGGER lead_stage_transition BEFORE INSERT OR UPDATE ON broken.lead
    FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_transition();
CREATE TRIGGER lead_stage_record AFTER INSERT OR UPDATE OF stage ON broken.lead
    FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_record('broken.lead_stage_history');
SELECT try($$INSERT INTO broken.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01')$$);
SET client_min_messages = warning;
DROP SCHEMA broken CASCADE;
RESET client_min_messages;
