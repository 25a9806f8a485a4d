-- The transition trigger: entry stages, every kind of move, closing and
-- reopening, chronology, maintained columns, and the history it writes.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('crm');
SELECT try($$SELECT leadfunnel.create_model('crm')$$);
SELECT try($$SELECT leadfunnel.create_model(NULL)$$);

INSERT INTO crm.account (account_id, name, region, segment) VALUES
    (1, 'Acme', 'EMEA', 'enterprise'), (2, 'Globex', 'AMER', 'mid-market');
INSERT INTO crm.contact (contact_id, account_id, email, opt_in) VALUES
    (11, 1, 'ann@acme.example', true), (21, 2, 'bob@globex.example', false);
INSERT INTO crm.campaign (campaign_id, name, channel) VALUES (100, 'Webinar', 'webinar');

-- Creating leads: entry stages only.
INSERT INTO crm.lead (lead_id, account_id, contact_id, funnel, created_at, stage)
VALUES (1, 1, 11, 'enterprise', '2024-01-01 09:00', 'visitor');
INSERT INTO crm.lead (lead_id, account_id, contact_id, funnel, created_at)
VALUES (2, 1, 11, 'inside_sales', '2024-01-02 09:00');
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at, stage, stage_entered_at)
VALUES (3, 2, 'self_serve', '2024-01-03 09:00', 'lead', '2024-01-03 10:00');
SELECT lead_id, funnel, stage, max_stage, created_at, stage_entered_at, closed_at FROM crm.lead ORDER BY lead_id;
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, stage) VALUES (9, 1, '2024-01-01', 'mql')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, stage) VALUES (9, 1, '2024-01-01', 'won')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, funnel, created_at) VALUES (9, 1, 'nosuch', '2024-01-01')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, funnel, created_at) VALUES (9, 1, NULL, '2024-01-01')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, stage) VALUES (9, 1, '2024-01-01', NULL)$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (9, NULL, '2024-01-01')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (9, 77, '2024-01-01')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, stage) VALUES (9, 1, '2024-01-01', 'bogus')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (9, 1, '2999-01-01')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (9, 1, '-infinity')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, stage_entered_at) VALUES (9, 1, '2024-01-05', '2024-01-04')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, max_stage) VALUES (9, 1, '2024-01-05', 'won')$$);
SELECT try($$INSERT INTO crm.lead (lead_id, account_id, created_at, closed_at) VALUES (9, 1, '2024-01-05', '2024-01-06')$$);
SELECT count(*) AS leads, (SELECT count(*) FROM crm.lead_stage_history) AS history_rows FROM crm.lead;

-- Forward one stage at a time, with backfilled times.
UPDATE crm.lead SET stage = 'lead', stage_entered_at = '2024-01-02 09:00' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-01-05 09:00' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'tal', stage_entered_at = '2024-01-06 09:00' WHERE lead_id = 1;
-- Refused moves: skipping, backward, into a stage the funnel lacks, won too early.
SELECT try($$UPDATE crm.lead SET stage = 'sal' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'mql' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'won' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'sal' WHERE lead_id = 2$$);
SELECT try($$UPDATE crm.lead SET stage = 'won' WHERE lead_id = 2$$);
SELECT try($$UPDATE crm.lead SET stage = 'tal' WHERE lead_id = 3$$);
SELECT try($$UPDATE crm.lead SET stage = 'bogus' WHERE lead_id = 3$$);
SELECT try($$UPDATE crm.lead SET stage = NULL WHERE lead_id = 3$$);
-- Chronology: before the current stage, in the future, or moving the time alone.
SELECT try($$UPDATE crm.lead SET stage = 'tql', stage_entered_at = '2024-01-06 08:59' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'tql', stage_entered_at = '2999-01-01' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'tql', stage_entered_at = 'infinity' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'tql', stage_entered_at = '-infinity' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage_entered_at = '2024-01-07' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET created_at = '2024-01-01 08:00' WHERE lead_id = 1$$);
-- Maintained columns.
SELECT try($$UPDATE crm.lead SET max_stage = 'won' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET closed_at = '2024-02-01' WHERE lead_id = 1$$);
-- Nothing of the refused statements is left behind.
SELECT lead_id, stage, max_stage, stage_entered_at FROM crm.lead WHERE lead_id = 1;
SELECT count(*) FROM crm.lead_stage_history WHERE lead_id = 1;

-- An update that keeps the stage writes no history; one that sets it to itself neither.
UPDATE crm.lead SET amount = 120000, product_area = 'analytics', region = 'EMEA' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'tal' WHERE lead_id = 1;
SELECT count(*) FROM crm.lead_stage_history WHERE lead_id = 1;

-- The same time as the current stage is allowed (zero-length stay).
UPDATE crm.lead SET stage = 'tql', stage_entered_at = '2024-01-06 09:00' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'sal', stage_entered_at = '2024-01-10 09:00' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'sql', stage_entered_at = '2024-01-12 09:00' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'opportunity', stage_entered_at = '2024-01-20 09:00' WHERE lead_id = 1;
UPDATE crm.lead SET stage = 'won', stage_entered_at = '2024-03-01 09:00', close_reason = 'signed' WHERE lead_id = 1;
-- Closed-won is terminal.
SELECT try($$UPDATE crm.lead SET stage = 'lost' WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET stage = 'opportunity' WHERE lead_id = 1$$);

-- Lead 2 (inside sales): close as recycled from an open stage, reopen, disqualify.
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-01-03 09:00' WHERE lead_id = 2;
UPDATE crm.lead SET stage = 'recycled', stage_entered_at = '2024-02-01 09:00', close_reason = 'no budget yet' WHERE lead_id = 2;
SELECT lead_id, stage, max_stage, closed_at, close_reason FROM crm.lead WHERE lead_id = 2;
SELECT try($$UPDATE crm.lead SET stage = 'mql' WHERE lead_id = 2$$);
SELECT try($$UPDATE crm.lead SET stage = 'won' WHERE lead_id = 2$$);
UPDATE crm.lead SET stage = 'lead', stage_entered_at = '2024-06-01 09:00' WHERE lead_id = 2;
SELECT lead_id, stage, max_stage, closed_at, close_reason FROM crm.lead WHERE lead_id = 2;
UPDATE crm.lead SET stage = 'disqualified', stage_entered_at = '2024-06-02 09:00', close_reason = 'competitor' WHERE lead_id = 2;
SELECT try($$UPDATE crm.lead SET stage = 'lead' WHERE lead_id = 2$$);

-- Lead 3 (self-serve): lead -> mql -> won.
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-01-04 09:00' WHERE lead_id = 3;
UPDATE crm.lead SET stage = 'won', stage_entered_at = '2024-01-04 10:00' WHERE lead_id = 3;

SELECT lead_id, funnel, stage, max_stage, stage_entered_at, closed_at, close_reason FROM crm.lead ORDER BY lead_id;
SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, changed_by, reason
  FROM crm.lead_stage_history ORDER BY lead_id, seq;

-- Moves without a time are dated now(), and follow the previous stage.
INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (10, 2, '2024-05-01');
BEGIN;
UPDATE crm.lead SET stage = 'mql' WHERE lead_id = 10;
SELECT stage_entered_at = now() AS dated_now, closed_at IS NULL AS open FROM crm.lead WHERE lead_id = 10;
SELECT entered_at = now() AS entered_now, left_at IS NULL AS current FROM crm.lead_stage_history WHERE lead_id = 10 AND seq = 2;
SELECT left_at = now() AS left_now FROM crm.lead_stage_history WHERE lead_id = 10 AND seq = 1;
COMMIT;
INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (4, 2, '2024-05-01');
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-05-04' WHERE lead_id = 4;

-- A multi-row update moves each lead; one refused row refuses the statement.
INSERT INTO crm.lead (lead_id, account_id, created_at) SELECT g, 2, '2024-05-01' FROM generate_series(5, 8) g;
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-05-02' WHERE lead_id BETWEEN 5 AND 8;
SELECT try($$UPDATE crm.lead SET stage = 'tal', stage_entered_at = '2024-05-03' WHERE lead_id BETWEEN 4 AND 8$$);
UPDATE crm.lead SET stage = 'lost', stage_entered_at = '2024-05-02' WHERE lead_id = 8;
SELECT try($$UPDATE crm.lead SET stage = 'tal', stage_entered_at = '2024-05-03' WHERE lead_id BETWEEN 5 AND 8$$);
SELECT count(*) FILTER (WHERE stage = 'tal') AS moved, (SELECT count(*) FROM crm.lead_stage_history WHERE lead_id BETWEEN 5 AND 8) AS history_rows
  FROM crm.lead WHERE lead_id BETWEEN 5 AND 8;

-- Changing the funnel of a lead: allowed when its stage belongs to the new funnel.
UPDATE crm.lead SET funnel = 'inside_sales' WHERE lead_id = 5;
SELECT try($$UPDATE crm.lead SET funnel = 'nosuch' WHERE lead_id = 5$$);
UPDATE crm.lead SET stage = 'tal', stage_entered_at = '2024-05-05' WHERE lead_id = 5;
SELECT try($$UPDATE crm.lead SET funnel = 'self_serve' WHERE lead_id = 5$$);
-- Moving and changing funnel at once validates against the new funnel.
UPDATE crm.lead SET funnel = 'self_serve', stage = 'won', stage_entered_at = '2024-05-06' WHERE lead_id = 5;
-- A closed lead may change funnel.
UPDATE crm.lead SET funnel = 'self_serve' WHERE lead_id = 1;
SELECT lead_id, funnel, stage, max_stage FROM crm.lead WHERE lead_id IN (1, 5) ORDER BY 1;

-- Leads cannot be deleted while they have history; the history cannot be changed.
SELECT try($$DELETE FROM crm.lead WHERE lead_id = 3$$);
SELECT try($$UPDATE crm.lead_stage_history SET reason = 'x' WHERE lead_id = 1$$);
SELECT try($$DELETE FROM crm.lead_stage_history WHERE lead_id = 1$$);
SELECT try($$INSERT INTO crm.lead_stage_history (lead_id, account_id, seq, to_stage, entered_at) VALUES (1, 1, 99, 'won', '2024-01-01')$$);
SELECT try($$TRUNCATE crm.lead_stage_history$$);
SELECT try($$UPDATE crm.lead SET account_id = 2 WHERE lead_id = 1$$);
SELECT try($$UPDATE crm.lead SET lead_id = 99 WHERE lead_id = 1$$);

-- Invariants hold.
SELECT * FROM leadfunnel.verify_model('crm');

-- The trigger functions refuse to be misused.
SELECT try($$SELECT leadfunnel.lead_stage_transition()$$);
CREATE TABLE public.not_a_lead (lead_id bigint, stage text);
CREATE TRIGGER t BEFORE INSERT ON public.not_a_lead FOR EACH ROW EXECUTE FUNCTION leadfunnel.lead_stage_transition();
SELECT try($$INSERT INTO public.not_a_lead VALUES (1, 'x')$$);
DROP TABLE public.not_a_lead;

-- The model belongs to the caller and keeps the extension from being dropped.
SELECT c.relname, pg_get_userbyid(c.relowner) = current_user AS owned_by_caller,
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') AS extension_member
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r' ORDER BY 1;
-- (the first line only: the DETAIL lists every model object, which later concerns add to)
SELECT split_part(try($$DROP EXTENSION leadfunnel$$), E'\n', 1) AS refused;
