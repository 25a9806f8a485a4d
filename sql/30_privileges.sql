-- A role that may only read and update leads still moves them, and the move is
-- recorded under its name; it cannot write the history itself.
SET TimeZone = 'UTC';
CREATE ROLE regress_lf_app;
GRANT USAGE ON SCHEMA crm TO regress_lf_app;
GRANT SELECT, INSERT, UPDATE ON crm.lead TO regress_lf_app;
GRANT SELECT ON crm.lead_stage_history TO regress_lf_app;

SET ROLE regress_lf_app;
INSERT INTO crm.lead (lead_id, account_id, created_at) VALUES (50, 1, '2024-07-01');
UPDATE crm.lead SET stage = 'mql', stage_entered_at = '2024-07-02' WHERE lead_id = 50;
SELECT try($$UPDATE crm.lead SET stage = 'sal' WHERE lead_id = 50$$);
SELECT try($$INSERT INTO crm.lead_stage_history (lead_id, account_id, seq, to_stage, entered_at) VALUES (50, 1, 3, 'won', '2024-07-03')$$);
SELECT try($$UPDATE crm.lead_stage_history SET left_at = NULL WHERE lead_id = 50$$);
SELECT try($$DELETE FROM crm.account$$);
RESET ROLE;

SELECT lead_id, seq, from_stage, to_stage, entered_at, left_at, changed_by
  FROM crm.lead_stage_history WHERE lead_id = 50 ORDER BY seq;

-- A role without UPDATE on lead cannot move anything.
CREATE ROLE regress_lf_reader;
GRANT USAGE ON SCHEMA crm TO regress_lf_reader;
GRANT SELECT ON crm.lead TO regress_lf_reader;
SET ROLE regress_lf_reader;
SELECT try($$UPDATE crm.lead SET stage = 'tal' WHERE lead_id = 50$$);
SELECT count(*) AS visible_leads FROM crm.lead;
RESET ROLE;

-- Rules are per backend cached; a rule added in another session's transaction
-- is seen after commit (here: the same session, next statement).
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('pilot', '{lead,opportunity,won}');
INSERT INTO crm.lead (lead_id, account_id, funnel, created_at) VALUES (51, 1, 'pilot', '2024-07-01');
SELECT try($$UPDATE crm.lead SET stage = 'won' WHERE lead_id = 51$$);
UPDATE leadfunnel.funnel SET allow_skip = true WHERE name = 'pilot';
UPDATE crm.lead SET stage = 'won', stage_entered_at = '2024-07-05' WHERE lead_id = 51;
SELECT lead_id, stage, max_stage, closed_at FROM crm.lead WHERE lead_id = 51;
-- A rule change inside a transaction that rolls back leaves the old rules.
BEGIN;
INSERT INTO leadfunnel.funnel_transition VALUES ('pilot', 'won', 'opportunity');
SELECT leadfunnel.allowed_next('pilot', 'won');
ROLLBACK;
SELECT leadfunnel.allowed_next('pilot', 'won');

SELECT * FROM leadfunnel.verify_model('crm');

DROP OWNED BY regress_lf_app, regress_lf_reader;
DROP ROLE regress_lf_app;
DROP ROLE regress_lf_reader;
