#!/usr/bin/env bash
# Pipeline and waterfall (doc/pipeline.md) over a model of LEADS leads, ours vs the plain SQL a BI
# developer would write for the same answer, side by side in one run on the same data:
#   waterfall            the view  vs  first entries by DISTINCT ON, the next stage by a correlated
#                                      subquery, percentile_disc
#   conversion_by_cohort the view  vs  first entries, a LATERAL min() per later stage
#   pipeline             the view  vs  lead joined with the probabilities row by row, percentile_disc
#   pipeline_at(t)       ours      vs  the history row open at t, the amount then from the value
#                                      history, percentile_disc  (t = 7 and 90 days ago)
#   pipeline_movement    ours      vs  the open history rows in the window, the amount and close date
#                                      at each moment read by a correlated lookup, start and end
#                                      joined per lead  (checked for 7 and 90 days, timed for 7)
# Both sides are checked to give the same rows first (exact columns equal, quantiles within the
# sketch's 1 %).  The model is written set-based with the triggers off (session_replication_role =
# replica), shaped as the trigger writes it: paths through each funnel's stages, some leads
# starting at lead (no visitor row), 60 % of the short paths closed, a fifth of the leads with one
# or two amount / close-date changes.  Serial (no parallel workers), warm, ROUNDS rounds in
# rotating order; each query in a new session, the pipeline answers then again in that session
# (see run() below); prints medians and ratios of both.
# With PIPELINE_ONLY=1 only pipeline, pipeline_at and pipeline_movement are checked and timed (with
# their plain SQL): the plain waterfall and cohort SQL run for many minutes at 1M leads.
# Usage: [PIPELINE_ONLY=1] bench/funnel_analytics/pipeline.sh [rounds] [leads]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tools/lib.sh"
ROUNDS=${1:-3}; LEADS=${2:-1000000}; PIPELINE_ONLY=${PIPELINE_ONLY:-0}

lf_install_deps
lf_build_install
lf_cluster_start "shared_buffers=1GB" "work_mem=64MB" "max_wal_size=4GB" "checkpoint_timeout=30min" "jit=off"
db=leadfunnel_bench
lf_psql -d postgres -c "CREATE DATABASE $db" >/dev/null

lf_log "generating a model with $LEADS leads (set-based, triggers off)"
t0=$(date +%s)
lf_psql -d "$db" >/dev/null <<SQL
SET TimeZone = 'UTC';
CREATE EXTENSION leadfunnel;
SELECT leadfunnel.create_model('b');
SET session_replication_role = replica;
SELECT setseed(0.42);
INSERT INTO b.account (account_id) SELECT g FROM generate_series(0, $LEADS / 3) g;
CREATE TEMP TABLE p AS
SELECT g::bigint AS lead_id, (g / 3)::bigint AS account_id, f.name AS funnel, f.stages,
       now() - make_interval(hours => floor(random() * 24 * 540)::int) AS created_at,
       1 + floor(random() * cardinality(f.stages))::int AS k,
       (random() < 0.4)::int AS skip_visitor,
       random() < 0.6 AS closes, random() AS r,
       round((1000 + random() * 99000)::numeric) AS amount
  FROM generate_series(1, $LEADS) g
  JOIN leadfunnel.funnel f ON f.name = (ARRAY['enterprise', 'inside_sales', 'self_serve'])[1 + g % 3];
CREATE TEMP TABLE h AS
SELECT p.lead_id, p.account_id, s.seq,
       CASE WHEN s.seq <= p.k - p.skip_visitor THEN p.stages[s.seq + p.skip_visitor]
            ELSE (ARRAY['lost', 'recycled', 'disqualified']::leadfunnel.lead_stage[])[1 + floor(p.r * 3)::int] END AS to_stage,
       least(p.created_at + make_interval(days => 12 * (s.seq - 1), secs => floor(random() * 86400 * 6)), now()) AS entered_at
  FROM p, generate_series(1, p.k - p.skip_visitor
                             + CASE WHEN p.closes AND p.k < cardinality(p.stages) THEN 1 ELSE 0 END) s(seq)
 WHERE p.k - p.skip_visitor >= 1;
INSERT INTO b.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, left_at, recorded_at)
SELECT lead_id, account_id, seq, lag(to_stage) OVER w, to_stage, entered_at,
       lead(entered_at) OVER w, entered_at
  FROM (SELECT lead_id, account_id, seq, to_stage,
               max(entered_at) OVER (PARTITION BY lead_id ORDER BY seq) AS entered_at FROM h) h
WINDOW w AS (PARTITION BY lead_id ORDER BY seq);
INSERT INTO b.lead (lead_id, account_id, funnel, amount, stage, max_stage, created_at, stage_entered_at, closed_at, expected_close_date)
SELECT p.lead_id, p.account_id, p.funnel, p.amount, c.to_stage, c.max_stage, c.first_at, c.entered_at,
       CASE WHEN c.to_stage >= 'won' THEN c.entered_at END, (c.entered_at + interval '60 days')::date
  FROM p
  JOIN (SELECT lead_id, (array_agg(to_stage ORDER BY seq DESC))[1] AS to_stage, max(entered_at) AS entered_at,
               min(entered_at) AS first_at, max(to_stage) FILTER (WHERE to_stage <= 'won') AS max_stage
          FROM b.lead_stage_history GROUP BY lead_id) c ON c.lead_id = p.lead_id;
-- a fifth of the leads: one or two changes of amount and close date after creation
INSERT INTO b.lead_value_history (account_id, lead_id, changed_at, recorded_at, changed_by, old_amount, new_amount,
                                  old_expected_close_date, new_expected_close_date)
SELECT l.account_id, l.lead_id, c.at, c.at, current_user,
       CASE WHEN c.i = 1 THEN l.amount - 1000 * c.n ELSE l.amount - 1000 END,
       CASE WHEN c.i = 1 AND c.n = 2 THEN l.amount - 1000 ELSE l.amount END,
       l.expected_close_date - 7 * (c.n - c.i + 1), l.expected_close_date - 7 * (c.n - c.i)
  FROM b.lead l,
       LATERAL (SELECT i, 1 + (l.lead_id % 2)::int AS n,
                       l.created_at + (now() - l.created_at) * (i::float8 / (2 + (l.lead_id % 2))) AS at
                  FROM generate_series(1, 1 + (l.lead_id % 2)::int) i) c
 WHERE l.lead_id % 5 = 0;
RESET session_replication_role;
VACUUM FREEZE ANALYZE;
SQL
lf_log "generated in $(( $(date +%s) - t0 )) s"
lf_psql -d "$db" -At -c "SELECT format('%s leads (%s open), %s history rows, %s value changes; problems: %s',
    (SELECT count(*) FROM b.lead), (SELECT count(*) FROM b.lead WHERE stage < 'won'), (SELECT count(*) FROM b.lead_stage_history),
    (SELECT count(*) FROM b.lead_value_history), (SELECT count(*) FROM leadfunnel.verify_model('b')))" >&2

# The plain SQL, as views (inlined by the planner like any query), and ours.
lf_psql -d "$db" >/dev/null <<'SQL'
CREATE VIEW cur_hist AS SELECT * FROM b.lead_stage_history WHERE superseded_at IS NULL;   -- the current truth
CREATE VIEW plain_waterfall AS
WITH fe AS (
    SELECT DISTINCT ON (h.account_id, h.lead_id, h.to_stage) h.account_id, h.lead_id, h.to_stage AS stage, h.seq, h.entered_at
      FROM cur_hist h WHERE h.to_stage <= 'won'
     ORDER BY h.account_id, h.lead_id, h.to_stage, h.seq
), nx AS (
    SELECT f.name AS funnel, u.stage, lead(u.stage) OVER (PARTITION BY f.name ORDER BY u.stage) AS next_stage
      FROM leadfunnel.funnel f, unnest(f.stages) u(stage)
), e AS (
    SELECT l.funnel, fe.stage, fe.entered_at, l.stage AS lead_stage, l.amount,
           (SELECT min(h2.entered_at) FROM cur_hist h2
             WHERE h2.account_id = fe.account_id AND h2.lead_id = fe.lead_id AND h2.seq > fe.seq
               AND h2.to_stage >= nx.next_stage AND h2.to_stage <= 'won') AS next_at
      FROM fe JOIN b.lead l USING (account_id, lead_id)
      JOIN nx ON nx.funnel = l.funnel AND nx.stage = fe.stage
), g AS (
    SELECT funnel, date_trunc('month', entered_at)::date AS period, stage, count(*) AS entered,
           count(next_at) AS adv, count(*) FILTER (WHERE lead_stage = 'won') AS won,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - entered_at) / 86400) AS p50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - entered_at) / 86400) AS p90,
           sum(amount) AS amount
      FROM e GROUP BY 1, 2, 3
)
SELECT funnel, period, stage, entered, CASE WHEN stage < 'won' THEN adv END AS advanced, won,
       CASE WHEN stage < 'won' THEN adv::numeric / entered END AS conversion,
       CASE WHEN stage < 'won' THEN greatest(0, (adv + z^2 / 2) / (entered + z^2)
            - z / (entered + z^2) * sqrt(adv::numeric * (entered - adv) / entered + z^2 / 4)) END AS low,
       CASE WHEN stage < 'won' THEN least(1, (adv + z^2 / 2) / (entered + z^2)
            + z / (entered + z^2) * sqrt(adv::numeric * (entered - adv) / entered + z^2 / 4)) END AS high,
       p50, p90, amount
  FROM g, (VALUES (1.959963984540054)) AS c(z);
CREATE VIEW plain_cohort AS
WITH fe AS (
    SELECT DISTINCT ON (h.account_id, h.lead_id, h.to_stage) h.account_id, h.lead_id, h.to_stage AS stage, h.seq, h.entered_at
      FROM cur_hist h WHERE h.to_stage < 'won'
     ORDER BY h.account_id, h.lead_id, h.to_stage, h.seq
)
SELECT l.funnel, date_trunc('month', fe.entered_at)::date AS cohort, fe.stage AS from_stage, t.stage AS to_stage,
       count(*) AS entered,
       count(*) FILTER (WHERE r.at <= fe.entered_at + interval '30 days') AS within_30d,
       count(*) FILTER (WHERE r.at <= fe.entered_at + interval '60 days') AS within_60d,
       count(*) FILTER (WHERE r.at <= fe.entered_at + interval '90 days') AS within_90d,
       count(r.at) AS ever
  FROM fe JOIN b.lead l USING (account_id, lead_id)
  JOIN leadfunnel.funnel f ON f.name = l.funnel
 CROSS JOIN unnest(f.stages) t(stage)
  LEFT JOIN LATERAL (SELECT min(h2.entered_at) AS at FROM cur_hist h2
                      WHERE h2.account_id = fe.account_id AND h2.lead_id = fe.lead_id AND h2.seq > fe.seq
                        AND h2.to_stage >= t.stage AND h2.to_stage <= 'won') r ON true
 WHERE t.stage > fe.stage
 GROUP BY 1, 2, 3, 4;
CREATE VIEW plain_pipeline AS
SELECT l.funnel, l.stage, NULL::text AS stage_label, coalesce(o.forecast_category, d.forecast_category) AS forecast_category,
       count(*) AS leads, sum(l.amount) AS amount, sum(l.amount * coalesce(o.probability, d.probability)) AS weighted_amount,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY now() - l.stage_entered_at) AS age_in_stage_p50
  FROM b.lead l
  JOIN leadfunnel.stage_forecast_default d ON d.stage = l.stage
  LEFT JOIN leadfunnel.stage_forecast o ON o.stage = l.stage
 WHERE l.stage < 'won'
 GROUP BY 1, 2, 3, 4;
CREATE FUNCTION plain_pipeline_at(t timestamptz)
RETURNS TABLE (funnel text, stage leadfunnel.lead_stage, leads bigint, amount numeric, weighted_amount numeric, age interval)
LANGUAGE sql STABLE AS $$
    SELECT l.funnel, h.to_stage, count(*),
           sum(coalesce(v.old_amount, l.amount)),
           sum(coalesce(v.old_amount, l.amount) * coalesce(o.probability, d.probability)),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY t - h.entered_at)
      FROM cur_hist h
      JOIN b.lead l USING (account_id, lead_id)
      JOIN leadfunnel.stage_forecast_default d ON d.stage = h.to_stage
      LEFT JOIN leadfunnel.stage_forecast o ON o.stage = h.to_stage
      LEFT JOIN LATERAL (SELECT v.old_amount FROM b.lead_value_history v
                          WHERE v.account_id = h.account_id AND v.lead_id = h.lead_id AND v.changed_at > t
                          ORDER BY v.changed_at, v.recorded_at LIMIT 1) v ON true
     WHERE h.to_stage < 'won' AND h.entered_at <= t AND (h.left_at IS NULL OR h.left_at > t)
     GROUP BY 1, 2
$$;
-- pipeline_movement: the open history rows in the window, the moments at which a lead's amount and
-- close date are read (start, end, each open stretch's ends, openings and closes in the window),
-- each read by a correlated lookup of the first value change after it; then per funnel the start
-- and end figures, the leads open at both ends compared, the net change of each lead while open
CREATE FUNCTION plain_pipeline_movement(f timestamptz, t timestamptz)
RETURNS TABLE (funnel text, movement text, leads bigint, amount numeric)
LANGUAGE sql STABLE AS $$
    WITH open_rows AS (
        SELECT h.account_id, h.lead_id, h.to_stage, h.entered_at, h.left_at FROM cur_hist h
         WHERE h.to_stage <= 'opportunity' AND h.entered_at <= t AND (h.left_at IS NULL OR h.left_at > f)
    ), pts AS (
        SELECT account_id, lead_id, 'start' AS kind, f AS at, to_stage AS stage FROM open_rows WHERE entered_at <= f
        UNION ALL
        SELECT account_id, lead_id, 'end', t, to_stage FROM open_rows WHERE left_at IS NULL OR left_at > t
        UNION ALL
        SELECT account_id, lead_id, 'lo', greatest(entered_at, f), to_stage FROM open_rows
        UNION ALL
        SELECT account_id, lead_id, 'hi', least(coalesce(left_at, t), t), to_stage FROM open_rows
        UNION ALL
        SELECT h.account_id, h.lead_id, 'created', h.entered_at, h.to_stage FROM cur_hist h
         WHERE h.to_stage <= 'opportunity' AND (h.from_stage IS NULL OR h.from_stage > 'opportunity')
           AND h.entered_at > f AND h.entered_at <= t
        UNION ALL
        SELECT h.account_id, h.lead_id, CASE WHEN h.to_stage = 'won' THEN 'won' ELSE 'lost' END, h.entered_at, h.to_stage
          FROM cur_hist h
         WHERE h.to_stage > 'opportunity' AND h.from_stage <= 'opportunity' AND h.entered_at > f AND h.entered_at <= t
    ), val AS (
        SELECT l.funnel, p.account_id, p.lead_id, p.kind, p.stage,
               coalesce(coalesce((SELECT v.old_amount FROM b.lead_value_history v
                                   WHERE v.account_id = p.account_id AND v.lead_id = p.lead_id AND v.changed_at > p.at
                                   ORDER BY v.changed_at, v.recorded_at LIMIT 1), l.amount), 0) AS amount,
               coalesce((SELECT v.old_expected_close_date FROM b.lead_value_history v
                          WHERE v.account_id = p.account_id AND v.lead_id = p.lead_id AND v.changed_at > p.at
                          ORDER BY v.changed_at, v.recorded_at LIMIT 1), l.expected_close_date) AS close_date
          FROM pts p JOIN b.lead l USING (account_id, lead_id)
    ), both_ends AS (
        SELECT * FROM (
            SELECT funnel, min(stage) FILTER (WHERE kind = 'start') AS s_stage, min(stage) FILTER (WHERE kind = 'end') AS e_stage,
                   min(close_date) FILTER (WHERE kind = 'start') AS s_close, min(close_date) FILTER (WHERE kind = 'end') AS e_close
              FROM val WHERE kind IN ('start', 'end') GROUP BY funnel, account_id, lead_id) x
         WHERE s_stage IS NOT NULL AND e_stage IS NOT NULL
    ), delta AS (
        SELECT funnel, sum(amount) FILTER (WHERE kind = 'hi') - sum(amount) FILTER (WHERE kind = 'lo') AS d
          FROM val WHERE kind IN ('lo', 'hi') GROUP BY funnel, account_id, lead_id
    )
    SELECT fu.funnel, m.movement, m.leads, m.amount
      FROM (SELECT DISTINCT funnel FROM val) fu
     CROSS JOIN LATERAL (
        SELECT 'start' AS movement, count(*) AS leads, coalesce(sum(amount), 0) AS amount FROM val WHERE val.funnel = fu.funnel AND kind = 'start'
        UNION ALL SELECT 'created', count(*), coalesce(sum(amount), 0) FROM val WHERE val.funnel = fu.funnel AND kind = 'created'
        UNION ALL SELECT 'advanced', count(*), 0 FROM both_ends b WHERE b.funnel = fu.funnel AND e_stage > s_stage
        UNION ALL SELECT 'moved_back', count(*), 0 FROM both_ends b WHERE b.funnel = fu.funnel AND e_stage < s_stage
        UNION ALL SELECT 'pulled_in', count(*), 0 FROM both_ends b WHERE b.funnel = fu.funnel AND e_close < s_close
        UNION ALL SELECT 'pushed_out', count(*), 0 FROM both_ends b WHERE b.funnel = fu.funnel AND e_close > s_close
        UNION ALL SELECT 'amount_up', count(*), coalesce(sum(d), 0) FROM delta WHERE delta.funnel = fu.funnel AND d > 0
        UNION ALL SELECT 'amount_down', count(*), coalesce(sum(d), 0) FROM delta WHERE delta.funnel = fu.funnel AND d < 0
        UNION ALL SELECT 'won', count(*), -coalesce(sum(amount), 0) FROM val WHERE val.funnel = fu.funnel AND kind = 'won'
        UNION ALL SELECT 'lost', count(*), -coalesce(sum(amount), 0) FROM val WHERE val.funnel = fu.funnel AND kind = 'lost'
        UNION ALL SELECT 'end', count(*), coalesce(sum(amount), 0) FROM val WHERE val.funnel = fu.funnel AND kind = 'end') m
$$;
SQL

# the same rows on both sides (the plain pipeline_at reads a NULL old amount as "no change":
# the generated amounts are never NULL)
if [ "$PIPELINE_ONLY" = 1 ]; then
    wf="CREATE TEMP TABLE w_o AS SELECT * FROM b.waterfall LIMIT 0; CREATE TEMP TABLE w_p AS SELECT * FROM plain_waterfall LIMIT 0;
        CREATE TEMP TABLE c_o AS SELECT * FROM b.conversion_by_cohort LIMIT 0; CREATE TEMP TABLE c_p AS SELECT * FROM plain_cohort LIMIT 0;"
else
    wf="CREATE TEMP TABLE w_o AS SELECT * FROM b.waterfall; CREATE TEMP TABLE w_p AS SELECT * FROM plain_waterfall;
        CREATE TEMP TABLE c_o AS SELECT * FROM b.conversion_by_cohort; CREATE TEMP TABLE c_p AS SELECT * FROM plain_cohort;"
fi
# (one transaction: both sides read the same now(), so pipeline_at gets the same moments)
check=$(lf_psql -d "$db" -At <<SQL
SET TimeZone = 'UTC';
SET client_min_messages = warning;
BEGIN;
$wf
CREATE TEMP TABLE p_o AS SELECT * FROM b.pipeline;
CREATE TEMP TABLE p_p AS SELECT * FROM plain_pipeline;
CREATE TEMP TABLE a_o AS SELECT t, f.* FROM unnest(ARRAY[now() - interval '7 days', now() - interval '90 days']) t, b.pipeline_at(t) f;
CREATE TEMP TABLE a_p AS SELECT t, f.* FROM unnest(ARRAY[now() - interval '7 days', now() - interval '90 days']) t, plain_pipeline_at(t) f;
CREATE TEMP TABLE m_o AS SELECT t, f.* FROM unnest(ARRAY[now() - interval '7 days', now() - interval '90 days']) t, b.pipeline_movement(t, now()) f;
CREATE TEMP TABLE m_p AS SELECT t, f.* FROM unnest(ARRAY[now() - interval '7 days', now() - interval '90 days']) t, plain_pipeline_movement(t, now()) f;
ANALYZE w_o, w_p, c_o, c_p, p_o, p_p, a_o, a_p, m_o, m_p;
SELECT 'waterfall ' || (SELECT count(*) FROM (SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM w_o
                                   EXCEPT SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM w_p) x)
     + (SELECT count(*) FROM (SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM w_p
                              EXCEPT SELECT funnel, period, stage, entered, advanced, won, conversion, amount FROM w_o) x)
     + (SELECT count(*) FROM w_o w JOIN w_p p USING (funnel, period, stage)
         WHERE abs(w.conversion_low - p.low) > 1e-9 OR abs(w.conversion_high - p.high) > 1e-9
            OR abs(w.days_to_next_p50 - p.p50) > 0.01 * p.p50 + 0.006 OR abs(w.days_to_next_p90 - p.p90) > 0.01 * p.p90 + 0.006)
     || ' of ' || (SELECT count(*) FROM w_o);
SELECT 'conversion_by_cohort ' || (SELECT count(*) FROM (TABLE c_o EXCEPT TABLE c_p) x)
     + (SELECT count(*) FROM (TABLE c_p EXCEPT TABLE c_o) x) || ' of ' || (SELECT count(*) FROM c_o);
SELECT 'pipeline ' || (SELECT count(*) FROM (SELECT funnel, stage, leads, amount, weighted_amount FROM p_o
                                  EXCEPT SELECT funnel, stage, leads, amount, weighted_amount FROM p_p) x)
     + (SELECT count(*) FROM (SELECT funnel, stage, leads, amount, weighted_amount FROM p_p
                              EXCEPT SELECT funnel, stage, leads, amount, weighted_amount FROM p_o) x)
     + (SELECT count(*) FROM p_o v JOIN p_p p USING (funnel, stage)
         WHERE abs(extract(epoch FROM v.age_in_stage_p50 - p.age_in_stage_p50)) > 0.01 * extract(epoch FROM p.age_in_stage_p50))
     || ' of ' || (SELECT count(*) FROM p_o);
SELECT 'pipeline_at ' || (SELECT count(*) FROM (SELECT t, funnel, stage, leads, amount, weighted_amount FROM a_o
                                   EXCEPT SELECT t, funnel, stage, leads, amount, weighted_amount FROM a_p) x)
     + (SELECT count(*) FROM (SELECT t, funnel, stage, leads, amount, weighted_amount FROM a_p
                              EXCEPT SELECT t, funnel, stage, leads, amount, weighted_amount FROM a_o) x)
     + (SELECT count(*) FROM a_o f JOIN a_p p USING (t, funnel, stage)
         WHERE abs(extract(epoch FROM f.age_in_stage_p50 - p.age)) > 0.01 * extract(epoch FROM p.age))
     || ' of ' || (SELECT count(*) FROM a_o);
SELECT 'pipeline_movement ' || (SELECT count(*) FROM (TABLE m_o EXCEPT TABLE m_p) x)
     + (SELECT count(*) FROM (TABLE m_p EXCEPT TABLE m_o) x) || ' of ' || (SELECT count(*) FROM m_o);
COMMIT;
SQL
)
echo "$check" | sed 's/^/rows differing: /' >&2
if echo "$check" | grep -qv ' 0 of '; then echo "ours and plain SQL differ" >&2; exit 1; fi

declare -A Q=(
  [waterfall]="SELECT * FROM b.waterfall"
  [waterfall_plain]="SELECT * FROM plain_waterfall"
  [cohort]="SELECT * FROM b.conversion_by_cohort"
  [cohort_plain]="SELECT * FROM plain_cohort"
  [pipeline]="SELECT * FROM b.pipeline"
  [pipeline_plain]="SELECT * FROM plain_pipeline"
  [at7]="SELECT * FROM b.pipeline_at(now() - interval '7 days')"
  [at7_plain]="SELECT * FROM plain_pipeline_at(now() - interval '7 days')"
  [at90]="SELECT * FROM b.pipeline_at(now() - interval '90 days')"
  [at90_plain]="SELECT * FROM plain_pipeline_at(now() - interval '90 days')"
  [movement]="SELECT * FROM b.pipeline_movement(now() - interval '7 days', now())"
  [movement_plain]="SELECT * FROM plain_pipeline_movement(now() - interval '7 days', now())"
)
names="waterfall waterfall_plain cohort cohort_plain pipeline pipeline_plain at7 at7_plain at90 at90_plain movement movement_plain"
[ "$PIPELINE_ONLY" = 1 ] && names="pipeline pipeline_plain at7 at7_plain at90 at90_plain movement movement_plain"
# Each timing is made in a new session (one psql each), and the pipeline answers are then run a
# second time in that session: a new backend's first query pays, besides its work, a page fault
# for every page of shared_buffers it touches for the first time (about 9,000 faults and 0.5 s of
# CPU for the 101 MB of lead at 1M leads on the 2-core VM, against 0.16 s for the query itself),
# which a dashboard on a pooled connection pays once.  Both are printed: "first" (the query as a
# new session's first) and "again" (the same query in the same session right after).  The
# waterfall and cohort answers (tens of seconds to minutes) run once.
slow=" waterfall waterfall_plain cohort cohort_plain "
run() {
    local again=(); [[ "$slow" == *" $1 "* ]] || again=(-c "${Q[$1]}")
    lf_psql -d "$db" -c "SET max_parallel_workers_per_gather = 0" -c '\timing on' -c '\o /dev/null' -c "${Q[$1]}" "${again[@]}" \
        | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tr '\n' ' '
}
for n in $names; do run "$n" >/dev/null; done   # warm
results="$LF_TMP/results.txt"; : > "$results"
for round in $(seq 1 "$ROUNDS"); do
    order=$names; [ $((round % 2)) = 0 ] && order=$(echo $names | tr ' ' '\n' | tac | tr '\n' ' ')
    for n in $order; do
        ms=$(run "$n"); echo "$n $ms" >> "$results"; echo "round $round: $n $ms ms" >&2
    done
done
# median of column $2 (2: first in session, 3: again) of answer $1
med() { grep "^$1 " "$results" | awk -v c="$2" '$c != "" {print $c}' | sort -n | awk '{v[NR]=$1} END {if (NR) print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v o="$1" -v p="$2" 'BEGIN { if (o == "" || p == "") printf "| – | – | – "; else printf "| %.0f ms | %.0f ms | %.1fx ", o, p, p/o }'; }
echo
echo "| answer | ours, first in session | plain SQL, first | plain / ours, first | ours, again in session | plain SQL, again | plain / ours, again |"
echo "|---|---|---|---|---|---|---|"
for pair in "waterfall|waterfall" "conversion_by_cohort|cohort" "pipeline|pipeline" \
            "pipeline_at(now() - 7 days)|at7" "pipeline_at(now() - 90 days)|at90" \
            "pipeline_movement(now() - 7 days, now())|movement"; do
    label=${pair%|*}; key=${pair#*|}
    grep -q "^$key " "$results" || continue
    echo "| $label $(ratio "$(med "$key" 2)" "$(med "${key}_plain" 2)")$(ratio "$(med "$key" 3)" "$(med "${key}_plain" 3)")|"
done
echo
for c in 2 3; do
    awk -v a="$(med at7 $c)" -v b="$(med at90 $c)" -v p="$(med pipeline $c)" -v w="$([ $c = 2 ] && echo 'first in session' || echo 'again in session')" \
        'BEGIN { printf "%s: pipeline_at(7 days ago) / pipeline now: %.2fx;  pipeline_at(90 days ago) / pipeline now: %.2fx\n", w, a/p, b/p }'
done
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
