-- Bitemporal history: every row records when it was recorded (recorded_at,
-- the start of the transaction that wrote it) besides when it was in effect;
-- the current truth is the rows with superseded_at IS NULL, keyed by a
-- partial unique index; lead_stage_history_as_of_record(t) answers what the
-- history was as recorded at t.
SET TimeZone = 'UTC';
SELECT leadfunnel.create_model('bt');
INSERT INTO bt.account (account_id) VALUES (1);

-- the shape: new columns, the key of the current truth instead of a primary key
SELECT attname, format_type(atttypid, atttypmod), attnotnull
  FROM pg_attribute WHERE attrelid = 'bt.lead_stage_history'::regclass AND attnum > 0 ORDER BY attnum;
SELECT indexrelid::regclass, indisunique, pg_get_expr(indpred, indrelid) AS predicate,
       pg_get_indexdef(indexrelid) LIKE '%(account_id, lead_id, seq)%' AS key_columns
  FROM pg_index WHERE indrelid = 'bt.lead_stage_history'::regclass AND indisunique;
SELECT count(*) AS primary_keys FROM pg_constraint WHERE conrelid = 'bt.lead_stage_history'::regclass AND contype = 'p';

-- Three transactions: create, move, move.  Each records its rows at its own now().
CREATE TEMP TABLE tx (step int, at timestamptz);
BEGIN;
INSERT INTO bt.lead (lead_id, account_id, created_at) VALUES (1, 1, '2024-01-01');
INSERT INTO tx SELECT 1, now();
COMMIT;
SELECT pg_sleep(0.01);
BEGIN;
UPDATE bt.lead SET stage = 'mql', stage_entered_at = '2024-01-05' WHERE lead_id = 1;
INSERT INTO tx SELECT 2, now();
COMMIT;
SELECT pg_sleep(0.01);
BEGIN;
UPDATE bt.lead SET stage = 'tal', stage_entered_at = '2024-01-09' WHERE lead_id = 1;
INSERT INTO tx SELECT 3, now();
COMMIT;

-- recorded_at of each row is the now() of the transaction that wrote it
SELECT h.seq, h.to_stage, h.entered_at, h.left_at, tx.step AS recorded_in_step, h.superseded_at
  FROM bt.lead_stage_history h LEFT JOIN tx ON tx.at = h.recorded_at ORDER BY h.seq;

-- As of record: before anything, right after each step, and now.
SELECT 'before' AS asof, count(*) FROM bt.lead_stage_history_as_of_record((SELECT at FROM tx WHERE step = 1) - interval '1 second');
SELECT tx.step AS asof, r.seq, r.to_stage, r.entered_at, r.left_at
  FROM tx CROSS JOIN LATERAL bt.lead_stage_history_as_of_record(tx.at) r ORDER BY tx.step, r.seq;
-- as of now it is the current truth, row for row
(SELECT * FROM bt.lead_stage_history_as_of_record(now()) EXCEPT SELECT * FROM bt.lead_stage_history WHERE superseded_at IS NULL)
UNION ALL
(SELECT * FROM bt.lead_stage_history WHERE superseded_at IS NULL EXCEPT SELECT * FROM bt.lead_stage_history_as_of_record(now()));
SELECT count(*) AS null_arg FROM bt.lead_stage_history_as_of_record(NULL);

-- Still append-only for everyone: superseding is the extension's alone.
SELECT try($$UPDATE bt.lead_stage_history SET superseded_at = now() WHERE lead_id = 1$$);
SELECT try($$DELETE FROM bt.lead_stage_history WHERE lead_id = 1$$);
SELECT count(*) AS violations FROM leadfunnel.verify_model('bt');

SET client_min_messages = warning;
DROP SCHEMA bt CASCADE;
RESET client_min_messages;
