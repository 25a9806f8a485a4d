-- Corrections keep the audit trail: leadfunnel.correct_history() replaces a
-- span of one lead's history by superseding rows (never deleting them),
-- records who and why, brings the lead and the lifecycle in line; views and
-- invariants read the current truth; lead_stage_history_as_of_record(t)
-- still answers what was believed at t.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('cor');
INSERT INTO cor.account (account_id) VALUES (1), (2);
INSERT INTO cor.contact (contact_id, account_id, opt_in) VALUES (1, 1, true), (2, 2, false);
CREATE TEMP TABLE tx (step text, at timestamptz);
-- lead 1 up to sql, one move per transaction (so each is recorded at its own time)
INSERT INTO cor.lead (lead_id, account_id, contact_id, created_at) VALUES (1, 1, 1, '2026-03-01');
UPDATE cor.lead SET stage = 'mql', stage_entered_at = '2026-03-05' WHERE lead_id = 1;
UPDATE cor.lead SET stage = 'tal', stage_entered_at = '2026-03-08' WHERE lead_id = 1;
UPDATE cor.lead SET stage = 'tql', stage_entered_at = '2026-03-10' WHERE lead_id = 1;
UPDATE cor.lead SET stage = 'sal', stage_entered_at = '2026-03-12' WHERE lead_id = 1;
UPDATE cor.lead SET stage = 'sql', stage_entered_at = '2026-03-17' WHERE lead_id = 1;
INSERT INTO tx SELECT 'before corrections', now();
SELECT pg_sleep(0.01);

-- The privileges: EXECUTE is not granted to PUBLIC; a role needs it and
-- UPDATE on the model's lead table.
SELECT has_function_privilege('public', 'leadfunnel.correct_history(name, bigint, leadfunnel.stage_move[], text)', 'EXECUTE') AS public_may_correct;
CREATE ROLE regress_lf_rep;
CREATE ROLE regress_lf_ops;
GRANT USAGE ON SCHEMA cor TO regress_lf_rep, regress_lf_ops;
GRANT SELECT, UPDATE ON cor.lead TO regress_lf_rep;
GRANT SELECT ON cor.lead TO regress_lf_ops;
GRANT EXECUTE ON FUNCTION leadfunnel.correct_history(name, bigint, leadfunnel.stage_move[], text) TO regress_lf_ops;
SET ROLE regress_lf_rep;   -- may move leads, not correct
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], 'typo')$$);
RESET ROLE;
SET ROLE regress_lf_ops;   -- may correct, but not this model
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], 'typo')$$);
RESET ROLE;
GRANT UPDATE ON cor.lead TO regress_lf_ops;
-- and the internal functions run only inside a correction or an import
SET ROLE regress_lf_ops;
SELECT try($$SELECT leadfunnel.history_merge('cor', 'regress_lf_ops', 'sneaky')$$);
SELECT try($$SELECT leadfunnel.history_append_rows('cor.lead_stage_history', 'SELECT 1 AS seq')$$);
SELECT try($$SELECT leadfunnel.correct_history_apply('cor', 1, ARRAY[('lead', '2026-03-01')]::leadfunnel.stage_move[], 'x', 'regress_lf_ops')$$);

-- "It stayed in sal; the sql entry never happened": the history from the
-- sal entry on becomes one move into sal.
SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[],
                                  'sql set by mistake, ticket 4711') AS superseded;
RESET ROLE;
INSERT INTO tx SELECT 'after first correction', now();
SELECT pg_sleep(0.01);
SELECT seq, from_stage, to_stage, entered_at, left_at, changed_by, reason, flag,
       superseded_at IS NOT NULL AS superseded, superseded_by, superseded_reason
  FROM cor.lead_stage_history WHERE lead_id = 1 ORDER BY superseded_at IS NULL, seq;
SELECT stage, max_stage, stage_entered_at, closed_at FROM cor.lead WHERE lead_id = 1;
SELECT count(*) AS violations FROM leadfunnel.verify_model('cor');
SELECT stage, reached FROM cor.funnel_summary WHERE funnel = 'enterprise' AND stage IN ('sal', 'sql') ORDER BY stage;

-- "It entered mql on 3 March, not 5 March": the rows from then on are
-- given again; the row before (lead) is closed at the new time, so it is
-- superseded and recorded again too.
SELECT leadfunnel.correct_history('cor', 1, ARRAY[('mql', '2026-03-03'), ('tal', '2026-03-08'), ('tql', '2026-03-10'),
                                                  ('sal', '2026-03-12')]::leadfunnel.stage_move[],
                                  'mql date from the webinar log') AS superseded;
INSERT INTO tx SELECT 'after second correction', now();
SELECT seq, from_stage, to_stage, entered_at, left_at, changed_by, reason
  FROM cor.lead_stage_history WHERE lead_id = 1 AND superseded_at IS NULL ORDER BY seq;
SELECT count(*) AS all_rows, count(*) FILTER (WHERE superseded_at IS NULL) AS current_rows FROM cor.lead_stage_history WHERE lead_id = 1;
SELECT count(*) AS violations FROM leadfunnel.verify_model('cor');

-- What we believed at each moment: the as-of answers, checked against the
-- row-level rule (recorded by then, not superseded by then).
SELECT tx.step, string_agg(format('%s %s..%s', r.to_stage, r.entered_at::date, coalesce(r.left_at::date::text, '')), ', ' ORDER BY r.seq) AS history
  FROM tx CROSS JOIN LATERAL cor.lead_stage_history_as_of_record(tx.at) r
 WHERE r.lead_id = 1 GROUP BY tx.step, tx.at ORDER BY tx.at;
SELECT tx.step, count(*) = (SELECT count(*) FROM cor.lead_stage_history h
                             WHERE h.recorded_at <= tx.at AND (h.superseded_at IS NULL OR h.superseded_at > tx.at)) AS rule_holds
  FROM tx CROSS JOIN LATERAL cor.lead_stage_history_as_of_record(tx.at) r GROUP BY tx.step, tx.at ORDER BY tx.at;

-- A correction may state a move the funnel rules refuse: it is recorded and flagged.
SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sql', '2026-03-20'), ('tal', '2026-03-25')]::leadfunnel.stage_move[],
                                  'requalified by inside sales') AS superseded;
SELECT seq, from_stage, to_stage, flag FROM cor.lead_stage_history WHERE lead_id = 1 AND superseded_at IS NULL AND seq >= 5 ORDER BY seq;
SELECT stage, max_stage FROM cor.lead WHERE lead_id = 1;
SELECT count(*) AS violations FROM leadfunnel.verify_model('cor');
-- the lead moves on normally from the corrected state
UPDATE cor.lead SET stage = 'tql', stage_entered_at = '2026-03-27' WHERE lead_id = 1;
SELECT seq, from_stage, to_stage, entered_at, left_at FROM cor.lead_stage_history WHERE lead_id = 1 AND superseded_at IS NULL AND seq >= 6 ORDER BY seq;

-- The lifecycle follows: a win recorded, then corrected away.
-- (a customer term of 100 years, so that the status after the win of
-- 2026-01-20 does not depend on the date the test runs)
SELECT leadfunnel.set_setting('customer_term', '100 years');
INSERT INTO cor.lead (lead_id, account_id, contact_id, funnel, created_at) VALUES (2, 2, 2, 'self_serve', '2026-01-01');
UPDATE cor.lead SET stage = 'mql', stage_entered_at = '2026-01-10' WHERE lead_id = 2;
UPDATE cor.lead SET stage = 'won', stage_entered_at = '2026-01-20' WHERE lead_id = 2;
SELECT a.status, a.status_since, c.status AS contact_status FROM cor.account a JOIN cor.contact c USING (account_id) WHERE a.account_id = 2;
SELECT leadfunnel.correct_history('cor', 2, ARRAY[('lost', '2026-01-20')]::leadfunnel.stage_move[], 'the deal fell through before signature') AS superseded;
SELECT stage, max_stage, closed_at FROM cor.lead WHERE lead_id = 2;
SELECT a.status, a.status_since, c.status AS contact_status FROM cor.account a JOIN cor.contact c USING (account_id) WHERE a.account_id = 2;
SELECT status, won_leads, first_won_at FROM cor.account_lifecycle WHERE account_id = 2;
-- what the rules say from the facts is what is stored
SELECT leadfunnel.refresh_lifecycle('cor', true) AS changed_by_refresh;
SELECT count(*) AS violations FROM leadfunnel.verify_model('cor');
DELETE FROM leadfunnel.setting WHERE name = 'customer_term';

-- A correction's moves at one time stay in the order given (a lead lost
-- and reopened at once), whatever the stages' order.
INSERT INTO leadfunnel.funnel (name, stages) VALUES ('regress_reopen', '{lead,mql,won}');
INSERT INTO leadfunnel.funnel_transition (funnel, from_stage, to_stage) VALUES ('regress_reopen', 'lost', 'lead');
INSERT INTO cor.lead (lead_id, account_id, funnel, created_at) VALUES (3, 1, 'regress_reopen', '2026-02-01');
SELECT leadfunnel.correct_history('cor', 3, ARRAY[('mql', '2026-02-10'), ('lost', '2026-02-20'), ('lead', '2026-02-20')]::leadfunnel.stage_move[],
                                  'reopened the day it was lost') AS superseded;
SELECT seq, from_stage, to_stage, entered_at, flag FROM cor.lead_stage_history WHERE lead_id = 3 AND superseded_at IS NULL ORDER BY seq;
SELECT stage, stage_entered_at, closed_at FROM cor.lead WHERE lead_id = 3;
SELECT count(*) AS violations FROM leadfunnel.verify_model('cor');

-- Bad corrections change nothing.
SELECT count(*) AS rows_before FROM cor.lead_stage_history \gset
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], NULL)$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], '  ')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', 'infinity')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2999-01-01')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12'), ('sql', '2026-03-11')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[('sal', '2026-03-12'), ('sal', '2026-03-14')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 1, ARRAY[(NULL, '2026-03-12')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('cor', 99, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history('nosuch', 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], 'x')$$);
SELECT try($$SELECT leadfunnel.correct_history(NULL, 1, ARRAY[('sal', '2026-03-12')]::leadfunnel.stage_move[], 'x')$$);
SELECT count(*) = :rows_before AS nothing_written FROM cor.lead_stage_history;

SET client_min_messages = warning;
DROP SCHEMA cor CASCADE;
DELETE FROM leadfunnel.funnel WHERE name = 'regress_reopen';
RESET client_min_messages;
REVOKE ALL ON FUNCTION leadfunnel.correct_history(name, bigint, leadfunnel.stage_move[], text) FROM regress_lf_ops;
DROP ROLE regress_lf_rep;
DROP ROLE regress_lf_ops;
