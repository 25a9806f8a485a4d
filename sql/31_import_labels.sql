-- import_history() with stage labels and into a tracked table; the label
-- history under imports and corrections; the histories' replica identity.
SET TimeZone = 'UTC';
SELECT leadfunnel.apply_preset('imp_deals', 'hubspot_deal');
SELECT leadfunnel.create_model('limp');
SELECT leadfunnel.create_model('lref');
SELECT format('INSERT INTO %I.account (account_id, name) SELECT g, %L || g FROM generate_series(1, 30) g', m, 'account ')
  FROM unnest(ARRAY['limp', 'lref']) m \gexec

-- 200 leads of the labelled funnel, each a path along its allowed moves
-- (fixed by setseed), every row naming a label of its stage or, one row in
-- four, the canonical stage name (whose first label it gets).
SELECT setseed(0.31);
CREATE TEMP TABLE lpath (lead_id bigint, account_id bigint, seq int, stage leadfunnel.lead_stage, given text,
                         label text, changed_at timestamptz);
DO $$
DECLARE
    cur leadfunnel.lead_stage; nxt leadfunnel.lead_stage[]; t timestamptz; k int; labels text[]; g text;
BEGIN
    FOR i IN 1..200 LOOP
        k := 1;
        cur := (leadfunnel.entry_stages('imp_deals'))[1 + floor(random() * cardinality(leadfunnel.entry_stages('imp_deals')))::int];
        t := timestamptz '2024-01-01' + random() * interval '400 days';
        LOOP
            SELECT array_agg(label ORDER BY label) INTO labels FROM leadfunnel.stage_label WHERE funnel = 'imp_deals' AND stage = cur;
            g := CASE WHEN labels IS NULL OR random() < 0.25 THEN cur::text
                      ELSE labels[1 + floor(random() * cardinality(labels))::int] END;
            INSERT INTO lpath SELECT i, 1 + i % 30, k, cur, g, r.label, t FROM leadfunnel.resolve_stage('imp_deals', g) r;
            EXIT WHEN k >= 6 OR random() >= 0.8;
            nxt := leadfunnel.allowed_next('imp_deals', cur);
            EXIT WHEN cardinality(nxt) = 0;
            cur := nxt[1 + floor(random() * cardinality(nxt))::int];
            t := t + random() * interval '30 days' + interval '1 minute';
            k := k + 1;
        END LOOP;
    END LOOP;
END $$;
SELECT count(*) AS moves, count(DISTINCT lead_id) AS leads, count(*) FILTER (WHERE given <> stage::text) AS by_label,
       count(DISTINCT label) AS labels_used FROM lpath;

-- The reference: each lead inserted in its first stage and label, then moved
-- in time order, writing stage and label as an application would.
INSERT INTO lref.lead (lead_id, account_id, funnel, stage, stage_label, created_at)
SELECT lead_id, account_id, 'imp_deals', stage, label, changed_at FROM lpath WHERE seq = 1;
DO $$
BEGIN
    FOR k IN 2..(SELECT max(seq) FROM lpath) LOOP
        UPDATE lref.lead l SET stage = p.stage, stage_label = p.label, stage_entered_at = p.changed_at
          FROM lpath p WHERE p.lead_id = l.lead_id AND p.seq = k;
    END LOOP;
END $$;
SELECT leadfunnel.refresh_lifecycle('lref', true) IS NOT NULL AS refreshed;

-- The import, as the CRM exports it: labels or canonical names, first a
-- random half of the rows (a third of the leads exist already, created in
-- their first label), then all of them shuffled with 10 % duplicated.
CREATE TABLE public.deal_export (lead_id bigint, stage text, changed_at timestamptz, account_id bigint, funnel text);
INSERT INTO limp.lead (lead_id, account_id, funnel, stage_label, created_at)
SELECT lead_id, account_id, 'imp_deals', label, changed_at FROM lpath WHERE seq = 1 AND lead_id % 3 = 0;
INSERT INTO public.deal_export SELECT lead_id, given, changed_at, account_id, 'imp_deals' FROM lpath WHERE random() < 0.5 ORDER BY random();
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');
TRUNCATE public.deal_export;
INSERT INTO public.deal_export
SELECT lead_id, given, changed_at, account_id, 'imp_deals'
  FROM (SELECT * FROM lpath UNION ALL SELECT * FROM lpath WHERE random() < 0.1) p ORDER BY random();
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT * FROM leadfunnel.verify_model('limp');

-- Equal to the reference, both ways: stage history, label history (current
-- truth), leads, every view.
SELECT count(*) AS history_differences FROM (
    (SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, changed_by, reason, flag FROM limp.lead_stage_history WHERE superseded_at IS NULL
     EXCEPT ALL SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, changed_by, reason, flag FROM lref.lead_stage_history WHERE superseded_at IS NULL)
    UNION ALL
    (SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, changed_by, reason, flag FROM lref.lead_stage_history WHERE superseded_at IS NULL
     EXCEPT ALL SELECT lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, changed_by, reason, flag FROM limp.lead_stage_history WHERE superseded_at IS NULL)) d;
SELECT count(*) AS label_history_differences, (SELECT count(*) FROM lref.lead_label_history) AS label_rows FROM (
    (SELECT lead_id, account_id, seq, stage, label, entered_at, left_at, changed_by FROM limp.lead_label_history WHERE superseded_at IS NULL
     EXCEPT ALL SELECT lead_id, account_id, seq, stage, label, entered_at, left_at, changed_by FROM lref.lead_label_history WHERE superseded_at IS NULL)
    UNION ALL
    (SELECT lead_id, account_id, seq, stage, label, entered_at, left_at, changed_by FROM lref.lead_label_history WHERE superseded_at IS NULL
     EXCEPT ALL SELECT lead_id, account_id, seq, stage, label, entered_at, left_at, changed_by FROM limp.lead_label_history WHERE superseded_at IS NULL)) d;
SELECT count(*) AS lead_differences FROM ((TABLE limp.lead EXCEPT ALL TABLE lref.lead) UNION ALL (TABLE lref.lead EXCEPT ALL TABLE limp.lead)) d;
SELECT count(*) AS account_differences FROM ((TABLE limp.account EXCEPT ALL TABLE lref.account) UNION ALL (TABLE lref.account EXCEPT ALL TABLE limp.account)) d;
CREATE TEMP TABLE lview_diff (view text, differences bigint, rows bigint);
SELECT format('INSERT INTO lview_diff SELECT %L, (SELECT count(*) FROM ((TABLE limp.%I EXCEPT ALL TABLE lref.%I) UNION ALL (TABLE lref.%I EXCEPT ALL TABLE limp.%I)) d), (SELECT count(*) FROM limp.%I)',
              viewname, viewname, viewname, viewname, viewname, viewname)
  FROM pg_views WHERE schemaname = 'limp' ORDER BY viewname \gexec
SELECT view, differences, rows > 0 AS has_rows FROM lview_diff ORDER BY view;
-- the pipeline as it stood, which reads the label history
SELECT count(*) AS pipeline_at_differences FROM (
    (SELECT * FROM limp.pipeline_at('2024-09-01') EXCEPT ALL SELECT * FROM lref.pipeline_at('2024-09-01'))
    UNION ALL
    (SELECT * FROM lref.pipeline_at('2024-09-01') EXCEPT ALL SELECT * FROM limp.pipeline_at('2024-09-01'))) d;

-- Idempotent: once more, nothing loaded, nothing written.
SELECT (SELECT count(*) FROM limp.lead_stage_history) + (SELECT count(*) FROM limp.lead_label_history) AS rows_before \gset
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT (SELECT count(*) FROM limp.lead_stage_history) + (SELECT count(*) FROM limp.lead_label_history) - :rows_before AS rows_written;

-- A move between labels of one stage: loaded into the label history only,
-- dated as the CRM dated it; time per label.  An unknown label: rejected.
SELECT lead_id AS opp_lead, changed_at AS opp_at FROM lpath p
 WHERE label = 'presentationscheduled' AND NOT EXISTS (SELECT 1 FROM lpath q WHERE q.lead_id = p.lead_id AND q.seq > p.seq)
 ORDER BY lead_id LIMIT 1 \gset
TRUNCATE public.deal_export;
INSERT INTO public.deal_export (lead_id, stage, changed_at) VALUES
    (:opp_lead, 'contractsent', timestamptz :'opp_at' + interval '3 days'),
    (:opp_lead, 'decisionmakerboughtin', timestamptz :'opp_at' + interval '1 day'),
    (:opp_lead, 'presentationscheduled', timestamptz :'opp_at' + interval '12 hours'),
    (:opp_lead, 'Verbal Commit', timestamptz :'opp_at' + interval '2 days');
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT stage, problem FROM limp.lead_stage_history_reject WHERE lead_id = :'opp_lead';
SELECT seq, stage, label, entered_at - timestamptz :'opp_at' AS after_entry, left_at - entered_at AS time_in_label
  FROM limp.lead_label_history WHERE lead_id = :opp_lead AND superseded_at IS NULL AND stage = 'opportunity' ORDER BY seq;
SELECT stage, stage_label, stage_entered_at = :'opp_at' AS stage_entered_unchanged FROM limp.lead WHERE lead_id = :opp_lead;
SELECT count(*) AS stage_rows_after_entry FROM limp.lead_stage_history WHERE lead_id = :opp_lead AND entered_at > :'opp_at';
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- A lead moved through the trigger now, then history imported before it:
-- the label rows are merged in time order, the replaced ones superseded.
INSERT INTO limp.lead (lead_id, account_id, funnel, stage_label) VALUES (900, 1, 'imp_deals', 'qualifiedtobuy');
UPDATE limp.lead SET stage_label = 'presentationscheduled' WHERE lead_id = 900;
TRUNCATE public.deal_export;
INSERT INTO public.deal_export (lead_id, stage, changed_at) VALUES
    (900, 'appointmentscheduled', '2025-01-01'), (900, 'qualifiedtobuy', '2025-02-01'), (900, 'sql', '2025-02-01');
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT seq, stage, label, entered_at < '2026-01-01' AS imported, left_at IS NULL AS current, superseded_at IS NOT NULL AS superseded, superseded_reason
  FROM limp.lead_label_history WHERE lead_id = 900 ORDER BY superseded_at IS NULL, seq;
SELECT seq, from_stage, to_stage, entered_at < '2026-01-01' AS imported FROM limp.lead_stage_history WHERE lead_id = 900 AND superseded_at IS NULL ORDER BY seq;
SELECT stage, stage_label, created_at FROM limp.lead WHERE lead_id = 900;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- A correction of that lead: its label history follows (the moves get their
-- stage's first label), the replaced label rows superseded with the reason.
SELECT leadfunnel.correct_history('limp', 900, ARRAY[('sql', '2025-01-15'), ('opportunity', '2025-03-01')]::leadfunnel.stage_move[],
                                  'it was qualified in January') AS superseded;
SELECT seq, stage, label, entered_at, left_at FROM limp.lead_label_history WHERE lead_id = 900 AND superseded_at IS NULL ORDER BY seq;
SELECT count(*) FILTER (WHERE superseded_reason = 'it was qualified in January') AS label_rows_superseded_by_correction
  FROM limp.lead_label_history WHERE lead_id = 900;
SELECT stage, stage_label FROM limp.lead WHERE lead_id = 900;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- Into a tracked table: the export names the table's text keys and its
-- labels; the leads the table created get their earlier history.  A key the
-- table does not have is rejected.
CREATE SCHEMA limp_sync;
CREATE TABLE limp_sync.deals (id text PRIMARY KEY, dealstage text, amount numeric);
SELECT leadfunnel.track('limp_sync.deals', 'limp', 'imp_deals', 'id', 'dealstage', amount_column => 'amount');
INSERT INTO limp_sync.deals VALUES ('D-1', 'contractsent', 100), ('D-2', 'closedwon', 200), ('D-3', 'appointmentscheduled', 300);
CREATE TABLE public.deal_history (lead_id text, stage text, changed_at timestamptz);
INSERT INTO public.deal_history VALUES
    ('D-1', 'appointmentscheduled', '2025-03-01'), ('D-1', 'qualifiedtobuy', '2025-03-10'), ('D-1', 'presentationscheduled', '2025-04-01'),
    ('D-1', 'qualifiedtobuy', '2025-03-10'),
    ('D-2', 'qualifiedtobuy', '2025-05-01'), ('D-2', 'contractsent', '2025-05-20'),
    ('D-9', 'appointmentscheduled', '2025-03-01');
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_history');
SELECT l.external_id, h.seq, h.to_stage, h.entered_at < '2026-01-01' AS imported, h.flag
  FROM limp.lead l JOIN limp.lead_stage_history h USING (account_id, lead_id)
 WHERE l.external_id IN ('D-1', 'D-2') AND h.superseded_at IS NULL ORDER BY 1, 2;
SELECT l.external_id, h.seq, h.stage, h.label
  FROM limp.lead l JOIN limp.lead_label_history h USING (account_id, lead_id)
 WHERE l.external_id IN ('D-1', 'D-2') AND h.superseded_at IS NULL ORDER BY 1, 2;
SELECT external_id, stage, stage_label, amount FROM limp.lead WHERE external_id LIKE 'D-%' ORDER BY 1;
SELECT lead_id, problem FROM limp.lead_stage_history_reject WHERE source = 'public.deal_history';
-- (the one problem: the tracked table's own flag of D-2, which started closed)
SELECT problem FROM leadfunnel.verify_model('limp');
-- the tracked table keeps mirroring afterwards
UPDATE limp_sync.deals SET dealstage = 'closedwon' WHERE id = 'D-1';
SELECT external_id, stage, stage_label FROM limp.lead WHERE external_id = 'D-1';
SELECT count(*) AS tracking_flags FROM limp.tracking_issue WHERE acknowledged_at IS NULL;
SELECT leadfunnel.tracking_acknowledge('limp_sync.deals') >= 1 AS acknowledged;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- Replica identity: both histories have no primary key (a superseded row and
-- its replacement share a seq), so that logical replication can carry the
-- updates that close and supersede rows, they replicate the whole old row.
SELECT c.relname, c.relreplident FROM pg_class c
 WHERE c.relnamespace = 'limp'::regnamespace AND c.relname IN ('lead_stage_history', 'lead_label_history') ORDER BY 1;
SET client_min_messages = error;
CREATE PUBLICATION regress_lf_pub FOR TABLE limp.lead_stage_history, limp.lead_label_history;
RESET client_min_messages;
SELECT leadfunnel.correct_history('limp', 900, ARRAY[('opportunity', '2025-02-20')]::leadfunnel.stage_move[], 'published') AS superseded;
UPDATE limp.lead SET stage_label = 'contractsent' WHERE lead_id = 900;
-- (without it, the same updates of a published table fail)
BEGIN;
ALTER TABLE limp.lead_label_history REPLICA IDENTITY DEFAULT;
SELECT try($$UPDATE limp.lead SET stage_label = 'decisionmakerboughtin' WHERE lead_id = 900$$);
ROLLBACK;
DROP PUBLICATION regress_lf_pub;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- Two moves of one lead at one timestamp (a CRM that saved "qualified" and
-- "presentation scheduled" at once): each label row belongs to the move it
-- was written with, not to the later stage of that moment.  The reference
-- moved through the trigger; the import of the same moves, shuffled, equals
-- it both ways.
INSERT INTO lref.lead (lead_id, account_id, funnel, stage_label, created_at) VALUES (960, 1, 'imp_deals', 'appointmentscheduled', '2025-06-01');
UPDATE lref.lead SET stage_label = 'qualifiedtobuy', stage_entered_at = '2025-06-10' WHERE lead_id = 960;
UPDATE lref.lead SET stage_label = 'decisionmakerboughtin', stage_entered_at = '2025-06-10' WHERE lead_id = 960;
TRUNCATE public.deal_export;
INSERT INTO public.deal_export VALUES
    (960, 'decisionmakerboughtin', '2025-06-10', 1, 'imp_deals'), (960, 'appointmentscheduled', '2025-06-01', 1, 'imp_deals'),
    (960, 'qualifiedtobuy', '2025-06-10', 1, 'imp_deals');
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT seq, stage, label, entered_at, left_at FROM limp.lead_label_history WHERE lead_id = 960 AND superseded_at IS NULL ORDER BY seq;
SELECT count(*) AS same_time_label_differences FROM (
    (SELECT seq, stage, label, entered_at, left_at FROM limp.lead_label_history WHERE lead_id = 960 AND superseded_at IS NULL
     EXCEPT ALL SELECT seq, stage, label, entered_at, left_at FROM lref.lead_label_history WHERE lead_id = 960)
    UNION ALL
    (SELECT seq, stage, label, entered_at, left_at FROM lref.lead_label_history WHERE lead_id = 960
     EXCEPT ALL SELECT seq, stage, label, entered_at, left_at FROM limp.lead_label_history WHERE lead_id = 960 AND superseded_at IS NULL)) d;
SELECT count(*) AS same_time_stage_differences FROM (
    (SELECT seq, from_stage, to_stage, entered_at, left_at FROM limp.lead_stage_history WHERE lead_id = 960 AND superseded_at IS NULL
     EXCEPT ALL SELECT seq, from_stage, to_stage, entered_at, left_at FROM lref.lead_stage_history WHERE lead_id = 960)
    UNION ALL
    (SELECT seq, from_stage, to_stage, entered_at, left_at FROM lref.lead_stage_history WHERE lead_id = 960
     EXCEPT ALL SELECT seq, from_stage, to_stage, entered_at, left_at FROM limp.lead_stage_history WHERE lead_id = 960 AND superseded_at IS NULL)) d;
-- (once more: nothing loaded, nothing written)
SELECT count(*) AS label_rows_before FROM limp.lead_label_history WHERE lead_id = 960 \gset
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT count(*) - :label_rows_before AS label_rows_written FROM limp.lead_label_history WHERE lead_id = 960;
-- The same two moves through the trigger (lead 961), then a correction after
-- them (which rebuilds the label history from the rows there): the label
-- rows of the two moves stay as they are, the last one closed.
INSERT INTO limp.lead (lead_id, account_id, funnel, stage_label, created_at) VALUES (961, 1, 'imp_deals', 'appointmentscheduled', '2025-06-01');
UPDATE limp.lead SET stage_label = 'qualifiedtobuy', stage_entered_at = '2025-06-10' WHERE lead_id = 961;
UPDATE limp.lead SET stage_label = 'decisionmakerboughtin', stage_entered_at = '2025-06-10' WHERE lead_id = 961;
SELECT leadfunnel.correct_history('limp', 961, ARRAY[('won', '2025-07-01')]::leadfunnel.stage_move[], 'won in July') AS superseded;
SELECT seq, stage, label, entered_at, left_at, superseded_at IS NOT NULL AS superseded
  FROM limp.lead_label_history WHERE lead_id = 961 ORDER BY superseded_at IS NULL, seq;
SELECT stage, stage_label FROM limp.lead WHERE lead_id = 961;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- A stage entered twice at one time (lead 962: sql, sal, sql in one
-- transaction, so at one now()) and a move between labels made in the
-- transaction that entered its stage (lead 963): history imported before
-- them keeps every label row, each after its own stage entry, and the lead
-- its last label.
INSERT INTO limp.lead (lead_id, account_id, funnel, stage_label, created_at)
VALUES (962, 1, 'imp_deals', 'appointmentscheduled', '2025-06-01'), (963, 1, 'imp_deals', 'appointmentscheduled', '2025-06-01');
BEGIN;
UPDATE limp.lead SET stage_label = 'qualifiedtobuy' WHERE lead_id = 962;
UPDATE limp.lead SET stage_label = 'appointmentscheduled' WHERE lead_id = 962;
UPDATE limp.lead SET stage_label = 'qualifiedtobuy' WHERE lead_id = 962;
UPDATE limp.lead SET stage_label = 'presentationscheduled' WHERE lead_id = 963;
UPDATE limp.lead SET stage_label = 'contractsent' WHERE lead_id = 963;
COMMIT;
CREATE TEMP TABLE labels_before AS
SELECT lead_id, stage, label, entered_at FROM limp.lead_label_history WHERE lead_id IN (962, 963) AND superseded_at IS NULL;
TRUNCATE public.deal_export;
INSERT INTO public.deal_export VALUES (962, 'qualifiedtobuy', '2025-05-01', 1, 'imp_deals'), (963, 'qualifiedtobuy', '2025-05-01', 1, 'imp_deals');
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT lead_id, seq, stage, label, entered_at > '2026-01-01' AS moved_lately
  FROM limp.lead_label_history WHERE lead_id IN (962, 963) AND superseded_at IS NULL ORDER BY lead_id, seq;
SELECT count(*) AS label_rows_lost FROM (
    SELECT * FROM labels_before
    EXCEPT ALL
    SELECT lead_id, stage, label, entered_at FROM limp.lead_label_history WHERE lead_id IN (962, 963) AND superseded_at IS NULL) d;
SELECT lead_id, stage, stage_label FROM limp.lead WHERE lead_id IN (962, 963) ORDER BY lead_id;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

-- Two moves between labels of one stage at one time from the source (lead
-- 964: presentationscheduled, then contractsent), the first one also sent
-- twice (an exact copy, read last): the copy is a duplicate, not a third
-- label event, so the lead ends in contractsent as without the copy.
TRUNCATE public.deal_export;
INSERT INTO public.deal_export VALUES
    (964, 'appointmentscheduled', '2025-07-01', 1, 'imp_deals'),
    (964, 'presentationscheduled', '2025-07-02', 1, 'imp_deals'),
    (964, 'contractsent', '2025-07-02', 1, 'imp_deals');
INSERT INTO public.deal_export VALUES (964, 'presentationscheduled', '2025-07-02', 1, 'imp_deals');
SELECT * FROM leadfunnel.import_history('limp', 'public.deal_export');
SELECT seq, stage, label, entered_at FROM limp.lead_label_history WHERE lead_id = 964 AND superseded_at IS NULL ORDER BY seq;
SELECT stage, stage_label FROM limp.lead WHERE lead_id = 964;
SELECT count(*) AS violations FROM leadfunnel.verify_model('limp');

SELECT leadfunnel.untrack('limp_sync.deals');
SET client_min_messages = warning;
DROP SCHEMA limp, lref, limp_sync CASCADE;
DROP TABLE public.deal_export, public.deal_history;
RESET client_min_messages;
DELETE FROM leadfunnel.stage_label WHERE funnel = 'imp_deals';
DELETE FROM leadfunnel.funnel WHERE name = 'imp_deals';
